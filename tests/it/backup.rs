//! Backups and restores end to end, on SQLite and Postgres: a backup taken while webhooks keep arriving restores
//! with every message acknowledged before it; a restore puts the instance back (later changes gone, a pre-restore
//! backup kept); an archive with one byte changed is refused and changes nothing; a backup restores into a fresh
//! data directory on the OTHER backend (CLI `backup restore --database-url`) with identical rows; the CLI's create
//! and list work beside a running server; the owner's page drives the same service.

use std::time::Duration;

use conversure::config::DatabaseUrl;
use conversure::store::{Db, transfer};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, installed};
use crate::both_backends;
use crate::helpers::{Backend, TestDb, binary, test_config};
use crate::inbox_ui::path_of;
use crate::mock_providers::{MockProvider, meta, post_webhook};
use crate::web_user::{Browser, csrf_of};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const SECRET: &str = "meta-app-secret-for-backups";
const PHONE: &str = "+15550180";

/// A connected Meta number; returns its webhook URL and the customer party.
async fn connect(api: &Api, mock: &MockProvider) -> (String, meta::CloudParty) {
    let created = api.connect_meta(mock, "Support", PHONE, SECRET, json!({})).await;
    let url = api.app.url(&path_of(created["webhook_url"].as_str().unwrap()));
    (url, meta::CloudParty::new(&mock.auth().account, PHONE, "+447700900180"))
}

async fn inbound(url: &str, party: &meta::CloudParty, text: &str) -> bool {
    let body = meta::inbound_text(party, &meta::fresh_wamid(), meta::now(), text);
    post_webhook(url, &meta::signed(&body, SECRET)).await.status() == 200
}

/// Waits until no operation runs and the newest history record is of `operation`; returns the overview.
async fn settled(api: &Api, operation: &str, records_before: usize) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let overview = api.get("/api/v1/instance/backups", &api.owner_key).await;
        // While an SQLite restore swaps the file the instance answers 503 for a moment.
        if overview.status == 503 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(overview.status, 200, "{}", overview.body);
        let history = overview.body["history"].as_array().unwrap();
        if overview.body["running"].is_null() && history.len() > records_before && history[0]["operation"] == operation
        {
            return overview.body;
        }
        last = overview.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the {operation} did not finish: {last}");
}

async fn texts(db: &Db) -> Vec<String> {
    let mut conn = db.read().await.unwrap();
    let rows = conn.fetch_all("SELECT body FROM messages WHERE body IS NOT NULL ORDER BY body", &[]).await.unwrap();
    rows.iter().map(|r| r.text(0).unwrap()).collect()
}

fn database_url(api: &Api) -> DatabaseUrl {
    match &api.app.db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(api.app.data_dir.path().join("conversure.db")),
    }
}

