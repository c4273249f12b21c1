//! A request's review: approvals and comments.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalRow {
    pub user_id: i64,
    pub user_label: String,
    pub approved_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    pub author_label: String,
    pub body: String,
    pub created_at: String,
}

pub async fn approvals_of(
    conn: &mut Conn,
    request_id: i64,
) -> Result<Vec<ApprovalRow>, sqlx::Error> {
    crate::db::query_as(
        "select user_id, user_label, approved_at from change_request_approvals \
         where change_request_id = ? order by approved_at, user_id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await
}

/// Records one person's approval; false when they had already approved (the primary key makes
/// a second row impossible).
pub async fn insert_approval(
    conn: &mut Conn,
    request_id: i64,
    user: (i64, &str),
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "insert into change_request_approvals (change_request_id, user_id, user_label, approved_at) \
         values (?, ?, ?, ?) on conflict do nothing",
    )
    .bind(request_id)
    .bind(user.0)
    .bind(user.1)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn clear_approvals(conn: &mut Conn, request_id: i64) -> Result<u64, sqlx::Error> {
    Ok(
        crate::db::query("delete from change_request_approvals where change_request_id = ?")
            .bind(request_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn comments_of(conn: &mut Conn, request_id: i64) -> Result<Vec<CommentRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, author_label, body, created_at from change_request_comments \
         where change_request_id = ? order by id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await
}

pub async fn insert_comment(
    conn: &mut Conn,
    request_id: i64,
    author: &str,
    body: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into change_request_comments (change_request_id, author_label, body, created_at) \
         values (?, ?, ?, ?) returning id",
    )
    .bind(request_id)
    .bind(author)
    .bind(body)
    .bind(now)
    .fetch_one(conn)
    .await
}
