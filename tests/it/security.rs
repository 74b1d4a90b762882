//! Sign-in security over HTTP on installed instances: throttling, TOTP enrolment and sign-in, recovery codes, the
//! workspace's TOTP requirement, sessions, password reset through a real SMTP server, and invitations.

use std::time::Duration;

use conversure::i18n::Lang;
use conversure::services::security::{SecurityError, SecurityService};
use conversure::store::{Db, accounts};
use reqwest::Client;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app_with, test_config};
use crate::smtp::SmtpServer;
use crate::web_user::{csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

const NEW_PASSWORD: &str = "amber lantern orchard 77";
const AGENT_EMAIL: &str = "agent@acme.example";
const AGENT_PASSWORD: &str = "quiet meadow copper 19";
const PUBLIC_URL: &str = "https://crm.acme.example";

// ---- Helpers -----------------------------------------------------------------------------------------------------

/// A browser-like client: its own cookies, no redirects followed.
fn client() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let rest = text.split_once(start).unwrap_or_else(|| panic!("{start:?} not in {text}")).1;
    rest.split_once(end).unwrap().0
}

async fn get(client: &Client, app: &TestApp, path: &str) -> reqwest::Response {
    client.get(app.url(path)).send().await.unwrap()
}

async fn post(
    client: &Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    ip: Option<&str>,
) -> reqwest::Response {
    let mut request = client.post(app.url(path)).form(form);
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

/// The tests stand for a reverse proxy on loopback that forwards each client's address in `X-Forwarded-For`.
const BEHIND_LOCAL_PROXY: &[(&str, &str)] = &[("CONVERSURE_TRUSTED_PROXIES", "127.0.0.1")];

/// Installs the instance through the wizard (evaluation, no email).
async fn install(backend: Backend) -> Option<TestApp> {
    let app = spawn_app_with(backend, BEHIND_LOCAL_PROXY).await?;
    pass_requirements(&app).await;
    post(&app.client, &app, "/install/database", &[("action", "use"), ("kind", "sqlite")], None).await;
    finish_after_database(&app).await;
    Some(app)
}

/// Installs the instance with the wizard's email step pointed at a real SMTP server.
async fn install_with_smtp(backend: Backend, smtp: &SmtpServer) -> Option<TestApp> {
    let app = spawn_app_with(backend, BEHIND_LOCAL_PROXY).await?;
    pass_requirements(&app).await;
    let c = &app.client;
    post(c, &app, "/install/database", &[("action", "use"), ("kind", "sqlite")], None).await;
    let license = reqwest::multipart::Form::new().text("way", "evaluation").text("purchase_code", "");
    c.post(app.url("/install/license")).multipart(license).send().await.unwrap();
    let site = [("name", "Acme Chat"), ("public_url", PUBLIC_URL), ("timezone", "UTC"), ("language", "en")];
    post(c, &app, "/install/site", &site, None).await;
    let admin = [
        ("workspace_name", "Acme Support"),
        ("name", "Olivia Owner"),
        ("email", ADMIN_EMAIL),
        ("password", ADMIN_PASSWORD),
        ("password_confirm", ADMIN_PASSWORD),
    ];
    post(c, &app, "/install/admin", &admin, None).await;
    let port = smtp.port.to_string();
    let email = [
        ("action", "save"),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("security", "none"),
        ("username", ""),
        ("password", ""),
        ("from_address", "crm@acme.example"),
        ("from_name", "Acme Chat"),
    ];
    let saved = post(c, &app, "/install/email", &email, None).await;
    assert_eq!(location(&saved), "/install/finish", "the SMTP settings are accepted");
    let finish = post(c, &app, "/install/finish", &[("kit_saved", "1")], None).await;
    assert_eq!(location(&finish), "/login?installed=1");
    Some(app)
}

/// Signs in through the form (from `ip`, when given); returns the answer to the POST.
async fn sign_in_as(
    client: &Client,
    app: &TestApp,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> reqwest::Response {
    let page = get(client, app, "/login").await.text().await.unwrap();
    let csrf = csrf_of(&page);
    post(client, app, "/login", &[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")], ip).await
}

async fn sign_out(client: &Client, app: &TestApp) {
    let home = get(client, app, "/account/sessions").await.text().await.unwrap();
    let out = post(client, app, "/logout", &[("csrf", &csrf_of(&home))], None).await;
    assert_eq!(location(&out), "/login");
}

/// The database of a running test instance, opened beside it.
async fn open_db(app: &TestApp) -> (Db, conversure::config::Config) {
    let config = test_config(app.data_dir.path(), app.db.url.clone(), &[]);
    (Db::open(&config.database).await.unwrap(), config)
}

/// Adds a member to the owner's workspace (with a password, or invited without one); returns (user, workspace).
async fn add_member(app: &TestApp, email: &str, name: &str, password: Option<&str>, role: &str) -> (i64, i64) {
    let hash = match password {
        Some(p) => Some(conversure::services::auth::hash_password(p).await.unwrap()),
        None => None,
    };
    let (db, _) = open_db(app).await;
    let mut tx = db.write().await.unwrap();
    let owner = accounts::user_by_email(&mut tx, ADMIN_EMAIL).await.unwrap().unwrap();
    let workspace = accounts::memberships_of(&mut tx, owner.id).await.unwrap()[0].workspace.id;
    let new = accounts::NewUser {
        email,
        email_lower: &email.to_lowercase(),
        name,
        password_hash: hash.as_deref(),
        is_owner: false,
    };
    let user = accounts::create_user(&mut tx, &new).await.unwrap();
    accounts::add_membership(&mut tx, workspace, user, role).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    (user, workspace)
}

/// The authenticator app: the TOTP of a base32 secret as the security page shows it.
fn authenticator(secret_shown: &str) -> totp_rs::Totp {
    let secret = totp_rs::Secret::try_from_base32(secret_shown.replace(' ', "")).unwrap();
    totp_rs::Builder::new().with_secret(secret.as_bytes().to_vec()).build().unwrap()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Starts (or restarts) the enrolment on the security page; returns the authenticator for the secret it shows.
async fn start_enrolment(client: &Client, app: &TestApp) -> totp_rs::Totp {
    let page = get(client, app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("id=\"totp-start\"") || page.contains("id=\"totp-restart\""), "TOTP is not on: {page}");
    let started = post(client, app, "/account/security/totp/start", &[("csrf", &csrf_of(&page))], None).await;
    assert_eq!(location(&started), "/account/security#totp");
    let page = get(client, app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("<svg class=\"totp-qr\"") && page.contains("</svg>"), "an inline SVG QR code: {page}");
    assert!(page.contains("href=\"otpauth://totp/Acme%20Chat:"), "the otpauth URI names the site: {page}");
    authenticator(between(&page, "id=\"totp-secret\">", "<"))
}

/// Enrols with a correct code; returns the authenticator and the recovery codes shown once.
async fn enrol(client: &Client, app: &TestApp) -> (totp_rs::Totp, Vec<String>) {
    let totp = start_enrolment(client, app).await;
    let page = get(client, app, "/account/security").await.text().await.unwrap();
    let code = totp.generate(now_secs()).to_string();
    let confirmed =
        post(client, app, "/account/security/totp/confirm", &[("csrf", &csrf_of(&page)), ("code", &code)], None).await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.headers()["cache-control"], "no-store", "the codes are not cached");
    let html = confirmed.text().await.unwrap();
    assert!(html.contains("Two-step verification is on."), "{html}");
    (totp, recovery_codes(&html))
}

fn recovery_codes(html: &str) -> Vec<String> {
    let list = between(html, "id=\"recovery-codes\">", "</ol>");
    let codes: Vec<String> =
        list.split("<li>").skip(1).map(|item| item.split("</li>").next().unwrap().trim().to_owned()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes: {list}");
    codes
}

/// Answers the TOTP step of a sign-in in progress.
async fn second_factor(client: &Client, app: &TestApp, code: &str) -> reqwest::Response {
    let page = get(client, app, "/login/totp?next=%2F").await;
    assert_eq!(page.status(), 200, "a sign-in waits for its code");
    let csrf = csrf_of(&page.text().await.unwrap());
    post(client, app, "/login/totp", &[("csrf", &csrf), ("code", code), ("next", "/")], None).await
}

// ---- Throttling --------------------------------------------------------------------------------------------------

both_backends!(sign_ins_are_throttled_per_account_and_per_address, throttling_on);
async fn throttling_on(backend: Backend) {
    let Some(app) = install(backend).await else { return };
    add_member(&app, AGENT_EMAIL, "Andy Agent", Some(AGENT_PASSWORD), "agent").await;
    let c = client();

    // Five wrong passwords lock the account, even against the right password from elsewhere.
    for _ in 0..5 {
        let wrong = sign_in_as(&c, &app, ADMIN_EMAIL, "not the password", Some("203.0.113.1")).await;
        assert_eq!(wrong.status(), 401);
    }
    let locked = sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, Some("203.0.113.2")).await;
    assert_eq!(locked.status(), 429);
    let html = locked.text().await.unwrap();
    assert!(html.contains("Too many failed sign-ins for this account. Try again in 15 minutes."), "{html}");
    assert_eq!(get(&c, &app, "/").await.status(), 303, "not signed in");
    // Other accounts are not affected.
    assert_eq!(location(&sign_in_as(&c, &app, AGENT_EMAIL, AGENT_PASSWORD, Some("203.0.113.2")).await), "/");
    sign_out(&c, &app).await;

    // Twenty failures from one address (for different accounts) lock the address.
    let probe = client();
    for i in 0..20 {
        let email = format!("probe{i}@acme.example");
        let wrong = sign_in_as(&probe, &app, &email, "guess", Some("198.51.100.9")).await;
        assert_eq!(wrong.status(), 401, "attempt {i}");
    }
    let refused = sign_in_as(&probe, &app, AGENT_EMAIL, AGENT_PASSWORD, Some("198.51.100.9")).await;
    assert_eq!(refused.status(), 429);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many failed attempts from your network. Try again in 15 minutes."), "{html}");
    let elsewhere = sign_in_as(&probe, &app, AGENT_EMAIL, AGENT_PASSWORD, Some("198.51.100.10")).await;
    assert_eq!(location(&elsewhere), "/", "another address signs in");

    // Every attempt was recorded, and the refusals audited.
    let (db, _) = open_db(&app).await;
    let mut conn = db.read().await.unwrap();
    let attempts = conn.fetch_one("SELECT COUNT(*) FROM login_attempts", &[]).await.unwrap().int(0).unwrap();
    assert_eq!(attempts, 5 + 1 + 20 + 1, "checked attempts only: refusals test no password");
    let throttled = conn
        .fetch_one("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.sign_in_throttled'", &[])
        .await
        .unwrap()
        .int(0)
        .unwrap();
    assert_eq!(throttled, 2);
    drop(conn);
    db.close().await;
}

// ---- TOTP ----------------------------------------------------------------------------------------------------------

both_backends!(totp_enrolment_sign_in_and_recovery_codes, totp_on);
async fn totp_on(backend: Backend) {
    let Some(app) = install(backend).await else { return };
    let c = client();
    assert_eq!(location(&sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await), "/");

    // A wrong code does not turn TOTP on.
    let totp = start_enrolment(&c, &app).await;
    let page = get(&c, &app, "/account/security").await.text().await.unwrap();
    let right = totp.generate(now_secs()).to_string();
    let wrong = format!("{}{}", &right[..5], (right.as_bytes()[5] - b'0' + 1) % 10);
    let refused =
        post(&c, &app, "/account/security/totp/confirm", &[("csrf", &csrf_of(&page)), ("code", &wrong)], None).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"code-error\"") && html.contains("This code is not right"), "{html}");
    assert!(html.contains("id=\"totp-setup\""), "still enrolling");
    // Without the session's CSRF token nothing happens.
    let forged = post(&c, &app, "/account/security/totp/confirm", &[("csrf", "forged"), ("code", &right)], None).await;
    assert_eq!(forged.status(), 403);

    let (totp, codes) = enrol(&c, &app).await;
    let page = get(&c, &app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("data-state=\"on\"") && page.contains("Unused recovery codes: 10"), "{page}");
    sign_out(&c, &app).await;

    // The password alone is not a sign-in any more.
    let first = sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    assert_eq!(location(&first), "/login/totp?next=%2F");
    assert_eq!(location(&get(&c, &app, "/").await), "/login?next=%2F", "a pending session is not signed in");
    let refused = second_factor(&c, &app, &wrong_code(&totp)).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("This code is not right"));
    let code = totp.generate(now_secs()).to_string();
    let verified = second_factor(&c, &app, &code).await;
    assert_eq!(location(&verified), "/");
    assert_eq!(get(&c, &app, "/").await.status(), 200, "signed in after the code");
    sign_out(&c, &app).await;

    // The same code does not work twice.
    sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    assert_eq!(second_factor(&c, &app, &code).await.status(), 422, "a used code is refused");

    // A recovery code works once, typed any way.
    let typed = codes[0].to_lowercase().replace('-', " ");
    assert_eq!(location(&second_factor(&c, &app, &typed).await), "/");
    sign_out(&c, &app).await;
    sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    assert_eq!(second_factor(&c, &app, &codes[0]).await.status(), 422, "a used recovery code is burnt");
    assert_eq!(location(&second_factor(&c, &app, &codes[1]).await), "/");
    let page = get(&c, &app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("Unused recovery codes: 8"), "{page}");

    // New codes replace the old ones (password asked again).
    let regenerated = post(
        &c,
        &app,
        "/account/security/totp/recovery-codes",
        &[("csrf", &csrf_of(&page)), ("password", ADMIN_PASSWORD)],
        None,
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let fresh = recovery_codes(&regenerated.text().await.unwrap());
    assert!(!fresh.contains(&codes[2]));

    // Turning off needs the current password.
    let page = get(&c, &app, "/account/security").await.text().await.unwrap();
    let wrong =
        post(&c, &app, "/account/security/totp/disable", &[("csrf", &csrf_of(&page)), ("password", "nope")], None)
            .await;
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("id=\"disable_password-error\"") && html.contains("This is not your current password."),
        "{html}"
    );
    let off = post(
        &c,
        &app,
        "/account/security/totp/disable",
        &[("csrf", &csrf_of(&page)), ("password", ADMIN_PASSWORD)],
        None,
    )
    .await;
    assert_eq!(location(&off), "/account/security?done=totp_off");
    sign_out(&c, &app).await;
    assert_eq!(
        location(&sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await),
        "/",
        "no second step any more"
    );

    // The secret is stored sealed, never in clear.
    let (db, _) = open_db(&app).await;
    let mut conn = db.read().await.unwrap();
    let audit = conn
        .fetch_all("SELECT action FROM audit_log WHERE action LIKE 'auth.totp%' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect::<Vec<_>>();
    assert!(
        audit.contains(&"auth.totp_enabled".to_owned()) && audit.contains(&"auth.totp_disabled".to_owned()),
        "{audit:?}"
    );
    assert!(
        audit.contains(&"auth.totp_failed".to_owned()) && audit.contains(&"auth.totp_verified".to_owned()),
        "{audit:?}"
    );
    drop(conn);
    db.close().await;
}

/// A code that is not the current one (nor the one before or after).
fn wrong_code(totp: &totp_rs::Totp) -> String {
    let now = now_secs();
    let valid: Vec<String> = [now - 30, now, now + 30].iter().map(|t| totp.generate(*t).to_string()).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_totp_secret_is_sealed_and_the_second_step_is_throttled() {
    let Some(app) = install(Backend::Sqlite).await else { return };
    let c = client();
    sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    let (totp, _) = enrol(&c, &app).await;
    let (db, _) = open_db(&app).await;
    let mut conn = db.read().await.unwrap();
    let row =
        conn.fetch_one("SELECT totp_secret FROM users WHERE email_lower = $1", &[ADMIN_EMAIL.into()]).await.unwrap();
    let stored = row.opt_blob(0).unwrap().unwrap();
    assert!(!stored.windows(20).any(|w| w == totp.secret().as_bytes()), "sealed, not in clear");
    drop(conn);
    db.close().await;
    sign_out(&c, &app).await;

    // Wrong codes count as failed sign-ins of the account: the fifth locks it, the right code is refused then.
    sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    for _ in 0..5 {
        assert_eq!(second_factor(&c, &app, &wrong_code(&totp)).await.status(), 422);
    }
    let locked = second_factor(&c, &app, &totp.generate(now_secs()).to_string()).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.text().await.unwrap().contains("Too many failed sign-ins for this account."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_can_require_totp() {
    let Some(app) = install(Backend::Sqlite).await else { return };
    add_member(&app, AGENT_EMAIL, "Andy Agent", Some(AGENT_PASSWORD), "agent").await;
    let owner = client();
    sign_in_as(&owner, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    let page = get(&owner, &app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("id=\"require-form\""), "the admin sees the policy");
    let saved =
        post(&owner, &app, "/account/security/require", &[("csrf", &csrf_of(&page)), ("require", "1")], None).await;
    assert_eq!(location(&saved), "/account/security?done=require_on");

    // Until the owner enrols, every page leads to the security page.
    assert_eq!(location(&get(&owner, &app, "/").await), "/account/security");
    assert_eq!(location(&get(&owner, &app, "/account/sessions").await), "/account/security");
    let page = get(&owner, &app, "/account/security").await.text().await.unwrap();
    assert!(page.contains("Your workspace requires two-step verification."), "{page}");
    enrol(&owner, &app).await;
    assert_eq!(get(&owner, &app, "/").await.status(), 200, "enrolled: free to go");

    // An agent without TOTP is sent to enrol after signing in, and may not change the policy.
    let agent = client();
    assert_eq!(location(&sign_in_as(&agent, &app, AGENT_EMAIL, AGENT_PASSWORD, None).await), "/");
    assert_eq!(location(&get(&agent, &app, "/").await), "/account/security");
    let page = get(&agent, &app, "/account/security").await.text().await.unwrap();
    assert!(!page.contains("id=\"require-form\""), "agents do not see the policy");
    let forbidden = post(&agent, &app, "/account/security/require", &[("csrf", &csrf_of(&page))], None).await;
    assert_eq!(forbidden.status(), 403);
    // Signing out stays possible.
    let out = post(&agent, &app, "/logout", &[("csrf", &csrf_of(&page))], None).await;
    assert_eq!(location(&out), "/login");

    // The owner makes it optional again.
    let page = get(&owner, &app, "/account/security").await.text().await.unwrap();
    let saved = post(&owner, &app, "/account/security/require", &[("csrf", &csrf_of(&page))], None).await;
    assert_eq!(location(&saved), "/account/security?done=require_off");
    sign_in_as(&agent, &app, AGENT_EMAIL, AGENT_PASSWORD, None).await;
    assert_eq!(get(&agent, &app, "/").await.status(), 200);
}

// ---- Sessions ------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_the_others_can_be_signed_out() {
    let Some(app) = install(Backend::Sqlite).await else { return };
    let laptop = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Laptop Browser/1.0")
        .build()
        .unwrap();
    let phone = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Phone Browser/2.0")
        .build()
        .unwrap();
    assert_eq!(location(&sign_in_as(&laptop, &app, ADMIN_EMAIL, ADMIN_PASSWORD, Some("192.0.2.10")).await), "/");
    assert_eq!(location(&sign_in_as(&phone, &app, ADMIN_EMAIL, ADMIN_PASSWORD, Some("192.0.2.20")).await), "/");

    let page = get(&laptop, &app, "/account/sessions").await.text().await.unwrap();
    assert!(page.contains("Laptop Browser/1.0") && page.contains("Phone Browser/2.0"), "{page}");
    assert!(page.contains("192.0.2.10") && page.contains("192.0.2.20"), "{page}");
    assert_eq!(page.matches("This device").count(), 1);
    let current = between(&page, "data-current=\"true\">", "</tr>");
    assert!(current.contains("Laptop Browser/1.0"), "this device is the laptop: {current}");

    // Activity is recorded, at most once a minute.
    let (db, _) = open_db(&app).await;
    let old = conversure::store::now_millis() - 120_000;
    let mut tx = db.write().await.unwrap();
    tx.execute("UPDATE sessions SET last_seen_at = $1", &[old.into()]).await.unwrap();
    tx.commit().await.unwrap();
    let seen = |ua: &'static str| {
        let db = db.clone();
        async move {
            let mut conn = db.read().await.unwrap();
            let row =
                conn.fetch_one("SELECT last_seen_at FROM sessions WHERE user_agent = $1", &[ua.into()]).await.unwrap();
            row.int(0).unwrap()
        }
    };
    assert_eq!(get(&laptop, &app, "/").await.status(), 200);
    let touched = seen("Laptop Browser/1.0").await;
    assert!(touched > old, "the laptop's activity is recorded");
    assert_eq!(seen("Phone Browser/2.0").await, old, "the phone did nothing");
    tokio::time::sleep(Duration::from_millis(20)).await;
    get(&laptop, &app, "/").await;
    assert_eq!(seen("Laptop Browser/1.0").await, touched, "not again within the minute");
    db.close().await;

    // Sign out the others: CSRF from the session.
    let forged = post(&laptop, &app, "/account/sessions/sign-out-others", &[("csrf", "forged")], None).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(get(&phone, &app, "/").await.status(), 200, "nothing happened");
    let done = post(&laptop, &app, "/account/sessions/sign-out-others", &[("csrf", &csrf_of(&page))], None).await;
    assert_eq!(location(&done), "/account/sessions?ended=1");
    let page = get(&laptop, &app, "/account/sessions?ended=1").await.text().await.unwrap();
    assert!(page.contains("Signed out the other session.") && !page.contains("Phone Browser/2.0"), "{page}");
    assert_eq!(location(&get(&phone, &app, "/").await), "/login?next=%2F", "the phone lost access");
    assert_eq!(get(&laptop, &app, "/").await.status(), 200, "this device stays signed in");
}

// ---- Password reset ------------------------------------------------------------------------------------------------

/// Decodes a raw message's quoted-printable and base64 bodies enough to find links in it.
fn readable(raw: &str) -> String {
    let mut text = raw.replace("=\r\n", "").replace("=\n", "");
    let mut decoded = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find('=') {
        decoded.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 3).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
        match hex {
            Some(h) => {
                decoded.push(char::from(u8::from_str_radix(h, 16).unwrap()));
                rest = &rest[i + 3..];
            }
            None => {
                decoded.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    decoded.push_str(rest);
    text = decoded;
    use base64::Engine as _;
    for block in raw.split("\r\n\r\n").chain(raw.split("\n\n")) {
        let joined: String = block.lines().map(str::trim).collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.trim_end_matches("--")) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

/// The path of the first `PUBLIC_URL/<prefix>…` link in a message.
fn link_path(raw: &str, prefix: &str) -> String {
    let text = readable(raw);
    let start = format!("{PUBLIC_URL}{prefix}");
    let rest = text.split_once(&start).unwrap_or_else(|| panic!("no {start} link in {text}")).1;
    let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert_eq!(token.len(), 43, "a 32-byte base64url token: {token}");
    format!("{prefix}{token}")
}

async fn request_reset(client: &Client, app: &TestApp, email: &str, ip: &str) -> reqwest::Response {
    let page = get(client, app, "/password/forgot").await.text().await.unwrap();
    assert!(page.contains("id=\"forgot-form\""), "the form is offered: {page}");
    post(client, app, "/password/forgot", &[("csrf", &csrf_of(&page)), ("email", email)], Some(ip)).await
}

both_backends!(password_reset_through_a_real_smtp_server, password_reset_on);
async fn password_reset_on(backend: Backend) {
    let Some(smtp) = SmtpServer::try_start(None) else { return };
    let Some(app) = install_with_smtp(backend, &smtp).await else { return };
    let elsewhere = client();
    assert_eq!(location(&sign_in_as(&elsewhere, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await), "/");

    // The same answer whether or not the account exists; only the real one gets an email.
    let c = client();
    let known = request_reset(&c, &app, ADMIN_EMAIL, "192.0.2.1").await;
    assert_eq!(known.status(), 200);
    let known = known.text().await.unwrap();
    let unknown = request_reset(&c, &app, "nobody@acme.example", "192.0.2.1").await.text().await.unwrap();
    let answer = "If an account exists for this address, an email with a link is on its way.";
    assert!(known.contains(answer) && unknown.contains(answer), "{known}");
    let bad = request_reset(&c, &app, "not an email", "192.0.2.1").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("id=\"email-error\""));
    // Without the double-submit cookie's token nothing is sent.
    let forged = post(&client(), &app, "/password/forgot", &[("csrf", "forged"), ("email", ADMIN_EMAIL)], None).await;
    assert_eq!(forged.status(), 403);

    let messages = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "one email, for the real account: {}", smtp.log());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "nothing for the unknown address");
    let message = &messages[0];
    assert!(message.contains(ADMIN_EMAIL) && message.contains("Reset your password for Acme Chat"), "{message}");
    assert!(message.contains("text/html") && message.contains("text/plain"), "a text and an HTML part");
    let path = link_path(message, "/password/reset/");

    // Follow the link: a weak password and a mismatch are refused, then the new one is saved.
    let page = get(&c, &app, &path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(ADMIN_EMAIL), "{html}");
    let csrf = csrf_of(&html);
    let weak = post(
        &c,
        &app,
        &path,
        &[("csrf", &csrf), ("password", "password123"), ("password_confirm", "password123")],
        None,
    )
    .await;
    assert_eq!(weak.status(), 422);
    let html = weak.text().await.unwrap();
    assert!(html.contains("id=\"password-error\"") && html.contains("too easy to guess"), "{html}");
    let csrf = csrf_of(&html);
    let mismatch =
        post(&c, &app, &path, &[("csrf", &csrf), ("password", NEW_PASSWORD), ("password_confirm", "other")], None)
            .await;
    assert_eq!(mismatch.status(), 422);
    let html = mismatch.text().await.unwrap();
    assert!(html.contains("id=\"password_confirm-error\""), "{html}");
    let csrf = csrf_of(&html);
    let saved =
        post(&c, &app, &path, &[("csrf", &csrf), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)], None)
            .await;
    assert_eq!(location(&saved), "/login?reset=1");
    let login = get(&c, &app, "/login?reset=1").await.text().await.unwrap();
    assert!(login.contains("Your password was changed."), "{login}");

    // Every other session ended; the old password is refused, the new one works.
    assert_eq!(location(&get(&elsewhere, &app, "/").await), "/login?next=%2F");
    assert_eq!(sign_in_as(&c, &app, ADMIN_EMAIL, ADMIN_PASSWORD, None).await.status(), 401);
    assert_eq!(location(&sign_in_as(&c, &app, ADMIN_EMAIL, NEW_PASSWORD, None).await), "/");
    sign_out(&c, &app).await;

    // The link works once.
    let used = get(&c, &app, &path).await;
    assert_eq!(used.status(), 410);
    assert!(used.text().await.unwrap().contains("has been used already or has expired"));
    let again = post(
        &c,
        &app,
        &path,
        &[("csrf", &csrf), ("password", ADMIN_PASSWORD), ("password_confirm", ADMIN_PASSWORD)],
        None,
    )
    .await;
    assert!(matches!(again.status().as_u16(), 403 | 410), "refused: {}", again.status());

    // An expired link is refused.
    request_reset(&c, &app, ADMIN_EMAIL, "192.0.2.1").await;
    let messages = smtp.wait_for_messages(2, Duration::from_secs(10)).await;
    let expired_path = link_path(&messages[1], "/password/reset/");
    assert_eq!(get(&c, &app, &expired_path).await.status(), 200, "live at first");
    let (db, config) = open_db(&app).await;
    let mut tx = db.write().await.unwrap();
    tx.execute("UPDATE user_tokens SET expires_at = $1", &[(conversure::store::now_millis() - 1).into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(get(&c, &app, &expired_path).await.status(), 410);
    assert_eq!(location(&sign_in_as(&c, &app, ADMIN_EMAIL, NEW_PASSWORD, None).await), "/", "nothing changed");
    let mut conn = db.read().await.unwrap();
    let audited = conn
        .fetch_one("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.password_reset'", &[])
        .await
        .unwrap()
        .int(0)
        .unwrap();
    assert_eq!(audited, 1);
    drop(conn);

    // Requests per address are limited (five per 15 minutes; three were made from this one).
    for _ in 0..2 {
        assert_eq!(request_reset(&c, &app, "nobody@acme.example", "192.0.2.1").await.status(), 200);
    }
    let throttled = request_reset(&c, &app, "nobody@acme.example", "192.0.2.1").await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.text().await.unwrap().contains("Too many reset requests from your network."));

    // An invitation goes out by email too, branded and in the language asked for.
    let (user, workspace) = add_member(&app, "nina@acme.example", "", None, "agent").await;
    let security = SecurityService::new(&config, db.clone());
    let invitation = security.invite(user, workspace, "Olivia Owner", Lang::En).await.unwrap();
    assert!(invitation.emailed && invitation.link.starts_with(&format!("{PUBLIC_URL}/invite/")), "{invitation:?}");
    let messages = smtp.wait_for_messages(3, Duration::from_secs(10)).await;
    let invite = &messages[2];
    assert!(
        invite.contains("nina@acme.example") && invite.contains("Olivia Owner invited you to Acme Support"),
        "{invite}"
    );
    let path = link_path(invite, "/invite/");
    assert_eq!(format!("{PUBLIC_URL}{path}"), invitation.link);
    assert_eq!(get(&client(), &app, &path).await.status(), 200);
    db.close().await;
}

// ---- Invitations ---------------------------------------------------------------------------------------------------

both_backends!(an_invitation_link_sets_the_password_and_signs_in, invitation_on);
async fn invitation_on(backend: Backend) {
    let Some(app) = install(backend).await else { return };
    let c = client();

    // Without SMTP the forgot page says so instead of offering a form.
    let forgot = get(&c, &app, "/password/forgot").await.text().await.unwrap();
    assert!(forgot.contains("id=\"forgot-no-mail\"") && !forgot.contains("id=\"forgot-form\""), "{forgot}");
    assert!(forgot.contains("Ask an administrator"), "{forgot}");

    let (user, workspace) = add_member(&app, "nina@acme.example", "Nina", None, "agent").await;
    let (db, config) = open_db(&app).await;
    let security = SecurityService::new(&config, db.clone());
    let first = security.invite(user, workspace, "Olivia Owner", Lang::En).await.unwrap();
    assert!(!first.emailed && first.mail_error.is_none(), "no SMTP: the admin passes the link on");
    let second = security.invite(user, workspace, "Olivia Owner", Lang::En).await.unwrap();
    let path = |link: &str| link.strip_prefix(PUBLIC_URL).unwrap().to_owned();
    assert_eq!(get(&c, &app, &path(&first.link)).await.status(), 410, "a newer invitation voids the older one");

    let page = get(&c, &app, &path(&second.link)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Acme Support") && html.contains("nina@acme.example") && html.contains("value=\"Nina\""),
        "{html}"
    );
    let refused = post(
        &c,
        &app,
        &path(&second.link),
        &[("csrf", &csrf_of(&html)), ("name", " "), ("password", "short"), ("password_confirm", "short")],
        None,
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"name-error\"") && html.contains("id=\"password-error\""), "both fields: {html}");
    let joined = post(
        &c,
        &app,
        &path(&second.link),
        &[
            ("csrf", &csrf_of(&html)),
            ("name", "Nina Newbie"),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
        None,
    )
    .await;
    assert_eq!(location(&joined), "/");
    let home = get(&c, &app, "/").await;
    assert_eq!(home.status(), 200, "signed in");
    assert!(home.text().await.unwrap().contains("Welcome, Nina Newbie"));
    assert_eq!(get(&client(), &app, &path(&second.link)).await.status(), 410, "the link works once");

    sign_out(&c, &app).await;
    assert_eq!(location(&sign_in_as(&c, &app, "nina@acme.example", NEW_PASSWORD, None).await), "/");
    // Someone with a password is not invited again.
    let again = security.invite(user, workspace, "Olivia Owner", Lang::En).await;
    assert!(matches!(again, Err(SecurityError::AlreadyJoined)), "{again:?}");
    db.close().await;
}
