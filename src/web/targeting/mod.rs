//! Targeting pages: the flag's Targeting tab (strategies per environment) and the project's
//! segments. Authorization mirrors `api/targeting.rs`.

mod copy;
mod form;
mod page;
mod segments;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    let segments = "/projects/{project}/segments";
    Router::new()
        .route(
            "/projects/{project}/flags/{key}/targeting",
            get(page::show_targeting).post(page::post_targeting),
        )
        .route(
            "/projects/{project}/flags/{key}/targeting/copy",
            post(copy::copy_targeting),
        )
        .route(
            segments,
            get(segments::list_segments).post(segments::create_segment),
        )
        .route(&format!("{segments}/new"), get(segments::new_segment))
        .route(
            &format!("{segments}/{{id}}"),
            get(segments::edit_segment).post(segments::update_segment),
        )
        .route(
            &format!("{segments}/{{id}}/delete"),
            post(segments::delete_segment),
        )
}

/// One option of a select.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

use super::href::segment as encode;
