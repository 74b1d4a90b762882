//! `jobs`: the durable queue's own cost. Enqueues N no-op jobs through `jobs::enqueue` in batched transactions, then
//! runs them with the real runner (16 at once on the default queue) and polls the committed `done` count.
//!
//! Baseline in the same run, `B_sqlN`: raw inserts of the same rows (same table and indexes, created by the same
//! migrations; same batch size and durability) with one prepared statement: rusqlite on a second SQLite file, or
//! on Postgres raw sqlx into the same table, emptied again before the measured enqueue.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use conversure::jobs::runner::{self, Options};
use conversure::jobs::{Job, Outcome, Registry};
use conversure::store::now_millis;
use serde::{Deserialize, Serialize};
use sqlx::Connection as _;

use crate::{BATCH, Target, enqueue_batched, fail, ms, rate, wait_done};

#[derive(Serialize, Deserialize)]
struct Noop {
    n: usize,
}

impl Job for Noop {
    const KIND: &'static str = "bench.noop";
}

/// The row the store's `jobs::insert` writes, without its `ON CONFLICT … RETURNING`.
const INSERT: &str = "INSERT INTO jobs (workspace_id, queue, kind, payload, state, attempts, max_attempts, run_at, \
                      dedupe_key, rate_key, created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $9, $9)";

pub async fn run(n: usize, concurrency: usize, target: &Target) -> Result<(), String> {
    println!("scenario: jobs, {n} no-op jobs, {BATCH} per enqueue transaction, concurrency {concurrency}");
    println!("database: {}", target.describe());
    target.print_fsync_baseline()?;

    // Baseline first, on its own database (SQLite) or in the same table, emptied afterwards (Postgres).
    let (db, baseline, how) = match target {
        Target::Sqlite(dir) => {
            let db = target.open("baseline.db").await?;
            db.close().await;
            drop(db);
            let path = dir.0.join("baseline.db");
            let baseline =
                tokio::task::spawn_blocking(move || baseline_sqlite(&path, n)).await.map_err(fail("baseline"))??;
            (target.open("jobs.db").await?, baseline, "rusqlite")
        }
        Target::Postgres(url) => {
            let db = target.open("").await?;
            (db, baseline_postgres(url, n).await?, "sqlx")
        }
    };
    let result = measure(n, concurrency, &db, baseline, how).await;
    db.close().await;
    result
}

async fn measure(
    n: usize,
    concurrency: usize,
    db: &conversure::store::Db,
    baseline: Duration,
    how: &str,
) -> Result<(), String> {
    let started = Instant::now();
    let enqueue = enqueue_batched(db, n, |i| Noop { n: i }).await?;

    let first_run: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let seen = Arc::clone(&first_run);
    let mut registry = Registry::new();
    registry
        .handle::<Noop, _, _>(move |_job, _ctx| {
            let _ = seen.set(Instant::now());
            async { Outcome::Done }
        })
        .queue(Noop::QUEUE, concurrency);
    let workers_started = Instant::now();
    let workers = runner::start(db.clone(), registry, Options::default());
    let all_done = wait_done(db, i64::try_from(n).unwrap_or(i64::MAX), Duration::from_secs(600)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    let all_done = all_done?;
    let first = first_run.get().copied().unwrap_or(workers_started);

    let enqueue_rate = rate(n, enqueue);
    let b = rate(n, baseline);
    println!("B_sqlN raw {how} prepared inserts, {BATCH} per transaction: {b:.0} rows/s ({:.0} ms)", ms(baseline));
    println!("enqueue through jobs::enqueue: {enqueue_rate:.0} jobs/s ({:.0} ms)", ms(enqueue));
    println!("ratio enqueue / B_sqlN: {:.2}", enqueue_rate / b);
    println!("runner start to first job run: {:.1} ms", ms(first.duration_since(workers_started)));
    let running = all_done.duration_since(first);
    println!(
        "run, first claim to all {n} committed done: {:.0} jobs/s ({:.0} ms, done count polled every 50 ms)",
        rate(n, running),
        ms(running)
    );
    let total = all_done.duration_since(started);
    println!(
        "end to end, first enqueue to all done (workers started after the enqueue): {:.0} jobs/s ({:.0} ms)",
        rate(n, total),
        ms(total)
    );
    Ok(())
}

fn baseline_sqlite(path: &Path, n: usize) -> Result<Duration, String> {
    let conn = rusqlite::Connection::open(path).map_err(fail("baseline database"))?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(fail("baseline journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("baseline database: journal mode {mode}, not WAL"));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")
        .map_err(fail("baseline pragmas"))?;
    let sql = INSERT.replace('$', "?");
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + BATCH).min(n);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(fail("baseline begin"))?;
        let mut stmt = conn.prepare_cached(&sql).map_err(fail("baseline prepare"))?;
        for i in next..end {
            let payload = serde_json::to_string(&Noop { n: i }).map_err(fail("payload"))?;
            let now = now_millis();
            stmt.execute(rusqlite::params![
                None::<i64>,
                Noop::QUEUE,
                Noop::KIND,
                payload,
                Noop::MAX_ATTEMPTS,
                now,
                None::<String>,
                None::<String>,
                now
            ])
            .map_err(fail("baseline insert"))?;
        }
        drop(stmt);
        conn.execute_batch("COMMIT").map_err(fail("baseline commit"))?;
        next = end;
    }
    Ok(started.elapsed())
}

async fn baseline_postgres(url: &str, n: usize) -> Result<Duration, String> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(fail("baseline connection"))?;
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + BATCH).min(n);
        let mut tx = conn.begin().await.map_err(fail("baseline begin"))?;
        for i in next..end {
            let payload = serde_json::to_string(&Noop { n: i }).map_err(fail("payload"))?;
            let now = now_millis();
            sqlx::query(INSERT)
                .bind(None::<i64>)
                .bind(Noop::QUEUE)
                .bind(Noop::KIND)
                .bind(payload)
                .bind(Noop::MAX_ATTEMPTS)
                .bind(now)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(fail("baseline insert"))?;
        }
        tx.commit().await.map_err(fail("baseline commit"))?;
        next = end;
    }
    let elapsed = started.elapsed();
    sqlx::query("TRUNCATE jobs RESTART IDENTITY").execute(&mut conn).await.map_err(fail("emptying jobs"))?;
    let _ = conn.close().await;
    Ok(elapsed)
}
