//! The flag catalog: flags with their metadata, ownership, tags, links and per-environment state.

pub mod archive;
mod edit;
pub mod filter;
pub mod flag;
pub mod service;
pub mod store;
mod switch;

pub use archive::ArchiveNote;
pub use flag::{FlagType, ValueType};
