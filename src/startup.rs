//! Start-up: bind, prepare the data directory, open and migrate the database, build the app. Every step either
//! succeeds or leaves the machine as it found it, so a failed start can simply be retried after the fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Config, DataDir, DatabaseUrl};
use crate::lifecycle::{DataDirLock, LockError};
use crate::services::install::InstallError;
use crate::services::{Runtime, Services};
use crate::store::{Db, StoreError, migrate};
use crate::tls::{ConfiguredDomains, HostPolicy, TlsError, TlsServer};
use crate::web::{self, state::AppState};

/// Why the application could not start; each message names the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("{0}")]
    DataDir(String),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Database(#[from] StoreError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The data directory, locked, with its database open and migrated.
pub struct OpenedData {
    pub db: Db,
    pub migrations: migrate::Report,
    _lock: DataDirLock,
    /// Declared last so it drops last: the database and lock are closed before it removes what a failed start made.
    rollback: Rollback,
}

impl OpenedData {
    /// Keeps everything that was created: the start succeeded.
    pub fn keep(&mut self) {
        self.rollback.disarm();
    }
}

/// Creates (if needed) and locks the data directory, then opens and migrates the database.
pub async fn open_data(config: &Config) -> Result<OpenedData, StartupError> {
    let mut rollback = Rollback::default();
    prepare_data_dir(&config.data_dir, &mut rollback)?;
    let lock_path = config.data_dir.lock_file();
    rollback.track_new_file(&lock_path);
    let lock = DataDirLock::acquire(&lock_path, config.data_dir.root())?;
    if let DatabaseUrl::Sqlite(path) = &config.database {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            rollback.track_new_file(&PathBuf::from(format!("{}{suffix}", path.display())));
        }
    }
    let db = Db::open(&config.database).await?;
    let migrations = match migrate::run(&db).await {
        Ok(report) => report,
        Err(e) => {
            db.close().await;
            return Err(e.into());
        }
    };
    Ok(OpenedData { db, migrations, _lock: lock, rollback })
}

/// A bound, ready-to-run instance.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    data: OpenedData,
    config: Config,
    /// HTTPS and the HTTP redirect, when `tls_mode` is auto or manual.
    tls: Option<TlsServer>,
    /// Which hosts beyond `tls_domains` get certificates on demand.
    host_policy: Arc<dyn HostPolicy>,
}

impl Application {
    /// Binds first (a taken port changes nothing on disk), then opens the data; see [`open_data`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let listener = bind(config.listen, "pass --listen with another port").await?;
        let tls_listeners = match config.tls.enabled() {
            true => Some(bind_tls(&config).await?),
            false => None,
        };
        let mut data = open_data(&config).await?;
        let tls = match tls_listeners {
            Some((https, http)) => Some(TlsServer::new(&config.tls, &config.data_dir, https, http)?),
            None => None,
        };
        let services = Services::new(&config, data.db.clone()).await?;
        data.keep();
        let mut state = AppState::new(Runtime::new(services)).with_trusted_proxies(config.trusted_proxies.clone());
        if let Some(tls) = &tls {
            state = state.with_tls_status(tls.status());
        }
        let host_policy = Arc::new(ConfiguredDomains::new(&config.tls));
        Ok(Self { listener, state, data, config, tls, host_policy })
    }

    /// Replaces the policy deciding which hosts get certificates on demand (custom domains); it is given the
    /// runtime so it can ask the services of the moment.
    pub fn with_host_policy(mut self, policy: impl FnOnce(&Runtime) -> Arc<dyn HostPolicy>) -> Self {
        self.host_policy = policy(&self.state.runtime);
        self
    }

    /// The HTTPS address bound, when TLS is on.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(TlsServer::https_addr)
    }

    /// The TLS mode and certificate status board.
    pub fn tls_status(&self) -> Arc<crate::tls::TlsStatus> {
        self.state.tls.clone()
    }

    /// The plain-HTTP redirect address bound, when TLS is on and `http_listen` is not off.
    pub fn http_redirect_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(TlsServer::http_addr)
    }

    /// The address actually bound (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// The runtime the server will run (its restart request ends serving for an update).
    pub fn runtime(&self) -> Runtime {
        self.state.runtime.clone()
    }

    /// What an operator needs to know, printed once at start.
    pub fn banner(&self) -> String {
        let base = self.base_url();
        let mut lines = vec![
            format!("Conversure {} is running.", crate::services::update::version()),
            format!("  Data directory: {}", self.config.data_dir.root().display()),
            format!("  Database:       {}", self.config.database.display_redacted()),
            format!("  Listening on:   http://{}", self.local_addr()),
        ];
        if let Some(https) = self.https_addr() {
            let mode = self.state.tls.snapshot().mode;
            lines.push(format!("  HTTPS on:       {https} (certificates: tls_mode {mode})"));
        }
        if let Some(http) = self.http_redirect_addr() {
            lines.push(format!("  HTTP redirect:  {http} (to HTTPS; ACME HTTP-01 answers)"));
        }
        if !self.data.migrations.applied.is_empty() {
            lines.push(format!("  Migrated schema to version {}.", self.data.migrations.to));
        }
        match self.state.services().install.setup_token() {
            Some(token) => {
                lines.push(String::new());
                lines.push("Finish the setup in your browser:".to_owned());
                lines.push(format!("  {base}/install?token={token}"));
                if self.config.public_url.is_none() && self.local_addr().ip().is_unspecified() {
                    lines.push("  (from another computer, use this server's address instead of 127.0.0.1)".to_owned());
                }
                lines.push(format!("The token is also in {}.", self.state.services().install.token_path().display()));
            }
            None => lines.push(format!("  Open {base}/")),
        }
        lines.join("\n")
    }

    fn base_url(&self) -> String {
        if let Some(url) = &self.config.public_url {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        let addr = self.local_addr();
        let host = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
        let host = if addr.is_ipv6() && !addr.ip().is_unspecified() { format!("[{host}]") } else { host };
        format!("http://{host}:{}", addr.port())
    }

    /// Serves until `shutdown` resolves, lets in-flight requests finish, then closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let state = self.state.clone();
        let tls = match self.tls {
            Some(tls) => Some(tls.start(web::router_over_tls(self.state.clone()), self.host_policy)?),
            None => None,
        };
        state.runtime.start_background().await;
        let stop_tls = tls.as_ref().map(|running| running.stop_signal());
        let app = web::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let draining = state.clone();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                draining.set_draining();
                if let Some(stop_tls) = stop_tls {
                    stop_tls.now();
                }
            })
            .await;
        if let Some(tls) = tls {
            tls.stop().await;
        }
        state.runtime.stop_background(std::time::Duration::from_secs(20)).await;
        state.services().close().await;
        self.data.db.close().await;
        tracing::info!("stopped");
        served.map_err(StartupError::Serve)
    }
}

