//! Who may do what: project roles, the actions they guard, and the one policy that decides.

pub mod extract;
pub mod policy;

pub use extract::ProjectAccess;
pub use policy::{allows, Action, Denied, Principal, Role};
