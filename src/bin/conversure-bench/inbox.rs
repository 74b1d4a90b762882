//! `inbox` (G3 list, G4 thread render, G5 search) on a dataset made by `dataset`: each query timed at the service
//! layer the web handlers call (`ConversationService::list` / `messages`, `ContactService::search`), then the same
//! list and thread over HTTP through the JSON API of the real release binary, with an admin API key.
//!
//! Runs are idle and sequential (one request at a time, after a warm-up), so each figure is the query's own
//! latency. Every query runs in both tenants of the dataset, the 1M-message one and the 10k one, and the ratio of
//! their p99s is the scale goal (G3: <= 1.5).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use conversure::domain::role::Role;
use conversure::services::Services;
use conversure::services::access::Actor;
use conversure::store::Db;
use conversure::store::conversations::Filter;

use crate::dataset::{MANIFEST, Manifest, TenantInfo, db_description, open_installed};
use crate::{fail, ingest, ms, percentile};

/// Page sizes of the inbox: the list shows 25 conversations, the thread the newest 50 messages.
const LIST_PAGE: i64 = 25;
const THREAD_PAGE: i64 = 50;

/// Contact search prefixes: frequent Latin and Arabic first names, a Cyrillic one (case folding beyond ASCII),
/// phone prefixes, and one that matches nothing (the whole workspace is read).
const PREFIXES: [&str; 7] = ["Ma", "Li", "مح", "Ив", "+9715", "+44", "Zq"];

/// p50 and p99 of a run.
#[derive(Clone, Copy)]
struct Timing {
    p50: Duration,
    p99: Duration,
}

