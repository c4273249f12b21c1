//! Who may do what over the admin API: every mutating route × every kind of principal
//! (reliability plan C1, C3; expectations from src/authz/policy.rs).

use crate::support::{Api, TestApp, PROJECT};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Viewer,
    Editor,
    Approver,
    Owner,
    Admin,
    NonMember,
    NoToken,
    ClientToken,
    FrontendToken,
}

const EVERYONE: [Who; 9] = [
    Who::Viewer,
    Who::Editor,
    Who::Approver,
    Who::Owner,
    Who::Admin,
    Who::NonMember,
    Who::NoToken,
    Who::ClientToken,
    Who::FrontendToken,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    CreateFlag,
    PatchFlag,
    OnInDevelopment,
    OffInDevelopment,
    OnInProduction,
    OffInProduction,
    Archive,
    ArchiveLiveInProduction,
    StrategiesInProduction,
    KillInProduction,
    Revive,
    PutMember,
    CreateToken,
    RevokeToken,
    AddEnvironment,
    CreateProject,
    ProtectStaging,
    ProtectProduction,
    // Rollout safety (issue 13).
    StartPlanInDevelopment,
    StartPlanInProduction,
    AdvancePlan,
    PausePlan,
    ResumePlan,
    StopPlan,
    ReviewRollback,
    PostSignals,
    Explain,
    CreateProjectTemplate,
    UpdateProjectTemplate,
    DeleteProjectTemplate,
    SetReleaseSettings,
    CreateInstanceTemplate,
}

const ROUTES: [Route; 32] = [
    Route::CreateFlag,
    Route::PatchFlag,
    Route::OnInDevelopment,
    Route::OffInDevelopment,
    Route::OnInProduction,
    Route::OffInProduction,
    Route::Archive,
    Route::ArchiveLiveInProduction,
    Route::StrategiesInProduction,
    Route::KillInProduction,
    Route::Revive,
    Route::PutMember,
    Route::CreateToken,
    Route::RevokeToken,
    Route::AddEnvironment,
    Route::CreateProject,
    Route::ProtectStaging,
    Route::ProtectProduction,
    Route::StartPlanInDevelopment,
    Route::StartPlanInProduction,
    Route::AdvancePlan,
    Route::PausePlan,
    Route::ResumePlan,
    Route::StopPlan,
    Route::ReviewRollback,
    Route::PostSignals,
    Route::Explain,
    Route::CreateProjectTemplate,
    Route::UpdateProjectTemplate,
    Route::DeleteProjectTemplate,
    Route::SetReleaseSettings,
    Route::CreateInstanceTemplate,
];

/// The lowest project role allowed; `None` means global admins only.
fn lowest_role(route: Route) -> Option<Who> {
    use Route::*;
    match route {
        CreateFlag | PatchFlag | OnInDevelopment | OffInDevelopment | Archive | Revive => {
            Some(Who::Editor)
        }
        // Protected environment: editors and up propose (202, a change request), nobody applies.
        OnInProduction | OffInProduction | ArchiveLiveInProduction | StrategiesInProduction => {
            Some(Who::Editor)
        }
        // The kill switch never waits for a review.
        KillInProduction => Some(Who::Editor),
        PutMember | CreateToken | RevokeToken | AddEnvironment | ProtectStaging => Some(Who::Owner),
        CreateProject | ProtectProduction => None,
        // Starting a plan is changing the environment (proposing it where protected); moving
        // between its milestones asks no review, they were approved with the plan.
        StartPlanInDevelopment | StartPlanInProduction => Some(Who::Editor),
        AdvancePlan | PausePlan | ResumePlan | StopPlan => Some(Who::Editor),
        ReviewRollback => Some(Who::Approver),
        // A sample can hold back or roll back a release.
        PostSignals => Some(Who::Editor),
        // Reads, though posted.
        Explain => Some(Who::Viewer),
        CreateProjectTemplate
        | UpdateProjectTemplate
        | DeleteProjectTemplate
        | SetReleaseSettings => Some(Who::Owner),
        CreateInstanceTemplate => None,
    }
}

fn success(route: Route) -> u16 {
    use Route::*;
    match route {
        CreateFlag | CreateToken | AddEnvironment | CreateProject => 201,
        OnInProduction | OffInProduction | ArchiveLiveInProduction | StrategiesInProduction => 202,
        StartPlanInDevelopment | CreateProjectTemplate | CreateInstanceTemplate => 201,
        StartPlanInProduction => 202,
        StopPlan | DeleteProjectTemplate => 204,
        _ => 200,
    }
}

