//! Extractors: the signed-in user of a browser session, and the user behind an admin token.
//! Each puts an [`Identity`] in the request so that [`crate::authz::ProjectAccess`] can decide.

use super::session;
use super::tokens::{self, TokenKind};
use crate::accounts::{store as accounts, User};
use crate::app::AppState;
use crate::audit::{Actor, ActorKind};
use crate::clock::stamp;
use crate::error::AppError;
use crate::http::RequestId;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tower_sessions::Session;

/// Who is asking, established once per request.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: User,
    pub actor: Actor,
    /// For project-scoped admin tokens: the only project the token may touch (None for a
    /// browser session or an instance-wide token).
    pub token_project_id: Option<i64>,
}

/// The signed-in user of a browser session.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Identity);

/// The user behind an admin API token.
#[derive(Clone, Debug)]
pub struct AdminToken(pub Identity);

fn request_id(parts: &Parts) -> Option<String> {
    parts.extensions.get::<RequestId>().map(|r| r.0.clone())
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if let Some(id) = parts.extensions.get::<Identity>() {
            return Ok(CurrentUser(id.clone()));
        }
        let app = AppState::from_ref(state);
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Unauthorized)?;
        let Some(su) = session::current(&session).await else {
            return Err(AppError::Unauthorized);
        };
        let now = app.now();
        let age = now.timestamp() - su.signed_in_at;
        if age < 0 || age as u64 > app.settings.session_absolute.as_secs() {
            session::sign_out(&session).await;
            return Err(AppError::Unauthorized);
        }
        let mut conn = app.db.acquire().await?;
        let user = accounts::user_by_id(&mut conn, su.user_id).await?;
        let Some(user) = user.filter(|u| u.active && u.session_version == su.version) else {
            session::sign_out(&session).await;
            return Err(AppError::Unauthorized);
        };
        session::keep_alive(&session, su, now.timestamp()).await;
        let actor =
            Actor::user(user.id, &user.email, user.is_admin).with_request_id(request_id(parts));
        let identity = Identity {
            user,
            actor,
            token_project_id: None,
        };
        parts.extensions.insert(identity.clone());
        Ok(CurrentUser(identity))
    }
}

/// The signed-in user, if any; pages like the login form use it.
pub struct MaybeUser(pub Option<Identity>);

impl<S> FromRequestParts<S> for MaybeUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match CurrentUser::from_request_parts(parts, state).await {
            Ok(CurrentUser(id)) => Ok(MaybeUser(Some(id))),
            Err(AppError::Unauthorized) => Ok(MaybeUser(None)),
            Err(e) => Err(e),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    kind: String,
    /// None for an instance-wide admin token.
    project_id: Option<i64>,
    user_id: Option<i64>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

impl<S> FromRequestParts<S> for AdminToken
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if let Some(id) = parts.extensions.get::<Identity>() {
            return Ok(AdminToken(id.clone()));
        }
        let app = AppState::from_ref(state);
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(tokens::from_authorization)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthorized)?;
        let mut conn = app.db.acquire().await?;
        let row: Option<TokenRow> = sqlx::query_as(
            "select id, name, kind, project_id, user_id, expires_at, last_used_at from api_tokens \
             where secret_hash = ? and revoked_at is null",
        )
        .bind(tokens::hash_secret(presented))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Err(AppError::Unauthorized);
        };
        if TokenKind::parse(&row.kind) != Some(TokenKind::Admin) {
            return Err(AppError::forbidden(
                "this is not an admin token; client and frontend tokens only read the feed",
            ));
        }
        let now = app.now();
        if row
            .expires_at
            .as_deref()
            .is_some_and(|e| e <= stamp(now).as_str())
        {
            return Err(AppError::Unauthorized);
        }
        let user = match row.user_id {
            Some(uid) => accounts::user_by_id(&mut conn, uid).await?,
            None => None,
        };
        let Some(user) = user.filter(|u| u.active) else {
            return Err(AppError::Unauthorized);
        };
        touch(&mut conn, row.id, row.last_used_at.as_deref(), now).await;
        let actor = Actor {
            kind: ActorKind::Token,
            user_id: Some(user.id),
            label: user.email.clone(),
            is_admin: user.is_admin,
            request_id: request_id(parts),
        };
        tracing::debug!(token = %row.name, "admin token accepted");
        let identity = Identity {
            user,
            actor,
            token_project_id: row.project_id,
        };
        parts.extensions.insert(identity.clone());
        Ok(AdminToken(identity))
    }
}

/// Records last use at most once a minute, so reads don't all become writes.
async fn touch(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    last: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let stale = last
        .and_then(crate::clock::parse_stamp)
        .is_none_or(|t| now - t > chrono::Duration::seconds(60));
    if stale {
        let r = sqlx::query("update api_tokens set last_used_at = ? where id = ?")
            .bind(stamp(now))
            .bind(id)
            .execute(conn)
            .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "could not record token use");
        }
    }
}
