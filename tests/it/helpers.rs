//! `spawn_app()` and friends: the real application on port 0, a temporary data directory, a cookie-keeping client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use conversure::config::{Config, Overrides};
use conversure::startup::Application;
use tokio::sync::oneshot;

use crate::pg::TestDatabase;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(name, body_fn)` makes `name_sqlite` and `name_postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

/// A database for one test: a file in the data directory, or a fresh Postgres database.
pub struct TestDb {
    pub url: Option<String>,
    pub pg: Option<TestDatabase>,
}

impl TestDb {
    /// `None` when the backend is Postgres and no cluster is configured (the test then returns early).
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self { url: None, pg: None }),
            Backend::Postgres => {
                let pg = TestDatabase::create().await?;
                Some(Self { url: Some(pg.url.clone()), pg: Some(pg) })
            }
        }
    }
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub data_dir: tempfile::TempDir,
    pub db: TestDb,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Configuration for a test instance: port 0, quiet logs, the network probe pointed at a closed local port.
pub fn test_config(data_dir: &Path, database_url: Option<String>, extra_env: &[(&str, &str)]) -> Config {
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("CONVERSURE_LOG_LEVEL".to_owned(), "warn".to_owned()),
        // Port 9 (discard) is closed on loopback: the probe fails at once instead of waiting on the closed network.
        ("CONVERSURE_NETWORK_PROBE_URL".to_owned(), "http://127.0.0.1:9/".to_owned()),
    ]);
    for (k, v) in extra_env {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let overrides =
        Overrides { data_dir: Some(data_dir.to_owned()), listen: Some("127.0.0.1:0".to_owned()), database_url };
    Config::load_from(&overrides, env).expect("test configuration is valid")
}

/// Starts the app on `backend`; `None` when that backend is not available here.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra `CONVERSURE_*` settings.
pub async fn spawn_app_with(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let config = test_config(data_dir.path(), db.url.clone(), env);
    let app = Application::build(config).await.expect("the app starts");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until_stopped(async move {
            let _ = stopped.await;
        })
        .await
        .expect("the app runs");
    });
    conversure::init_crypto();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Some(TestApp { addr, data_dir, db, client, stop: Some(stop), task: Some(task) })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// The setup token the first start wrote.
    pub fn setup_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("setup-token")).expect("setup token file").trim().to_owned()
    }

    /// Opens the wizard with the token, as a buyer following the printed link does.
    pub async fn enter_wizard(&self) {
        let response = self.get(&format!("/install?token={}", self.setup_token())).await;
        assert_eq!(response.status(), 303, "the token is traded for a cookie");
    }

    /// Stops the app gracefully and waits for it.
    pub async fn stop(mut self) -> (tempfile::TempDir, TestDb) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the app stops cleanly");
        }
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("tempdir"));
        let db = std::mem::replace(&mut self.db, TestDb { url: None, pg: None });
        (data_dir, db)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The built `conversure` binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_conversure"))
}

/// A free TCP port on loopback (bound and released; good enough for a test that starts a process on it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}