/// The expected status of one cell of the matrix.
fn expected(who: Who, route: Route) -> u16 {
    let rank = |w: Who| match w {
        Who::Viewer => 1,
        Who::Editor => 2,
        Who::Approver => 3,
        Who::Owner => 4,
        _ => 0,
    };
    match who {
        Who::NoToken => 401,
        // Client and frontend tokens only read the feed.
        Who::ClientToken | Who::FrontendToken => 403,
        // Every token here is bound to the project `web`; creating a project or an
        // instance-wide template lies outside it, so only an instance-wide admin token may
        // (tests/it/review_guarantee.rs, and the instance-wide matrix below).
        _ if matches!(route, Route::CreateProject | Route::CreateInstanceTemplate) => 403,
        Who::Admin => success(route),
        // Not a member: the project is invisible.
        Who::NonMember => 404,
        member => match lowest_role(route) {
            Some(min) if rank(member) >= rank(min) => success(route),
            _ => 403,
        },
    }
}

struct Fixture {
    app: TestApp,
    /// Sets up preconditions; a global admin.
    root: Api,
    principals: Vec<(Who, Api)>,
    spare_email: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let root = app.admin().api;
    let mut principals = Vec::new();
    for who in EVERYONE {
        let api = match who {
            Who::Viewer => app.user("viewer").api,
            Who::Editor => app.user("editor").api,
            Who::Approver => app.user("approver").api,
            Who::Owner => app.user("owner").api,
            Who::Admin => app.admin().api,
            Who::NonMember => app.stranger().api,
            Who::NoToken => app.api(None),
            Who::ClientToken => app.api(Some(app.feed_token("client", PROJECT, "development"))),
            Who::FrontendToken => app.api(Some(app.feed_token("frontend", PROJECT, "development"))),
        };
        principals.push((who, api));
    }
    let spare_email = "spare@example.com".to_string();
    app.create_user(&spare_email);
    app.add_member(PROJECT, &spare_email, "viewer");
    Fixture {
        app,
        root,
        principals,
        spare_email,
    }
}

async fn ok(r: Response, what: &str) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Prepares the cell's preconditions as the root admin; returns what the request needs.
async fn setup(f: &Fixture, route: Route, n: usize) -> i64 {
    let root = &f.root;
    let key = format!("flag-{n}");
    ok(
        root.create_flag(PROJECT, &json!({"key": key})).await,
        "setup",
    )
    .await;
    match route {
        Route::OffInDevelopment => {
            ok(
                root.toggle(PROJECT, &key, "development", true).await,
                "setup",
            )
            .await;
        }
        Route::OffInProduction | Route::ArchiveLiveInProduction | Route::KillInProduction => {
            root.force_toggle(PROJECT, &key, "production", true).await;
        }
        Route::Revive => {
            ok(root.archive(PROJECT, &key).await, "setup").await;
        }
        Route::PutMember => {
            ok(
                root.set_member(PROJECT, &f.spare_email, "viewer").await,
                "setup",
            )
            .await;
        }
        Route::RevokeToken => {
            let body =
                json!({"type": "client", "name": format!("victim-{n}"), "environment": "staging"});
            let created = ok(root.create_token(PROJECT, &body).await, "setup").await;
            return created["token"]["id"].as_i64().expect("token id");
        }
        Route::AdvancePlan | Route::PausePlan | Route::StopPlan => {
            start_plan(root, &key).await;
        }
        Route::ResumePlan => {
            start_plan(root, &key).await;
            let pause = format!("{}/pause", plan_path(&key, "development"));
            ok(root.send(Method::POST, &pause, None).await, "setup").await;
        }
        Route::ReviewRollback => {
            let plan = start_plan(root, &key).await;
            return rolled_back(f, plan).await;
        }
        Route::SetReleaseSettings => {
            // Off before each cell, so that an allowed cell changes it.
            let path = format!("/api/admin/projects/{PROJECT}/release-settings");
            let off = json!({"requireGradualInProtected": false});
            ok(root.send(Method::PUT, &path, Some(&off)).await, "setup").await;
        }
        Route::UpdateProjectTemplate | Route::DeleteProjectTemplate => {
            let path = format!("/api/admin/projects/{PROJECT}/release-templates");
            let body = template(&format!("tpl-{n}"));
            ok(root.send(Method::POST, &path, Some(&body)).await, "setup").await;
        }
        _ => {}
    }
    0
}

fn plan_path(key: &str, env: &str) -> String {
    format!("/api/admin/projects/{PROJECT}/flags/{key}/environments/{env}/release-plan")
}

