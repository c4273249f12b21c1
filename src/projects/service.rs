//! Project operations with their audit entries, inside the caller's transaction.

use super::{store, valid_key, valid_project_name, Environment, Project};
use crate::accounts::store as accounts;
use crate::audit::{self, Actor, NewEntry};
use crate::authz::Role;
use crate::catalog::flag;
use crate::db::Conn;
use crate::error::{AppError, AppResult, FieldError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub async fn project(conn: &mut Conn, key: &str) -> AppResult<Project> {
    store::project_by_key(conn, key)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no project {key:?}")))
}

pub async fn environment(conn: &mut Conn, project: &Project, key: &str) -> AppResult<Environment> {
    store::environment(conn, project.id, key)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "the project {} has no environment {key:?}",
                project.key
            ))
        })
}

/// A project's health: how many of its active flags are past their expected lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    pub active: i64,
    pub stale: i64,
}

impl Health {
    /// The share of active flags not stale, in whole percent; None without active flags.
    pub fn percent(self) -> Option<i64> {
        (self.active > 0).then(|| (self.active - self.stale) * 100 / self.active)
    }
}

/// Health per project key (projects without flags are absent): stale as the lifecycle
/// assessment last found it. Callers keep the projects the caller's `authz::Reach` holds.
pub async fn health(conn: &mut Conn) -> AppResult<HashMap<String, Health>> {
    Ok(store::health_counts(conn)
        .await?
        .into_iter()
        .map(|(project, active, stale)| (project, Health { active, stale }))
        .collect())
}

/// Creates a project with the default environments; the creator (a person) becomes its owner.
pub async fn create(
    conn: &mut Conn,
    actor: &Actor,
    key: &str,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> AppResult<Project> {
    let mut errors = Vec::new();
    let key = valid_key(key).map_err(|m| {
        errors.push(FieldError {
            field: "key",
            message: m,
        })
    });
    let name = if name.trim().is_empty() {
        key.clone().unwrap_or_default()
    } else {
        name.to_string()
    };
    let name = valid_project_name(&name).map_err(|m| {
        errors.push(FieldError {
            field: "name",
            message: m,
        })
    });
    let description = flag::check_description(description).map_err(|m| {
        errors.push(FieldError {
            field: "description",
            message: m,
        })
    });
    let (Ok(key), Ok(name), Ok(description)) = (key, name, description) else {
        return Err(AppError::Invalid(errors));
    };
    let Some(project) = store::insert_project(&mut *conn, &key, &name, &description, now).await?
    else {
        return Err(AppError::Invalid(vec![FieldError {
            field: "key",
            message: format!("a project with the key {key:?} already exists"),
        }]));
    };
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(audit::Action::ProjectCreated, format!("project {key}"))
            .project(&key)
            .after(serde_json::json!({"key": key, "name": name, "description": description,
                "environments": super::DEFAULT_ENVIRONMENTS.iter().map(|e| e.0).collect::<Vec<_>>()})),
        now,
    )
    .await?;
    if let Some(uid) = actor.user_id {
        set_member(&mut *conn, actor, &project, uid, Role::Owner, now).await?;
    }
    Ok(project)
}

pub async fn set_member(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    user_id: i64,
    role: Role,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let user = accounts::user_by_id(&mut *conn, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("there is no such user"))?;
    let before = store::set_member(&mut *conn, project.id, user_id, role, now).await?;
    if before == Some(role) {
        return Ok(());
    }
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::MemberRoleSet,
            format!("{} in project {}", user.email, project.key),
        )
        .project(&project.key)
        .before(before.map(|r| serde_json::json!({"user": user.email, "role": r})))
        .after(serde_json::json!({"user": user.email, "role": role})),
        now,
    )
    .await?;
    Ok(())
}

pub async fn add_member_by_email(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    email: &str,
    role: Role,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let email = email.trim().to_lowercase();
    let user = accounts::user_by_email(&mut *conn, &email)
        .await?
        .ok_or_else(|| AppError::invalid("email", format!("no user has the e-mail {email}")))?;
    set_member(conn, actor, project, user.id, role, now).await
}

