//! The database parts of a backup, on SQLite and Postgres: a logical export of an installed instance with real
//! content imports into a fresh database of the same and of the other backend with equal fingerprints (and the app
//! serves the copy), a wrong or damaged export is refused without touching the target, an older schema can be
//! rebuilt for an older export, and a hot SQLite snapshot holds everything committed before it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use conversure::config::DatabaseUrl;
use conversure::startup::Application;
use conversure::store::settings::{self, Scope};
use conversure::store::transfer::{self, ExportSummary};
use conversure::store::{Db, StoreError, Value, migrate};
use serde_json::{Value as Json, json};

use crate::api::{Api, cli_key_for_new_workspace, installed};
use crate::both_backends;
use crate::helpers::{Backend, TestDb, test_config};
use crate::inbox_ui::path_of;
use crate::mock_providers::{MockProvider, meta, post_webhook};

const APP_SECRET: &str = "meta-app-secret-for-transfer";
const BUSINESS: &str = "+15550188";

/// An installed instance with a number, conversations, messages in several scripts, tags, a note, a quick reply
/// and a second workspace; the app is stopped afterwards so its database holds still.
struct Populated {
    api: Api,
    _mock: MockProvider,
}

async fn populated(backend: Backend) -> Option<Populated> {
    let api = installed(backend).await?;
    let mock = MockProvider::start("meta").await;
    let created = api.connect_meta(&mock, "Support", BUSINESS, APP_SECRET, json!({})).await;
    let webhook = api.app.url(&path_of(created["webhook_url"].as_str().unwrap()));
    for (customer, name, text) in [
        ("+971501234567", "سلمى الحربي", "The parcel arrived damaged"),
        ("+79991234567", "Иван Petrov", "Здравствуйте, где мой заказ?"),
        ("+15551230001", "Zoë \"Q\" O'Neil", "Line one\nline two ✓"),
    ] {
        let mut party = meta::CloudParty::new(&mock.auth().account, BUSINESS, customer);
        party.profile_name = name.to_owned();
        let event = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), text);
        assert_eq!(post_webhook(&webhook, &meta::signed(&event, APP_SECRET)).await.status(), 200);
    }
    let key = api.owner_key.clone();
    let list = api.get("/api/v1/conversations?tab=all", &key).await;
    let first = list.body["conversations"][0]["id"].as_i64().unwrap();
    let tag = api.post("/api/v1/tags", &key, json!({ "name": "VIP", "color": "#1f7a4d" })).await;
    assert_eq!(tag.status, 201, "{}", tag.body);
    let tag_id = tag.body["id"].as_i64().unwrap();
    let tagged = api.patch(&format!("/api/v1/conversations/{first}"), &key, json!({ "tag_ids": [tag_id] })).await;
    assert_eq!(tagged.status, 200, "{}", tagged.body);
    let note = api.post(&format!("/api/v1/conversations/{first}/notes"), &key, json!({ "text": "Call at noon" })).await;
    assert!(note.status < 300, "{}", note.body);
    let reply = api.post("/api/v1/quick-replies", &key, json!({ "shortcut": "hi", "body": "Hello {{name}}" })).await;
    assert!(reply.status < 300, "{}", reply.body);
    cli_key_for_new_workspace(&api, "transfer-elsewhere").await;
    // Bytes, for the base64 path (no flow through the API stores any without a second factor's dance).
    let mut tx = api.db.write().await.unwrap();
    let secret = Value::Blob(vec![0, 1, 2, 254, 255, b'"', b'\n']);
    tx.execute("UPDATE users SET totp_secret = $1 WHERE id = $2", &[secret, api.owner_id.into()]).await.unwrap();
    tx.commit().await.unwrap();
    Some(Populated { api, _mock: mock })
}

/// A freshly migrated, empty database on `backend` (at `version`, or the latest), and what keeps it alive.
async fn fresh(backend: Backend, version: Option<i64>) -> Option<(Db, TestDb, tempfile::TempDir)> {
    let test_db = TestDb::new(backend).await?;
    let dir = tempfile::tempdir().unwrap();
    let url = match &test_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(dir.path().join("copy.db")),
    };
    let db = Db::open(&url).await.unwrap();
    migrate::wipe_and_run_to(&db, version.unwrap_or_else(migrate::latest_version)).await.unwrap();
    Some((db, test_db, dir))
}

/// Exports `db` into a new directory.
async fn export(db: &Db) -> (ExportSummary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let summary = transfer::export(db, dir.path()).await.unwrap();
    (summary, dir)
}

fn rows_of(summary: &ExportSummary, table: &str) -> u64 {
    summary.tables.iter().find(|t| t.table == table).unwrap_or_else(|| panic!("no {table} in {summary:?}")).rows
}