/// Runs `query` `warm_up` times untimed and `iterations` times timed.
async fn time<F, Fut>(iterations: usize, mut query: F) -> Result<Timing, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, String>>,
{
    for _ in 0..(iterations / 10).max(3) {
        query().await?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        query().await?;
        samples.push(started.elapsed());
    }
    Ok(Timing { p50: percentile(&mut samples, 50), p99: percentile(&mut samples, 99) })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn line(name: &str, t: Timing, rows: usize, goal: &str) {
    println!("{name}: p50 {:.2} ms, p99 {:.2} ms ({rows} rows) {goal}", ms(t.p50), ms(t.p99));
}

/// The admin of the main tenant (the installed one) and an admin view of the small tenant.
async fn actors(db: &Db, manifest: &Manifest) -> Result<(Actor, Actor, Actor), String> {
    let mut conn = db.read().await.map_err(fail("read"))?;
    let admin = conn
        .fetch_one(
            "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'admin' ORDER BY user_id LIMIT 1",
            &[manifest.main.workspace_id.into()],
        )
        .await
        .and_then(|r| r.int(0))
        .map_err(fail("the main tenant's admin"))?;
    let main = Actor::user(admin, ingest::ADMIN_EMAIL, true, manifest.main.workspace_id, Role::Admin);
    let tenant_user = manifest.tenant.agents.first().copied().ok_or("the small tenant has no agent")?;
    let tenant = Actor::user(tenant_user, "tenant@bench.example", false, manifest.tenant.workspace_id, Role::Admin);
    let agent_user = manifest.main.agents.get(1).copied().ok_or("the main tenant has no agents")?;
    let agent = Actor::user(agent_user, "agent@bench.example", false, manifest.main.workspace_id, Role::Agent);
    Ok((main, tenant, agent))
}

/// The list filters G3 names, for one tenant.
fn list_filters(t: &TenantInfo) -> Vec<(&'static str, Filter)> {
    vec![
        ("all, most recent first", Filter::default()),
        ("status open", Filter { status: Some("open".into()), ..Filter::default() }),
        ("assignee filter", Filter { assignee: Some(t.agents.get(1).copied()), ..Filter::default() }),
        ("tag filter", Filter { tag_id: t.tags.first().copied(), ..Filter::default() }),
        ("unassigned", Filter { assignee: Some(None), ..Filter::default() }),
    ]
}

async fn g3(
    services: &Services,
    m: &Manifest,
    main: &Actor,
    tenant: &Actor,
    agent: &Actor,
    n: usize,
) -> Result<(), String> {
    println!(
        "-- G3 inbox list, {LIST_PAGE} rows, ConversationService::list (goal p50 <= 5 ms, p99 <= 20 ms; p99 at 1M <= 1.5 x at 10k)"
    );
    let list = async |actor: &Actor, filter: &Filter| {
        services
            .conversations
            .list(actor, filter, None, LIST_PAGE)
            .await
            .map(|p| p.conversations.len())
            .map_err(fail("list"))
    };
    for ((name, big_filter), (_, small_filter)) in list_filters(&m.main).into_iter().zip(list_filters(&m.tenant)) {
        let rows = list(main, &big_filter).await?;
        let big = time(n, || list(main, &big_filter)).await?;
        let small_rows = list(tenant, &small_filter).await?;
        let small = time(n, || list(tenant, &small_filter)).await?;
        let goal = big.p50 <= Duration::from_millis(5) && big.p99 <= Duration::from_millis(20);
        line(&format!("G3 list {name}, 1M tenant"), big, rows, verdict(goal));
        line(&format!("G3 list {name}, 10k tenant"), small, small_rows, "");
        let ratio = ms(big.p99) / ms(small.p99).max(1e-6);
        println!("G3 ratio p99 1M / 10k, {name}: {ratio:.2} (goal <= 1.5): {}", verdict(ratio <= 1.5));
    }
    let everything = Filter::default();
    let rows = list(agent, &everything).await?;
    let restricted = time(n, || list(agent, &everything)).await?;
    let goal = restricted.p50 <= Duration::from_millis(5) && restricted.p99 <= Duration::from_millis(20);
    line("G3 list as an agent (own and unassigned only), 1M tenant", restricted, rows, verdict(goal));
    let page = services.conversations.list(main, &Filter::default(), None, LIST_PAGE).await.map_err(fail("list"))?;
    let cursor = page.next_cursor.unwrap_or_default();
    let next = async || {
        services
            .conversations
            .list(main, &Filter::default(), Some(&cursor), LIST_PAGE)
            .await
            .map(|p| p.conversations.len())
            .map_err(fail("list"))
    };
    let rows = next().await?;
    line("G3 list second page (keyset cursor), 1M tenant", time(n, next).await?, rows, "");
    Ok(())
}

async fn g4(services: &Services, m: &Manifest, main: &Actor, n: usize) -> Result<(), String> {
    println!(
        "-- G4 thread render, newest {THREAD_PAGE} messages, ConversationService::messages (goal p99 <= 20 ms; long thread <= 1.5 x a 50-message one)"
    );
    let thread = async |id: i64| {
        services
            .conversations
            .messages(main, id, None, THREAD_PAGE)
            .await
            .map(|p| p.messages.len())
            .map_err(fail("thread"))
    };
    let (big_id, small_id) = (m.main.big_thread, m.main.thread_50);
    let big = time(n, || thread(big_id)).await?;
    let small = time(n, || thread(small_id)).await?;
    line(
        &format!("G4 thread of {} messages", m.main.big_thread_messages),
        big,
        thread(big_id).await?,
        verdict(big.p99 <= Duration::from_millis(20)),
    );
    line("G4 thread of 50 messages", small, thread(small_id).await?, verdict(small.p99 <= Duration::from_millis(20)));
    let ratio = ms(big.p99) / ms(small.p99).max(1e-6);
    println!("G4 ratio p99 long / 50-message thread: {ratio:.2} (goal <= 1.5): {}", verdict(ratio <= 1.5));
    Ok(())
}

async fn g5(services: &Services, m: &Manifest, main: &Actor, tenant: &Actor, n: usize) -> Result<(), String> {
    println!(
        "-- G5 search: contacts by name or phone prefix (ContactService::search, 25 rows; goal p99 <= 10 ms), messages by full text (the list's q filter; goal p99 <= 20 ms rare term, <= 150 ms common)"
    );
    let contacts = async |actor: &Actor, q: &str| {
        services
            .contacts
            .search(actor, q, None, LIST_PAGE)
            .await
            .map(|p| p.contacts.len())
            .map_err(fail("contact search"))
    };
    for prefix in PREFIXES {
        let rows = contacts(main, prefix).await?;
        let t = time(n, || contacts(main, prefix)).await?;
        line(
            &format!("G5 contacts prefix {prefix:?}, 1M tenant"),
            t,
            rows,
            verdict(t.p99 <= Duration::from_millis(10)),
        );
    }
    let rows = contacts(tenant, "Ma").await?;
    line("G5 contacts prefix \"Ma\", 10k tenant", time(n, || contacts(tenant, "Ma")).await?, rows, "");
    let search = async |actor: &Actor, q: &str| {
        let filter = Filter { query: Some(q.to_owned()), ..Filter::default() };
        services
            .conversations
            .list(actor, &filter, None, LIST_PAGE)
            .await
            .map(|p| p.conversations.len())
            .map_err(fail("search"))
    };
    // Fewer runs: a message search can take a good fraction of a second.
    let few = (n / 5).max(20);
    for (kind, terms, goal) in [("rare", &m.rare_terms, 20), ("common", &m.common_terms, 150)] {
        for term in terms.iter() {
            let rows = search(main, &term.word).await?;
            let t = time(few, || search(main, &term.word)).await?;
            line(
                &format!("G5 message search {kind} term {:?} (in {} messages), 1M tenant", term.word, term.messages),
                t,
                rows,
                verdict(t.p99 <= Duration::from_millis(goal)),
            );
        }
    }
    Ok(())
}

/// The release binary serving the dataset's directory, and an admin key of the main tenant.
struct Http {
    _server: ingest::Server,
    base: String,
    key: String,
    client: reqwest::Client,
}

async fn http(binary: &Path, data_dir: &Path) -> Result<Http, String> {
    let data = data_dir.to_string_lossy().into_owned();
    let args =
        ["api-key", "create", "--data-dir", &data, "--workspace", "bench", "--name", "bench-inbox", "--scope", "admin"];
    let key = ingest::setup_step("conversure api-key create", ingest::conversure(binary, &args))?.trim().to_owned();
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(fail("no free port"))?.port();
    let log =
        std::fs::File::create(std::env::temp_dir().join("conversure-bench-inbox-serve.log")).map_err(fail("log"))?;
    let child = ingest::conversure(binary, &["serve", "--data-dir", &data, "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(fail("starting conversure serve"))?;
    let server = ingest::Server::new(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
        if Instant::now() > deadline {
            return Err("conversure serve did not answer /healthz within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Http { _server: server, base, key, client })
}

impl Http {
    /// One GET; the number of items in its JSON answer's list (`conversations`, `messages`).
    async fn get(&self, path: &str) -> Result<usize, String> {
        let response =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.map_err(fail("GET"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(fail("GET body"))?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status}: {}", String::from_utf8_lossy(&body)));
        }
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(fail("GET JSON"))?;
        Ok(value.as_object().and_then(|o| o.values().find_map(serde_json::Value::as_array)).map_or(0, Vec::len))
    }
}

async fn over_http(http: &Http, m: &Manifest, n: usize) -> Result<(), String> {
    println!(
        "-- over HTTP: GET /api/v1/conversations and /messages on the release binary, admin API key, one keep-alive connection"
    );
    let t = &m.main;
    let paths = [
        ("G3 HTTP list all".to_owned(), format!("/api/v1/conversations?limit={LIST_PAGE}"), 20),
        ("G3 HTTP list status open".into(), format!("/api/v1/conversations?limit={LIST_PAGE}&status=open"), 20),
        (
            "G3 HTTP list assignee".into(),
            format!("/api/v1/conversations?limit={LIST_PAGE}&assignee={}", t.agents[1]),
            20,
        ),
        ("G3 HTTP list tag".into(), format!("/api/v1/conversations?limit={LIST_PAGE}&tag_id={}", t.tags[0]), 20),
        (
            format!("G4 HTTP thread of {} messages", t.big_thread_messages),
            format!("/api/v1/conversations/{}/messages?limit={THREAD_PAGE}", t.big_thread),
            20,
        ),
        (
            "G4 HTTP thread of 50 messages".into(),
            format!("/api/v1/conversations/{}/messages?limit={THREAD_PAGE}", t.thread_50),
            20,
        ),
    ];
    for (name, path, goal) in paths {
        let rows = http.get(&path).await?;
        let timing = time(n, || http.get(&path)).await?;
        line(&format!("{name}, 1M tenant"), timing, rows, verdict(timing.p99 <= Duration::from_millis(goal)));
    }
    Ok(())
}

pub async fn run(data_dir: &Path, binary: &Path, iterations: usize) -> Result<(), String> {
    let text = std::fs::read_to_string(data_dir.join(MANIFEST)).map_err(|e| {
        format!("{}: {e}; make the dataset first with conversure-bench dataset", data_dir.join(MANIFEST).display())
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(fail("the dataset manifest"))?;
    println!(
        "scenario: inbox (G3, G4, G5), dataset seed {} scale {}: {} messages in the main tenant, {} in the small one; {iterations} timed runs per query",
        manifest.seed, manifest.scale, manifest.main.messages, manifest.tenant.messages
    );
    let db = open_installed(data_dir).await?;
    println!("database: {}", db_description(&db));
    let overrides = conversure::config::Overrides { data_dir: Some(data_dir.to_path_buf()), ..Default::default() };
    let config = conversure::config::Config::load_from(&overrides, Default::default()).map_err(fail("config"))?;
    let services = Services::new(&config, db.clone()).await.map_err(fail("services"))?;
    let (main, tenant, agent) = actors(&db, &manifest).await?;
    let result = async {
        g3(&services, &manifest, &main, &tenant, &agent, iterations).await?;
        g4(&services, &manifest, &main, iterations).await?;
        g5(&services, &manifest, &main, &tenant, iterations).await?;
        match binary.canonicalize() {
            Ok(binary) if binary.is_file() => over_http(&http(&binary, data_dir).await?, &manifest, iterations).await,
            _ => {
                println!("over HTTP: skipped, no release binary at {} (cargo build --release)", binary.display());
                Ok(())
            }
        }
    }
    .await;
    db.close().await;
    result
}
