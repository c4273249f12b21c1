//! SQL of targeting: an environment's whole Unleash-shaped state for the feed in `feed`; editing a
//! flag environment's strategies and variants in `strategies`, its parents in `dependencies`,
//! segments in `segments`; what an import writes in `import`.

mod dependencies;
mod feed;
mod import;
mod segments;
mod strategies;

pub use dependencies::*;
pub use feed::*;
pub use import::*;
pub use segments::*;
pub use strategies::*;
