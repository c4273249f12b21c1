//! Links of the web app: the app's one link module (`crate::href`), shared with webhook bodies.

pub use crate::href::*;
