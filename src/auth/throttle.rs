//! Throttling of password guesses, in memory: sign-ins per account and per client address, and
//! current passwords on the account page per user.
//!
//! A sliding window of attempts. An attempt takes its slot *before* any password is hashed, in
//! the same lock that counts the window, so parallel requests can never get more than `limit`
//! passwords checked per window (reliability plan L6: 100 simultaneous attempts checked 48 when
//! the count came after the hash). A right password gives its slot back. Time comes in as `now`
//! (the app's clock). The map is capped so a flood of distinct keys cannot grow memory without
//! bound.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

type Now = DateTime<Utc>;

pub struct Throttle {
    limit: usize,
    window: chrono::TimeDelta,
    capacity: usize,
    attempts: Mutex<HashMap<String, VecDeque<Now>>>,
}

/// One attempt's place in a window; [`Throttle::release`] gives it back.
#[must_use = "a slot is kept as a failure unless it is released"]
#[derive(Debug)]
pub struct Slot {
    key: String,
    at: Now,
}

impl Throttle {
    pub fn new(limit: usize, window: Duration) -> Self {
        Throttle {
            limit,
            window: chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX),
            capacity: 100_000,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for one attempt, or `Err(seconds)` to wait before the next one may start.
    pub fn reserve(&self, key: &str, now: Now) -> Result<Slot, u64> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, t| {
                prune(t, now, window);
                !t.is_empty()
            });
        }
        let slot = Slot {
            key: key.to_string(),
            at: now,
        };
        if map.len() >= self.capacity && !map.contains_key(key) {
            // Full of live keys: this attempt goes uncounted rather than locking everyone out.
            return Ok(slot);
        }
        let times = map.entry(slot.key.clone()).or_default();
        prune(times, now, self.window);
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            let left = (oldest + self.window - now).num_milliseconds().max(0) as u64;
            return Err(left.div_ceil(1000).max(1));
        }
        times.push_back(now);
        Ok(slot)
    }

    /// Gives a slot back: that attempt was not a wrong guess.
    pub fn release(&self, slot: Slot) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(times) = map.get_mut(&slot.key) {
            if let Some(i) = times.iter().position(|t| *t == slot.at) {
                times.remove(i);
            }
            if times.is_empty() {
                map.remove(&slot.key);
            }
        }
    }

    /// Forgets every attempt of a key (a successful sign-in ends the account's streak).
    pub fn clear(&self, key: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

fn prune(times: &mut VecDeque<Now>, now: Now, window: chrono::TimeDelta) {
    while times.front().is_some_and(|t| now - *t >= window) {
        times.pop_front();
    }
}

/// Wrong current passwords allowed per user within `PASSWORD_CHANGE_WINDOW`.
pub const PASSWORD_CHANGE_LIMIT: usize = 5;
pub const PASSWORD_CHANGE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The app's throttles.
pub struct LoginThrottle {
    /// Low: guessing one account's password.
    pub per_account: Throttle,
    /// Much higher: one address is often many people (an office NAT, a TLS proxy), and a low
    /// limit there would let one person lock everyone else out. It still stops spraying.
    pub per_address: Throttle,
    /// Wrong current passwords on the account page, per user: a stolen session cannot guess
    /// the password at leisure.
    pub password_change: Throttle,
}

/// The slots one sign-in attempt holds.
#[must_use]
pub struct SignInSlots {
    account: Slot,
    address: Slot,
}

impl LoginThrottle {
    /// `per_account` and `per_address` failed sign-ins allowed within each `window`.
    pub fn new(per_account: usize, per_address: usize, window: Duration) -> Self {
        LoginThrottle {
            per_account: Throttle::new(per_account, window),
            per_address: Throttle::new(per_address, window),
            password_change: Throttle::new(PASSWORD_CHANGE_LIMIT, PASSWORD_CHANGE_WINDOW),
        }
    }

    /// Both slots or neither: a refused attempt leaves no trace in the other window.
    pub fn reserve_sign_in(
        &self,
        email: &str,
        address: IpAddr,
        now: Now,
    ) -> Result<SignInSlots, u64> {
        let account = self.per_account.reserve(email, now)?;
        match self.per_address.reserve(&address_key(address), now) {
            Ok(address) => Ok(SignInSlots { account, address }),
            Err(wait) => {
                self.per_account.release(account);
                Err(wait)
            }
        }
    }

    /// A right password: the account's streak ends, and the address gets its slot back.
    pub fn signed_in(&self, slots: SignInSlots) {
        self.per_account.clear(&slots.account.key);
        self.per_address.release(slots.address);
    }

    /// A wrong password: both slots stay taken until the window passes.
    pub fn failed(&self, slots: SignInSlots) {
        let _ = slots;
    }
}

/// IPv6 clients usually hold a whole /64, so that is what counts as one address.
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Now {
        DateTime::from_timestamp(1_900_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn refuses_after_the_limit_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            let _kept = t.reserve("a", at(0)).unwrap();
        }
        assert_eq!(t.reserve("a", at(0)).unwrap_err(), 60);
        assert_eq!(t.reserve("a", at(59)).unwrap_err(), 1);
        assert!(t.reserve("b", at(0)).is_ok());
        assert!(t.reserve("a", at(60)).is_ok());
    }

    #[test]
    fn a_released_slot_is_free_again_and_refusals_take_none() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let first = t.reserve("a", at(0)).unwrap();
        let _second = t.reserve("a", at(1)).unwrap();
        for _ in 0..10 {
            assert!(t.reserve("a", at(2)).is_err());
        }
        t.release(first);
        assert!(t.reserve("a", at(3)).is_ok());
        assert!(t.reserve("a", at(3)).is_err());
    }

    #[test]
    fn parallel_reservations_never_exceed_the_limit() {
        let t = std::sync::Arc::new(Throttle::new(10, Duration::from_secs(60)));
        let granted: usize = (0..100)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.reserve("a", at(0)).is_ok() as usize)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(granted, 10);
    }

    #[test]
    fn a_sign_in_refused_by_its_address_leaves_the_account_untouched() {
        let t = LoginThrottle::new(2, 1, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        t.failed(t.reserve_sign_in("a@x", ip, at(0)).unwrap());
        assert!(t.reserve_sign_in("b@x", ip, at(0)).is_err());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        t.failed(t.reserve_sign_in("b@x", other, at(0)).unwrap());
        t.signed_in(
            t.reserve_sign_in("b@x", "192.0.2.3".parse().unwrap(), at(0))
                .unwrap(),
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
    }
}
