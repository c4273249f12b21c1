//! What `/metrics` reports and the Prometheus text it is written in.
//!
//! The hot paths (every request, every feed answer, every stream) bump process-wide atomics
//! here: `traffic` (answers by route family and status class, connections), `sdk` (streams,
//! registrations and metric posts), `feed` (rebuild durations, the last refresh), `webhooks`
//! (delivery attempts). Nothing here takes a lock or reads the database on those paths; the
//! few figures that need the database (`store`) are read by the scrape itself, with a short
//! timeout. Every label takes values from a fixed set, or project and environment keys: never a
//! flag key, a path or a token. `exposition` writes the text format, `histogram` the one
//! histogram kind we need. Knows nothing of HTTP: `http::scrape` serves it.

pub mod exposition;
pub mod feed;
pub mod histogram;
pub mod sdk;
pub mod store;
pub mod traffic;
pub mod webhooks;
