//! The WhatsApp numbers pages of the admin panel (`/admin/numbers`) over HTTP, on installed instances (SQLite and
//! Postgres): connecting Evolution and Meta numbers through the forms, the webhook setup, write-only credentials,
//! editing, "Test connection" against a closed port, deleting, and who may see and change what.
//!
//! No provider answers here: every number points at a closed local port, so "Test connection" fails at once with
//! a readable reason, and a missing credential would fail differently (which is how a kept secret shows).

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app};
use crate::web_user::{Browser, csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

const META_TOKEN: &str = "EAAG-meta-access-token-never-shown-1234567890";
const META_SECRET: &str = "meta-app-secret-never-shown-0987654321";
const EVO_KEY: &str = "evolution-api-key-never-shown-5555";
const SAM_EMAIL: &str = "sam@acme.example";
const SAM_PASSWORD: &str = "copper kettle meadow 31";
const BOB_EMAIL: &str = "bob@beta.example";
const BOB_PASSWORD: &str = "silver canyon lantern 58";

// ---- Helpers -----------------------------------------------------------------------------------------------------

impl Browser<'_> {
    /// Connects a number through the form; returns its id.
    async fn connect(&self, form: &[(&str, &str)]) -> i64 {
        let created = self.send("/admin/numbers", form).await;
        assert_eq!(created.status(), 303, "connected: {}", created.text().await.unwrap());
        let to = location(&created);
        let id = to.trim_start_matches("/admin/numbers/").trim_end_matches("?done=created");
        id.parse().unwrap_or_else(|_| panic!("to the number's page: {to}"))
    }
}

/// The `value` of the input with `id`.
fn input_value(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let tag = &html[start..html[start..].find('>').map_or(html.len(), |end| start + end)];
    tag.split("value=\"").nth(1).and_then(|v| v.split('"').next()).unwrap_or_default().to_owned()
}

/// The table row of a number on the list page.
fn row(html: &str, id: i64) -> Option<String> {
    let start = html.find(&format!("<tr id=\"number-{id}\""))?;
    Some(html[start..].split("</tr>").next().unwrap_or_default().to_owned())
}

/// Installs through the wizard (evaluation mode, email skipped); the owner is the admin of "Acme Support".
async fn installed(backend: Backend) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    pass_requirements(&app).await;
    let used = app
        .client
        .post(app.url("/install/database"))
        .form(&[("action", "use"), ("kind", "sqlite")])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    finish_after_database(&app).await;
    Some(app)
}

/// An address nothing listens on.
fn closed_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// The form for a Meta number (phone number ID `1065…`).
fn meta_form<'a>(phone: &'a str, base: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("provider", "meta"),
        ("name", "Support line"),
        ("phone_number", phone),
        ("cred_access_token", META_TOKEN),
        ("cred_phone_number_id", "106540352242922"),
        ("cred_app_secret", META_SECRET),
        ("cred_waba_id", ""),
        ("api_base_url", base),
    ]
}

// ---- Connecting, testing, editing, deleting ----------------------------------------------------------------------

