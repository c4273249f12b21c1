//! Extractors: the signed-in user of a browser session, the user behind an admin token, and the
//! project named in the path with what they may do in it. Each establishes an [`Identity`] once
//! per request; the decisions are `crate::authz`'s.

use super::RequestId;
use crate::accounts::store as accounts;
use crate::audit::{Actor, ActorKind};
use crate::auth::tokens::{self, TokenKind};
use crate::auth::{session, token_store};
use crate::authz::{Identity, ProjectAccess};
use crate::clock::stamp;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

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
        let Some(su) = session::signed_in(&session).await? else {
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
        let row = token_store::admin_candidate(&mut conn, &tokens::hash_secret(presented)).await?;
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
        token_store::touch(&mut conn, row.id, row.last_used_at.as_deref(), now).await;
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

/// The project named in the path, and what the asker (a session on web pages, an admin token on
/// API paths) may do in it.
impl<S> FromRequestParts<S> for ProjectAccess
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let identity = if super::is_api_path(parts.uri.path()) {
            AdminToken::from_request_parts(parts, state).await?.0
        } else {
            CurrentUser::from_request_parts(parts, state).await?.0
        };
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::bad_request("bad-path", "the address is not valid"))?;
        let key = params.get("project").cloned().unwrap_or_default();
        let app = AppState::from_ref(state);
        let mut conn = app.db.acquire().await?;
        ProjectAccess::load(&mut conn, identity, &key).await
    }
}

/// The client's address, as [`crate::auth::client_address::TrustedProxies::client`] finds it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddress
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let app = AppState::from_ref(state);
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("the connection's address is unknown"))
            })?;
        let client = app
            .settings
            .trusted_proxies
            .client(peer.ip(), &parts.headers);
        Ok(ClientAddress(client))
    }
}
