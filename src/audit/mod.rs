//! The audit log: every change, who made it and why, appended to a hash-chained table that the
//! application may only insert into (triggers abort UPDATE and DELETE).

pub mod action;
pub mod chain;
pub mod checkpoint;
pub mod describe;
pub mod store;
pub mod via;

pub use action::{Action, FeedEffect};
pub use store::{append, Entry, Head, NewEntry};

use serde::Serialize;

/// Who did something. A token acts as the user it names, so both are recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub user_id: Option<i64>,
    pub label: String,
    pub is_admin: bool,
    pub request_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    Token,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
        }
    }
}

impl Actor {
    /// Changes made from the command line on the server itself.
    pub fn system(label: &str) -> Self {
        Actor {
            kind: ActorKind::System,
            user_id: None,
            label: label.to_string(),
            is_admin: true,
            request_id: None,
        }
    }

    pub fn user(user_id: i64, email: &str, is_admin: bool) -> Self {
        Actor {
            kind: ActorKind::User,
            user_id: Some(user_id),
            label: email.to_string(),
            is_admin,
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
}
