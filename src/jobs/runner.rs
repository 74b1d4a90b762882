//! Workers: claim due jobs in batches per queue, run them with bounded concurrency, keep their leases alive, and
//! write outcomes back in batched transactions (group commit). Shutdown stops claiming, lets running jobs finish
//! within a grace period and puts the rest back.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::{Context, Outcome, RateLimiter, Registry, backoff};
use crate::store::jobs::{self, Claimed};
use crate::store::{Db, StoreError, now_millis};

/// Tuning of the workers.
#[derive(Debug, Clone)]
pub struct Options {
    /// This node's name in `locked_by` (unique per process).
    pub node: String,
    /// How long a claimed job stays ours without a heartbeat; after a crash, others take it up after this.
    pub lease: Duration,
    /// How often an idle queue looks again even without a wake-up (a safety net; wake-ups are immediate).
    pub poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            node: format!("node-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(2),
        }
    }
}

/// What a worker reports for one job.
enum Finish {
    Outcome(Claimed, Outcome),
    /// Not run (rate-limited or shutting down): back to the queue at this time, the attempt not counted.
    Release(i64, i64),
}

struct Shared {
    db: Db,
    registry: Registry,
    options: Options,
    limiter: RateLimiter,
    finished: mpsc::UnboundedSender<Finish>,
}

/// The running workers; dropping it does not stop them, [`Workers::shutdown`] does.
pub struct Workers {
    stop: watch::Sender<bool>,
    queues: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    completer: JoinHandle<()>,
    shared: Arc<Shared>,
}

/// Starts the workers for every queue the registry knows.
pub fn start(db: Db, registry: Registry, options: Options) -> Workers {
    let (finished, outcomes) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Shared { db, registry, options, limiter: RateLimiter::default(), finished });
    let queues = shared
        .registry
        .queues()
        .into_iter()
        .map(|(queue, concurrency)| tokio::spawn(queue_loop(Arc::clone(&shared), queue, concurrency, stopped.clone())))
        .collect();
    let mut background = vec![tokio::spawn(heartbeat_loop(Arc::clone(&shared), stopped.clone()))];
    background.push(tokio::spawn(forward_notifications(shared.db.clone(), stopped)));
    let completer = tokio::spawn(completer_loop(Arc::clone(&shared), outcomes));
    Workers { stop, queues, background, completer, shared }
}

impl Workers {
    /// Stops claiming, waits up to `grace` for running jobs, writes their outcomes, and puts back what still runs.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async {
            for queue in self.queues {
                let _ = queue.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("jobs still running after the shutdown grace period; their leases are released");
        }
        for task in self.background {
            task.abort();
        }
        let node = self.shared.options.node.clone();
        let db = self.shared.db.clone();
        drop(self.shared);
        // The completer ends once every sender is gone (the workers hold clones until they finish).
        let _ = tokio::time::timeout(Duration::from_secs(5), self.completer).await;
        if let Err(e) = release_node(&db, &node).await {
            tracing::warn!(error = %e, "could not release leased jobs at shutdown; they are taken up when the lease expires");
        }
    }
}

async fn release_node(db: &Db, node: &str) -> Result<(), StoreError> {
    let mut tx = db.write().await?;
    let running = jobs::claim_held(&mut tx, node).await?;
    for id in running {
        jobs::release(&mut tx, id, node, now_millis()).await?;
    }
    tx.commit().await
}

async fn queue_loop(shared: Arc<Shared>, queue: &'static str, concurrency: usize, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let wake = shared.db.job_wakeups();
    loop {
        if *stop.borrow() {
            break;
        }
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let free = slots.available_permits();
        let claimed = if free == 0 { Ok(Vec::new()) } else { claim(&shared, queue, free).await };
        let claimed = match claimed {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(queue, error = %e, "claiming jobs failed; retrying");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            let slot_free = async {
                if free == 0 {
                    let _ = slots.acquire().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = &mut notified => {}
                () = slot_free => {}
                () = tokio::time::sleep(shared.options.poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for job in claimed {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
            let delay = match rate_delay(&shared, &job) {
                Ok(delay) => delay,
                Err(wait) => {
                    let at = now_millis() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4);
                    let _ = shared.finished.send(Finish::Release(job.id, at));
                    continue;
                }
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let outcome = run_one(&shared, &job).await;
                let _ = shared.finished.send(Finish::Outcome(job, outcome));
                drop(permit);
            });
        }
    }
    // Drain: every slot back means every job of this queue finished.
    let _ = slots.acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX)).await;
}

