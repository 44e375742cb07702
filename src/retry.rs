//! One backoff policy for every retry loop: the data path's reconnects, RPC
//! calls, PostgreSQL commits, control-plane registration and the
//! supervisor's restarts. Each loop keeps its own reason to retry and its
//! own attempt limit; how long it waits comes from here.

use std::time::Duration;

/// Exponential backoff: `first`, then doubling, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
}

impl Backoff {
    /// A policy waiting `first` before the first retry and at most `max`.
    pub(crate) const fn new(first: Duration, max: Duration) -> Self {
        Backoff { first, max }
    }

    /// The wait before retry number `retry` (0 for the first retry).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn doubles_up_to_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let delays: Vec<u128> = (0..8).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(5));
    }
}
