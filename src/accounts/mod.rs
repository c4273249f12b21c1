//! People and teams: accounts with passwords, activation, and named groups that can own flags.

pub mod service;
pub mod store;

use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub is_admin: bool,
    pub active: bool,
    #[serde(skip)]
    pub session_version: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Team {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub members: i64,
}

/// E-mails compare case-insensitively; stored lower-cased and trimmed.
pub fn normalise_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err("enter an e-mail address like name@example.com".into())
    }
}

pub fn valid_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err("enter a name of 1 to 100 characters".into());
    }
    Ok(n.to_string())
}

/// Team keys are short identifiers used in owner fields (`team:payments`).
pub fn valid_team_key(key: &str) -> Result<String, String> {
    let k = key.trim();
    let ok = !k.is_empty()
        && k.len() <= 50
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(k.to_string())
    } else {
        Err("use 1 to 50 letters, digits, '-' or '_'".into())
    }
}
