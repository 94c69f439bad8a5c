//! Bounds how many password hashes run at once.
//!
//! PBKDF2 with a million iterations costs about 0.15 s of one core. Without a
//! bound, a flood of login requests would occupy every worker thread and every
//! core, and token-authenticated requests (which never hash) would queue
//! behind them. With at most `n` hashes running, the remaining workers stay
//! free for cheap requests.

use std::sync::{Condvar, Mutex};

/// A counting semaphore for password hashing.
pub struct HashLimiter {
    running: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl HashLimiter {
    /// At most `max` (at least 1) hashes at once.
    pub fn new(max: usize) -> HashLimiter {
        HashLimiter {
            running: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` once a slot is free.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            while *running >= self.max {
                running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
            }
            *running += 1;
        }
        // Released on every exit path, panics included.
        struct Slot<'a>(&'a HashLimiter);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
                *running -= 1;
                self.0.freed.notify_one();
            }
        }
        let _slot = Slot(self);
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn never_more_than_max_at_once() {
        let limiter = Arc::new(HashLimiter::new(2));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, now, peak) = (limiter.clone(), now.clone(), peak.clone());
                std::thread::spawn(move || {
                    limiter.run(|| {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        // Some real work so that the threads overlap.
                        let mut x = 0u64;
                        for i in 0..2_000_000u64 {
                            x = x.wrapping_mul(31).wrapping_add(i);
                        }
                        std::hint::black_box(x);
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert!(peak.load(Ordering::SeqCst) >= 1);
    }
}
