//! Projects, their environments (ordered, some protected) and their members' roles.

pub mod service;
pub mod store;

use crate::authz::Role;
use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[serde(skip)]
    pub id: i64,
    pub key: String,
    pub name: String,
    pub description: String,
    pub key_pattern: Option<String>,
    pub key_example: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub project_id: i64,
    pub key: String,
    pub name: String,
    pub sort_order: i64,
    pub protected: bool,
    pub required_approvals: i64,
    /// The production environment: only admins set its protection.
    pub production: bool,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

/// The key of the production environment every new project starts with.
pub const PRODUCTION: &str = "production";

/// The environments every new project starts with; production is protected.
pub const DEFAULT_ENVIRONMENTS: [(&str, &str, bool); 3] = [
    ("development", "Development", false),
    ("staging", "Staging", false),
    ("production", "Production", true),
];

/// Project and environment keys appear in URLs and token scopes: keep them plain.
pub fn valid_key(key: &str) -> Result<String, String> {
    let k = key.trim();
    let ok = !k.is_empty()
        && k.len() <= 50
        && k.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(k.to_string())
    } else {
        Err(
            "use 1 to 50 lower-case letters, digits, '-' or '_', starting with a letter or digit"
                .into(),
        )
    }
}

pub fn valid_project_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err("enter a name of 1 to 100 characters".into());
    }
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_plain() {
        assert!(valid_key("web-shop_2").is_ok());
        for bad in ["", "Web", "a b", "a/b", "-x", &"a".repeat(51), "ü"] {
            assert!(valid_key(bad).is_err(), "{bad}");
        }
    }
}
