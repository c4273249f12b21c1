//! Webhooks: per-project HTTP endpoints told when a change request is submitted, approved,
//! rejected, applied or fails, when a flag is killed in an emergency or turns stale, when the
//! weekly cleanup report is kept, and when a release plan is rolled back automatically.
//!
//! Telling is two steps. [`enqueue`] (`outbox`) writes one outbox row per interested webhook
//! inside the transaction of the event itself, so an event is announced exactly when it
//! commits. The [`delivery`] task then sends due rows in the background with retries and
//! backoff; nothing the workflow does waits for an endpoint.
//!
//! `payload` is the pure event shape and its generic/Slack renderings; `sign` the HMAC signature
//! every delivery carries; `target` which addresses a webhook may reach; `webhooks` manages a
//! project's webhooks and reads their deliveries; `store` the SQL.

pub mod delivery;
mod outbox;
pub mod payload;
pub mod sign;
pub mod store;
pub mod target;
mod webhooks;

pub use outbox::{change_request, enqueue, killed, report, rolled_back, stale};
pub use payload::{AuditHead, Described, Event, Format, Payload, RequestInfo};
pub use store::WebhookView;
pub use target::{AllowList, Target};
pub use webhooks::{
    create, delete, deliveries, get, list, list_with_last, Created, DeliveryView, WebhookDraft,
};
