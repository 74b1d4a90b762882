//! The durable job queue and cron, in-process: typed jobs stored in the database, enqueued inside the caller's
//! transaction, run by workers with per-queue concurrency, leases, retries with backoff, and a dead-letter state.
//!
//! Delivery is at least once: a job whose node died mid-run is taken up again when its lease expires, so handlers
//! must be idempotent, or reconcile first (see `docs/JOBS.md`). `jobs` holds only the mechanism; concrete jobs live
//! beside the service that owns them and register a handler here.

pub mod cron;
mod limiter;
pub mod runner;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use limiter::{Rate, RateLimiter};

use crate::store::jobs::{self, Claimed, NewJob};
use crate::store::{Conn, StoreError, now_millis};

/// A kind of job: its payload type, queue and retry policy.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// Stable name stored with each job (`webhooks.deliver`, `cron.cleanup`, …).
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: i64 = 8;

    /// At most one queued or finished job with this key exists.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// The resource whose rate this job consumes, if any.
    fn rate_key(&self) -> Option<String> {
        None
    }
}

/// Adds a job inside the caller's transaction, so it exists exactly when the caller's change does. Returns `None`
/// when a job with the same dedupe key exists. Workers wake when the transaction commits.
pub async fn enqueue<J: Job>(
    conn: &mut Conn,
    workspace_id: Option<i64>,
    job: &J,
    run_at: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let payload = serde_json::to_string(job).map_err(|e| StoreError::Backend(format!("job payload: {e}")))?;
    let dedupe = job.dedupe_key();
    let rate = job.rate_key();
    let id = jobs::insert(
        conn,
        &NewJob {
            workspace_id,
            queue: J::QUEUE,
            kind: J::KIND,
            payload: &payload,
            max_attempts: J::MAX_ATTEMPTS,
            run_at: run_at.unwrap_or_else(now_millis),
            dedupe_key: dedupe.as_deref(),
            rate_key: rate.as_deref(),
        },
    )
    .await?;
    if id.is_some() {
        conn.wake_jobs_on_commit();
    }
    Ok(id)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Try again later (with backoff, or at the given time); dead after the job's last attempt.
    Retry {
        error: String,
        at: Option<i64>,
    },
    /// Will never succeed: dead at once, with the reason.
    Fail {
        error: String,
    },
}

/// What a handler receives.
pub struct Context {
    pub job: Claimed,
}

impl Context {
    /// The payload, typed.
    pub fn payload<J: Job>(&self) -> Result<J, Outcome> {
        serde_json::from_str(&self.job.payload).map_err(|e| Outcome::Fail { error: format!("bad payload: {e}") })
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
type Handler = Arc<dyn Fn(Context) -> HandlerFuture + Send + Sync>;

/// The handlers for each job kind, and the queues with their concurrency.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
    queues: HashMap<&'static str, usize>,
    pub(crate) rates: Option<RateTable>,
}

/// Answers the rate of a resource key (`None` = unlimited).
pub(crate) type RateTable = Arc<dyn Fn(&str) -> Option<Rate> + Send + Sync>;

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of a job kind (and its queue, with concurrency 4 unless set by [`Registry::queue`]).
    pub fn handle<J: Job, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        F: Fn(J, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handlers.insert(
            J::KIND,
            Arc::new(move |ctx: Context| {
                let handler = Arc::clone(&handler);
                Box::pin(async move {
                    match ctx.payload::<J>() {
                        Ok(job) => handler(job, ctx).await,
                        Err(outcome) => outcome,
                    }
                }) as HandlerFuture
            }),
        );
        self.queues.entry(J::QUEUE).or_insert(4);
        self
    }

    /// Sets how many jobs of a queue run at once on this node.
    pub fn queue(&mut self, name: &'static str, concurrency: usize) -> &mut Self {
        self.queues.insert(name, concurrency.max(1));
        self
    }

    /// Sets the rate of each rate key (`None` = unlimited).
    pub fn rates(&mut self, rates: impl Fn(&str) -> Option<Rate> + Send + Sync + 'static) -> &mut Self {
        self.rates = Some(Arc::new(rates));
        self
    }

    fn handler(&self, kind: &str) -> Option<Handler> {
        self.handlers.get(kind).cloned()
    }

    pub(crate) fn queues(&self) -> Vec<(&'static str, usize)> {
        let mut queues: Vec<_> = self.queues.iter().map(|(k, v)| (*k, *v)).collect();
        queues.sort();
        queues
    }
}

/// Exponential backoff with ±25 % jitter: 2 s, 4 s, 8 s … capped at one hour, so retries of many jobs that failed
/// together (a provider outage) spread out instead of arriving in waves.
pub fn backoff(attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let base = 2_000u64.saturating_mul(1u64 << exponent).min(3_600_000);
    let jitter = rand::random_range(0.75..1.25);
    Duration::from_millis((base as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1).as_millis();
        assert!((1_500..=2_500).contains(&first), "{first}");
        let fifth = backoff(5).as_millis();
        assert!((24_000..=40_000).contains(&fifth), "{fifth}");
        assert!(backoff(40).as_millis() <= 4_500_000);
    }
}
