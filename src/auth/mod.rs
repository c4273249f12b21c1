//! Who is asking: passwords, sessions, API tokens, login throttling, the client's address and the
//! extractors that turn a request into an [`crate::audit::Actor`].

pub mod client_address;
pub mod csrf;
pub mod extract;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token_store;
pub mod tokens;
