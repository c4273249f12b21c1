//! Flag pages: the catalog (per project and across projects), one flag with its environments and
//! history and usage, and the create and edit forms. Authorization mirrors `api/flags.rs`.

mod archive;
mod bulk;
mod catalog;
mod code;
mod edit;
mod env_row;
mod governance;
mod lifecycle;
mod outcomes;
mod page;
mod refusal;
mod results;
mod retirement;
mod usage;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    let f = "/projects/{project}/flags/{key}";
    Router::new()
        .route("/flags", get(catalog::all_flags))
        .route("/bulk-flags", post(bulk::bulk_all_flags))
        .route(
            "/projects/{project}/flags",
            get(catalog::list_flags).post(edit::create_flag),
        )
        .route("/projects/{project}/flags/new", get(edit::new_flag))
        .route("/projects/{project}/bulk-flags", post(bulk::bulk_flags))
        .route(f, get(page::show_flag).post(edit::update_flag))
        .route(&format!("{f}/edit"), get(edit::edit_flag))
        .route(&format!("{f}/code"), get(code::show_code))
        .route(&format!("{f}/complete"), post(lifecycle::complete))
        .route(&format!("{f}/reopen"), post(lifecycle::reopen))
        .route(&format!("{f}/snooze"), post(lifecycle::snooze))
        .route(&format!("{f}/unsnooze"), post(lifecycle::unsnooze))
        .route(&format!("{f}/archive"), post(archive::archive_flag))
        .route(&format!("{f}/revive"), post(archive::revive_flag))
        .route(
            &format!("{f}/environments/{{env}}/toggle"),
            post(page::toggle),
        )
}

pub use super::text::short_time;

pub(super) use super::href::flag as flag_href;

#[derive(Deserialize)]
pub(super) struct FlagPath {
    #[allow(dead_code)]
    project: String,
    pub(super) key: String,
}
