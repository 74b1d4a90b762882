//! The job queue's table: enqueue inside the caller's transaction, claim with leases, finish, retry, bury, and the
//! cron schedules' state. Claiming is the one statement that differs per backend.

use super::{Backend, Conn, Row, StoreError, Value, now_millis};

/// The Postgres channel that wakes other nodes when a job is enqueued (NOTIFY is delivered at commit).
pub const NOTIFY_CHANNEL: &str = "conversure_jobs";

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub workspace_id: Option<i64>,
    pub queue: &'a str,
    pub kind: &'a str,
    /// JSON.
    pub payload: &'a str,
    pub max_attempts: i64,
    pub run_at: i64,
    /// At most one job with a given key exists; adding another is a no-op.
    pub dedupe_key: Option<&'a str>,
    pub rate_key: Option<&'a str>,
}

/// A job handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    /// Including this one.
    pub attempts: i64,
    pub max_attempts: i64,
    pub rate_key: Option<String>,
}

/// A job as the admin list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub queue: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// Adds a job in the caller's transaction; returns its id, or `None` when its dedupe key exists already.
pub async fn insert(conn: &mut Conn, job: &NewJob<'_>) -> Result<Option<i64>, StoreError> {
    let now = now_millis();
    let row = conn
        .fetch_optional(
            "INSERT INTO jobs (workspace_id, queue, kind, payload, state, attempts, max_attempts, run_at, dedupe_key, rate_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            &[
                job.workspace_id.into(),
                job.queue.into(),
                job.kind.into(),
                job.payload.into(),
                job.max_attempts.into(),
                job.run_at.into(),
                job.dedupe_key.into(),
                job.rate_key.into(),
                now.into(),
            ],
        )
        .await?;
    if row.is_some() && conn.backend() == Backend::Postgres {
        conn.execute("SELECT pg_notify($1, $2)", &[NOTIFY_CHANNEL.into(), job.queue.into()]).await?;
    }
    row.map(|r| r.int(0)).transpose()
}

const CLAIMED_COLUMNS: &str = "id, workspace_id, queue, kind, payload, attempts, max_attempts, rate_key";

fn claimed(row: &Row) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        id: row.int(0)?,
        workspace_id: row.opt_int(1)?,
        queue: row.text(2)?,
        kind: row.text(3)?,
        payload: row.text(4)?,
        attempts: row.int(5)?,
        max_attempts: row.int(6)?,
        rate_key: row.opt_text(7)?,
    })
}

/// Takes up to `limit` due jobs of a queue for `node`, leased until `locked_until`: queued or failed jobs whose time
/// has come, and running jobs whose lease expired (their node died). Run in a write transaction.
pub async fn claim(
    conn: &mut Conn,
    queue: &str,
    node: &str,
    limit: i64,
    locked_until: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let now = now_millis();
    // SQLite: the single writer serialises claims, so a plain subquery is safe. Postgres: several nodes claim at
    // once; SKIP LOCKED lets each take different rows without waiting on the others.
    let lock = if conn.backend() == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3
         WHERE id IN (SELECT id FROM jobs WHERE queue = $4
                        AND ((state IN ('queued', 'failed') AND run_at <= $3) OR (state = 'running' AND locked_until < $3))
                      ORDER BY run_at, id LIMIT $5 {lock})
         RETURNING {CLAIMED_COLUMNS}"
    );
    let rows =
        conn.fetch_all(&sql, &[node.into(), locked_until.into(), now.into(), queue.into(), limit.into()]).await?;
    let mut jobs: Vec<Claimed> = rows.iter().map(claimed).collect::<Result<_, _>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Marks a job done, if `node` still holds it.
