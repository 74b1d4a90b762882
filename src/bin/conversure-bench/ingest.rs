//! `ingest` (G1): signed Meta webhooks posted over HTTP to the real release binary, which verifies, parses and
//! commits them (group commit) before answering 200.
//!
//! The server is a child process: `conversure install --evaluation` on a fresh data directory (SQLite, or the
//! `--postgres` database), an admin API key from `conversure api-key create`, then `serve` on a free loopback port
//! and a Meta number created through `POST /api/v1/whatsapp-accounts`. The events are ~1.5 KB inbound-text webhooks
//! in the shape of `tests/fixtures/providers/meta-cloud-api/webhook_inbound_text.json`, one message each, with
//! distinct `wamid`s from 1,000 customers (so contacts and conversations repeat, as in a real inbox), signed with
//! the number's app secret.
//!
//! Baseline in the same run, `B_http`: a bare axum handler in this process that reads the body and answers 200, hit
//! by the same load generator (one shared keep-alive reqwest client, the same concurrency, the same bodies). Then,
//! against the server: a closed-loop run of N events (maximum throughput; the stored messages are counted in the
//! database afterwards), a replay of the same N events (must add no row), and an open-loop run at a constant
//! arrival rate with fresh events, whose latencies are measured from each request's scheduled send time, so a slow
//! answer cannot hold back the next sends and hide its own cost (coordinated omission).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use conversure::config::DatabaseUrl;
use conversure::store::Db;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::{Scratch, Target, fail, ms, percentile, rate};

/// Keep-alive connections of the closed-loop runs (the baseline's and the server's).
const CONCURRENCY: usize = 64;
/// Customers the events come from: each has one contact and one conversation, so most events add to existing ones.
const CUSTOMERS: usize = 1_000;
/// Requests out at once in the open-loop runs at most. Far above what 4,000/s needs at the target latency (about
/// 40 in flight at 10 ms); it only keeps a stalled server from opening thousands of sockets. Requests waiting for a
/// slot still count their wait, since latency runs from the scheduled time.
const OPEN_LOOP_IN_FLIGHT: usize = 1_024;
/// Size of each webhook body, as in `B_http`'s definition.
const BODY_BYTES: usize = 1_500;
const APP_SECRET: &str = "bench-ingest-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
pub const ADMIN_EMAIL: &str = "bench@example.com";
/// Strong enough for the install's password check; the instance lives only for the run.
const ADMIN_PASSWORD: &str = "Bench-ingest-only-7341-crane-harbor";
/// Linux reports process CPU time in USER_HZ ticks, 100 per second on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// One signed webhook, ready to post.
#[derive(Clone)]
pub(crate) struct Webhook {
    body: Bytes,
    signature: String,
}

pub(crate) type Stream = Arc<[Webhook]>;

/// A Meta inbound text webhook for event `seq`, padded to [`BODY_BYTES`] with its message text.
fn webhook(seq: usize, secret: &[u8]) -> Result<Webhook, String> {
    let customer = format!("1631555{:04}", seq % CUSTOMERS);
    let timestamp = 1_767_225_600 + seq as u64;
    let mut value = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550100", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": format!("Customer {}", seq % CUSTOMERS)}, "wa_id": customer}],
                    "messages": [{
                        "from": customer,
                        "id": format!("wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQz{seq:020}A=="),
                        "timestamp": timestamp.to_string(),
                        "text": {"body": ""},
                        "type": "text",
                    }],
                },
                "field": "messages",
            }],
        }],
    });
    let bare = serde_json::to_vec(&value).map_err(fail("webhook body"))?.len();
    let sentence = "Hi, my order has not arrived yet and the tracking page shows no update since Monday. ";
    let text: String =
        format!("Order {seq}: {}", sentence.repeat(20)).chars().take(BODY_BYTES.saturating_sub(bare)).collect();
    value["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = Value::String(text);
    let body = serde_json::to_vec(&value).map_err(fail("webhook body"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(fail("HMAC key"))?;
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    Ok(Webhook { body: Bytes::from(body), signature })
}

pub(crate) fn stream(range: std::ops::Range<usize>) -> Result<Stream, String> {
    range.map(|seq| webhook(seq, APP_SECRET.as_bytes())).collect::<Result<Vec<_>, _>>().map(Stream::from)
}

/// One webhook as a provider posts it; `Ok` only on 200, with the answer read to the end (keep-alive reuse).
pub(crate) async fn post_one(client: &reqwest::Client, url: &str, webhook: &Webhook) -> Result<(), String> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("x-hub-signature-256", &webhook.signature)
        .body(webhook.body.clone())
        .send()
        .await
        .map_err(fail("webhook"))?;
    let status = response.status();
    response.bytes().await.map_err(fail("webhook answer"))?;
    if status == reqwest::StatusCode::OK { Ok(()) } else { Err(format!("webhook answered {status}")) }
}

/// Requests that did not get a 200, and the first reason.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn add(&mut self, error: String) {
        self.count += 1;
        self.first.get_or_insert(error);
    }

    fn check(&self, run: &str) -> Result<(), String> {
        match &self.first {
            None => Ok(()),
            Some(first) => Err(format!("{run}: {} requests failed; the first: {first}", self.count)),
        }
    }
}

