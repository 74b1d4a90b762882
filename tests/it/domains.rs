//! Custom domains on SQLite and Postgres: adding (pending), the self-probe (verified, or failed with the reason),
//! refused names, tenant isolation, the owner's and the admin's pages, and branding of the sign-in page by host.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::api::{Api, cli_key_for_new_workspace, code, installed_with};
use crate::both_backends;
use crate::helpers::Backend;
use crate::web_user::{Browser, csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// Where the domain probe connects (`CONVERSURE_DOMAIN_PROBE_ADDR`): forwards each connection to whatever it is
/// pointed at now (the app itself, a stranger), or drops it (no answer). Bound before the app starts, so the app's
/// configuration can name it.
struct Relay {
    addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
}

impl Relay {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let current = Arc::clone(&target);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Some(to) = *current.lock().unwrap() else { continue };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, target }
    }

    fn point_at(&self, to: Option<SocketAddr>) {
        *self.target.lock().unwrap() = to;
    }
}

/// A web server that answers every probe with a token of its own (DNS pointing at another Conversure).
async fn stranger() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "someone-elses-token" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn setup(backend: Backend) -> Option<(Api, Relay)> {
    let relay = Relay::start().await;
    let probe = relay.addr.to_string();
    let api = installed_with(backend, &[("CONVERSURE_DOMAIN_PROBE_ADDR", &probe)]).await?;
    relay.point_at(Some(api.app.addr));
    Some((api, relay))
}

async fn workspace_id(api: &Api, slug: &str) -> i64 {
    let mut conn = api.db.read().await.unwrap();
    conversure::store::accounts::workspace_by_slug(&mut conn, slug).await.unwrap().unwrap().id
}

async fn domain_count(api: &Api) -> i64 {
    let mut conn = api.db.read().await.unwrap();
    conn.fetch_one("SELECT COUNT(*) FROM workspace_domains", &[]).await.unwrap().int(0).unwrap()
}

