//! The jobs pages (`/admin/jobs`, `/owner/jobs`) and the jobs API on installed instances (SQLite and Postgres):
//! counts, failed and dead jobs with their errors, retry and discard, tenant isolation, CSRF, scopes, schedules.
//!
//! The fixtures' jobs live on a queue no worker polls, so the running instance never picks them up: a retried job
//! stays `queued` and can be checked without racing the workers.

use conversure::config::DatabaseUrl;
use conversure::domain::role::Role;
use conversure::services::access::Actor;
use conversure::services::api_keys::{ApiKeyService, NewKey};
use conversure::services::workspaces::{NewWorkspace, Owner, WorkspaceService};
use conversure::store::jobs::{self as job_store, NewJob};
use conversure::store::{Db, accounts, now_millis};
use reqwest::Method;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::web_user::{Browser, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

/// A queue no worker of the instance polls.
const QUEUE: &str = "test-admin";

/// An installed instance with two workspaces (the wizard's and Globex) and a handle on its database.
struct Setup {
    app: TestApp,
    db: Db,
    acme: i64,
    globex: i64,
    owner_id: i64,
}

async fn installed(backend: Backend) -> Option<Setup> {
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
    let url = match &app.db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(app.data_dir.path().join("conversure.db")),
    };
    let db = Db::open(&url).await.unwrap();
    let mut conn = db.read().await.unwrap();
    let owner = accounts::user_by_email(&mut conn, ADMIN_EMAIL).await.unwrap().unwrap();
    let acme = accounts::workspace_by_slug(&mut conn, "acme-support").await.unwrap().unwrap().id;
    drop(conn);
    let new =
        NewWorkspace { name: "Globex Help".into(), slug: "globex".into(), timezone: "UTC".into(), admin_email: None };
    let globex = WorkspaceService::new(db.clone()).create(&Owner::cli(), &new).await.unwrap().id;
    Some(Setup { app, db, acme, globex, owner_id: owner.id })
}

/// A job of `workspace` that failed once: `dead`, or `failed` to run again in an hour.
async fn failed_job(db: &Db, workspace: i64, kind: &str, error: &str, dead: bool) -> i64 {
    let mut tx = db.write().await.unwrap();
    let new = NewJob {
        workspace_id: Some(workspace),
        queue: QUEUE,
        kind,
        payload: "{}",
        max_attempts: 3,
        run_at: now_millis(),
        dedupe_key: None,
        rate_key: None,
    };
    let id = job_store::insert(&mut tx, &new).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.write().await.unwrap();
    let claimed = job_store::claim(&mut tx, QUEUE, "test-node", 10, now_millis() + 60_000).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    assert!(job_store::fail(&mut tx, id, "test-node", error, now_millis() + 3_600_000, dead).await.unwrap());
    tx.commit().await.unwrap();
    id
}

/// `(state, attempts, last_error)`, or `None` once deleted.
async fn state_of(db: &Db, id: i64) -> Option<(String, i64, Option<String>)> {
    let mut conn = db.read().await.unwrap();
    job_store::state_of(&mut conn, id).await.unwrap()
}

async fn state_name(db: &Db, id: i64) -> Option<String> {
    state_of(db, id).await.map(|(state, _, _)| state)
}

// ---- The pages ---------------------------------------------------------------------------------------------------

/// The table row of a job, or `None` when the page does not show it.
fn row(html: &str, id: i64) -> Option<String> {
    let start = html.find(&format!("<tr id=\"job-{id}\""))?;
    Some(html[start..].split("</tr>").next().unwrap_or_default().to_owned())
}

