//! The live inbox over HTTP, on SQLite and Postgres: an SSE client on `/inbox/events` gets a `message` event for a
//! webhook's inbound message and `status` events for a send and a status webhook; resuming with `Last-Event-ID`
//! replays what was missed exactly once; a restricted agent gets nothing of a conversation assigned to another;
//! another workspace's stream (the API's `/api/v1/events`) gets nothing; presence reaches the other member; the
//! fragments the page fetches (a bubble, a row) answer with the markup or 204/404.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{Api, cli_key_for_new_workspace, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::inbox_ui::{path_of, wait_status};
use crate::mock_providers::{MockProvider, meta, post_webhook};
use crate::web_user::{Browser, csrf_of};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const APP_SECRET: &str = "meta-app-secret-for-live";
const PHONE: &str = "+15550170";
const AGENT_PASSWORD: &str = "amber harbour kettle 73";

/// One server-sent event.
#[derive(Debug, Clone)]
pub(crate) struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// A reader of a `text/event-stream` response.
pub(crate) struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    pub(crate) async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Self { response, buffer: String::new() }
    }

    /// The next event within `wait`, skipping keep-alive comments; `None` when none came.
    pub(crate) async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a comment
                }
                return Some(SseEvent { id, event, data: serde_json::from_str(&data).unwrap() });
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event that is not presence, within `wait`.
    pub(crate) async fn next_change(&mut self, wait: Duration) -> Option<SseEvent> {
        loop {
            let event = self.next(wait).await?;
            if event.event != "presence" {
                return Some(event);
            }
        }
    }
}

const WAIT: Duration = Duration::from_secs(5);

async fn connect_meta(api: &Api, mock: &MockProvider) -> String {
    let created = api.connect_meta(mock, "Live", PHONE, APP_SECRET, json!({})).await;
    api.app.url(&path_of(created["webhook_url"].as_str().unwrap()))
}

async fn inbound(url: &str, party: &meta::CloudParty, text: &str) {
    let body = meta::inbound_text(party, &meta::fresh_wamid(), meta::now(), text);
    assert_eq!(post_webhook(url, &meta::signed(&body, APP_SECRET)).await.status(), 200);
}

