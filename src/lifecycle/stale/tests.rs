use super::*;

fn day(n: i64) -> DateTime<Utc> {
    crate::clock::parse_stamp("2026-01-01T00:00:00Z").unwrap() + Duration::days(n)
}

fn env(key: &str, protected: bool, on: bool, everyone: bool, changed: i64) -> Environment {
    Environment {
        key: key.into(),
        protected,
        on,
        everyone,
        changed_at: day(changed),
    }
}

struct Case {
    envs: Vec<Environment>,
    usage: Vec<Usage>,
    scans: Option<Vec<Scan>>,
    owner: Owner,
    lifetime: Option<i64>,
    exempt: bool,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            // On in development only, changed at creation: none of the rules apply by default.
            envs: vec![
                env("development", false, true, false, 0),
                env("production", true, false, false, 0),
            ],
            usage: Vec::new(),
            scans: None,
            owner: Owner::User {
                email: "owner@example.com".into(),
                active: true,
            },
            lifetime: None,
            exempt: false,
        }
    }
}

/// The codes on day `now` for a flag created on day 0.
fn codes(c: &Case, now: i64) -> Vec<&'static str> {
    let f = Facts {
        created_at: day(0),
        exempt: c.exempt,
        lifetime_days: c.lifetime,
        environments: &c.envs,
        usage: &c.usage,
        scans: c.scans.as_deref(),
        owner: &c.owner,
    };
    reasons(&f, &Thresholds::default(), day(now))
        .into_iter()
        .map(|r| r.code.as_str())
        .collect()
}

#[test]
fn a_healthy_flag_has_no_reasons() {
    assert!(codes(&Case::default(), 400).is_empty());
}

#[test]
fn past_expected_lifetime_just_before_and_after() {
    let c = Case {
        lifetime: Some(40),
        ..Case::default()
    };
    assert!(codes(&c, 40).is_empty());
    assert_eq!(codes(&c, 41), ["past-expected-lifetime"]);
}

#[test]
fn nothing_is_stale_in_its_grace_period_or_when_exempt() {
    let off = Case {
        owner: Owner::Nobody,
        ..Case::default()
    };
    assert!(codes(&off, 6).is_empty(), "grace period");
    assert_eq!(codes(&off, 7), ["no-owner"]);
    let exempt = Case {
        exempt: true,
        ..off
    };
    assert!(codes(&exempt, 400).is_empty());
}

fn watched(first: i64, last: i64, evaluated: Option<i64>) -> Usage {
    Usage {
        environment: "production".into(),
        sdks_first_seen: Some(day(first)),
        sdks_last_seen: Some(day(last)),
        apps: vec!["checkout-service".into()],
        last_evaluated: evaluated.map(day),
    }
}

#[test]
fn unused_only_while_sdks_were_connected() {
    // SDKs connected from day 1 to day 60; last evaluated on day 20.
    let c = Case {
        usage: vec![watched(1, 60, Some(20))],
        ..Case::default()
    };
    assert!(codes(&c, 50).is_empty(), "evaluated 30 days ago: not yet");
    assert_eq!(codes(&c, 51), ["unused"]);
    // No data is never unused: no SDK ever reported.
    let silent = Case {
        usage: vec![Usage {
            environment: "production".into(),
            ..Usage::default()
        }],
        ..Case::default()
    };
    assert!(codes(&silent, 400).is_empty());
    // SDKs that stopped reporting before the window say nothing either.
    let gone = Case {
        usage: vec![watched(1, 10, None)],
        ..Case::default()
    };
    assert!(codes(&gone, 60).is_empty());
    // SDKs that connected only recently have not watched the whole window.
    let fresh = Case {
        usage: vec![watched(40, 60, None)],
        ..Case::default()
    };
    assert!(codes(&fresh, 60).is_empty());
    // Evaluated in another watched environment: in use.
    let elsewhere = Case {
        usage: vec![
            watched(1, 60, None),
            Usage {
                environment: "staging".into(),
                ..watched(1, 60, Some(55))
            },
        ],
        ..Case::default()
    };
    assert!(codes(&elsewhere, 60).is_empty());
}

