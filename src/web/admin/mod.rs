//! People and teams, for admins: create users, (de)activate them, reset passwords, grant admin;
//! create teams and manage their members. Every change is audited in its own transaction.

mod teams;
mod users;

use super::see_other;
use crate::accounts::User;
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { see_other("/admin/users") }))
        .route(
            "/admin/users",
            get(users::list_users).post(users::create_user),
        )
        .route("/admin/users/{id}", get(users::show_user))
        .route("/admin/users/{id}/deactivate", post(users::deactivate_user))
        .route("/admin/users/{id}/activate", post(users::activate_user))
        .route("/admin/users/{id}/password", post(users::reset_password))
        .route("/admin/users/{id}/admin", post(users::set_admin))
        .route(
            "/admin/teams",
            get(teams::list_teams).post(teams::create_team),
        )
        .route("/admin/teams/{key}", get(teams::show_team))
        .route("/admin/teams/{key}/members", post(teams::add_member))
        .route(
            "/admin/teams/{key}/members/{user_id}/remove",
            post(teams::remove_member),
        )
}

/// A user as the pages show one.
struct UserRow {
    id: i64,
    email: String,
    name: String,
    is_admin: bool,
    active: bool,
    created: String,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
        UserRow {
            created: u.created_at.get(..10).unwrap_or(&u.created_at).to_string(),
            id: u.id,
            email: u.email,
            name: u.name,
            is_admin: u.is_admin,
            active: u.active,
        }
    }
}
