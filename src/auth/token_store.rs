//! API tokens in the database: created (secret shown once), listed, revoked — each audited.

use super::tokens::{self, TokenKind};
use crate::audit::{self, Actor, NewEntry};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub display_prefix: String,
    pub environment: Option<String>,
    pub user: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

pub struct NewToken<'a> {
    pub kind: TokenKind,
    pub name: &'a str,
    pub environment: Option<&'a Environment>,
    /// Admin tokens act as this user.
    pub user: Option<(i64, &'a str)>,
}

pub struct Created {
    pub secret: String,
    pub info: TokenInfo,
}

pub fn check_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err("give the token a name of 1 to 100 characters".into());
    }
    Ok(n.to_string())
}

/// Creates a token in `project`, or (admin tokens only, with `project` None) an instance-wide
/// one.
pub async fn create(
    conn: &mut Conn,
    actor: &Actor,
    project: Option<&Project>,
    t: NewToken<'_>,
    now: DateTime<Utc>,
) -> AppResult<Created> {
    let name = check_name(t.name).map_err(|m| AppError::invalid("name", m))?;
    match (t.kind, t.environment, t.user) {
        (TokenKind::Admin, _, None) => {
            return Err(AppError::invalid(
                "user",
                "an admin token acts as a user; name one",
            ))
        }
        (TokenKind::Client | TokenKind::Frontend, _, _) if project.is_none() => {
            return Err(AppError::invalid(
                "project",
                "client and frontend tokens read one project's environment; choose it",
            ))
        }
        (TokenKind::Client | TokenKind::Frontend, None, _) => {
            return Err(AppError::invalid(
                "environment",
                "client and frontend tokens read one environment; choose it",
            ))
        }
        _ => {}
    }
    // An admin token carries its user's powers: only admins may mint one for someone else.
    if let Some((uid, _)) = t.user {
        let for_self = actor.user_id == Some(uid);
        if !for_self && !actor.is_admin {
            return Err(AppError::forbidden(
                "you may only create admin tokens that act as yourself",
            ));
        }
    }
    let env_key = t.environment.map(|e| e.key.as_str());
    let secret = tokens::generate(t.kind, project.map_or("*", |p| p.key.as_str()), env_key);
    let id: i64 = crate::db::query_scalar(
        "insert into api_tokens (secret_hash, display_prefix, kind, project_id, environment_id, user_id, \
         name, created_by, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(&secret.hash)
    .bind(&secret.display_prefix)
    .bind(t.kind.as_str())
    .bind(project.map(|p| p.id))
    .bind(t.environment.map(|e| e.id))
    .bind(t.user.map(|u| u.0))
    .bind(&name)
    .bind(&actor.label)
    .bind(stamp(now))
    .fetch_one(&mut *conn)
    .await?;
    let info = by_id_anywhere(&mut *conn, id).await?;
    let mut entry = NewEntry::new(
        audit::Action::TokenCreated,
        format!("{} token {:?}", t.kind.as_str(), name),
    )
    .after(serde_json::json!({
        "name": name, "kind": t.kind.as_str(), "environment": env_key,
        "user": t.user.map(|u| u.1), "prefix": info.display_prefix,
        "instanceWide": project.is_none(),
    }));
    if let Some(p) = project {
        entry = entry.project(&p.key);
    }
    audit::append(&mut *conn, actor, entry, now).await?;
    Ok(Created {
        secret: secret.secret,
        info,
    })
}

const SELECT: &str = "select t.id, t.name, t.kind, t.display_prefix, e.key as environment, \
     u.email as user, t.created_by, t.created_at, t.last_used_at, t.revoked_at from api_tokens t \
     left join environments e on e.id = t.environment_id left join users u on u.id = t.user_id";

pub async fn by_id(conn: &mut Conn, project: &Project, id: i64) -> AppResult<TokenInfo> {
    crate::db::query_as(&format!("{SELECT} where t.project_id = ? and t.id = ?"))
        .bind(project.id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::not_found("there is no such token in this project"))
}

async fn by_id_anywhere(conn: &mut Conn, id: i64) -> AppResult<TokenInfo> {
    Ok(crate::db::query_as(&format!("{SELECT} where t.id = ?"))
        .bind(id)
        .fetch_one(conn)
        .await?)
}

pub async fn list(conn: &mut Conn, project: &Project) -> AppResult<Vec<TokenInfo>> {
    Ok(crate::db::query_as(&format!(
        "{SELECT} where t.project_id = ? order by t.revoked_at is not null, t.created_at desc"
    ))
    .bind(project.id)
    .fetch_all(conn)
    .await?)
}

pub async fn revoke(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<TokenInfo> {
    let info = by_id(&mut *conn, project, id).await?;
    if info.revoked_at.is_some() {
        return Err(AppError::conflict(
            "token-revoked",
            "this token is already revoked",
        ));
    }
    crate::db::query("update api_tokens set revoked_at = ? where id = ?")
        .bind(stamp(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(audit::Action::TokenRevoked, format!("{} token {:?}", info.kind, info.name))
            .project(&project.key)
            .before(serde_json::json!({ "name": info.name, "prefix": info.display_prefix, "revoked": false }))
            .after(serde_json::json!({ "revoked": true })),
        now,
    )
    .await?;
    by_id(conn, project, id).await
}

/// A token row an admin request presents, found by the hash of its secret (revoked ones are
/// not found).
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// None for an instance-wide admin token.
    pub project_id: Option<i64>,
    pub user_id: Option<i64>,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

pub async fn admin_candidate(
    conn: &mut Conn,
    secret_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, name, kind, project_id, user_id, expires_at, last_used_at from api_tokens \
         where secret_hash = ? and revoked_at is null",
    )
    .bind(secret_hash)
    .fetch_optional(conn)
    .await
}

/// Records when a token was last used.
pub async fn set_last_used(conn: &mut Conn, id: i64, at: &str) -> Result<(), sqlx::Error> {
    crate::db::query("update api_tokens set last_used_at = ? where id = ?")
        .bind(at)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records last use at most once a minute, so reads don't all become writes.
pub async fn touch(
    conn: &mut crate::db::Conn,
    id: i64,
    last: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let stale = last
        .and_then(crate::clock::parse_stamp)
        .is_none_or(|t| now - t > chrono::Duration::seconds(60));
    if stale {
        if let Err(e) = set_last_used(conn, id, &stamp(now)).await {
            tracing::debug!(error = %e, "could not record token use");
        }
    }
}
