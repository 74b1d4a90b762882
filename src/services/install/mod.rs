//! The install wizard's use cases: the setup token, each step's validation, and the final commit. The web wizard and
//! `conversure install` drive the same methods, so both apply the same checks.

mod database;
mod draft;
mod finish;
mod steps;

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

pub use database::{DatabaseForm, DatabaseProbe, ExistingData};
pub use draft::{DatabaseChoice, Draft, EmailDraft, new_recovery_code};
pub use finish::Installed;
pub use steps::{AdminForm, EmailForm, LicenseChoice, SiteForm};

use crate::config::{Config, DataDir};
use crate::domain::check::Check;
use crate::domain::msg::Msg;
use crate::services::doctor::DoctorService;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError};

/// The instance setting whose presence means "installed"; its value is the install time in unix milliseconds.
pub const INSTALLED_KEY: &str = "instance.installed_at";

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Requirements,
    Database,
    License,
    Site,
    Admin,
    Email,
    Finish,
}

impl Step {
    pub const ALL: [Step; 7] =
        [Step::Requirements, Step::Database, Step::License, Step::Site, Step::Admin, Step::Email, Step::Finish];

    /// The URL path segment and catalog key suffix (`database`, …).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Requirements => "requirements",
            Self::Database => "database",
            Self::License => "license",
            Self::Site => "site",
            Self::Admin => "admin",
            Self::Email => "email",
            Self::Finish => "finish",
        }
    }

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// What can go wrong while reading or creating the install state.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the setup token {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
    /// The backups directory cannot be used.
    #[error("{0}")]
    Backups(String),
}

/// Why a step did not go through; shown next to the fields, or above the form.
#[derive(Debug)]
pub enum StepError {
    /// Field name → what is wrong with it.
    Fields(Vec<(&'static str, Msg)>),
    /// A problem with the step as a whole.
    Message(Msg),
    /// An earlier step is not done yet.
    OutOfOrder(Step),
    /// The instance is already installed.
    AlreadyInstalled,
    /// A bug or an unexpected failure; logged, not shown.
    Internal(String),
}

impl StepError {
    fn field(name: &'static str, msg: Msg) -> Self {
        Self::Fields(vec![(name, msg)])
    }
}

impl From<StoreError> for StepError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                Self::Message(Msg::with("install.error.database_unavailable", &[("error", detail)]))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(err: std::io::Error) -> Self {
        Self::Internal(format!("writing the setup state: {err}"))
    }
}

/// Tracks the install state, checks setup tokens and runs the wizard's steps.
pub struct InstallService {
    config: Config,
    /// The database the process runs on (before install: where the first start put it).
    db: Db,
    doctor: DoctorService,
    installed: AtomicBool,
    token: RwLock<Option<String>>,
    draft: Mutex<Draft>,
}

impl InstallService {
    /// Reads the install state; a fresh instance gets a setup token (kept across restarts until install finishes).
    pub async fn init(config: &Config, db: Db) -> Result<Self, InstallError> {
        let mut conn = db.read().await?;
        let installed = settings::get(&mut conn, Scope::Instance, INSTALLED_KEY).await?.is_some();
        drop(conn);
        let token = if installed { None } else { Some(load_or_create_token(&config.data_dir)?) };
        let draft = if installed { Draft::new() } else { Draft::load(&config.data_dir) };
        Ok(Self {
            config: config.clone(),
            doctor: DoctorService::new(config, Some(db.clone())),
            db,
            installed: AtomicBool::new(installed),
            token: RwLock::new(token),
            draft: Mutex::new(draft),
        })
    }

    /// True once the install wizard has finished.
    pub fn is_installed(&self) -> bool {
        self.installed.load(Ordering::Acquire)
    }

    /// The setup token, while not installed (for the start-up banner).
    pub fn setup_token(&self) -> Option<String> {
        self.token.read().ok().and_then(|t| t.clone())
    }

    /// Where the token is kept, for the messages that tell an operator how to find it.
    pub fn token_path(&self) -> std::path::PathBuf {
        self.config.data_dir.setup_token_file()
    }

    /// Whether `candidate` is the current setup token; compared in constant time. Always false once installed.
    pub fn verify_token(&self, candidate: &str) -> bool {
        if self.is_installed() {
            return false;
        }
        let Ok(guard) = self.token.read() else { return false };
        guard.as_deref().is_some_and(|token| crate::crypto::constant_time_eq(token, candidate))
    }

    /// A copy of the answers so far (for refilling forms; secrets stay inside).
    pub async fn draft(&self) -> Draft {
        self.draft.lock().await.clone()
    }

    /// The first step not done yet; later steps cannot be opened before it.
    pub async fn next_step(&self) -> Step {
        next_step(&*self.draft.lock().await)
    }

    /// Whether `step` may be shown now (it is done, or it is the next one).
    pub async fn may_open(&self, step: Step) -> Result<(), StepError> {
        let next = self.next_step().await;
        if step <= next { Ok(()) } else { Err(StepError::OutOfOrder(next)) }
    }

    /// Runs the requirement checks.
    pub async fn check_requirements(&self, proxy_headers: Option<&[String]>) -> Vec<Check> {
        self.doctor.run(proxy_headers).await
    }

    fn data_dir(&self) -> &DataDir {
        &self.config.data_dir
    }

    async fn update_draft(&self, change: impl FnOnce(&mut Draft)) -> Result<(), StepError> {
        if self.is_installed() {
            return Err(StepError::AlreadyInstalled);
        }
        let mut draft = self.draft.lock().await;
        let mut updated = draft.clone();
        change(&mut updated);
        // Saved first: the in-memory state changes only once the file holds it, so a failed write changes nothing.
        updated.save(self.data_dir())?;
        *draft = updated;
        Ok(())
    }
}

fn next_step(draft: &Draft) -> Step {
    if !draft.requirements_ok {
        Step::Requirements
    } else if draft.database.is_none() {
        Step::Database
    } else if draft.license.is_none() {
        Step::License
    } else if draft.site.is_none() {
        Step::Site
    } else if draft.admin.is_none() {
        Step::Admin
    } else if draft.email.is_none() {
        Step::Email
    } else {
        Step::Finish
    }
}

fn load_or_create_token(data_dir: &DataDir) -> Result<String, InstallError> {
    let path = data_dir.setup_token_file();
    let error = |source| InstallError::TokenFile { path: path.display().to_string(), source };
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 && existing.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(existing.to_owned());
        }
    }
    let token = hex::encode(rand::random::<[u8; 20]>());
    crate::config::write::write_atomically(&path, &format!("{token}\n")).map_err(error)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let first = load_or_create_token(&data_dir).unwrap();
        assert_eq!(first.len(), 40);
        assert_eq!(load_or_create_token(&data_dir).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data_dir.setup_token_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_token_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        std::fs::write(data_dir.setup_token_file(), "garbage").unwrap();
        let token = load_or_create_token(&data_dir).unwrap();
        assert_ne!(token, "garbage");
    }

    #[test]
    fn steps_open_in_order() {
        let mut draft = Draft::new();
        assert_eq!(next_step(&draft), Step::Requirements);
        draft.requirements_ok = true;
        draft.database = Some(DatabaseChoice::Sqlite);
        assert_eq!(next_step(&draft), Step::License);
        draft.license = Some("x".into());
        draft.site = Some(draft::SiteDraft {
            name: "a".into(),
            public_url: "b".into(),
            timezone: "UTC".into(),
            language: "en".into(),
            https: false,
        });
        assert_eq!(next_step(&draft), Step::Admin);
    }
}
