//! Connecting a WhatsApp number in a real browser (Chromium through ChromeDriver, the harness of `e2e.rs`): choose
//! Meta, fill in its fields, land on the number's page with the webhook URL and verify token to paste into Meta's
//! console, and test the connection against the mock Cloud API.

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
