//! What the watcher reads to keep the feed in step: the audit head, a project's environments,
//! flag tags and the tokens the feed accepts. Requests never call these.

use crate::db::Conn;
use std::collections::HashMap;

/// The sequence number of the newest audit entry (0 for an empty log): every change is
/// audited, so a new head means something may have changed.
pub async fn audit_head(conn: &mut Conn) -> sqlx::Result<i64> {
    crate::db::query_scalar("select coalesce(max(seq), 0) from audit_log")
        .fetch_one(conn)
        .await
}

/// A project's environments: id and key.
pub async fn environments_of(conn: &mut Conn, project_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    crate::db::query_as("select id, key from environments where project_id = ?")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

/// Each flag's tags, for the flags in `only` (all of the project's when None).
pub async fn flag_tags(
    conn: &mut Conn,
    project_id: i64,
    only: Option<&[String]>,
) -> sqlx::Result<HashMap<String, Vec<String>>> {
    let keys = only.map(|keys| serde_json::json!(keys).to_string());
    let sql = format!(
        "select f.key, t.tag from flag_tags t join flags f on f.id = t.flag_id \
         where f.project_id = ?1 and (?2 is null or f.key in ({}))",
        conn.backend().json_texts("?2")
    );
    let rows: Vec<(String, String)> = crate::db::query_as(&sql)
        .bind(project_id)
        .bind(&keys)
        .fetch_all(conn)
        .await?;
    let mut tags = HashMap::<String, Vec<String>>::new();
    for (flag, tag) in rows {
        tags.entry(flag).or_default().push(tag);
    }
    Ok(tags)
}

/// A token the feed may accept, as stored.
#[derive(sqlx::FromRow)]
pub struct LiveToken {
    pub id: i64,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    pub kind: String,
    pub project_id: i64,
    pub environment_id: Option<i64>,
}

/// Tokens neither revoked nor expired.
pub async fn live_tokens(conn: &mut Conn) -> sqlx::Result<Vec<LiveToken>> {
    let sql = format!(
        "select id, secret_hash, kind, coalesce(project_id, -1) as project_id, environment_id from api_tokens \
         where revoked_at is null and (expires_at is null or expires_at > {})",
        conn.backend().now_stamp()
    );
    crate::db::query_as(&sql).fetch_all(conn).await
}
