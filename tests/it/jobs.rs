//! The durable job queue and cron on both backends: transactional enqueue, retries to dead, retry from the admin
//! side, lease take-over after a crash, rate limits, two nodes on one Postgres, one cron tick per fire time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conversure::config::DatabaseUrl;
use conversure::jobs::cron::{Schedule, Schedules};
use conversure::jobs::runner::{self, Options};
use conversure::jobs::{Job, Outcome, Rate, Registry, enqueue};
use conversure::store::jobs as job_store;
use conversure::store::{Db, migrate, now_millis};
use serde::{Deserialize, Serialize};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Count {
    n: i64,
}

impl Job for Count {
    const KIND: &'static str = "test.count";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Flaky;

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: i64 = 3;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Limited {
    n: i64,
}

impl Job for Limited {
    const KIND: &'static str = "test.limited";
    const QUEUE: &'static str = "limited";

    fn rate_key(&self) -> Option<String> {
        Some("number:1".into())
    }
}

async fn open(backend: Backend) -> Option<(Db, TestDb, tempfile::TempDir)> {
    let test_db = TestDb::new(backend).await?;
    let dir = tempfile::tempdir().unwrap();
    let url = match &test_db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(dir.path().join("jobs.db")),
    };
    let db = Db::open(&url).await.unwrap();
    migrate::run(&db).await.unwrap();
    Some((db, test_db, dir))
}

fn fast(node: &str) -> Options {
    Options { node: node.to_owned(), lease: Duration::from_millis(600), poll: Duration::from_millis(100) }
}

type Seen = Arc<Mutex<HashMap<i64, u32>>>;

fn counting_registry(seen: &Seen) -> Registry {
    let mut registry = Registry::new();
    let seen = Arc::clone(seen);
    registry.queue("default", 8).handle::<Count, _, _>(move |job, _ctx| {
        let seen = Arc::clone(&seen);
        async move {
            *seen.lock().unwrap().entry(job.n).or_default() += 1;
            Outcome::Done
        }
    });
    registry
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count_state(db: &Db, state: &str) -> i64 {
    let mut conn = db.read().await.unwrap();
    job_store::counts(&mut conn, None).await.unwrap().into_iter().find(|(s, _)| s == state).map_or(0, |(_, n)| n)
}

both_backends!(jobs_exist_only_with_their_transaction, jobs_exist_only_with_their_transaction_on);
async fn jobs_exist_only_with_their_transaction_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let seen: Seen = Arc::default();
    let workers = runner::start(db.clone(), counting_registry(&seen), fast("a"));
    {
        let mut tx = db.write().await.unwrap();
        enqueue(&mut tx, None, &Count { n: 1 }, None).await.unwrap();
        // Rolled back: the job never existed.
    }
    let mut tx = db.write().await.unwrap();
    enqueue(&mut tx, None, &Count { n: 2 }, None).await.unwrap();
    tx.commit().await.unwrap();
    let started = Instant::now();
    wait_until("the committed job", Duration::from_secs(5), async || seen.lock().unwrap().contains_key(&2)).await;
    // The commit woke the worker: no waiting for the poll interval.
    assert!(started.elapsed() < Duration::from_millis(1_000), "{:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!seen.lock().unwrap().contains_key(&1), "a rolled-back enqueue never runs");
    wait_until("done is written", Duration::from_secs(5), async || count_state(&db, "done").await == 1).await;
    workers.shutdown(Duration::from_secs(2)).await;
}

both_backends!(a_failing_job_ends_dead_and_can_be_retried, a_failing_job_ends_dead_and_can_be_retried_on);
async fn a_failing_job_ends_dead_and_can_be_retried_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut registry = Registry::new();
    let flag = Arc::clone(&healthy);
    registry.handle::<Flaky, _, _>(move |_job, _ctx| {
        let ok = flag.load(std::sync::atomic::Ordering::SeqCst);
        // Retry "now" so the test does not wait for the production backoff.
        async move {
            if ok {
                Outcome::Done
            } else {
                Outcome::Retry { error: "provider said 503".into(), at: Some(now_millis()) }
            }
        }
    });
    let workers = runner::start(db.clone(), registry, fast("a"));
    let mut tx = db.write().await.unwrap();
    let id = enqueue(&mut tx, Some(1), &Flaky, None).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    wait_until("the job to die", Duration::from_secs(10), async || count_state(&db, "dead").await == 1).await;
    let mut conn = db.read().await.unwrap();
    let (state, attempts, error) = job_store::state_of(&mut conn, id).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts, error.as_deref()), ("dead", 3, Some("provider said 503")));
    // Visible in the list with its error; another workspace cannot retry it.
    let dead = job_store::list(&mut conn, Some(1), "dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(job_store::list(&mut conn, Some(2), "dead", 10).await.unwrap().is_empty(), "tenant filter");
    drop(conn);
    let mut tx = db.write().await.unwrap();
    assert!(!job_store::retry(&mut tx, Some(2), id).await.unwrap());
    tx.commit().await.unwrap();

    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut tx = db.write().await.unwrap();
    assert!(job_store::retry(&mut tx, Some(1), id).await.unwrap());
    tx.commit().await.unwrap();
    wait_until("the retried job", Duration::from_secs(10), async || count_state(&db, "done").await == 1).await;
    workers.shutdown(Duration::from_secs(2)).await;
}

