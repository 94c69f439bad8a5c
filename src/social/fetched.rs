//! A document fetched from a provider (a key set, a discovery document) and
//! kept for as long as the provider's answer allows, with the rules both
//! share:
//!
//! - one fetch at a time, made outside the lock: while it runs, requests use
//!   the stale copy, and only those with no copy at all wait for it (so a
//!   slow provider delays no request that has something to go on);
//! - a failed refresh keeps the stale copy in use for [`KEEP_ON_FAILURE`]
//!   (a provider's hiccup must not stop logins);
//! - with no copy, a failure is the answer for [`FAILURE_MEMORY`], so while
//!   the provider is down requests fail at once instead of each waiting out
//!   the timeout.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::http::ProviderError;

/// How long a stale copy stays in use after a failed refresh.
pub const KEEP_ON_FAILURE: Duration = Duration::from_secs(60);
/// How long a failed fetch without a copy to fall back on is remembered.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// What a fetch brings: the document and how long it is fresh.
pub type Fetch<T> = Result<(T, Duration), ProviderError>;

/// One provider document, fetched when missing or stale.
pub struct Fetched<T> {
    /// Where it comes from, for messages.
    what: String,
    slot: Mutex<Slot<T>>,
    /// Signalled when a fetch ends.
    settled: Condvar,
}

struct Slot<T> {
    copy: Option<Arc<T>>,
    fresh_until: Option<Instant>,
    failed_until: Option<Instant>,
    fetching: bool,
}

