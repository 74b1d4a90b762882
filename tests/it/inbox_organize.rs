//! Organizing conversations, on SQLite and Postgres: who sees what (the agents_see_all setting, another workspace),
//! manual and round-robin assignment, state and snooze (reopened by the schedule's function and by a new message),
//! private notes that are never sent, unread, tags and their filter, the tabs' counts, full-text search, and bad
//! input that changes nothing.

use serde_json::{Value, json};

use crate::api::{Api, cli_key_for_new_workspace, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::inbox_ui::path_of;
use crate::mock_providers::{MockProvider, meta, post_webhook};
use crate::web_user::{Browser, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const APP_SECRET: &str = "meta-app-secret-for-organize";
const BUSINESS: &str = "+15550170";
const AGENT_PASSWORD: &str = "copper meadow violin 42";

/// The inbox of one workspace with a Meta number at the mock.
struct Inbox {
    api: Api,
    mock: MockProvider,
    webhook: String,
}

impl Inbox {
    async fn start(backend: Backend) -> Option<Self> {
        let api = installed(backend).await?;
        let mock = MockProvider::start("meta").await;
        let auth = mock.auth();
        let credentials =
            json!({ "access_token": auth.token, "phone_number_id": auth.account, "app_secret": APP_SECRET });
        let body = json!({ "name": "Support", "provider": "meta", "phone_number": BUSINESS,
                           "api_base_url": mock.base_url(), "credentials": credentials });
        let created = api.post("/api/v1/whatsapp-accounts", &api.owner_key, body).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let webhook = api.app.url(&path_of(created.body["webhook_url"].as_str().unwrap()));
        Some(Self { api, mock, webhook })
    }

    /// A customer writes; returns the conversation's id.
    async fn inbound(&self, customer: &str, name: &str, text: &str) -> i64 {
        let mut party = meta::CloudParty::new(&self.mock.auth().account, BUSINESS, customer);
        party.profile_name = name.to_owned();
        let event = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), text);
        assert_eq!(post_webhook(&self.webhook, &meta::signed(&event, APP_SECRET)).await.status(), 200);
        let digits: String = customer.chars().filter(char::is_ascii_digit).collect();
        let list = self.api.get("/api/v1/conversations?tab=all", &self.api.owner_key).await;
        let found = list.body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact"]["phone_number"].as_str().is_some_and(|p| p.ends_with(&digits)));
        found.unwrap_or_else(|| panic!("no conversation of {customer}: {}", list.body))["id"].as_i64().unwrap()
    }

    async fn conversation(&self, id: i64) -> Value {
        let answer = self.api.get(&format!("/api/v1/conversations/{id}"), &self.api.owner_key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    async fn patch(&self, id: i64, body: Value) -> crate::api::Answer {
        self.api.patch(&format!("/api/v1/conversations/{id}"), &self.api.owner_key, body).await
    }

    /// Adds an agent through the team page; returns their user id.
    async fn agent(&self, owner: &Browser<'_>, name: &str, email: &str) -> i64 {
        let form = [("name", name), ("email", email), ("role", "agent"), ("password", AGENT_PASSWORD)];
        assert_eq!(owner.send("/admin/members", &form).await.status(), 303, "{email} is added");
        let mut conn = self.api.db.read().await.unwrap();
        conn.fetch_one("SELECT id FROM users WHERE email = $1", &[email.into()]).await.unwrap().int(0).unwrap()
    }

    /// Marks members online (seen now) or offline.
    async fn seen(&self, user: i64, online: bool) {
        let at: Option<i64> = online.then(|| jiff::Timestamp::now().as_millisecond());
        let mut tx = self.api.db.write().await.unwrap();
        tx.execute("UPDATE memberships SET last_seen_at = $1 WHERE user_id = $2", &[at.into(), user.into()])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

fn has_row(html: &str, id: i64) -> bool {
    html.contains(&format!("id=\"conversation-{id}\""))
}

/// The count shown on a tab of the `/inbox/counts` fragment.
fn tab_count(html: &str, tab: &str) -> i64 {
    let marker = format!("id=\"count-{tab}\">");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no {tab} count in {html}")) + marker.len();
    html[at..].split('<').next().unwrap().trim().parse().unwrap()
}

// ---- Visibility, assignment, counts and search -------------------------------------------------------------------

both_backends!(agents_see_their_own_unless_allowed, agents_see_their_own_unless_allowed_on);
async fn agents_see_their_own_unless_allowed_on(backend: Backend) {
    let Some(inbox) = Inbox::start(backend).await else { return };
    let api = &inbox.api;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ann = inbox.agent(&owner, "Ann Agent", "ann@acme.example").await;
    let ben = inbox.agent(&owner, "Ben Agent", "ben@acme.example").await;
    let first = inbox.inbound("+447700900301", "Ada Lovelace", "My parcel never arrived").await;
    let second = inbox.inbound("+447700900302", "Grace Hopper", "Invoice question about kumquats").await;

    // The owner assigns one to each agent.
    let assigned = inbox.patch(first, json!({ "assignee_user_id": ann })).await;
    assert_eq!((assigned.status, assigned.body["assignee_user_id"].as_i64()), (200, Some(ann)), "{}", assigned.body);
    assert_eq!(inbox.patch(second, json!({ "assignee_user_id": ben })).await.status, 200);

    // Ann sees hers only: in the list, by id, in search and in the counts.
    let ann_browser = Browser::signed_in(&api.app, "ann@acme.example", AGENT_PASSWORD).await;
    let list = ann_browser.html("/inbox?tab=all").await;
    assert!(has_row(&list, first) && !has_row(&list, second), "{list}");
    assert_eq!(ann_browser.get(&format!("/inbox/{second}")).await.status(), 404);
    assert!(!has_row(&ann_browser.html("/inbox?tab=all&q=kumquats").await, second), "search hides it too");
    let counts = ann_browser.html("/inbox/counts").await;
    assert!(counts.contains("id=\"inbox-tabs\""), "{counts}");
    assert_eq!([tab_count(&counts, "open"), tab_count(&counts, "mine"), tab_count(&counts, "all")], [1, 1, 1]);
    assert_eq!(tab_count(&counts, "unassigned"), 0);
    let posted = ann_browser.send(&format!("/inbox/{second}/notes"), &[("text", "sneaky")]).await;
    assert_eq!(posted.status(), 404, "hidden is not found for actions too");

    // Full-text search finds a conversation by a word of its message, on both backends; FTS syntax is just text.
    assert!(has_row(&owner.html("/inbox?tab=all&q=kumquats").await, second), "found by message text");
    assert!(has_row(&ann_browser.html("/inbox?tab=all&q=parcel").await, first));
    assert!(!has_row(&owner.html("/inbox?tab=all&q=kumquats").await, first));
    for odd in ["\"foo* OR", "NEAR(", "*", "a AND OR NOT", "\"\""] {
        let query = url::form_urlencoded::byte_serialize(odd.as_bytes()).collect::<String>();
        assert_eq!(owner.get(&format!("/inbox?q={query}")).await.status(), 200, "{odd}");
        let answer = api.get(&format!("/api/v1/conversations?q={query}"), &api.owner_key).await;
        assert_eq!(answer.status, 200, "{odd}: {}", answer.body);
    }

    // Agents assign only themselves: giving Ann's conversation to Ben is refused, unassigning her own is fine.
    let refused = ann_browser.send(&format!("/inbox/{first}/assign"), &[("assignee", &ben.to_string())]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(inbox.conversation(first).await["assignee_user_id"].as_i64(), Some(ann), "unchanged");
    let dropped = ann_browser.send(&format!("/inbox/{first}/assign"), &[("assignee", "")]).await;
    assert_eq!((dropped.status().as_u16(), location(&dropped)), (303, format!("/inbox/{first}")));
    assert!(inbox.conversation(first).await["assignee_user_id"].is_null());
    let mine = ann_browser.send(&format!("/inbox/{first}/assign"), &[("assignee", "me")]).await;
    assert_eq!(mine.status(), 303, "Assign to me");
    assert_eq!(inbox.conversation(first).await["assignee_user_id"].as_i64(), Some(ann));

    // Bad input: 422 with the field, nothing changed.
    let nobody = inbox.patch(first, json!({ "assignee_user_id": 987_654, "status": "resolved" })).await;
    assert_eq!(nobody.status, 422, "{}", nobody.body);
    assert!(nobody.body["error"]["fields"]["assignee_user_id"].is_string(), "{}", nobody.body);
    let bogus = inbox.patch(first, json!({ "status": "deleted" })).await;
    assert_eq!(bogus.status, 422);
    assert_eq!(inbox.conversation(first).await["status"], "open", "nothing changed");
    assert_eq!(inbox.patch(first, json!({ "tab": "all" })).await.status, 400, "unknown fields are refused");
    assert_eq!(api.get("/api/v1/conversations?tab=later", &api.owner_key).await.status, 422);

    // The admin lets agents see everything (audited): Ann now finds Ben's conversation everywhere.
    let settings = owner.html("/admin/inbox").await;
    assert!(settings.contains("id=\"inbox-settings\"") && settings.contains("id=\"nav-inbox-settings\""), "{settings}");
    let saved = owner.send("/admin/inbox", &[("agents_see_all", "1")]).await;
    assert_eq!(location(&saved), "/admin/inbox?done=saved");
    let got = api.get("/api/v1/inbox-settings", &api.owner_key).await;
    assert_eq!((got.body["agents_see_all"].as_bool(), got.body["auto_assign"].as_bool()), (Some(true), Some(false)));
    assert!(has_row(&ann_browser.html("/inbox?tab=all&q=kumquats").await, second));
    assert_eq!(ann_browser.get(&format!("/inbox/{second}")).await.status(), 200);
    assert_eq!(tab_count(&ann_browser.html("/inbox/counts").await, "all"), 2);
    let mut conn = api.db.read().await.unwrap();
    let audited = conn.fetch_one("SELECT COUNT(*) FROM audit_log WHERE action = 'inbox.settings_changed'", &[]).await;
    assert_eq!(audited.unwrap().int(0).unwrap(), 1);
    drop(conn);
    assert_eq!(ann_browser.get("/admin/inbox").await.status(), 403, "agents do not change settings");

    // Another workspace sees nothing and finds nothing to change.
    let outsider = cli_key_for_new_workspace(api, "outsiders").await;
    let tag = api.post("/api/v1/tags", &api.owner_key, json!({ "name": "VIP", "color": "#1f7a4d" })).await;
    let tag_id = tag.body["id"].as_i64().unwrap();
    for (method, path) in [
        ("PATCH", format!("/api/v1/conversations/{first}")),
        ("POST", format!("/api/v1/conversations/{first}/unread")),
        ("POST", format!("/api/v1/conversations/{first}/notes")),
        ("PATCH", format!("/api/v1/tags/{tag_id}")),
        ("DELETE", format!("/api/v1/tags/{tag_id}")),
    ] {
        let body = json!({ "text": "x", "name": "y" });
        let answer = match method {
            "PATCH" if path.contains("tags") => api.patch(&path, &outsider, json!({ "name": "y" })).await,
            "PATCH" => api.patch(&path, &outsider, json!({ "status": "resolved" })).await,
            "DELETE" => api.delete(&path, &outsider).await,
            _ => api.post(&path, &outsider, if path.ends_with("notes") { json!({ "text": "x" }) } else { body }).await,
        };
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
    }
    let theirs = api.get("/api/v1/conversations/counts", &outsider).await;
    assert_eq!(theirs.body["all"], 0, "{}", theirs.body);
    assert_eq!(api.get("/api/v1/tags", &outsider).await.body["tags"], json!([]));
    assert_eq!(inbox.conversation(first).await["status"], "open");
}

// ---- Round-robin ------------------------------------------------------------------------------------------------

both_backends!(new_conversations_go_round_robin_to_online_agents, new_conversations_go_round_robin_on);
async fn new_conversations_go_round_robin_on(backend: Backend) {
    let Some(inbox) = Inbox::start(backend).await else { return };
    let api = &inbox.api;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ann = inbox.agent(&owner, "Ann Agent", "ann@acme.example").await;
    let ben = inbox.agent(&owner, "Ben Agent", "ben@acme.example").await;
    let cid = inbox.agent(&owner, "Cid Agent", "cid@acme.example").await;
    let on = api.patch("/api/v1/inbox-settings", &api.owner_key, json!({ "auto_assign": true })).await;
    assert_eq!(on.body["auto_assign"], true, "{}", on.body);
    inbox.seen(ann, true).await;
    inbox.seen(ben, true).await;
    inbox.seen(cid, false).await;

    let mut assignees = Vec::new();
    for n in 0..4 {
        let id = inbox.inbound(&format!("+44770090041{n}"), &format!("Customer {n}"), "Hello").await;
        assignees.push(inbox.conversation(id).await["assignee_user_id"].as_i64());
    }
    assert!(assignees.iter().all(|a| *a == Some(ann) || *a == Some(ben)), "only online agents: {assignees:?}");
    assert_ne!(assignees[0], assignees[1], "they alternate: {assignees:?}");
    assert_eq!((assignees[0], assignees[1]), (assignees[2], assignees[3]), "{assignees:?}");

    // A later message of a known customer is not a new conversation: its assignee stays.
    let again = inbox.inbound("+447700900410", "Customer 0", "Anyone there?").await;
    assert_eq!(inbox.conversation(again).await["assignee_user_id"].as_i64(), assignees[0]);

    // Nobody online: a new conversation stays unassigned.
    inbox.seen(ann, false).await;
    inbox.seen(ben, false).await;
    let lonely = inbox.inbound("+447700900499", "Night Owl", "Hello?").await;
    assert!(inbox.conversation(lonely).await["assignee_user_id"].is_null());
}

// ---- State, snooze, notes, unread, tags -------------------------------------------------------------------------

both_backends!(state_snooze_notes_and_tags, state_snooze_notes_and_tags_on);
async fn state_snooze_notes_and_tags_on(backend: Backend) {
    let Some(inbox) = Inbox::start(backend).await else { return };
    let api = &inbox.api;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = inbox.inbound("+447700900501", "Ada Lovelace", "Where is my order?").await;
    let now = jiff::Timestamp::now();

    // Snoozed: gone from the open tab, shown with its time under all, reopened by the schedule's run when due.
    let later = (now + jiff::SignedDuration::from_hours(1)).to_string();
    let snoozed = inbox.patch(id, json!({ "snoozed_until": later })).await;
    assert!(snoozed.body["snoozed_until"].is_string(), "{}", snoozed.body);
    assert!(!has_row(&owner.html("/inbox").await, id), "hidden from the open tab");
    assert!(owner.html("/inbox?tab=all").await.contains("Snoozed until"));
    assert_eq!(tab_count(&owner.html("/inbox/counts").await, "open"), 0);
    let due = now.as_millisecond() + 2 * 60 * 60 * 1000;
    assert_eq!(conversure::services::whatsapp::organize::reopen_snoozed(&api.db, due).await.unwrap(), 1);
    let woken = inbox.conversation(id).await;
    assert!(woken["snoozed_until"].is_null() && woken["status"] == "open", "{woken}");
    assert!(has_row(&owner.html("/inbox").await, id));

    // Snoozed from the page (a preset), then woken by the customer's next message.
    let form = owner.send(&format!("/inbox/{id}/snooze"), &[("preset", "tomorrow")]).await;
    assert_eq!(form.status(), 303);
    assert!(inbox.conversation(id).await["snoozed_until"].is_string());
    inbox.inbound("+447700900501", "Ada Lovelace", "Hello again").await;
    assert!(inbox.conversation(id).await["snoozed_until"].is_null(), "a new message ends the snooze");
    let past = inbox.patch(id, json!({ "snoozed_until": "2020-01-01T00:00:00Z" })).await;
    assert_eq!(past.status, 422);
    let custom = owner.send(&format!("/inbox/{id}/snooze"), &[("preset", "custom"), ("until", "yesterday")]).await;
    assert_eq!(custom.status(), 422);
    assert!(custom.text().await.unwrap().contains("id=\"actions-error\""), "the reason by the actions");

    // States from the thread header (the Resolve form carries the optimistic markers).
    let thread = owner.html(&format!("/inbox/{id}")).await;
    assert!(thread.contains("id=\"action-resolve\" data-optimistic data-optimistic-target=\"#thread-status\""));
    assert!(thread.contains("id=\"action-assign-me\"") && thread.contains("id=\"action-unread\""), "{thread}");
    let resolved = owner.send(&format!("/inbox/{id}/status"), &[("status", "resolved")]).await;
    assert_eq!(resolved.status(), 303);
    assert_eq!(inbox.conversation(id).await["status"], "resolved");
    assert_eq!(owner.send(&format!("/inbox/{id}/status"), &[("status", "gone")]).await.status(), 422);
    assert_eq!(inbox.conversation(id).await["status"], "resolved", "unchanged");

    // Private notes: shown inline and apart, never sent.
    let sends_before = inbox.mock.sends().len();
    let noted = owner.send(&format!("/inbox/{id}/notes"), &[("text", "Call her before noon")]).await;
    assert_eq!(noted.status(), 303);
    let by_api = api.post(&format!("/api/v1/conversations/{id}/notes"), &api.owner_key, json!({ "text": "VIP" })).await;
    assert_eq!((by_api.status, by_api.body["direction"].as_str()), (201, Some("note")), "{}", by_api.body);
    assert_eq!(
        api.post(&format!("/api/v1/conversations/{id}/notes"), &api.owner_key, json!({ "text": " " })).await.status,
        422
    );
    let thread = owner.html(&format!("/inbox/{id}")).await;
    let note_at = thread.find("Call her before noon").unwrap();
    let bubble = &thread[thread[..note_at].rfind("<li").unwrap()..note_at];
    assert!(bubble.contains("msg--note") && bubble.contains("Private note"), "{bubble}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let notes_sent = inbox.mock.sends()[sends_before..]
        .iter()
        .filter(|s| String::from_utf8_lossy(&s.body).contains("Call her") || s.is_send)
        .count();
    assert_eq!(notes_sent, 0, "the provider received no note");

    // Unread: at least one unread again; the page form goes back to the list.
    let unread = api.post(&format!("/api/v1/conversations/{id}/unread"), &api.owner_key, json!({})).await;
    assert_eq!(unread.body["unread_count"], 1, "{}", unread.body);
    let back = owner.send(&format!("/inbox/{id}/unread"), &[]).await;
    assert_eq!(location(&back), "/inbox");

    // Tags: created (names unique ignoring case, colours checked), put on, filtered by, shown, removed.
    let vip = api.post("/api/v1/tags", &api.owner_key, json!({ "name": "VIP", "color": "#FFD400" })).await;
    assert_eq!((vip.status, vip.body["color"].as_str()), (201, Some("#ffd400")), "{}", vip.body);
    let vip_id = vip.body["id"].as_i64().unwrap();
    assert_eq!(
        api.post("/api/v1/tags", &api.owner_key, json!({ "name": "vip", "color": "#000000" })).await.status,
        422
    );
    assert_eq!(api.post("/api/v1/tags", &api.owner_key, json!({ "name": "Red", "color": "red" })).await.status, 422);
    let made = owner.send("/admin/tags", &[("name", "Billing"), ("color", "#1f7a4d")]).await;
    assert_eq!(location(&made), "/admin/tags?done=created");
    let listed = api.get("/api/v1/tags", &api.owner_key).await.body["tags"].clone();
    let billing = listed.as_array().unwrap().iter().find(|t| t["name"] == "Billing").unwrap()["id"].as_i64().unwrap();
    let renamed = api.patch(&format!("/api/v1/tags/{billing}"), &api.owner_key, json!({ "name": "Invoices" })).await;
    assert_eq!(renamed.body["name"], "Invoices");
    assert_eq!(
        owner.send(&format!("/inbox/{id}/tags"), &[("tag_id", &vip_id.to_string()), ("op", "add")]).await.status(),
        303
    );
    assert!(has_row(&owner.html(&format!("/inbox?tab=all&tag={vip_id}")).await, id));
    assert!(!has_row(&owner.html(&format!("/inbox?tab=all&tag={billing}")).await, id));
    let chips = owner.html("/inbox?tab=all").await;
    assert!(chips.contains(&format!("chip chip--t{vip_id}")), "a chip on the row");
    let css = owner.get("/inbox/tags.css").await.text().await.unwrap();
    assert!(css.contains(&format!(".chip--t{vip_id}{{background:#ffd400;color:#000000;}}")), "{css}");
    let bad_tags = inbox.patch(id, json!({ "tag_ids": [vip_id, 999_999] })).await;
    assert_eq!(bad_tags.status, 422);
    let tagged = inbox.patch(id, json!({ "tag_ids": [billing] })).await;
    assert_eq!(tagged.body["tags"][0]["name"], "Invoices", "{}", tagged.body);
    assert_eq!(api.delete(&format!("/api/v1/tags/{billing}"), &api.owner_key).await.status, 204);
    assert_eq!(inbox.conversation(id).await["status"], "resolved");
    let untagged = inbox.patch(id, json!({})).await;
    assert_eq!(untagged.body["tags"], json!([]), "a deleted tag leaves its conversations");

    // Agents use tags but do not manage them.
    let owner_form =
        [("name", "Ann Agent"), ("email", "ann@acme.example"), ("role", "agent"), ("password", AGENT_PASSWORD)];
    assert_eq!(owner.send("/admin/members", &owner_form).await.status(), 303);
    let ann = Browser::signed_in(&api.app, "ann@acme.example", AGENT_PASSWORD).await;
    assert_eq!(ann.send("/admin/tags", &[("name", "Mine"), ("color", "#123456")]).await.status(), 403);
}

both_backends!(search_finds_names_numbers_and_words, search_finds_names_numbers_and_words_on);

/// The list's search and the contacts API: words of a name by their start in any script, a number by its start
/// (however it is typed), a word of a message; never a word's middle, and never another workspace's rows.
async fn search_finds_names_numbers_and_words_on(backend: Backend) {
    let Some(inbox) = Inbox::start(backend).await else { return };
    let api = &inbox.api;
    let ivan = inbox.inbound("+79991234567", "Иван Petrov", "Здравствуйте, где мой заказ?").await;
    let salma = inbox.inbound("+971501234567", "سلمى الحربي", "The parcel arrived damaged").await;
    let ids = |body: &Value| -> Vec<i64> {
        body["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };
    let search = |q: &str| {
        let q = url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
        async move {
            let answer = api.get(&format!("/api/v1/conversations?tab=all&q={q}"), &api.owner_key).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            ids(&answer.body)
        }
    };
    assert_eq!(search("Ив").await, [ivan], "a name's first word by its start, Cyrillic");
    assert_eq!(search("petr").await, [ivan], "a later word, any case");
    assert_eq!(search("سلمى").await, [salma], "Arabic");
    assert_eq!(search("+7 999 12").await, [ivan], "a number's start, typed with spaces");
    assert_eq!(search("971").await, [salma], "without the plus");
    assert_eq!(search("damaged").await, [salma], "a word of a message");
    assert!(search("etrov").await.is_empty(), "not a word's middle");
    assert!(search("1234567").await.is_empty(), "not a number's middle");

    let contacts = api.get("/api/v1/contacts?q=Petr", &api.owner_key).await;
    assert_eq!(contacts.status, 200, "{}", contacts.body);
    let names: Vec<&str> =
        contacts.body["contacts"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Иван Petrov"], "{}", contacts.body);

    let other_key = crate::api::cli_key_for_new_workspace(api, "search-elsewhere").await;
    let elsewhere = api.get("/api/v1/conversations?tab=all&q=Petrov", &other_key).await;
    assert_eq!(ids(&elsewhere.body), Vec::<i64>::new(), "another workspace finds nothing");
    let elsewhere = api.get("/api/v1/contacts?q=Petrov", &other_key).await;
    assert_eq!(elsewhere.body["contacts"], json!([]), "{}", elsewhere.body);
}
