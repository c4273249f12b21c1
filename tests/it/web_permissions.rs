//! The role × action matrix for the web app's forms: every principal against the state-changing
//! pages, with the status each must get; a refusal changes nothing.

use crate::support::{TestApp, ADMIN_EMAIL, PROJECT};
use serde_json::json;

/// Lowest role allowed; `Admin` means global admins only.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Need {
    Editor,
    Approver,
    Owner,
    Admin,
}

struct Route {
    name: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
    need: Need,
    /// Answer when allowed: a redirect after a form, or the page showing a new token once.
    ok: u16,
    /// Routes outside the project answer 403 to anyone; project routes hide the project (404)
    /// from non-members.
    in_project: bool,
}

/// Ids the routes address: a member to act on and a token to revoke, one set per principal.
struct Targets {
    victim: i64,
    token: i64,
    webhook: i64,
    /// The open review of a rolled-back release plan (flag `rolled-{tag}` in development).
    review: i64,
}

fn routes(tag: &str, t: &Targets) -> Vec<Route> {
    let p = PROJECT;
    let flag = format!("base-{tag}");
    let r = |name, path: String, fields: Vec<(&'static str, String)>, need, ok, in_project| Route {
        name,
        path,
        fields,
        need,
        ok,
        in_project,
    };
    vec![
        r(
            "create flag",
            format!("/projects/{p}/flags"),
            vec![
                ("key", format!("new-{tag}")),
                ("name", "New".into()),
                ("type", "release".into()),
                ("value_type", "boolean".into()),
            ],
            Need::Editor,
            303,
            true,
        ),
        r(
            "edit flag",
            format!("/projects/{p}/flags/{flag}"),
            vec![
                ("name", "Renamed".into()),
                ("description", "d".into()),
                ("type", "release".into()),
                ("value_type", "boolean".into()),
            ],
            Need::Editor,
            303,
            true,
        ),
        r(
            "toggle development",
            format!("/projects/{p}/flags/{flag}/environments/development/toggle"),
            vec![("on", "true".into())],
            Need::Editor,
            303,
            true,
        ),
        r(
            "archive flag",
            format!("/projects/{p}/flags/{flag}/archive"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "add member",
            format!("/projects/{p}/members"),
            vec![("email", ADMIN_EMAIL.into()), ("role", "viewer".into())],
            Need::Owner,
            303,
            true,
        ),
        r(
            "add environment",
            format!("/projects/{p}/environments"),
            vec![("key", format!("qa-{tag}")), ("name", "QA".into())],
            Need::Owner,
            303,
            true,
        ),
        r(
            "create token",
            format!("/projects/{p}/tokens"),
            vec![
                ("kind", "client".into()),
                ("name", format!("t-{tag}")),
                ("environment", "development".into()),
            ],
            Need::Owner,
            200,
            true,
        ),
        r(
            "project settings",
            format!("/projects/{p}/settings"),
            vec![
                ("name", "Web".into()),
                ("description", format!("by {tag}")),
                ("key_pattern", "".into()),
                ("key_example", "".into()),
            ],
            Need::Owner,
            303,
            true,
        ),
        r(
            "protect staging",
            format!("/projects/{p}/environments/staging/protection"),
            vec![
                ("protected", "on".into()),
                ("required_approvals", "2".into()),
            ],
            Need::Owner,
            303,
            true,
        ),
        r(
            "unprotect production",
            format!("/projects/{p}/environments/production/protection"),
            vec![("required_approvals", "1".into())],
            Need::Admin,
            303,
            true,
        ),
        r(
            "add webhook",
            format!("/projects/{p}/settings/webhooks"),
            vec![
                ("url", format!("https://hooks.example.com/{tag}")),
                ("format", "slack".into()),
                ("event:flag.killed", "on".into()),
            ],
            Need::Owner,
            200,
            true,
        ),
        r(
            "delete webhook",
            format!("/projects/{p}/settings/webhooks/{}/delete", t.webhook),
            vec![],
            Need::Owner,
            303,
            true,
        ),
        r(
            "revive flag",
            format!("/projects/{p}/flags/gone-{tag}/revive"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "create project",
            "/projects".into(),
            vec![("key", format!("proj-{tag}")), ("name", "P".into())],
            Need::Admin,
            303,
            false,
        ),
        r(
            "create user",
            "/admin/users".into(),
            vec![
                ("email", format!("made-{tag}@example.com")),
                ("name", "Made".into()),
                ("password", "an-ok-password-123".into()),
            ],
            Need::Admin,
            303,
            false,
        ),
        r(
            "create team",
            "/admin/teams".into(),
            vec![("key", format!("team-{tag}")), ("name", "T".into())],
            Need::Admin,
            303,
            false,
        ),
        r(
            "kill switch",
            format!("/projects/{p}/flags/live-{tag}/environments/development/kill"),
            vec![("reason", "incident".into())],
            Need::Editor,
            303,
            true,
        ),
        r(
            "revoke token",
            format!("/projects/{p}/tokens/{}/revoke", t.token),
            vec![],
            Need::Owner,
            303,
            true,
        ),
        r(
            "remove member",
            format!("/projects/{p}/members/{}/remove", t.victim),
            vec![],
            Need::Owner,
            303,
            true,
        ),
        r(
            "reset a password",
            format!("/admin/users/{}/password", t.victim),
            vec![("password", "another-fine-password-7".into())],
            Need::Admin,
            303,
            false,
        ),
        r(
            "revoke admin",
            format!("/admin/users/{}/admin", t.victim),
            vec![("admin", "false".into())],
            Need::Admin,
            303,
            false,
        ),
        r(
            "deactivate a user",
            format!("/admin/users/{}/deactivate", t.victim),
            vec![],
            Need::Admin,
            303,
            false,
        ),
        r(
            "add a team member",
            format!("/admin/teams/crew-{tag}/members"),
            vec![("email", format!("victim-{tag}@example.com"))],
            Need::Admin,
            303,
            false,
        ),
        r(
            "remove a team member",
            format!("/admin/teams/crew-{tag}/members/{}/remove", t.victim),
            vec![],
            Need::Admin,
            303,
            false,
        ),
        r(
            "activate a user",
            format!("/admin/users/{}/activate", t.victim),
            vec![],
            Need::Admin,
            303,
            false,
        ),
        // Rollout safety (issue 13). Starting a plan changes the environment; moving between
        // its milestones asks no review; the plan of `plan-{tag}` runs in development.
        r(
            "start a release plan",
            format!("/projects/{p}/flags/fresh-{tag}/environments/development/plan"),
            vec![
                ("template", "gradual".into()),
                ("on_breach", "previous".into()),
            ],
            Need::Editor,
            303,
            true,
        ),
        r(
            "advance a release plan",
            format!("/projects/{p}/flags/plan-{tag}/environments/development/plan/advance"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "pause a release plan",
            format!("/projects/{p}/flags/plan-{tag}/environments/development/plan/pause"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "resume a release plan",
            format!("/projects/{p}/flags/plan-{tag}/environments/development/plan/resume"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "stop a release plan",
            format!("/projects/{p}/flags/plan-{tag}/environments/development/plan/stop"),
            vec![],
            Need::Editor,
            303,
            true,
        ),
        r(
            "complete a rollback review",
            format!(
                "/projects/{p}/flags/rolled-{tag}/environments/development/plan/reviews/{}",
                t.review
            ),
            vec![("note", "a bad deploy; fixed in 1.4.2".into())],
            Need::Approver,
            303,
            true,
        ),
        r(
            "save a project release template",
            format!("/projects/{p}/release-templates"),
            vec![
                ("key", format!("quick-{tag}")),
                ("name", "Quick".into()),
                ("m0_percent", "20".into()),
                ("m0_hold", "15".into()),
                ("m1_percent", "100".into()),
            ],
            Need::Owner,
            303,
            true,
        ),
        r(
            "require a gradual start",
            format!("/projects/{p}/release-templates/settings"),
            vec![("require_gradual", "on".into())],
            Need::Owner,
            303,
            true,
        ),
        r(
            "save an instance-wide release template",
            "/release-templates".into(),
            vec![
                ("key", format!("wide-{tag}")),
                ("name", "Wide".into()),
                ("m0_percent", "20".into()),
                ("m1_percent", "100".into()),
            ],
            Need::Admin,
            303,
            false,
        ),
    ]
}

/// A flag with a release plan running in development (advancing by hand); the plan's id.
async fn plan_on(admin: &crate::support::Actor, key: &str) -> i64 {
    admin.api.create_flag(PROJECT, &json!({ "key": key })).await;
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/{key}/environments/development/release-plan");
    let body = json!({"template": "gradual"});
    let r = admin
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let plan: serde_json::Value = r.json().await.unwrap();
    plan["id"].as_i64().unwrap()
}

async fn targets(app: &TestApp, admin: &crate::support::Actor, tag: &str) -> Targets {
    let live = format!("live-{tag}");
    admin
        .api
        .create_flag(PROJECT, &json!({ "key": live }))
        .await;
    admin.api.toggle(PROJECT, &live, "development", true).await;
    let email = format!("victim-{tag}@example.com");
    app.create_user(&email);
    app.add_member(PROJECT, &email, "viewer");
    app.feed_token("client", PROJECT, "development");
    let mut c = app.sql().await;
    let victim = switchyard::db::query_scalar("select id from users where email = ?")
        .bind(&email)
        .fetch_one(&mut c)
        .await
        .unwrap();
    switchyard::db::query(
        "insert into teams (key, name, created_at) values (?, 'Crew', '2026-01-01T00:00:00.000Z')",
    )
    .bind(format!("crew-{tag}"))
    .execute(&mut c)
    .await
    .unwrap();
    let token = switchyard::db::query_scalar("select max(id) from api_tokens")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let hook = json!({ "url": format!("https://hooks.example.com/old-{tag}") });
    let path = format!("/api/admin/projects/{PROJECT}/webhooks");
    let made: serde_json::Value = admin
        .api
        .send(reqwest::Method::POST, &path, Some(&hook))
        .await
        .json()
        .await
        .unwrap();
    let webhook = made["webhook"]["id"].as_i64().unwrap();
    admin
        .api
        .create_flag(PROJECT, &json!({ "key": format!("fresh-{tag}") }))
        .await;
    plan_on(admin, &format!("plan-{tag}")).await;
    // Rolled back as a breach leaves it (written directly: tests/it/release_guards.rs breaches
    // a guard the real way), its review open.
    let rolled = plan_on(admin, &format!("rolled-{tag}")).await;
    switchyard::db::query(
        "update release_plans set state = 'rolled-back', version = version + 1 where id = ?",
    )
    .bind(rolled)
    .execute(&mut c)
    .await
    .unwrap();
    let review = switchyard::db::query_scalar(
        "insert into release_rollback_reviews (plan_id, project_id, what, evidence, rolled_back_at) \
         select ?, id, 'went back automatically', '{}', '2026-01-01T00:00:00.000Z' \
         from projects where key = ? returning id",
    )
    .bind(rolled)
    .bind(PROJECT)
    .fetch_one(&mut c)
    .await
    .unwrap();
    Targets {
        victim,
        token,
        webhook,
        review,
    }
}

#[tokio::test]
async fn every_role_gets_exactly_its_rights_on_every_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    // (tag, e-mail, rank: 0 stranger, 1 viewer, 2 editor, 3 approver, 4 owner, 5 admin)
    let mut people = vec![];
    for (tag, role, rank) in [
        ("viewer", "viewer", 1),
        ("editor", "editor", 2),
        ("approver", "approver", 3),
        ("owner", "owner", 4),
    ] {
        people.push((tag, app.user(role).email, rank));
    }
    people.push(("stranger", app.stranger().email, 0));
    people.push(("admin", ADMIN_EMAIL.to_string(), 5));

    let mut failures = vec![];
    for (tag, email, rank) in &people {
        admin
            .api
            .create_flag(PROJECT, &json!({"key": format!("base-{tag}")}))
            .await;
        let gone = format!("gone-{tag}");
        admin
            .api
            .create_flag(PROJECT, &json!({ "key": gone }))
            .await;
        admin.api.archive(PROJECT, &gone).await;
        let browser = app.signed_in(email).await;
        let csrf = browser.csrf().await;
        let t = targets(&app, &admin, tag).await;
        for route in routes(tag, &t) {
            let allowed = match route.need {
                Need::Editor => *rank >= 2,
                Need::Approver => *rank >= 3,
                Need::Owner => *rank >= 4,
                Need::Admin => *rank == 5,
            };
            let expected = match (allowed, route.in_project, *rank) {
                (true, _, _) => route.ok,
                (false, true, 0) => 404,
                (false, _, _) => 403,
            };
            let mut fields: Vec<(&str, &str)> =
                route.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fields.push(("csrf_token", &csrf));
            let before = app.fingerprint().await;
            let got = browser
                .post_form(&route.path, &fields, &[])
                .await
                .status()
                .as_u16();
            if got != expected {
                failures.push(format!(
                    "{tag} · {}: expected {expected}, got {got}",
                    route.name
                ));
            }
            if !allowed && app.fingerprint().await != before {
                failures.push(format!(
                    "{tag} · {}: refused, yet something changed",
                    route.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
