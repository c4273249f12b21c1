//! What one SDK report may add to the database: a bucket's hour near now, bounded counts, a
//! few variant names per flag, and each token's allowance of posts per minute.

use super::Bucket;
use crate::clock::stamp;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A bucket may start this long before now (SDKs resend what failed, for a while)...
pub const EARLIEST: TimeDelta = TimeDelta::days(2);
/// ...and this long after (clocks drift).
pub const LATEST: TimeDelta = TimeDelta::hours(1);
/// The largest count a bucket may carry for one flag (or variant): a billion evaluations in one
/// SDK interval is far past any real application.
pub const MAX_COUNT: i64 = 1_000_000_000;
/// Variant names counted per flag and bucket; more are dropped.
pub const MAX_VARIANTS: usize = 32;
/// Metric and registration posts each token may make per minute unless configured.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 6_000;

/// Drops counts of unknown flags and extra variants; refuses a bucket far from `now` or with an
/// impossible count.
pub fn bound(
    bucket: &mut Bucket,
    known: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if let Some(start) = bucket.start {
        if start < now - EARLIEST || start > now + LATEST {
            return Err(format!(
                "the bucket's hour ({}) is not within two days before and an hour after now",
                stamp(start)
            ));
        }
    }
    bucket.toggles.retain(|flag, _| known(flag));
    for (flag, c) in &mut bucket.toggles {
        let counts = [c.yes, c.no]
            .into_iter()
            .chain(c.variants.values().copied());
        if counts.into_iter().any(|n| !(0..=MAX_COUNT).contains(&n)) {
            return Err(format!(
                "a count for {flag} is not between 0 and {MAX_COUNT} (one bucket's evaluations)"
            ));
        }
        if c.variants.len() > MAX_VARIANTS {
            let mut names: Vec<String> = c.variants.keys().cloned().collect();
            names.sort();
            for extra in &names[MAX_VARIANTS..] {
                c.variants.remove(extra);
            }
        }
    }
    Ok(())
}

/// A token bucket per API token: `capacity` posts at once, refilled evenly over a minute.
/// Only tokens that authenticated reach it, so it holds at most one entry per real token.
///
/// Behind several replicas each token's posts of the current minute are shared too (see
/// [`Limiter::learn`]): between two syncs a replica admits at most its share of what was left of
/// the allowance at the last one, that remainder divided by the number of replicas. Until the
/// first sync (SQLite, one process) and while there is one replica, only the bucket counts.
pub struct Limiter {
    capacity: f64,
    per_second: f64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    buckets: HashMap<i64, (f64, std::time::Instant)>,
    /// What the replicas know of each other, from the last sync; None before the first.
    shared: Option<Shared>,
}

struct Shared {
    /// The Unix minute counted, set by the sync.
    minute: i64,
    counts: HashMap<i64, Count>,
    replicas: i64,
    /// When the minute ends, and when the next sync is due: the waits a refusal names.
    minute_ends: std::time::Instant,
    next_sync: std::time::Instant,
    /// Past this the sync has stalled (the database is away): the bucket alone decides, so a
    /// replica never refuses SDKs for want of the database.
    fresh_until: std::time::Instant,
}

/// One token's posts in the shared minute.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Count {
    /// Admitted here this minute.
    posts: i64,
    /// Of them, written for the other replicas at the last sync.
    synced: i64,
    /// The other replicas' posts this minute, as read at the last sync.
    others: i64,
}

impl Count {
    /// How many more posts this replica may admit before the next sync: its share of what was
    /// left of `allowance` at the last one, less what it has admitted since.
    fn share_left(self, allowance: i64, replicas: i64) -> i64 {
        let left = allowance - self.synced - self.others;
        if left <= 0 {
            return 0;
        }
        let share = (left + replicas - 1) / replicas;
        share - (self.posts - self.synced)
    }
}

/// What one sync learnt from the database, for [`Limiter::learn`].
pub struct Learnt {
    pub minute: i64,
    /// Replicas sharing the allowance, this one included.
    pub replicas: i64,
    /// The other replicas' posts per token this minute.
    pub others: HashMap<i64, i64>,
    /// What this replica wrote for `minute` ([`Limiter::unsynced`]'s counts).
    pub written: Vec<(i64, i64)>,
    pub now: std::time::Instant,
    pub minute_ends: Duration,
    pub next_sync: Duration,
    pub fresh_for: Duration,
}