/// A running plan (advancing by hand) in development; its id.
async fn start_plan(root: &Api, key: &str) -> i64 {
    let body = json!({"template": "gradual"});
    let path = plan_path(key, "development");
    let plan = ok(root.send(Method::POST, &path, Some(&body)).await, "setup").await;
    plan["id"].as_i64().expect("plan id")
}

/// The plan as an automatic rollback leaves it: rolled back, with its review open; the
/// review's id. Written directly: a real breach needs minutes of samples
/// (tests/it/release_guards.rs does it the real way).
async fn rolled_back(f: &Fixture, plan: i64) -> i64 {
    let mut c = f.app.sql().await;
    switchyard::db::query(
        "update release_plans set state = 'rolled-back', version = version + 1 where id = ?",
    )
    .bind(plan)
    .execute(&mut c)
    .await
    .unwrap();
    switchyard::db::query_scalar(
        "insert into release_rollback_reviews (plan_id, project_id, what, evidence, rolled_back_at) \
         select ?, id, 'went back automatically', '{}', '2026-01-01T00:00:00.000Z' \
         from projects where key = ? returning id",
    )
    .bind(plan)
    .bind(PROJECT)
    .fetch_one(&mut c)
    .await
    .unwrap()
}

fn template(key: &str) -> Value {
    json!({"key": key, "name": format!("Two steps {key}"), "milestones": [
        {"name": "20 %", "strategies": [
            {"name": "flexibleRollout", "parameters": {"rollout": "20", "stickiness": "default", "groupId": key}}
        ], "holdMinutes": 30},
        {"name": "everyone", "strategies": []}
    ]})
}

/// The request of one cell, as `api`; `id` is what the setup returned.
async fn request(f: &Fixture, api: &Api, route: Route, n: usize, id: i64) -> Response {
    let key = format!("flag-{n}");
    let post = |path: String, body: Option<Value>| async move {
        api.send(Method::POST, &path, body.as_ref()).await
    };
    let templates = format!("/api/admin/projects/{PROJECT}/release-templates");
    match route {
        Route::CreateFlag => {
            api.create_flag(PROJECT, &json!({"key": format!("new-{n}")}))
                .await
        }
        Route::PatchFlag => {
            api.patch(
                PROJECT,
                &key,
                &json!({"description": format!("edited {n}")}),
            )
            .await
        }
        Route::OnInDevelopment => api.toggle(PROJECT, &key, "development", true).await,
        Route::OffInDevelopment => api.toggle(PROJECT, &key, "development", false).await,
        Route::OnInProduction => api.toggle(PROJECT, &key, "production", true).await,
        Route::OffInProduction => api.toggle(PROJECT, &key, "production", false).await,
        Route::Archive | Route::ArchiveLiveInProduction => api.archive(PROJECT, &key).await,
        Route::StrategiesInProduction => {
            api.send(
                reqwest::Method::PUT,
                &format!(
                    "/api/admin/projects/{PROJECT}/flags/{key}/environments/production/strategies"
                ),
                Some(&json!([{"name": "default"}])),
            )
            .await
        }
        Route::KillInProduction => {
            api.kill(PROJECT, &key, "production", &json!({"reason": "incident"}))
                .await
        }
        Route::ProtectStaging => api.set_protection(PROJECT, "staging", false, 2).await,
        Route::ProtectProduction => api.set_protection(PROJECT, "production", true, 1).await,
        Route::Revive => api.revive(PROJECT, &key).await,
        Route::PutMember => api.set_member(PROJECT, &f.spare_email, "editor").await,
        Route::CreateToken => {
            let body =
                json!({"type": "client", "name": format!("t-{n}"), "environment": "development"});
            api.create_token(PROJECT, &body).await
        }
        Route::RevokeToken => api.revoke_token(PROJECT, id).await,
        Route::AddEnvironment => {
            api.add_environment(PROJECT, &json!({"key": format!("env-{n}")}))
                .await
        }
        Route::CreateProject => {
            api.create_project(&json!({"key": format!("proj-{n}")}))
                .await
        }
        Route::StartPlanInDevelopment | Route::StartPlanInProduction => {
            let env = match route {
                Route::StartPlanInDevelopment => "development",
                _ => "production",
            };
            let body = json!({"template": "gradual", "autoAdvance": false});
            post(plan_path(&key, env), Some(body)).await
        }
        Route::AdvancePlan | Route::PausePlan | Route::ResumePlan => {
            let verb = match route {
                Route::AdvancePlan => "advance",
                Route::PausePlan => "pause",
                _ => "resume",
            };
            post(format!("{}/{verb}", plan_path(&key, "development")), None).await
        }
        Route::StopPlan => {
            api.send(Method::DELETE, &plan_path(&key, "development"), None)
                .await
        }
        Route::ReviewRollback => {
            let path = format!("{}/reviews/{id}", plan_path(&key, "development"));
            post(
                path,
                Some(json!({"note": "the error ratio came from a bad deploy"})),
            )
            .await
        }
        Route::PostSignals => {
            let sample = json!({"name": "http_requests", "type": "counter",
                                "environment": "development", "appName": "shop", "value": 3});
            let path = format!("/api/admin/projects/{PROJECT}/signals");
            post(path, Some(json!({ "samples": [sample] }))).await
        }
        Route::Explain => {
            let path = format!("/api/admin/projects/{PROJECT}/environments/development/explain");
            post(
                path,
                Some(json!({"context": {"userId": "u1"}, "flags": [key]})),
            )
            .await
        }
        Route::CreateProjectTemplate => post(templates, Some(template(&format!("new-{n}")))).await,
        Route::UpdateProjectTemplate => {
            let mut body = template(&format!("tpl-{n}"));
            body["name"] = json!(format!("Renamed {n}"));
            let path = format!("{templates}/tpl-{n}");
            api.send(Method::PUT, &path, Some(&body)).await
        }
        Route::DeleteProjectTemplate => {
            api.send(Method::DELETE, &format!("{templates}/tpl-{n}"), None)
                .await
        }
        Route::SetReleaseSettings => {
            let path = format!("/api/admin/projects/{PROJECT}/release-settings");
            let body = json!({"requireGradualInProtected": true});
            api.send(Method::PUT, &path, Some(&body)).await
        }
        Route::CreateInstanceTemplate => {
            let body = template(&format!("wide-{n}"));
            post("/api/admin/release-templates".into(), Some(body)).await
        }
    }
}

