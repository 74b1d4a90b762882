//! The workspace admin panel, the owner panel, the audit log and the workspace switcher over HTTP, on installed
//! instances (SQLite and Postgres): team changes, limits, workspaces, CSRF, tenant isolation and escaping.

use conversure::store::{Db, Value, accounts};
use reqwest::{Client, Response};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, test_config};
use crate::web_user::{csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

const SAM_EMAIL: &str = "sam@acme.example";
const SAM_PASSWORD: &str = "copper kettle meadow 31";
const BOB_EMAIL: &str = "bob@beta.example";
const BOB_PASSWORD: &str = "silver canyon lantern 58";

// ---- Helpers -----------------------------------------------------------------------------------------------------

/// A browser: its own cookies, redirects not followed.
struct User<'a> {
    app: &'a TestApp,
    client: Client,
}

impl<'a> User<'a> {
    /// The owner, signed in on the app's own client (which went through the wizard).
    async fn owner(app: &'a TestApp) -> Self {
        let user = Self { app, client: app.client.clone() };
        assert_eq!(location(&user.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await), "/", "the owner signs in");
        user
    }

    /// Someone else, signed in with a fresh client.
    async fn signed_in(app: &'a TestApp, email: &str, password: &str) -> Self {
        let client = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let user = Self { app, client };
        assert_eq!(location(&user.sign_in(email, password).await), "/", "{email} signs in");
        user
    }

