//! One-click update: check the vendor's signed release manifest, and install a newer version (verify, smoke-test,
//! pre-update backup, swap the executable), then hand over to the health gate ([`gate`]) that keeps the new version
//! or puts the old executable and data back. The UI, the API and the CLI all go through [`UpdateService`].

pub mod backup_link;
pub mod gate;
pub mod install;
pub mod keys;
pub mod manifest;
mod runtime;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::services::backup::BackupError;
use crate::services::workspaces::Owner;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, audit, now_millis};
use install::Refusal;
use manifest::{Manifest, ManifestError};
use state::UpdateState;

pub use runtime::RestartRequest;

/// Biggest manifest accepted.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The instance setting that keeps the last check's result.
const CHECK_KEY: &str = "update.check";

/// The version this process reports everywhere (the banner, `version`, `/healthz`, the update pages). Test builds
/// may pretend to be another version through `CONVERSURE_TEST_VERSION`, so the tests can publish a "new" release
/// made of the same binary; release builds ignore that variable.
pub fn version() -> String {
    #[cfg(feature = "test-keys")]
    if let Some(pretend) = std::env::var("CONVERSURE_TEST_VERSION").ok().filter(|v| !v.trim().is_empty()) {
        return pretend.trim().to_owned();
    }
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The last check for a new version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The newest published version (whether or not it is newer than this one).
    pub latest_version: Option<String>,
    pub notes: String,
    pub published_at: String,
    pub checked_at: i64,
    /// Why the check failed, if it did.
    pub error: Option<String>,
}

/// What the update page and the API show.
#[derive(Debug, Clone)]
pub struct UpdateStatus {
    pub current: String,
    pub check: Option<CheckResult>,
    /// The newer version offered, if the last check found one.
    pub available: Option<String>,
    /// Why this installation cannot update itself (shown instead of the button), for the offered version.
    pub blocked: Option<Refusal>,
    pub last_attempt: Option<UpdateState>,
    /// An update is being installed right now.
    pub running: bool,
}

