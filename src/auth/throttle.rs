//! Throttling of password guesses: sign-ins per account and per client address, and current
//! passwords on the account page per user. The attempts are counted in the database, so every
//! replica on one database counts the same ones: behind a load balancer, counts kept in each
//! process would allow as many times the limit as there are replicas.
//!
//! A sliding window of attempts. An attempt takes its slot *before* any password is hashed, in
//! a write transaction that counts the window (writes are serialised: SQLite's immediate
//! transactions, PostgreSQL's write lock), so parallel requests, on one replica or several, can
//! never get more than `limit` passwords checked per window (reliability plan L6: 100
//! simultaneous attempts checked 48 when the count came after the hash). A right password gives
//! its slot back. Time comes in as `now` (the app's clock). Attempts out of their window are
//! deleted as they are met, and every key's now and then, so a flood of distinct keys leaves at
//! most one window of rows.

use super::store;
use crate::clock::stamp;
use crate::db::{begin_write, Db};
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::time::Duration;

type Now = DateTime<Utc>;

pub struct Throttle {
    db: Db,
    /// What the attempts are kept under.
    name: &'static str,
    limit: i64,
    window: chrono::TimeDelta,
}

/// One attempt's place in a window; [`Throttle::release`] gives it back.
#[must_use = "a slot is kept as a failure unless it is released"]
#[derive(Debug)]
pub struct Slot {
    id: i64,
}

/// Every this many attempts, expired attempts of every key are swept.
const SWEEP_EVERY: i64 = 256;

impl Throttle {
    pub fn new(db: Db, name: &'static str, limit: usize, window: Duration) -> Self {
        Throttle {
            db,
            name,
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            window: chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX),
        }
    }

    /// Takes a slot for one attempt, or `Err(seconds)` to wait before the next one may start.
    pub async fn reserve(&self, key: &str, now: Now) -> Result<Result<Slot, u64>, sqlx::Error> {
        let cutoff = stamp(now - self.window);
        let mut tx = begin_write(&self.db).await?;
        store::forget_attempts(&mut tx, self.name, key, &cutoff).await?;
        let (count, oldest) = store::attempts(&mut tx, self.name, key).await?;
        let answer = if count >= self.limit {
            let oldest = oldest
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map_or(now, |t| t.with_timezone(&Utc));
            let left = (oldest + self.window - now).num_milliseconds().max(0) as u64;
            Err(left.div_ceil(1000).max(1))
        } else {
            let id = store::add_attempt(&mut tx, self.name, key, &stamp(now)).await?;
            if id % SWEEP_EVERY == 0 {
                store::forget_all_attempts(&mut tx, self.name, &cutoff).await?;
            }
            Ok(Slot { id })
        };
        // Attempts change nothing the feed serves.
        #[allow(clippy::disallowed_methods)]
        tx.commit().await?;
        Ok(answer)
    }

    /// Gives a slot back: that attempt was not a wrong guess.
    pub async fn release(&self, slot: Slot) -> Result<(), sqlx::Error> {
        let mut conn = self.db.acquire().await?;
        store::remove_attempt(&mut conn, slot.id).await
    }

    /// Forgets every attempt of a key (a successful sign-in ends the account's streak).
    pub async fn clear(&self, key: &str) -> Result<(), sqlx::Error> {
        let mut conn = self.db.acquire().await?;
        store::clear_attempts(&mut conn, self.name, key).await
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
    /// The account's slot is never given back alone: a right password clears its streak.
    account: String,
    address: Slot,
}

impl LoginThrottle {
    /// `per_account` and `per_address` failed sign-ins allowed within each `window`.
    pub fn new(db: &Db, per_account: usize, per_address: usize, window: Duration) -> Self {
        LoginThrottle {
            per_account: Throttle::new(db.clone(), "sign-in account", per_account, window),
            per_address: Throttle::new(db.clone(), "sign-in address", per_address, window),
            password_change: Throttle::new(
                db.clone(),
                "current password",
                PASSWORD_CHANGE_LIMIT,
                PASSWORD_CHANGE_WINDOW,
            ),
        }
    }

