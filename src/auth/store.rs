//! SQL for the secrets every server on one database shares.

use crate::db::Conn;

/// The secret called `name`: `candidate` when this is the first process to ask, else the one
/// stored by the first (replicas starting at once all end up with the same).
pub async fn shared_secret(
    conn: &mut Conn,
    name: &str,
    candidate: &str,
) -> Result<String, sqlx::Error> {
    crate::db::query(
        "insert into instance_secrets (name, secret) values (?, ?) on conflict (name) do nothing",
    )
    .bind(name)
    .bind(candidate)
    .execute(&mut *conn)
    .await?;
    crate::db::query_scalar("select secret from instance_secrets where name = ?")
        .bind(name)
        .fetch_one(conn)
        .await
}
