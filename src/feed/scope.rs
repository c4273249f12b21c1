//! What a batch of audited changes touched, so the watcher re-reads only that: the audit log
//! names the project, environment and flag of every change, and each action says what it means
//! for the feed (`audit::Action::feed_effect`).

use crate::audit::{Action, FeedEffect};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Past this many flags, reading the whole environment is as cheap as picking them out.
const MAX_PICKED: usize = 500;

/// What changed in one project.
#[derive(Debug, Default)]
pub struct ProjectChange {
    pub project_id: i64,
    pub project_key: String,
    /// Something project-wide (segments, environments, the project itself): read everything.
    whole: bool,
    /// Environments where anything may have changed.
    environments: HashSet<String>,
    /// Flags that may have changed in every environment.
    flags: HashSet<String>,
    /// Flags that changed in one environment only.
    local: HashMap<String, HashSet<String>>,
}

/// What to read again for one environment.
#[derive(Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// These flags, sorted.
    Flags(Vec<String>),
}

impl ProjectChange {
    fn whole(project_id: i64, project_key: String) -> Self {
        Self {
            project_id,
            project_key,
            whole: true,
            ..Self::default()
        }
    }

    /// True when every environment of the project is read again, so environments that are
    /// not read any more have been deleted.
    pub fn is_whole(&self) -> bool {
        self.whole
    }

    /// Notes one audited change; an action this version does not know (written by a newer
    /// one) counts as changing whatever it names.
    fn record(
        &mut self,
        action: Option<Action>,
        environment: Option<String>,
        flag: Option<String>,
    ) {
        let effect = action.map_or(FeedEffect::Project, Action::feed_effect);
        match (effect, environment, flag) {
            (FeedEffect::Nothing, _, _) => {}
            (FeedEffect::FlagInEnvironment, Some(env), Some(flag)) => {
                self.local.entry(env).or_default().insert(flag);
            }
            (_, _, Some(flag)) => {
                self.flags.insert(flag);
            }
            (_, Some(env), None) => {
                self.environments.insert(env);
            }
            (_, None, None) => self.whole = true,
        }
    }

    /// What to read for `environment`, or None when nothing there changed.
    pub fn scope(&self, environment: &str) -> Option<Scope> {
        if self.whole || self.environments.contains(environment) {
            return Some(Scope::All);
        }
        let flags: BTreeSet<&String> = self
            .flags
            .iter()
            .chain(self.local.get(environment).into_iter().flatten())
            .collect();
        match flags.len() {
            0 => None,
            n if n > MAX_PICKED => Some(Scope::All),
            _ => Some(Scope::Flags(flags.into_iter().cloned().collect())),
        }
    }
}

/// Projects changed since audit entry `since` (every project, whole, when None).
pub async fn changed_since(
    conn: &mut crate::db::Conn,
    since: Option<i64>,
) -> sqlx::Result<Vec<ProjectChange>> {
    let Some(since) = since else {
        let all = crate::projects::store::all_projects(&mut *conn).await?;
        return Ok(all
            .into_iter()
            .map(|p| ProjectChange::whole(p.id, p.key))
            .collect());
    };
    let mut by_project: HashMap<i64, ProjectChange> = HashMap::new();
    for row in crate::audit::store::changes_since(&mut *conn, since).await? {
        let action = Action::parse(&row.action);
        // A project whose changes serve nothing new has nothing to rebuild.
        if action.is_some_and(|a| a.feed_effect() == FeedEffect::Nothing) {
            continue;
        }
        by_project
            .entry(row.project_id)
            .or_insert_with(|| ProjectChange {
                project_id: row.project_id,
                project_key: row.project_key,
                ..ProjectChange::default()
            })
            .record(action, row.environment_key, row.flag_key);
    }
    Ok(by_project.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(name: &str) -> Option<Action> {
        let action = Action::parse(name);
        assert!(action.is_some(), "{name}");
        action
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    fn flags(names: &[&str]) -> Option<Scope> {
        Some(Scope::Flags(names.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn a_switch_rereads_one_flag_in_one_environment() {
        let mut change = ProjectChange::default();
        change.record(act("flag.enabled"), some("production"), some("b"));
        change.record(
            act("flag.strategies-replaced"),
            some("production"),
            some("a"),
        );
        assert_eq!(change.scope("production"), flags(&["a", "b"]));
        assert_eq!(change.scope("staging"), None);
        assert!(!change.is_whole());
    }

    #[test]
    fn flag_wide_changes_reach_every_environment() {
        let mut change = ProjectChange::default();
        // An import may create the flag, which then exists everywhere.
        change.record(act("flag.imported"), some("development"), some("new"));
        change.record(act("flag.archived"), None, some("old"));
        change.record(act("flag.enabled"), some("staging"), some("x"));
        assert_eq!(change.scope("production"), flags(&["new", "old"]));
        assert_eq!(change.scope("staging"), flags(&["new", "old", "x"]));
    }

    #[test]
    fn environment_and_project_changes_reread_everything() {
        let mut change = ProjectChange::default();
        change.record(act("environment.created"), some("qa"), None);
        assert_eq!(change.scope("qa"), Some(Scope::All));
        assert_eq!(change.scope("production"), None);
        change.record(act("segment.updated"), None, None);
        assert_eq!(change.scope("production"), Some(Scope::All));
        assert!(change.is_whole());
    }

    #[test]
    fn many_flags_are_read_as_the_whole_environment() {
        let mut change = ProjectChange::default();
        for i in 0..=MAX_PICKED {
            change.record(
                act("flag.imported"),
                some("development"),
                Some(format!("f{i}")),
            );
        }
        assert_eq!(change.scope("development"), Some(Scope::All));
    }
}
