//! Signing in with TOTP in a real browser (Chromium through ChromeDriver, the harness of `e2e.rs`): enrol on the
//! security page with the QR code's secret, then sign out and in again with a code from "the app".

use serde_json::json;

use crate::e2e::Browser;
use crate::helpers::{Backend, spawn_app};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

fn code_now(totp: &totp_rs::Totp) -> String {
    totp.generate(now()).to_string()
}

/// A code that is none of the ones accepted now.
fn wrong_code(totp: &totp_rs::Totp) -> String {
    let valid: Vec<String> = [now() - 30, now(), now() + 30].iter().map(|t| totp.generate(*t).to_string()).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).expect("a wrong code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_enrolment_and_sign_in_in_chromium() {
    let Some(browser) = Browser::start("totp").await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    app.client.post(app.url("/install/database")).form(&[("action", "use"), ("kind", "sqlite")]).send().await.unwrap();
    finish_after_database(&app).await;

    // Sign in with the password.
    browser.goto(&app.url("/login")).await;
    browser.wait_for("#login-form").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#sign-out").await;

    // Enrol: the QR code is inline SVG the CSP lets render, with the key beside it for typing in.
    browser.goto(&app.url("/account/security")).await;
    browser.wait_for("#totp-start").await;
    browser.shot("security-off").await;
    browser.click("#totp-start").await;
    browser.wait_for("#totp-qr svg").await;
    let width =
        browser.execute("return document.querySelector('#totp-qr svg').getBoundingClientRect().width", vec![]).await;
    assert!(width.as_f64().is_some_and(|w| w >= 150.0), "the QR code renders at a scannable size: {width}");
    let secret = browser.text("#totp-secret").await;
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).expect("a base32 key");
    let totp = totp_rs::Builder::new().with_secret(secret.as_bytes().to_vec()).build().expect("TOTP");
    browser.shot("totp-setup").await;
    browser.fill("#code", &code_now(&totp)).await;
    browser.click("#totp-confirm").await;
    browser.wait_for("#recovery-codes").await;
    let codes = browser.execute("return document.querySelectorAll('#recovery-codes li').length", vec![]).await;
    assert_eq!(codes, json!(10), "ten recovery codes are shown once");
    browser.shot("recovery-codes").await;

    // Sign out, then in again: the password leads to the code step, the code to the start page.
    browser.click("#sign-out").await;
    browser.wait_for("#login-form").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#totp-form").await;
    assert!(browser.url().await.contains("/login/totp"), "the second step");
    browser.shot("totp-sign-in").await;
    browser.fill("#code", &wrong_code(&totp)).await;
    browser.click("#verify").await;
    browser.wait_for("#code-error").await;
    browser.shot("totp-wrong-code").await;
    browser.fill("#code", &code_now(&totp)).await;
    browser.click("#verify").await;
    browser.wait_for("#sign-out").await;
    assert_eq!(browser.url().await, app.url("/"));
    browser.shot("signed-in").await;
    browser.done("totp");
    let _ = app.stop().await;
}