/// How many messages the SQLite full-text index finds for `word` (kept by triggers, so it proves they ran).
async fn fts_hits(db: &Db, word: &str) -> i64 {
    let mut conn = db.read().await.unwrap();
    let sql = "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH $1";
    conn.fetch_one(sql, &[word.into()]).await.unwrap().int(0).unwrap()
}

both_backends!(an_export_imports_into_a_fresh_database, an_export_imports_into_a_fresh_database_on);
async fn an_export_imports_into_a_fresh_database_on(backend: Backend) {
    let Some(source) = populated(backend).await else { return };
    let Populated { api, _mock } = source;
    let db = api.db.clone();
    let _source_db = api.app.stop().await;
    let (summary, dir) = export(&db).await;
    assert_eq!(summary.format, transfer::FORMAT);
    assert_eq!(summary.schema_version, migrate::latest_version());
    let tables: Vec<&str> = summary.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(tables, migrate::tables_at(db.backend(), summary.schema_version));
    assert!(rows_of(&summary, "messages") >= 4, "three inbound and a note: {summary:?}");
    assert_eq!(rows_of(&summary, "contacts"), 3);
    assert_eq!(rows_of(&summary, "conversation_tags"), 1);
    assert!(rows_of(&summary, "workspaces") >= 2);
    let mut files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let mut expected: Vec<String> = tables.iter().map(|t| format!("{t}.jsonl")).collect();
    expected.sort();
    assert_eq!(files, expected, "one file per table and nothing else");
    let users = std::fs::read_to_string(dir.path().join("users.jsonl")).unwrap();
    let header: Json = serde_json::from_str(users.lines().next().unwrap()).unwrap();
    assert_eq!(header["table"], "users");
    assert!(header["columns"].as_array().unwrap().contains(&json!("totp_secret")));
    assert!(users.contains(r#"{"base64":"AAEC/v8iCg=="}"#), "bytes are written as base64: {users}");

    let (copy, _keep, _copy_dir) = fresh(backend, None).await.unwrap();
    transfer::replace_all(&copy, dir.path(), &summary).await.unwrap();
    let original = transfer::fingerprint(&db).await.unwrap();
    assert_eq!(transfer::fingerprint(&copy).await.unwrap(), original);
    assert!(original.iter().any(|(table, rows, _)| table == "messages" && *rows >= 4));
    if backend == Backend::Sqlite {
        assert_eq!(fts_hits(&copy, "damaged").await, 1, "the imported message is searchable");
    }
    // Importing again over the copy's own rows replaces them: still equal, no duplicates.
    transfer::replace_all(&copy, dir.path(), &summary).await.unwrap();
    assert_eq!(transfer::fingerprint(&copy).await.unwrap(), original);
    if backend == Backend::Sqlite {
        assert_eq!(fts_hits(&copy, "damaged").await, 1, "the index follows deletes too");
    }
}

/// The app started on `database_url` with the installed instance's `config.toml` (its secrets), until dropped.
struct Served {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _data_dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(config_toml: &Path, database_url: &str) -> Served {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::copy(config_toml, data_dir.path().join("config.toml")).unwrap();
    let config = test_config(data_dir.path(), Some(database_url.to_owned()), &[]);
    let app = Application::build(config).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Served { addr, stop: Some(stop), _data_dir: data_dir }
}

/// What the API shows of the first workspace: each conversation's contact and its messages' directions and texts.
async fn shown(addr: std::net::SocketAddr, key: &str) -> Vec<(i64, Json, Vec<(Json, Json)>)> {
    let client = reqwest::Client::new();
    let get = |path: String| {
        let request = client.get(format!("http://{addr}{path}")).bearer_auth(key);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Json>().await.unwrap()
        }
    };
    let list = get("/api/v1/conversations?tab=all".to_owned()).await;
    let mut out = Vec::new();
    for conversation in list["conversations"].as_array().unwrap() {
        let id = conversation["id"].as_i64().unwrap();
        let messages = get(format!("/api/v1/conversations/{id}/messages")).await;
        let texts = messages["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["direction"].clone(), m["text"].clone()))
            .collect();
        out.push((id, conversation["contact"]["name"].clone(), texts));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_everything() {
    let Some(Populated { api, _mock }) = populated(Backend::Sqlite).await else { return };
    let key = api.owner_key.clone();
    let before = shown(api.app.addr, &key).await;
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(before.iter().any(|(_, name, _)| name == "سلمى الحربي"));
    let source = api.db.clone();
    let (data_dir, _source_db) = api.app.stop().await;
    let Some((postgres, pg_keep, _pg_dir)) = fresh(Backend::Postgres, None).await else { return };
    let original = transfer::fingerprint(&source).await.unwrap();

    let (summary, dir) = export(&source).await;
    transfer::replace_all(&postgres, dir.path(), &summary).await.unwrap();
    assert_eq!(transfer::fingerprint(&postgres).await.unwrap(), original, "SQLite → Postgres");

    let (summary_back, dir_back) = export(&postgres).await;
    assert_eq!(summary_back, summary);
    let (sqlite, _keep, _sqlite_dir) = fresh(Backend::Sqlite, None).await.unwrap();
    transfer::replace_all(&sqlite, dir_back.path(), &summary_back).await.unwrap();
    assert_eq!(transfer::fingerprint(&sqlite).await.unwrap(), original, "Postgres → SQLite");
    assert_eq!(fts_hits(&sqlite, "damaged").await, 1, "the imported message is searchable");

    // The app over the Postgres copy shows the same conversations and messages, and new rows get fresh ids.
    let served = serve(&data_dir.path().join("config.toml"), pg_keep.url.as_deref().unwrap()).await;
    assert_eq!(shown(served.addr, &key).await, before);
    let tag = reqwest::Client::new()
        .post(format!("http://{}/api/v1/tags", served.addr))
        .bearer_auth(&key)
        .json(&json!({ "name": "After the move", "color": "#123456" }))
        .send()
        .await
        .unwrap();
    assert_eq!(tag.status(), 201, "the identity sequences were moved past the imported ids");
}

both_backends!(a_wrong_or_damaged_export_changes_nothing, a_wrong_or_damaged_export_changes_nothing_on);
async fn a_wrong_or_damaged_export_changes_nothing_on(backend: Backend) {
    let Some(Populated { api, _mock }) = populated(backend).await else { return };
    let db = api.db.clone();
    let _source_db = api.app.stop().await;
    let (summary, dir) = export(&db).await;
    let (target, _keep, _target_dir) = fresh(backend, None).await.unwrap();
    transfer::replace_all(&target, dir.path(), &summary).await.unwrap();
    // Give the target rows of its own, so "untouched" is visible.
    let mut tx = target.write().await.unwrap();
    settings::put(&mut tx, Scope::Instance, "brand.name", "Target's own").await.unwrap();
    tx.commit().await.unwrap();
    let before = transfer::fingerprint(&target).await.unwrap();

    let refused = |result: Result<(), StoreError>, what: &str| match result {
        Err(StoreError::Refused(reason)) => reason,
        other => panic!("{what}: expected a refusal, got {other:?}"),
    };
    let newer = ExportSummary { schema_version: summary.schema_version + 1, ..summary.clone() };
    let reason = refused(transfer::replace_all(&target, dir.path(), &newer).await, "another schema version");
    assert!(reason.contains("schema version"), "{reason}");
    let unknown = ExportSummary { format: transfer::FORMAT + 1, ..summary.clone() };
    refused(transfer::replace_all(&target, dir.path(), &unknown).await, "an unknown format");

    let mut miscounted = summary.clone();
    let contacts = miscounted.tables.iter_mut().find(|t| t.table == "contacts").unwrap();
    contacts.rows += 1;
    let reason = refused(transfer::replace_all(&target, dir.path(), &miscounted).await, "one wrong count");
    assert!(reason.contains("contacts.jsonl"), "{reason}");

    // A file that lost its last row, and one cut in the middle of a line.
    let messages = dir.path().join("messages.jsonl");
    let full = std::fs::read_to_string(&messages).unwrap();
    let mut lines: Vec<&str> = full.lines().collect();
    lines.pop();
    std::fs::write(&messages, lines.join("\n") + "\n").unwrap();
    let reason = refused(transfer::replace_all(&target, dir.path(), &summary).await, "a missing row");
    assert!(reason.contains("messages.jsonl"), "{reason}");
    std::fs::write(&messages, &full[..full.len() - 7]).unwrap();
    refused(transfer::replace_all(&target, dir.path(), &summary).await, "a cut line");
    std::fs::remove_file(&messages).unwrap();
    refused(transfer::replace_all(&target, dir.path(), &summary).await, "a missing file");

    assert_eq!(transfer::fingerprint(&target).await.unwrap(), before, "every refusal left the target as it was");
    let mut conn = target.read().await.unwrap();
    assert_eq!(settings::get(&mut conn, Scope::Instance, "brand.name").await.unwrap().as_deref(), Some("Target's own"));
}

both_backends!(an_older_schema_export_imports_then_migrates, an_older_schema_export_imports_then_migrates_on);
async fn an_older_schema_export_imports_then_migrates_on(backend: Backend) {
    let older = migrate::latest_version() - 1;
    let Some((old, _keep, _dir)) = fresh(backend, Some(older)).await else { return };
    assert_eq!(migrate::current_version(&old).await.unwrap(), older);
    let mut tx = old.write().await.unwrap();
    settings::put(&mut tx, Scope::Instance, "brand.name", "From the old days").await.unwrap();
    tx.commit().await.unwrap();
    let (summary, dir) = export(&old).await;
    assert_eq!(summary.schema_version, older);
    assert_eq!(summary.tables.len(), migrate::tables_at(old.backend(), older).len());

    let (target, _target_keep, _target_dir) = fresh(backend, None).await.unwrap();
    assert!(matches!(transfer::replace_all(&target, dir.path(), &summary).await, Err(StoreError::Refused(_))));
    let rebuilt = migrate::wipe_and_run_to(&target, older).await.unwrap();
    assert_eq!(rebuilt.to, older);
    transfer::replace_all(&target, dir.path(), &summary).await.unwrap();
    assert_eq!(transfer::fingerprint(&target).await.unwrap(), transfer::fingerprint(&old).await.unwrap());
    let report = migrate::run(&target).await.unwrap();
    assert_eq!((report.from, report.to), (older, migrate::latest_version()));
    let mut conn = target.read().await.unwrap();
    let kept = settings::get(&mut conn, Scope::Instance, "brand.name").await.unwrap();
    assert_eq!(kept.as_deref(), Some("From the old days"));

    assert!(migrate::wipe_and_run_to(&target, migrate::latest_version() + 1).await.is_err());
    assert!(migrate::wipe_and_run_to(&target, 0).await.is_err());
    assert_eq!(migrate::current_version(&target).await.unwrap(), migrate::latest_version(), "refusals change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_sqlite_snapshot_holds_every_committed_row() {
    let (db, _keep, dir) = fresh(Backend::Sqlite, None).await.unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, written, stop) = (db.clone(), Arc::clone(&written), Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = written.load(Ordering::SeqCst);
                let mut tx = db.write().await.unwrap();
                settings::put(&mut tx, Scope::Instance, &format!("row.{n}"), &"x".repeat(200)).await.unwrap();
                tx.commit().await.unwrap();
                written.store(n + 1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    while written.load(Ordering::SeqCst) < 300 {
        tokio::task::yield_now().await;
    }
    let committed = written.load(Ordering::SeqCst);
    let snapshot = dir.path().join("snapshot.db");
    assert!(db.sqlite_snapshot(&snapshot).await.unwrap());
    assert!(written.load(Ordering::SeqCst) >= committed);
    let already = db.sqlite_snapshot(&snapshot).await;
    assert!(already.is_err(), "an existing file is never overwritten");
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();

    let copy = Db::open(&DatabaseUrl::Sqlite(snapshot)).await.unwrap();
    let mut conn = copy.read().await.unwrap();
    assert_eq!(conn.fetch_one("PRAGMA integrity_check", &[]).await.unwrap().text(0).unwrap(), "ok");
    for n in 0..committed {
        let value = settings::get(&mut conn, Scope::Instance, &format!("row.{n}")).await.unwrap();
        assert!(value.is_some(), "row {n} of {committed} committed before the snapshot is in it");
    }
    drop(conn);
    assert_eq!(migrate::current_version(&copy).await.unwrap(), migrate::latest_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_has_no_physical_snapshot() {
    let Some((db, _keep, dir)) = fresh(Backend::Postgres, None).await else { return };
    let dest = dir.path().join("snapshot.db");
    assert!(!db.sqlite_snapshot(&dest).await.unwrap());
    assert!(!dest.exists());
}

both_backends!(many_pages_transfer_to_either_backend, many_pages_transfer_to_either_backend_on);
/// Enough rows for several pages and insert batches, with text keys that sort differently under different
/// collations (case, punctuation, scripts): the copy on each backend has exactly the same rows.
async fn many_pages_transfer_to_either_backend_on(backend: Backend) {
    const ROWS: usize = 2_600;
    let Some((source, _keep, _dir)) = fresh(backend, None).await else { return };
    let mut tx = source.write().await.unwrap();
    for n in 0..ROWS {
        let key = match n % 4 {
            0 => format!("Key.{n}"),
            1 => format!("key_{n}"),
            2 => format!("ключ {n}"),
            _ => format!("مفتاح-{n}"),
        };
        let workspace = Scope::Workspace(i64::try_from(n % 3).unwrap());
        settings::put(&mut tx, workspace, &key, &format!("value {n}")).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (summary, dir) = export(&source).await;
    assert_eq!(rows_of(&summary, "settings"), u64::try_from(ROWS).unwrap());
    let original = transfer::fingerprint(&source).await.unwrap();
    for target_backend in [Backend::Sqlite, Backend::Postgres] {
        let Some((target, _target_keep, _target_dir)) = fresh(target_backend, None).await else { continue };
        transfer::replace_all(&target, dir.path(), &summary).await.unwrap();
        assert_eq!(transfer::fingerprint(&target).await.unwrap(), original, "{backend:?} → {target_backend:?}");
    }
}
