//! What SDKs do to this server: open event streams, registrations and metric posts (with why
//! any was refused), and the reports dropped because the usage queue was full. Atomics only:
//! these are bumped on the feed's request path.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Which API a report came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Client,
    Frontend,
}

/// What an SDK posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Post {
    Registration,
    Metrics,
}

/// How a post was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Unreadable JSON, or a bucket out of bounds (400).
    Invalid,
    /// No token, an unknown one, or one of the wrong kind (401, 403).
    Unauthorized,
    /// Over the token's posts per minute (429).
    RateLimited,
    /// The feed is not loaded yet (503).
    Unavailable,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Accepted,
        Outcome::Invalid,
        Outcome::Unauthorized,
        Outcome::RateLimited,
        Outcome::Unavailable,
    ];

    /// The outcome an answer's status code tells.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Accepted,
            401 | 403 => Outcome::Unauthorized,
            429 => Outcome::RateLimited,
            503 => Outcome::Unavailable,
            _ => Outcome::Invalid,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Invalid => "invalid",
            Outcome::Unauthorized => "unauthorized",
            Outcome::RateLimited => "rate_limited",
            Outcome::Unavailable => "unavailable",
        }
    }
}

impl Api {
    pub const ALL: [Api; 2] = [Api::Client, Api::Frontend];
    pub fn label(self) -> &'static str {
        match self {
            Api::Client => "client",
            Api::Frontend => "frontend",
        }
    }
}

impl Post {
    pub const ALL: [Post; 2] = [Post::Registration, Post::Metrics];
    pub fn label(self) -> &'static str {
        match self {
            Post::Registration => "registration",
            Post::Metrics => "metrics",
        }
    }
}

const OUTCOMES: usize = Outcome::ALL.len();
static POSTS: [[[AtomicU64; OUTCOMES]; 2]; 2] =
    [const { [const { [const { AtomicU64::new(0) }; OUTCOMES] }; 2] }; 2];
static DROPPED: AtomicU64 = AtomicU64::new(0);
static STREAMS_OPEN: AtomicI64 = AtomicI64::new(0);
static STREAMS_OPENED: AtomicU64 = AtomicU64::new(0);

pub fn posted(api: Api, post: Post, outcome: Outcome) {
    POSTS[api as usize][post as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
}

pub fn posts(api: Api, post: Post, outcome: Outcome) -> u64 {
    POSTS[api as usize][post as usize][outcome as usize].load(Ordering::Relaxed)
}

/// A report accepted but dropped: the queue to the database writer was full.
pub fn report_dropped() {
    DROPPED.fetch_add(1, Ordering::Relaxed);
}

pub fn reports_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Held by each open event stream; the gauge counts them.
pub struct OpenStream(());

impl OpenStream {
    pub fn new() -> OpenStream {
        STREAMS_OPEN.fetch_add(1, Ordering::Relaxed);
        STREAMS_OPENED.fetch_add(1, Ordering::Relaxed);
        OpenStream(())
    }
}

impl Default for OpenStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        STREAMS_OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn streams_open() -> i64 {
    STREAMS_OPEN.load(Ordering::Relaxed).max(0)
}

pub fn streams_opened() -> u64 {
    STREAMS_OPENED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_name_their_outcome() {
        assert_eq!(Outcome::of_status(202), Outcome::Accepted);
        assert_eq!(Outcome::of_status(200), Outcome::Accepted);
        assert_eq!(Outcome::of_status(400), Outcome::Invalid);
        assert_eq!(Outcome::of_status(403), Outcome::Unauthorized);
        assert_eq!(Outcome::of_status(429), Outcome::RateLimited);
        assert_eq!(Outcome::of_status(503), Outcome::Unavailable);
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
    }

    #[test]
    fn the_stream_gauge_follows_the_guards() {
        let before = streams_open();
        let a = OpenStream::new();
        let b = OpenStream::new();
        assert!(streams_open() >= before + 2);
        drop((a, b));
        assert!(streams_opened() >= 2);
    }
}
