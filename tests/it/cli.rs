//! The `conversure` executable as a buyer runs it: commands, start-up, refusals that change nothing, shutdown.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{binary, free_port};
use crate::pg::{TestDatabase, cluster_url};

/// The binary with a clean `CONVERSURE_*` environment, run from `/` so nothing can come from the source tree.
fn conversure(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.args(args).current_dir("/").env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/");
    for (key, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_") && k != "CONVERSURE_NETWORK_PROBE_URL")
    {
        command.env_remove(key);
    }
    command
}

fn run(args: &[&str]) -> Output {
    conversure(args).output().expect("run conversure")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `serve` process that is killed when the test ends.
struct Server {
    child: Child,
    port: u16,
    started: Instant,
    banner: Vec<String>,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--data-dir", data_dir.to_str().unwrap(), "--listen", &listen];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let mut child = conversure(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn serve");
        let mut banner = Vec::new();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        for line in stdout.lines().map_while(Result::ok) {
            let done = line.starts_with("The token is also in") || line.trim_start().starts_with("Open ");
            banner.push(line);
            if done {
                break;
            }
        }
        Self { child, port, started, banner }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn setup_link(&self) -> String {
        self.banner
            .iter()
            .find(|l| l.contains("/install?token="))
            .map(|l| l.trim().to_owned())
            .expect("the banner prints the setup link")
    }

    /// Sends SIGTERM and returns the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop within 15 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    conversure::init_crypto();
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn help_documents_every_command() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "doctor", "version", "CONVERSURE_DATABASE_URL"] {
        assert!(help.contains(command), "{command} in --help:\n{help}");
    }
    for command in ["serve", "migrate", "doctor"] {
        let sub = run(&[command, "--help"]);
        assert!(sub.status.success(), "{command} --help");
        assert!(String::from_utf8_lossy(&sub.stdout).contains("--data-dir"), "{command} takes --data-dir");
    }
    let unknown = run(&["frobnicate"]);
    assert!(!unknown.status.success());
}