both_backends!(numbers_are_connected_tested_edited_and_deleted, numbers_are_connected_tested_edited_and_deleted_on);
async fn numbers_are_connected_tested_edited_and_deleted_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = Browser::signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let acme = workspace_id(&owner, "acme-support").await;
    // The evaluation allows one number; this test connects two.
    let limits = owner.send(&format!("/owner/workspaces/{acme}/limits"), &[("numbers", "")]).await;
    assert_eq!(limits.status(), 303, "the owner lifts the numbers limit");

    // Empty at first, linked from the navigation and the panel.
    let empty = owner.html("/admin/numbers").await;
    assert!(empty.contains("id=\"numbers-empty\""), "{empty}");
    assert!(empty.contains("id=\"nav-numbers\" aria-current=\"page\""), "the nav link is current: {empty}");
    assert!(owner.html("/admin").await.contains("href=\"/admin/numbers\""), "the panel links the page");

    // Choosing a provider, then its own fields: secrets as password inputs.
    let choose = owner.html("/admin/numbers/new").await;
    for provider in ["meta", "360dialog", "twilio", "chatwoot", "evolution"] {
        assert!(choose.contains(&format!("href=\"/admin/numbers/new?provider={provider}\"")), "{provider}: {choose}");
    }
    let evolution_form = owner.html("/admin/numbers/new?provider=evolution").await;
    assert!(evolution_form.contains("name=\"cred_api_key\" type=\"password\" value=\"\" autocomplete=\"off\""));
    assert!(evolution_form.contains("name=\"cred_instance\" type=\"text\""), "{evolution_form}");
    let meta_page = owner.html("/admin/numbers/new?provider=meta").await;
    assert!(meta_page.contains("Phone number ID from WhatsApp Manager &#62; API Setup"), "hints: {meta_page}");
    assert!(meta_page.contains("placeholder=\"https://graph.facebook.com/v23.0\""), "the default base URL");

    // Evolution without its base URL: 422 with the message, typed values kept but not the key, nothing created.
    let evolution = [
        ("provider", "evolution"),
        ("name", "Sales gateway"),
        ("phone_number", "+447700900111"),
        ("cred_api_key", EVO_KEY),
        ("cred_instance", "sales-instance"),
        ("api_base_url", ""),
    ];
    let refused = owner.send("/admin/numbers", &evolution).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("This provider runs on your own server: enter its API base URL."), "{html}");
    assert!(html.contains("value=\"Sales gateway\"") && html.contains("value=\"sales-instance\""), "kept: {html}");
    assert!(!html.contains(EVO_KEY), "the secret is never written back");
    assert!(owner.html("/admin/numbers").await.contains("id=\"numbers-empty\""), "nothing was created");

    // Without the session's CSRF token: 403.
    let forged = owner.post("/admin/numbers", &evolution).await;
    assert_eq!(forged.status(), 403);

    // With the base URL: connected, then its page with the webhook secret and the setup call.
    let evo_base = closed_url();
    let mut with_base = evolution.to_vec();
    with_base.retain(|(k, _)| *k != "api_base_url");
    with_base.push(("api_base_url", &evo_base));
    let evo_id = owner.connect(&with_base).await;
    let evo_page = owner.html(&format!("/admin/numbers/{evo_id}?done=created")).await;
    assert!(evo_page.contains("id=\"notice\""), "a notice: {evo_page}");
    let evo_url = input_value(&evo_page, "webhook-url");
    assert!(evo_url.contains("/webhooks/evolution/") && evo_url.contains("?secret="), "{evo_url}");
    let evo_secret = input_value(&evo_page, "webhook-secret");
    assert!(evo_secret.len() >= 20 && evo_url.ends_with(&evo_secret), "{evo_secret} in {evo_url}");
    assert!(evo_page.contains(&format!("{evo_base}/webhook/set/sales-instance")), "the setup call: {evo_page}");
    for event in ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE", "CONNECTION_UPDATE"] {
        assert!(evo_page.contains(event), "{event}");
    }
    assert!(!evo_page.contains(EVO_KEY), "the API key is never shown");
    assert!(evo_page.contains("data-credential=\"api_key\" data-set=\"true\""), "only that it is set");
    assert!(evo_page.contains("id=\"quota-today\">20<"), "warm-up is on for gateways: {evo_page}");

    // Test connection without JavaScript: back to the page, which shows the failure and why.
    let tested = owner.send(&format!("/admin/numbers/{evo_id}/test"), &[]).await;
    assert_eq!(location(&tested), format!("/admin/numbers/{evo_id}?done=tested"));
    let after = owner.html(&location(&tested)).await;
    assert!(after.contains("data-test=\"failed\""), "{after}");
    assert!(after.contains("could not connect to the provider"), "a readable reason: {after}");
    // … and with htmx: only the result box.
    let csrf = csrf_of(&owner.html("/").await);
    let fragment = owner
        .client
        .post(app.url(&format!("/admin/numbers/{evo_id}/test")))
        .header("HX-Request", "true")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(fragment.status(), 200);
    let fragment = fragment.text().await.unwrap();
    assert!(fragment.trim_start().starts_with("<div id=\"test-result\""), "a fragment: {fragment}");
    assert!(fragment.contains("data-test=\"failed\"") && fragment.contains("could not connect to the provider"));
    assert!(!fragment.contains("<html"), "{fragment}");

    // A Meta number: the webhook URL and the verify token, never the access token or the app secret.
    let meta_base = closed_url();
    let meta_id = owner.connect(&meta_form("+15550100123", &meta_base)).await;
    let page = owner.html(&format!("/admin/numbers/{meta_id}")).await;
    let url = input_value(&page, "webhook-url");
    assert!(url.contains("/webhooks/meta/") && !url.contains("secret"), "{url}");
    assert!(input_value(&page, "verify-token").len() >= 20, "the verify token is shown");
    assert!(!page.contains("id=\"webhook-secret\""), "Meta has a verify token instead");
    assert!(!page.contains(META_TOKEN) && !page.contains(META_SECRET), "secrets stay out of the page");
    assert!(page.contains("data-credential=\"access_token\" data-set=\"true\""), "{page}");
    assert!(page.contains("data-credential=\"app_secret\" data-set=\"true\""), "{page}");
    assert!(page.contains("value=\"106540352242922\""), "non-secret values are shown");
    assert!(page.contains("<code>messages</code>"), "Meta's steps: {page}");
    assert!(page.contains("id=\"quota-limit\">250<"), "Meta's first messaging-limit tier: {page}");

    // Edit with the secrets left blank: saved, and they are kept.
    let edit = [
        ("name", "Sales line"),
        ("status", "disabled"),
        ("cred_access_token", ""),
        ("cred_phone_number_id", "106540352242922"),
        ("cred_app_secret", ""),
        ("cred_waba_id", ""),
        ("api_base_url", meta_base.as_str()),
        ("warmup_enabled", "0"),
        ("warmup_enabled", "1"),
        ("warmup_schedule", "10, 30, 90"),
        ("messaging_limit", ""),
        ("throughput_per_second", "5"),
    ];
    let saved = owner.send(&format!("/admin/numbers/{meta_id}"), &edit).await;
    assert_eq!(location(&saved), format!("/admin/numbers/{meta_id}?done=saved"), "{}", saved.text().await.unwrap());
    let page = owner.html(&location(&saved)).await;
    assert!(page.contains("id=\"number-name\">Sales line<"), "{page}");
    assert!(page.contains("id=\"number-status\" data-status=\"disabled\""), "{page}");
    assert!(page.contains("data-credential=\"access_token\" data-set=\"true\""), "kept: {page}");
    assert!(page.contains("data-credential=\"app_secret\" data-set=\"true\""), "kept: {page}");
    assert!(page.contains("id=\"quota-today\">10<") && page.contains("value=\"10, 30, 90\""), "warm-up: {page}");
    assert!(page.contains("id=\"quota-limit\"><span class=\"muted\">"), "unlimited: {page}");
    assert!(page.contains("id=\"quota-throughput\">5 messages per second<"), "{page}");
    // The kept token is used: the test reaches for the network instead of missing a credential.
    owner.send(&format!("/admin/numbers/{meta_id}/test"), &[]).await;
    let page = owner.html(&format!("/admin/numbers/{meta_id}?done=tested")).await;
    assert!(page.contains("data-test=\"failed\"") && page.contains("could not connect to the provider"), "{page}");
    assert!(!page.contains("missing credential"), "{page}");

    // A bad warm-up schedule: 422 next to the field, typed values kept, nothing saved, still no secrets.
    let mut bad = edit.to_vec();
    bad.retain(|(k, _)| !matches!(*k, "warmup_schedule" | "name"));
    bad.extend([("warmup_schedule", "50, 20"), ("name", "Renamed")]);
    let refused = owner.send(&format!("/admin/numbers/{meta_id}"), &bad).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Enter the warm-up as messages per day for each week, growing"), "{html}");
    assert!(html.contains("id=\"warmup_schedule-error\"") && html.contains("value=\"50, 20\""), "{html}");
    assert!(!html.contains(META_TOKEN) && !html.contains(META_SECRET));
    assert!(owner.html(&format!("/admin/numbers/{meta_id}")).await.contains("id=\"number-name\">Sales line<"));
    // A required credential emptied: the error is next to that field.
    let mut cleared = edit.to_vec();
    cleared.retain(|(k, _)| *k != "cred_phone_number_id");
    cleared.push(("cred_phone_number_id", ""));
    let refused = owner.send(&format!("/admin/numbers/{meta_id}"), &cleared).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("id=\"cred_phone_number_id-error\""));

    // The list: both numbers with their provider, status and last test.
    let list = owner.html("/admin/numbers").await;
    let evo_row = row(&list, evo_id).unwrap_or_else(|| panic!("{list}"));
    assert!(evo_row.contains("Evolution API") && evo_row.contains("data-status=\"active\""), "{evo_row}");
    assert!(evo_row.contains("data-test=\"failed\"") && evo_row.contains("+447700900111"), "{evo_row}");
    let meta_row = row(&list, meta_id).unwrap_or_else(|| panic!("{list}"));
    assert!(meta_row.contains("Meta Cloud API") && meta_row.contains("data-status=\"disabled\""), "{meta_row}");
    assert!(meta_row.contains("Sales line") && meta_row.contains("0 of 10"), "{meta_row}");

    // Delete: a confirmation that warns, then gone.
    let confirm = owner.html(&format!("/admin/numbers/{evo_id}/delete")).await;
    assert!(confirm.contains("All conversations and messages of this number are deleted with it."), "{confirm}");
    let deleted = owner.send(&format!("/admin/numbers/{evo_id}/delete"), &[]).await;
    assert_eq!(location(&deleted), "/admin/numbers?done=deleted");
    assert_eq!(owner.get(&format!("/admin/numbers/{evo_id}")).await.status(), 404);
    let list = owner.html("/admin/numbers?done=deleted").await;
    assert!(row(&list, evo_id).is_none() && row(&list, meta_id).is_some(), "{list}");
    assert!(list.contains("id=\"notice\""), "{list}");
}

