//! Request throttling (DRF's rate format) and the account softlock, in memory.
//!
//! # Rates
//! A rate is `N/period` (`"10/min"`): at most N requests per key in any
//! sliding window of that period, as DRF's `SimpleRateThrottle`. Over the
//! limit the answer is 429 `Request was throttled. Expected available in N
//! seconds.` with `Retry-After: N`.
//!
//! # Softlock (per account, whatever the client address)
//! ```text
//!            failure (count < threshold)      [per identifier, see below]
//!   Open ──────────────────────────────────┐
//!    ▲  │ failure (count ≥ threshold)       │ count += 1
//!    │  ▼                                  ▼
//!    │ Delayed(until = now + base·2^(count−threshold), at most max)
//!    │  │ any attempt before `until` → 429 (the password is not even checked)
//!    │  │ attempt after `until`: wrong → Delayed again (longer), right → Open
//!    └──┴── success, or a password reset, or a day without failures → Open (count = 0)
//! ```
//! The delay is capped, so an attacker can slow an account down but never
//! lock its owner out for good; the owner can always reset the password,
//! which clears the state. Keys are the identifier as typed (a username or an
//! address, normalised), never the account: an unknown name behaves exactly
//! like a real one, and locking a username does not lock its address (which
//! would tell that the two are one account).
//!
//! On SQLite all state is in memory: a restart clears every counter and every
//! softlock. Memory is bounded: see [`Throttle`] for what forgetting the
//! oldest key means. On PostgreSQL the same rules run in the database, shared
//! by every node ([`super::shared_throttle`]).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use hashlink::LinkedHashMap;
use std::time::{Duration, Instant};

pub use crate::clock::Clock;

/// `N` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per window.
    pub count: u32,
    /// Window length.
    pub period: Duration,
}

