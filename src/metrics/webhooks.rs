//! Webhook delivery attempts made by this process, by how each ended.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed for the last time: the delivery is given up.
    GivenUp,
}

impl Attempt {
    pub const ALL: [Attempt; 3] = [Attempt::Delivered, Attempt::Retrying, Attempt::GivenUp];

    pub fn label(self) -> &'static str {
        match self {
            Attempt::Delivered => "delivered",
            Attempt::Retrying => "retrying",
            Attempt::GivenUp => "given_up",
        }
    }
}

static ATTEMPTS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

pub fn attempted(a: Attempt) {
    ATTEMPTS[a as usize].fetch_add(1, Ordering::Relaxed);
}

pub fn attempts(a: Attempt) -> u64 {
    ATTEMPTS[a as usize].load(Ordering::Relaxed)
}
