//! Issue 9 in a real Chromium: the command palette, keyboard only, from any page; and no page of
//! the main journeys scrolling sideways on a 390 px phone or a 1440 px screen. Screenshots of
//! every page at both sizes land in `target/screenshots/` (`layout-390-*`, `layout-1440-*`).

use crate::browser::sign_in_as;
use crate::support::browser::Chrome;
use crate::support::{Api, TestApp, ADMIN_EMAIL, PROJECT};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Presses one key on whatever has the focus, as a person would.
async fn press(chrome: &Chrome, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    chrome
        .client
        .perform_actions(keys)
        .await
        .unwrap_or_else(|e| panic!("press {key:?}: {e}"));
}

const ENTER: char = '\u{E007}';
const ESCAPE: char = '\u{E00C}';
const ARROW_DOWN: char = '\u{E015}';

async fn js(chrome: &Chrome, script: &str) -> Value {
    chrome
        .client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

#[tokio::test]
async fn the_command_palette_finds_a_flag_by_a_word_of_its_description_and_opens_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let r = admin
        .api
        .create_flag(
            PROJECT,
            &json!({"key": "pay-later", "name": "Pay later",
                    "description": "Klarna installments at checkout"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    admin.api.new_flag(PROJECT, "installer-banner").await;
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "palette-01-login").await;

    // From the audit page, which has a filter form of its own: "/" opens the palette.
    chrome.goto("/audit").await;
    chrome
        .wait_until("document.readyState === 'complete'")
        .await;
    press(&chrome, '/').await;
    chrome.wait_for("#palette[open]").await;
    let focused = js(&chrome, "return document.activeElement.id;").await;
    assert_eq!(focused, "palette-input", "the search field has the focus");
    press(&chrome, 'k').await;
    for c in "larna".chars() {
        press(&chrome, c).await;
    }
    chrome.wait_for("#palette-list [role=option]").await;
    chrome.screenshot("palette-02-found").await;
    let options = js(
        &chrome,
        "return Array.from(document.querySelectorAll('#palette-list [role=option]'))\
         .map(o => o.dataset.href);",
    )
    .await;
    assert_eq!(options, json!(["/projects/web/flags/pay-later"]));
    let active = js(
        &chrome,
        "var i = document.getElementById('palette-input'); \
         return [i.getAttribute('aria-activedescendant'), i.getAttribute('aria-expanded'), \
         document.getElementById(i.getAttribute('aria-activedescendant')).getAttribute('aria-selected')];",
    )
    .await;
    assert_eq!(active, json!(["palette-option-0", "true", "true"]));

    // Escape closes it and gives the page back; "/" opens it again with the words kept.
    press(&chrome, ESCAPE).await;
    chrome
        .wait_until("!document.getElementById('palette').open")
        .await;
    press(&chrome, '/').await;
    chrome.wait_for("#palette[open]").await;

    // A word of two flags: the arrows move between them, Enter opens the active one.
    js(
        &chrome,
        "var i = document.getElementById('palette-input'); i.value = ''; \
         i.dispatchEvent(new Event('input'));",
    )
    .await;
    for c in "install".chars() {
        press(&chrome, c).await;
    }
    chrome
        .wait_until("document.querySelectorAll('#palette-list [role=option]').length === 2")
        .await;
    press(&chrome, ARROW_DOWN).await;
    let second = js(
        &chrome,
        "return document.getElementById(document.getElementById('palette-input')\
         .getAttribute('aria-activedescendant')).dataset.href;",
    )
    .await;
    press(&chrome, ENTER).await;
    let target = second.as_str().unwrap().to_string();
    chrome
        .wait_until(&format!("location.pathname === '{target}'"))
        .await;
    chrome.screenshot("palette-03-opened").await;

    // Typing "/" in a field types it; it does not open the palette.
    chrome.goto("/projects/web/flags").await;
    chrome.fill("#search", "a/b").await;
    let open = js(&chrome, "return document.getElementById('palette').open;").await;
    assert_eq!(open, json!(false));
    chrome.quit().await;
}

/// A project worth laying out: long keys, tags, owners, rollouts, a segment, a change request.
async fn journeys(app: &TestApp, api: &Api) -> i64 {
    for (key, desc) in [
        (
            "checkout-experience-redesign-2026-eu-west",
            "The new checkout for the EU west region, rolled out slowly",
        ),
        ("pay-later", "Klarna installments at checkout"),
        ("search-ranking-v2", "Learning-to-rank for the search page"),
    ] {
        let r = api
            .create_flag(
                PROJECT,
                &json!({"key": key, "description": desc, "tags": ["checkout", "payments", "q4-2026"],
                        "owner": ADMIN_EMAIL}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let strategies = json!([
        {"name": "flexibleRollout", "parameters": {"rollout": "10"},
         "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR", "NL"]}]},
        {"name": "userWithId", "parameters": {"userIds": "ann,bob"}}
    ]);
    let path = format!(
        "/api/admin/projects/{PROJECT}/flags/checkout-experience-redesign-2026-eu-west/environments/development/strategies"
    );
    let r = api.send(Method::PUT, &path, Some(&strategies)).await;
    assert_eq!(r.status(), StatusCode::OK);
    api.toggle(
        PROJECT,
        "checkout-experience-redesign-2026-eu-west",
        "development",
        true,
    )
    .await;
    api.toggle(PROJECT, "pay-later", "staging", true).await;
    let r = api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/segments"),
            Some(&json!({"name": "internal-staff", "constraints": [
                {"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"]}]})),
        )
        .await;
    assert!(r.status().is_success());
    let r = api
        .toggle(
            PROJECT,
            "checkout-experience-redesign-2026-eu-west",
            "production",
            true,
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let cr: Value = r.json().await.unwrap();
    let _ = app;
    cr["changeRequest"]["id"].as_i64().unwrap()
}

/// What is wrong with the page shown, at `width`: wider than the window, something cut off at
/// its edge, a table that scrolls sideways. Takes the page's screenshot (`layout-{width}-{name}`).
async fn layout_faults(chrome: &Chrome, name: &str, width: u32) -> Vec<String> {
    chrome
        .wait_until("document.readyState === 'complete'")
        .await;
    let measured = js(
        chrome,
        "var boxes = Array.from(document.querySelectorAll('.table-wrap'))\
           .filter(w => w.scrollWidth > w.clientWidth + 1)\
           .map(w => (w.querySelector('th') || w).textContent.trim().slice(0, 40) \
                + ' (' + w.scrollWidth + ' in ' + w.clientWidth + ')'); \
         var edge = document.documentElement.clientWidth; \
         var cut = Array.from(document.querySelectorAll('main *, header *')).filter(el => { \
           var r = el.getBoundingClientRect(); \
           if (r.width === 0 || r.right <= edge + 1) return false; \
           for (var p = el.parentElement; p; p = p.parentElement) { \
             var o = getComputedStyle(p).overflowX; \
             if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return false; } \
           return !el.closest('.sr-only, dialog:not([open])'); }) \
           .slice(0, 3).map(el => el.tagName + '.' + el.className + ' ' + \
             (el.textContent || '').trim().slice(0, 30)); \
         return [document.documentElement.scrollWidth, window.innerWidth, boxes, cut];",
    )
    .await;
    let (scroll, viewport, boxes) = (
        measured[0].as_i64().unwrap(),
        measured[1].as_i64().unwrap(),
        &measured[2],
    );
    chrome.screenshot(&format!("layout-{width}-{name}")).await;
    if width == 390 {
        assert!(
            viewport <= 420,
            "the window could not be made phone-sized (innerWidth {viewport})"
        );
    }
    let mut faults = Vec::new();
    if scroll > viewport {
        faults.push(format!("{name} at {width}: {scroll} px wide in {viewport}"));
    }
    // On a wide screen no table needs to scroll; on a phone, tables are cards or fit.
    if measured[3] != json!([]) {
        faults.push(format!(
            "{name} at {width}: cut off at the edge: {}",
            measured[3]
        ));
    }
    if boxes != &json!([]) {
        faults.push(format!(
            "{name} at {width}: tables scroll sideways: {boxes}"
        ));
    }
    faults
}

const SIZES: [(u32, u32); 2] = [(390, 844), (1440, 900)];

#[tokio::test]
async fn no_page_of_the_main_journeys_scrolls_sideways_on_a_phone_or_a_wide_screen() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let cr = journeys(&app, &admin.api).await;
    let flag = format!("/projects/{PROJECT}/flags/checkout-experience-redesign-2026-eu-west");
    let plan = format!("/api/admin{flag}/environments/staging/release-plan");
    let r = admin
        .api
        .send(Method::POST, &plan, Some(&json!({"template": "gradual"})))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "a plan to show");
    let pages: Vec<(&str, String)> = vec![
        ("home", "/".into()),
        ("projects", "/projects".into()),
        ("project", format!("/projects/{PROJECT}")),
        ("catalog", format!("/projects/{PROJECT}/flags")),
        ("all-flags", "/flags".into()),
        ("flag", flag.clone()),
        ("flag-history", format!("{flag}?tab=history")),
        ("flag-usage", format!("{flag}?tab=usage")),
        ("flag-lifecycle", format!("{flag}?tab=lifecycle")),
        ("flag-code", format!("{flag}/code")),
        ("flag-edit", format!("{flag}/edit")),
        ("targeting", format!("{flag}/targeting?env=development")),
        ("release-plan", format!("{flag}/environments/staging/plan")),
        ("requests", "/change-requests".into()),
        ("requests-closed", "/change-requests?tab=closed".into()),
        ("request", format!("/change-requests/{cr}")),
        ("audit", "/audit".into()),
        ("lifecycle", format!("/projects/{PROJECT}/lifecycle")),
        ("reports", "/reports".into()),
        ("report", "/reports/stale".into()),
        ("templates", "/release-templates".into()),
        (
            "project-templates",
            format!("/projects/{PROJECT}/release-templates"),
        ),
        ("settings", format!("/projects/{PROJECT}/settings")),
        ("webhooks", format!("/projects/{PROJECT}/webhooks")),
        ("segments", format!("/projects/{PROJECT}/segments")),
        ("tokens", format!("/projects/{PROJECT}/tokens")),
        ("explain", format!("/projects/{PROJECT}/explain")),
        ("search", "/search?q=checkout".into()),
        ("users", "/admin/users".into()),
        ("account", "/account".into()),
        ("not-found", "/no-such-page".into()),
    ];
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "layout-00-login").await;
    let mut wide = Vec::new();
    for (width, height) in SIZES {
        chrome
            .client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        for (name, path) in &pages {
            chrome.goto(path).await;
            wide.extend(layout_faults(&chrome, name, width).await);
        }
    }
    chrome.quit().await;

    // Signed out: the sign-in page. A viewer: a page they may not see (403) in the frame.
    let viewer = app.user("viewer");
    let chrome = Chrome::start(&app.base).await;
    for (width, height) in SIZES {
        chrome
            .client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        chrome.goto("/login").await;
        wide.extend(layout_faults(&chrome, "login", width).await);
    }
    sign_in_as(&chrome, &viewer.email, "layout-00-viewer-login").await;
    for (width, height) in SIZES {
        chrome
            .client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        chrome.goto("/admin/users").await;
        chrome.wait_for(".error-page").await;
        wide.extend(layout_faults(&chrome, "forbidden", width).await);
    }
    chrome.quit().await;
    assert!(wide.is_empty(), "pages wider than the screen: {wide:#?}");
}