/// Posts every event of `stream` from [`CONCURRENCY`] tasks over one shared keep-alive client; the wall time.
pub(crate) async fn closed_loop(client: &reqwest::Client, url: &Arc<str>, stream: &Stream) -> Result<Duration, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, stream, next) = (client.clone(), Arc::clone(url), Arc::clone(stream), Arc::clone(&next));
            tokio::spawn(async move {
                let mut failures = Failures::default();
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    let Some(webhook) = stream.get(seq) else { return failures };
                    if let Err(e) = post_one(&client, &url, webhook).await {
                        failures.add(e);
                    }
                }
            })
        })
        .collect();
    let mut failures = Failures::default();
    for task in tasks {
        let task = task.await.map_err(fail("load generator task"))?;
        failures.count += task.count;
        failures.first = failures.first.or(task.first);
    }
    let elapsed = started.elapsed();
    failures.check("closed loop")?;
    Ok(elapsed)
}

/// Latencies of an open-loop run, each from the request's scheduled send time to its answer.
pub(crate) struct OpenLoop {
    latencies: Vec<Duration>,
    /// How late the generator started requests against their schedule (its own timer and CPU lag).
    lag: Vec<Duration>,
    /// Scheduled start of the first request to the last answer.
    wall: Duration,
}

impl OpenLoop {
    pub(crate) fn print(&mut self, name: &str, per_second: usize) {
        let n = self.latencies.len();
        let (p50, p99) = (percentile(&mut self.latencies, 50), percentile(&mut self.latencies, 99));
        let max = self.latencies.last().copied().unwrap_or_default();
        println!(
            "{name} open loop, {n} events at {per_second}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.0} events/s over {:.2} s)",
            ms(p50),
            ms(p99),
            ms(max),
            rate(n, self.wall),
            self.wall.as_secs_f64()
        );
        let lag_p99 = percentile(&mut self.lag, 99);
        let lag_max = self.lag.last().copied().unwrap_or_default();
        println!("{name} open loop, send start behind schedule: p99 {:.2} ms, max {:.2} ms", ms(lag_p99), ms(lag_max));
    }

    pub(crate) fn p99(&mut self) -> Duration {
        percentile(&mut self.latencies, 99)
    }
}

/// Starts one request every `1 / per_second` s, whether or not earlier ones were answered. Tokio's timer has 1 ms
/// resolution, so at 4,000/s requests leave in groups of about four per millisecond; latency still counts from each
/// request's own scheduled time, so that grouping is charged to the run, not hidden.
pub(crate) async fn open_loop(
    client: &reqwest::Client,
    url: &Arc<str>,
    stream: &Stream,
    per_second: usize,
) -> Result<OpenLoop, String> {
    let limit = Arc::new(Semaphore::new(OPEN_LOOP_IN_FLIGHT));
    let start = tokio::time::Instant::now() + Duration::from_millis(5);
    let mut tasks = Vec::with_capacity(stream.len());
    for seq in 0..stream.len() {
        let scheduled = start + Duration::from_secs_f64(seq as f64 / per_second as f64);
        if scheduled > tokio::time::Instant::now() {
            tokio::time::sleep_until(scheduled).await;
        }
        let (client, url, stream, limit) = (client.clone(), Arc::clone(url), Arc::clone(stream), Arc::clone(&limit));
        tasks.push(tokio::spawn(async move {
            let lag = scheduled.elapsed();
            let _slot = limit.acquire_owned().await.map_err(fail("open loop slots"))?;
            post_one(&client, &url, &stream[seq]).await?;
            Ok::<_, String>((scheduled.elapsed(), lag))
        }));
    }
    let mut run = OpenLoop { latencies: Vec::with_capacity(tasks.len()), lag: Vec::new(), wall: Duration::ZERO };
    let mut failures = Failures::default();
    for task in tasks {
        match task.await.map_err(fail("load generator task"))? {
            Ok((latency, lag)) => {
                run.latencies.push(latency);
                run.lag.push(lag);
            }
            Err(e) => failures.add(e),
        }
    }
    run.wall = start.elapsed();
    failures.check("open loop")?;
    Ok(run)
}