/// Binds a listener; the error says how to free or change the address (`fix`).
async fn bind(addr: SocketAddr, fix: &str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).await.map_err(|e| StartupError::Bind {
        addr,
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => format!("the port is already in use; stop the other program or {fix}"),
            std::io::ErrorKind::PermissionDenied => format!(
                "permission denied; ports below 1024 need the installer's capability setup (CAP_NET_BIND_SERVICE), or {fix}"
            ),
            _ => e.to_string(),
        },
    })
}

/// Binds `https_listen` and (unless off) `http_listen` before anything touches the disk.
async fn bind_tls(config: &Config) -> Result<(TcpListener, Option<TcpListener>), StartupError> {
    let https = bind(config.tls.https_listen, "set https_listen to another address").await?;
    let http = match config.tls.http_listen {
        Some(addr) => Some(bind(addr, "set http_listen to another address (or off)").await?),
        None => None,
    };
    Ok((https, http))
}

/// Makes sure the data directory exists and is writable, creating it (owner-only) if needed.
fn prepare_data_dir(data_dir: &DataDir, rollback: &mut Rollback) -> Result<(), StartupError> {
    let root = data_dir.root();
    let unusable = |what: String| {
        StartupError::DataDir(format!(
            "the data directory {} {what}; fix its permissions (for example: chown -R $(id -un) {}) or pass --data-dir with another directory",
            root.display(),
            root.display()
        ))
    };
    if root.exists() {
        if !root.is_dir() {
            return Err(StartupError::DataDir(format!(
                "{} exists but is not a directory; pass --data-dir with a directory",
                root.display()
            )));
        }
    } else {
        let first_missing = root.ancestors().take_while(|p| !p.exists()).last().unwrap_or(root).to_owned();
        create_private_dir(root).map_err(|e| unusable(format!("cannot be created ({e})")))?;
        rollback.track_new_dir(&first_missing);
    }
    crate::system::check_writable(root).map_err(|e| unusable(format!("is not writable ({e})")))
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Files and directories a start created, removed again if the start fails.
#[derive(Default)]
struct Rollback {
    files: Vec<PathBuf>,
    dir: Option<PathBuf>,
    disarmed: bool,
}

impl Rollback {
    fn track_new_file(&mut self, path: &Path) {
        if !path.exists() {
            self.files.push(path.to_owned());
        }
    }

    fn track_new_dir(&mut self, path: &Path) {
        self.dir = Some(path.to_owned());
    }

    fn disarm(&mut self) {
        self.disarmed = true;
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if self.disarmed {
            return;
        }
        for file in self.files.iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        if let Some(dir) = &self.dir {
            // We created this directory during this start, so everything in it is ours.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
