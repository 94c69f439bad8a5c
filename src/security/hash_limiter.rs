//! Bounds how many password hashes run at once, and how many wait.
//!
//! PBKDF2 with a million iterations costs about 0.15 s of one core. Without a
//! bound, a flood of login requests would occupy every worker thread and every
//! core, and token-authenticated requests (which never hash) would queue
//! behind them. With at most `max` hashes running and `max_waiting` requests
//! queued for a slot, further hashing requests are refused at once ([`Busy`]),
//! so the remaining workers stay free for cheap requests.

use std::sync::{Condvar, Mutex};

/// A counting semaphore for password hashing, with a bounded queue.
pub struct HashLimiter {
    /// (running, waiting)
    state: Mutex<(usize, usize)>,
    freed: Condvar,
    max: usize,
    max_waiting: usize,
}

/// Every hashing slot is taken and the queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A held slot, released on drop (panics included).
struct Slot<'a>(&'a HashLimiter);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 -= 1;
        self.0.freed.notify_one();
    }
}

impl HashLimiter {
    /// At most `max` (at least 1) hashes at once and `max_waiting` requests waiting.
    pub fn new(max: usize, max_waiting: usize) -> HashLimiter {
        HashLimiter {
            state: Mutex::new((0, 0)),
            freed: Condvar::new(),
            max: max.max(1),
            max_waiting,
        }
    }

    fn acquire(&self, bounded: bool) -> Result<Slot<'_>, Busy> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 >= self.max {
            if bounded && state.1 >= self.max_waiting {
                return Err(Busy);
            }
            state.1 += 1;
            while state.0 >= self.max {
                state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.1 -= 1;
        }
        state.0 += 1;
        Ok(Slot(self))
    }

    /// Runs `f` once a slot is free, or refuses when the queue is full.
    pub fn try_run<T>(&self, f: impl FnOnce() -> T) -> Result<T, Busy> {
        let _slot = self.acquire(true)?;
        Ok(f())
    }

    /// Runs `f` once a slot is free, however long the queue (the command line).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _slot = self.acquire(false);
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn busy_work() {
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn never_more_than_max_at_once() {
        let limiter = Arc::new(HashLimiter::new(2, usize::MAX));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, now, peak) = (limiter.clone(), now.clone(), peak.clone());
                std::thread::spawn(move || {
                    limiter
                        .try_run(|| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(n, Ordering::SeqCst);
                            busy_work();
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                        .unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert!(peak.load(Ordering::SeqCst) >= 1);
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let limiter = Arc::new(HashLimiter::new(1, 0));
        let (tx, rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let limiter = limiter.clone();
            std::thread::spawn(move || {
                limiter
                    .try_run(|| {
                        tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                    })
                    .unwrap();
            })
        };
        rx.recv().unwrap();
        assert_eq!(limiter.try_run(|| ()), Err(Busy), "slot taken, no queue");
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(limiter.try_run(|| 7), Ok(7));
    }
}
