//! `kill -9` while webhooks arrive (every acknowledged one is kept, replays add nothing), and while 10,000 send
//! jobs run against the mock Meta API, then a restart, on SQLite and Postgres: every job ends done, the mock saw each message at most once, every message the mock saw once is `sent`, and the few
//! whose request was out when the process died are reconciled (`failed`, "delivery unknown") instead of being
//! sent blindly again (the rule in docs/JOBS.md).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conversure::config::DatabaseUrl;
use conversure::jobs;
use conversure::services::whatsapp::outbound::SendMessage;
use conversure::store::messages::{self, NewMessage};
use conversure::store::{Db, now_millis};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestDb, binary, free_port};
use crate::mock_providers::{MockProvider, meta, post_webhook};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const MESSAGES: usize = 10_000;
const APP_SECRET: &str = "crash-test-app-secret";

fn conversure(data: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.args(args).arg("--data-dir").arg(data).current_dir("/");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_")) {
        command.env_remove(key);
    }
    command.env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/").env("CONVERSURE_LOG_LEVEL", "warn");
    command
}

/// Starts `serve` with a short job lease (so a killed node's jobs come back within seconds) and waits for it.
async fn serve(data: &std::path::Path, port: u16) -> Child {
    let child = conversure(data, &["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CONVERSURE_JOB_LEASE_SECONDS", "5")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while reqwest::get(&url).await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

fn kill_hard(mut child: Child) {
    // Child::kill sends SIGKILL on Unix: no shutdown hook runs, leases stay taken.
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn api(client: &reqwest::Client, method: reqwest::Method, url: String, key: &str, body: Value) -> Value {
    let response = client.request(method, url).bearer_auth(key).json(&body).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn send_jobs_left(db: &Db) -> i64 {
    let mut conn = db.read().await.unwrap();
    conn.fetch_one("SELECT COUNT(*) FROM jobs WHERE kind = 'whatsapp.send' AND state <> 'done'", &[])
        .await
        .unwrap()
        .int(0)
        .unwrap()
}

async fn crash_and_restart(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else { return };
    conversure::init_crypto();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let password = root.path().join("password");
    std::fs::write(&password, ADMIN_PASSWORD).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut install = conversure(&data, &["install", "--evaluation", "--workspace-name", "Crash Test"]);
    install.args([
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        password.to_str().unwrap(),
        "--site-url",
        &base,
    ]);
    if let Some(url) = &test_db.url {
        install.args(["--database-url", url]);
    }
    let installed = install.output().unwrap();
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));
    let key =
        conversure(&data, &["api-key", "create", "--workspace", "crash-test", "--name", "crash", "--scope", "admin"])
            .output()
            .unwrap();
    assert!(key.status.success(), "{}", String::from_utf8_lossy(&key.stderr));
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();

    // A Meta number on the mock, fast enough that the whole run takes seconds, and a conversation with a customer.
    let mock = MockProvider::start("meta").await;
    mock.set_delay(Duration::from_millis(2));
    let client = reqwest::Client::new();
    let first = serve(&data, port).await;
    let auth = mock.auth();
    let number = api(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/whatsapp-accounts"),
        &key,
        json!({
            "name": "Crash", "provider": "meta", "phone_number": "+15550100", "api_base_url": mock.base_url(),
            "credentials": {"access_token": auth.token, "phone_number_id": auth.account, "app_secret": APP_SECRET},
        }),
    )
    .await;
    let account_id = number["id"].as_i64().unwrap();
    api(
        &client,
        reqwest::Method::PATCH,
        format!("{base}/api/v1/whatsapp-accounts/{account_id}"),
        &key,
        json!({
            "throughput_per_second": 1000,
        }),
    )
    .await;
    let party = meta::CloudParty::new(&auth.account, "+15550100", "+447700900123");
    let hello = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "hello");
    let webhook = format!("{base}{}", url::Url::parse(number["webhook_url"].as_str().unwrap()).unwrap().path());
    assert_eq!(post_webhook(&webhook, &meta::signed(&hello, APP_SECRET)).await.status(), 200);
    let conversations =
        api(&client, reqwest::Method::GET, format!("{base}/api/v1/conversations"), &key, Value::Null).await;
    let conversation_id = conversations["conversations"][0]["id"].as_i64().unwrap();
    kill_hard(first);

    // 10,000 pending messages with their send jobs, written as the send service writes them.
    let url = match &test_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(data.join("conversure.db")),
    };
    let db = Db::open(&url).await.unwrap();
    let workspace_id = {
        let mut conn = db.read().await.unwrap();
        conn.fetch_one("SELECT workspace_id FROM whatsapp_accounts WHERE id = $1", &[account_id.into()])
            .await
            .unwrap()
            .int(0)
            .unwrap()
    };
    let mut tx = db.write().await.unwrap();
    let now = now_millis();
    let mut texts = HashMap::new();
    for n in 0..MESSAGES {
        let text = format!("crash test {n}");
        let payload = json!({"type": "text", "body": text}).to_string();
        let id = messages::insert(
            &mut tx,
            &NewMessage {
                workspace_id,
                conversation_id,
                account_id,
                direction: "outbound",
                provider_message_id: None,
                kind: "text",
                body: Some(&text),
                payload: Some(&payload),
                status: "pending",
                sent_by_user_id: None,
                occurred_at: now,
                now,
            },
        )
        .await
        .unwrap()
        .unwrap();
        let job = SendMessage { message_id: id, account_id, per_second: 1000 };
        jobs::enqueue(&mut tx, Some(workspace_id), &job, None).await.unwrap();
        texts.insert(id, text);
    }
    tx.commit().await.unwrap();

    // Kill the node in the middle of sending, then start again.
    let second = serve(&data, port).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while mock.sends().len() < MESSAGES / 4 {
        assert!(Instant::now() < deadline, "sending did not start: {} sends", mock.sends().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill_hard(second);
    let seen_at_kill = mock.sends().len();
    assert!(seen_at_kill < MESSAGES, "killed while sending, not after");
    let third = serve(&data, port).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while send_jobs_left(&db).await > 0 {
        assert!(Instant::now() < deadline, "{} send jobs never finished", send_jobs_left(&db).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    kill_hard(third);

    // What the mock saw, per message text.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for send in mock.sends() {
        let text = send.json.as_ref().unwrap()["text"]["body"].as_str().unwrap().to_owned();
        *seen.entry(text).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "sent twice: {duplicated:?}");
    let mut conn = db.read().await.unwrap();
    let rows = conn
        .fetch_all(
            "SELECT id, status, error_code, provider_message_id FROM messages WHERE conversation_id = $1 AND direction = 'outbound'",
            &[conversation_id.into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), MESSAGES);
    let mut reconciled = 0;
    for row in &rows {
        let (id, status) = (row.int(0).unwrap(), row.text(1).unwrap());
        let count = seen.get(&texts[&id]).copied().unwrap_or(0);
        match status.as_str() {
            "sent" => {
                assert_eq!(count, 1, "message {id} is sent, so the mock saw it once");
                assert!(row.opt_text(3).unwrap().is_some_and(|p| p.starts_with("wamid.")));
            }
            "failed" => {
                assert_eq!(row.opt_text(2).unwrap().as_deref(), Some("delivery_unknown"), "message {id}");
                reconciled += 1;
            }
            other => panic!("message {id} ended {other}"),
        }
    }
    // Only requests in flight at the kill can be unknown: at most the send queue's concurrency.
    assert!(reconciled <= 32, "{reconciled} messages reconciled");
    let sent = rows.len() - reconciled;
    assert!(sent >= MESSAGES - 32, "{sent} sent");
    eprintln!(
        "{backend:?}: mock saw {seen_at_kill} sends before the kill, {} after restart; {reconciled} reconciled",
        mock.sends().len()
    );
    drop(conn);
    db.close().await;
    drop(test_db);
}
both_backends!(kill_9_while_sending_loses_and_duplicates_nothing, crash_and_restart);

/// Webhooks posted by 16 clients while the server is killed with SIGKILL: every request that was answered 200 is
/// stored after the restart (the answer is sent only after the group commit), and posting them all again adds
/// nothing.
async fn ingest_crash(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else { return };
    conversure::init_crypto();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let password = root.path().join("password");
    std::fs::write(&password, ADMIN_PASSWORD).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut install = conversure(&data, &["install", "--evaluation", "--workspace-name", "Crash Test"]);
    install.args([
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        password.to_str().unwrap(),
        "--site-url",
        &base,
    ]);
    if let Some(url) = &test_db.url {
        install.args(["--database-url", url]);
    }
    assert!(install.output().unwrap().status.success());
    let key =
        conversure(&data, &["api-key", "create", "--workspace", "crash-test", "--name", "crash", "--scope", "admin"])
            .output()
            .unwrap();
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    let server = serve(&data, port).await;
    let client = reqwest::Client::new();
    let number = api(&client, reqwest::Method::POST, format!("{base}/api/v1/whatsapp-accounts"), &key, json!({
        "name": "Crash", "provider": "meta", "phone_number": "+15550100", "api_base_url": "http://127.0.0.1:9/v23.0",
        "credentials": {"access_token": "t", "phone_number_id": "106540352242922", "app_secret": APP_SECRET},
    }))
    .await;
    let webhook = format!("{base}{}", url::Url::parse(number["webhook_url"].as_str().unwrap()).unwrap().path());

    // 16 clients post distinct messages from 200 customers until the server dies under them.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (acked, next, webhook, client) = (acked.clone(), next.clone(), webhook.clone(), client.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let party = meta::CloudParty::new("106540352242922", "+15550100", &format!("+4477009{:05}", n % 200));
                let wamid = meta::fresh_wamid();
                let built =
                    meta::signed(&meta::inbound_text(&party, &wamid, meta::now(), &format!("m{n}")), APP_SECRET);
                let mut request = client.post(&webhook).header("content-type", &built.content_type);
                for (name, value) in &built.headers {
                    request = request.header(name, value);
                }
                match request.body(built.body.clone()).send().await.map(|r| r.status().as_u16()) {
                    Ok(200) => acked.lock().unwrap().push((wamid, built.body)),
                    // Refused or cut off: the server is gone (an unanswered request was never acknowledged).
                    _ => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 1_500 {
        assert!(Instant::now() < deadline, "webhooks were not acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kill_hard(server);
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // After a restart every acknowledged message is there, once; replaying them adds nothing.
    let server = serve(&data, port).await;
    let url = match &test_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(data.join("conversure.db")),
    };
    let db = Db::open(&url).await.unwrap();
    let stored: std::collections::HashSet<String> = {
        let mut conn = db.read().await.unwrap();
        let rows = conn.fetch_all("SELECT provider_message_id FROM messages", &[]).await.unwrap();
        rows.iter().map(|r| r.text(0).unwrap()).collect()
    };
    let lost: Vec<_> = acked.iter().filter(|(wamid, _)| !stored.contains(wamid)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged webhooks lost", lost.len(), acked.len());
    let before = stored.len();
    for (_, body) in acked.iter().take(300) {
        let built = crate::mock_providers::BuiltWebhook {
            content_type: "application/json".into(),
            headers: vec![("x-hub-signature-256".into(), format!("sha256={}", meta::signature(APP_SECRET, body)))],
            body: body.clone(),
        };
        assert_eq!(post_webhook(&webhook, &built).await.status(), 200);
    }
    let mut conn = db.read().await.unwrap();
    let after = conn.fetch_one("SELECT COUNT(*) FROM messages", &[]).await.unwrap().int(0).unwrap();
    assert_eq!(usize::try_from(after).unwrap(), before, "replayed webhooks add nothing");
    eprintln!("{backend:?}: {} webhooks acknowledged before the kill, all stored", acked.len());
    drop(conn);
    kill_hard(server);
    db.close().await;
    drop(test_db);
}
both_backends!(kill_9_while_ingesting_loses_no_acknowledged_webhook, ingest_crash);
