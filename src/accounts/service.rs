//! Changes to people and teams, each with its audit entry, inside the caller's transaction.
//! Passwords arrive already hashed (hashing runs off the async workers) and never reach the log.

use super::{normalise_email, store, valid_name, valid_team_key, Team, User};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::password;
use crate::db::Conn;
use crate::error::{AppError, AppResult, FieldError};
use chrono::{DateTime, Utc};
use serde_json::json;

/// What the new-user form asks for, checked before the (slow) password hashing.
pub struct NewUser {
    pub email: String,
    pub name: String,
}

pub fn check_new_user(email: &str, name: &str, pass: &str) -> Result<NewUser, AppError> {
    let mut errors = Vec::new();
    let email_ok = normalise_email(email).map_err(|m| field(&mut errors, "email", m));
    let name_ok = valid_name(name).map_err(|m| field(&mut errors, "name", m));
    if let Err(m) = password::check_policy(pass, &[email, name]) {
        field(&mut errors, "password", m);
    }
    match (email_ok, name_ok) {
        (Ok(email), Ok(name)) if errors.is_empty() => Ok(NewUser { email, name }),
        _ => Err(AppError::Invalid(errors)),
    }
}

fn field(errors: &mut Vec<FieldError>, field: &'static str, message: String) {
    errors.push(FieldError { field, message });
}

pub async fn create_user(
    conn: &mut Conn,
    actor: &Actor,
    new: &NewUser,
    password_hash: &str,
    is_admin: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    if store::user_by_email(&mut *conn, &new.email)
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "email",
            "a user with this e-mail already exists",
        ));
    }
    let user = store::insert_user(
        &mut *conn,
        &new.email,
        &new.name,
        password_hash,
        is_admin,
        now,
    )
    .await?;
    let entry = NewEntry::new(audit::Action::UserCreated, format!("user {}", user.email))
        .after(json!({"email": user.email, "name": user.name, "admin": is_admin}));
    audit::append(conn, actor, entry, now).await?;
    Ok(user)
}

async fn user(conn: &mut Conn, id: i64) -> AppResult<User> {
    store::user_by_id(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))
}

/// Sets a new password and ends the user's sessions; returns the new session version, so the
/// session that made the change can carry on.
pub async fn set_password(
    conn: &mut Conn,
    actor: &Actor,
    user_id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let target = user(&mut *conn, user_id).await?;
    store::set_password(&mut *conn, user_id, password_hash, now).await?;
    let action = if actor.user_id == Some(user_id) {
        audit::Action::UserPasswordChanged
    } else {
        audit::Action::UserPasswordReset
    };
    let entry = NewEntry::new(action, format!("user {}", target.email))
        .after(json!({"sessionsEnded": true}));
    audit::append(&mut *conn, actor, entry, now).await?;
    Ok(user(conn, user_id).await?.session_version)
}

/// Deactivation ends the user's sessions at once; nobody can lock themselves out.
pub async fn set_active(
    conn: &mut Conn,
    actor: &Actor,
    user_id: i64,
    active: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    let target = user(&mut *conn, user_id).await?;
    if !active && actor.user_id == Some(user_id) {
        return Err(AppError::conflict(
            "cannot-deactivate-self",
            "you cannot deactivate your own account",
        ));
    }
    store::set_active(&mut *conn, user_id, active, now).await?;
    let action = if active {
        audit::Action::UserActivated
    } else {
        audit::Action::UserDeactivated
    };
    let entry = NewEntry::new(action, format!("user {}", target.email))
        .before(json!({"active": target.active}))
        .after(json!({"active": active}));
    audit::append(conn, actor, entry, now).await?;
    Ok(target)
}

/// Grants or revokes admin rights; an admin cannot revoke their own.
pub async fn set_admin(
    conn: &mut Conn,
    actor: &Actor,
    user_id: i64,
    is_admin: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    let target = user(&mut *conn, user_id).await?;
    if !is_admin && actor.user_id == Some(user_id) {
        return Err(AppError::conflict(
            "cannot-revoke-own-admin",
            "you cannot remove your own admin rights; ask another admin",
        ));
    }
    store::set_admin(&mut *conn, user_id, is_admin, now).await?;
    let action = if is_admin {
        audit::Action::UserAdminGranted
    } else {
        audit::Action::UserAdminRevoked
    };
    let entry = NewEntry::new(action, format!("user {}", target.email))
        .before(json!({"admin": target.is_admin}))
        .after(json!({"admin": is_admin}));
    audit::append(conn, actor, entry, now).await?;
    Ok(target)
}

pub async fn create_team(
    conn: &mut Conn,
    actor: &Actor,
    key: &str,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let mut errors = Vec::new();
    let key = valid_team_key(key).map_err(|m| field(&mut errors, "key", m));
    let name = valid_name(name).map_err(|m| field(&mut errors, "name", m));
    let (Ok(key), Ok(name)) = (key, name) else {
        return Err(AppError::Invalid(errors));
    };
    if store::team_by_key(&mut *conn, &key).await?.is_some() {
        return Err(AppError::invalid(
            "key",
            "a team with this key already exists",
        ));
    }
    store::insert_team(&mut *conn, &key, &name, now).await?;
    let entry = NewEntry::new(audit::Action::TeamCreated, format!("team {key}"))
        .after(json!({"key": key, "name": name}));
    audit::append(conn, actor, entry, now).await?;
    Ok(key)
}

pub async fn team(conn: &mut Conn, key: &str) -> AppResult<Team> {
    store::team_by_key(conn, key)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no team {key}")))
}

pub async fn add_team_member(
    conn: &mut Conn,
    actor: &Actor,
    team_key: &str,
    email: &str,
    now: DateTime<Utc>,
) -> AppResult<User> {
    let team = team(&mut *conn, team_key).await?;
    let email = normalise_email(email).map_err(|m| AppError::invalid("email", m))?;
    let Some(member) = store::user_by_email(&mut *conn, &email).await? else {
        return Err(AppError::invalid(
            "email",
            "no user has this e-mail address",
        ));
    };
    if !store::add_team_member(&mut *conn, team.id, member.id).await? {
        return Err(AppError::invalid("email", "already a member of this team"));
    }
    let entry = NewEntry::new(audit::Action::TeamMemberAdded, format!("team {}", team.key))
        .after(json!({"member": member.email}));
    audit::append(conn, actor, entry, now).await?;
    Ok(member)
}

pub async fn remove_team_member(
    conn: &mut Conn,
    actor: &Actor,
    team_key: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<User> {
    let team = team(&mut *conn, team_key).await?;
    let member = user(&mut *conn, user_id).await?;
    if !store::remove_team_member(&mut *conn, team.id, user_id).await? {
        return Err(AppError::not_found(format!(
            "{} is not a member of team {}",
            member.email, team.key
        )));
    }
    let entry = NewEntry::new(
        audit::Action::TeamMemberRemoved,
        format!("team {}", team.key),
    )
    .before(json!({"member": member.email}));
    audit::append(conn, actor, entry, now).await?;
    Ok(member)
}
