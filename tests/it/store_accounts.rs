//! Contract tests of the account queries on both backends: search, tenant filters, removal, cascades, limits.

use conversure::config::DatabaseUrl;
use conversure::store::accounts::{self, NewUser};
use conversure::store::{Db, migrate, now_millis};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

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

async fn user(conn: &mut conversure::store::Conn, email: &str, name: &str) -> i64 {
    let lower = email.to_lowercase();
    let new = NewUser { email, email_lower: &lower, name, password_hash: Some("x"), is_owner: false };
    accounts::create_user(conn, &new).await.unwrap()
}

both_backends!(members_are_searched_within_one_workspace, members_are_searched_within_one_workspace_on);
async fn members_are_searched_within_one_workspace_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    let a = accounts::create_workspace(&mut tx, "a", "A", "UTC").await.unwrap();
    let b = accounts::create_workspace(&mut tx, "b", "B", "UTC").await.unwrap();
    let ann = user(&mut tx, "ann@x.io", "Ann 100%_done").await;
    let bob = user(&mut tx, "bob@x.io", "Bob").await;
    accounts::add_membership(&mut tx, a, ann, "admin").await.unwrap();
    accounts::add_membership(&mut tx, a, bob, "agent").await.unwrap();
    accounts::add_membership(&mut tx, b, bob, "manager").await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = db.read().await.unwrap();
    let all_a = accounts::members(&mut conn, a, 0, None, None).await.unwrap();
    assert_eq!(all_a.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["Ann 100%_done", "Bob"]);
    assert_eq!(accounts::members(&mut conn, b, 0, None, None).await.unwrap().len(), 1, "b sees only its member");
    // LIKE wildcards in the search are literal.
    assert_eq!(accounts::members(&mut conn, a, 0, Some("%_"), None).await.unwrap().len(), 1);
    assert_eq!(accounts::members(&mut conn, a, 0, Some("BOB@X"), None).await.unwrap().len(), 1, "email, any case");
    assert!(accounts::member_of(&mut conn, b, ann, 0).await.unwrap().is_none(), "ann is not in b");
    assert_eq!(accounts::member_of(&mut conn, b, bob, 0).await.unwrap().unwrap().role, "manager");
    drop(conn);

    let mut tx = db.write().await.unwrap();
    assert!(
        !accounts::update_membership(&mut tx, b, ann, Some("admin"), None, None).await.unwrap(),
        "no cross-tenant update"
    );
    assert!(accounts::update_membership(&mut tx, a, bob, None, Some(Some(50)), Some("inactive")).await.unwrap());
    tx.commit().await.unwrap();
    let mut conn = db.read().await.unwrap();
    let bob_a = accounts::member_of(&mut conn, a, bob, 0).await.unwrap().unwrap();
    assert_eq!((bob_a.daily_quota, bob_a.status.as_str(), bob_a.role.as_str()), (Some(50), "inactive", "agent"));
    assert_eq!(accounts::members(&mut conn, a, 0, None, Some("active")).await.unwrap().len(), 1);
    assert_eq!(accounts::count_active_members(&mut conn, a, Some("admin")).await.unwrap(), 1);
}