/// `B_http`: the same path shape, a handler that takes the whole body and answers 200.
async fn bare_server() -> Result<(Arc<str>, tokio::task::JoinHandle<std::io::Result<()>>), String> {
    async fn receive(body: Bytes) -> StatusCode {
        if body.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::OK }
    }
    let app = Router::new().route("/webhooks/meta/{key}", post(receive));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(fail("B_http server"))?;
    let addr = listener.local_addr().map_err(fail("B_http server"))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/webhooks/meta/bench").into(), server))
}

/// The release binary serving a fresh instance; killed when dropped.
pub struct Server {
    child: Child,
    pid: u32,
}

impl Server {
    pub fn new(child: Child) -> Self {
        Self { pid: child.id(), child }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `conversure <args>` with the environment of a clean install: no inherited `CONVERSURE_*` settings, no network
/// probe leaving the machine, warnings only in the log.
pub fn conversure(binary: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args).current_dir("/");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_")) {
        command.env_remove(key);
    }
    command.env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/").env("CONVERSURE_LOG_LEVEL", "warn");
    command
}

/// Runs a setup command to the end; its standard output, or its standard error as the failure.
pub fn setup_step(what: &str, mut command: Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{what}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{what} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// An installed instance behind `serve`, with an admin API key and a Meta number; the webhook URL on loopback.
pub(crate) struct Instance {
    pub(crate) server: Server,
    pub(crate) webhook_url: Arc<str>,
    account_id: i64,
    database: DatabaseUrl,
    /// The admin API key (the live scenario reads `/api/v1/events` with it).
    pub(crate) key: String,
}

/// Installs a fresh instance headlessly into `data` (`conversure install --evaluation`, the admin
/// [`ADMIN_EMAIL`], a workspace named `workspace_name` whose slug derives from it), reached at `site_url`.
pub fn install(
    binary: &Path,
    data: &Path,
    workspace_name: &str,
    site_url: &str,
    postgres: Option<&str>,
) -> Result<(), String> {
    let data_arg = data.to_string_lossy().into_owned();
    let password = std::env::temp_dir().join(format!("conversure-bench-password-{}", std::process::id()));
    std::fs::write(&password, ADMIN_PASSWORD).map_err(fail("admin password file"))?;
    let password_arg = password.to_string_lossy().into_owned();
    let mut install = vec![
        "install",
        "--evaluation",
        "--data-dir",
        &data_arg,
        "--workspace-name",
        workspace_name,
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        &password_arg,
        "--site-url",
        site_url,
    ];
    if let Some(url) = postgres {
        install.extend(["--database-url", url]);
    }
    let result = setup_step("conversure install", conversure(binary, &install)).map(|_| ());
    let _ = std::fs::remove_file(&password);
    result
}

pub(crate) async fn start_instance(binary: &Path, dir: &Path, postgres: Option<&str>) -> Result<Instance, String> {
    let data = dir.join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(fail("no free port"))?.port();
    let base = format!("http://127.0.0.1:{port}");
    install(binary, &data, "Bench", &base, postgres)?;
    let key = setup_step(
        "conversure api-key create",
        conversure(
            binary,
            &[
                "api-key",
                "create",
                "--data-dir",
                &data_arg,
                "--workspace",
                "bench",
                "--name",
                "bench",
                "--scope",
                "admin",
            ],
        ),
    )?
    .trim()
    .to_owned();

    let log = std::fs::File::create(dir.join("serve.log")).map_err(fail("server log"))?;
    let child = conversure(binary, &["serve", "--data-dir", &data_arg, "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(fail("starting conversure serve"))?;
    let server = Server { pid: child.id(), child };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            return Err(format!("conversure serve did not answer /healthz within 20 s; its log:\n{log}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let number = json!({
        "name": "Bench", "provider": "meta", "phone_number": "+15550100", "api_base_url": "http://127.0.0.1:9/v23.0",
        "credentials": {"access_token": "x", "phone_number_id": PHONE_NUMBER_ID, "app_secret": APP_SECRET},
    });
    let response = client
        .post(format!("{base}/api/v1/whatsapp-accounts"))
        .bearer_auth(&key)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(number.to_string())
        .send()
        .await
        .map_err(fail("creating the Meta number"))?;
    let status = response.status();
    let answer = response.bytes().await.map_err(fail("creating the Meta number"))?;
    if !status.is_success() {
        return Err(format!("creating the Meta number: {status}: {}", String::from_utf8_lossy(&answer)));
    }
    let answer: Value = serde_json::from_slice(&answer).map_err(fail("the created number"))?;
    let account_id = answer["id"].as_i64().ok_or("the created number has no id")?;
    let webhook_url = answer["webhook_url"].as_str().ok_or("the created number has no webhook_url")?;
    // The path is the number's; the host is wherever this run's server listens.
    let path = url::Url::parse(webhook_url).map_err(fail("webhook_url"))?.path().to_owned();
    let database = match postgres {
        Some(url) => DatabaseUrl::parse(url).map_err(fail("--postgres"))?,
        None => DatabaseUrl::Sqlite(data.join("conversure.db")),
    };
    Ok(Instance { server, webhook_url: format!("{base}{path}").into(), account_id, database, key })
}

/// Rows ingestion writes: messages of the number, its conversations, the workspace's contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rows {
    messages: i64,
    conversations: i64,
    contacts: i64,
}

async fn count_rows(db: &Db, account_id: i64) -> Result<Rows, String> {
    let mut conn = db.read().await.map_err(fail("reading the database"))?;
    let mut count = async |sql: &str| {
        conn.fetch_one(sql, &[account_id.into()]).await.and_then(|row| row.int(0)).map_err(fail("counting rows"))
    };
    let messages = count("SELECT COUNT(*) FROM messages WHERE account_id = $1").await?;
    let conversations = count("SELECT COUNT(*) FROM conversations WHERE account_id = $1").await?;
    let contacts = count(
        "SELECT COUNT(*) FROM contacts WHERE workspace_id = (SELECT workspace_id FROM whatsapp_accounts WHERE id = $1)",
    )
    .await?;
    Ok(Rows { messages, conversations, contacts })
}

/// User plus system CPU time of a process so far, in seconds (`/proc/<pid>/stat`, fields 14 and 15).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS_PER_SECOND
}

/// CPU used by the server and by this process (load generator) during a run, per event.
struct Cpu {
    server_pid: String,
    server: f64,
    bench: f64,
}

impl Cpu {
    fn start(server_pid: u32) -> Self {
        let server_pid = server_pid.to_string();
        Self { server: cpu_seconds(&server_pid), bench: cpu_seconds("self"), server_pid }
    }

    fn print(&self, name: &str, events: usize, wall: Duration) {
        let server = cpu_seconds(&self.server_pid) - self.server;
        let bench = cpu_seconds("self") - self.bench;
        let per_event = |seconds: f64| seconds * 1e6 / events.max(1) as f64;
        println!(
            "{name} CPU: server {server:.2} s ({:.0} us/event, {:.2} cores), load generator {bench:.2} s ({:.0} us/event)",
            per_event(server),
            server / wall.as_secs_f64().max(1e-9),
            per_event(bench)
        );
    }
}

pub async fn run(n: usize, per_second: usize, seconds: usize, binary: &Path, target: &Target) -> Result<(), String> {
    // Absolute: the setup commands run from `/`, away from whatever the working directory holds.
    let binary = match binary.canonicalize() {
        Ok(path) if path.is_file() => path,
        _ => {
            return Err(format!(
                "no binary at {}; build it with cargo build --release --bin conversure, or pass --binary PATH",
                binary.display()
            ));
        }
    };
    let binary = binary.as_path();
    let open_n = per_second * seconds;
    println!(
        "scenario: ingest (G1), {n} events closed loop at concurrency {CONCURRENCY}, replayed once, then {open_n} fresh events open loop at {per_second}/s"
    );
    println!("server: {}", binary.display());
    println!("database: {}", target.describe());
    let fsync_p99 = target.print_fsync_baseline()?;

    let (closed, open) = (stream(0..n)?, stream(n..n + open_n)?);
    let body_bytes = closed.iter().map(|w| w.body.len()).sum::<usize>() / n.max(1);
    println!(
        "events: Meta inbound text webhooks, {body_bytes} bytes each on average, signed (X-Hub-Signature-256), {CUSTOMERS} customers"
    );
    let client = reqwest::Client::builder().build().map_err(fail("HTTP client"))?;

    // B_http: after a warm-up that opens the connections, the same load as the real run gets.
    let (bare_url, bare) = bare_server().await?;
    let warm_up: Stream = closed.iter().take(CONCURRENCY * 8).cloned().collect();
    closed_loop(&client, &bare_url, &warm_up).await?;
    let bare_wall = closed_loop(&client, &bare_url, &closed).await?;
    let b_http = rate(n, bare_wall);
    println!(
        "B_http bare axum handler, {CONCURRENCY} keep-alive connections: {b_http:.0} events/s ({:.0} ms for {n})",
        ms(bare_wall)
    );
    let mut bare_open = open_loop(&client, &bare_url, &open, per_second).await?;
    bare_open.print("B_http", per_second);
    bare.abort();

    // Postgres keeps its rows in the server's database; the instance still needs a data directory of its own.
    let postgres_data;
    let (dir, postgres) = match target {
        Target::Sqlite(dir) => (&dir.0, None),
        Target::Postgres(url) => {
            postgres_data = Scratch::new("ingest-data")?;
            (&postgres_data.0, Some(url.as_str()))
        }
    };
    let started = Instant::now();
    let instance = start_instance(binary, dir, postgres).await?;
    println!("install, API key, serve and number set up in {:.0} ms", ms(started.elapsed()));
    let db = Db::open(&instance.database).await.map_err(fail("opening the database"))?;
    let result = measured_runs(&client, &instance, &db, &closed, &open, per_second, b_http, fsync_p99).await;
    db.close().await;
    drop(instance);
    result
}

#[allow(clippy::too_many_arguments)]
async fn measured_runs(
    client: &reqwest::Client,
    instance: &Instance,
    db: &Db,
    closed: &Stream,
    open: &Stream,
    per_second: usize,
    b_http: f64,
    fsync_p99: Duration,
) -> Result<(), String> {
    let (n, url, account) = (closed.len(), &instance.webhook_url, instance.account_id);
    let before = count_rows(db, account).await?;

    // Warm-up without rows: the same connection count to the server, on /healthz.
    let healthz: Arc<str> =
        url.split("/webhooks/").next().map(|base| format!("{base}/healthz")).unwrap_or_default().into();
    let warm = (0..CONCURRENCY * 8).map(|_| {
        let (client, healthz) = (client.clone(), Arc::clone(&healthz));
        tokio::spawn(async move { client.get(&*healthz).send().await.map(|_| ()) })
    });
    for task in warm.collect::<Vec<_>>() {
        task.await.map_err(fail("warm-up task"))?.map_err(fail("warm-up"))?;
    }

    let cpu = Cpu::start(instance.server.pid);
    let wall = closed_loop(client, url, closed).await?;
    let events = rate(n, wall);
    println!(
        "G1 closed loop, {CONCURRENCY} keep-alive connections: {events:.0} events/s ({:.0} ms for {n}) (goal >= 10,000/s)",
        ms(wall)
    );
    println!("G1 ratio ingest / B_http: {:.3} (goal >= 0.25)", events / b_http.max(1e-9));
    cpu.print("closed loop", n, wall);
    let after = count_rows(db, account).await?;
    let stored = after.messages - before.messages;
    println!(
        "stored after the closed loop: {stored} messages for {n} acknowledged events ({} conversations, {} contacts) (goal: exactly {n})",
        after.conversations, after.contacts
    );

    let cpu = Cpu::start(instance.server.pid);
    let wall = closed_loop(client, url, closed).await?;
    let replayed = count_rows(db, account).await?;
    println!("replay of the same {n} events: {:.0} events/s ({:.0} ms), all answered 200", rate(n, wall), ms(wall));
    cpu.print("replay", n, wall);
    println!(
        "G1 rows added by the replay: {} messages, {} conversations, {} contacts (goal: 0)",
        replayed.messages - after.messages,
        replayed.conversations - after.conversations,
        replayed.contacts - after.contacts
    );

    let cpu = Cpu::start(instance.server.pid);
    let mut run = open_loop(client, url, open, per_second).await?;
    run.print("G1", per_second);
    cpu.print("open loop", open.len(), run.wall);
    let p99 = run.p99();
    let goal = (fsync_p99 + Duration::from_millis(10)).min(Duration::from_millis(50));
    println!(
        "G1 open-loop p99 {:.2} ms vs B_fsync p99 + 10 ms = {:.2} ms (goal p99 <= {:.2} ms): {}",
        ms(p99),
        ms(fsync_p99 + Duration::from_millis(10)),
        ms(goal),
        if p99 <= goal { "met" } else { "missed" }
    );
    let last = count_rows(db, account).await?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", instance.server.pid)).unwrap_or_default();
    let rss_kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().split(' ').next());
    if let Some(kib) = rss_kib.and_then(|v| v.parse::<f64>().ok()) {
        println!("server RSS after the runs: {:.1} MB (G7: <= 160 MB under G1+G2+inbox load)", kib / 1024.0);
    }
    println!(
        "stored after the open loop: {} new messages for {} acknowledged events (goal: exactly {})",
        last.messages - replayed.messages,
        open.len(),
        open.len()
    );
    Ok(())
}
