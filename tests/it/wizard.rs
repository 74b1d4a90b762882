//! The install wizard over HTTP, every step and its failures, on SQLite and on Postgres.

use reqwest::multipart::Form as Multipart;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::license_server::{MockLicenseServer, now_ms, test_license};
use crate::pg::TestDatabase;

pub const ADMIN_EMAIL: &str = "owner@acme.example";
pub const ADMIN_PASSWORD: &str = "violet tractor harbour 42";

pub(crate) async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client.post(app.url(path)).form(form).send().await.unwrap()
}

pub(crate) async fn post_license(app: &TestApp, way: &str, file: Option<String>, code: &str) -> reqwest::Response {
    let mut form = Multipart::new().text("way", way.to_owned()).text("purchase_code", code.to_owned());
    if let Some(text) = file {
        form = form.part("license_file", reqwest::multipart::Part::bytes(text.into_bytes()).file_name("license.json"));
    }
    app.client.post(app.url("/install/license")).multipart(form).send().await.unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Walks the steps before the database; the database step itself is the caller's.
pub async fn pass_requirements(app: &TestApp) {
    app.enter_wizard().await;
    let next = post_form(app, "/install/requirements", &[]).await;
    assert_eq!(location(&next), "/install/database", "requirements accepted");
}

/// Everything after the database step, with evaluation mode and email skipped.
pub async fn finish_after_database(app: &TestApp) {
    let finish = finish_with_site(app, &[]).await;
    assert_eq!(location(&finish), "/login?installed=1", "finishing lands on the sign-in page");
}

/// The steps after the database, with `site_extra` added to the Site form; returns the Finish answer.
pub(crate) async fn finish_with_site(app: &TestApp, site_extra: &[(&str, &str)]) -> reqwest::Response {
    let license = post_license(app, "evaluation", None, "").await;
    assert_eq!(location(&license), "/install/site");
    let mut site_form = vec![
        ("name", "Acme Chat"),
        ("public_url", "https://crm.acme.example"),
        ("timezone", "Europe/Berlin"),
        ("language", "en"),
    ];
    site_form.extend_from_slice(site_extra);
    let site = post_form(app, "/install/site", &site_form).await;
    assert_eq!(location(&site), "/install/admin");
    let admin = post_form(
        app,
        "/install/admin",
        &[
            ("workspace_name", "Acme Support"),
            ("workspace_slug", ""),
            ("name", "Olivia Owner"),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(location(&admin), "/install/email");
    let email = post_form(app, "/install/email", &[("action", "skip")]).await;
    assert_eq!(location(&email), "/install/finish");
    let kit = app.get("/install/recovery-kit").await;
    assert_eq!(kit.status(), 200);
    assert!(kit.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let kit = kit.text().await.unwrap();
    assert!(kit.contains("Data encryption key:") && kit.contains("Admin recovery code:") && kit.contains(ADMIN_EMAIL));
    post_form(app, "/install/finish", &[("kit_saved", "1")]).await
}

/// Signs in through the real form with its CSRF token; returns the start page's HTML.
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    post_form(app, "/login", &[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")]).await
}

both_backends!(the_whole_wizard_installs_and_login_works, the_whole_wizard_installs_and_login_works_on);
async fn the_whole_wizard_installs_and_login_works_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    pass_requirements(&app).await;
    let database = app.client.get(app.url("/install/database")).send().await.unwrap().text().await.unwrap();
    if backend == Backend::Postgres {
        assert!(database.contains("cannot be changed here"), "a database fixed by --database-url is shown as such");
    }
    let used = post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;
    assert_eq!(used.status(), 200);
    assert!(used.text().await.unwrap().contains("id=\"migrations\""), "the migrations are shown");
    finish_after_database(&app).await;

    // The wizard is gone, and so is its token.
    assert_eq!(app.get("/install").await.status(), 404);
    assert_eq!(app.get("/install/database").await.status(), 404);
    assert!(!app.data_dir.path().join("setup-token").exists());
    assert!(!app.data_dir.path().join("install-draft.json").exists());
    let config = std::fs::read_to_string(app.data_dir.path().join("config.toml")).unwrap();
    assert!(config.contains("encryption_key") && config.contains("session_secret") && config.contains("public_url"));

    // Sign in: a wrong password first, then the right one.
    let wrong = sign_in(&app, ADMIN_EMAIL, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Wrong email or password"));
    let signed_in = sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(location(&signed_in), "/");
    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let home = home.text().await.unwrap();
    assert!(home.contains("Welcome, Olivia Owner") && home.contains("Acme Support"), "{home}");
    assert!(
        home.contains("data-evaluation=\"true\"") && home.contains("Evaluation mode"),
        "the evaluation state is visible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_postgres_in_the_wizard_moves_the_instance_there() {
    let Some(pg) = TestDatabase::create().await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    let url = pg.url.clone();
    let tested = post_form(&app, "/install/database", &[("action", "test"), ("kind", "postgres"), ("url", &url)]).await;
    assert_eq!(tested.status(), 200);
    assert!(tested.text().await.unwrap().contains("PostgreSQL"), "test connection reports the server");
    let used = post_form(&app, "/install/database", &[("action", "use"), ("kind", "postgres"), ("url", &url)]).await;
    assert_eq!(used.status(), 200);
    finish_after_database(&app).await;
    let config = std::fs::read_to_string(app.data_dir.path().join("config.toml")).unwrap();
    assert!(config.contains(&format!("database_url = \"{url}\"")), "{config}");
    assert!(!app.data_dir.path().join("conversure.db").exists(), "the first start's SQLite file is removed");
    // The running process switched without a restart: signing in reads the admin from Postgres.
    assert_eq!(location(&sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await), "/");
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_failures_are_shown_next_to_the_field_and_change_nothing() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    let dead = crate::helpers::free_port();
    let unreachable = post_form(
        &app,
        "/install/database",
        &[("action", "use"), ("kind", "postgres"), ("url", &format!("postgres://u:hunter2secret@127.0.0.1:{dead}/cs"))],
    )
    .await;
    assert_eq!(unreachable.status(), 422);
    let html = unreachable.text().await.unwrap();
    assert!(html.contains("field--invalid") && html.contains("Cannot connect"), "{html}");
    assert!(!html.contains("hunter2secret"), "a password is never echoed into the page");
    let missing =
        post_form(&app, "/install/database", &[("action", "test"), ("kind", "postgres"), ("host", ""), ("port", "0")])
            .await;
    assert_eq!(missing.status(), 422);
    let html = missing.text().await.unwrap();
    assert!(html.contains("Enter the server") && html.contains("Enter the database name"));
    // A real password check (scripts/test.sh makes one role prove its password).
    if let Ok(url) = std::env::var("TEST_DATABASE_PASSWORD_URL") {
        let wrong = url.replace(":right-horse-battery@", ":wrong-password@");
        let refused =
            post_form(&app, "/install/database", &[("action", "test"), ("kind", "postgres"), ("url", &wrong)]).await;
        assert_eq!(refused.status(), 422);
        let html = refused.text().await.unwrap();
        assert!(html.contains("refused the password") && !html.contains("wrong-password"), "{html}");
        // The right password logs in, and the rights check speaks: since Postgres 15 an ordinary role may not create
        // tables in the `public` schema of a database it does not own.
        let right =
            post_form(&app, "/install/database", &[("action", "test"), ("kind", "postgres"), ("url", &url)]).await;
        let html = right.text().await.unwrap();
        assert!(!html.contains("refused the password") && html.contains("may not create tables"), "{html}");
        let missing_db = url.replace("/postgres", "/no_such_db");
        let html =
            post_form(&app, "/install/database", &[("action", "test"), ("kind", "postgres"), ("url", &missing_db)])
                .await
                .text()
                .await
                .unwrap();
        assert!(html.contains("no_such_db") && html.contains("createdb"), "{html}");
    } else {
        assert!(
            std::env::var("CONVERSURE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "scripts/test.sh sets TEST_DATABASE_PASSWORD_URL"
        );
    }
    // Still on the database step: the license step is not reachable yet.
    assert_eq!(location(&app.get("/install/license").await), "/install/database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_installation_needs_reuse_or_a_typed_wipe() {
    let Some(pg) = TestDatabase::create().await else { return };
    // A database holding an earlier, unfinished setup's accounts.
    let db = conversure::store::Db::open(&conversure::config::DatabaseUrl::parse(&pg.url).unwrap()).await.unwrap();
    conversure::store::migrate::run(&db).await.unwrap();
    let mut tx = db.write().await.unwrap();
    conversure::store::accounts::create_workspace(&mut tx, "old", "Old", "UTC").await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;

    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    let url = pg.url.clone();
    let undecided =
        post_form(&app, "/install/database", &[("action", "use"), ("kind", "postgres"), ("url", &url)]).await;
    assert_eq!(undecided.status(), 422);
    let html = undecided.text().await.unwrap();
    assert!(html.contains("id=\"existing\"") && html.contains("Found 1 workspaces"), "{html}");
    let name = url.rsplit('/').next().unwrap().to_owned();
    let mistyped = post_form(
        &app,
        "/install/database",
        &[("action", "use"), ("kind", "postgres"), ("url", &url), ("existing", "wipe"), ("wipe_confirmation", "yes")],
    )
    .await;
    assert_eq!(mistyped.status(), 422);
    assert!(mistyped.text().await.unwrap().contains(&format!("Type {name} exactly")));
    let wiped = post_form(
        &app,
        "/install/database",
        &[("action", "use"), ("kind", "postgres"), ("url", &url), ("existing", "wipe"), ("wipe_confirmation", &name)],
    )
    .await;
    assert_eq!(wiped.status(), 200);
    let db = conversure::store::Db::open(&conversure::config::DatabaseUrl::parse(&pg.url).unwrap()).await.unwrap();
    let mut conn = db.read().await.unwrap();
    assert_eq!(conversure::store::accounts::population(&mut conn).await.unwrap(), (0, 0), "wiped");
    drop(conn);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_bad_expired_tampered_and_activated() {
    let server = MockLicenseServer::start(&["ACME-2026-GOOD-CODE"]).await;
    let server_url = server.url.to_string();
    let Some(app) = spawn_app_with(Backend::Sqlite, &[("CONVERSURE_LICENSE_SERVER_URL", &server_url)]).await else {
        return;
    };
    pass_requirements(&app).await;
    post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;

    let garbage = post_license(&app, "file", Some("not a license".into()), "").await;
    assert_eq!(garbage.status(), 422);
    let expired = post_license(&app, "file", Some(test_license(None, Some(now_ms() - 86_400_000))), "").await;
    assert_eq!(expired.status(), 422);
    assert!(expired.text().await.unwrap().contains("field--invalid"));
    let mut tampered = test_license(None, None).into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = post_license(&app, "file", Some(String::from_utf8(tampered).unwrap()), "").await;
    assert_eq!(tampered.status(), 422);
    let unknown_code = post_license(&app, "code", None, "ACME-2026-BAD-CODE").await;
    assert_eq!(unknown_code.status(), 422);
    assert_eq!(location(&app.get("/install/site").await), "/install/license", "no license yet");

    let activated = post_license(&app, "code", None, "ACME-2026-GOOD-CODE").await;
    assert_eq!(location(&activated), "/install/site");
    assert_eq!(server.requests().len(), 2, "the bad code and the good one reached the server");
    let page = app.get("/install/license").await.text().await.unwrap();
    assert!(page.contains("alert--info"), "coming back shows the license in use");

    let valid = post_license(&app, "file", Some(test_license(None, None)), "").await;
    assert_eq!(location(&valid), "/install/site", "a valid file replaces it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_and_bad_fields_are_refused_without_echoing_secrets() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;
    post_license(&app, "evaluation", None, "").await;
    let site = post_form(
        &app,
        "/install/site",
        &[("name", ""), ("public_url", "crm.example"), ("timezone", "Mars/Olympus"), ("language", "xx")],
    )
    .await;
    assert_eq!(site.status(), 422);
    let html = site.text().await.unwrap();
    for message in ["Enter a name", "full address", "time zone from the list", "language from the list"] {
        assert!(html.contains(message), "{message}");
    }
    post_form(
        &app,
        "/install/site",
        &[("name", "Acme"), ("public_url", "http://localhost:8080"), ("timezone", "UTC"), ("language", "en")],
    )
    .await;
    let weak = post_form(
        &app,
        "/install/admin",
        &[
            ("workspace_name", "Acme"),
            ("name", "O"),
            ("email", "owner@acme.example"),
            ("password", "password123"),
            ("password_confirm", "password123"),
        ],
    )
    .await;
    assert_eq!(weak.status(), 422);
    let html = weak.text().await.unwrap();
    assert!(html.contains("too easy to guess") && !html.contains("password123"), "weak password refused, not echoed");
    let mismatch = post_form(
        &app,
        "/install/admin",
        &[
            ("workspace_name", "Acme"),
            ("name", "O"),
            ("email", "not-an-email"),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", "other words entirely here"),
        ],
    )
    .await;
    let html = mismatch.text().await.unwrap();
    assert!(html.contains("valid email") && html.contains("passwords differ"));
    assert_eq!(location(&app.get("/install/email").await), "/install/admin");
    let no_kit = {
        post_form(
            &app,
            "/install/admin",
            &[
                ("workspace_name", "Acme"),
                ("name", "O"),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
        post_form(&app, "/install/email", &[("action", "skip")]).await;
        post_form(&app, "/install/finish", &[]).await
    };
    assert_eq!(no_kit.status(), 422, "the recovery kit must be confirmed");
    assert!(app.data_dir.path().join("setup-token").exists(), "nothing committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_required_and_dies_with_the_install() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let token = app.setup_token();
    // No cookie: every step answers 403 with the explanation, POSTs too.
    assert_eq!(app.get("/install/database").await.status(), 403);
    assert_eq!(post_form(&app, "/install/requirements", &[]).await.status(), 403);
    pass_requirements(&app).await;
    post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;
    finish_after_database(&app).await;
    let reused = app.get(&format!("/install?token={token}")).await;
    assert_eq!(reused.status(), 404, "a used token opens nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_step_sends_a_real_test_email_and_stores_the_password_sealed() {
    let Some(smtp) = crate::smtp::SmtpServer::try_start(Some(("mailer", "smtp-secret-pw"))) else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    pass_requirements(&app).await;
    post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;
    post_license(&app, "evaluation", None, "").await;
    post_form(
        &app,
        "/install/site",
        &[("name", "Acme Chat"), ("public_url", "https://crm.acme.example"), ("timezone", "UTC"), ("language", "en")],
    )
    .await;
    post_form(
        &app,
        "/install/admin",
        &[
            ("workspace_name", "Acme"),
            ("name", "Olivia"),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
        ],
    )
    .await;
    let port = smtp.port.to_string();
    let fields = |password: &'static str, action: &'static str| {
        vec![
            ("action", action.to_owned()),
            ("host", "127.0.0.1".to_owned()),
            ("port", port.clone()),
            ("security", "none".to_owned()),
            ("username", "mailer".to_owned()),
            ("password", password.to_owned()),
            ("from_address", "crm@acme.example".to_owned()),
            ("from_name", "Acme Chat".to_owned()),
        ]
    };
    let wrong =
        app.client.post(app.url("/install/email")).form(&fields("wrong-password", "test")).send().await.unwrap();
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("alert--error") && !html.contains("wrong-password"),
        "refused, and the password is not echoed"
    );
    let sent = app.client.post(app.url("/install/email")).form(&fields("smtp-secret-pw", "test")).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    assert!(sent.text().await.unwrap().contains(ADMIN_EMAIL), "says where the test email went");
    let messages = smtp.wait_for_messages(1, std::time::Duration::from_secs(10)).await;
    assert!(messages[0].contains(ADMIN_EMAIL) && messages[0].contains("Acme Chat"), "{}", messages[0]);
    let saved =
        app.client.post(app.url("/install/email")).form(&fields("smtp-secret-pw", "save")).send().await.unwrap();
    assert_eq!(location(&saved), "/install/finish");
    let finish = post_form(&app, "/install/finish", &[("kit_saved", "1")]).await;
    assert_eq!(location(&finish), "/login?installed=1");
    let db = conversure::store::Db::open(&conversure::config::DatabaseUrl::Sqlite(
        app.data_dir.path().join("conversure.db"),
    ))
    .await
    .unwrap();
    let mut conn = db.read().await.unwrap();
    let smtp_settings =
        conversure::store::settings::load(&mut conn, conversure::store::settings::Scope::Instance, "smtp.")
            .await
            .unwrap();
    assert_eq!(smtp_settings.get("smtp.host").map(String::as_str), Some("127.0.0.1"));
    assert!(smtp_settings.values().all(|v| !v.contains("smtp-secret-pw")), "the SMTP password is stored sealed");
    drop(conn);
    db.close().await;
}

both_backends!(an_expired_session_leads_to_sign_in_and_back, an_expired_session_leads_to_sign_in_and_back_on);
async fn an_expired_session_leads_to_sign_in_and_back_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    pass_requirements(&app).await;
    post_form(&app, "/install/database", &[("action", "use"), ("kind", "sqlite")]).await;
    finish_after_database(&app).await;
    assert_eq!(location(&sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await), "/");
    assert_eq!(app.get("/admin").await.status(), 200);

    // The session expires (as after two weeks): the next page asks to sign in and remembers where we were.
    let url = match &app.db.url {
        Some(url) => conversure::config::DatabaseUrl::parse(url).unwrap(),
        None => conversure::config::DatabaseUrl::Sqlite(app.data_dir.path().join("conversure.db")),
    };
    let db = conversure::store::Db::open(&url).await.unwrap();
    let mut tx = db.write().await.unwrap();
    tx.execute("UPDATE sessions SET expires_at = 0", &[]).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    let bounced = app.get("/admin?q=ann").await;
    assert_eq!(location(&bounced), "/login?next=%2Fadmin%3Fq%3Dann");
    let page = app.get(&location(&bounced)).await.text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let next = page.split("name=\"next\" value=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert_eq!(next, "/admin?q=ann");
    let back = post_form(
        &app,
        "/login",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf", &csrf), ("next", &next)],
    )
    .await;
    assert_eq!(location(&back), "/admin?q=ann", "back where the session ran out");
    assert_eq!(app.get("/admin?q=ann").await.status(), 200);
}
