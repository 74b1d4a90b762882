//! Until installed: everything leads to `/install`, which opens only with the setup token.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(pages_redirect_to_the_wizard, pages_redirect_to_the_wizard_on);
async fn pages_redirect_to_the_wizard_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    for path in ["/", "/inbox", "/login?next=/x"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/install", "{path}");
    }
    let api = app.get("/api/v1/me").await;
    assert_eq!(api.status(), 503);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(body["error"]["request_id"].as_str().is_some_and(|id| id.len() > 8));
}

both_backends!(the_wizard_needs_the_token, the_wizard_needs_the_token_on);
async fn the_wizard_needs_the_token_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let without = app.get("/install").await;
    assert_eq!(without.status(), 403);
    let page = without.text().await.unwrap();
    assert!(page.contains("setup link"), "explains what is needed");
    assert!(!page.contains(&app.setup_token()), "the token is never shown to a visitor without it");

    let wrong = app.get("/install?token=0000000000000000000000000000000000000000").await;
    assert_eq!(wrong.status(), 403);
    assert!(wrong.text().await.unwrap().contains("not valid"));
    assert_eq!(app.get("/install/checks").await.status(), 403, "fragments need the token too");

    // The printed link: the token becomes a cookie and leaves the address bar.
    let with = app.get(&format!("/install?token={}", app.setup_token())).await;
    assert_eq!(with.status(), 303);
    assert_eq!(with.headers()["location"], "/install");
    let cookie = with.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/install"), "{cookie}");

    let wizard = app.get("/install").await;
    assert_eq!(wizard.status(), 200);
    let html = wizard.text().await.unwrap();
    for id in [
        "data_dir",
        "disk_space",
        "memory",
        "database",
        "outbound_https",
        "clock",
        "ports",
        "network_fs",
        "reverse_proxy",
    ] {
        assert!(html.contains(&format!("data-check=\"{id}\"")), "check {id} is shown");
    }
    assert!(html.contains("steps__item--current"), "progress indicator");
    // The probe URL points at a closed port: the outbound check warns and says what to do.
    assert!(html.contains("check check--warn\" data-check=\"outbound_https\""), "{html}");
}

both_backends!(checks_answer_as_fragment_and_json, checks_answer_as_fragment_and_json_on);
async fn checks_answer_as_fragment_and_json_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.enter_wizard().await;
    let fragment = app.client.get(app.url("/install/checks")).header("hx-request", "true").send().await.unwrap();
    assert_eq!(fragment.status(), 200);
    let html = fragment.text().await.unwrap();
    assert!(html.contains("class=\"checks\"") && !html.contains("<html"), "a fragment, not a page");

    let json: serde_json::Value = app
        .client
        .get(app.url("/install/checks"))
        .header("accept", "application/json")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checks = json["checks"].as_array().unwrap();
    let find = |id: &str| checks.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {json}"));
    assert_eq!(find("database")["status"], "pass");
    assert_eq!(find("data_dir")["status"], "pass");
    assert!(find("reverse_proxy")["detail"].as_str().unwrap().contains("x-forwarded-for"));
    assert!(find("outbound_https")["fix"].as_str().is_some(), "a warning comes with its fix");
    let backend_name = if backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
    assert!(find("database")["detail"].as_str().unwrap().contains(backend_name), "{}", find("database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_survives_a_restart() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let token = app.setup_token();
    let (dir, _db) = app.stop().await;
    let config = crate::helpers::test_config(dir.path(), None, &[]);
    let again = conversure::startup::Application::build(config).await.unwrap();
    assert!(again.banner().contains(&format!("/install?token={token}")), "the printed link stays valid");
}
