//! The cursor the zero-copy reader walks with: big-endian primitives read in
//! place, and the same two limits `stellar-xdr` applies. Every value read
//! spends one depth level while it is read (nested values more), and no
//! read may pass the end of the input.

pub(crate) use stellar_xdr::Error;

/// A position in borrowed XDR bytes with the depth still available.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    /// Set once a value was read that `stellar-xdr` accepts but would write
    /// back differently (a bool other than 0 or 1), so that hashes over
    /// these bytes are not the hashes of the decoded values.
    pub(crate) noncanonical: bool,
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf` that may nest `depth` levels.
    pub(crate) fn new(buf: &'a [u8], depth: u32) -> Self {
        Reader {
            buf,
            pos: 0,
            depth,
            noncanonical: false,
        }
    }

    /// Bytes consumed so far.
    #[inline(always)]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Depth levels still available.
    #[inline(always)]
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// Bytes not yet consumed.
    #[inline(always)]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Enters one level of nesting.
    #[inline(always)]
    pub(crate) fn enter(&mut self) -> Result<(), Error> {
        match self.depth.checked_sub(1) {
            Some(depth) => {
                self.depth = depth;
                Ok(())
            }
            None => Err(Error::DepthLimitExceeded),
        }
    }

    /// Leaves a level entered with [`Reader::enter`].
    #[inline(always)]
    pub(crate) fn leave(&mut self) {
        self.depth += 1;
    }

    #[inline(always)]
    fn need_depth(&self, levels: u32) -> Result<(), Error> {
        if self.depth < levels {
            Err(Error::DepthLimitExceeded)
        } else {
            Ok(())
        }
    }

    /// Takes `n` bytes; running past the end is `LengthLimitExceeded`, as
    /// for `stellar-xdr` with the length limit set to the input's size.
    #[inline(always)]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(Error::LengthLimitExceeded);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline(always)]
    fn word<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.need_depth(1)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// An XDR `unsigned int`.
    #[inline(always)]
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.word()?))
    }

    /// An XDR `int`.
    #[inline(always)]
    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(self.word()?))
    }

    /// An XDR `unsigned hyper`.
    #[inline(always)]
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.word()?))
    }

    /// An XDR `hyper`.
    #[inline(always)]
    pub(crate) fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_be_bytes(self.word()?))
    }

    /// Skips a fixed-size value that needs no checks: `size` bytes whose
    /// reading nests `levels` deep.
    #[inline(always)]
    pub(crate) fn skip(&mut self, size: usize, levels: u32) -> Result<(), Error> {
        self.need_depth(levels)?;
        self.bytes(size).map(|_| ())
    }

    /// Skips `n` fixed-size values at once (the elements of an array).
    #[inline(always)]
    pub(crate) fn skip_many(&mut self, n: u32, size: usize, levels: u32) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        self.need_depth(levels)?;
        let total = (n as usize)
            .checked_mul(size)
            .ok_or(Error::LengthLimitExceeded)?;
        self.bytes(total).map(|_| ())
    }

    /// A variable-length array's length, refused above `max`.
    #[inline(always)]
    pub(crate) fn len(&mut self, max: u64) -> Result<u32, Error> {
        let n = self.u32()?;
        if u64::from(n) > max {
            return Err(Error::LengthExceedsMax);
        }
        Ok(n)
    }

    /// An XDR `bool`: any value is accepted, as `stellar-xdr` does; one
    /// other than 0 or 1 marks the input non-canonical.
    #[inline]
    pub(crate) fn bool(&mut self) -> Result<bool, Error> {
        self.enter()?;
        let v = self.u32()?;
        if v > 1 {
            self.noncanonical = true;
        }
        self.leave();
        Ok(v == 1)
    }

    /// An optional value's flag: 0 absent, 1 present, anything else invalid.
    #[inline(always)]
    pub(crate) fn present(&mut self) -> Result<bool, Error> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Invalid),
        }
    }

    fn padding(&mut self, len: usize) -> Result<(), Error> {
        let pad = (4 - len % 4) % 4;
        if self.bytes(pad)?.iter().any(|b| *b != 0) {
            return Err(Error::NonZeroPadding);
        }
        Ok(())
    }

    /// `opaque<max>` or `string<max>`: its bytes, length and padding checked.
    #[inline]
    pub(crate) fn opaque_var(&mut self, max: u64) -> Result<&'a [u8], Error> {
        self.enter()?;
        let n = self.u32()?;
        if u64::from(n) > max {
            return Err(Error::LengthExceedsMax);
        }
        let n = n as usize;
        let pad = (4 - n % 4) % 4;
        if n.saturating_add(pad) > self.remaining() {
            return Err(Error::LengthLimitExceeded);
        }
        let out = self.bytes(n)?;
        self.padding(n)?;
        self.leave();
        Ok(out)
    }
}
