//! SQL for users and teams.

use super::{Team, User};
use crate::clock::stamp;
use crate::db::Conn;
use chrono::{DateTime, Utc};

const USER_COLUMNS: &str =
    "id, email, name, password_hash, is_admin, active, session_version, created_at";

pub async fn user_count(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar("select count(*) from users")
        .fetch_one(conn)
        .await
}

pub async fn user_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, sqlx::Error> {
    crate::db::query_as(&format!("select {USER_COLUMNS} from users where email = ?"))
        .bind(email)
        .fetch_optional(conn)
        .await
}

pub async fn user_by_id(conn: &mut Conn, id: i64) -> Result<Option<User>, sqlx::Error> {
    crate::db::query_as(&format!("select {USER_COLUMNS} from users where id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn all_users(conn: &mut Conn) -> Result<Vec<User>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {USER_COLUMNS} from users order by active desc, name, email"
    ))
    .fetch_all(conn)
    .await
}

pub async fn insert_user(
    conn: &mut Conn,
    email: &str,
    name: &str,
    password_hash: &str,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<User, sqlx::Error> {
    let now = stamp(now);
    crate::db::query_as(&format!(
        "insert into users (email, name, password_hash, is_admin, created_at, updated_at) \
         values (?, ?, ?, ?, ?, ?) returning {USER_COLUMNS}"
    ))
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(is_admin)
    .bind(&now)
    .bind(&now)
    .fetch_one(conn)
    .await
}

/// Setting a password ends every other session of the user.
pub async fn set_password(
    conn: &mut Conn,
    id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update users set password_hash = ?, session_version = session_version + 1, updated_at = ? \
         where id = ?",
    )
    .bind(password_hash)
    .bind(stamp(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deactivating ends the user's sessions at once (their session version no longer matches).
pub async fn set_active(
    conn: &mut Conn,
    id: i64,
    active: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update users set active = ?, session_version = session_version + 1, updated_at = ? where id = ?",
    )
    .bind(active)
    .bind(stamp(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_admin(
    conn: &mut Conn,
    id: i64,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    crate::db::query("update users set is_admin = ?, updated_at = ? where id = ?")
        .bind(is_admin)
        .bind(stamp(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn all_teams(conn: &mut Conn) -> Result<Vec<Team>, sqlx::Error> {
    crate::db::query_as(
        "select t.id, t.key, t.name, (select count(*) from team_members m where m.team_id = t.id) as members \
         from teams t order by t.name",
    )
    .fetch_all(conn)
    .await
}

pub async fn team_by_key(conn: &mut Conn, key: &str) -> Result<Option<Team>, sqlx::Error> {
    crate::db::query_as(
        "select t.id, t.key, t.name, (select count(*) from team_members m where m.team_id = t.id) as members \
         from teams t where t.key = ?",
    )
    .bind(key)
    .fetch_optional(conn)
    .await
}

pub async fn insert_team(
    conn: &mut Conn,
    key: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into teams (key, name, created_at) values (?, ?, ?) returning id",
    )
    .bind(key)
    .bind(name)
    .bind(stamp(now))
    .fetch_one(conn)
    .await
}

pub async fn team_members(conn: &mut Conn, team_id: i64) -> Result<Vec<User>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {} from users u join team_members m on m.user_id = u.id where m.team_id = ? order by u.name",
        USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(team_id)
    .fetch_all(conn)
    .await
}

pub async fn add_team_member(
    conn: &mut Conn,
    team_id: i64,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let r = crate::db::query(
        "insert into team_members (team_id, user_id) values (?, ?) on conflict do nothing",
    )
    .bind(team_id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn remove_team_member(
    conn: &mut Conn,
    team_id: i64,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let r = crate::db::query("delete from team_members where team_id = ? and user_id = ?")
        .bind(team_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The teams a user belongs to, with member counts.
pub async fn teams_of(conn: &mut Conn, user_id: i64) -> Result<Vec<Team>, sqlx::Error> {
    crate::db::query_as(
        "select t.id, t.key, t.name, (select count(*) from team_members m where m.team_id = t.id) as members \
         from teams t join team_members tm on tm.team_id = t.id where tm.user_id = ? order by t.name",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}
