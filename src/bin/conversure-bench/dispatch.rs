//! `dispatch` (G2): send jobs to a local mock provider. The mock answers `POST /v1/messages` like Meta's Cloud API
//! send endpoint and counts the requests per job (the job's number travels in `biz_opaque_callback_data`, as a
//! real send would carry it), so lost and duplicated sends show.
//!
//! Baseline in the same run, `B_mock`: a bare keep-alive reqwest loop at the same concurrency against the same mock,
//! sending the same bodies and parsing the same answers. Then, with the real runner (concurrency 64): N unthrottled
//! send jobs enqueued in batches while the workers wait (a campaign start), and a capped run with a rate key per
//! number at `Rate { per_second: 1000, burst: 50 }`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use conversure::jobs::runner::{self, Options};
use conversure::jobs::{Job, Outcome, Rate, Registry};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{BATCH, Target, enqueue_batched, fail, ms, rate, wait_done};

const CONCURRENCY: usize = 64;
const CAP: Rate = Rate { per_second: 1000.0, burst: 50.0 };

#[derive(Serialize, Deserialize)]
struct SendMessage {
    seq: usize,
    to: String,
    /// The sending number; its rate key is `number:<number>` (the capped run).
    number: Option<String>,
}

impl Job for SendMessage {
    const KIND: &'static str = "bench.send";

    fn rate_key(&self) -> Option<String> {
        self.number.as_ref().map(|n| format!("number:{n}"))
    }
}

#[derive(Deserialize)]
struct SendRequest {
    to: String,
    biz_opaque_callback_data: String,
}

/// What the mock provider saw since its last reset.
#[derive(Default)]
struct Seen {
    per_job: HashMap<usize, u32>,
    arrivals: Vec<Instant>,
    malformed: usize,
}

type Mock = Arc<Mutex<Seen>>;

async fn messages(State(mock): State<Mock>, Json(request): Json<SendRequest>) -> (StatusCode, Json<serde_json::Value>) {
    let now = Instant::now();
    let seq = request.biz_opaque_callback_data.strip_prefix("job-").and_then(|s| s.parse::<usize>().ok());
    if let Ok(mut seen) = mock.lock() {
        seen.arrivals.push(now);
        match seq {
            Some(seq) => *seen.per_job.entry(seq).or_insert(0) += 1,
            None => seen.malformed += 1,
        }
    }
    let Some(seq) = seq else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "bad biz_opaque_callback_data"}})));
    };
    let to = request.to;
    (
        StatusCode::OK,
        Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": format!("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQT{seq:012}")}],
        })),
    )
}