impl Limiter {
    pub fn per_minute(posts: u32) -> Limiter {
        let capacity = f64::from(posts.max(1));
        Limiter {
            capacity,
            per_second: capacity / 60.0,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one post from `token`'s allowance, or says how long until one is free.
    pub fn admit(&self, token: i64, now: std::time::Instant) -> Result<(), Duration> {
        let mut state = self.lock();
        let State { buckets, shared } = &mut *state;
        let (left, at) = buckets.entry(token).or_insert((self.capacity, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *left = (*left + refill).min(self.capacity);
        *at = now;
        let mut count = None;
        if let Some(shared) = shared {
            let c = shared.counts.entry(token).or_default();
            if shared.replicas > 1 && now < shared.fresh_until {
                let allowance = self.capacity as i64;
                if c.share_left(allowance, shared.replicas) <= 0 {
                    let spent = c.synced + c.others >= allowance;
                    let until = if spent {
                        shared.minute_ends
                    } else {
                        shared.next_sync
                    };
                    return Err(until.saturating_duration_since(now));
                }
            }
            count = Some(c);
        }
        if *left >= 1.0 {
            *left -= 1.0;
            if let Some(c) = count {
                c.posts += 1;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *left) / self.per_second))
        }
    }

    /// The minute counted and each token's posts in it that the other replicas have not been
    /// told yet; None before the first sync.
    pub fn unsynced(&self) -> Option<(i64, Vec<(i64, i64)>)> {
        let state = self.lock();
        let shared = state.shared.as_ref()?;
        let posts = shared
            .counts
            .iter()
            .filter(|(_, c)| c.posts != c.synced)
            .map(|(token, c)| (*token, c.posts))
            .collect();
        Some((shared.minute, posts))
    }

    /// Takes in a sync: what was written, the other replicas' posts and how many replicas
    /// there are. A new minute starts every token's count afresh.
    pub fn learn(&self, learnt: Learnt) {
        let mut state = self.lock();
        let now = learnt.now;
        let shared = state.shared.get_or_insert_with(|| Shared {
            minute: learnt.minute,
            counts: HashMap::new(),
            replicas: 1,
            minute_ends: now,
            next_sync: now,
            fresh_until: now,
        });
        if shared.minute == learnt.minute {
            for (token, n) in learnt.written {
                shared.counts.entry(token).or_default().synced = n;
            }
        } else {
            shared.minute = learnt.minute;
            shared.counts.clear();
        }
        for c in shared.counts.values_mut() {
            c.others = 0;
        }
        for (token, n) in learnt.others {
            shared.counts.entry(token).or_default().others = n;
        }
        shared.replicas = learnt.replicas.max(1);
        shared.minute_ends = now + learnt.minute_ends;
        shared.next_sync = now + learnt.next_sync;
        shared.fresh_until = now + learnt.fresh_for;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::usage::ToggleCount;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn toggles(pairs: &[(&str, i64)]) -> HashMap<String, ToggleCount> {
        pairs
            .iter()
            .map(|(f, n)| {
                let count = ToggleCount {
                    yes: *n,
                    ..ToggleCount::default()
                };
                (f.to_string(), count)
            })
            .collect()
    }

    #[test]
    fn unknown_flags_are_dropped_and_far_hours_or_absurd_counts_refused() {
        let now = at("2030-06-01T12:00:00Z");
        let known = |f: &str| f == "real";
        let mut b = Bucket {
            start: Some(now),
            toggles: toggles(&[("real", 3), ("invented", 1)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
        assert_eq!(b.toggles.keys().collect::<Vec<_>>(), ["real"]);
        for start in [
            "2030-05-30T11:59:00Z",
            "2030-06-01T13:01:00Z",
            "1000-01-01T00:00:00Z",
        ] {
            let mut b = Bucket {
                start: Some(at(start)),
                toggles: toggles(&[("real", 1)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{start}");
        }
        for n in [-1, MAX_COUNT + 1] {
            let mut b = Bucket {
                start: Some(now),
                toggles: toggles(&[("real", n)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{n}");
        }
        // An absurd count of an unknown flag is dropped with it, not refused.
        let mut b = Bucket {
            start: Some(now - TimeDelta::hours(47)),
            toggles: toggles(&[("real", MAX_COUNT), ("invented", i64::MAX)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
    }

    #[test]
    fn variant_names_are_capped() {
        let now = at("2030-06-01T12:00:00Z");
        let mut count = ToggleCount::default();
        for i in 0..100 {
            count.variants.insert(format!("v{i:03}"), 1);
        }
        let mut b = Bucket {
            start: None,
            toggles: HashMap::from([("real".to_string(), count)]),
        };
        bound(&mut b, |_| true, now).unwrap();
        assert_eq!(b.toggles["real"].variants.len(), MAX_VARIANTS);
    }

    #[test]
    fn the_limiter_spends_then_refills_per_token() {
        let limiter = Limiter::per_minute(3);
        let t0 = std::time::Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(1, t0), Ok(()));
        }
        let wait = limiter.admit(1, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            limiter.admit(2, t0),
            Ok(()),
            "another token is not affected"
        );
        assert_eq!(limiter.admit(1, t0 + Duration::from_secs(20)), Ok(()));
        assert!(limiter.admit(1, t0 + Duration::from_secs(20)).is_err());
    }

    fn learnt(
        minute: i64,
        replicas: i64,
        others: &[(i64, i64)],
        written: &[(i64, i64)],
        now: std::time::Instant,
    ) -> Learnt {
        Learnt {
            minute,
            replicas,
            others: others.iter().copied().collect(),
            written: written.to_vec(),
            now,
            minute_ends: Duration::from_secs(40),
            next_sync: Duration::from_secs(1),
            fresh_for: Duration::from_secs(3),
        }
    }

    fn admitted(limiter: &Limiter, token: i64, now: std::time::Instant) -> usize {
        (0..1_000)
            .take_while(|_| limiter.admit(token, now).is_ok())
            .count()
    }

    #[test]
    fn three_replicas_each_take_a_third_of_what_is_left_then_stop_at_the_allowance() {
        let limiter = Limiter::per_minute(30);
        let t0 = std::time::Instant::now();
        limiter.learn(learnt(100, 3, &[], &[], t0));
        // A third of 30 until the next sync, which is a second away.
        assert_eq!(admitted(&limiter, 1, t0), 10);
        let wait = limiter.admit(1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(limiter.unsynced(), Some((100, vec![(1, 10)])));

        // The others took 14 meanwhile: 6 are left, 2 of them this replica's.
        let t1 = t0 + Duration::from_secs(1);
        limiter.learn(learnt(100, 3, &[(1, 14)], &[(1, 10)], t1));
        assert_eq!(limiter.unsynced(), Some((100, vec![])));
        assert_eq!(admitted(&limiter, 1, t1), 2);
        // Then the others took the rest: refused until the minute ends.
        let t2 = t1 + Duration::from_secs(1);
        limiter.learn(learnt(100, 3, &[(1, 18)], &[(1, 12)], t2));
        assert_eq!(limiter.admit(1, t2), Err(Duration::from_secs(40)));
        // Another token still has its own allowance.
        assert_eq!(admitted(&limiter, 2, t2), 10);

        // A new minute starts every count afresh (token 1's bucket still holds more than 10).
        let t3 = t2 + Duration::from_secs(1);
        limiter.learn(learnt(101, 3, &[], &[], t3));
        assert_eq!(limiter.unsynced(), Some((101, vec![])));
        assert_eq!(admitted(&limiter, 1, t3), 10);
    }

    #[test]
    fn one_replica_or_a_stalled_sync_leaves_the_bucket_alone_in_charge() {
        let t0 = std::time::Instant::now();
        let alone = Limiter::per_minute(30);
        alone.learn(learnt(100, 1, &[], &[], t0));
        assert_eq!(admitted(&alone, 1, t0), 30);
        assert_eq!(alone.unsynced(), Some((100, vec![(1, 30)])));

        let stalled = Limiter::per_minute(30);
        stalled.learn(learnt(100, 3, &[(1, 30)], &[], t0));
        assert!(stalled.admit(1, t0).is_err());
        // No sync for longer than `fresh_for`: the database may be away, SDKs are not refused.
        let later = t0 + Duration::from_secs(4);
        assert_eq!(admitted(&stalled, 1, later), 30);
    }
}