#[test]
fn unused_evidence_names_the_environments_and_apps() {
    let usage = vec![watched(1, 60, None)];
    let envs = Case::default().envs;
    let f = Facts {
        created_at: day(0),
        exempt: false,
        lifetime_days: None,
        environments: &envs,
        usage: &usage,
        scans: None,
        owner: &Case::default().owner,
    };
    let r = reasons(&f, &Thresholds::default(), day(60));
    assert_eq!(
        r[0].evidence["environments"][0]["apps"][0],
        "checkout-service"
    );
    assert_eq!(
        r[0].evidence["environments"][0]["lastEvaluatedAt"],
        Value::Null
    );
    assert!(r[0].message.contains("production"), "{}", r[0].message);
}

#[test]
fn fully_rolled_out_in_every_protected_environment_for_the_period() {
    let c = Case {
        envs: vec![
            env("development", false, true, false, 0),
            env("production", true, true, true, 10),
            env("prod-eu", true, true, true, 12),
        ],
        ..Case::default()
    };
    assert!(codes(&c, 25).is_empty(), "13 days since the last change");
    assert_eq!(codes(&c, 26), ["fully-rolled-out"]);
    let partly = Case {
        envs: vec![
            env("production", true, true, true, 10),
            env("prod-eu", true, true, false, 12),
        ],
        ..Case::default()
    };
    assert!(codes(&partly, 100).is_empty());
}

#[test]
fn off_everywhere_for_the_period() {
    let c = Case {
        envs: vec![
            env("development", false, false, false, 5),
            env("production", true, false, false, 3),
        ],
        ..Case::default()
    };
    assert!(codes(&c, 34).is_empty());
    assert_eq!(codes(&c, 35), ["off-everywhere"]);
}

#[test]
fn no_code_references_only_when_a_scan_exists() {
    let scan = |references| Scan {
        repository: "shop".into(),
        scanned_at: "2026-02-01T00:00:00Z".into(),
        commit: Some("abc123".into()),
        references,
    };
    let none = Case::default();
    assert!(codes(&none, 100).is_empty(), "never scanned");
    let found = Case {
        scans: Some(vec![scan(2)]),
        ..Case::default()
    };
    assert!(codes(&found, 100).is_empty());
    let gone = Case {
        scans: Some(vec![scan(0)]),
        ..Case::default()
    };
    assert_eq!(codes(&gone, 100), ["no-code-references"]);
}

#[test]
fn no_owner_deactivated_owner_or_empty_team() {
    for owner in [
        Owner::Nobody,
        Owner::User {
            email: "gone@example.com".into(),
            active: false,
        },
        Owner::Team {
            key: "payments".into(),
            members: 0,
        },
    ] {
        let c = Case {
            owner,
            ..Case::default()
        };
        assert_eq!(codes(&c, 8), ["no-owner"]);
    }
    let team = Case {
        owner: Owner::Team {
            key: "payments".into(),
            members: 3,
        },
        ..Case::default()
    };
    assert!(codes(&team, 8).is_empty());
}

#[test]
fn who_is_served_the_same() {
    let s = |v: Value| v.as_array().cloned().unwrap();
    assert!(serves_everyone(&[], &[]), "on without strategies");
    assert!(serves_everyone(&s(json!([{"name": "default"}])), &[]));
    assert!(serves_everyone(
        &s(json!([{"name": "flexibleRollout", "parameters": {"rollout": "100"}}])),
        &s(json!([{"name": "blue", "weight": 1000}]))
    ));
    assert!(!serves_everyone(
        &s(json!([{"name": "flexibleRollout", "parameters": {"rollout": "30"}}])),
        &[]
    ));
    assert!(!serves_everyone(
        &s(json!([{"name": "default", "constraints": [{"contextName": "country"}]}])),
        &[]
    ));
    assert!(!serves_everyone(
        &s(json!([{"name": "default", "segments": [1]}])),
        &[]
    ));
    assert!(!serves_everyone(
        &s(json!([{"name": "default"}])),
        &s(json!([{"name": "a", "weight": 500}, {"name": "b", "weight": 500}]))
    ));
}
