//! A project's whole configuration as one JSON document (`--format switchyard`): environments,
//! segments, flags with metadata and per-environment targeting. An export re-imports to the same
//! state; Unleash's own format lives in `targeting::import`.

pub mod document;
pub mod export;
pub mod guard;
pub mod import;
pub mod shape;
pub mod store;

pub use document::Document;
