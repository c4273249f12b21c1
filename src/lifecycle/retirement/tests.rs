//! Table tests of the retirement checklist's rules.

use super::*;

fn day(n: i64) -> DateTime<Utc> {
    crate::clock::parse_stamp("2026-03-01T12:00:00Z").unwrap() + Duration::days(n)
}

fn scan(at: i64, refs: &[&str]) -> RepositoryScan {
    RepositoryScan {
        repository: "shop".into(),
        scanned_at: day(at),
        commit: None,
        references: refs.iter().map(|r| r.to_string()).collect(),
    }
}

fn verdict(checks: &[Check], item: Item) -> Verdict {
    checks.iter().find(|c| c.item == item).unwrap().verdict
}

struct Case {
    scans: Vec<RepositoryScan>,
    evaluated: Option<DateTime<Utc>>,
    sdk_seen: Option<DateTime<Utc>>,
    dependents: Vec<String>,
    requests: Vec<OpenRequest>,
}

fn run(c: &Case, now: DateTime<Utc>) -> Vec<Check> {
    let evaluations = [LastEvaluation {
        environment: "production".into(),
        at: c.evaluated,
    }];
    let sdks: Vec<SdkReport> = c
        .sdk_seen
        .map(|at| SdkReport {
            environment: "production".into(),
            app: "shop".into(),
            last_seen: at,
        })
        .into_iter()
        .collect();
    checklist(
        &Facts {
            created_at: day(0),
            scans: &c.scans,
            quiet_days: 7,
            evaluations: &evaluations,
            sdks: &sdks,
            dependents: &c.dependents,
            requests: &c.requests,
        },
        now,
    )
}

fn clean() -> Case {
    Case {
        scans: vec![scan(10, &[])],
        evaluated: Some(day(2)),
        sdk_seen: Some(day(19)),
        dependents: vec![],
        requests: vec![],
    }
}

#[test]
fn a_clean_flag_passes_every_item() {
    let checks = run(&clean(), day(20));
    assert!(all_passed(&checks), "{checks:#?}");
}

#[test]
fn no_scan_or_a_scan_older_than_the_flag_is_not_a_pass() {
    let mut c = clean();
    c.scans = vec![];
    assert_eq!(
        verdict(&run(&c, day(20)), Item::CodeReferences),
        Verdict::Unknown
    );
    c.scans = vec![scan(-1, &[])];
    assert_eq!(
        verdict(&run(&c, day(20)), Item::CodeReferences),
        Verdict::Unknown
    );
    c.scans = vec![scan(10, &["src/cart.js:3"])];
    let checks = run(&c, day(20));
    assert_eq!(verdict(&checks, Item::CodeReferences), Verdict::Fail);
    assert_eq!(checks[0].message, "still referenced 1 time in 1 repository");
}

#[test]
fn evaluations_fail_inside_the_window_and_pass_just_after_it() {
    let c = Case {
        evaluated: Some(day(10)),
        sdk_seen: Some(day(20)),
        ..clean()
    };
    // Evaluated in the hour starting at day 10: inside the window until that hour has ended.
    let edge = day(17) + Duration::hours(1);
    assert_eq!(
        verdict(&run(&c, edge - Duration::seconds(1)), Item::Evaluations),
        Verdict::Fail
    );
    assert_eq!(verdict(&run(&c, edge), Item::Evaluations), Verdict::Pass);
}

#[test]
fn no_sdk_reporting_in_the_window_is_not_a_pass() {
    let c = Case {
        evaluated: None,
        sdk_seen: Some(day(5)),
        ..clean()
    };
    let checks = run(&c, day(20));
    assert_eq!(verdict(&checks, Item::Evaluations), Verdict::Unknown);
    let c = Case {
        sdk_seen: None,
        ..c
    };
    assert_eq!(
        verdict(&run(&c, day(20)), Item::Evaluations),
        Verdict::Unknown
    );
}

#[test]
fn dependents_and_open_requests_fail_naming_them() {
    let c = Case {
        dependents: vec!["checkout-v2".into()],
        requests: vec![OpenRequest {
            id: 4,
            state: "in-review".into(),
            title: "".into(),
            environment: "production".into(),
        }],
        ..clean()
    };
    let checks = run(&c, day(20));
    assert_eq!(verdict(&checks, Item::Dependents), Verdict::Fail);
    assert!(checks[2].message.contains("checkout-v2"));
    assert_eq!(verdict(&checks, Item::ChangeRequests), Verdict::Fail);
    assert_eq!(checks[3].message, "part of open change request #4");
    assert!(!all_passed(&checks));
}
