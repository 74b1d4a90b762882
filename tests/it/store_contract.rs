//! The store's contract, one suite run on SQLite and on Postgres: migrations, settings, transactions, errors.

use std::time::Duration;

use conversure::config::DatabaseUrl;
use conversure::store::settings::{self, Scope};
use conversure::store::{Db, StoreError, Value, migrate};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

/// An opened, migrated database on `backend`, plus what keeps it alive.
async fn open(backend: Backend) -> Option<(Db, TestDb, tempfile::TempDir)> {
    let test_db = TestDb::new(backend).await?;
    let dir = tempfile::tempdir().unwrap();
    let url = match &test_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(dir.path().join("test.db")),
    };
    let db = Db::open(&url).await.unwrap();
    migrate::run(&db).await.unwrap();
    Some((db, test_db, dir))
}

both_backends!(migrations_apply_once_and_are_recorded, migrations_apply_once_and_are_recorded_on);
async fn migrations_apply_once_and_are_recorded_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    assert_eq!(migrate::current_version(&db).await.unwrap(), migrate::latest_version());
    let again = migrate::run(&db).await.unwrap();
    assert!(again.applied.is_empty(), "a second run applies nothing");
    assert_eq!(again.from, again.to);
    // The first schema has every table the later issues build on.
    let mut conn = db.read().await.unwrap();
    for table in [
        "workspaces",
        "users",
        "memberships",
        "sessions",
        "settings",
        "audit_log",
        "whatsapp_accounts",
        "contacts",
        "conversations",
        "messages",
        "jobs",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(conn.fetch_one(&sql, &[]).await.unwrap().int(0).unwrap(), 0, "{table}");
    }
}

both_backends!(a_newer_database_is_refused, a_newer_database_is_refused_on);
async fn a_newer_database_is_refused_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    tx.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        &[Value::Int(999), "future".into(), Value::Int(0)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    match migrate::run(&db).await {
        Err(StoreError::DatabaseNewer { found: 999, supported }) => assert_eq!(supported, migrate::latest_version()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

both_backends!(settings_round_trip_per_scope, settings_round_trip_per_scope_on);
async fn settings_round_trip_per_scope_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    settings::put(&mut tx, Scope::Instance, "brand.name", "Acme").await.unwrap();
    settings::put(&mut tx, Scope::Instance, "brand.name", "Acme Chat").await.unwrap();
    settings::put(&mut tx, Scope::Instance, "site.language", "ar").await.unwrap();
    settings::put(&mut tx, Scope::Workspace(7), "brand.name", "Tenant Seven").await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = db.read().await.unwrap();
    assert_eq!(settings::get(&mut conn, Scope::Instance, "brand.name").await.unwrap().as_deref(), Some("Acme Chat"));
    let brand = settings::load(&mut conn, Scope::Instance, "brand.").await.unwrap();
    assert_eq!(brand.len(), 1, "prefix filter: {brand:?}");
    assert_eq!(settings::load(&mut conn, Scope::Instance, "").await.unwrap().len(), 2);
    // Scopes do not leak into each other.
    assert_eq!(
        settings::get(&mut conn, Scope::Workspace(7), "brand.name").await.unwrap().as_deref(),
        Some("Tenant Seven")
    );
    assert_eq!(settings::get(&mut conn, Scope::Workspace(8), "brand.name").await.unwrap(), None);
    drop(conn);

    let mut tx = db.write().await.unwrap();
    assert!(settings::delete(&mut tx, Scope::Workspace(7), "brand.name").await.unwrap());
    assert!(!settings::delete(&mut tx, Scope::Workspace(7), "brand.name").await.unwrap());
    tx.commit().await.unwrap();
}

both_backends!(an_uncommitted_transaction_rolls_back, an_uncommitted_transaction_rolls_back_on);
async fn an_uncommitted_transaction_rolls_back_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    {
        let mut tx = db.write().await.unwrap();
        settings::put(&mut tx, Scope::Instance, "k.dropped", "v").await.unwrap();
        // Dropped without commit, as on an error path.
    }
    let mut tx = db.write().await.unwrap();
    settings::put(&mut tx, Scope::Instance, "k.kept", "v").await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = db.read().await.unwrap();
    assert_eq!(settings::get(&mut conn, Scope::Instance, "k.dropped").await.unwrap(), None);
    assert_eq!(settings::get(&mut conn, Scope::Instance, "k.kept").await.unwrap().as_deref(), Some("v"));
}

both_backends!(values_round_trip_and_errors_are_classified, values_round_trip_and_errors_are_classified_on);
async fn values_round_trip_and_errors_are_classified_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    let id = tx
        .fetch_one(
            "INSERT INTO workspaces (slug, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
            &["acme".into(), "Acme — عربي".into(), Value::Int(1_700_000_000_000)],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    // Placeholders used out of order must still bind by number on both backends.
    let row = tx
        .fetch_one("SELECT name, $2 || '', $1 + 0 FROM workspaces WHERE id = $1", &[Value::Int(id), "x".into()])
        .await
        .unwrap();
    assert_eq!(row.text(0).unwrap(), "Acme — عربي");
    assert_eq!(row.text(1).unwrap(), "x");
    assert_eq!(row.int(2).unwrap(), id);

    // Nulls and bytes.
    tx.execute(
        "INSERT INTO users (email, email_lower, name, password_hash, totp_secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, 0)",
        &["A@x.io".into(), "a@x.io".into(), "A".into(), Value::NullText, Value::Blob(vec![0, 159, 255])],
    )
    .await
    .unwrap();
    let user = tx
        .fetch_one("SELECT password_hash, totp_secret FROM users WHERE email_lower = $1", &["a@x.io".into()])
        .await
        .unwrap();
    assert_eq!(user.opt_text(0).unwrap(), None);
    assert_eq!(user.opt_blob(1).unwrap(), Some(vec![0, 159, 255]));

    // A unique violation is a Conflict, whichever backend raised it.
    let duplicate = tx
        .execute(
            "INSERT INTO workspaces (slug, name, created_at, updated_at) VALUES ($1, $2, 0, 0)",
            &["acme".into(), "Again".into()],
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict { .. })), "{duplicate:?}");
    drop(tx);

    let mut conn = db.read().await.unwrap();
    let missing = conn.fetch_one("SELECT id FROM workspaces WHERE slug = $1", &["nope".into()]).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

both_backends!(ping_and_server_info, ping_and_server_info_on);
async fn ping_and_server_info_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    db.ping(Duration::from_secs(2)).await.unwrap();
    let info = db.server_info().await.unwrap();
    assert!(!info.version.is_empty());
    if backend == Backend::Postgres {
        assert_eq!(info.encoding.as_deref(), Some("UTF8"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_committed_writes_while_a_writer_is_open() {
    let Some((db, _keep, _dir)) = open(Backend::Sqlite).await else { return };
    let mut tx = db.write().await.unwrap();
    settings::put(&mut tx, Scope::Instance, "a.b", "1").await.unwrap();
    tx.commit().await.unwrap();
    let mut open_writer = db.write().await.unwrap();
    settings::put(&mut open_writer, Scope::Instance, "a.b", "2").await.unwrap();
    // WAL: a reader is not blocked by the open write transaction and sees the last committed value.
    let mut reader = db.read().await.unwrap();
    assert_eq!(settings::get(&mut reader, Scope::Instance, "a.b").await.unwrap().as_deref(), Some("1"));
    drop(reader);
    open_writer.commit().await.unwrap();
    let mut reader = db.read().await.unwrap();
    assert_eq!(settings::get(&mut reader, Scope::Instance, "a.b").await.unwrap().as_deref(), Some("2"));
}
