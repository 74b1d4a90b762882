//! Benchmarks of PERFORMANCE.md, as programs: each scenario measures its own baselines in the same run and prints
//! its figures and the ratios against them as plain `name: value` lines, with the goals beside them.
//!
//! ```text
//! conversure-bench startup  [--runs N] [--binary PATH]     G9 cold start, G8 binary size, G7 idle RSS
//! conversure-bench jobs     [--jobs N] [--concurrency N] [--postgres URL]
//!                                                          job queue: enqueue and run throughput, no-op handlers
//! conversure-bench dispatch [--jobs N] [--capped N] [--postgres URL]
//!                                                          G2: send jobs to a local mock provider
//! conversure-bench ingest   [--events N] [--rate R] [--seconds S] [--postgres URL] [--binary PATH]
//!                                                          G1: signed webhooks into the release binary over HTTP
//! conversure-bench live     [--rate R] [--seconds S] [--postgres URL] [--binary PATH]
//!                                                          G4: webhook 200 -> event on an open SSE stream
//! conversure-bench backup   --data-dir DIR                 G6: backup and restore seconds per GB of a dataset
//! conversure-bench backup-ingest [--seed N] [--rate R] [--seconds S] [--binary PATH]
//!                                                          G6: ingestion p99 while backups run beside the server
//! ```
//!
//! `--postgres URL` runs against an empty Postgres database (the benchmark creates the schema and leaves the rows
//! behind); without it, a fresh SQLite database in a temporary directory, opened as in production (WAL,
//! `synchronous = FULL`).

mod backup;
mod dataset;
mod dataset_plan;
mod dataset_text;
mod dispatch;
mod inbox;
mod ingest;
mod jobs;
mod live;
mod startup;

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use conversure::config::DatabaseUrl;
use conversure::jobs::{Job, enqueue};
use conversure::store::jobs as job_store;
use conversure::store::{Backend, Db, migrate};

const USAGE: &str = "usage: conversure-bench startup [--runs N] [--binary PATH]
       conversure-bench jobs [--jobs N] [--concurrency N] [--postgres URL]
       conversure-bench dispatch [--jobs N] [--capped N] [--postgres URL]
       conversure-bench ingest [--events N] [--rate R] [--seconds S] [--postgres URL] [--binary PATH]
       conversure-bench dataset --data-dir DIR [--database-url URL] [--seed N] [--scale full|small|tiny] [--binary PATH]
       conversure-bench inbox --data-dir DIR [--iterations N] [--binary PATH]
       conversure-bench live [--rate R] [--seconds S] [--postgres URL] [--binary PATH]
       conversure-bench backup --data-dir DIR
       conversure-bench backup-ingest [--seed N] [--rate R] [--seconds S] [--binary PATH]";

/// Jobs enqueued per transaction, in the scenarios and in their baselines.
pub const BATCH: usize = 500;

