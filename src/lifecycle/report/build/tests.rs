use super::*;
use crate::lifecycle::assess::Snooze;
use crate::lifecycle::served::ActionCode;
use crate::lifecycle::stale::{Code, StaleReason};
use serde_json::json;

fn now() -> DateTime<Utc> {
    crate::clock::parse_stamp("2031-02-03T09:00:00Z").unwrap()
}

fn reason(code: Code) -> StaleReason {
    StaleReason {
        code,
        message: code.label().into(),
        evidence: json!({"days": 40}),
    }
}

fn info(key: &str, owner: Owner, archived: bool) -> FlagInfo {
    FlagInfo {
        key: key.into(),
        name: key.to_uppercase(),
        flag_type: "release".into(),
        value_type: ValueType::Boolean,
        created_at: now() - chrono::Duration::days(50),
        archived,
        owner,
    }
}

fn ann() -> Owner {
    Owner::User {
        email: "ann@example.com".into(),
        name: "Ann".into(),
        active: true,
    }
}

fn on_in_production(flag_id: i64) -> EnvFacts {
    EnvFacts {
        flag_id,
        environment: "production".into(),
        protected: true,
        enabled: true,
        strategies: r#"[{"name":"flexibleRollout","parameters":{"rollout":"100"}}]"#.into(),
        variants: "[]".into(),
        updated_at: "2031-01-01T00:00:00.000Z".into(),
        killed: false,
    }
}

struct World {
    assessed: Vec<Assessment>,
    flags: HashMap<i64, FlagInfo>,
    envs: HashMap<i64, Vec<EnvFacts>>,
    events: HashMap<String, Vec<Happened>>,
}

/// 1 `old-banner`: Ann's, stale (past its lifetime), on for everyone in production;
/// 2 `orphan`: nobody's, stale (no owner); 3 `snoozed`: Ann's, snoozed;
/// 4 `done`: completed; 5 `fine`: healthy, created this week; 6 `gone`: archived this week.
fn world() -> World {
    let snooze = Snooze {
        until: "2031-03-01T00:00:00.000Z".into(),
        reason: "spring sale".into(),
        by: "ann@example.com".into(),
    };
    let completion = crate::lifecycle::assess::Completion {
        outcome: "kept".into(),
        variant: Some("new".into()),
        note: String::new(),
        by: "ann@example.com".into(),
        at: "2031-02-01T00:00:00.000Z".into(),
    };
    let n = now();
    let assessed = vec![
        Assessment::example(
            1,
            "old-banner",
            vec![reason(Code::PastExpectedLifetime)],
            None,
            None,
            n,
        ),
        Assessment::example(2, "orphan", vec![reason(Code::NoOwner)], None, None, n),
        Assessment::example(
            3,
            "snoozed",
            vec![reason(Code::Unused)],
            Some(snooze),
            None,
            n,
        ),
        Assessment::example(4, "done", vec![], None, Some(completion), n),
        Assessment::example(5, "fine", vec![], None, None, n),
        Assessment::example(6, "gone", vec![], None, None, n),
    ];
    let flags = HashMap::from([
        (1, info("old-banner", ann(), false)),
        (2, info("orphan", Owner::None, false)),
        (3, info("snoozed", ann(), false)),
        (4, info("done", ann(), false)),
        (5, info("fine", ann(), false)),
        (6, info("gone", ann(), true)),
    ]);
    let envs = HashMap::from([(1, vec![on_in_production(1)])]);
    let events = HashMap::from([
        ("fine".to_string(), vec![Happened::Created]),
        ("gone".to_string(), vec![Happened::Archived]),
        ("done".to_string(), vec![Happened::Completed]),
        ("orphan".to_string(), vec![Happened::BecameStale]),
    ]);
    World {
        assessed,
        flags,
        envs,
        events,
    }
}

fn build(w: &World, baseline: Option<&Baseline>) -> StaleReport {
    let parents = HashMap::new();
    report(&Inputs {
        project: ProjectRef {
            key: "web".into(),
            name: "Web".into(),
        },
        week: "2031-W06".into(),
        now: now(),
        assessed: &w.assessed,
        flags: &w.flags,
        environments: &w.envs,
        parents: &parents,
        baseline,
        since: "2031-01-27T09:00:00.000Z".into(),
        events: &w.events,
    })
}

#[test]
fn flags_are_grouped_by_owner_with_nobodys_last() {
    let r = build(&world(), None);
    let groups: Vec<(String, Vec<(&str, State)>)> = r
        .owners
        .iter()
        .map(|g| {
            (
                g.owner.label(),
                g.flags.iter().map(|f| (f.key.as_str(), f.state)).collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "Ann <ann@example.com>".to_string(),
                vec![
                    ("old-banner", State::Stale),
                    ("snoozed", State::Snoozed),
                    ("done", State::Completed)
                ]
            ),
            ("no owner".to_string(), vec![("orphan", State::Stale)]),
        ]
    );
}

#[test]
fn each_flag_says_why_what_everyone_gets_and_what_to_do() {
    let r = build(&world(), None);
    let old = &r.owners[0].flags[0];
    assert_eq!(old.reasons[0].code, "past-expected-lifetime");
    assert_eq!(old.reasons[0].evidence["days"], 40);
    assert_eq!(old.age_days, 50);
    assert_eq!(old.everyone[0].text, "everyone gets `true`");
    assert_eq!(old.action.code, ActionCode::KeepOnPath);
    assert_eq!(old.url, "/projects/web/flags/old-banner?tab=lifecycle");
    let snoozed = &r.owners[0].flags[1];
    assert_eq!(snoozed.snooze.as_ref().unwrap().reason, "spring sale");
    assert_eq!(
        snoozed.reasons[0].code, "unused",
        "a snooze keeps its reasons visible"
    );
    let done = &r.owners[0].flags[2];
    assert_eq!(done.action.code, ActionCode::KeepVariant);
}

#[test]
fn totals_and_health_count_flags_not_archived() {
    let t = build(&world(), None).totals;
    assert_eq!(
        (t.flags, t.stale, t.snoozed, t.completed, t.archived),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(t.health_percent, Some(60));
    assert_eq!(t.by_reason.get("no-owner"), Some(&1));
}

#[test]
fn changes_without_a_baseline_come_from_the_weeks_events() {
    let r = build(&world(), None);
    let c = &r.changes;
    assert_eq!(c.since_report, None);
    assert_eq!(c.newly_stale, ["orphan"]);
    assert_eq!(c.created, ["fine"]);
    assert_eq!(c.archived, ["gone"]);
    assert_eq!(c.completed, ["done"]);
    assert!(c.recovered.is_empty());
    assert!(r.owners[1].flags[0].new_this_week);
    assert!(!r.owners[0].flags[0].new_this_week);
}

#[test]
fn changes_against_the_last_report_compare_stale_sets() {
    let baseline = Baseline {
        id: 7,
        generated_at: "2031-01-27T09:00:00.000Z".into(),
        stale: ["orphan", "fine", "snoozed", "done"]
            .map(String::from)
            .into(),
    };
    let r = build(&world(), Some(&baseline));
    let c = &r.changes;
    assert_eq!(c.since_report, Some(7));
    assert_eq!(c.newly_stale, ["old-banner"]);
    assert_eq!(
        c.recovered,
        ["fine", "snoozed"],
        "completed flags are counted as completed, not recovered"
    );
    assert_eq!(r.stale_keys(), ["old-banner", "orphan"]);
}
