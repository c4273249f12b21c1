//! SQL of the catalog: the flag and environment-state rows here; reads of flags in `flags`,
//! writes in `writes`, tags and links in `tags`, the filtered catalog page in `search`.

mod flags;
mod search;
mod tags;
mod writes;

pub use flags::*;
pub use search::*;
pub use tags::*;
pub use writes::*;

use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub project_id: i64,
    pub key: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub flag_type: String,
    pub value_type: String,
    #[serde(skip)]
    pub owner_user_id: Option<i64>,
    #[serde(skip)]
    pub owner_team_id: Option<i64>,
    /// `email` of the owning user or `team:key`.
    pub owner: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
    pub version: i64,
    /// When it was first switched on anywhere (its stage is `initial` until then).
    #[serde(skip)]
    pub first_enabled_at: Option<String>,
    /// An owner marked it completed.
    #[serde(skip)]
    pub completed: bool,
}

impl FlagRow {
    /// Its lifecycle stage, from its marks and its environments' (on, protected).
    pub fn stage(&self, environments: &[(bool, bool)]) -> crate::lifecycle::Stage {
        crate::lifecycle::stage::current(crate::lifecycle::stage::Now {
            archived: self.archived_at.is_some(),
            completed: self.completed,
            ever_on: self.first_enabled_at.is_some(),
            environments,
        })
    }
}

const FLAG_SELECT: &str = "select f.id, f.project_id, f.key, f.name, f.description, f.flag_type, \
     f.value_type, f.owner_user_id, f.owner_team_id, \
     coalesce(ou.email, 'team:' || ot.key) as owner, \
     f.created_by, f.created_at, f.updated_at, f.archived_at, f.version, f.first_enabled_at, \
     exists (select 1 from flag_completions c where c.flag_id = f.id) as completed \
     from flags f left join users ou on ou.id = f.owner_user_id \
     left join teams ot on ot.id = f.owner_team_id";

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvState {
    #[serde(skip)]
    pub flag_id: i64,
    #[serde(rename = "environment")]
    pub env_key: String,
    #[serde(skip)]
    pub env_name: String,
    #[serde(skip)]
    pub environment_id: i64,
    pub protected: bool,
    pub enabled: bool,
    pub version: i64,
    pub updated_at: String,
    #[serde(skip)]
    pub strategies: String,
    /// Switched off by the emergency kill (and not switched since).
    pub killed: bool,
    #[serde(skip)]
    pub variants: String,
}

impl EnvState {
    /// (on, protected) as the lifecycle stage reads it: a killed environment still counts as on,
    /// since a kill is an emergency stop, not a retreat from production.
    pub fn stage_pair(&self) -> (bool, bool) {
        (self.enabled || self.killed, self.protected)
    }
}