fn main() -> ExitCode {
    let args = Args(std::env::args().skip(1).collect());
    let Some(scenario) = args.0.first().cloned() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match scenario.as_str() {
        "startup" => return startup_command(&args),
        "jobs" => args.number("--jobs", 20_000).and_then(|n| {
            let concurrency = args.number("--concurrency", 16)?;
            let target = Target::from_args(&args, "jobs")?;
            runtime()?.block_on(jobs::run(n, concurrency, &target))
        }),
        "dispatch" => args.number("--jobs", 10_000).and_then(|n| {
            let capped = args.number("--capped", 5_000)?;
            let target = Target::from_args(&args, "dispatch")?;
            runtime()?.block_on(dispatch::run(n, capped, &target))
        }),
        "ingest" => args.number("--events", 20_000).and_then(|n| {
            let per_second = args.number("--rate", 4_000)?;
            let seconds = args.number("--seconds", 5)?;
            let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
            let target = Target::from_args(&args, "ingest")?;
            runtime()?.block_on(ingest::run(n, per_second, seconds, &binary, &target))
        }),
        "live" => args.number("--rate", 100).and_then(|per_second| {
            let seconds = args.number("--seconds", 10)?;
            let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
            let target = Target::from_args(&args, "live")?;
            runtime()?.block_on(live::run(per_second, seconds, &binary, &target))
        }),
        "dataset" => dataset_command(&args),
        "inbox" => inbox_command(&args),
        "backup" => args
            .value("--data-dir")
            .map(PathBuf::from)
            .ok_or_else(|| "backup needs --data-dir DIR".to_owned())
            .and_then(|dir| runtime()?.block_on(backup::run(&dir))),
        "backup-ingest" => args.number("--seed", 100_000).and_then(|seed| {
            let per_second = args.number("--rate", 1_000)?;
            let seconds = args.number("--seconds", 10)?;
            let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
            runtime()?.block_on(backup::under_ingest(&binary, seed, per_second, seconds))
        }),
        other => {
            eprintln!(
                "unknown scenario {other:?}; known: startup, jobs, dispatch, ingest, dataset, inbox, live, backup, backup-ingest\n{USAGE}"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conversure-bench {scenario}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dataset_command(args: &Args) -> Result<(), String> {
    let dir = args.value("--data-dir").map(PathBuf::from).ok_or("dataset needs --data-dir DIR")?;
    let seed = args.number("--seed", 1)? as u64;
    let scale = dataset::Scale::parse(args.value("--scale").as_deref().unwrap_or("full"))?;
    let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
    let url = args.value("--database-url");
    runtime()?.block_on(dataset::run(&dir, url.as_deref(), seed, scale, &binary))
}

fn inbox_command(args: &Args) -> Result<(), String> {
    let dir = args.value("--data-dir").map(PathBuf::from).ok_or("inbox needs --data-dir DIR")?;
    let iterations = args.number("--iterations", 300)?;
    let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
    runtime()?.block_on(inbox::run(&dir, &binary, iterations))
}

fn startup_command(args: &Args) -> ExitCode {
    let runs = match args.number("--runs", 20) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let binary = args.value("--binary").map_or_else(startup::default_binary, PathBuf::from);
    if !binary.is_file() {
        eprintln!("no binary at {}; build it with cargo build --release", binary.display());
        return ExitCode::from(2);
    }
    startup::run(&binary, runs)
}

/// Two worker threads on this machine, as the server runs (the tokio default: one per core).
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    conversure::init_crypto();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(fail("tokio runtime"))
}

struct Args(Vec<String>);

impl Args {
    fn value(&self, flag: &str) -> Option<String> {
        self.0.iter().position(|a| a == flag).and_then(|i| self.0.get(i + 1)).cloned()
    }

    fn number(&self, flag: &str, default: usize) -> Result<usize, String> {
        match self.value(flag).map(|v| v.parse::<usize>()) {
            None => Ok(default),
            Some(Ok(n)) if n > 0 => Ok(n),
            Some(_) => Err(format!("{flag} takes a positive number")),
        }
    }
}

/// Where a scenario keeps its jobs.
pub enum Target {
    /// A fresh temporary directory, removed at the end.
    Sqlite(Scratch),
    /// An empty Postgres database.
    Postgres(String),
}

impl Target {
    fn from_args(args: &Args, scenario: &str) -> Result<Self, String> {
        match args.value("--postgres") {
            Some(url) => Ok(Self::Postgres(url)),
            None => Scratch::new(scenario).map(Self::Sqlite),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("SQLite in {} (WAL, synchronous = FULL)", dir.0.display()),
            Self::Postgres(url) => format!("Postgres {}", conversure::config::redact_url(url)),
        }
    }

    /// Opens the store as the server does and creates the schema; a Postgres database must be empty.
    /// `B_fsync`: fdatasync/s and p99 of a 4 KiB overwrite for one second, in the SQLite directory (or the
    /// temporary directory for Postgres, whose server syncs its own files). Returns the p99 (G1's latency goal is
    /// relative to it).
    pub fn print_fsync_baseline(&self) -> Result<Duration, String> {
        let (dir, _scratch) = match self {
            Self::Sqlite(dir) => (dir.0.clone(), None),
            Self::Postgres(_) => {
                let scratch = Scratch::new("fsync")?;
                (scratch.0.clone(), Some(scratch))
            }
        };
        let path = dir.join("fsync-probe");
        let mut file = std::fs::File::create(&path).map_err(fail("B_fsync probe file"))?;
        let block = [7u8; 4096];
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(1) {
            let t = Instant::now();
            std::io::Seek::rewind(&mut file).map_err(fail("B_fsync"))?;
            std::io::Write::write_all(&mut file, &block).map_err(fail("B_fsync"))?;
            file.sync_data().map_err(fail("B_fsync"))?;
            samples.push(t.elapsed());
        }
        let _ = std::fs::remove_file(&path);
        let per_second = rate(samples.len(), started.elapsed());
        let p99 = percentile(&mut samples, 99);
        println!("B_fsync 4 KiB overwrite + fdatasync in {}: {per_second:.0}/s, p99 {:.2} ms", dir.display(), ms(p99));
        Ok(p99)
    }

    pub async fn open(&self, file: &str) -> Result<Db, String> {
        let url = match self {
            Self::Sqlite(dir) => DatabaseUrl::Sqlite(dir.0.join(file)),
            Self::Postgres(url) => DatabaseUrl::parse(url).map_err(fail("--postgres"))?,
        };
        let db = Db::open(&url).await.map_err(fail("opening the database"))?;
        if db.backend() == Backend::Postgres {
            let mut conn = db.read().await.map_err(fail("Postgres"))?;
            let tables = conn
                .fetch_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()", &[])
                .await
                .and_then(|row| row.int(0))
                .map_err(fail("Postgres"))?;
            if tables > 0 {
                return Err(format!(
                    "the Postgres database is not empty ({tables} tables in its schema); the benchmark fills the \
                     database it is given, so give it an empty one (for example: createdb conversure_bench)"
                ));
            }
        }
        migrate::run(&db).await.map_err(fail("creating the schema"))?;
        Ok(db)
    }
}

/// A temporary directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("conversure-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(fail("creating the temporary directory"))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Enqueues `n` jobs made by `make`, [`BATCH`] per transaction, through the real `jobs::enqueue`.
pub async fn enqueue_batched<J: Job>(db: &Db, n: usize, make: impl Fn(usize) -> J) -> Result<Duration, String> {
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + BATCH).min(n);
        let mut tx = db.write().await.map_err(fail("write transaction"))?;
        for i in next..end {
            enqueue(&mut tx, None, &make(i), None).await.map_err(fail("enqueue"))?;
        }
        tx.commit().await.map_err(fail("commit"))?;
        next = end;
    }
    Ok(started.elapsed())
}

/// Polls the committed job states every 50 ms until `done` jobs are done; the time it saw them all. (A count scans
/// the table: polling faster would take CPU from the runner.)
pub async fn wait_done(db: &Db, done: i64, timeout: Duration) -> Result<Instant, String> {
    let started = Instant::now();
    loop {
        let mut conn = db.read().await.map_err(fail("read"))?;
        let counts = job_store::counts(&mut conn, None).await.map_err(fail("counting jobs"))?;
        drop(conn);
        let count = |state: &str| counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        if count("done") >= done {
            return Ok(Instant::now());
        }
        if count("dead") > 0 {
            return Err(format!("{} jobs are dead (job states: {counts:?})", count("dead")));
        }
        if started.elapsed() > timeout {
            return Err(format!("not all jobs done after {timeout:?} (job states: {counts:?})"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Maps an error to a message naming what failed.
pub fn fail<E: Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let index = ((samples.len() * p).div_ceil(100)).saturating_sub(1).min(samples.len() - 1);
    samples[index]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Items per second.
pub fn rate(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}