    /// Both slots or neither: a refused attempt leaves no trace in the other window.
    pub async fn reserve_sign_in(
        &self,
        email: &str,
        address: IpAddr,
        now: Now,
    ) -> Result<Result<SignInSlots, u64>, sqlx::Error> {
        let account = match self.per_account.reserve(email, now).await? {
            Ok(slot) => slot,
            Err(wait) => return Ok(Err(wait)),
        };
        match self.per_address.reserve(&address_key(address), now).await? {
            Ok(address) => Ok(Ok(SignInSlots {
                account: email.to_string(),
                address,
            })),
            Err(wait) => {
                self.per_account.release(account).await?;
                Ok(Err(wait))
            }
        }
    }

    /// A right password: the account's streak ends, and the address gets its slot back.
    pub async fn signed_in(&self, slots: SignInSlots) -> Result<(), sqlx::Error> {
        self.per_account.clear(&slots.account).await?;
        self.per_address.release(slots.address).await
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

    /// A database of its own in a temporary folder, kept while the test runs.
    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("throttle.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn refuses_after_the_limit_until_the_window_passes() {
        let (_dir, db) = database().await;
        let t = Throttle::new(db, "t", 3, Duration::from_secs(60));
        for _ in 0..3 {
            let _kept = t.reserve("a", at(0)).await.unwrap().unwrap();
        }
        assert_eq!(t.reserve("a", at(0)).await.unwrap().unwrap_err(), 60);
        assert_eq!(t.reserve("a", at(59)).await.unwrap().unwrap_err(), 1);
        assert!(t.reserve("b", at(0)).await.unwrap().is_ok());
        assert!(t.reserve("a", at(60)).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_released_slot_is_free_again_and_refusals_take_none() {
        let (_dir, db) = database().await;
        let t = Throttle::new(db, "t", 2, Duration::from_secs(60));
        let first = t.reserve("a", at(0)).await.unwrap().unwrap();
        let _second = t.reserve("a", at(1)).await.unwrap().unwrap();
        for _ in 0..10 {
            assert!(t.reserve("a", at(2)).await.unwrap().is_err());
        }
        t.release(first).await.unwrap();
        assert!(t.reserve("a", at(3)).await.unwrap().is_ok());
        assert!(t.reserve("a", at(3)).await.unwrap().is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_reservations_never_exceed_the_limit() {
        let (_dir, db) = database().await;
        let t = std::sync::Arc::new(Throttle::new(db, "t", 10, Duration::from_secs(60)));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { t.reserve("a", at(0)).await.unwrap().is_ok() as usize })
            })
            .collect();
        let mut granted = 0;
        for task in tasks {
            granted += task.await.unwrap();
        }
        assert_eq!(granted, 10);
    }

    #[tokio::test]
    async fn throttles_count_apart_on_one_database() {
        let (_dir, db) = database().await;
        let one = Throttle::new(db.clone(), "one", 1, Duration::from_secs(60));
        let two = Throttle::new(db, "two", 1, Duration::from_secs(60));
        let _kept = one.reserve("a", at(0)).await.unwrap().unwrap();
        assert!(one.reserve("a", at(0)).await.unwrap().is_err());
        assert!(two.reserve("a", at(0)).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_sign_in_refused_by_its_address_leaves_the_account_untouched() {
        let (_dir, db) = database().await;
        let t = LoginThrottle::new(&db, 2, 1, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        t.failed(t.reserve_sign_in("a@x", ip, at(0)).await.unwrap().unwrap());
        assert!(t.reserve_sign_in("b@x", ip, at(0)).await.unwrap().is_err());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        t.failed(
            t.reserve_sign_in("b@x", other, at(0))
                .await
                .unwrap()
                .unwrap(),
        );
        let third: IpAddr = "192.0.2.3".parse().unwrap();
        let slots = t
            .reserve_sign_in("b@x", third, at(0))
            .await
            .unwrap()
            .unwrap();
        t.signed_in(slots).await.unwrap();
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