async fn claim(shared: &Shared, queue: &str, limit: usize) -> Result<Vec<Claimed>, StoreError> {
    let lease_ms = i64::try_from(shared.options.lease.as_millis()).unwrap_or(60_000);
    let mut tx = shared.db.write().await?;
    let jobs =
        jobs::claim(&mut tx, queue, &shared.options.node, i64::try_from(limit).unwrap_or(1), now_millis() + lease_ms)
            .await?;
    tx.commit().await?;
    Ok(jobs)
}

/// How long a claimed job waits for its resource's next token: `Ok` to wait in memory (zero: go now), `Err` when
/// the token is further away than [`HOLD`], so the job goes back to the queue until then instead of holding a worker.
fn rate_delay(shared: &Shared, job: &Claimed) -> Result<Duration, Duration> {
    let (Some(key), Some(rates)) = (job.rate_key.as_deref(), shared.registry.rates.as_ref()) else {
        return Ok(Duration::ZERO);
    };
    match rates(key) {
        Some(rate) => shared.limiter.reserve(key, rate, HOLD),
        None => Ok(Duration::ZERO),
    }
}

/// The longest a worker waits in memory for a rate-limit token.
const HOLD: Duration = Duration::from_secs(2);

async fn run_one(shared: &Shared, job: &Claimed) -> Outcome {
    let Some(handler) = shared.registry.handler(&job.kind) else {
        return Outcome::Fail { error: format!("no handler for job kind {}", job.kind) };
    };
    // Run in its own task: a panicking handler fails its job instead of taking the worker down.
    match tokio::spawn(handler(Context { job: job.clone() })).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Retry { error: format!("handler panicked: {e}"), at: None },
    }
}

/// Group commit: writes every outcome available at once in one transaction.
async fn completer_loop(shared: Arc<Shared>, mut outcomes: mpsc::UnboundedReceiver<Finish>) {
    let node = shared.options.node.clone();
    let db = shared.db.clone();
    // Hold no strong reference while waiting, so shutdown can end this loop by dropping the senders.
    drop(shared);
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match outcomes.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // Rows are written in id order (as the heartbeat locks them), so concurrent writers cannot deadlock.
        batch.sort_by_key(|finish| match finish {
            Finish::Outcome(job, _) => job.id,
            Finish::Release(id, _) => *id,
        });
        let mut delay = Duration::from_millis(50);
        loop {
            match write_outcomes(&db, &node, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    // The jobs stay leased meanwhile; should this node die, the lease expiry hands them on.
                    tracing::warn!(error = %e, jobs = batch.len(), "writing job outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

async fn write_outcomes(db: &Db, node: &str, batch: &[Finish]) -> Result<(), StoreError> {
    let mut tx = db.write().await?;
    for finish in batch {
        match finish {
            Finish::Release(id, at) => {
                jobs::release(&mut tx, *id, node, *at).await?;
            }
            Finish::Outcome(job, outcome) => {
                let (result, error) = match outcome {
                    Outcome::Done => {
                        jobs::complete(&mut tx, job.id, node).await?;
                        ("done", None)
                    }
                    Outcome::Retry { error, at } if job.attempts < job.max_attempts => {
                        let at = at.unwrap_or_else(|| {
                            now_millis() + i64::try_from(backoff(job.attempts).as_millis()).unwrap_or(0)
                        });
                        jobs::fail(&mut tx, job.id, node, error, at, false).await?;
                        ("failed", Some(error.as_str()))
                    }
                    Outcome::Retry { error, .. } | Outcome::Fail { error } => {
                        jobs::fail(&mut tx, job.id, node, error, now_millis(), true).await?;
                        ("dead", Some(error.as_str()))
                    }
                };
                if let Some(schedule) = super::cron::schedule_of(job) {
                    jobs::cron_result(&mut tx, &schedule, result, error).await?;
                }
            }
        }
    }
    tx.commit().await
}

async fn heartbeat_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = shared.options.lease / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let until = now_millis() + i64::try_from(shared.options.lease.as_millis()).unwrap_or(60_000);
        let result = async {
            let mut tx = shared.db.write().await?;
            jobs::heartbeat(&mut tx, &shared.options.node, until).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "job lease heartbeat failed");
        }
    }
}

/// Postgres: wakes this node's workers when another node enqueues (LISTEN/NOTIFY); SQLite has one node.
async fn forward_notifications(db: Db, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        () = db.forward_job_notifications() => {}
        _ = stop.changed() => {}
    }
}