both_backends!(a_restore_puts_back_everything_acknowledged_before_the_backup, restore_round_trip_on);
async fn restore_round_trip_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let (url, party) = connect(&api, &mock).await;
    for i in 0..20 {
        assert!(inbound(&url, &party, &format!("before {i:02}")).await);
    }
    // Webhooks keep arriving while the backup runs.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let writer_url = url.clone();
    let writer_party = meta::CloudParty::new(&mock.auth().account, PHONE, "+447700900181");
    let writer = tokio::spawn(async move {
        let mut acked = 0;
        while !*stopped.borrow_and_update() {
            if inbound(&writer_url, &writer_party, &format!("during {acked:04}")).await {
                acked += 1;
            }
        }
        acked
    });
    let started = api.post("/api/v1/instance/backups", &api.owner_key, json!({})).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let again = api.post("/api/v1/instance/backups", &api.owner_key, json!({})).await;
    assert!(again.status == 409 || again.status == 202, "one at a time: {}", again.body);
    let overview = settled(&api, "backup", 0).await;
    let _ = stop.send(true);
    let during = writer.await.unwrap();
    assert!(during > 0, "webhooks were acknowledged during the backup");
    let record = &overview["history"][0];
    assert_eq!(record["ok"], true, "{record}");
    let steps: Vec<&str> = record["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert!(steps.starts_with(&["snapshot", "media", "archive", "store"]), "{steps:?}");
    let name = overview["backups"][0]["file_name"].as_str().unwrap().to_owned();
    let archive_path = api.app.data_dir.path().join("backups").join(&name);
    let after_backup = texts(&api.db).await;

    // Later changes, which the restore must undo.
    assert!(inbound(&url, &party, "after the backup").await);

    // Download: the same bytes as the stored archive.
    let download = api
        .app
        .client
        .get(api.app.url(&format!("/api/v1/instance/backups/{name}")))
        .bearer_auth(&api.owner_key)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let bytes = download.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(&archive_path).unwrap().as_slice());

    // One byte changed: refused, nothing listed, nothing changed.
    let mut damaged = bytes.to_vec();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x01;
    let upload = api
        .app
        .client
        .post(api.app.url("/api/v1/instance/backups/upload"))
        .bearer_auth(&api.owner_key)
        .body(damaged)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 422, "{}", upload.text().await.unwrap());
    let listed = api.get("/api/v1/instance/backups", &api.owner_key).await;
    assert_eq!(listed.body["backups"].as_array().unwrap().len(), 1, "{}", listed.body);
    // The intact archive uploads and verifies.
    let upload = api
        .app
        .client
        .post(api.app.url("/api/v1/instance/backups/upload"))
        .bearer_auth(&api.owner_key)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);

    // A wrong name is 404; an unknown archive name with path characters too.
    assert_eq!(api.post("/api/v1/instance/backups/nope.tar.zst/restore", &api.owner_key, json!({})).await.status, 404);

    let restoring = api.post(&format!("/api/v1/instance/backups/{name}/restore"), &api.owner_key, json!({})).await;
    assert_eq!(restoring.status, 202, "{}", restoring.body);
    let overview = settled(&api, "restore", listed.body["history"].as_array().unwrap().len()).await;
    let record = &overview["history"][0];
    assert_eq!(record["ok"], true, "{record}");
    let kinds: Vec<&str> =
        overview["backups"].as_array().unwrap().iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"pre-restore"), "{kinds:?}");

    // A fresh handle: the SQLite file was swapped under the old one.
    let restored = Db::open(&database_url(&api)).await.unwrap();
    let now = texts(&restored).await;
    // The snapshot holds everything acknowledged before the backup and a consistent part of what came during it.
    assert!(now.iter().all(|t| after_backup.contains(t)), "nothing that was not there");
    for i in 0..20 {
        assert!(now.contains(&format!("before {i:02}")), "before {i:02} is kept");
    }
    assert!(!now.iter().any(|t| t == "after the backup"));
    // The restored instance serves, and its queue takes new webhooks.
    let conversations = api.get("/api/v1/conversations", &api.owner_key).await;
    assert_eq!(conversations.status, 200, "{}", conversations.body);
    assert!(inbound(&url, &party, "after the restore").await);
    assert!(texts(&restored).await.iter().any(|t| t == "after the restore"));
    restored.close().await;
}

