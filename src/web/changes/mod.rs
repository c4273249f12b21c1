//! Change-request pages (issue 4): the inbox, one request with its readable diff and actions,
//! the emergency kill switch and its acknowledgement. Every rule is the domain's
//! (`crate::changes`); these handlers extract, call it and render.

mod actions;
mod closed;
mod inbox;
mod kill;
mod request;
mod rows;

pub use inbox::{pending_reviews, with_db};

use crate::changes::State;
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    let cr = "/change-requests/{id}";
    Router::new()
        .route("/change-requests", get(inbox::inbox))
        .route(cr, get(request::show_request))
        .route(&format!("{cr}/submit"), post(actions::submit_request))
        .route(&format!("{cr}/approve"), post(actions::approve_request))
        .route(&format!("{cr}/reject"), post(actions::reject_request))
        .route(&format!("{cr}/apply"), post(actions::apply_request))
        .route(&format!("{cr}/schedule"), post(actions::schedule_request))
        .route(&format!("{cr}/cancel"), post(actions::cancel_request))
        .route(&format!("{cr}/refresh"), post(actions::refresh_request))
        .route(&format!("{cr}/comments"), post(actions::comment_request))
        .route(
            &format!("{cr}/items/{{item}}/remove"),
            post(actions::remove_item),
        )
        .route(
            "/projects/{project}/flags/{key}/environments/{env}/kill",
            post(kill::kill_flag),
        )
        .route(
            "/projects/{project}/kills/{id}/acknowledge",
            post(kill::acknowledge_kill),
        )
}

pub use super::href::change_request as request_href;

/// The badge class of a state (the `.badge-*` vocabulary of app.css).
fn state_class(s: State) -> &'static str {
    match s {
        State::Draft | State::Cancelled => "badge-muted",
        State::InReview | State::Scheduled => "badge-info",
        State::Approved | State::Applied => "badge-ok",
        State::Rejected | State::Failed => "badge-danger",
    }
}