both_backends!(the_pages_show_retry_and_discard_jobs, the_pages_show_retry_and_discard_jobs_on);
async fn the_pages_show_retry_and_discard_jobs_on(backend: Backend) {
    let Some(setup) = installed(backend).await else { return };
    let Setup { app, db, acme, globex, .. } = &setup;
    let acme_dead = failed_job(db, *acme, "test.mail", "SMTP said <b>no</b>", true).await;
    let acme_failed = failed_job(db, *acme, "test.sync", "timed out", false).await;
    let globex_dead = failed_job(db, *globex, "test.globex", "globex private trouble", true).await;

    let owner = Browser::signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(owner.html("/").await.contains("id=\"nav-jobs\""), "the navigation links the jobs");

    // The workspace page: the dead tab by default, only this workspace's jobs, errors escaped.
    let page = owner.html("/admin/jobs").await;
    let dead = row(&page, acme_dead).unwrap_or_else(|| panic!("the dead job is listed: {page}"));
    assert!(dead.contains("test.mail") && dead.contains("1/3"), "{dead}");
    assert!(dead.contains("SMTP said &#60;b&#62;no&#60;/b&#62;") && !page.contains("<b>no</b>"), "escaped: {dead}");
    assert!(dead.contains(&format!("/admin/jobs/{acme_dead}/retry")), "{dead}");
    assert!(row(&page, acme_failed).is_none(), "failed jobs are on their own tab");
    assert!(row(&page, globex_dead).is_none() && !page.contains("globex private trouble"), "not another workspace's");
    assert!(page.contains("id=\"state-dead\" data-count=\"1\""), "counts: {page}");
    assert!(page.contains("id=\"state-failed\" data-count=\"1\""), "counts: {page}");
    let failed_tab = owner.html("/admin/jobs?state=failed").await;
    assert!(row(&failed_tab, acme_failed).is_some_and(|r| r.contains("timed out")), "{failed_tab}");

    // Without the session's CSRF token: 403 and nothing changes.
    let forged = owner.post(&format!("/admin/jobs/{acme_dead}/retry"), &[("state", "dead")]).await;
    assert_eq!(forged.status(), 403);
    let forged = owner.post(&format!("/admin/jobs/{acme_failed}/discard"), &[("csrf", "nope")]).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(state_name(db, acme_dead).await.as_deref(), Some("dead"));
    assert_eq!(state_name(db, acme_failed).await.as_deref(), Some("failed"));

    // Retry: queued again with fresh attempts, and a notice.
    let retried = owner.send(&format!("/admin/jobs/{acme_dead}/retry"), &[("state", "dead")]).await;
    assert_eq!(location(&retried), format!("/admin/jobs?state=dead&done=retried&id={acme_dead}"));
    let (state, attempts, _) = state_of(db, acme_dead).await.unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    let shown = owner.html(&location(&retried)).await;
    assert!(shown.contains(&format!("Job {acme_dead} was queued again")), "{shown}");
    assert!(row(&shown, acme_dead).is_none(), "no longer dead");
    let queued = owner.html("/admin/jobs?state=queued").await;
    assert!(row(&queued, acme_dead).is_some_and(|r| !r.contains("/retry")), "queued jobs have no actions");
    let again = owner.send(&format!("/admin/jobs/{acme_dead}/retry"), &[]).await;
    assert_eq!(again.status(), 404, "only failed and dead jobs are retried");

    // Discard: gone.
    let discarded = owner.send(&format!("/admin/jobs/{acme_failed}/discard"), &[("state", "failed")]).await;
    assert_eq!(location(&discarded), format!("/admin/jobs?state=failed&done=discarded&id={acme_failed}"));
    assert_eq!(state_of(db, acme_failed).await, None);
    assert!(owner.html(&location(&discarded)).await.contains(&format!("Job {acme_failed} was discarded.")));

    // Another workspace's job: 404 on both actions, unchanged.
    assert_eq!(owner.send(&format!("/admin/jobs/{globex_dead}/retry"), &[]).await.status(), 404);
    assert_eq!(owner.send(&format!("/admin/jobs/{globex_dead}/discard"), &[]).await.status(), 404);
    assert_eq!(state_name(db, globex_dead).await.as_deref(), Some("dead"));

    // The owner's page: every workspace's jobs, the schedules with a next run, the web cron address.
    let all = owner.html("/owner/jobs").await;
    let other = row(&all, globex_dead).unwrap_or_else(|| panic!("every workspace's jobs: {all}"));
    assert!(other.contains("globex private trouble") && other.contains(&format!("#{globex}")), "{other}");
    for name in ["cleanup", "database-upkeep", "quota-reset"] {
        let start = all.find(&format!("id=\"schedule-{name}\"")).unwrap_or_else(|| panic!("{name}: {all}"));
        let schedule = all[start..].split("</tr>").next().unwrap();
        let next = schedule.split("data-next=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(next.len() == 19 && next.starts_with("20"), "{name} has a next run: {schedule}");
    }
    assert!(all.contains("id=\"tab-jobs\" aria-current=\"page\""), "the owner tab");
    let cron = all.split("id=\"cron-url\">").nth(1).unwrap().split('<').next().unwrap();
    let token = cron.split("/cron?token=").nth(1).unwrap_or_else(|| panic!("the web cron address: {cron}"));
    assert!(token.len() >= 32, "{cron}");
    assert_eq!(app.get(&format!("/cron?token={token}")).await.status(), 200, "the address works");

    // The owner acts on any workspace's job.
    let gone = owner.send(&format!("/owner/jobs/{globex_dead}/discard"), &[("state", "dead")]).await;
    assert_eq!(location(&gone), format!("/owner/jobs?state=dead&done=discarded&id={globex_dead}"));
    assert_eq!(state_of(db, globex_dead).await, None);
    assert_eq!(owner.send("/owner/jobs/424242/retry", &[]).await.status(), 404);
}

// ---- The API -----------------------------------------------------------------------------------------------------

async fn call(app: &TestApp, method: Method, path: &str, key: &str) -> (u16, Value) {
    let response = app.client.request(method, app.url(path)).bearer_auth(key).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn job_ids(body: &Value) -> Vec<i64> {
    body["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect()
}

both_backends!(the_api_counts_lists_retries_and_discards, the_api_counts_lists_retries_and_discards_on);
async fn the_api_counts_lists_retries_and_discards_on(backend: Backend) {
    let Some(setup) = installed(backend).await else { return };
    let Setup { app, db, acme, globex, owner_id } = &setup;
    let keys = ApiKeyService::new(db.clone());
    let owner_actor = Actor::user(*owner_id, ADMIN_EMAIL, true, *acme, Role::Admin);
    let new = |scope: &str| NewKey { name: format!("jobs {scope}"), scope: scope.into() };
    let owner_key =
        keys.create(&owner_actor, &NewKey { name: "jobs owner".into(), scope: "admin".into() }).await.unwrap().secret;
    let admin_key = keys.create_for_workspace(&Owner::cli(), "acme-support", &new("admin")).await.unwrap().secret;
    let read_key = keys.create_for_workspace(&Owner::cli(), "acme-support", &new("read")).await.unwrap().secret;
    let acme_dead = failed_job(db, *acme, "test.mail", "mailbox full", true).await;
    let acme_failed = failed_job(db, *acme, "test.sync", "timed out", false).await;
    let globex_dead = failed_job(db, *globex, "test.globex", "globex private trouble", true).await;

    // Counts and lists of the key's workspace.
    let (status, counts) = call(app, Method::GET, "/api/v1/jobs/counts", &admin_key).await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!((counts["counts"]["dead"].as_i64(), counts["counts"]["failed"].as_i64()), (Some(1), Some(1)));
    assert!(counts["counts"]["done"].is_i64() && counts["counts"]["queued"].is_i64(), "every state: {counts}");
    let (status, dead) = call(app, Method::GET, "/api/v1/jobs?state=dead&limit=50", &admin_key).await;
    assert_eq!((status, job_ids(&dead)), (200, vec![acme_dead]));
    let job = &dead["jobs"][0];
    assert_eq!((job["kind"].as_str(), job["last_error"].as_str()), (Some("test.mail"), Some("mailbox full")));
    assert_eq!((job["attempts"].as_i64(), job["max_attempts"].as_i64()), (Some(1), Some(3)));
    assert_eq!(job["workspace_id"].as_i64(), Some(*acme));
    assert_eq!(job_ids(&call(app, Method::GET, "/api/v1/jobs", &admin_key).await.1), [acme_dead], "dead by default");
    let (_, failed) = call(app, Method::GET, "/api/v1/jobs?state=failed", &admin_key).await;
    assert_eq!(job_ids(&failed), [acme_failed]);
    let (status, bad) = call(app, Method::GET, "/api/v1/jobs?state=stuck", &admin_key).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("invalid")));

    // A read key: 403 everywhere, nothing changes.
    for (method, path) in [
        (Method::GET, "/api/v1/jobs/counts".to_owned()),
        (Method::GET, "/api/v1/jobs".to_owned()),
        (Method::POST, format!("/api/v1/jobs/{acme_dead}/retry")),
        (Method::DELETE, format!("/api/v1/jobs/{acme_failed}")),
    ] {
        assert_eq!(call(app, method, &path, &read_key).await.0, 403, "{path}");
    }
    assert_eq!(state_name(db, acme_dead).await.as_deref(), Some("dead"));
    assert_eq!(state_name(db, acme_failed).await.as_deref(), Some("failed"));

    // Another workspace's job: 404, unchanged.
    assert_eq!(call(app, Method::POST, &format!("/api/v1/jobs/{globex_dead}/retry"), &admin_key).await.0, 404);
    assert_eq!(call(app, Method::DELETE, &format!("/api/v1/jobs/{globex_dead}"), &admin_key).await.0, 404);
    assert_eq!(state_name(db, globex_dead).await.as_deref(), Some("dead"));

    // Retry and discard.
    assert_eq!(call(app, Method::POST, &format!("/api/v1/jobs/{acme_dead}/retry"), &admin_key).await.0, 204);
    let (state, attempts, _) = state_of(db, acme_dead).await.unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    assert_eq!(call(app, Method::POST, &format!("/api/v1/jobs/{acme_dead}/retry"), &admin_key).await.0, 404);
    assert_eq!(call(app, Method::DELETE, &format!("/api/v1/jobs/{acme_failed}"), &admin_key).await.0, 204);
    assert_eq!(state_of(db, acme_failed).await, None);
    assert_eq!(call(app, Method::DELETE, &format!("/api/v1/jobs/{acme_failed}"), &admin_key).await.0, 404);

    // The owner's key: every workspace's jobs, and the schedules (owner only).
    let (_, all) = call(app, Method::GET, "/api/v1/jobs?state=dead", &owner_key).await;
    assert!(job_ids(&all).contains(&globex_dead), "{all}");
    let (_, owner_counts) = call(app, Method::GET, "/api/v1/jobs/counts", &owner_key).await;
    assert!(owner_counts["counts"]["dead"].as_i64().unwrap() >= 1, "{owner_counts}");
    let (status, schedules) = call(app, Method::GET, "/api/v1/jobs/schedules", &owner_key).await;
    assert_eq!(status, 200, "{schedules}");
    let names: Vec<&str> =
        schedules["schedules"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "cleanup",
            "database-upkeep",
            "quota-reset",
            "snooze-reopen",
            "templates-sync",
            "domains-check",
            "update-check",
            "backup"
        ]
    );
    assert!(schedules["schedules"].as_array().unwrap().iter().all(|s| s["next_fire_at"].is_string()), "{schedules}");
    assert_eq!(call(app, Method::GET, "/api/v1/jobs/schedules", &admin_key).await.0, 404, "owner keys only");
    assert_eq!(call(app, Method::DELETE, &format!("/api/v1/jobs/{globex_dead}"), &owner_key).await.0, 204);
    assert_eq!(state_of(db, globex_dead).await, None);
}
