//! Record-marked ("framed") XDR streams, as the captive-core meta pipe and
//! galexie's load-test file use: a 4-byte big-endian header per fragment
//! (high bit = last fragment, low 31 bits = length).

/// Splits a record-marked stream into its records.
pub fn records(mut data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    while !data.is_empty() {
        if data.len() < 4 {
            return Err(format!("truncated record mark: {} bytes left", data.len()));
        }
        let mark = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let last = mark & 0x8000_0000 != 0;
        let len = (mark & 0x7fff_ffff) as usize;
        data = &data[4..];
        if data.len() < len {
            return Err(format!(
                "record fragment of {len} bytes but only {} left",
                data.len()
            ));
        }
        current.extend_from_slice(&data[..len]);
        data = &data[len..];
        if last {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        return Err("stream ends inside a record (no last-fragment mark)".into());
    }
    Ok(out)
}