/// The sign-in page as a browser on `host` sees it.
async fn login_page(api: &Api, host: &str) -> String {
    let response = api.app.client.get(api.app.url("/login")).header("host", host).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

both_backends!(domains_are_verified_by_calling_ourselves, domains_are_verified_by_calling_ourselves_on);
async fn domains_are_verified_by_calling_ourselves_on(backend: Backend) {
    let Some((api, relay)) = setup(backend).await else { return };
    let outsider_key = cli_key_for_new_workspace(&api, "blue").await;
    let blue = workspace_id(&api, "blue").await;
    let domains = format!("/api/v1/workspaces/{blue}/domains");

    let added = api.post(&domains, &api.owner_key, json!({ "host": " Shop.Example.TEST. " })).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["host"], "shop.example.test");
    assert_eq!(added.body["status"], "pending");
    let shop = added.body["id"].as_i64().unwrap();
    assert!(!login_page(&api, "shop.example.test").await.contains("Outsider blue"), "pending: default branding");

    let verified = api.post(&format!("{domains}/{shop}/verify"), &api.owner_key, json!({})).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["status"], "verified", "{}", verified.body);
    assert_eq!(verified.body["last_error"], Value::Null);
    assert!(verified.body["verified_at"].is_string());

    // Branding by host: the verified domain shows its workspace's name; other hosts the instance's.
    assert!(login_page(&api, "shop.example.test:8080").await.contains("Outsider blue"));
    assert!(!login_page(&api, "unknown.example.test").await.contains("Outsider blue"));
    // The probe answers only the host's own token.
    let token_of_shop = {
        let mut conn = api.db.read().await.unwrap();
        conn.fetch_one("SELECT token FROM workspace_domains WHERE id = $1", &[shop.into()])
            .await
            .unwrap()
            .text(0)
            .unwrap()
    };
    let probe = |host: &'static str| {
        let url = api.app.url(&format!("/.well-known/conversure-domain/{token_of_shop}"));
        api.app.client.get(url).header("host", host).send()
    };
    assert_eq!(probe("shop.example.test").await.unwrap().text().await.unwrap(), token_of_shop);
    assert_eq!(probe("other.example.test").await.unwrap().status(), 404);

    // DNS pointing at another server: failed with the reason, and no longer branded.
    let other = api.post(&domains, &api.owner_key, json!({ "host": "other.example.test" })).await;
    let other_id = other.body["id"].as_i64().unwrap();
    relay.point_at(Some(stranger().await));
    let failed = api.post(&format!("{domains}/{other_id}/verify"), &api.owner_key, json!({})).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.body);
    assert_eq!(failed.body["last_error"], "wrong_token");
    assert!(failed.body["last_error_message"].as_str().unwrap().contains("another check token"));
    let lost = api.post(&format!("{domains}/{shop}/verify"), &api.owner_key, json!({})).await;
    assert_eq!(lost.body["status"], "failed");
    assert!(!login_page(&api, "shop.example.test").await.contains("Outsider blue"));

    // Nothing answering at all.
    relay.point_at(None);
    let silent = api.post(&format!("{domains}/{other_id}/verify"), &api.owner_key, json!({})).await;
    assert_eq!(silent.body["status"], "failed");
    assert!(silent.body["last_error"].as_str().unwrap().starts_with("no_answer"), "{}", silent.body);

    // The workspace's own admin key reads its domains and nothing else.
    let own = api.get("/api/v1/domains", &outsider_key).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let hosts: Vec<&str> =
        own.body["domains"].as_array().unwrap().iter().map(|d| d["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["other.example.test", "shop.example.test"]);
    assert!(api.get("/api/v1/domains", &api.owner_key).await.body["domains"].as_array().unwrap().is_empty());

    let removed = api.delete(&format!("{domains}/{shop}"), &api.owner_key).await;
    assert_eq!(removed.status, 204);
    assert_eq!(api.delete(&format!("{domains}/{shop}"), &api.owner_key).await.status, 404);
    assert_eq!(domain_count(&api).await, 1);
}

both_backends!(bad_names_and_other_tenants_change_nothing, bad_names_and_other_tenants_change_nothing_on);
async fn bad_names_and_other_tenants_change_nothing_on(backend: Backend) {
    let Some((api, _relay)) = setup(backend).await else { return };
    let outsider_key = cli_key_for_new_workspace(&api, "green").await;
    let green = workspace_id(&api, "green").await;
    let mine = format!("/api/v1/workspaces/{}/domains", api.workspace_id);
    let taken = api.post(&mine, &api.owner_key, json!({ "host": "taken.example.test" })).await;
    assert_eq!(taken.status, 201);
    let taken_id = taken.body["id"].as_i64().unwrap();

    let too_long = format!("{}test", "abcdefghi.".repeat(26));
    for (host, reason) in [
        ("203.0.113.9", "IP address"),
        ("shop example.test", "no spaces"),
        (too_long.as_str(), "253"),
        ("", "Enter a domain"),
        ("TAKEN.example.test", "already in use"),
    ] {
        let refused =
            api.post(&format!("/api/v1/workspaces/{green}/domains"), &api.owner_key, json!({ "host": host })).await;
        assert_eq!(refused.status, 422, "{host}: {}", refused.body);
        assert_eq!(code(&refused), "invalid");
        let message = refused.body["error"]["fields"]["host"].as_str().unwrap();
        assert!(message.contains(reason), "{host}: {message}");
    }
    assert_eq!(domain_count(&api).await, 1, "nothing stored");

    // Another workspace's admin key: the owner endpoints do not exist for it, whichever workspace it names.
    for path in [mine.clone(), format!("/api/v1/workspaces/{green}/domains")] {
        assert_eq!(api.get(&path, &outsider_key).await.status, 404);
        assert_eq!(api.post(&path, &outsider_key, json!({ "host": "x.example.test" })).await.status, 404);
    }
    assert_eq!(api.delete(&format!("{mine}/{taken_id}"), &outsider_key).await.status, 404);
    assert_eq!(api.post(&format!("{mine}/{taken_id}/verify"), &outsider_key, json!({})).await.status, 404);
    assert!(api.get("/api/v1/domains", &outsider_key).await.body["domains"].as_array().unwrap().is_empty());
    // A domain id of one workspace under another workspace's path is not found either.
    assert_eq!(api.delete(&format!("/api/v1/workspaces/{green}/domains/{taken_id}"), &api.owner_key).await.status, 404);
    assert_eq!(domain_count(&api).await, 1);
}

both_backends!(the_owner_manages_domains_without_javascript, the_owner_manages_domains_without_javascript_on);
async fn the_owner_manages_domains_without_javascript_on(backend: Backend) {
    let Some((api, _relay)) = setup(backend).await else { return };
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page_path = format!("/owner/workspaces/{}/domains", api.workspace_id);
    let page = owner.html(&page_path).await;
    assert!(page.contains("id=\"no-domains\""));
    let csrf = csrf_of(&page);

    let refused = owner.post(&page_path, &[("csrf", &csrf), ("host", "10.0.0.1")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("not an IP address"));

    let added = owner.post(&page_path, &[("csrf", &csrf), ("host", "crm.example.test")]).await;
    assert_eq!(location(&added), format!("{page_path}?done=added"));
    let id = {
        let mut conn = api.db.read().await.unwrap();
        conn.fetch_one("SELECT id FROM workspace_domains WHERE host = 'crm.example.test'", &[])
            .await
            .unwrap()
            .int(0)
            .unwrap()
    };
    let verified = owner.post(&format!("{page_path}/{id}/verify"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&verified), format!("{page_path}?done=verified"));
    let page = owner.html(&page_path).await;
    assert!(page.contains("data-host=\"crm.example.test\" data-status=\"verified\""), "{page}");

    // The workspace's admin (here the owner in their workspace) sees it read-only, with the DNS steps.
    let admin = owner.html("/admin/domains").await;
    assert!(admin.contains("crm.example.test") && admin.contains("id=\"dns-title\""));
    assert!(!admin.contains("/verify"), "read-only");

    let forged = owner.post(&format!("{page_path}/{id}/delete"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), 403);
    let removed = owner.post(&format!("{page_path}/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&removed), format!("{page_path}?done=removed"));
    assert_eq!(domain_count(&api).await, 0);
}