pub async fn complete(conn: &mut Conn, id: i64, node: &str) -> Result<bool, StoreError> {
    let now = now_millis();
    let changed = conn
        .execute(
            "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, finished_at = $1, updated_at = $1
             WHERE id = $2 AND locked_by = $3 AND state = 'running'",
            &[now.into(), id.into(), node.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Marks a failed attempt: `failed` to run again at `run_at`, or `dead` when `dead` is set.
pub async fn fail(
    conn: &mut Conn,
    id: i64,
    node: &str,
    error: &str,
    run_at: i64,
    dead: bool,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let (state, finished) = if dead { ("dead", Value::Int(now)) } else { ("failed", Value::NullInt) };
    let changed = conn
        .execute(
            "UPDATE jobs SET state = $1, locked_by = NULL, locked_until = NULL, last_error = $2, run_at = $3, finished_at = $4, updated_at = $5
             WHERE id = $6 AND locked_by = $7 AND state = 'running'",
            &[state.into(), error.into(), run_at.into(), finished, now.into(), id.into(), node.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Puts a claimed job back without counting the attempt (rate-limited, or the node is shutting down).
pub async fn release(conn: &mut Conn, id: i64, node: &str, run_at: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, attempts = attempts - 1, run_at = $1, updated_at = $2
             WHERE id = $3 AND locked_by = $4 AND state = 'running'",
            &[run_at.into(), now_millis().into(), id.into(), node.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Extends the leases of every job `node` is running. On Postgres the rows are locked in id order, the order the
/// completer writes outcomes in, so a heartbeat and a batch of outcomes never deadlock.
pub async fn heartbeat(conn: &mut Conn, node: &str, locked_until: i64) -> Result<u64, StoreError> {
    let sql = match conn.backend() {
        Backend::Sqlite => "UPDATE jobs SET locked_until = $1 WHERE locked_by = $2 AND state = 'running'",
        Backend::Postgres => {
            "UPDATE jobs SET locked_until = $1 WHERE id IN
                (SELECT id FROM jobs WHERE locked_by = $2 AND state = 'running' ORDER BY id FOR UPDATE)"
        }
    };
    conn.execute(sql, &[locked_until.into(), node.into()]).await
}

/// Counts of jobs by state, for one workspace or (owner) all.
pub async fn counts(conn: &mut Conn, workspace_id: Option<i64>) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT state, COUNT(*) FROM jobs WHERE ($1 IS NULL OR workspace_id = $1) GROUP BY state ORDER BY state",
            &[workspace_id.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.text(0)?, r.int(1)?))).collect()
}

/// Jobs in the given state, newest first, for one workspace or (owner) all.
pub async fn list(
    conn: &mut Conn,
    workspace_id: Option<i64>,
    state: &str,
    limit: i64,
) -> Result<Vec<JobRow>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT id, workspace_id, queue, kind, state, attempts, max_attempts, run_at, last_error, updated_at FROM jobs
             WHERE state = $1 AND ($2 IS NULL OR workspace_id = $2) ORDER BY updated_at DESC, id DESC LIMIT $3",
            &[state.into(), workspace_id.into(), limit.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(JobRow {
                id: r.int(0)?,
                workspace_id: r.opt_int(1)?,
                queue: r.text(2)?,
                kind: r.text(3)?,
                state: r.text(4)?,
                attempts: r.int(5)?,
                max_attempts: r.int(6)?,
                run_at: r.int(7)?,
                last_error: r.opt_text(8)?,
                updated_at: r.int(9)?,
            })
        })
        .collect()
}

/// Queues a failed or dead job again with fresh attempts (`workspace_id` `None` = owner, any workspace).
pub async fn retry(conn: &mut Conn, workspace_id: Option<i64>, id: i64) -> Result<bool, StoreError> {
    let now = now_millis();
    let changed = conn
        .execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, finished_at = NULL, updated_at = $1
             WHERE id = $2 AND state IN ('failed', 'dead') AND ($3 IS NULL OR workspace_id = $3)",
            &[now.into(), id.into(), workspace_id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Deletes a failed or dead job.
pub async fn discard(conn: &mut Conn, workspace_id: Option<i64>, id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "DELETE FROM jobs WHERE id = $1 AND state IN ('failed', 'dead') AND ($2 IS NULL OR workspace_id = $2)",
            &[id.into(), workspace_id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Removes finished jobs: done ones before `done_before`, dead ones before `dead_before`.
pub async fn purge(conn: &mut Conn, done_before: i64, dead_before: i64) -> Result<u64, StoreError> {
    conn.execute(
        "DELETE FROM jobs WHERE (state = 'done' AND finished_at < $1) OR (state = 'dead' AND finished_at < $2)",
        &[done_before.into(), dead_before.into()],
    )
    .await
}

/// The state of a job by id (tests and the admin UI).
pub async fn state_of(conn: &mut Conn, id: i64) -> Result<Option<(String, i64, Option<String>)>, StoreError> {
    let row = conn.fetch_optional("SELECT state, attempts, last_error FROM jobs WHERE id = $1", &[id.into()]).await?;
    row.map(|r| Ok((r.text(0)?, r.int(1)?, r.opt_text(2)?))).transpose()
}

/// A cron schedule's runtime state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CronState {
    pub name: String,
    pub last_fire_at: Option<i64>,
    pub last_run_at: Option<i64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
}

pub async fn cron_states(conn: &mut Conn) -> Result<Vec<CronState>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT name, last_fire_at, last_run_at, last_result, last_error FROM cron_schedules ORDER BY name",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CronState {
                name: r.text(0)?,
                last_fire_at: r.opt_int(1)?,
                last_run_at: r.opt_int(2)?,
                last_result: r.opt_text(3)?,
                last_error: r.opt_text(4)?,
            })
        })
        .collect()
}

/// Records that a tick was enqueued (only ever moves forward, so two nodes cannot move it back).
pub async fn cron_fired(conn: &mut Conn, name: &str, fire_at: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO cron_schedules (name, last_fire_at, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET last_fire_at = CASE WHEN cron_schedules.last_fire_at IS NULL OR excluded.last_fire_at > cron_schedules.last_fire_at
                                                          THEN excluded.last_fire_at ELSE cron_schedules.last_fire_at END,
                                          updated_at = excluded.updated_at",
        &[name.into(), fire_at.into(), now_millis().into()],
    )
    .await
    .map(drop)
}

/// Records how a tick's job ended.
pub async fn cron_result(conn: &mut Conn, name: &str, result: &str, error: Option<&str>) -> Result<(), StoreError> {
    let now = now_millis();
    conn.execute(
        "INSERT INTO cron_schedules (name, last_run_at, last_result, last_error, updated_at) VALUES ($1, $2, $3, $4, $2)
         ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, last_result = excluded.last_result,
                                          last_error = excluded.last_error, updated_at = excluded.updated_at",
        &[name.into(), now.into(), result.into(), error.into()],
    )
    .await
    .map(drop)
}

/// The ids of the jobs `node` holds (to put them back at shutdown).
pub async fn claim_held(conn: &mut Conn, node: &str) -> Result<Vec<i64>, StoreError> {
    let rows = conn.fetch_all("SELECT id FROM jobs WHERE locked_by = $1 AND state = 'running'", &[node.into()]).await?;
    rows.iter().map(|r| r.int(0)).collect()
}
