//! A request's items: one proposed change each, with the live version it was based on and its
//! before and after.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub kind: String,
    pub flag_key: Option<String>,
    pub segment_id: Option<i64>,
    pub payload: String,
    pub base_version: i64,
    pub before_json: String,
    pub after_json: String,
    pub created_at: String,
}

const ITEM_COLUMNS: &str =
    "id, kind, flag_key, segment_id, payload, base_version, before_json, after_json, created_at";

pub async fn items_of(conn: &mut Conn, request_id: i64) -> Result<Vec<ItemRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {ITEM_COLUMNS} from change_request_items where change_request_id = ? order by id"
    ))
    .bind(request_id)
    .fetch_all(conn)
    .await
}

/// The item of the same kind on the same thing, which a newer proposal replaces.
pub async fn item_like(
    conn: &mut Conn,
    request_id: i64,
    kind: &str,
    flag_key: Option<&str>,
    segment_id: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select id from change_request_items where change_request_id = ? and kind = ? \
         and flag_key is not distinct from ? and segment_id is not distinct from ?",
    )
    .bind(request_id)
    .bind(kind)
    .bind(flag_key)
    .bind(segment_id)
    .fetch_optional(conn)
    .await
}

pub struct NewItem<'a> {
    pub kind: &'a str,
    pub flag_key: Option<&'a str>,
    pub segment_id: Option<i64>,
    pub payload: &'a str,
    pub base_version: i64,
    pub before_json: &'a str,
    pub after_json: &'a str,
}

pub async fn insert_item(
    conn: &mut Conn,
    request_id: i64,
    item: &NewItem<'_>,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into change_request_items (change_request_id, kind, flag_key, segment_id, payload, \
         base_version, before_json, after_json, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         returning id",
    )
    .bind(request_id)
    .bind(item.kind)
    .bind(item.flag_key)
    .bind(item.segment_id)
    .bind(item.payload)
    .bind(item.base_version)
    .bind(item.before_json)
    .bind(item.after_json)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// A newer proposal for the same thing; the base version stays the one first seen, so a change
/// to the live configuration in between is still caught.
pub async fn replace_item(
    conn: &mut Conn,
    item_id: i64,
    payload: &str,
    after_json: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query("update change_request_items set payload = ?, after_json = ? where id = ?")
        .bind(payload)
        .bind(after_json)
        .bind(item_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Re-bases an item on the live configuration (refreshing a failed request).
pub async fn rebase_item(
    conn: &mut Conn,
    item_id: i64,
    base_version: i64,
    before_json: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update change_request_items set base_version = ?, before_json = ? where id = ?",
    )
    .bind(base_version)
    .bind(before_json)
    .bind(item_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_item(
    conn: &mut Conn,
    request_id: i64,
    item_id: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        crate::db::query("delete from change_request_items where change_request_id = ? and id = ?")
            .bind(request_id)
            .bind(item_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