impl Rate {
    /// Parses DRF's format: `"10/min"`, `"5/h"`, `"100/day"`, `"3/s"` (only the period's first letter counts).
    pub fn parse(s: &str) -> Result<Rate, String> {
        let bad =
            || format!("expected a rate such as \"10/min\" (N per s, min, h or day), found {s:?}");
        let (n, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let secs = match period.trim().chars().next().map(|c| c.to_ascii_lowercase()) {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(Rate {
            count,
            period: Duration::from_secs(secs),
        })
    }
}

/// Softlock parameters.
#[derive(Debug, Clone, Copy)]
pub struct SoftlockPolicy {
    /// Failures allowed before delays start.
    pub threshold: u32,
    /// First delay; doubles with each further failure.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

#[derive(Default)]
struct LockState {
    failures: u32,
    until: Option<Instant>,
    last_failure: Option<Instant>,
}

impl LockState {
    /// Whether nothing about this state matters any more at `now`.
    fn is_stale(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| u <= now)
            && self
                .last_failure
                .is_none_or(|t| now.duration_since(t) >= DAY)
    }
}

/// The hits of one key inside its window, oldest first.
struct Window {
    hits: VecDeque<Instant>,
    /// When the newest hit leaves the window: from then on the key counts nothing.
    expires: Instant,
}

/// A map that forgets: at most `capacity` keys, the least recently touched
/// first out, with expired keys swept a few at a time from its cold end.
///
/// Every operation costs the same whatever the number of keys (a hash lookup
/// and a constant number of pops). Keys are stored as their 64-bit SipHash
/// under a random per-process key: no allocation per key, and an attacker
/// cannot choose keys (email addresses) that collide; two keys sharing a hash
/// by chance (about 1 in 10^7 with a million keys) would share a counter.
struct Lru<V> {
    keyer: RandomState,
    map: LinkedHashMap<u64, V, RandomState>,
    capacity: usize,
}

/// Expired keys removed per operation, at most.
const SWEEP_PER_OP: usize = 2;

impl<V> Lru<V> {
    fn new(capacity: usize) -> Lru<V> {
        Lru {
            keyer: RandomState::new(),
            map: LinkedHashMap::with_hasher(RandomState::new()),
            capacity: capacity.max(1),
        }
    }

    /// Drops up to [`SWEEP_PER_OP`] keys from the cold end while `stale` says so.
    fn sweep(&mut self, stale: impl Fn(&V) -> bool) {
        for _ in 0..SWEEP_PER_OP {
            match self.map.front() {
                Some((_, v)) if stale(v) => {
                    self.map.pop_front();
                }
                _ => break,
            }
        }
    }

    /// The value of `key`, now the most recently touched, created with `new`
    /// if missing (evicting the least recently touched key when full).
    fn touch(&mut self, key: &str, new: impl FnOnce() -> V) -> &mut V {
        let id = self.id(key);
        if self.map.contains_key(&id) {
            return self.map.to_back(&id).expect("present");
        }
        if self.map.len() >= self.capacity {
            self.map.pop_front();
        }
        self.map.entry(id).or_insert_with(new)
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.map.get(&self.id(key))
    }

    fn remove(&mut self, key: &str) {
        self.take(key);
    }

    fn take(&mut self, key: &str) -> Option<V> {
        let id = self.id(key);
        self.map.remove(&id)
    }

    fn id(&self, key: &str) -> u64 {
        self.keyer.hash_one(key)
    }
}

/// Throttle counters and softlocks for the whole server.
///
/// Counters live in one table per scope (the key up to its second `:`, e.g.
/// `login:ip` or `password_reset:to`), so keys an attacker makes up cheaply in
/// one scope (addresses to reset) never push out another scope's counters.
/// Softlocks live in two tables: identifiers still below the threshold, and
/// locked ones. Each table holds at most `max_keys` keys; when full, the key
/// touched least recently is forgotten. For an attacker that means: to reset
/// their own counter in a scope they must make `max_keys` other keys of that
/// scope count after their last request (with per-address rates, that many
/// source addresses, IPv6 counted per /64, within one window); to lift a
/// softlock early they must lock `max_keys` other identifiers, `threshold`
/// failed logins each, while it runs.
pub struct Throttle {
    /// On PostgreSQL: the counters every node shares, used instead of the maps below.
    shared: Option<super::shared_throttle::SharedThrottle>,
    clock: Arc<dyn Clock>,
    max_keys: usize,
    windows: Mutex<HashMap<String, Lru<Window>>>,
    locks: Mutex<Softlocks>,
    softlock: SoftlockPolicy,
}

/// Identifiers with failures below the threshold, and those at or above it.
struct Softlocks {
    counting: Lru<LockState>,
    locked: Lru<LockState>,
}

/// How long to wait, when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub u64);

const DAY: Duration = Duration::from_secs(86_400);

/// The table a counter key belongs to: the key up to its second `:`.
fn scope(key: &str) -> &str {
    let mut colons = key.match_indices(':').map(|(i, _)| i);
    match (colons.next(), colons.next()) {
        (_, Some(second)) => &key[..second],
        (Some(first), None) => &key[..first],
        (None, None) => "",
    }
}

impl Throttle {
    /// A throttle reading time from `clock`, each of its tables holding at most
    /// `max_keys` keys.
    pub fn new(clock: Arc<dyn Clock>, softlock: SoftlockPolicy, max_keys: usize) -> Throttle {
        Throttle {
            shared: None,
            clock,
            max_keys,
            windows: Mutex::new(HashMap::new()),
            locks: Mutex::new(Softlocks {
                counting: Lru::new(max_keys),
                locked: Lru::new(max_keys),
            }),
            softlock,
        }
    }

    /// The throttle of a node sharing a database with others: every count
    /// and softlock lives in `shared`.
    pub fn shared(
        shared: super::shared_throttle::SharedThrottle,
        clock: Arc<dyn Clock>,
    ) -> Throttle {
        let policy = shared.policy();
        let mut throttle = Throttle::new(clock, policy, 1);
        throttle.shared = Some(shared);
        throttle
    }

    /// Counts one request for `key` under `rate`; `Err(wait)` when over the limit
    /// (a refused request is not counted, as DRF).
    pub fn hit(&self, key: &str, rate: Rate) -> Result<(), Wait> {
        if let Some(shared) = &self.shared {
            return shared.hit(key, rate);
        }
        let now = self.clock.instant();
        let mut tables = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let scope = scope(key);
        if !tables.contains_key(scope) {
            tables.insert(scope.to_string(), Lru::new(self.max_keys));
        }
        let windows = tables.get_mut(scope).expect("inserted above");
        windows.sweep(|w| w.expires <= now);
        let window = windows.touch(key, || Window {
            hits: VecDeque::new(),
            expires: now,
        });
        while window
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= rate.period)
        {
            window.hits.pop_front();
        }
        if window.hits.len() >= rate.count as usize {
            let oldest = window.hits[0];
            let wait = rate.period.saturating_sub(now.duration_since(oldest));
            return Err(Wait(ceil_secs(wait)));
        }
        window.hits.push_back(now);
        window.expires = now + rate.period;
        Ok(())
    }

    /// `Err(wait)` while `account` is softlocked.
    pub fn check_softlock(&self, account: &str) -> Result<(), Wait> {
        if let Some(shared) = &self.shared {
            return shared.check_softlock(account);
        }
        let now = self.clock.instant();
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        match locks.locked.get(account).and_then(|s| s.until) {
            Some(until) if until > now => Err(Wait(ceil_secs(until - now))),
            _ => Ok(()),
        }
    }

    /// Records a failed login for `account` (an identifier as typed).
    pub fn login_failed(&self, account: &str) {
        if let Some(shared) = &self.shared {
            return shared.login_failed(account);
        }
        let now = self.clock.instant();
        let p = self.softlock;
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.counting.sweep(|s| s.is_stale(now));
        locks.locked.sweep(|s| s.is_stale(now));
        let mut state = match locks.locked.take(account) {
            Some(state) => state,
            None => locks.counting.take(account).unwrap_or_default(),
        };
        if state
            .last_failure
            .is_some_and(|t| now.duration_since(t) >= DAY)
        {
            state = LockState::default();
        }
        state.failures = state.failures.saturating_add(1);
        state.last_failure = Some(now);
        if state.failures >= p.threshold {
            let doublings = (state.failures - p.threshold).min(30);
            let delay = p.base.saturating_mul(1u32 << doublings).min(p.max);
            state.until = Some(now + delay);
            *locks.locked.touch(account, LockState::default) = state;
        } else {
            *locks.counting.touch(account, LockState::default) = state;
        }
    }

    /// Clears `account`'s softlock (a successful login or password reset).
    pub fn clear(&self, account: &str) {
        if let Some(shared) = &self.shared {
            return shared.clear(account);
        }
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.counting.remove(account);
        locks.locked.remove(account);
    }

    /// Keys held in this process's memory now: (counters in all scopes, softlocks).
    pub fn tracked_keys(&self) -> (usize, usize) {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|t| t.map.len())
            .sum();
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        (windows, locks.counting.map.len() + locks.locked.map.len())
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock the test moves by hand.
    struct FakeClock(Mutex<Instant>);

    impl FakeClock {
        fn advance(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
        }
    }

    impl Clock for FakeClock {
        fn system(&self) -> std::time::SystemTime {
            std::time::UNIX_EPOCH
        }
        fn instant(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn setup() -> (Arc<FakeClock>, Throttle) {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        let policy = SoftlockPolicy {
            threshold: 3,
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        (clock.clone(), Throttle::new(clock, policy, 1000))
    }

    #[test]
    fn rates_parse_like_drf() {
        assert_eq!(
            Rate::parse("10/min").unwrap(),
            Rate {
                count: 10,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(
            Rate::parse("5/hour").unwrap().period,
            Duration::from_secs(3600)
        );
        assert_eq!(
            Rate::parse("1/d").unwrap().period,
            Duration::from_secs(86_400)
        );
        assert_eq!(Rate::parse("3/sec").unwrap().period, Duration::from_secs(1));
        for bad in ["", "10", "x/min", "0/min", "10/week", "-1/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sliding_window() {
        let (clock, t) = setup();
        let rate = Rate::parse("3/min").unwrap();
        for _ in 0..3 {
            assert!(t.hit("ip", rate).is_ok());
        }
        clock.advance(Duration::from_secs(20));
        assert_eq!(t.hit("ip", rate), Err(Wait(40)));
        assert!(t.hit("other-ip", rate).is_ok(), "keys are separate");
        clock.advance(Duration::from_secs(40));
        for _ in 0..3 {
            assert!(t.hit("ip", rate).is_ok(), "the old hits left the window");
        }
        assert_eq!(t.hit("ip", rate), Err(Wait(60)));
    }

    #[test]
    fn softlock_grows_is_capped_and_clears() {
        let (clock, t) = setup();
        for _ in 0..2 {
            t.login_failed("user:1");
            assert!(t.check_softlock("user:1").is_ok(), "below the threshold");
        }
        t.login_failed("user:1"); // 3rd: 2 s
        assert_eq!(t.check_softlock("user:1"), Err(Wait(2)));
        clock.advance(Duration::from_secs(2));
        assert!(t.check_softlock("user:1").is_ok());
        t.login_failed("user:1"); // 4th: 4 s
        assert_eq!(t.check_softlock("user:1"), Err(Wait(4)));
        for _ in 0..20 {
            t.login_failed("user:1");
        }
        assert_eq!(
            t.check_softlock("user:1"),
            Err(Wait(60)),
            "never more than max"
        );
        clock.advance(Duration::from_secs(60));
        assert!(
            t.check_softlock("user:1").is_ok(),
            "the owner gets a try after max"
        );
        t.login_failed("user:1");
        t.clear("user:1");
        assert!(
            t.check_softlock("user:1").is_ok(),
            "a reset or success clears it"
        );
    }

    #[test]
    fn a_quiet_day_forgets_old_failures() {
        let (clock, t) = setup();
        t.login_failed("x");
        t.login_failed("x");
        clock.advance(DAY);
        t.login_failed("x");
        assert!(t.check_softlock("x").is_ok(), "count restarted");
    }

    #[test]
    fn memory_is_capped_and_the_coldest_key_goes_first() {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        let policy = SoftlockPolicy {
            threshold: 1,
            base: Duration::from_secs(60),
            max: Duration::from_secs(60),
        };
        let t = Throttle::new(clock, policy, 100);
        let rate = Rate::parse("1/h").unwrap();
        assert!(t.hit("attacker", rate).is_ok());
        assert!(t.hit("attacker", rate).is_err());
        t.login_failed("victim");
        for i in 0..99 {
            assert!(t.hit(&format!("other{i}"), rate).is_ok());
            t.login_failed(&format!("ghost{i}"));
        }
        // Touching keeps a key warm: 99 others did not push it out.
        assert!(t.hit("attacker", rate).is_err());
        t.login_failed("victim");
        for i in 0..150 {
            assert!(t.hit(&format!("more{i}"), rate).is_ok());
        }
        assert_eq!(t.tracked_keys().0, 100, "never more than the cap");
        assert!(
            t.hit("attacker", rate).is_ok(),
            "forgotten once 100 newer keys counted"
        );
        assert!(
            t.check_softlock("victim").is_err(),
            "softlocks have their own table"
        );
    }

    #[test]
    fn expired_keys_are_swept_as_hits_go_by() {
        let (clock, t) = setup();
        let rate = Rate::parse("5/s").unwrap();
        for i in 0..50 {
            t.hit(&format!("k{i}"), rate).unwrap();
        }
        clock.advance(Duration::from_secs(2));
        for _ in 0..30 {
            t.hit("fresh", rate).ok();
        }
        assert_eq!(t.tracked_keys().0, 1, "every stale key swept, two per hit");
    }

    #[test]
    fn scopes_have_their_own_tables() {
        assert_eq!(scope("login:ip:1.2.3.4"), "login:ip");
        assert_eq!(scope("login:ip:2001:db8::/64"), "login:ip");
        assert_eq!(scope("password_reset:to:a@b.c"), "password_reset:to");
        assert_eq!(scope("plain"), "");
        let (_, t) = setup();
        let t = Throttle::new(t.clock.clone(), t.softlock, 100);
        let rate = Rate::parse("1/h").unwrap();
        assert!(t.hit("login:ip:203.0.113.1", rate).is_ok());
        // Cheap, attacker-chosen keys of another scope fill only their own table.
        for i in 0..500 {
            assert!(t
                .hit(&format!("password_reset:to:x{i}@example.com"), rate)
                .is_ok());
        }
        assert!(
            t.hit("login:ip:203.0.113.1", rate).is_err(),
            "still counted"
        );
    }

    #[test]
    fn a_lock_survives_a_flood_of_fresh_failures() {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        let policy = SoftlockPolicy {
            threshold: 3,
            base: Duration::from_secs(600),
            max: Duration::from_secs(600),
        };
        let t = Throttle::new(clock, policy, 100);
        for _ in 0..3 {
            t.login_failed("login:victim");
        }
        assert!(t.check_softlock("login:victim").is_err());
        // 1,000 identifiers that fail once or twice never reach the locked table.
        for i in 0..1000 {
            t.login_failed(&format!("login:ghost{i}"));
            t.login_failed(&format!("login:ghost{i}"));
        }
        assert!(t.check_softlock("login:victim").is_err(), "not pushed out");
        assert!(t.tracked_keys().1 <= 200);
    }
}
