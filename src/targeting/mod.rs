//! Targeting per flag and environment in Unleash's shape — strategies with constraints, segments
//! and variants, flag-level variants, dependencies — and the feed state built from it.

pub mod import;
pub mod served;
pub mod service;
pub mod store;
