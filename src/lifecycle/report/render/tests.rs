use super::*;
use crate::lifecycle::report::{Owner, ProjectRef, Reason, State, Totals};
use crate::lifecycle::served::{ActionCode, EnvGets, Gets, Suggestion};
use serde_json::json;

fn sample() -> StaleReport {
    StaleReport {
        id: Some(3),
        project: ProjectRef {
            key: "web".into(),
            name: "Web *shop*".into(),
        },
        week: "2031-W06".into(),
        generated_at: "2031-02-03T09:00:00.000Z".into(),
        totals: Totals {
            flags: 4,
            stale: 1,
            health_percent: Some(75),
            by_reason: [("no-owner".to_string(), 1)].into(),
            ..Totals::default()
        },
        owners: vec![OwnerGroup {
            owner: Owner::None,
            flags: vec![FlagEntry {
                key: "=cmd".into(),
                name: "Say \"hi\"".into(),
                flag_type: "release".into(),
                state: State::Stale,
                new_this_week: true,
                stage: "live".into(),
                stage_since: "2031-01-01T00:00:00.000Z".into(),
                created_at: "2030-12-01T00:00:00.000Z".into(),
                age_days: 64,
                reasons: vec![Reason {
                    code: "no-owner".into(),
                    message: "nobody owns it".into(),
                    evidence: json!({"owner": null}),
                }],
                everyone: vec![EnvGets {
                    environment: "production".into(),
                    protected: true,
                    gets: Gets::On,
                    text: "everyone gets `true`".into(),
                }],
                action: Suggestion {
                    code: ActionCode::KeepOnPath,
                    variant: None,
                    text: "keep the on-path, delete the off-path".into(),
                },
                snooze: None,
                completion: None,
                url: "/projects/web/flags/%3Dcmd?tab=lifecycle".into(),
            }],
        }],
        changes: Changes {
            since: "2031-01-27T09:00:00.000Z".into(),
            since_report: Some(2),
            newly_stale: vec!["=cmd".into()],
            ..Changes::default()
        },
    }
}

#[test]
fn markdown_reads_as_a_report() {
    let md = render(&[sample()], Format::Markdown, true);
    assert!(md.starts_with("# Cleanup report: Web \\*shop\\* (`web`), week 2031-W06\n"));
    assert!(md.contains("**1 stale**"), "{md}");
    assert!(md.contains("## Since the last report (#2, 2031-01-27 09:00 UTC)"));
    assert!(md.contains("- Newly stale: `=cmd`"));
    assert!(md.contains("## no owner: 1 flag"));
    assert!(md.contains("### `=cmd` (Say \"hi\"): stale, new this week"));
    assert!(md.contains("- Why: no owner: nobody owns it (evidence: `{\"owner\":null}`)"));
    assert!(md.contains("- In production: everyone gets `true`"));
    assert!(md.contains("- **Do**: keep the on-path, delete the off-path"));
}

#[test]
fn csv_has_one_defused_row_per_flag() {
    let text = render(&[sample()], Format::Csv, true);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert!(lines[1].starts_with("\"web\",\"2031-W06\",\"no owner\",\"'=cmd\",\"Say \"\"hi\"\"\""));
    assert!(lines[1].contains("\"no-owner\",\"nobody owns it\""));
    assert_eq!(lines.len(), 3, "header, one row, and the final line end");
}

#[test]
fn json_round_trips_and_wraps_as_the_api_does() {
    let r = sample();
    let one: Value =
        serde_json::from_str(&render(std::slice::from_ref(&r), Format::Json, true)).unwrap();
    assert_eq!(one["report"]["owners"][0]["owner"], json!({"kind": "none"}));
    assert_eq!(
        one["report"]["owners"][0]["flags"][0]["everyone"][0]["gets"],
        json!({"kind": "on"})
    );
    let back: StaleReport = serde_json::from_value(one["report"].clone()).unwrap();
    assert_eq!(back, r);
    let many: Value = serde_json::from_str(&render(&[r], Format::Json, false)).unwrap();
    assert_eq!(many["reports"].as_array().unwrap().len(), 1);
}