both_backends!(a_backup_moves_to_the_other_backend_with_identical_rows, cross_backend_on);
async fn cross_backend_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let other = match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    };
    let Some(target_db) = TestDb::new(other).await else { return };
    let mock = MockProvider::start("meta").await;
    let (url, party) = connect(&api, &mock).await;
    for i in 0..15 {
        assert!(inbound(&url, &party, &format!("moving {i}")).await);
    }
    assert_eq!(api.post("/api/v1/instance/backups", &api.owner_key, json!({})).await.status, 202);
    let overview = settled(&api, "backup", 0).await;
    assert_eq!(overview["history"][0]["ok"], true, "{}", overview["history"][0]);
    let name = overview["backups"][0]["file_name"].as_str().unwrap().to_owned();
    let archive = api.app.data_dir.path().join("backups").join(&name);
    let source = transfer::fingerprint(&api.db).await.unwrap();
    let config = std::fs::read_to_string(api.app.data_dir.path().join("config.toml")).unwrap();
    let key = config.lines().find_map(|l| l.strip_prefix("encryption_key = ")).unwrap().trim_matches('"').to_owned();

    let fresh = tempfile::tempdir().unwrap();
    let key_file = fresh.path().join("kit-key");
    std::fs::write(&key_file, &key).unwrap();
    let data_dir = fresh.path().join("data");
    let mut command = std::process::Command::new(binary());
    command.args(["backup", "restore"]).arg(&archive).arg("--data-dir").arg(&data_dir);
    command.env("CONVERSURE_LOG_LEVEL", "warn");
    if let Some(url) = &target_db.url {
        command.args(["--database-url", url]);
    }
    // Without the recovery kit's key a backup of another instance is refused, and nothing is created.
    let refused = command.output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("recovery kit"), "{stderr}");
    assert!(!data_dir.join("conversure.db").exists() || target_db.url.is_some());
    let restored = command.arg("--encryption-key-file").arg(&key_file).output().unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));

    let target_url = match &target_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(data_dir.join("conversure.db")),
    };
    let target = Db::open(&target_url).await.unwrap();
    // The audit log goes on after the snapshot on both sides (the backup's and the restore's own entries).
    let content = |tables: Vec<(String, u64, String)>| -> Vec<(String, u64, String)> {
        tables.into_iter().filter(|(name, ..)| name != "audit_log").collect()
    };
    let moved = transfer::fingerprint(&target).await.unwrap();
    assert_eq!(content(moved), content(source), "identical rows on the other backend");
    target.close().await;

    // The moved instance serves the same data with the same keys.
    let config = test_config(&data_dir, target_db.url.clone(), &[]);
    assert_eq!(config.database, target_url, "config.toml points at the restored database");
    let app = conversure::startup::Application::build(config).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until_stopped(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let client = reqwest::Client::new();
    let answer = client
        .request(Method::GET, format!("http://{addr}/api/v1/conversations"))
        .bearer_auth(&api.owner_key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["conversations"][0]["last_message_preview"], "moving 14");
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_backs_up_beside_a_running_server_and_restore_waits_for_it() {
    let Some(api) = installed(Backend::Sqlite).await else { return };
    let dir = api.app.data_dir.path().to_owned();
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("copy.tar.zst");
    let run = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env("CONVERSURE_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    let made = run(&["backup", "create", "--out", copy.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(copy.metadata().unwrap().len() > 0);
    let listed = run(&["backup", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("manual") && text.contains(".tar.zst"), "{text}");
    // The server holds the data directory: a restore is refused until it stops.
    let refused = run(&["backup", "restore", copy.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Bad flags: a clear error, nothing made.
    let before = std::fs::read_dir(dir.join("backups")).unwrap().count();
    let bad = run(&["backup", "create", "--passphrase-file", "/nonexistent/pass"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--passphrase-file"));
    assert_eq!(std::fs::read_dir(dir.join("backups")).unwrap().count(), before);
    // The API saw the CLI's backup, and the audit log has it.
    let overview = api.get("/api/v1/instance/backups", &api.owner_key).await;
    assert_eq!(overview.body["backups"].as_array().unwrap().len(), 1);
}

both_backends!(the_owner_page_backs_up_and_validates_settings, owner_page_on);
async fn owner_page_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = owner.get("/owner/backups").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"backup-now\""), "{html}");
    let csrf = csrf_of(&html);
    let started = owner.post("/owner/backups", &[("csrf", csrf.as_str())]).await;
    assert_eq!(started.status(), 303);
    let overview = settled(&api, "backup", 0).await;
    assert_eq!(overview["history"][0]["ok"], true);
    let html = owner.get("/owner/backups").await.text().await.unwrap();
    assert!(html.contains(overview["backups"][0]["file_name"].as_str().unwrap()));

    // Invalid settings: 422 with the field errors, nothing saved.
    let bad = owner
        .post(
            "/owner/backups/settings",
            &[
                ("csrf", csrf.as_str()),
                ("schedule", "every day"),
                ("scheduled_keep_count", "-3"),
                ("passphrase", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let text = bad.text().await.unwrap();
    assert!(text.contains("Not a valid cron expression"), "{text}");
    let settings = api.get("/api/v1/instance/backups", &api.owner_key).await.body["settings"].clone();
    assert_eq!(settings["schedule"], "0 3 * * *");
    assert_eq!(settings["passphrase_set"], false);
    // Valid ones save, through the API too.
    let saved = api
        .patch(
            "/api/v1/instance/backups/settings",
            &api.owner_key,
            json!({ "schedule": "15 4 * * *", "scheduled_keep_count": "3", "passphrase": "a long enough passphrase" }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.body["schedule"], "15 4 * * *");
    assert_eq!(saved.body["passphrase_set"], true);

    // An encrypted backup now needs its passphrase to restore.
    assert_eq!(api.post("/api/v1/instance/backups", &api.owner_key, json!({})).await.status, 202);
    let overview = settled(&api, "backup", 1).await;
    let name = overview["backups"][0]["file_name"].as_str().unwrap().to_owned();
    let refused = api.post(&format!("/api/v1/instance/backups/{name}/restore"), &api.owner_key, json!({})).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.to_string().contains("passphrase"), "{}", refused.body);

    // Workspace keys and other people never reach the backups.
    let workspace_key = crate::api::cli_key_for_new_workspace(&api, "outsider-backups").await;
    assert_eq!(api.get("/api/v1/instance/backups", &workspace_key).await.status, 404);
}