/// Audit entries a successful request writes: one per change (a change staged into a change
/// request is one too). Creating a project also makes its creator the owner, a second change.
fn audit_entries(route: Route) -> i64 {
    match route {
        Route::CreateProject => 2,
        // Samples and answers are not changes.
        Route::PostSignals | Route::Explain => 0,
        // Starting a plan serves its first milestone: the strategies, the switch, the start.
        Route::StartPlanInDevelopment => 3,
        // The next milestone's strategies, and the move.
        Route::AdvancePlan => 2,
        _ => 1,
    }
}

fn audit_count(fingerprint: &str) -> i64 {
    fingerprint.lines().last().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_principal_gets_exactly_the_expected_status_on_every_mutating_route() {
    let f = fixture().await;
    let mut failures = Vec::new();
    let mut n = 0;
    for route in ROUTES {
        for (who, api) in &f.principals {
            n += 1;
            let want = expected(*who, route);
            let id = setup(&f, route, n).await;
            let before = f.app.fingerprint().await;
            let r = request(&f, api, route, n, id).await;
            let got = r.status().as_u16();
            let body = r.text().await.unwrap();
            let after = f.app.fingerprint().await;
            if got != want {
                failures.push(format!(
                    "{who:?} × {route:?}: expected {want}, got {got}: {body}"
                ));
                continue;
            }
            if (200..300).contains(&got) {
                let written = audit_count(&after) - audit_count(&before);
                if written != audit_entries(route) {
                    failures.push(format!(
                        "{who:?} × {route:?}: allowed, but wrote {written} audit entries instead of {}",
                        audit_entries(route)
                    ));
                }
                continue;
            }
            if before != after {
                failures.push(format!(
                    "{who:?} × {route:?}: denied with {got} but the state changed:\n{before}\n---\n{after}"
                ));
            }
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if !(parsed["error"].is_string() && parsed["message"].is_string()) {
                failures.push(format!(
                    "{who:?} × {route:?}: denial without the JSON error shape: {body}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The instance-wide release templates are edited with an instance-wide admin token of a global
/// admin; the same kind of token of any project role is refused, and a refusal changes nothing.
#[tokio::test]
async fn only_global_admins_edit_the_instance_wide_release_templates() {
    let app = TestApp::spawn().await;
    let mut people: Vec<(&str, Api, u16)> = Vec::new();
    for role in ["viewer", "editor", "approver", "owner"] {
        let email = app.user(role).email;
        people.push((role, app.api(Some(app.instance_token(&email))), 403));
    }
    people.push((
        "admin",
        app.api(Some(app.instance_token(crate::support::ADMIN_EMAIL))),
        0,
    ));
    people.push(("no token", app.api(None), 401));
    let root = app.api(Some(app.instance_token(crate::support::ADMIN_EMAIL)));
    let mut failures = Vec::new();
    for (n, (who, api, refused)) in people.iter().enumerate() {
        let key = format!("wide-{n}");
        let one = format!("/api/admin/release-templates/{key}");
        let mut renamed = template(&key);
        renamed["name"] = json!(format!("Renamed {n}"));
        let steps = [
            (
                Method::POST,
                "/api/admin/release-templates".to_string(),
                Some(template(&key)),
                201,
            ),
            (Method::PUT, one.clone(), Some(renamed), 200),
            (Method::DELETE, one, None, 204),
        ];
        for (method, path, body, allowed) in steps {
            if *refused != 0 && method != Method::POST {
                // Something to refuse to change.
                let r = root
                    .send(
                        Method::POST,
                        "/api/admin/release-templates",
                        Some(&template(&key)),
                    )
                    .await;
                assert!(r.status().is_success() || r.status() == StatusCode::CONFLICT);
            }
            let want = if *refused == 0 { allowed } else { *refused };
            let before = app.fingerprint().await;
            let r = api.send(method.clone(), &path, body.as_ref()).await;
            let got = r.status().as_u16();
            let after = app.fingerprint().await;
            if got != want {
                let text = r.text().await.unwrap_or_default();
                failures.push(format!(
                    "{who} × {method} {path}: expected {want}, got {got}: {text}"
                ));
            } else if got >= 400 && before != after {
                failures.push(format!(
                    "{who} × {method} {path}: refused, yet something changed"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn client_and_frontend_tokens_never_reach_admin_routes_with_either_header_form() {
    let app = TestApp::spawn().await;
    for kind in ["client", "frontend"] {
        let secret = app.feed_token(kind, PROJECT, "development");
        for presented in [secret.clone(), format!("Bearer {secret}")] {
            let api = app.api(Some(presented.clone()));
            for path in [
                "/api/admin/projects".to_string(),
                format!("/api/admin/projects/{PROJECT}/flags"),
                "/api/admin/audit".to_string(),
            ] {
                let r = api.get(&path).await;
                assert_eq!(r.status(), StatusCode::FORBIDDEN, "{kind} token on {path}");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"], "forbidden", "{body}");
            }
        }
    }
}

#[tokio::test]
async fn a_non_member_cannot_tell_a_hidden_project_from_a_missing_one() {
    let app = TestApp::spawn().await;
    let stranger = app.stranger().api;
    let hidden = stranger.flags(PROJECT, "").await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let hidden: Value = hidden.json().await.unwrap();
    let missing = stranger.flags("no-such-project", "").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(hidden["error"], missing["error"]);
    let shape = |v: &Value| {
        v["message"]
            .as_str()
            .unwrap()
            .replace(PROJECT, "P")
            .replace("no-such-project", "P")
    };
    assert_eq!(shape(&hidden), shape(&missing));
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").api;
    let created: Value = owner
        .create_token(PROJECT, &json!({"type": "admin", "name": "short-lived"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let id = created["token"]["id"].as_i64().unwrap();
    let victim = app.api(Some(secret));
    assert_eq!(victim.flags(PROJECT, "").await.status(), StatusCode::OK);
    assert_eq!(
        owner.revoke_token(PROJECT, id).await.status(),
        StatusCode::OK
    );
    let r = victim.flags(PROJECT, "").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn an_admin_token_follows_its_users_current_role() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner");
    let r = owner
        .api
        .add_environment(PROJECT, &json!({"key": "qa"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Demoted on the command line: the same token loses the owner's powers at once.
    app.add_member(PROJECT, &owner.email, "viewer");
    let r = owner
        .api
        .add_environment(PROJECT, &json!({"key": "qa2"}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = owner.api.create_flag(PROJECT, &json!({"key": "x"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(owner.api.flags(PROJECT, "").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn only_admins_may_mint_admin_tokens_for_someone_else() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner");
    let editor = app.user("editor");
    let before = app.fingerprint().await;
    let r = owner
        .api
        .create_token(
            PROJECT,
            &json!({"type": "admin", "name": "impersonate", "user": editor.email}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    let r = owner
        .api
        .create_token(
            PROJECT,
            &json!({"type": "admin", "name": "impersonate", "user": crate::support::ADMIN_EMAIL}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "an owner must not mint a token acting as a global admin"
    );
    assert_eq!(app.fingerprint().await, before);
}
