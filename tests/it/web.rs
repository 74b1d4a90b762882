//! The web foundation: health, assets, headers, errors, branding and languages.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(healthz_follows_the_database, healthz_follows_the_database_on);
async fn healthz_follows_the_database_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let ok = app.get("/healthz").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    assert_eq!(app.get("/readyz").await.status(), 200);
    if let Some(pg) = &app.db.pg {
        pg.make_unreachable().await;
        let down = app.get("/healthz").await;
        assert_eq!(down.status(), 503, "a dead database is reported, not hidden");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_security_headers_and_a_request_id() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    for path in ["/healthz", "/install", "/nowhere", "/assets/css/app.css"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("x-request-id"), "{path}");
    }
    let echoed = app.client.get(app.url("/healthz")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_and_cache_busted() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    app.enter_wizard().await;
    let html = app.get("/install").await.text().await.unwrap();
    let css_url = html
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.starts_with("/assets/css/app.css?v=")))
        .expect("versioned stylesheet link");
    let js_url = html
        .split("src=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.starts_with("/assets/vendor/htmx.min.js?v=")))
        .expect("versioned htmx script");
    let css = app.get(css_url).await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(css.text().await.unwrap().contains("--brand-primary"));
    let js = app.get(js_url).await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("htmx"));
    let stale = app.get("/assets/css/app.css?v=old").await;
    assert_eq!(stale.headers()["cache-control"], "no-cache", "an old version is not cached forever");
    assert_eq!(app.get("/assets/vendor/htmx-ext-sse.js").await.status(), 200);
    assert_eq!(app.get("/assets/nope.js").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_render_as_page_fragment_or_json() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let page = app.get("/assets/x").await;
    assert_eq!(page.status(), 404);
    let missing = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 303, "not installed: the gate redirects before routing");

    let bad_lang = app.get("/lang?set=xx").await;
    assert_eq!(bad_lang.status(), 400);
    let request_id = bad_lang.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = bad_lang.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("bad_request") && html.contains(&request_id), "{html}");
    assert!(html.contains("&quot;xx&quot;") || html.contains("&#34;xx&#34;"), "user input is escaped: {html}");

    let fragment = app.client.get(app.url("/lang?set=xx")).header("hx-request", "true").send().await.unwrap();
    assert_eq!(fragment.status(), 400);
    assert_eq!(fragment.headers()["hx-retarget"], "#flash");
    assert!(!fragment.text().await.unwrap().contains("<html"));

    let json = app.client.get(app.url("/lang?set=xx")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(json.status(), 400);
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    let escaped = app.get("/lang?set=%3Cscript%3E").await.text().await.unwrap();
    assert!(
        !escaped.contains("<script>") && (escaped.contains("&lt;script&gt;") || escaped.contains("&#60;script&#62;")),
        "no user text is rendered unescaped: {escaped}"
    );
}

both_backends!(brand_and_language_come_from_settings, brand_and_language_come_from_settings_on);
async fn brand_and_language_come_from_settings_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.enter_wizard().await;
    let english = app.get("/install").await.text().await.unwrap();
    assert!(english.contains("<html lang=\"en\" dir=\"ltr\">"));
    assert!(english.contains("Server requirements"));

    // The owner's settings: a brand and Arabic as the default language.
    let url = match &app.db.url {
        Some(url) => conversure::config::DatabaseUrl::parse(url).unwrap(),
        None => conversure::config::DatabaseUrl::Sqlite(app.data_dir.path().join("conversure.db")),
    };
    let db = conversure::store::Db::open(&url).await.unwrap();
    let mut tx = db.write().await.unwrap();
    use conversure::store::settings::{Scope, put};
    put(&mut tx, Scope::Instance, "brand.name", "Acme <Chat>").await.unwrap();
    put(&mut tx, Scope::Instance, "brand.primary_color", "#ff6600").await.unwrap();
    put(&mut tx, Scope::Instance, "site.language", "ar").await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;

    let arabic = app.get("/install").await.text().await.unwrap();
    assert!(arabic.contains("<html lang=\"ar\" dir=\"rtl\">"), "right-to-left from the setting");
    assert!(arabic.contains("متطلبات الخادم"));
    assert!(arabic.contains("Acme &lt;Chat&gt;") || arabic.contains("Acme &#60;Chat&#62;"), "brand name, escaped");
    let brand_url =
        arabic.split("href=\"").find_map(|s| s.split('"').next().filter(|u| u.starts_with("/brand.css?v="))).unwrap();
    let css = app.get(brand_url).await.text().await.unwrap();
    assert!(css.contains("--brand-primary:#ff6600"), "{css}");

    // A visitor's own choice beats the instance default.
    let switched = app.get("/lang?set=en&back=/install").await;
    assert_eq!(switched.status(), 303);
    assert_eq!(switched.headers()["location"], "/install");
    let back_in_english = app.get("/install").await.text().await.unwrap();
    assert!(back_in_english.contains("<html lang=\"en\" dir=\"ltr\">"));
}
