//! Who is asking: passwords, sessions, API tokens, login throttling and the client's address.
//! The extractors that turn a request into an identity are `crate::http::extract`'s.

pub mod client_address;
pub mod csrf;
pub mod password;
pub mod session;
pub mod session_store;
pub mod store;
pub mod throttle;
pub mod token_store;
pub mod tokens;
