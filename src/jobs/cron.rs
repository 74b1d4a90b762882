//! Cron: schedules with cron expressions enqueue a [`Tick`] job per fire time, with the dedupe key (schedule, fire
//! time), so two nodes never run the same tick. A tick missed while the process was down fires once at start when
//! the schedule asks for catch-up; otherwise it is skipped.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use croner::Cron;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Job, Outcome, Registry, enqueue};
use crate::store::jobs::{self, Claimed};
use crate::store::{Db, StoreError, now_millis};

/// One tick of a schedule, run as a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tick {
    pub schedule: String,
    /// The fire time, unix ms.
    pub fire_at: i64,
}

impl Job for Tick {
    const KIND: &'static str = "cron.tick";
    const QUEUE: &'static str = "cron";
    const MAX_ATTEMPTS: i64 = 3;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("cron:{}:{}", self.schedule, self.fire_at))
    }
}

/// The schedule a finished job belongs to, when it is a tick.
pub fn schedule_of(job: &Claimed) -> Option<String> {
    (job.kind == Tick::KIND).then(|| serde_json::from_str::<Tick>(&job.payload).ok().map(|t| t.schedule)).flatten()
}

type Action = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// A schedule: when it fires and what it does (the action returns a one-line result or an error).
#[derive(Clone)]
pub struct Schedule {
    pub name: &'static str,
    pub expression: &'static str,
    pub catch_up: bool,
    cron: Cron,
    action: Action,
}

impl Schedule {
    /// A schedule in UTC; `expression` is a standard five-field cron expression.
    pub fn new<F, Fut>(name: &'static str, expression: &'static str, catch_up: bool, action: F) -> Result<Self, String>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let cron = Cron::from_str(expression).map_err(|e| format!("schedule {name}: {e}"))?;
        let action: Action = Arc::new(move || Box::pin(action()));
        Ok(Self { name, expression, catch_up, cron, action })
    }

    /// The first fire time strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let at = to_zoned(after_ms)?;
        self.cron.find_next_occurrence(&at, false).ok().map(|z| z.timestamp().as_millisecond())
    }

    /// The latest fire time at or before `at_ms`.
    pub fn latest_at_or_before(&self, at_ms: i64) -> Option<i64> {
        let at = to_zoned(at_ms)?;
        self.cron.find_previous_occurrence(&at, true).ok().map(|z| z.timestamp().as_millisecond())
    }
}

fn to_zoned(ms: i64) -> Option<jiff::Zoned> {
    jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
}

/// The schedules of this process, and the handler that runs their ticks.
#[derive(Clone, Default)]
pub struct Schedules {
    list: Vec<Schedule>,
}

impl Schedules {
    pub fn new(list: Vec<Schedule>) -> Self {
        Self { list }
    }

    pub fn list(&self) -> &[Schedule] {
        &self.list
    }

    /// Registers the tick handler, which runs the schedule's action.
    pub fn register(&self, registry: &mut Registry) {
        let actions: HashMap<String, Action> =
            self.list.iter().map(|s| (s.name.to_owned(), Arc::clone(&s.action))).collect();
        let actions = Arc::new(actions);
        registry.queue(Tick::QUEUE, 2).handle::<Tick, _, _>(move |tick, _ctx| {
            let actions = Arc::clone(&actions);
            async move {
                match actions.get(&tick.schedule) {
                    None => Outcome::Fail { error: format!("unknown schedule {}", tick.schedule) },
                    Some(action) => match action().await {
                        Ok(_) => Outcome::Done,
                        Err(error) => Outcome::Retry { error, at: None },
                    },
                }
            }
        });
    }

    /// Enqueues every tick that is due now; returns the names of the schedules fired.
    pub async fn fire_due(&self, db: &Db) -> Result<Vec<&'static str>, StoreError> {
        let now = now_millis();
        let mut conn = db.read().await?;
        let states: HashMap<String, Option<i64>> =
            jobs::cron_states(&mut conn).await?.into_iter().map(|s| (s.name, s.last_fire_at)).collect();
        drop(conn);
        let mut fired = Vec::new();
        for schedule in &self.list {
            let Some(due) = schedule.latest_at_or_before(now) else { continue };
            let decision = match states.get(schedule.name).copied().flatten() {
                // First start: remember where we are; nothing was missed.
                None => Decision::Record,
                Some(last) if due <= last => continue,
                // Due within the last minute: this is the tick itself, not a missed one.
                Some(_) if now - due < 60_000 || schedule.catch_up => Decision::Fire,
                Some(_) => Decision::Record,
            };
            let mut tx = db.write().await?;
            // Another node may have enqueued this very tick: the dedupe key makes ours a no-op then.
            if decision == Decision::Fire
                && enqueue(&mut tx, None, &Tick { schedule: schedule.name.to_owned(), fire_at: due }, None)
                    .await?
                    .is_some()
            {
                fired.push(schedule.name);
            }
            jobs::cron_fired(&mut tx, schedule.name, due).await?;
            tx.commit().await?;
        }
        Ok(fired)
    }
}

#[derive(PartialEq, Eq)]
enum Decision {
    Fire,
    Record,
}

/// Fires due ticks until stopped, waking at most every `every`.
pub async fn run(schedules: Schedules, db: Db, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = schedules.fire_due(&db).await {
            tracing::warn!(error = %e, "cron could not enqueue due ticks");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(expression: &'static str) -> Schedule {
        Schedule::new("t", expression, false, || async { Ok(String::new()) }).unwrap()
    }

    #[test]
    fn fire_times() {
        let every_15 = schedule("*/15 * * * *");
        // 2026-01-01T00:07:00Z
        let at = 1_767_226_020_000;
        assert_eq!(every_15.next_after(at), Some(1_767_226_500_000), "00:15");
        assert_eq!(every_15.latest_at_or_before(at), Some(1_767_225_600_000));
        assert_eq!(every_15.latest_at_or_before(1_767_225_600_000), Some(1_767_225_600_000), "inclusive");
        assert!(Schedule::new("bad", "61 * * * *", false, || async { Ok(String::new()) }).is_err());
    }

    #[test]
    fn ticks_dedupe_per_schedule_and_time() {
        let tick = Tick { schedule: "cleanup".into(), fire_at: 42 };
        assert_eq!(tick.dedupe_key().as_deref(), Some("cron:cleanup:42"));
    }
}
