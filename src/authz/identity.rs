//! Who is asking: a person, signed in or through an admin token, as the policy sees them.

use crate::accounts::User;
use crate::audit::Actor;

/// Who is asking, established once per request by the transport (session or token).
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: User,
    pub actor: Actor,
    /// For project-scoped admin tokens: the only project the token may touch (None for a
    /// browser session or an instance-wide token).
    pub token_project_id: Option<i64>,
}