both_backends!(removing_a_member_unassigns_and_keeps_messages, removing_a_member_unassigns_and_keeps_messages_on);
async fn removing_a_member_unassigns_and_keeps_messages_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let now = now_millis();
    let mut tx = db.write().await.unwrap();
    let ws = accounts::create_workspace(&mut tx, "a", "A", "UTC").await.unwrap();
    let agent = user(&mut tx, "agent@x.io", "Agent").await;
    accounts::add_membership(&mut tx, ws, agent, "agent").await.unwrap();
    let account = tx
        .fetch_one(
            "INSERT INTO whatsapp_accounts (workspace_id, name, provider, phone, account_key, credentials, webhook_secret, warmup_enabled, warmup_schedule, warmup_started_on, throughput_per_second, created_at, updated_at) VALUES ($1, 'Main', 'meta', '+15550000', 'k1', '-', '-', 0, '20', '2026-01-01', 80, $2, $2) RETURNING id",
            &[ws.into(), now.into()],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    let contact = tx
        .fetch_one("INSERT INTO contacts (workspace_id, phone, created_at, updated_at) VALUES ($1, '+15550001', $2, $2) RETURNING id", &[ws.into(), now.into()])
        .await
        .unwrap()
        .int(0)
        .unwrap();
    let conversation = tx
        .fetch_one(
            "INSERT INTO conversations (workspace_id, account_id, contact_id, assignee_user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            &[ws.into(), account.into(), contact.into(), agent.into(), now.into()],
        )
        .await
        .unwrap()
        .int(0)
        .unwrap();
    tx.execute(
        "INSERT INTO messages (workspace_id, conversation_id, account_id, direction, kind, body, status, sent_by_user_id, occurred_at, created_at, updated_at) VALUES ($1, $2, $3, 'outbound', 'text', 'hi', 'sent', $4, $5, $5, $5)",
        &[ws.into(), conversation.into(), account.into(), agent.into(), now.into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut conn = db.read().await.unwrap();
    assert_eq!(accounts::member_of(&mut conn, ws, agent, now - 1000).await.unwrap().unwrap().sent_today, 1);
    drop(conn);
    let mut tx = db.write().await.unwrap();
    assert!(accounts::remove_member(&mut tx, ws, agent).await.unwrap());
    tx.commit().await.unwrap();
    let mut conn = db.read().await.unwrap();
    let row = conn
        .fetch_one("SELECT assignee_user_id FROM conversations WHERE id = $1", &[conversation.into()])
        .await
        .unwrap();
    assert_eq!(row.opt_int(0).unwrap(), None, "the conversation is unassigned");
    let row = conn
        .fetch_one(
            "SELECT COUNT(*), MAX(sent_by_user_id) FROM messages WHERE conversation_id = $1",
            &[conversation.into()],
        )
        .await
        .unwrap();
    assert_eq!((row.int(0).unwrap(), row.opt_int(1).unwrap()), (1, None), "the message stays, without its author link");
    assert!(accounts::user_by_id(&mut conn, agent).await.unwrap().is_none(), "a user in no workspace is gone");
}

both_backends!(deleting_a_workspace_cascades_and_keeps_others, deleting_a_workspace_cascades_and_keeps_others_on);
async fn deleting_a_workspace_cascades_and_keeps_others_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    let a = accounts::create_workspace(&mut tx, "a", "A", "UTC").await.unwrap();
    let b = accounts::create_workspace(&mut tx, "b", "B", "UTC").await.unwrap();
    let only_a = user(&mut tx, "a@x.io", "Only A").await;
    let both = user(&mut tx, "both@x.io", "Both").await;
    accounts::add_membership(&mut tx, a, only_a, "admin").await.unwrap();
    accounts::add_membership(&mut tx, a, both, "agent").await.unwrap();
    accounts::add_membership(&mut tx, b, both, "admin").await.unwrap();
    conversure::store::settings::put(&mut tx, conversure::store::settings::Scope::Workspace(a), "limits.agents", "3")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.write().await.unwrap();
    assert!(accounts::delete_workspace(&mut tx, a).await.unwrap());
    tx.commit().await.unwrap();
    let mut conn = db.read().await.unwrap();
    assert!(accounts::workspace_by_id(&mut conn, a).await.unwrap().is_none());
    assert!(accounts::user_by_id(&mut conn, only_a).await.unwrap().is_none());
    assert!(accounts::user_by_id(&mut conn, both).await.unwrap().is_some(), "a user still in b stays");
    assert_eq!(accounts::memberships_of(&mut conn, both).await.unwrap().len(), 1);
    let left = conversure::store::settings::load(&mut conn, conversure::store::settings::Scope::Workspace(a), "")
        .await
        .unwrap();
    assert!(left.is_empty(), "the workspace's settings are gone too");
}
