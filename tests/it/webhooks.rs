//! Webhooks (issue 4, point 8): registered per project by owners, told about change-request
//! transitions and emergency kills in a generic JSON or a Slack-compatible body, retried with
//! backoff when the endpoint fails, never holding up the workflow.

use crate::support::{Api, TestApp, PROJECT};
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use axum::{Json, Router};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

impl Receiver {
    /// Waits for the generic body announcing kept report `id`.
    pub(crate) async fn wait_for_report(&self, name: &str, id: i64) -> Value {
        let start = Instant::now();
        loop {
            if let Some(b) = self
                .bodies(name)
                .into_iter()
                .find(|b| b["report"]["id"] == id)
            {
                return b;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no report {id} at {name}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a Slack body whose text contains `needle`.
    pub(crate) async fn wait_for_text(&self, name: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let found = self.bodies(name).into_iter().find_map(|b| {
                b["text"]
                    .as_str()
                    .filter(|t| t.contains(needle))
                    .map(String::from)
            });
            if let Some(text) = found {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {needle:?} at {name}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A tiny HTTP endpoint that records what it is sent, per path, and answers 500 to the first
/// `fail_first` calls.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    calls: Arc<AtomicUsize>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub(crate) async fn start(fail_first: usize) -> (Receiver, String) {
        let r = Receiver::default();
        r.fail_first.store(fail_first, Ordering::SeqCst);
        let app = Router::new()
            .route("/{name}", post(record))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, base)
    }

    pub(crate) fn bodies(&self, name: &str) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits until `name` has received `count` bodies.
    pub(crate) async fn wait_for(&self, name: &str, count: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.bodies(name);
            if got.len() >= count {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{name} received {} of {count} bodies: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn record(
    State(r): State<Receiver>,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> AxumStatus {
    r.calls.fetch_add(1, Ordering::SeqCst);
    let failing = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    r.got.lock().unwrap().push((name, body));
    AxumStatus::OK
}

/// The allow-list naming these loopback receivers (`127.0.0.1:PORT` each): webhooks refuse
/// internal targets unless the operator lists them (issue 11, item 9).
pub(crate) fn allow(urls: &[&str]) -> (&'static str, String) {
    let hosts: Vec<String> = urls
        .iter()
        .map(|u| {
            let u = reqwest::Url::parse(u).unwrap();
            format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
        })
        .collect();
    ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", hosts.join(","))
}

async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn add_webhook(api: &Api, body: Value) -> (StatusCode, Value) {
    status_json(api.add_webhook(PROJECT, &body).await).await
}

async fn step(api: &Api, id: i64, verb: &str, body: Option<Value>) -> (StatusCode, Value) {
    let start = Instant::now();
    let answer = status_json(api.change_request_step(id, verb, body.as_ref()).await).await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{verb} took {:?}: webhooks must not hold up the workflow",
        start.elapsed()
    );
    answer
}

/// Proposes switching `key` on in production; returns the draft's id.
async fn propose_on(api: &Api, key: &str) -> i64 {
    let (status, body) = status_json(api.toggle(PROJECT, key, "production", true).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["changeRequest"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn change_request_events_reach_generic_and_slack_webhooks() {
    let (receiver, base) = Receiver::start(0).await;
    let (k, hosts) = allow(&[&base]);
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_PUBLIC_URL", "https://flags.example.com"),
        (k, &hosts),
    ])
    .await;
    let admin = app.admin();
    let owner = app.user("owner");
    let editor = app.user("editor");
    let approver = app.user("approver");

    // Owners manage webhooks; editors may not; only http(s) URLs and known events.
    let (status, _) = add_webhook(&editor.api, json!({"url": format!("{base}/generic")})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in [
        json!({"url": "ftp://example.com/x"}),
        json!({"url": "not a url"}),
        json!({"url": format!("{base}/x"), "format": "teams"}),
        json!({"url": format!("{base}/x"), "events": ["flag.created"]}),
    ] {
        let (status, body) = add_webhook(&owner.api, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (status, generic) = add_webhook(
        &owner.api,
        json!({"url": format!("{base}/generic"), "format": "generic"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{generic}");
    assert_eq!(generic["webhook"]["format"], "generic");
    assert_eq!(generic["webhook"]["createdBy"], owner.email);
    let events = json!([
        "change-request.submitted",
        "change-request.applied",
        "flag.killed"
    ]);
    let (status, slack) = add_webhook(
        &owner.api,
        json!({"url": format!("{base}/slack"), "format": "slack", "events": events}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{slack}");
    assert_eq!(slack["webhook"]["events"], events);
    let (status, list) = status_json(
        owner
            .api
            .get(&format!("/api/admin/projects/{PROJECT}/webhooks"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2);

    admin.api.new_flag(PROJECT, "checkout").await;
    let id = propose_on(&editor.api, "checkout").await;
    let (status, _) = step(
        &editor.api,
        id,
        "submit",
        Some(json!({"title": "Roll out", "reason": "ready for everyone"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = step(&approver.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = step(&approver.api, id, "apply", None).await;
    assert_eq!(status, StatusCode::OK);

    let got = receiver.wait_for("generic", 3).await;
    let names: Vec<&str> = got.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "change-request.submitted",
            "change-request.approved",
            "change-request.applied"
        ]
    );
    let applied = &got[2];
    assert_eq!(applied["project"], PROJECT);
    assert_eq!(applied["changeRequest"]["id"], id);
    assert_eq!(applied["changeRequest"]["title"], "Roll out");
    assert_eq!(applied["changeRequest"]["state"], "applied");
    assert_eq!(applied["changeRequest"]["environment"], "production");
    assert_eq!(applied["changeRequest"]["author"], editor.email);
    assert_eq!(
        applied["changeRequest"]["approvers"],
        json!([approver.email])
    );
    assert_eq!(
        applied["url"],
        format!("https://flags.example.com/change-requests/{id}")
    );
    assert!(applied["at"].as_str().unwrap().ends_with('Z'), "{applied}");
    // The body carries the request's changes in words, as its page shows them.
    let change = &applied["changes"][0];
    assert_eq!(change["flag"], "checkout", "{applied}");
    assert_eq!(
        change["lines"][0]["sentence"], "Switched off → on",
        "{applied}"
    );
    assert_eq!(change["lines"][0]["before"], "off");
    assert_eq!(change["lines"][0]["after"], "on");
    assert_eq!(got[0]["reason"], "ready for everyone");
    assert_eq!(got[0]["changeRequest"]["state"], "in-review");

    let slack_got = receiver.wait_for("slack", 2).await;
    assert_eq!(
        slack_got.len(),
        2,
        "slack listens to submitted and applied only"
    );
    let text = slack_got[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("{} applied change request #{id}", approver.email)),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "<https://flags.example.com/change-requests/{id}|Open in Switchyard>"
        )),
        "{text}"
    );
    assert!(text.contains("\n• checkout: Switched off → on\n"), "{text}");
    assert_eq!(slack_got[1].as_object().unwrap().len(), 1, "only text");

    // The emergency kill is announced too.
    let r = editor
        .api
        .kill(
            PROJECT,
            "checkout",
            "production",
            &json!({"reason": "500s on checkout"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = receiver.wait_for("generic", 4).await;
    assert_eq!(got[3]["event"], "flag.killed");
    assert_eq!(got[3]["flag"], "checkout");
    assert_eq!(got[3]["reason"], "500s on checkout");
    assert!(got[3].get("changeRequest").is_none());
    let slack_got = receiver.wait_for("slack", 3).await;
    assert!(
        slack_got[2]["text"]
            .as_str()
            .unwrap()
            .contains("killed the flag checkout in web/production"),
        "{}",
        slack_got[2]
    );

    // Deliveries are listed; deleting a webhook is audited and stops it.
    let hook = generic["webhook"]["id"].as_i64().unwrap();
    let list = format!("/api/admin/projects/{PROJECT}/webhooks/{hook}/deliveries");
    // The receiver holds the last body before the server has recorded its answer: look again
    // for a moment until it has.
    let started = std::time::Instant::now();
    let d = loop {
        let (status, d) = status_json(owner.api.get(&list).await).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        let delivered = d["deliveries"]
            .as_array()
            .is_some_and(|all| all.iter().all(|x| x["status"] == "delivered"));
        if delivered || started.elapsed() > std::time::Duration::from_secs(5) {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let deliveries = d["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|x| x["status"] == "delivered"), "{d}");
    let r = owner
        .api
        .send(
            Method::DELETE,
            &format!("/api/admin/projects/{PROJECT}/webhooks/{hook}"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, audit) = status_json(admin.api.audit("action=webhook.created").await).await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit}");
    let (_, audit) = status_json(admin.api.audit("action=webhook.deleted").await).await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_and_never_blocks_the_workflow() {
    let (receiver, base) = Receiver::start(2).await;
    // A port that refuses connections: bound, then released.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", l.local_addr().unwrap())
    };
    let (k, hosts) = allow(&[&base, &dead]);
    let app =
        TestApp::spawn_with_env(&[("SWITCHYARD_WEBHOOK_BACKOFF_MS", "200"), (k, &hosts)]).await;
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    let (status, flaky) = add_webhook(&admin.api, json!({"url": format!("{base}/flaky")})).await;
    assert_eq!(status, StatusCode::CREATED, "{flaky}");
    let (status, gone) = add_webhook(&admin.api, json!({"url": dead})).await;
    assert_eq!(status, StatusCode::CREATED, "{gone}");

    admin.api.new_flag(PROJECT, "search").await;
    let id = propose_on(&editor.api, "search").await;
    let (status, _) = step(
        &editor.api,
        id,
        "submit",
        Some(json!({"title": "Search", "reason": "faster"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = step(
        &approver.api,
        id,
        "reject",
        Some(json!({"reason": "not yet"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Two 500s, then delivered: submitted after three calls, rejected after one more.
    let got = receiver.wait_for("flaky", 2).await;
    assert_eq!(got[0]["event"], "change-request.submitted");
    assert_eq!(got[1]["event"], "change-request.rejected");
    assert_eq!(got[1]["reason"], "not yet");
    assert_eq!(got[1]["changeRequest"]["state"], "rejected");
    assert!(receiver.calls.load(Ordering::SeqCst) >= 4);

    let deliveries = |hook: i64| {
        let api = admin.api.clone();
        async move {
            let (status, d) = status_json(
                api.get(&format!(
                    "/api/admin/projects/{PROJECT}/webhooks/{hook}/deliveries"
                ))
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{d}");
            d["deliveries"].as_array().unwrap().clone()
        }
    };
    let flaky_id = flaky["webhook"]["id"].as_i64().unwrap();
    let d = deliveries(flaky_id).await;
    let attempts: i64 = d.iter().map(|x| x["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 4, "two failures and two deliveries: {d:?}");
    assert!(d.iter().all(|x| x["status"] == "delivered"), "{d:?}");

    // The dead endpoint keeps failing: attempts grow with the error kept, and the later event
    // waits behind the first (events reach a webhook in order).
    let gone_id = gone["webhook"]["id"].as_i64().unwrap();
    let start = Instant::now();
    loop {
        let d = deliveries(gone_id).await;
        assert_eq!(d.len(), 2, "{d:?}");
        // Newest first.
        let (later, first) = (&d[0], &d[1]);
        if first["attempts"].as_i64().unwrap() >= 3 {
            assert_eq!(first["event"], "change-request.submitted");
            assert_eq!(first["status"], "pending", "{d:?}");
            assert!(first["lastError"].is_string(), "{d:?}");
            assert_eq!(later["attempts"], 0, "{d:?}");
            assert_eq!(later["status"], "pending", "{d:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{d:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a signed-delivery receiver saw: headers and the raw body, byte for byte.
type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>;

async fn raw_receiver() -> (Seen, String) {
    let seen: Seen = Arc::default();
    let app =
        Router::new()
            .route(
                "/hook",
                post(
                    |State(seen): State<Seen>,
                     headers: axum::http::HeaderMap,
                     body: bytes::Bytes| async move {
                        seen.lock().unwrap().push((headers, body));
                        AxumStatus::NO_CONTENT
                    },
                ),
            )
            .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, url)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Issue 4: every delivery is signed with the webhook's own secret, shown once at creation, so
/// a receiver can check it came from this server; and https endpoints (Slack) are reachable.
#[tokio::test]
async fn deliveries_are_signed_with_the_secret_shown_once_and_https_speaks_tls() {
    let (seen, url) = raw_receiver().await;
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_url = format!("https://{}/hook", tls.local_addr().unwrap());
    let (k, hosts) = allow(&[&url, &tls_url]);
    let app = TestApp::spawn_with_env(&[(k, &hosts)]).await;
    let admin = app.admin();
    let owner = app.user("owner");
    let editor = app.user("editor");

    let (status, made) = add_webhook(&owner.api, json!({ "url": url })).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(made["webhook"]["signed"], true);
    let (status, _) = add_webhook(&owner.api, json!({ "url": tls_url })).await;
    assert_eq!(status, StatusCode::CREATED);
    // Never again: not in the list, nor in the audit log.
    let list = owner
        .api
        .get(&format!("/api/admin/projects/{PROJECT}/webhooks"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !list.contains(&secret) && !list.contains("\"secret\""),
        "{list}"
    );
    let audit = admin
        .api
        .audit("action=webhook.created")
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(&secret), "{audit}");

    admin.api.new_flag(PROJECT, "checkout").await;
    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    let r = editor
        .api
        .kill(
            PROJECT,
            "checkout",
            "development",
            &json!({"reason": "errors"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The https endpoint is spoken to in TLS: the first bytes are a TLS handshake record
    // (0x16, version 3.x), where a client without TLS would refuse the URL outright.
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(20), tls.accept())
        .await
        .expect("the deliverer connects to the https endpoint")
        .unwrap();
    let mut first = [0u8; 2];
    tokio::io::AsyncReadExt::read_exact(&mut conn, &mut first)
        .await
        .unwrap();
    assert_eq!(first, [0x16, 0x03], "a TLS ClientHello");
    drop(conn);

    let start = Instant::now();
    let (headers, body) = loop {
        if let Some(got) = seen.lock().unwrap().first().cloned() {
            break got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
    assert_eq!(header("x-switchyard-event"), "flag.killed");
    assert_eq!(
        header("x-switchyard-signature"),
        format!("sha256={}", hmac_hex(&secret, &body))
    );
    assert!(header("x-switchyard-delivery").parse::<i64>().is_ok());
    assert_eq!(header("content-type"), "application/json");
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["event"], "flag.killed");
    // A different secret does not match: the signature is the receiver's check.
    assert_ne!(
        header("x-switchyard-signature"),
        format!("sha256={}", hmac_hex("whsec_other", &body))
    );
}

fn secret_on(html: &str) -> String {
    let marker = "<code class=\"secret\" id=\"new-secret\">";
    let start = html.find(marker).expect("the secret is shown") + marker.len();
    html[start..start + html[start..].find('<').unwrap()].to_string()
}

/// Issue 4: the webhooks page in a project's settings: owners list, add (URL checked, the
/// message by the field; the secret shown once) and delete webhooks and see their deliveries;
/// everyone else is refused; every change is audited.
#[tokio::test]
async fn owners_manage_webhooks_and_see_deliveries_on_the_settings_page() {
    let (seen, url) = raw_receiver().await;
    let (k, hosts) = allow(&[&url]);
    let app = TestApp::spawn_with_env(&[(k, &hosts)]).await;
    let admin = app.admin();
    let owner = app.user("owner");
    let editor = app.user("editor");
    let page = format!("/projects/{PROJECT}/settings/webhooks");

    for who in [&editor.email, &app.user("viewer").email] {
        let b = app.signed_in(who).await;
        assert_eq!(b.get(&page).await.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let b = app.signed_in(&owner.email).await;
    let csrf = b.csrf().await;
    let r = b.get(&page).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("No webhooks yet"));

    let r = b
        .post_form(
            &page,
            &[
                ("url", "ftp://example.com/x"),
                ("format", "generic"),
                ("csrf_token", &csrf),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"<p class="field-error">give an absolute http:// or https:// URL</p>"#),
        "{html}"
    );
    assert!(
        html.contains("value=\"ftp://example.com/x\""),
        "the input is kept"
    );

    let r = b
        .post_form(
            &page,
            &[
                ("url", &url),
                ("format", "generic"),
                ("event:flag.killed", "on"),
                ("csrf_token", &csrf),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let secret = secret_on(&r.text().await.unwrap());
    assert!(secret.starts_with("whsec_"), "{secret}");
    let html = b.get(&page).await.text().await.unwrap();
    assert!(!html.contains(&secret), "shown once");
    assert!(html.contains(&url) && html.contains("flag.killed") && html.contains("none yet"));

    admin.api.new_flag(PROJECT, "search").await;
    admin
        .api
        .toggle(PROJECT, "search", "development", true)
        .await;
    let kill = json!({"reason": "slow"});
    let r = editor
        .api
        .kill(PROJECT, "search", "development", &kill)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let start = Instant::now();
    let list = loop {
        let html = b.get(&page).await.text().await.unwrap();
        if html.contains(">delivered</span>") {
            break html;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{html}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (headers, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(
        headers["x-switchyard-signature"].to_str().unwrap(),
        format!("sha256={}", hmac_hex(&secret, &body)),
        "signed with the secret the page showed"
    );
    let marker = format!("href=\"{page}/");
    let at = list.find(&marker).unwrap() + marker.len();
    let id: i64 = list[at..at + list[at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let detail = b.get(&format!("{page}/{id}")).await;
    assert_eq!(detail.status(), StatusCode::OK);
    let detail = detail.text().await.unwrap();
    assert!(detail.contains("<code>flag.killed</code>") && detail.contains(">delivered</span>"));

    let r = b
        .post_form(
            &format!("{page}/{id}/delete"),
            &[("csrf_token", &csrf)],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(b
        .get(&page)
        .await
        .text()
        .await
        .unwrap()
        .contains("No webhooks yet"));
    assert_eq!(
        b.get(&format!("{page}/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    for action in ["webhook.created", "webhook.deleted"] {
        let (_, log) = status_json(admin.api.audit(&format!("action={action}")).await).await;
        let entries = log["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{log}");
        assert_eq!(entries[0]["actorLabel"], owner.email.as_str());
    }
}