async fn add_agent(api: &Api, name: &str, email: &str) -> i64 {
    let body = json!({ "name": name, "email": email, "role": "agent", "password": AGENT_PASSWORD });
    let created = api.post("/api/v1/users", &api.owner_key, body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().unwrap()
}

fn stream(browser: &Browser<'_>, last_event_id: Option<&str>) -> reqwest::RequestBuilder {
    let request = browser.client.get(browser.app.url("/inbox/events"));
    match last_event_id {
        Some(id) => request.header("last-event-id", id),
        None => request,
    }
}

both_backends!(the_stream_carries_changes_and_resumes, the_stream_carries_changes_and_resumes_on);
async fn the_stream_carries_changes_and_resumes_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let url = connect_meta(&api, &mock).await;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut live = SseClient::open(stream(&owner, None)).await;

    // An inbound message: one `message` event with its conversation and message.
    let party = meta::CloudParty::new(&mock.auth().account, PHONE, "+447700900170");
    inbound(&url, &party, "Is anyone there?").await;
    let event = live.next_change(WAIT).await.expect("a message event");
    assert_eq!(event.event, "message", "{event:?}");
    let conversation = event.data["conversation_id"].as_i64().unwrap();
    let message = event.data["message_id"].as_i64().unwrap();
    assert_eq!(event.id.as_deref(), Some(event.data["id"].to_string().as_str()));
    let listed = api.get("/api/v1/conversations", &api.owner_key).await;
    assert_eq!(listed.body["conversations"][0]["id"], conversation);

    // The fragments the page fetches: the bubble, the row (204 under a filter it fails).
    let bubble = owner.html(&format!("/inbox/{conversation}/messages/{message}")).await;
    assert!(bubble.starts_with("<li class=\"msg msg--inbound\"") && bubble.contains("Is anyone there?"), "{bubble}");
    let row = owner.html(&format!("/inbox/rows/{conversation}")).await;
    assert!(row.contains(&format!("id=\"conversation-{conversation}\"")) && row.contains("Kerry Fisher"), "{row}");
    assert_eq!(owner.get(&format!("/inbox/rows/{conversation}?status=resolved")).await.status(), 204);
    assert_eq!(owner.get(&format!("/inbox/rows/{conversation}?status=open")).await.status(), 200);
    assert_eq!(owner.get(&format!("/inbox/{conversation}/messages/{}", message + 1000)).await.status(), 404);

    // A reply: `message` (pending), then `status` once the provider took it; a read status webhook: `status`.
    let sent = api
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &api.owner_key,
            json!({ "text": "Yes, how can I help?" }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let reply = sent.body["id"].as_i64().unwrap();
    let created = live.next_change(WAIT).await.unwrap();
    assert_eq!((created.event.as_str(), created.data["message_id"].as_i64()), ("message", Some(reply)));
    let accepted = live.next_change(WAIT).await.unwrap();
    assert_eq!((accepted.event.as_str(), accepted.data["message_id"].as_i64()), ("status", Some(reply)));
    let wamid = wait_status(&api, reply, "sent").await["provider_message_id"].as_str().unwrap().to_owned();
    let read = meta::status(&party, &wamid, "read", meta::now());
    assert_eq!(post_webhook(&url, &meta::signed(&read, APP_SECRET)).await.status(), 200);
    let status = live.next_change(WAIT).await.unwrap();
    assert_eq!((status.event.as_str(), status.data["message_id"].as_i64()), ("status", Some(reply)));
    let bubble = owner.html(&format!("/inbox/{conversation}/messages/{reply}")).await;
    assert!(bubble.contains("data-tick=\"read\""), "{bubble}");
    // A redelivered status changes nothing and costs no event.
    assert_eq!(post_webhook(&url, &meta::signed(&read, APP_SECRET)).await.status(), 200);

    // The page closes; two messages arrive; reconnecting with Last-Event-ID replays them once each.
    let last = status.id.clone().unwrap();
    drop(live);
    inbound(&url, &party, "Hello?").await;
    inbound(&url, &party, "Still there?").await;
    let mut resumed = SseClient::open(stream(&owner, Some(&last))).await;
    let first = resumed.next_change(WAIT).await.unwrap();
    let second = resumed.next_change(WAIT).await.unwrap();
    assert_eq!((first.event.as_str(), second.event.as_str()), ("message", "message"));
    assert_ne!(first.data["message_id"], second.data["message_id"]);
    assert!(first.id.unwrap().parse::<i64>().unwrap() < second.id.unwrap().parse::<i64>().unwrap());
    let extra = resumed.next_change(Duration::from_millis(4000)).await;
    assert!(extra.is_none(), "nothing twice: {extra:?}");

    // `?after=` (the page's first connection) works the same.
    let mut from_query = SseClient::open(owner.client.get(api.app.url(&format!("/inbox/events?after={last}")))).await;
    assert_eq!(from_query.next_change(WAIT).await.unwrap().data, first.data);

    // Signed out: no stream.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(anonymous.get(api.app.url("/inbox/events")).send().await.unwrap().status(), 303);
}

both_backends!(streams_show_only_what_the_member_may_see, streams_show_only_what_the_member_may_see_on);
async fn streams_show_only_what_the_member_may_see_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let url = connect_meta(&api, &mock).await;
    let ana_id = add_agent(&api, "Ana Agent", "ana@acme.example").await;
    let ben_id = add_agent(&api, "Ben Agent", "ben@acme.example").await;
    assert_ne!(ana_id, ben_id);
    let ana = Browser::signed_in(&api.app, "ana@acme.example", AGENT_PASSWORD).await;
    let ben = Browser::signed_in(&api.app, "ben@acme.example", AGENT_PASSWORD).await;

    // Ben's customer: a conversation assigned to Ben.
    let bens_party = meta::CloudParty::new(&mock.auth().account, PHONE, "+447700900171");
    inbound(&url, &bens_party, "For Ben").await;
    let bens = api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["id"].as_i64().unwrap();
    let assigned =
        api.patch(&format!("/api/v1/conversations/{bens}"), &api.owner_key, json!({"assignee_user_id": ben_id})).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);

    let mut ana_live = SseClient::open(stream(&ana, None)).await;
    let mut ben_live = SseClient::open(stream(&ben, None)).await;
    let outsider_key = cli_key_for_new_workspace(&api, "outsiders").await;
    let mut outsider =
        SseClient::open(reqwest::Client::new().get(api.app.url("/api/v1/events")).bearer_auth(&outsider_key)).await;
    let mut owner_api =
        SseClient::open(reqwest::Client::new().get(api.app.url("/api/v1/events")).bearer_auth(&api.owner_key)).await;

    // Ben's customer writes again, then a new customer (unassigned: everyone's).
    inbound(&url, &bens_party, "Ben, again").await;
    let open_party = meta::CloudParty::new(&mock.auth().account, PHONE, "+447700900172");
    inbound(&url, &open_party, "Anyone?").await;

    let for_ben = ben_live.next_change(WAIT).await.unwrap();
    assert_eq!(for_ben.data["conversation_id"], bens);
    let for_ana = ana_live.next_change(WAIT).await.unwrap();
    assert_ne!(for_ana.data["conversation_id"], bens, "Ana never hears of Ben's conversation");
    let unassigned = for_ana.data["conversation_id"].as_i64().unwrap();
    assert_eq!(ben_live.next_change(WAIT).await.unwrap().data["conversation_id"], unassigned);
    // The API stream (an admin key sees everything), in order.
    assert_eq!(owner_api.next_change(WAIT).await.unwrap().data["conversation_id"], bens);
    assert_eq!(owner_api.next_change(WAIT).await.unwrap().data["conversation_id"], unassigned);
    // Ana's fragments of Ben's conversation are not found.
    assert_eq!(ana.get(&format!("/inbox/rows/{bens}")).await.status(), 404);
    assert_eq!(ana.get(&format!("/inbox/{bens}/messages/{}", for_ben.data["message_id"])).await.status(), 404);
    let csrf = csrf_of(&ana.html("/inbox").await);
    let hidden = ana.post(&format!("/inbox/{bens}/presence"), &[("csrf", &csrf), ("typing", "0")]).await;
    assert_eq!(hidden.status(), 404);

    // Presence: Ben views the open conversation, Ana types in it; each hears of the other, never of themselves.
    let ben_csrf = csrf_of(&ben.html("/inbox").await);
    let viewing = ben.post(&format!("/inbox/{unassigned}/presence"), &[("csrf", &ben_csrf), ("typing", "0")]).await;
    assert_eq!(viewing.status(), 204);
    let typing = ana.post(&format!("/inbox/{unassigned}/presence"), &[("csrf", &csrf), ("typing", "1")]).await;
    assert_eq!(typing.status(), 204);
    let without_csrf = ana.post(&format!("/inbox/{unassigned}/presence"), &[("typing", "1")]).await;
    assert_eq!(without_csrf.status(), 403);
    let notice = wait_presence(&mut ben_live, |d| d["typing"] == json!(["Ana Agent"])).await;
    assert_eq!(notice.data["conversation_id"], unassigned);
    wait_presence(&mut ana_live, |d| d["viewing"] == json!(["Ben Agent"]) && d["typing"] == json!([])).await;
    let seen = ana.html("/inbox").await;
    assert!(seen.contains("data-events-after=\""), "the page says where its stream resumes");

    // The outsider's stream got nothing at all.
    assert!(outsider.next(Duration::from_millis(1500)).await.is_none(), "another workspace hears nothing");
}

/// Waits for a presence event matching `want`.
async fn wait_presence(live: &mut SseClient, want: impl Fn(&Value) -> bool) -> SseEvent {
    loop {
        let event = live.next(WAIT).await.expect("a presence event");
        if event.event == "presence" && want(&event.data) {
            assert!(event.id.is_none(), "presence is not replayed");
            return event;
        }
    }
}