both_backends!(a_dead_nodes_jobs_are_taken_up_after_its_lease, a_dead_nodes_jobs_are_taken_up_after_its_lease_on);
async fn a_dead_nodes_jobs_are_taken_up_after_its_lease_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let mut tx = db.write().await.unwrap();
    for n in 0..5 {
        enqueue(&mut tx, None, &Count { n }, None).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Node "crashed" claims everything with a short lease and never reports back.
    let mut tx = db.write().await.unwrap();
    let taken = job_store::claim(&mut tx, "default", "crashed", 10, now_millis() + 300).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(taken.len(), 5);
    let seen: Seen = Arc::default();
    let workers = runner::start(db.clone(), counting_registry(&seen), fast("survivor"));
    wait_until("the survivor to finish", Duration::from_secs(10), async || count_state(&db, "done").await == 5).await;
    assert!(seen.lock().unwrap().values().all(|n| *n == 1));
    let mut conn = db.read().await.unwrap();
    let (_, attempts, _) = job_store::state_of(&mut conn, taken[0].id).await.unwrap().unwrap();
    assert_eq!(attempts, 2, "the crashed attempt counts");
    drop(conn);
    workers.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_space_out_jobs_without_busy_waiting() {
    let Some((db, _keep, _dir)) = open(Backend::Sqlite).await else { return };
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut registry = Registry::new();
    let seen = Arc::clone(&times);
    registry
        .queue("limited", 4)
        .rates(|key| (key == "number:1").then_some(Rate { per_second: 20.0, burst: 2.0 }))
        .handle::<Limited, _, _>(move |_job, _ctx| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(Instant::now());
            Outcome::Done
        }
    });
    let mut tx = db.write().await.unwrap();
    for n in 0..12 {
        enqueue(&mut tx, None, &Limited { n }, None).await.unwrap();
    }
    tx.commit().await.unwrap();
    let started = Instant::now();
    let workers = runner::start(db.clone(), registry, fast("a"));
    wait_until("all limited jobs", Duration::from_secs(10), async || count_state(&db, "done").await == 12).await;
    // 2 at once, then 20/s: 10 more take at least ~0.45 s.
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    let mut conn = db.read().await.unwrap();
    let max_attempts: i64 = conn.fetch_one("SELECT MAX(attempts) FROM jobs", &[]).await.unwrap().int(0).unwrap();
    assert_eq!(max_attempts, 1, "waiting for the rate does not use up attempts");
    drop(conn);
    workers.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_run_every_job_once() {
    let Some(pg) = crate::pg::TestDatabase::create().await else { return };
    let url = DatabaseUrl::parse(&pg.url).unwrap();
    // Two nodes: two independent pools, two worker sets, different node names.
    let (db_a, db_b) = (Db::open(&url).await.unwrap(), Db::open(&url).await.unwrap());
    migrate::run(&db_a).await.unwrap();
    let seen: Seen = Arc::default();
    // The production lease: a job is taken over only when its node stopped renewing it (no crash here).
    let node = |name: &str| Options {
        node: name.to_owned(),
        lease: Duration::from_secs(60),
        poll: Duration::from_millis(100),
    };
    let a = runner::start(db_a.clone(), counting_registry(&seen), node("node-a"));
    let b = runner::start(db_b.clone(), counting_registry(&seen), node("node-b"));
    const JOBS: i64 = 10_000;
    for chunk in 0..(JOBS / 1_000) {
        let mut tx = db_a.write().await.unwrap();
        for n in chunk * 1_000..(chunk + 1) * 1_000 {
            enqueue(&mut tx, None, &Count { n }, None).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    wait_until("10,000 jobs", Duration::from_secs(120), async || count_state(&db_a, "done").await == JOBS).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), usize::try_from(JOBS).unwrap());
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "every job ran exactly once; these did not: {twice:?}");
    let mut conn = db_a.read().await.unwrap();
    let rows = conn.fetch_all("SELECT locked_by, COUNT(*) FROM jobs GROUP BY locked_by", &[]).await.unwrap();
    drop(conn);
    eprintln!("finished jobs by lock holder (cleared when done): {rows:?}");
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
    db_a.close().await;
    db_b.close().await;
}

both_backends!(a_cron_tick_fires_once_across_nodes, a_cron_tick_fires_once_across_nodes_on);
async fn a_cron_tick_fires_once_across_nodes_on(backend: Backend) {
    let Some((db, _keep, _dir)) = open(backend).await else { return };
    let schedule = || Schedule::new("every-minute", "* * * * *", true, || async { Ok("ran".to_owned()) }).unwrap();
    let schedules = Schedules::new(vec![schedule()]);
    // The first look only records where we are.
    assert!(schedules.fire_due(&db).await.unwrap().is_empty());
    // Pretend the last tick was long ago: catch-up fires exactly one tick, however many were missed, and two nodes
    // looking at the same moment produce one job.
    let mut tx = db.write().await.unwrap();
    tx.execute("UPDATE cron_schedules SET last_fire_at = $1", &[(now_millis() - 3_600_000).into()]).await.unwrap();
    tx.commit().await.unwrap();
    let other_node = Schedules::new(vec![schedule()]);
    let (a, b) = tokio::join!(schedules.fire_due(&db), other_node.fire_due(&db));
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1, "one of the two nodes fired it");
    let mut conn = db.read().await.unwrap();
    let ticks =
        conn.fetch_one("SELECT COUNT(*) FROM jobs WHERE kind = 'cron.tick'", &[]).await.unwrap().int(0).unwrap();
    assert_eq!(ticks, 1, "one tick per fire time");
    drop(conn);
    // Running it records the result on the schedule.
    let mut registry = Registry::new();
    schedules.register(&mut registry);
    let workers = runner::start(db.clone(), registry, fast("a"));
    wait_until("the tick to run", Duration::from_secs(5), async || count_state(&db, "done").await == 1).await;
    let mut conn = db.read().await.unwrap();
    let state = job_store::cron_states(&mut conn).await.unwrap();
    assert_eq!(state[0].last_result.as_deref(), Some("done"));
    drop(conn);
    workers.shutdown(Duration::from_secs(2)).await;
}