/// Why an update did not start; nothing was changed in every case.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("an update or a backup is already running")]
    Busy,
    #[error("no newer version is available (this is {0})")]
    NothingNewer(String),
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Rejected(#[from] ManifestError),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks for and installs new versions.
pub struct UpdateService {
    db: Db,
    config: Config,
    client: reqwest::Client,
    backups: backup_link::PreUpdateBackup,
    running: Arc<tokio::sync::Mutex<()>>,
}

impl UpdateService {
    pub fn new(config: &Config, db: Db, backups: backup_link::PreUpdateBackup) -> Self {
        crate::init_crypto();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("conversure/", env!("CARGO_PKG_VERSION"), " (update)"))
            .build()
            .unwrap_or_default();
        Self { db, config: config.clone(), client, backups, running: Arc::default() }
    }

    /// The current state for the owner.
    pub async fn status(&self, _owner: &Owner) -> Result<UpdateStatus, UpdateError> {
        let check = self.last_check().await?;
        let current = version();
        let available = offered(check.as_ref(), &current);
        let blocked = available.as_deref().and_then(|offered| {
            let exe = std::env::current_exe().unwrap_or_default();
            install::preflight(&exe, offered).err()
        });
        Ok(UpdateStatus {
            current,
            check,
            available,
            blocked,
            last_attempt: state::read(&self.config.data_dir),
            running: self.running.try_lock().is_err(),
        })
    }

    /// The newer version the last check found, for the panel's banner (one settings read, no network).
    pub async fn available_version(&self) -> Result<Option<String>, UpdateError> {
        Ok(offered(self.last_check().await?.as_ref(), &version()))
    }

    async fn last_check(&self) -> Result<Option<CheckResult>, UpdateError> {
        let mut conn = self.db.read().await?;
        let text = settings::get(&mut conn, Scope::Instance, CHECK_KEY).await?;
        Ok(text.and_then(|text| serde_json::from_str::<CheckResult>(&text).ok()))
    }

    /// Fetches the manifest and records what it offers (or why it could not be read) for the owner's pages.
    pub async fn check(&self, owner: &Owner) -> Result<UpdateStatus, UpdateError> {
        let result = match self.fetch_manifest().await {
            Ok(manifest) => CheckResult {
                latest_version: Some(manifest.version.clone()),
                notes: manifest.notes.clone(),
                published_at: manifest.published_at.clone(),
                checked_at: now_millis(),
                error: manifest.asset_for_this_platform().err().map(|e| e.to_string()),
            },
            Err(reason) => CheckResult { checked_at: now_millis(), error: Some(reason), ..CheckResult::default() },
        };
        let text = serde_json::to_string(&result).map_err(|e| UpdateError::Failed(e.to_string()))?;
        let mut tx = self.db.write().await?;
        settings::put(&mut tx, Scope::Instance, CHECK_KEY, &text).await?;
        tx.commit().await?;
        self.status(owner).await
    }

    /// The cron's check: the same as the owner's "Check now", summarised for the job log.
    pub async fn scheduled_check(&self) -> Result<String, String> {
        let status = self.check(&system()).await.map_err(|e| e.to_string())?;
        match (status.check.and_then(|c| c.error), status.available) {
            (Some(error), _) => Err(error),
            (None, Some(offered)) => Ok(format!("version {offered} is available")),
            (None, None) => Ok(format!("{} is the newest version", status.current)),
        }
    }

    /// The cron schedule "update-check": twice a day, at an odd minute so installs do not all ask at once.
    pub fn schedule(self: &Arc<Self>) -> Result<crate::jobs::cron::Schedule, String> {
        let service = Arc::clone(self);
        crate::jobs::cron::Schedule::new("update-check", "41 5,17 * * *", true, move || {
            let service = Arc::clone(&service);
            async move { service.scheduled_check().await }
        })
    }

    async fn fetch_manifest(&self) -> Result<Manifest, String> {
        let url = self.config.update_manifest_url.as_str();
        let body = install::fetch_capped(&self.client, url, MAX_MANIFEST_BYTES).await?;
        Manifest::parse(&body).map_err(|e| e.to_string())
    }

    /// Installs the newest version: everything is verified before anything changes; then the pre-update backup is
    /// taken and the executable swapped. The caller restarts into the health gate ([`gate`]).
    pub async fn apply(&self, owner: &Owner) -> Result<UpdateState, UpdateError> {
        let _running = self.running.try_lock().map_err(|_| UpdateError::Busy)?;
        let manifest = self.fetch_manifest().await.map_err(UpdateError::Failed)?;
        let current = version();
        if !manifest.is_newer_than(&current) {
            return Err(UpdateError::NothingNewer(current));
        }
        let asset = manifest.asset_for_this_platform()?.clone();
        let exe =
            std::env::current_exe().map_err(|e| UpdateError::Failed(format!("cannot locate this executable: {e}")))?;
        install::preflight(&exe, &manifest.version)?;
        manifest::verify_signature(&manifest.version, &asset)?;
        let data_dir = self.config.data_dir.clone();
        install::check_disk(data_dir.root(), asset.size, crate::system::dir_size_bytes(data_dir.root()))?;
        let cap = asset.size.min(install::MAX_ARCHIVE_BYTES);
        let archive = install::fetch_capped(&self.client, &asset.url, cap).await.map_err(UpdateError::Failed)?;
        manifest::verify_archive(&asset, &archive)?;
        let staged = data_dir.tmp_dir().join(format!("conversure-{}", manifest.version));
        let to = manifest.version.clone();
        let unpack_to = staged.clone();
        blocking(move || {
            std::fs::create_dir_all(unpack_to.parent().unwrap_or(&unpack_to)).map_err(|e| e.to_string())?;
            install::extract_executable(&archive, &unpack_to)?;
            install::smoke_test(&unpack_to, &to)
        })
        .await
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&staged);
        })?;
        let backup_file = match self.backups.create(&owner.label).await {
            Ok(file) => file,
            Err(reason) => {
                let _ = std::fs::remove_file(&staged);
                return Err(match reason {
                    BackupError::Busy => UpdateError::Busy,
                    other => UpdateError::Failed(format!("the pre-update backup failed, nothing was changed: {other}")),
                });
            }
        };
        let (swap_exe, swap_new) = (exe.clone(), staged.clone());
        let swapped = blocking(move || install::swap(&swap_exe, &swap_new)).await;
        let _ = std::fs::remove_file(&staged);
        swapped?;
        let attempt = UpdateState {
            from: current,
            to: manifest.version.clone(),
            exe,
            backup_file,
            started_at: now_millis(),
            outcome: None,
            reported: false,
        };
        if let Err(e) = state::write(&data_dir, &attempt) {
            let _ = install::put_back(&attempt.exe);
            return Err(UpdateError::Failed(format!("cannot record the update, nothing was changed: {e}")));
        }
        self.audit(owner, "update.started", &attempt, "").await?;
        Ok(attempt)
    }

    /// Writes the outcome of the last attempt to the audit log, once (called at start by the process that the
    /// health gate handed over to).
    pub async fn report_finished_attempt(&self) {
        let Some(mut attempt) = state::read(&self.config.data_dir) else { return };
        let Some(outcome) = attempt.outcome.clone().filter(|_| !attempt.reported) else { return };
        let action = if outcome.succeeded { "update.succeeded" } else { "update.failed" };
        match self.audit(&system(), action, &attempt, &outcome.reason).await {
            Ok(()) => {
                attempt.reported = true;
                if let Err(e) = state::write(&self.config.data_dir, &attempt) {
                    tracing::warn!(error = %e, "cannot mark the update's outcome as reported");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot write the update's outcome to the audit log"),
        }
    }

    async fn audit(&self, owner: &Owner, action: &str, attempt: &UpdateState, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.db.write().await?;
        let detail = serde_json::json!({ "from": attempt.from, "to": attempt.to, "backup": attempt.backup_file,
                                         "reason": reason });
        let entry = audit::Entry {
            workspace_id: None,
            actor_user_id: owner.user_id,
            actor_label: &owner.label,
            action,
            target: Some("instance"),
            detail,
            ip: None,
        };
        audit::record(&mut tx, &entry).await?;
        tx.commit().await
    }
}

/// The actor of what the instance does by itself (the cron's check, the health gate's outcome).
fn system() -> Owner {
    Owner { user_id: None, label: "system".to_owned() }
}

/// Whether `offered` is a newer version than `running`.
/// The version the check found when it is newer than `running`.
fn offered(check: Option<&CheckResult>, running: &str) -> Option<String> {
    check.and_then(|c| c.latest_version.clone()).filter(|latest| newer(latest, running))
}

fn newer(offered: &str, running: &str) -> bool {
    matches!((semver::Version::parse(offered), semver::Version::parse(running)), (Ok(o), Ok(r)) if o > r)
}

/// Runs file and process work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, UpdateError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| UpdateError::Failed(e.to_string()))?
        .map_err(UpdateError::Failed)
}
