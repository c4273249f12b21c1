//! Who may do what: project roles, the actions they guard, the one policy that decides, and the
//! one rule of what a caller may see.

pub mod access;
pub mod identity;
pub mod policy;
pub mod reach;

pub use access::ProjectAccess;
pub use identity::Identity;
pub use policy::{allows, Action, Denied, Principal, Role};
pub use reach::Reach;
