//! Tests that span several files of the module: the OFREP mapping tables,
//! targeting-key detection and the Unleash client-specification
//! conformance suite.

mod conformance;
mod explain;
mod ofrep;
pub(super) mod support;
mod targeting_key;
