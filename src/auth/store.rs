//! SQL for what every server on one database shares: secrets, the password guesses the
//! throttles count, and the first-admin setup links servers printed.

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

/// Forgets `throttle`'s attempts of `key` made at or before `cutoff` (out of the window).
pub async fn forget_attempts(
    conn: &mut Conn,
    throttle: &str,
    key: &str,
    cutoff: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from throttle_attempts where throttle = ? and key = ? and at <= ?")
        .bind(throttle)
        .bind(key)
        .bind(cutoff)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Forgets every attempt of `throttle` made at or before `cutoff`, whatever its key.
pub async fn forget_all_attempts(
    conn: &mut Conn,
    throttle: &str,
    cutoff: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from throttle_attempts where throttle = ? and at <= ?")
        .bind(throttle)
        .bind(cutoff)
        .execute(conn)
        .await
        .map(|_| ())
}

/// How many attempts of `key` the throttle holds, and when the oldest was made.
pub async fn attempts(
    conn: &mut Conn,
    throttle: &str,
    key: &str,
) -> Result<(i64, Option<String>), sqlx::Error> {
    crate::db::query_as(
        "select count(*), min(at) from throttle_attempts where throttle = ? and key = ?",
    )
    .bind(throttle)
    .bind(key)
    .fetch_one(conn)
    .await
}

/// Records an attempt; its id, to give it back.
pub async fn add_attempt(
    conn: &mut Conn,
    throttle: &str,
    key: &str,
    at: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into throttle_attempts (throttle, key, at) values (?, ?, ?) returning id",
    )
    .bind(throttle)
    .bind(key)
    .bind(at)
    .fetch_one(conn)
    .await
}

pub async fn remove_attempt(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    crate::db::query("delete from throttle_attempts where id = ?")
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Forgets every attempt of `key` (a right password ends an account's streak).
pub async fn clear_attempts(conn: &mut Conn, throttle: &str, key: &str) -> Result<(), sqlx::Error> {
    crate::db::query("delete from throttle_attempts where throttle = ? and key = ?")
        .bind(throttle)
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Keeps the hash of a first-admin setup token this server printed.
pub async fn add_setup_token(conn: &mut Conn, hash: &str, at: &str) -> Result<(), sqlx::Error> {
    crate::db::query("insert into setup_tokens (hash, created_at) values (?, ?)")
        .bind(hash)
        .bind(at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether a setup token with this hash was printed by any server and no user exists yet.
pub async fn setup_token_valid(conn: &mut Conn, hash: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = crate::db::query_scalar(
        "select count(*) from setup_tokens where hash = ? and not exists (select 1 from users)",
    )
    .bind(hash)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Forgets every setup token: the first admin exists, so no printed link may work again.
pub async fn forget_setup_tokens(conn: &mut Conn) -> Result<(), sqlx::Error> {
    crate::db::query("delete from setup_tokens")
        .execute(conn)
        .await
        .map(|_| ())
}