    async fn sign_in(&self, email: &str, password: &str) -> Response {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = csrf_of(&page);
        self.post("/login", &[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")]).await
    }

    async fn get(&self, path: &str) -> Response {
        self.client.get(self.app.url(path)).send().await.unwrap()
    }

    async fn html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client.post(self.app.url(path)).form(form).send().await.unwrap()
    }

    /// The session's CSRF token, from the navigation of the start page.
    async fn csrf(&self) -> String {
        csrf_of(&self.html("/").await)
    }

    /// A POST with the session's CSRF token added.
    async fn send(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let csrf = self.csrf().await;
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    /// Adds a member through the panel; returns the new user's id.
    async fn add_member(&self, name: &str, email: &str, role: &str, password: &str) -> i64 {
        let added = self
            .send("/admin/members", &[("name", name), ("email", email), ("role", role), ("password", password)])
            .await;
        if added.status() == 200 {
            // Invited without email set up: the panel shows the invitation link once, and the new row.
            let html = added.text().await.unwrap();
            assert!(html.contains("/invite/"), "the invitation link is shown: {html}");
            return member_id_by_email(&html, email);
        }
        assert_eq!(added.status(), 303, "{name} is added: {}", added.text().await.unwrap());
        let to = location(&added);
        assert!(to.starts_with("/admin?added="), "{to}");
        to.trim_start_matches("/admin?added=").split('&').next().unwrap().parse().unwrap()
    }
}

/// The id of the team table row that shows `email`.
fn member_id_by_email(html: &str, email: &str) -> i64 {
    html.split("<tr id=\"member-")
        .skip(1)
        .find(|row| row.split("</tr>").next().unwrap_or_default().contains(email))
        .and_then(|row| row.split('"').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no row for {email}"))
}

/// The ids of the team table's rows (`<tr id="member-…">`), in order.
fn member_ids(html: &str) -> Vec<i64> {
    html.split("<tr id=\"member-").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

/// Installs through the wizard (evaluation mode, email skipped).
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

/// The running instance's database, opened beside it.
async fn open_db(app: &TestApp) -> Db {
    let config = test_config(app.data_dir.path(), app.db.url.clone(), &[]);
    Db::open(&config.database).await.unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    let db = open_db(app).await;
    let mut conn = db.read().await.unwrap();
    let id = accounts::user_by_email(&mut conn, &email.to_lowercase()).await.unwrap().unwrap().id;
    drop(conn);
    db.close().await;
    id
}

async fn workspace_id(app: &TestApp, slug: &str) -> i64 {
    let db = open_db(app).await;
    let mut conn = db.read().await.unwrap();
    let id = accounts::workspace_by_slug(&mut conn, slug).await.unwrap().unwrap().id;
    drop(conn);
    db.close().await;
    id
}

/// A WhatsApp number, a contact and a conversation assigned to `assignee` in a workspace; returns the conversation.
async fn assigned_conversation(app: &TestApp, workspace: i64, assignee: i64) -> i64 {
    let db = open_db(app).await;
    let mut tx = db.write().await.unwrap();
    let now = conversure::store::now_millis();
    let account = tx
        .fetch_one(
            "INSERT INTO whatsapp_accounts (workspace_id, name, provider, phone, account_key, credentials, webhook_secret,
                 warmup_enabled, warmup_schedule, warmup_started_on, throughput_per_second, last_test_ok, created_at,
                 updated_at)
             VALUES ($1, 'Sales line', 'evolution', '+4930123456', $2, '-', '-', 1, '250', '2026-01-01', 10, 1, $3, $3)
             RETURNING id",
            &[workspace.into(), format!("key-{workspace}-{assignee}").into(), now.into()],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    let contact = tx
        .fetch_one(
            "INSERT INTO contacts (workspace_id, phone, name, created_at, updated_at)
             VALUES ($1, '+4915112345678', 'Carla Customer', $2, $2) RETURNING id",
            &[workspace.into(), now.into()],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    let conversation = tx
        .fetch_one(
            "INSERT INTO conversations (workspace_id, account_id, contact_id, status, assignee_user_id, created_at,
                 updated_at) VALUES ($1, $2, $3, 'open', $4, $5, $5) RETURNING id",
            &[workspace.into(), account.into(), contact.into(), assignee.into(), now.into()],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    conversation
}

async fn assignee_of(app: &TestApp, conversation: i64) -> Option<i64> {
    let db = open_db(app).await;
    let mut conn = db.read().await.unwrap();
    let row = conn
        .fetch_one("SELECT assignee_user_id FROM conversations WHERE id = $1", &[Value::Int(conversation)])
        .await
        .unwrap();
    drop(conn);
    db.close().await;
    row.opt_int(0).unwrap()
}

/// The member's role and status in a workspace, straight from the database.
async fn membership(app: &TestApp, workspace: i64, user: i64) -> Option<(String, String)> {
    let db = open_db(app).await;
    let mut conn = db.read().await.unwrap();
    let member = accounts::member_of(&mut conn, workspace, user, 0).await.unwrap();
    drop(conn);
    db.close().await;
    member.map(|m| (m.role, m.status))
}

// ---- The team ----------------------------------------------------------------------------------------------------

both_backends!(the_team_is_managed_from_the_panel, the_team_is_managed_from_the_panel_on);
async fn the_team_is_managed_from_the_panel_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let olivia = user_id(&app, ADMIN_EMAIL).await;
    let acme = workspace_id(&app, "acme-support").await;

    // The panel with its empty states.
    let panel = owner.html("/admin").await;
    assert!(panel.contains("Workspace admin") && panel.contains("Acme Support"), "{panel}");
    assert!(panel.contains("id=\"numbers-empty\"") && panel.contains("“Numbers”"), "numbers: empty state");
    assert!(panel.contains("href=\"/admin/numbers"), "a link to where numbers are connected");
    assert!(panel.contains("No daily limit"), "no numbers, so no daily limit");
    assert_eq!(member_ids(&panel), vec![olivia]);
    assert!(panel.contains("id=\"nav-admin\"") && panel.contains("id=\"nav-owner\""), "the navigation");

    // With a password: a member who can sign in at once.
    let sam = owner.add_member("Sam Agent", SAM_EMAIL, "agent", SAM_PASSWORD).await;
    let after = owner.html(&format!("/admin?added={sam}")).await;
    assert!(after.contains("Sam Agent was added to the team."), "{after}");
    // Without one: invited, and the panel says an invitation is needed.
    let added = owner
        .send("/admin/members", &[("name", "Ivy Invited"), ("email", "ivy@acme.example"), ("role", "agent")])
        .await;
    // No SMTP in this instance: the link is shown once for the admin to pass on.
    assert_eq!(added.status(), 200);
    let shown = added.text().await.unwrap();
    assert!(shown.contains("send this invitation link to them yourself") && shown.contains("/invite/"), "{shown}");
    let ivy = member_id_by_email(&shown, "ivy@acme.example");
    let invited = owner.html("/admin").await;
    let ivy_row = invited.split(&format!("<tr id=\"member-{ivy}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(ivy_row.contains("data-invited=\"true\"") && ivy_row.contains("Invitation needed"));
    let sam_row = invited.split(&format!("<tr id=\"member-{sam}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(!sam_row.contains("data-invited"), "Sam has a password");

    // Mistakes are shown next to the field (422) and add nobody.
    let bad = owner.send("/admin/members", &[("name", "Nobody"), ("email", "not-an-email"), ("role", "agent")]).await;
    assert_eq!(bad.status(), 422);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains("id=\"email-error\"") && bad.contains("aria-invalid=\"true\""), "{bad}");
    assert!(bad.contains("value=\"Nobody\""), "what was typed stays");
    let twice = owner.send("/admin/members", &[("name", "Sam Again"), ("email", SAM_EMAIL), ("role", "agent")]).await;
    assert_eq!(twice.status(), 422);
    assert!(twice.text().await.unwrap().contains("already a member"));
    let weak = owner
        .send("/admin/members", &[("name", "Wes"), ("email", "wes@acme.example"), ("role", "agent"), ("password", "x")])
        .await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("id=\"password-error\""));
    assert_eq!(member_ids(&owner.html("/admin").await).len(), 3, "no one was added by the failures");

    // Search and filter: the htmx fragment, and the plain GET form.
    let found = owner.get("/admin/team?q=IVY").await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.headers()["hx-push-url"], "/admin?q=IVY");
    let found = found.text().await.unwrap();
    assert!(!found.contains("<html"), "only the rows");
    assert_eq!(member_ids(&found), vec![ivy]);
    assert_eq!(member_ids(&owner.html("/admin/team?q=acme.example").await).len(), 3, "email matches too");
    let plain = owner.html("/admin?q=sam").await;
    assert!(plain.contains("<html") && plain.contains("value=\"sam\""));
    assert_eq!(member_ids(&plain), vec![sam]);
    assert!(owner.html("/admin/team?status=inactive").await.contains("id=\"team-empty\""));

    // Role, quota and name.
    let page = owner.html(&format!("/admin/members/{sam}")).await;
    assert!(page.contains("data-role=\"agent\""));
    let changed = owner
        .send(&format!("/admin/members/{sam}"), &[("name", "Sam Manager"), ("role", "manager"), ("daily_quota", "40")])
        .await;
    assert_eq!(location(&changed), format!("/admin/members/{sam}?done=saved"));
    let page = owner.html(&format!("/admin/members/{sam}?done=saved")).await;
    assert!(
        page.contains("data-role=\"manager\"")
            && page.contains("Sam Manager")
            && page.contains("The changes were saved.")
    );
    assert!(page.split("id=\"member-quota\">").nth(1).unwrap().starts_with("40"), "{page}");
    assert_eq!(membership(&app, acme, sam).await, Some(("manager".into(), "active".into())));
    let bad_quota = owner
        .send(&format!("/admin/members/{sam}"), &[("name", "Sam"), ("role", "manager"), ("daily_quota", "lots")])
        .await;
    assert_eq!(bad_quota.status(), 422);
    assert!(bad_quota.text().await.unwrap().contains("id=\"daily_quota-error\""));
    let bad_role = owner.send(&format!("/admin/members/{sam}"), &[("name", "Sam"), ("role", "owner")]).await;
    assert_eq!(bad_role.status(), 422);
    assert_eq!(membership(&app, acme, sam).await, Some(("manager".into(), "active".into())), "nothing changed");
    // The admin cannot demote or deactivate themselves.
    let myself = owner.send(&format!("/admin/members/{olivia}/status"), &[("status", "inactive")]).await;
    assert_eq!(myself.status(), 422);
    assert!(myself.text().await.unwrap().contains("cannot deactivate, demote or remove yourself"));

    // Deactivate, filter, reactivate.
    let off = owner.send(&format!("/admin/members/{sam}/status"), &[("status", "inactive")]).await;
    assert_eq!(location(&off), format!("/admin/members/{sam}?done=deactivated"));
    assert_eq!(member_ids(&owner.html("/admin/team?status=inactive").await), vec![sam]);
    assert!(!member_ids(&owner.html("/admin/team?status=active").await).contains(&sam));
    let manager = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let as_sam = User { app: &app, client: manager };
    as_sam.sign_in(SAM_EMAIL, SAM_PASSWORD).await;
    assert_ne!(as_sam.get("/admin").await.status(), 200, "a deactivated member cannot work in the workspace");
    let on = owner.send(&format!("/admin/members/{sam}/status"), &[("status", "active")]).await;
    assert_eq!(location(&on), format!("/admin/members/{sam}?done=reactivated"));

    // A manager sees the team but cannot change it.
    let sam_session = User::signed_in(&app, SAM_EMAIL, SAM_PASSWORD).await;
    let seen = sam_session.html("/admin").await;
    assert!(!seen.contains("id=\"add-member-form\""), "no add form for a manager");
    let refused =
        sam_session.send("/admin/members", &[("name", "X"), ("email", "x@acme.example"), ("role", "agent")]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(sam_session.get("/admin/audit").await.status(), 403, "the audit log is for admins");

    // Escaping: a member whose name is markup.
    let xss = owner.add_member("<script>x</script>", "xss@acme.example", "agent", "").await;
    let panel = owner.html("/admin").await;
    assert!(panel.contains("&lt;script&gt;x&lt;/script&gt;") || panel.contains("&#60;script&#62;x&#60;/script&#62;"));
    assert!(!panel.contains("<script>x</script>"), "never raw");
    assert!(!owner.html(&format!("/admin/members/{xss}")).await.contains("<script>x</script>"));

    // Numbers, counts and trends, then deleting a member with a conversation: it becomes unassigned.
    let conversation = assigned_conversation(&app, acme, ivy).await;
    let panel = owner.html("/admin").await;
    assert!(panel.contains("id=\"number-") && panel.contains("Sales line") && panel.contains("Connected"));
    assert!(panel.contains("of 250 allowed"), "the daily limit is the numbers' sum");
    let contacts = panel.split("id=\"stat-contacts\"").nth(1).unwrap().split("</div>").next().unwrap();
    assert!(
        contacts.contains("<p class=\"stat__value\">1</p>") && contacts.contains("data-direction=\"up\""),
        "{contacts}"
    );
    let confirm = owner.html(&format!("/admin/members/{ivy}/delete")).await;
    assert!(confirm.contains("become unassigned (1 right now)"), "{confirm}");
    let deleted = owner.send(&format!("/admin/members/{ivy}/delete"), &[]).await;
    assert_eq!(location(&deleted), "/admin?done=removed");
    assert!(owner.html("/admin?done=removed").await.contains("The member was removed."));
    assert_eq!(assignee_of(&app, conversation).await, None, "the conversation is unassigned");
    assert_eq!(membership(&app, acme, ivy).await, None);
    assert_eq!(owner.get(&format!("/admin/members/{ivy}")).await.status(), 404);
    // The last admin cannot be removed (here: the admin themselves).
    let last = owner.send(&format!("/admin/members/{olivia}/delete"), &[]).await;
    assert_eq!(last.status(), 422);
    assert!(membership(&app, acme, olivia).await.is_some());
}

// ---- Limits and the owner panel ----------------------------------------------------------------------------------

both_backends!(the_owner_manages_workspaces_limits_and_settings, the_owner_manages_workspaces_on);
async fn the_owner_manages_workspaces_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let acme = workspace_id(&app, "acme-support").await;

    let panel = owner.html("/owner").await;
    assert!(panel.contains(&format!("id=\"workspace-{acme}\"")) && panel.contains("acme-support"), "{panel}");

    // An agents limit of 2: the owner plus one more; the next is refused with a clear message.
    let bad = owner.send(&format!("/owner/workspaces/{acme}/limits"), &[("agents", "-3")]).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("Limits must be 0 or more"));
    let saved = owner.send(&format!("/owner/workspaces/{acme}/limits"), &[("agents", "2"), ("contacts", "")]).await;
    assert_eq!(location(&saved), format!("/owner/workspaces/{acme}?done=limits"));
    let page = owner.html(&format!("/owner/workspaces/{acme}?done=limits")).await;
    assert!(page.contains("name=\"agents\" type=\"text\" value=\"2\"") && page.contains("The limits were saved."));
    owner.add_member("Sam Agent", SAM_EMAIL, "agent", SAM_PASSWORD).await;
    let refused = owner
        .send("/admin/members", &[("name", "One Too Many"), ("email", "many@acme.example"), ("role", "agent")])
        .await;
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("reached its limit of 2"), "{refused}");
    assert!(!refused.contains("One Too Many</a>"), "not in the table");
    assert!(owner.html("/admin").await.contains("of 2 allowed"), "the panel shows the limit");

    // Create a workspace with the owner as its admin; a taken slug is refused.
    let taken =
        owner.send("/owner/workspaces", &[("name", "Again"), ("slug", "acme-support"), ("timezone", "UTC")]).await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("id=\"slug-error\""));
    let created = owner
        .send(
            "/owner/workspaces",
            &[("name", "Beta Team"), ("slug", "beta"), ("timezone", "Asia/Riyadh"), ("admin_email", ADMIN_EMAIL)],
        )
        .await;
    let to = location(&created);
    assert!(to.starts_with("/owner?created="), "{to}");
    let beta: i64 = to.trim_start_matches("/owner?created=").parse().unwrap();
    assert!(owner.html(&to).await.contains("The workspace Beta Team was created."));

