//! What an audit entry records: a closed list of actions, each with its stored name and what it
//! means for the feed. The log stores the name; everything that reads the log (the feed's
//! watcher, history pages, filters) parses it back into an [`Action`], so a new action cannot be
//! written without saying whether SDKs see it.

/// Which part of the served state an action may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEffect {
    /// Nothing SDKs are served (people, tokens, reviews, webhooks).
    Nothing,
    /// The entry's flag in the entry's environment only.
    FlagInEnvironment,
    /// The entry's flag in every environment (it exists, or is configured, everywhere).
    Flag,
    /// The entry's environment, or the whole project when it names none (segments, projects).
    Project,
}

macro_rules! actions {
    ($($variant:ident = $name:literal => $effect:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name stored in the log and shown in filters, such as `flag.enabled`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn feed_effect(self) -> FeedEffect {
                match self {
                    $(Action::$variant => FeedEffect::$effect,)*
                }
            }
        }
    };
}

actions! {
    ChangeRequestApplied = "change-request.applied" => Nothing,
    ChangeRequestApproved = "change-request.approved" => Nothing,
    ChangeRequestCancelled = "change-request.cancelled" => Nothing,
    ChangeRequestChangeAdded = "change-request.change-added" => Nothing,
    ChangeRequestCommented = "change-request.commented" => Nothing,
    ChangeRequestEdited = "change-request.edited" => Nothing,
    ChangeRequestFailed = "change-request.failed" => Nothing,
    ChangeRequestRefreshed = "change-request.refreshed" => Nothing,
    ChangeRequestRejected = "change-request.rejected" => Nothing,
    ChangeRequestReviewDenied = "change-request.review-denied" => Nothing,
    ChangeRequestScheduled = "change-request.scheduled" => Nothing,
    ChangeRequestSubmitted = "change-request.submitted" => Nothing,
    // Code references are evidence for the stale rules; the assessment announces what changed.
    CodeReferencesScanned = "code-references.scanned" => Nothing,
    EnvironmentCreated = "environment.created" => Project,
    EnvironmentProtectionSet = "environment.protection-set" => Nothing,
    FlagArchived = "flag.archived" => Flag,
    // The feed serves `stale`.
    FlagBecameStale = "flag.became-stale" => Flag,
    FlagCompleted = "flag.completed" => Flag,
    FlagCreated = "flag.created" => Flag,
    FlagDependenciesReplaced = "flag.dependencies-replaced" => Flag,
    FlagDisabled = "flag.disabled" => FlagInEnvironment,
    FlagEnabled = "flag.enabled" => FlagInEnvironment,
    FlagImported = "flag.imported" => Flag,
    FlagKillAcknowledged = "flag.kill-acknowledged" => Nothing,
    FlagKilled = "flag.killed" => FlagInEnvironment,
    FlagLifecycleSet = "flag.lifecycle-set" => Flag,
    FlagRecovered = "flag.recovered" => Flag,
    FlagReopened = "flag.reopened" => Flag,
    FlagRevived = "flag.revived" => Flag,
    FlagSnoozed = "flag.snoozed" => Flag,
    FlagUnsnoozed = "flag.unsnoozed" => Flag,
    FlagStrategiesReplaced = "flag.strategies-replaced" => FlagInEnvironment,
    FlagUpdated = "flag.updated" => Flag,
    FlagVariantsReplaced = "flag.variants-replaced" => FlagInEnvironment,
    ImportProtectedOverride = "import.protected-override" => Nothing,
    MemberRemoved = "member.removed" => Nothing,
    MemberRoleSet = "member.role-set" => Nothing,
    ProjectCodeUrlTemplateSet = "project.code-url-template-set" => Nothing,
    ProjectCreated = "project.created" => Project,
    ProjectLifecycleSet = "project.lifecycle-set" => Nothing,
    // Expected lifetimes decide staleness, which the feed serves.
    ProjectLifetimesSet = "project.lifetimes-set" => Project,
    ProjectUpdated = "project.updated" => Nothing,
    // The weekly cleanup report was kept.
    ReportGenerated = "report.generated" => Nothing,
    ReleasePlanAdvanced = "release-plan.advanced" => Nothing,
    ReleasePlanCancelled = "release-plan.cancelled" => Nothing,
    ReleasePlanCompleted = "release-plan.completed" => Nothing,
    ReleasePlanPaused = "release-plan.paused" => Nothing,
    ReleasePlanResumed = "release-plan.resumed" => Nothing,
    ReleasePlanRollbackReviewed = "release-plan.rollback-reviewed" => Nothing,
    // Switching the flag off (or back to the previous milestone) at once, like the kill switch.
    ReleasePlanRolledBack = "release-plan.rolled-back" => FlagInEnvironment,
    ReleasePlanStarted = "release-plan.started" => Nothing,
    ReleaseSettingsSet = "release-settings.set" => Nothing,
    ReleaseTemplateCreated = "release-template.created" => Nothing,
    ReleaseTemplateDeleted = "release-template.deleted" => Nothing,
    ReleaseTemplateUpdated = "release-template.updated" => Nothing,
    SegmentCreated = "segment.created" => Project,
    SegmentDeleted = "segment.deleted" => Project,
    SegmentUpdated = "segment.updated" => Project,
    TeamCreated = "team.created" => Nothing,
    TeamMemberAdded = "team.member-added" => Nothing,
    TeamMemberRemoved = "team.member-removed" => Nothing,
    TokenCreated = "token.created" => Nothing,
    TokenRevoked = "token.revoked" => Nothing,
    UserActivated = "user.activated" => Nothing,
    UserAdminGranted = "user.admin-granted" => Nothing,
    UserAdminRevoked = "user.admin-revoked" => Nothing,
    UserCreated = "user.created" => Nothing,
    UserDeactivated = "user.deactivated" => Nothing,
    UserPasswordChanged = "user.password-changed" => Nothing,
    UserPasswordReset = "user.password-reset" => Nothing,
    WebhookCreated = "webhook.created" => Nothing,
    WebhookDeleted = "webhook.deleted" => Nothing,
}

impl Action {
    /// The action a stored name stands for; None for a name this version does not know (an
    /// entry written by a newer one).
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::parse("flag.exploded"), None);
    }
}
