//! The live inbox in real Chromium (the harness of `e2e.rs`), on SQLite and on Postgres: with /inbox open, a
//! webhook from the mock Meta Cloud API shows its conversation, and with the conversation open its message, within
//! a second and without a reload; the agent replies and the mock receives Meta's request; a `read` status turns the
//! tick to read; a failed send shows its reason live and Retry sends it again; the `e` shortcut resolves at once
//! (optimistic) and a change the server refuses is rolled back with a notice.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::e2e::Browser;
use crate::helpers::Backend;
use crate::inbox_ui::path_of;
use crate::mock_providers::{Failure, MockProvider, meta, post_webhook};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const SECRET: &str = "e2e-live-app-secret";
const PHONE: &str = "+15550180";
/// The promise: a webhook shows in the open inbox within a second.
const LIVE_WITHIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_inbox_in_chromium_on_sqlite() {
    live_inbox(Backend::Sqlite, "inbox-live/sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_inbox_in_chromium_on_postgres() {
    live_inbox(Backend::Postgres, "inbox-live/postgres").await;
}

/// How long a live change may take to show. Generous: the whole suite runs in parallel on CI's two cores, where a
/// send job can queue behind other tests' work for seconds (this is a correctness check; latency is G4's bench).
const LIVE_PATIENCE: Duration = Duration::from_secs(30);

/// Polls `script` in the page until it returns true; the time it took (fails after [`LIVE_PATIENCE`]).
async fn until(browser: &Browser, what: &str, script: &str) -> Duration {
    let started = Instant::now();
    loop {
        if browser.execute(script, vec![]).await == json!(true) {
            return started.elapsed();
        }
        if started.elapsed() > LIVE_PATIENCE {
            let shot = browser.shot("failure").await;
            let text = browser.execute("return document.body.innerText", vec![]).await;
            let waited = LIVE_PATIENCE.as_secs();
            panic!(
                "waited {waited} s for {what}; screenshot {}; page:\n{}",
                shot.display(),
                text.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The page was not reloaded since `mark` was set (a reload or a full navigation forgets window properties).
async fn not_reloaded(browser: &Browser) {
    assert_eq!(browser.execute("return window.liveMark === 1", vec![]).await, json!(true), "the page was reloaded");
}

async fn live_inbox(backend: Backend, run: &str) {
    let Some(browser) = Browser::start(run).await else { return };
    let Some(api) = crate::api::installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let number = api.connect_meta(&mock, "Support", PHONE, SECRET, json!({})).await;
    let hook = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    let party = meta::CloudParty::new(&auth.account, PHONE, "+447700900180");
    let webhook = |body: Value| {
        let hook = hook.clone();
        async move {
            assert_eq!(post_webhook(&hook, &meta::signed(&body, SECRET)).await.status(), 200);
            Instant::now()
        }
    };

    browser.goto(&api.app.url("/login")).await;
    browser.wait_for("#login-form").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#sign-out").await;
    browser.goto(&api.app.url("/inbox")).await;
    browser.wait_for("#inbox[data-events-after]").await;
    browser.execute("window.liveMark = 1", vec![]).await;
    browser.shot("inbox-empty").await;

    // A customer writes: the conversation appears in the open list.
    let answered = webhook(meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Hi! Is my order out?")).await;
    until(&browser, "the new row", "return !!document.querySelector(\"#conversations [id^='conversation-'] a\")").await;
    let row_latency = answered.elapsed();
    eprintln!("e2e live inbox ({backend:?}): webhook 200 → new conversation row in {row_latency:?}");
    assert!(row_latency <= LIVE_WITHIN, "the row took {row_latency:?}");
    not_reloaded(&browser).await;
    browser.shot("inbox-new-conversation").await;

    // The agent opens it (a boosted navigation keeps the stream); the next message shows in the thread.
    browser.click("#conversations [id^='conversation-'] a").await;
    browser.wait_for("#thread #reply-form").await;
    not_reloaded(&browser).await;
    let answered = webhook(meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Order #1042, please")).await;
    until(
        &browser,
        "the new bubble",
        "return [...document.querySelectorAll('#messages .msg--inbound')].some(m => m.textContent.includes('Order #1042'))",
    )
    .await;
    let bubble_latency = answered.elapsed();
    eprintln!("e2e live inbox ({backend:?}): webhook 200 → message bubble in the open thread in {bubble_latency:?}");
    assert!(bubble_latency <= LIVE_WITHIN, "the bubble took {bubble_latency:?}");
    not_reloaded(&browser).await;
    browser.shot("thread-new-message").await;

    // The agent replies: Meta's request reaches the mock; the tick turns to sent by itself.
    browser.fill("#text", "It left our warehouse this morning.").await;
    browser.click("#send-text").await;
    until(&browser, "the sent tick", "return !!document.querySelector(\"#messages [data-tick='sent']\")").await;
    let sends = mock.sends();
    assert_eq!(sends.len(), 1);
    let request = sends[0].json.clone().unwrap();
    assert_eq!(request["messaging_product"], "whatsapp");
    assert_eq!(request["to"], "447700900180");
    assert_eq!(request["type"], "text");
    assert_eq!(request["text"]["body"], "It left our warehouse this morning.");
    browser.execute("window.liveMark = 1", vec![]).await; // the reply form's own navigation is allowed
    browser.shot("thread-replied").await;

    // The customer reads it: the tick turns to read without a reload.
    let conversation = api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["id"].clone();
    let reply = crate::inbox_ui::newest_message(&api, conversation.as_i64().unwrap()).await;
    let wamid = reply["provider_message_id"].as_str().unwrap().to_owned();
    let answered = webhook(meta::status(&party, &wamid, "read", meta::now())).await;
    until(&browser, "the read tick", "return !!document.querySelector(\"#messages [data-tick='read']\")").await;
    eprintln!("e2e live inbox ({backend:?}): read status → read tick in {:?}", answered.elapsed());
    not_reloaded(&browser).await;
    browser.shot("thread-read").await;

    // The next send fails for good (expired token, Meta code 190): the reason shows live, and Retry sends it.
    mock.fail_next_send(1, Failure::TokenExpired);
    browser.fill("#text", "Here is your tracking link.").await;
    browser.click("#send-text").await;
    browser.execute("window.liveMark = 1", vec![]).await;
    // Read in one script: live updates replace the bubble while it settles, so an element handle can go stale.
    let failure =
        "(document.querySelector(\"#messages .msg--outbound[data-status='failed'] .msg__error\")?.textContent ?? '')";
    until(&browser, "the failure with Meta's code", &format!("return {failure}.includes('190')")).await;
    let reason = browser.execute(&format!("return {failure}"), vec![]).await;
    assert!(reason.as_str().unwrap_or_default().contains("190"), "the reason names Meta's code: {reason}");
    not_reloaded(&browser).await;
    browser.shot("thread-failed").await;
    browser.click("#messages .msg--outbound[data-status='failed'] .msg__retry button").await;
    let retried = concat!(
        "return document.querySelectorAll(\"#messages [data-status='failed']\").length === 0",
        " && document.querySelectorAll(\"#messages [data-tick='sent']\").length === 1"
    );
    until(&browser, "the retried send", retried).await;
    let sends = mock.sends();
    assert_eq!(sends.len(), 3, "the reply, the failed attempt and the retry");
    assert_eq!(sends[2].json.as_ref().unwrap()["text"]["body"], "Here is your tracking link.");
    browser.shot("thread-retried").await;
    let rows = browser.execute("return document.querySelectorAll('#conversations > li').length", vec![]).await;
    assert_eq!(rows, json!(1), "every live change replaced the conversation's one row");

    // Keyboard: `e` resolves the open conversation at once (optimistic), and the server agrees.
    let path = format!("/api/v1/conversations/{}", conversation.as_i64().unwrap());
    let status =
        || async { api.get(&path, &api.owner_key).await.body["status"].as_str().unwrap_or_default().to_owned() };
    browser.execute("document.activeElement && document.activeElement.blur()", vec![]).await;
    browser.press("e").await;
    until(
        &browser,
        "the optimistic state",
        "return document.querySelector('#thread-status').textContent.trim() === 'Resolved'",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while status().await != "resolved" {
        assert!(Instant::now() < deadline, "the `e` shortcut did not resolve the conversation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    not_reloaded(&browser).await;
    browser.shot("thread-resolved-by-keyboard").await;

    // An optimistic change the server refuses (a stale form token) is rolled back and explained.
    browser.execute("window.location.reload()", vec![]).await;
    browser.wait_for("#thread #action-status-open").await;
    browser.execute("window.liveMark = 1", vec![]).await;
    browser.execute("document.querySelector('#action-status-open [name=csrf]').value = 'stale'", vec![]).await;
    browser.click("#action-status-open button").await;
    until(&browser, "the error notice", "return !!document.querySelector('[role=alert]')").await;
    until(
        &browser,
        "the rollback",
        "return document.querySelector('#thread-status').textContent.trim() === 'Resolved'",
    )
    .await;
    assert_eq!(status().await, "resolved", "the refused change changed nothing");
    not_reloaded(&browser).await;
    browser.shot("thread-optimistic-rolled-back").await;

    // The same three panels in Arabic: mirrored, with the live stream still connected.
    browser.click(".lang-switch a[hreflang=ar]").await;
    browser.wait_for("html[lang=ar] #thread #reply-form").await;
    assert_eq!(browser.execute("return document.documentElement.dir", vec![]).await, json!("rtl"));
    browser.wait_for("#inbox[data-events-after]").await;
    browser.shot("thread-arabic").await;
    browser.done(&format!("the live inbox on {backend:?}"));
}