#[test]
fn version_prints_the_version_first() {
    let output = run(&["version"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.lines().next().unwrap(), format!("conversure {}", env!("CARGO_PKG_VERSION")));
    assert!(text.contains(&format!("schema version {}", conversure::store::migrate::latest_version())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_an_empty_directory_answers_at_once() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("fresh");
    let server = Server::start(&data_dir, &[]);
    let http = client();
    let healthy_after = loop {
        if let Ok(response) = http.get(server.url("/healthz")).send().await
            && response.status() == 200
        {
            break server.started.elapsed();
        }
        assert!(server.started.elapsed() < Duration::from_secs(10), "no /healthz 200 within 10 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!("exec to /healthz 200: {healthy_after:?}");
    assert!(
        server.banner.iter().any(|l| l.contains(data_dir.to_str().unwrap())),
        "the banner says where data lives: {:?}",
        server.banner
    );

    let root_page = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(root_page.status(), 303);
    assert_eq!(root_page.headers()["location"], "/install");
    assert_eq!(http.get(server.url("/install")).send().await.unwrap().status(), 403);

    let link = server.setup_link();
    let path = &link[link.find("/install").unwrap()..];
    assert_eq!(http.get(server.url(path)).send().await.unwrap().status(), 303);
    let wizard = http.get(server.url("/install")).send().await.unwrap();
    assert_eq!(wizard.status(), 200);
    let html = wizard.text().await.unwrap();
    let css =
        html.split("href=\"").find_map(|s| s.split('"').next().filter(|u| u.starts_with("/assets/css/"))).unwrap();
    assert_eq!(http.get(server.url(css)).send().await.unwrap().status(), 200, "assets load with cwd=/");

    assert!(server.terminate().success(), "SIGTERM is a clean exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_directory_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path(), &[]);
    let second =
        run(&["serve", "--data-dir", dir.path().to_str().unwrap(), "--listen", &format!("127.0.0.1:{}", free_port())]);
    assert!(!second.status.success());
    let message = stderr(&second);
    assert!(message.contains("in use by another Conversure process"), "{message}");
    assert!(message.contains(&first.child.id().to_string()), "names the holder: {message}");
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    drop(first);
}

#[test]
fn bad_input_changes_nothing() {
    let root = tempfile::tempdir().unwrap();

    // Unknown key in config.toml.
    let with_config = root.path().join("configured");
    std::fs::create_dir(&with_config).unwrap();
    std::fs::write(with_config.join("config.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let output = run(&["serve", "--data-dir", with_config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("lisen"), "{}", stderr(&output));
    assert_eq!(stderr(&output).trim().lines().count(), 1);
    assert_eq!(entries(&with_config), vec!["config.toml"], "nothing created");

    // A data directory that cannot be created (its parent is a file).
    let file = root.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let output = run(&["serve", "--data-dir", file.join("data").to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("data directory"), "{}", stderr(&output));

    // A port in use: nothing is created at all.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let fresh = root.path().join("never-created");
    let output = run(&["serve", "--data-dir", fresh.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("already in use"), "{}", stderr(&output));
    assert!(!fresh.exists());

    // Bad flag values.
    let output = run(&["serve", "--data-dir", fresh.to_str().unwrap(), "--listen", "localhost"]);
    assert!(!output.status.success() && stderr(&output).contains("listen"));
    let output = run(&["serve", "--data-dir", fresh.to_str().unwrap(), "--database-url", "mysql://x/y"]);
    assert!(!output.status.success() && stderr(&output).contains("database_url"));
    assert!(!fresh.exists());

    // Unreachable Postgres: one line, nothing created.
    let dead = free_port();
    let output = run(&[
        "serve",
        "--data-dir",
        fresh.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &format!("postgres://u:secret@127.0.0.1:{dead}/cs"),
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("cannot reach Postgres") && !message.contains("secret"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(!fresh.exists(), "a failed start leaves nothing behind");
}

#[test]
fn a_missing_postgres_database_is_named() {
    let Some(cluster) = cluster_url() else { return };
    let mut url = url::Url::parse(&cluster).unwrap();
    url.set_path("no_such_database");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("d");
    let output =
        run(&["serve", "--data-dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0", "--database-url", url.as_str()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no_such_database") && stderr(&output).contains("createdb"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_works_the_same() {
    let Some(db) = TestDatabase::create().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--database-url", &db.url]);
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(server.url("/healthz")).send().await.map(|r| r.status()).ok() != Some(reqwest::StatusCode::OK) {
        assert!(Instant::now() < deadline, "no /healthz 200 on Postgres");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("postgres: exec to /healthz 200: {:?}", server.started.elapsed());
    assert!(server.banner.iter().any(|l| l.contains("postgres://")), "{:?}", server.banner);
    assert!(!server.banner.iter().any(|l| l.contains(":conversure@") && l.contains("password")));
    assert_eq!(http.get(server.url("/")).send().await.unwrap().headers()["location"], "/install");
    let link = server.setup_link();
    assert_eq!(http.get(server.url(&link[link.find("/install").unwrap()..])).send().await.unwrap().status(), 303);
    assert_eq!(http.get(server.url("/install")).send().await.unwrap().status(), 200);
    assert!(!dir.path().join("conversure.db").exists(), "no SQLite file when Postgres is configured");
    assert!(server.terminate().success());
}

#[test]
fn migrate_creates_then_reports_up_to_date() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    let first = run(&["migrate", "--data-dir", dir.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied 0001_init"));
    let second = run(&["migrate", "--data-dir", dir.to_str().unwrap()]);
    let latest = conversure::store::migrate::latest_version();
    assert!(String::from_utf8_lossy(&second.stdout).contains(&format!("up to date at schema version {latest}")));
}

#[test]
fn doctor_reports_and_fails_on_a_failed_check() {
    let root = tempfile::tempdir().unwrap();
    let ok = run(&["doctor", "--data-dir", root.path().to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("doctor --json prints JSON");
    assert_ne!(report["overall"], "fail", "{report}");
    assert!(ok.status.success());
    assert!(!root.path().join("conversure.db").exists(), "doctor creates nothing");
    assert_eq!(entries(root.path()), Vec::<String>::new());

    let file = root.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let bad = run(&["doctor", "--data-dir", file.join("d").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("[FAIL] Data directory") && text.contains("fix:"), "{text}");
}
