//! A switch the project's gradual-start rule refused (`changes::propose`, "gradual-start-required"):
//! instead of an error page, the flag page again, its environment row saying why and what to do
//! instead, with links. Nothing changed, so the page is the right place to choose. The reason
//! travels once through the session, like a flash, and is shown on that flag's page only.

use super::flag_href;
use crate::web::{see_other, PageResult};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const KEY: &str = "switch_refused";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    pub project: String,
    pub flag: String,
    pub env: String,
    pub message: String,
}

/// Remembers the refusal and goes back to the flag page, at the environment's row.
pub(super) async fn back_to_flag(session: &Session, hx: bool, refusal: Refusal) -> PageResult {
    let to = format!(
        "{}#env-{}",
        flag_href(&refusal.project, &refusal.flag),
        crate::web::href::segment(&refusal.env)
    );
    let _ = session.insert(KEY, refusal).await;
    if hx {
        return Ok(([("hx-redirect", to)], StatusCode::OK).into_response());
    }
    Ok(see_other(&to))
}

/// The refusal to show on this flag's page, once. A session without one is left unwritten.
pub(super) async fn take(session: &Session, project: &str, flag: &str) -> Option<Refusal> {
    let refusal = session.get::<Refusal>(KEY).await.ok().flatten()?;
    let _ = session.remove::<Refusal>(KEY).await;
    Some(refusal).filter(|r| r.project == project && r.flag == flag)
}