    // A member of Beta; suspending Beta locks them out of /admin (403), reactivating lets them back.
    let switched = owner.send("/workspace/switch", &[("workspace_id", &beta.to_string())]).await;
    assert_eq!(location(&switched), "/");
    owner.add_member("Bob Beta", BOB_EMAIL, "admin", BOB_PASSWORD).await;
    let bob = User::signed_in(&app, BOB_EMAIL, BOB_PASSWORD).await;
    assert_eq!(bob.get("/admin").await.status(), 200);
    let suspended = owner.send(&format!("/owner/workspaces/{beta}/status"), &[("suspend", "1")]).await;
    assert_eq!(location(&suspended), format!("/owner/workspaces/{beta}?done=suspended"));
    assert!(
        owner
            .html("/owner")
            .await
            .contains(&format!("id=\"workspace-{beta}\" data-slug=\"beta\" data-status=\"suspended\""))
    );
    let locked = bob.get("/admin").await;
    assert_eq!(locked.status(), 403);
    assert!(locked.text().await.unwrap().contains("suspended"));
    let back = owner.send(&format!("/owner/workspaces/{beta}/status"), &[("suspend", "0")]).await;
    assert_eq!(location(&back), format!("/owner/workspaces/{beta}?done=reactivated"));
    assert_eq!(bob.get("/admin").await.status(), 200);