/// One send as a provider client makes it: JSON body out, status checked, message id parsed from the answer.
async fn send(client: &reqwest::Client, url: &str, seq: usize, to: &str) -> Result<String, String> {
    let body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": "Your order has shipped and will arrive tomorrow."},
        "biz_opaque_callback_data": format!("job-{seq}"),
    });
    let body = serde_json::to_vec(&body).map_err(fail("request body"))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(fail("send"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(fail("answer"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("provider answered {status}"));
    }
    let answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(fail("answer"))?;
    answer["messages"][0]["id"].as_str().map(str::to_owned).ok_or_else(|| "no message id in the answer".to_owned())
}

fn recipient(seq: usize) -> String {
    format!("1650{:07}", seq % 10_000_000)
}

/// Counts of one run at the mock: jobs seen exactly once, lost, duplicated, and the arrival times in order.
struct Tally {
    once: usize,
    lost: usize,
    duplicated: usize,
    extra_sends: usize,
    malformed: usize,
    arrivals: Vec<Instant>,
}

fn take(mock: &Mock, n: usize) -> Result<Tally, String> {
    let mut seen = mock.lock().map_err(|_| "mock state poisoned".to_owned())?;
    let seen = std::mem::take(&mut *seen);
    let mut tally =
        Tally { once: 0, lost: 0, duplicated: 0, extra_sends: 0, malformed: seen.malformed, arrivals: seen.arrivals };
    for seq in 0..n {
        match seen.per_job.get(&seq).copied().unwrap_or(0) {
            0 => tally.lost += 1,
            1 => tally.once += 1,
            k => {
                tally.duplicated += 1;
                tally.extra_sends += (k - 1) as usize;
            }
        }
    }
    tally.malformed += seen.per_job.keys().filter(|seq| **seq >= n).count();
    tally.arrivals.sort_unstable();
    Ok(tally)
}

impl Tally {
    /// Sends per second at the mock, first to last arrival.
    fn sends_per_second(&self) -> f64 {
        match (self.arrivals.first(), self.arrivals.last()) {
            (Some(first), Some(last)) => rate(self.arrivals.len().saturating_sub(1), last.duration_since(*first)),
            _ => 0.0,
        }
    }

    fn print(&self, name: &str) {
        println!(
            "{name} at the mock: {} jobs sent exactly once, {} lost, {} duplicated ({} extra sends), {} unknown (goal: 0 lost, 0 duplicated)",
            self.once, self.lost, self.duplicated, self.extra_sends, self.malformed
        );
    }
}

pub async fn run(n: usize, capped: usize, target: &Target) -> Result<(), String> {
    println!("scenario: dispatch (G2), {n} unthrottled send jobs, {capped} capped, concurrency {CONCURRENCY}");
    println!("database: {}", target.describe());
    target.print_fsync_baseline()?;

    let mock: Mock = Arc::default();
    let app = Router::new().route("/v1/messages", post(messages)).with_state(Arc::clone(&mock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(fail("mock provider"))?;
    let addr = listener.local_addr().map_err(fail("mock provider"))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url: Arc<str> = format!("http://{addr}/v1/messages").into();
    let client = reqwest::Client::builder().build().map_err(fail("HTTP client"))?;

    // Warm-up: open the keep-alive connections both measured runs then reuse.
    bare_loop(&client, &url, CONCURRENCY * 8).await?;
    take(&mock, 0)?;

    let started = Instant::now();
    bare_loop(&client, &url, n).await?;
    let bare_wall = started.elapsed();
    let bare = take(&mock, n)?;
    let b_mock = bare.sends_per_second();
    println!(
        "B_mock bare keep-alive reqwest loop, {CONCURRENCY} in flight: {b_mock:.0} sends/s ({:.0} ms for {n})",
        ms(bare_wall)
    );
    bare.print("B_mock");

    let db = target.open("dispatch.db").await?;
    let mut registry = Registry::new();
    let (handler_client, handler_url) = (client.clone(), Arc::clone(&url));
    registry
        .handle::<SendMessage, _, _>(move |job, _ctx| {
            let (client, url) = (handler_client.clone(), Arc::clone(&handler_url));
            async move {
                match send(&client, &url, job.seq, &job.to).await {
                    Ok(_message_id) => Outcome::Done,
                    Err(error) => Outcome::Retry { error, at: None },
                }
            }
        })
        .queue(SendMessage::QUEUE, CONCURRENCY)
        .rates(|key| key.starts_with("number:").then_some(CAP));
    let workers = runner::start(db.clone(), registry, Options::default());
    let result = measured_runs(&db, &mock, n, capped, b_mock).await;
    workers.shutdown(Duration::from_secs(5)).await;
    db.close().await;
    server.abort();
    result
}

async fn measured_runs(
    db: &conversure::store::Db,
    mock: &Mock,
    n: usize,
    capped: usize,
    b_mock: f64,
) -> Result<(), String> {
    let total = |done: usize| i64::try_from(done).unwrap_or(i64::MAX);
    let timeout = Duration::from_secs(600);

    // Unthrottled: a campaign start, enqueued in batches while the workers wait.
    let started = Instant::now();
    let enqueue = enqueue_batched(db, n, |seq| SendMessage { seq, to: recipient(seq), number: None }).await?;
    let all_done = wait_done(db, total(n), timeout).await?;
    let run = take(mock, n)?;
    let sends = run.sends_per_second();
    println!("enqueue of the {n} jobs, {BATCH} per transaction, workers running: {:.0} ms", ms(enqueue));
    if let Some(first) = run.arrivals.first() {
        println!(
            "first send after the campaign's enqueue started: {:.1} ms (goal <= 1 s, for a 100k campaign)",
            ms(first.duration_since(started))
        );
    }
    println!("G2 unthrottled dispatch at the mock: {sends:.0} sends/s (goal >= 5,000/s)");
    println!("G2 ratio dispatch / B_mock: {:.2} (goal >= 0.35)", sends / b_mock.max(1e-9));
    let wall = all_done.duration_since(started);
    println!("enqueue start to all {n} committed done: {:.0} jobs/s ({:.0} ms)", rate(n, wall), ms(wall));
    run.print("unthrottled run");

    // Capped: one number, 1,000/s with a burst of 50.
    let started = Instant::now();
    let number = Some("15550001234".to_owned());
    enqueue_batched(db, capped, |seq| SendMessage { seq, to: recipient(seq), number: number.clone() }).await?;
    let all_done = wait_done(db, total(n + capped), timeout).await?;
    let run = take(mock, capped)?;
    let achieved = run.sends_per_second();
    println!(
        "G2 capped run, {capped} jobs on one number at {} /s, burst {}: {achieved:.0} sends/s first to last send = {:.1} % of the cap (goal >= 98 %)",
        CAP.per_second,
        CAP.burst,
        100.0 * achieved / CAP.per_second
    );
    let steady = steady_rate(&run.arrivals, CAP.burst as usize);
    println!(
        "G2 capped, after the burst (sends {}..{capped}): {steady:.0} sends/s = {:.1} % of the cap",
        CAP.burst,
        100.0 * steady / CAP.per_second
    );
    let (max_window, over) = window_excess(&run.arrivals, CAP.per_second + CAP.burst);
    println!(
        "G2 capped, most sends in any 1 s window: {max_window} (cap + burst = {}); sends a 1 s window limit would refuse: {over} = {:.2} % (goal <= 0.1 %)",
        CAP.per_second + CAP.burst,
        100.0 * over as f64 / capped.max(1) as f64
    );
    let wall = all_done.duration_since(started);
    println!("capped enqueue start to all {capped} committed done: {:.0} ms", ms(wall));
    run.print("capped run");
    Ok(())
}

/// Sends after the first `skip` (the burst), per second.
fn steady_rate(arrivals: &[Instant], skip: usize) -> f64 {
    match (arrivals.get(skip), arrivals.last()) {
        (Some(first), Some(last)) if arrivals.len() > skip + 1 => {
            rate(arrivals.len() - skip - 1, last.duration_since(*first))
        }
        _ => 0.0,
    }
}

/// The most arrivals in any trailing 1 s window, and how many arrivals found more than `limit` in theirs.
fn window_excess(arrivals: &[Instant], limit: f64) -> (usize, usize) {
    let (mut start, mut most, mut over) = (0, 0, 0);
    for (i, at) in arrivals.iter().enumerate() {
        while at.duration_since(arrivals[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        let count = i - start + 1;
        most = most.max(count);
        if count as f64 > limit {
            over += 1;
        }
    }
    (most, over)
}

/// `B_mock`: `n` sends from `CONCURRENCY` tasks over one shared keep-alive client.
async fn bare_loop(client: &reqwest::Client, url: &Arc<str>, n: usize) -> Result<(), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, next) = (client.clone(), Arc::clone(url), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= n {
                        return Ok::<(), String>(());
                    }
                    send(&client, &url, seq, &recipient(seq)).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(fail("B_mock task"))??;
    }
    Ok(())
}
