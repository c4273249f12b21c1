//! A locked database in a real Chromium: a write that cannot be stored answers the 503 page
//! inside the signed-in frame (the navigation stays, so the reader can go on), saying what
//! happened in plain words; once the lock is gone the same form goes through.

use crate::browser::sign_in_as;
use crate::support::browser::Chrome;
use crate::support::{TestApp, ADMIN_EMAIL};
use serde_json::{json, Value};

const BUSY: &str = "The database is busy or unavailable; try again shortly.";

async fn js(chrome: &Chrome, script: &str) -> Value {
    chrome
        .client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

async fn fill_new_project(chrome: &Chrome, key: &str) {
    chrome.goto("/projects/new").await;
    chrome.fill("#key", key).await;
    chrome.fill("#name", "Locked out").await;
}

#[tokio::test]
async fn a_write_while_the_database_is_locked_shows_the_503_page_in_the_app_frame() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "unavailable-01-login").await;
    fill_new_project(&chrome, "locked-out").await;

    // SQLite's file lock; PostgreSQL has no lock that the busy timeout answers.
    let Some(mut lock) = app.sqlite_file().await else {
        return;
    };
    sqlx::query("begin exclusive")
        .execute(&mut lock)
        .await
        .unwrap();
    chrome
        .click("form[action='/projects'] button[type=submit]")
        .await;
    chrome.wait_for(".error-page").await;
    chrome.screenshot("unavailable-02-locked").await;
    let seen = js(
        &chrome,
        "return [performance.getEntriesByType('navigation')[0].responseStatus, \
                 document.querySelector('.error-code').textContent.trim(), \
                 document.querySelector('#error-title').textContent.trim(), \
                 !!document.querySelector('.topnav-user'), \
                 !!document.querySelector('nav a[href=\"/flags\"]'), \
                 document.querySelector('main').innerText];",
    )
    .await;
    assert_eq!(seen[0], json!(503), "the answer's status: {seen}");
    assert_eq!(seen[1], json!("503"));
    assert_eq!(seen[2], json!("Not now: try again in a moment"), "{seen}");
    assert_eq!(seen[3], json!(true), "signed in, in the app frame: {seen}");
    assert_eq!(seen[4], json!(true), "the navigation is there: {seen}");
    assert!(
        seen[5].as_str().unwrap().contains(BUSY),
        "says what happened: {seen}"
    );
    let text = chrome.body_text().await;
    for internal in ["SQLITE", "sqlx", "database is locked", "panicked"] {
        assert!(
            !text.contains(internal),
            "no internals ({internal}): {text}"
        );
    }

    // The navigation works while the lock holds: reading needs no write.
    chrome.click("nav a[href='/flags']").await;
    chrome.wait_for("#results").await;
    assert_eq!(chrome.path().await, "/flags");

    // Once it is released, the same form goes through.
    sqlx::query("rollback").execute(&mut lock).await.unwrap();
    fill_new_project(&chrome, "locked-out").await;
    chrome
        .click("form[action='/projects'] button[type=submit]")
        .await;
    chrome
        .wait_until("location.pathname === '/projects/locked-out'")
        .await;
    chrome.screenshot("unavailable-03-released").await;
    chrome.quit().await;
}
