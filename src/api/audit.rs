//! The audit log, newest first, filtered; limited to what the token's user may see in the
//! token's project.

use super::ApiError;
use crate::audit::store::{self, Filter};
use crate::http::extract::AdminToken;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/admin/audit", get(list_audit))
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<String>,
    before: Option<String>,
}

async fn list_audit(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let visible = crate::authz::Reach::of(&mut conn, &id).await?.key_filter();
    let limit = paging
        .limit
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let before = paging.before.and_then(|b| b.parse::<i64>().ok());
    let entries = store::list(&mut conn, &filter, &visible, limit, before).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries: Vec<Value> = entries.into_iter().map(entry_json).collect();
    Ok(Json(json!({ "entries": entries, "nextBefore": next })))
}

/// Before and after travel as JSON, not as the text they are stored as.
fn entry_json(e: store::Entry) -> Value {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    let before = parse(&e.before_json);
    let after = parse(&e.after_json);
    let mut v = json!(e);
    if let Some(o) = v.as_object_mut() {
        o.remove("beforeJson");
        o.remove("afterJson");
        o.insert("before".into(), before);
        o.insert("after".into(), after);
    }
    v
}