/// A workspace's id, from the owner panel's table.
async fn workspace_id(owner: &Browser<'_>, slug: &str) -> i64 {
    let page = owner.html("/owner").await;
    let end = page.find(&format!("\" data-slug=\"{slug}\"")).unwrap_or_else(|| panic!("no {slug}: {page}"));
    page[..end].rsplit("id=\"workspace-").next().unwrap().parse().unwrap()
}

// ---- Who may see and change numbers -------------------------------------------------------------------------------

both_backends!(only_this_workspaces_admins_see_its_numbers, only_this_workspaces_admins_see_its_numbers_on);
async fn only_this_workspaces_admins_see_its_numbers_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = Browser::signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let acme = workspace_id(&owner, "acme-support").await;
    let base = closed_url();
    let id = owner.connect(&meta_form("+15550100999", &base)).await;

    // At the workspace's numbers limit: refused over the form (409), what was typed kept, nothing created.
    let limited = owner.send(&format!("/owner/workspaces/{acme}/limits"), &[("numbers", "1")]).await;
    assert_eq!(limited.status(), 303);
    let refused = owner.send("/admin/numbers", &meta_form("+15550100777", &base)).await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(html.contains("This workspace has reached its limit of 1 WhatsApp numbers."), "{html}");
    assert!(html.contains("value=\"+15550100777\"") && !html.contains(META_TOKEN), "{html}");
    assert_eq!(owner.html("/admin/numbers").await.matches("<tr id=\"number-").count(), 1);
    let added = owner
        .send(
            "/admin/members",
            &[("name", "Sam Agent"), ("email", SAM_EMAIL), ("role", "agent"), ("password", SAM_PASSWORD)],
        )
        .await;
    assert_eq!(added.status(), 303, "Sam is added");

    // An agent: the same refusal as the other admin pages, on every page and action; no link in the navigation.
    let sam = Browser::signed_in(&app, SAM_EMAIL, SAM_PASSWORD).await;
    assert!(!sam.html("/").await.contains("id=\"nav-numbers\""));
    assert_eq!(sam.get("/admin/jobs").await.status(), 403, "what the other admin pages answer");
    for path in
        ["/admin/numbers".to_owned(), "/admin/numbers/new?provider=meta".to_owned(), format!("/admin/numbers/{id}")]
    {
        assert_eq!(sam.get(&path).await.status(), 403, "GET {path}");
    }
    assert_eq!(sam.get(&format!("/admin/numbers/{id}/delete")).await.status(), 403);
    let posts = [
        ("/admin/numbers".to_owned(), meta_form("+15550100888", &base)),
        (format!("/admin/numbers/{id}"), vec![("name", "Hacked")]),
        (format!("/admin/numbers/{id}/test"), vec![]),
        (format!("/admin/numbers/{id}/delete"), vec![]),
    ];
    for (path, form) in &posts {
        assert_eq!(sam.send(path, form).await.status(), 403, "POST {path}");
    }

    // A second workspace's admin: Acme's number does not exist for him.
    let created = owner
        .send(
            "/owner/workspaces",
            &[("name", "Beta Team"), ("slug", "beta"), ("timezone", "UTC"), ("admin_email", ADMIN_EMAIL)],
        )
        .await;
    let beta: i64 = location(&created).trim_start_matches("/owner?created=").parse().unwrap();
    owner.send("/workspace/switch", &[("workspace_id", &beta.to_string())]).await;
    let bob_added = owner
        .send(
            "/admin/members",
            &[("name", "Bob Beta"), ("email", BOB_EMAIL), ("role", "admin"), ("password", BOB_PASSWORD)],
        )
        .await;
    assert_eq!(bob_added.status(), 303, "Bob is added to Beta");
    let bob = Browser::signed_in(&app, BOB_EMAIL, BOB_PASSWORD).await;
    assert!(bob.html("/admin/numbers").await.contains("id=\"numbers-empty\""), "Beta has no numbers");
    assert_eq!(bob.get(&format!("/admin/numbers/{id}")).await.status(), 404);
    assert_eq!(bob.get(&format!("/admin/numbers/{id}/delete")).await.status(), 404);
    for (path, form) in posts.iter().skip(1) {
        assert_eq!(bob.send(path, form).await.status(), 404, "POST {path}");
    }

    // Nothing changed in Acme.
    owner.send("/workspace/switch", &[("workspace_id", &acme.to_string())]).await;
    let number = owner.html(&format!("/admin/numbers/{id}")).await;
    assert!(number.contains("id=\"number-name\">Support line<") && number.contains("data-test=\"never\""), "{number}");
}
