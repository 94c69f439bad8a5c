//! The one clock. Wall time (Unix seconds) stamps rows and decides expiry;
//! a monotonic instant measures rates and deadlines. The domain is handed
//! times read from it instead of reading the system clock itself, so expiry,
//! TTL and backoff logic can be tested at a fixed time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time (the system's, or a test's).
pub trait Clock: Send + Sync {
    /// The wall-clock time.
    fn system(&self) -> SystemTime;
    /// A monotonic instant.
    fn instant(&self) -> Instant;
    /// The wall-clock time in seconds since the Unix epoch.
    fn unix(&self) -> i64 {
        self.system()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn system(&self) -> SystemTime {
        SystemTime::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}