impl<T> Fetched<T> {
    /// Nothing fetched yet; `what` names the document in messages (a URL).
    pub fn new(what: &str) -> Fetched<T> {
        Fetched {
            what: what.to_string(),
            slot: Mutex::new(Slot {
                copy: None,
                fresh_until: None,
                failed_until: None,
                fetching: false,
            }),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The copy at the instant `now`: the cached one while fresh, else one
    /// `fetch` brings (given the stale copy, if any). `force` fetches even
    /// a fresh copy again (a key the copy lacks), unless another fetch is
    /// under way, whose result then serves.
    pub fn get(
        &self,
        now: Instant,
        mut force: bool,
        fetch: impl FnOnce(Option<&T>) -> Fetch<T>,
    ) -> Result<Arc<T>, ProviderError> {
        let mut slot = self.lock();
        loop {
            let fresh = slot.fresh_until.is_some_and(|t| now < t);
            if let Some(copy) = slot.copy.as_ref().filter(|_| fresh && !force) {
                return Ok(copy.clone());
            }
            if slot.copy.is_none() && slot.failed_until.is_some_and(|t| now < t) {
                return Err(ProviderError::Unreachable(format!(
                    "{} failed moments ago",
                    self.what
                )));
            }
            if !slot.fetching {
                break;
            }
            if let Some(stale) = slot.copy.as_ref().filter(|_| !force) {
                return Ok(stale.clone());
            }
            slot = self
                .settled
                .wait_while(slot, |s| s.fetching)
                .unwrap_or_else(|e| e.into_inner());
            // What that fetch brought is as new as ours would be.
            force = false;
        }
        slot.fetching = true;
        let previous = slot.copy.clone();
        drop(slot);
        let settle = Settle(self);
        let fetched = fetch(previous.as_deref());
        std::mem::forget(settle);
        let mut slot = self.lock();
        slot.fetching = false;
        self.settled.notify_all();
        match fetched {
            Ok((copy, max_age)) => {
                let copy = Arc::new(copy);
                slot.copy = Some(copy.clone());
                slot.fresh_until = Some(now + max_age);
                slot.failed_until = None;
                Ok(copy)
            }
            Err(e) => match slot.copy.clone() {
                Some(stale) => {
                    crate::log!(
                        "restauth: could not refresh {}: {e:?}; keeping the cached copy",
                        self.what
                    );
                    slot.fresh_until = Some(now + KEEP_ON_FAILURE);
                    Ok(stale)
                }
                None => {
                    slot.failed_until = Some(now + FAILURE_MEMORY);
                    Err(e)
                }
            },
        }
    }
}

/// Ends a fetch that panicked (the normal end forgets it), so that no
/// waiter waits forever.
struct Settle<'a, T>(&'a Fetched<T>);

impl<T> Drop for Settle<'_, T> {
    fn drop(&mut self) {
        self.0.lock().fetching = false;
        self.0.settled.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_slow_refresh_delays_nobody_with_a_stale_copy() {
        let doc = Arc::new(Fetched::new("doc"));
        let t0 = Instant::now();
        assert_eq!(*doc.get(t0, false, |_| Ok((1, MINUTE))).unwrap(), 1);
        let stale = t0 + 2 * MINUTE;
        let (started, wait_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let refresher = {
            let doc = doc.clone();
            thread::spawn(move || {
                doc.get(stale, false, |previous| {
                    assert_eq!(previous, Some(&1));
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    Ok((2, MINUTE))
                })
                .map(|v| *v)
            })
        };
        wait_started.recv().unwrap();
        // Meanwhile: the stale copy at once, and no second fetch.
        let got = doc.get(stale, false, |_| panic!("a second fetch")).unwrap();
        assert_eq!(*got, 1);
        release.send(()).unwrap();
        assert_eq!(refresher.join().unwrap().unwrap(), 2);
        assert_eq!(*doc.get(stale, false, |_| panic!("fresh")).unwrap(), 2);
    }

    #[test]
    fn without_a_copy_requests_wait_for_one_fetch() {
        let doc = Arc::new(Fetched::new("doc"));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (started, wait_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let now = Instant::now();
        let first = {
            let (doc, fetches) = (doc.clone(), fetches.clone());
            thread::spawn(move || {
                doc.get(now, false, |_| {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    Ok((7, MINUTE))
                })
                .map(|v| *v)
            })
        };
        wait_started.recv().unwrap();
        let second = {
            let (doc, fetches) = (doc.clone(), fetches.clone());
            thread::spawn(move || {
                doc.get(now, false, |_| {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok((8, MINUTE))
                })
                .map(|v| *v)
            })
        };
        release.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), 7);
        assert_eq!(second.join().unwrap().unwrap(), 7);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failures_keep_the_stale_copy_or_are_remembered() {
        let down = || Err(ProviderError::Unreachable("down".into()));
        let doc = Fetched::new("doc");
        let t0 = Instant::now();
        assert!(doc.get(t0, false, |_| down()).is_err());
        // Remembered: no fetch within FAILURE_MEMORY, one after it.
        assert!(doc
            .get(t0 + MINUTE / 6, false, |_| panic!("remembered"))
            .is_err());
        let t1 = t0 + FAILURE_MEMORY;
        assert_eq!(*doc.get(t1, false, |_| Ok((3, MINUTE))).unwrap(), 3);
        // A failed refresh keeps the stale copy for KEEP_ON_FAILURE.
        let t2 = t1 + 2 * MINUTE;
        assert_eq!(*doc.get(t2, false, |_| down()).unwrap(), 3);
        assert_eq!(
            *doc.get(t2 + KEEP_ON_FAILURE / 2, false, |_| panic!("kept"))
                .unwrap(),
            3
        );
        assert_eq!(
            *doc.get(t2 + KEEP_ON_FAILURE, false, |_| Ok((4, MINUTE)))
                .unwrap(),
            4
        );
        // Forced: fetched again although fresh.
        assert_eq!(
            *doc.get(t2 + KEEP_ON_FAILURE, true, |_| Ok((5, MINUTE)))
                .unwrap(),
            5
        );
    }

    #[test]
    fn a_fetch_that_panics_leaves_no_one_waiting() {
        let doc = Arc::new(Fetched::<u8>::new("doc"));
        let now = Instant::now();
        let d = doc.clone();
        let panicked = thread::spawn(move || d.get(now, false, |_| panic!("boom"))).join();
        assert!(panicked.is_err());
        assert_eq!(*doc.get(now, false, |_| Ok((9, MINUTE))).unwrap(), 9);
    }
}