pub async fn remove_member(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let user = accounts::user_by_id(&mut *conn, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("there is no such user"))?;
    let Some(before) = store::remove_member(&mut *conn, project.id, user_id).await? else {
        return Err(AppError::not_found(format!(
            "{} is not a member",
            user.email
        )));
    };
    let owners_left = store::members(&mut *conn, project.id)
        .await?
        .iter()
        .any(|m| m.role == Role::Owner);
    if !owners_left {
        return Err(AppError::conflict(
            "last-owner",
            "a project keeps at least one owner; make someone else owner first",
        ));
    }
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::MemberRemoved,
            format!("{} from project {}", user.email, project.key),
        )
        .project(&project.key)
        .before(serde_json::json!({"user": user.email, "role": before})),
        now,
    )
    .await?;
    Ok(())
}

pub async fn add_environment(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    name: &str,
    protected: bool,
    now: DateTime<Utc>,
) -> AppResult<Environment> {
    let key = valid_key(key).map_err(|m| AppError::invalid("key", m))?;
    let name = if name.trim().is_empty() {
        key.clone()
    } else {
        name.trim().to_string()
    };
    let name = valid_project_name(&name).map_err(|m| AppError::invalid("name", m))?;
    let order = store::next_sort_order(&mut *conn, project.id).await?;
    let env = store::insert_environment(&mut *conn, project.id, &key, &name, order, protected, now)
        .await?
        .ok_or_else(|| {
            AppError::invalid("key", format!("the environment {key:?} already exists"))
        })?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::EnvironmentCreated,
            format!("environment {} in project {}", key, project.key),
        )
        .project(&project.key)
        .environment(&key)
        .after(serde_json::json!({"key": key, "name": name, "protected": protected})),
        now,
    )
    .await?;
    Ok(env)
}

pub async fn set_protection(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    protected: bool,
    required_approvals: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if !(1..=5).contains(&required_approvals) {
        return Err(AppError::invalid(
            "requiredApprovals",
            "a change needs 1 to 5 approvals",
        ));
    }
    store::set_protection(&mut *conn, env.id, protected, required_approvals).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(audit::Action::EnvironmentProtectionSet, format!("environment {} in project {}", env.key, project.key))
            .project(&project.key)
            .environment(&env.key)
            .before(serde_json::json!({"protected": env.protected, "requiredApprovals": env.required_approvals}))
            .after(serde_json::json!({"protected": protected, "requiredApprovals": required_approvals})),
        now,
    )
    .await?;
    Ok(())
}

pub struct Settings<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub key_pattern: &'a str,
    pub key_example: &'a str,
}

pub async fn update_settings(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    s: Settings<'_>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut errors = Vec::new();
    let name = valid_project_name(s.name).map_err(|m| {
        errors.push(FieldError {
            field: "name",
            message: m,
        })
    });
    let description = flag::check_description(s.description).map_err(|m| {
        errors.push(FieldError {
            field: "description",
            message: m,
        })
    });
    let pattern = s.key_pattern.trim();
    let example = s.key_example.trim();
    if !pattern.is_empty() {
        if let Err(m) = flag::check_pattern(pattern, Some(example)) {
            errors.push(FieldError {
                field: "keyPattern",
                message: m,
            });
        }
    }
    let (Ok(name), Ok(description)) = (name, description) else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    store::update_settings(
        &mut *conn,
        project.id,
        &name,
        &description,
        opt(pattern).as_deref(),
        opt(example).as_deref(),
    )
    .await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::ProjectUpdated,
            format!("project {}", project.key),
        )
        .project(&project.key)
        .before(
            serde_json::json!({"name": project.name, "description": project.description,
                "keyPattern": project.key_pattern, "keyExample": project.key_example}),
        )
        .after(serde_json::json!({"name": name, "description": description,
                "keyPattern": opt(pattern), "keyExample": opt(example)})),
        now,
    )
    .await?;
    Ok(())
}