#[tokio::test]
async fn the_catalog_filters_in_place_with_a_clean_address_and_selects_a_page_for_bulk_actions() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["pay-later", "pay-now", "search-v2"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "catalog-01-login").await;
    chrome.goto(&format!("/projects/{PROJECT}/flags")).await;
    chrome.wait_until("window.htmx !== undefined").await;
    js(&chrome, "window.__sameDocument = true;").await;
    chrome.fill("#search", "pay").await;
    // htmx swaps the results and shows the address with only what is set.
    chrome
        .wait_until("location.search === '?q=pay' && document.querySelectorAll('#results tbody tr').length === 2")
        .await;
    let same = js(&chrome, "return window.__sameDocument === true;").await;
    assert_eq!(same, json!(true), "filtered in place, without a reload");

    // Select the page: every row's box, and the count says so. (Leaving the search field does
    // not fetch the results again, which would drop the selection.)
    chrome.click("input[data-select-all='bulk']").await;
    let counted = js(
        &chrome,
        "return [document.querySelectorAll('input[form=bulk][name=flags]:checked').length, \
         document.querySelector('[data-selected-count=bulk]').textContent];",
    )
    .await;
    assert_eq!(counted, json!([2, "2 flags selected"]));
    chrome.fill("#bulk input[name=value]", "wallet").await;
    chrome.screenshot("catalog-02-selected").await;
    chrome.click("#bulk button[type=submit]").await;
    chrome.wait_for(".bulk-results").await;
    chrome.screenshot("catalog-03-bulk-done").await;
    let text = chrome.body_text().await;
    assert!(text.contains("2 changed"), "{text}");
    let tags = admin.api.flag_json(PROJECT, "pay-now").await["flag"]["tags"].clone();
    assert_eq!(tags, json!(["wallet"]));
    chrome.quit().await;
}