    // Delete: the slug must be typed. (The owner leaves Beta first: deleting a workspace ends the sessions in it.)
    owner.send("/workspace/switch", &[("workspace_id", &acme.to_string())]).await;
    let wrong = owner.send(&format!("/owner/workspaces/{beta}/delete"), &[("confirm", "acme-support")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("Type beta to confirm the deletion."));
    assert_eq!(owner.get(&format!("/owner/workspaces/{beta}")).await.status(), 200, "still there");
    let deleted = owner.send(&format!("/owner/workspaces/{beta}/delete"), &[("confirm", "beta")]).await;
    assert_eq!(location(&deleted), "/owner?done=deleted");
    assert!(!owner.html("/owner").await.contains(&format!("id=\"workspace-{beta}\"")));
    assert_eq!(owner.get(&format!("/owner/workspaces/{beta}")).await.status(), 404);
    assert_eq!(owner.get("/owner/workspaces/999999").await.status(), 404);

    // Instance settings: checked field by field, then saved, applied and audited.
    let settings = owner.html("/owner/settings").await;
    assert!(settings.contains("value=\"Acme Chat\"") && settings.contains("value=\"https://crm.acme.example\""));
    let invalid = owner
        .send(
            "/owner/settings",
            &[
                ("brand_name", "Acme"),
                ("primary_color", "red;}body{display:none"),
                ("accent_color", ""),
                ("language", "en"),
                ("public_url", "crm.acme.example"),
                ("timezone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let invalid = invalid.text().await.unwrap();
    assert!(invalid.contains("id=\"primary_color-error\"") && invalid.contains("id=\"public_url-error\""));
    assert!(owner.html("/owner/settings").await.contains("value=\"Acme Chat\""), "nothing was saved");
    let saved = owner
        .send(
            "/owner/settings",
            &[
                ("brand_name", "Acme <Chat>"),
                ("primary_color", "#112233"),
                ("accent_color", "#ABCDEF"),
                ("language", "en"),
                ("public_url", "https://chat.acme.example/"),
                ("timezone", "Asia/Riyadh"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/owner/settings?done=saved");
    let settings = owner.html("/owner/settings?done=saved").await;
    assert!(settings.contains("The settings were saved.") && settings.contains("value=\"#abcdef\""));
    assert!(settings.contains("Acme &lt;Chat&gt;") || settings.contains("Acme &#60;Chat&#62;"), "escaped");
    assert!(settings.contains("<option value=\"Asia/Riyadh\" selected>"));
    let brand_url = settings
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.starts_with("/brand.css?v=")))
        .unwrap()
        .to_owned();
    assert!(owner.get(&brand_url).await.text().await.unwrap().contains("--brand-primary:#112233"));
    let log = owner.html("/owner/audit?action=settings.changed").await;
    assert!(log.contains("Settings changed") && log.contains("site.timezone") && log.contains("Asia/Riyadh"), "{log}");
    assert!(log.contains("Time (Asia/Riyadh)"), "times in the new site time zone");
}

// ---- The audit log -----------------------------------------------------------------------------------------------

both_backends!(the_audit_log_filters_and_pages, the_audit_log_filters_and_pages_on);
async fn the_audit_log_filters_and_pages_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let acme = workspace_id(&app, "acme-support").await;
    let sam = owner.add_member("Sam Agent", SAM_EMAIL, "agent", SAM_PASSWORD).await;
    let role = owner.send(&format!("/admin/members/{sam}"), &[("name", "Sam Agent"), ("role", "manager")]).await;
    assert_eq!(role.status(), 303);
    // A failed sign-in (no workspace) and another workspace's event: only the owner's log has them.
    let stranger = User {
        app: &app,
        client: Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap(),
    };
    stranger.sign_in("nobody@acme.example", "wrong password entirely").await;
    owner.send("/owner/workspaces", &[("name", "Gamma"), ("slug", "gamma"), ("timezone", "UTC")]).await;

    let log = owner.html("/admin/audit").await;
    assert!(log.contains("data-action=\"auth.sign_in\"") && log.contains("Signed in"), "{log}");
    assert!(log.contains("data-action=\"team.role_changed\"") && log.contains("Role changed"));
    let role_detail = "\"role\":{\"from\":\"agent\",\"to\":\"manager\"}";
    assert!(
        log.contains(&role_detail.replace('"', "&quot;")) || log.contains(&role_detail.replace('"', "&#34;")),
        "detail as escaped JSON: {log}"
    );
    assert!(log.contains("Time (Europe/Berlin)"), "the site's time zone");
    assert!(!log.contains("data-action=\"workspace.created\""), "Gamma's creation is not this workspace's");
    let first = log.find("data-action=\"team.role_changed\"").unwrap();
    let added = log.find("data-action=\"team.member_added\"").unwrap();
    assert!(first < added, "newest first");

    let roles = owner.html("/admin/audit?action=team.role_changed").await;
    let actions: Vec<&str> = roles.split("data-action=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(actions, vec!["team.role_changed"]);
    assert!(roles.contains("<option value=\"team.role_changed\" selected>"));
    assert!(owner.html("/admin/audit?actor=OWNER%40acme").await.contains("data-action=\"team.role_changed\""));
    assert!(owner.html("/admin/audit?actor=nobody-at-all").await.contains("id=\"audit-empty\""));
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()).date();
    let today = today.to_string();
    assert!(
        owner.html(&format!("/admin/audit?from={today}&to={today}")).await.contains("data-action=\"auth.sign_in\"")
    );
    assert!(owner.html("/admin/audit?from=2000-01-01&to=2000-01-02").await.contains("id=\"audit-empty\""));
    let backwards = owner.get("/admin/audit?from=2000-01-02&to=2000-01-01").await;
    assert_eq!(backwards.status(), 422);
    assert!(backwards.text().await.unwrap().contains("id=\"to-error\""));
    assert_eq!(owner.get("/admin/audit?from=yesterday").await.status(), 422);

    // The owner's log spans the instance.
    let all = owner.html("/owner/audit").await;
    assert!(all.contains("data-action=\"auth.sign_in_failed\"") && all.contains("data-action=\"workspace.created\""));
    assert!(all.contains("data-action=\"instance.installed\""));

    // Keyset pages of 50, newest first.
    let db = open_db(&app).await;
    let mut tx = db.write().await.unwrap();
    for i in 0..60 {
        let target = format!("bulk-{i:02}");
        let entry = conversure::store::audit::Entry {
            workspace_id: Some(acme),
            actor_user_id: None,
            actor_label: "system",
            action: "test.bulk",
            target: Some(&target),
            detail: serde_json::json!({ "n": i, "note": "<b>bold</b>" }),
            ip: None,
        };
        conversure::store::audit::record(&mut tx, &entry).await.unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await;
    let page1 = owner.html("/admin/audit?action=test.bulk").await;
    assert_eq!(page1.matches("data-action=\"test.bulk\"").count(), 50);
    assert!(page1.contains(">bulk-59<") && !page1.contains(">bulk-09<"));
    assert!(page1.contains("<option value=\"test.bulk\" selected>test.bulk</option>"), "unknown actions, raw");
    assert!(!page1.contains("<b>bold</b>"), "details are escaped");
    let older =
        page1.split("id=\"older\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap();
    let older = older.replace("&amp;", "&").replace("&#38;", "&");
    assert!(older.starts_with("/admin/audit?action=test.bulk&before="), "{older}");
    let page2 = owner.html(&older).await;
    assert_eq!(page2.matches("data-action=\"test.bulk\"").count(), 10);
    assert!(page2.contains(">bulk-09<") && page2.contains(">bulk-00<") && !page2.contains(">bulk-10<"));
    assert!(!page2.contains("id=\"older\"") && page2.contains("id=\"newest\""));
}

// ---- CSRF --------------------------------------------------------------------------------------------------------

both_backends!(changes_need_the_session_csrf_token, changes_need_the_session_csrf_token_on);
async fn changes_need_the_session_csrf_token_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let acme = workspace_id(&app, "acme-support").await;
    let sam = owner.add_member("Sam Agent", SAM_EMAIL, "agent", SAM_PASSWORD).await;
    let acme_id = acme.to_string();

    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/admin/members".into(), vec![("name", "Eve"), ("email", "eve@acme.example"), ("role", "admin")]),
        (format!("/admin/members/{sam}"), vec![("name", "Sam"), ("role", "admin")]),
        (format!("/admin/members/{sam}/status"), vec![("status", "inactive")]),
        (format!("/admin/members/{sam}/delete"), vec![]),
        ("/owner/workspaces".into(), vec![("name", "Evil"), ("slug", "evil"), ("timezone", "UTC")]),
        (format!("/owner/workspaces/{acme}/limits"), vec![("agents", "0")]),
        (format!("/owner/workspaces/{acme}/status"), vec![("suspend", "1")]),
        (format!("/owner/workspaces/{acme}/delete"), vec![("confirm", "acme-support")]),
        (
            "/owner/settings".into(),
            vec![
                ("brand_name", "Evil"),
                ("language", "en"),
                ("timezone", "UTC"),
                ("public_url", "https://evil.example"),
            ],
        ),
        ("/workspace/switch".into(), vec![("workspace_id", acme_id.as_str())]),
        ("/logout".into(), vec![]),
    ];
    for (path, form) in &attempts {
        let missing = owner.post(path, form).await;
        assert_eq!(missing.status(), 403, "POST {path} without csrf");
        let mut wrong = vec![("csrf", "not-the-token")];
        wrong.extend_from_slice(form);
        assert_eq!(owner.post(path, &wrong).await.status(), 403, "POST {path} with a wrong csrf");
    }
    // Nothing changed.
    assert_eq!(membership(&app, acme, sam).await, Some(("agent".into(), "active".into())));
    let panel = owner.html("/admin").await;
    assert_eq!(member_ids(&panel).len(), 2, "no one added or removed");
    let owner_panel = owner.html("/owner").await;
    assert!(!owner_panel.contains("data-slug=\"evil\""), "no workspace created");
    assert!(owner_panel.contains("data-slug=\"acme-support\" data-status=\"active\""), "not suspended, not deleted");
    assert!(
        owner.html(&format!("/owner/workspaces/{acme}")).await.contains("name=\"agents\" type=\"text\" value=\"\"")
    );
    assert!(owner.html("/owner/settings").await.contains("value=\"Acme Chat\""));
    assert_eq!(owner.get("/").await.status(), 200, "still signed in");
}

// ---- Isolation between workspaces, and the owner area's invisibility ----------------------------------------------

both_backends!(workspaces_are_isolated, workspaces_are_isolated_on);
async fn workspaces_are_isolated_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let acme = workspace_id(&app, "acme-support").await;
    let olivia = user_id(&app, ADMIN_EMAIL).await;
    let sam = owner.add_member("Sam Agent", SAM_EMAIL, "agent", SAM_PASSWORD).await;
    let ann = owner.add_member("Ann Admin", "ann@acme.example", "admin", "").await;
    let conversation = assigned_conversation(&app, acme, sam).await;

    // A second workspace, created in the owner panel, with its own admin.
    let created = owner
        .send(
            "/owner/workspaces",
            &[("name", "Beta Team"), ("slug", "beta"), ("timezone", "UTC"), ("admin_email", ADMIN_EMAIL)],
        )
        .await;
    let beta: i64 = location(&created).trim_start_matches("/owner?created=").parse().unwrap();
    owner.send("/workspace/switch", &[("workspace_id", &beta.to_string())]).await;
    owner.add_member("Bob Beta", BOB_EMAIL, "admin", BOB_PASSWORD).await;
    let bob = User::signed_in(&app, BOB_EMAIL, BOB_PASSWORD).await;
    let bobs_panel = bob.html("/admin").await;
    assert!(bobs_panel.contains("Beta Team") && !bobs_panel.contains(SAM_EMAIL), "Bob sees Beta only");

    // Every /admin route aimed at Acme's members answers 404 or 403 for Bob. (Olivia, the owner, is in both.)
    let csrf = bob.csrf().await;
    for target in [sam, ann] {
        for path in [format!("/admin/members/{target}"), format!("/admin/members/{target}/delete")] {
            let status = bob.get(&path).await.status().as_u16();
            assert!(status == 404 || status == 403, "GET {path}: {status}");
        }
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (format!("/admin/members/{target}"), vec![("name", "Hacked"), ("role", "agent"), ("daily_quota", "0")]),
            (format!("/admin/members/{target}/status"), vec![("status", "inactive")]),
            (format!("/admin/members/{target}/delete"), vec![]),
        ];
        for (path, form) in posts {
            let mut fields = vec![("csrf", csrf.as_str())];
            fields.extend_from_slice(&form);
            let status = bob.post(&path, &fields).await.status().as_u16();
            assert!(status == 404 || status == 403, "POST {path}: {status}");
        }
    }
    let team = bob.html("/admin/team?q=sam").await;
    assert!(member_ids(&team).is_empty());
    let switch = bob.post("/workspace/switch", &[("csrf", &csrf), ("workspace_id", &acme.to_string())]).await;
    assert_eq!(switch.status(), 404, "Bob is no member of Acme");
    assert!(bob.html("/admin").await.contains("Beta Team"), "still in Beta");
    let audit = bob.html("/admin/audit").await;
    assert!(!audit.contains(SAM_EMAIL), "Acme's audit entries stay in Acme");
    // Nothing changed in Acme.
    assert_eq!(membership(&app, acme, sam).await, Some(("agent".into(), "active".into())));
    assert_eq!(membership(&app, acme, olivia).await, Some(("admin".into(), "active".into())));
    assert_eq!(membership(&app, acme, ann).await, Some(("admin".into(), "active".into())));
    assert_eq!(assignee_of(&app, conversation).await, Some(sam));
    let db = open_db(&app).await;
    let mut conn = db.read().await.unwrap();
    let names = accounts::user_by_id(&mut conn, sam).await.unwrap().unwrap().name;
    drop(conn);
    db.close().await;
    assert_eq!(names, "Sam Agent");

    // The owner area does not exist for anyone but the owner.
    for path in ["/owner", "/owner/settings", "/owner/audit", &format!("/owner/workspaces/{acme}")] {
        assert_eq!(bob.get(path).await.status(), 404, "GET {path}");
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/owner/workspaces".into(), vec![("name", "Mine"), ("slug", "mine"), ("timezone", "UTC")]),
        (format!("/owner/workspaces/{acme}/limits"), vec![("agents", "0")]),
        (format!("/owner/workspaces/{acme}/status"), vec![("suspend", "1")]),
        (format!("/owner/workspaces/{acme}/delete"), vec![("confirm", "acme-support")]),
        (
            "/owner/settings".into(),
            vec![("brand_name", "Mine"), ("language", "en"), ("timezone", "UTC"), ("public_url", "https://x.example")],
        ),
    ];
    for (path, form) in posts {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(&form);
        assert_eq!(bob.post(&path, &fields).await.status(), 404, "POST {path}");
    }
    assert!(!bob.html("/").await.contains("id=\"nav-owner\""), "no owner link either");
    assert!(owner.html("/owner").await.contains("data-slug=\"acme-support\" data-status=\"active\""));
    assert!(!owner.html("/owner").await.contains("data-slug=\"mine\""));

    // An agent has no admin panel at all.
    let agent = User::signed_in(&app, SAM_EMAIL, SAM_PASSWORD).await;
    assert_eq!(agent.get("/admin").await.status(), 403);
    assert_eq!(agent.get("/admin/team").await.status(), 403);
    assert!(!agent.html("/").await.contains("id=\"nav-admin\""), "no admin link for an agent");
}

// ---- The workspace switcher --------------------------------------------------------------------------------------

both_backends!(the_switcher_moves_the_session, the_switcher_moves_the_session_on);
async fn the_switcher_moves_the_session_on(backend: Backend) {
    let Some(app) = installed(backend).await else { return };
    let owner = User::owner(&app).await;
    let acme = workspace_id(&app, "acme-support").await;
    let home = owner.html("/").await;
    assert!(home.contains("id=\"nav\"") && home.contains("Olivia Owner") && home.contains("id=\"sign-out\""));
    assert!(
        home.contains("id=\"workspace-switcher\"") && home.contains("href=\"/workspace\""),
        "home links to the list"
    );

    let created =
        owner.send("/owner/workspaces", &[("name", "Beta Team"), ("slug", "beta"), ("admin_email", ADMIN_EMAIL)]).await;
    let beta: i64 = location(&created).trim_start_matches("/owner?created=").parse().unwrap();
    let panel = owner.html("/admin").await;
    assert!(panel.contains(&format!("data-workspace=\"{beta}\"")), "the switcher lists Beta");
    assert!(!panel.contains(&format!("data-workspace=\"{acme}\"")), "the current one is no button");
    let list = owner.html("/workspace").await;
    assert!(list.contains("Acme Support") && list.contains("Beta Team"));

    let switched = owner.send("/workspace/switch", &[("workspace_id", &beta.to_string())]).await;
    assert_eq!(switched.status(), 303);
    assert_eq!(location(&switched), "/");
    assert!(owner.html("/").await.contains("Workspace Beta Team"), "the start page follows");
    let panel = owner.html("/admin").await;
    assert!(panel.contains("<p class=\"muted page-head__sub\">Beta Team</p>"), "{panel}");
    assert_eq!(owner.send("/workspace/switch", &[("workspace_id", "999999")]).await.status(), 404);
    assert_eq!(owner.send("/workspace/switch", &[("workspace_id", "abc")]).await.status(), 404);
    owner.send("/workspace/switch", &[("workspace_id", &acme.to_string())]).await;
    assert!(owner.html("/admin").await.contains("<p class=\"muted page-head__sub\">Acme Support</p>"));
}
