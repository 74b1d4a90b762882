//! WhatsApp in a real browser (Chromium through ChromeDriver, the harness of `e2e.rs`): connecting a Meta number (its
//! fields, the webhook URL and verify token to paste into Meta's console, the connection test against the mock Cloud
//! API), and answering a customer from the inbox.

use crate::e2e::Browser;
use crate::helpers::{Backend, spawn_app};
use crate::mock_providers::MockProvider;
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_a_meta_number_in_chromium() {
    let Some(browser) = Browser::start("numbers").await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    app.client.post(app.url("/install/database")).form(&[("action", "use"), ("kind", "sqlite")]).send().await.unwrap();
    finish_after_database(&app).await;
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();

    browser.goto(&app.url("/login")).await;
    browser.wait_for("#login-form").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#sign-out").await;

    browser.goto(&app.url("/admin/numbers")).await;
    browser.wait_for("#connect-number").await;
    browser.shot("numbers-empty").await;
    browser.click("#connect-number").await;
    browser.wait_for("#provider-meta").await;
    browser.click("#provider-meta").await;
    browser.wait_for("#new-number-form[data-provider='meta']").await;
    browser.fill("#name", "Support line").await;
    browser.fill("#phone_number", "+1 555 0100").await;
    browser.fill("#cred_access_token", &auth.token).await;
    browser.fill("#cred_phone_number_id", &auth.account).await;
    browser.fill("#cred_app_secret", "browser-app-secret").await;
    browser.fill("#api_base_url", &mock.base_url()).await;
    browser.shot("meta-form").await;
    browser.click("#connect-submit").await;

    // The number's page: what to paste into Meta's console, and no secret in sight.
    browser.wait_for("#webhook-url").await;
    let url = browser.execute("return document.querySelector('#webhook-url').value", vec![]).await;
    assert!(url.as_str().is_some_and(|u| u.contains("/webhooks/meta/")), "{url}");
    let token = browser.execute("return document.querySelector('#verify-token').value", vec![]).await;
    assert!(token.as_str().is_some_and(|t| t.len() >= 20), "{token}");
    let html = browser.execute("return document.documentElement.outerHTML", vec![]).await;
    let html = html.as_str().unwrap_or_default();
    assert!(!html.contains(&auth.token) && !html.contains("browser-app-secret"), "secrets are never rendered");
    browser.shot("meta-number").await;

    browser.click("#test-connection").await;
    browser.wait_for("#test-result[data-test='ok']").await;
    let detail = browser.text("#test-detail").await;
    assert!(detail.contains("Mock Business"), "{detail}");
    browser.shot("meta-tested").await;
    browser.done("connecting a Meta number");
}

/// The inbox in a real browser: a customer's message arrives, the agent opens it and replies, and the reply gets
/// its tick once the mock Cloud API accepted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replying_from_the_inbox_in_chromium() {
    let Some(browser) = Browser::start("inbox").await else { return };
    let Some(api) = crate::api::installed(Backend::Sqlite).await else { return };
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let number = api
        .post(
            "/api/v1/whatsapp-accounts",
            &api.owner_key,
            serde_json::json!({"name": "Support", "provider": "meta", "phone_number": "+15550100",
                "api_base_url": mock.base_url(),
                "credentials": {"access_token": auth.token, "phone_number_id": auth.account, "app_secret": "s3cret"}}),
        )
        .await;
    assert_eq!(number.status, 201, "{}", number.body);
    let hook = url::Url::parse(number.body["webhook_url"].as_str().unwrap()).unwrap();
    let party = crate::mock_providers::meta::CloudParty::new(&auth.account, "+15550100", "+447700900123");
    let inbound = crate::mock_providers::meta::inbound_text(
        &party,
        &crate::mock_providers::meta::fresh_wamid(),
        crate::mock_providers::meta::now(),
        "Hello! Where is my order #1042?",
    );
    let signed = crate::mock_providers::meta::signed(&inbound, "s3cret");
    assert_eq!(crate::mock_providers::post_webhook(&api.app.url(hook.path()), &signed).await.status(), 200);

    browser.goto(&api.app.url("/login")).await;
    browser.wait_for("#login-form").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#sign-out").await;
    browser.goto(&api.app.url("/inbox")).await;
    browser.wait_for("#conversations [id^='conversation-'] a").await;
    browser.shot("inbox-list").await;
    browser.click("#conversations [id^='conversation-'] a").await;
    browser.wait_for("#reply-form").await;
    browser.fill("#text", "It left our warehouse this morning.").await;
    browser.click("#send-text").await;
    browser.wait_for("#messages .msg--outbound").await;
    // No live updates yet: reload until the send job has recorded the provider's answer.
    let thread = browser.url().await;
    for _ in 0..50 {
        let sent = browser.execute("return !!document.querySelector(\"#messages [data-tick='sent']\")", vec![]).await;
        if sent == serde_json::json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        browser.goto(&thread).await;
    }
    browser.wait_for("#messages [data-tick='sent']").await;
    let sent = mock.sends();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json.as_ref().unwrap()["text"]["body"], "It left our warehouse this morning.");
    browser.shot("inbox-replied").await;
    browser.done("replying from the inbox");
}
