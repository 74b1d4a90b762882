//! Use cases. Services own transactions, tenant scope and permissions; they know no HTTP and write no SQL text.

pub mod auth;
pub mod doctor;
pub mod health;
pub mod install;
pub mod instance;
pub mod site;

use std::sync::{Arc, RwLock};

use crate::config::{Config, DatabaseUrl};
use crate::store::Db;

/// Every service, handed to the web layer and the CLI.
pub struct Services {
    db: Db,
    pub install: install::InstallService,
    pub site: site::SiteService,
    pub health: health::HealthService,
    pub doctor: doctor::DoctorService,
    pub auth: auth::AuthService,
    pub instance: instance::InstanceService,
}

impl Services {
    /// Builds the services over an opened, migrated database.
    pub async fn new(config: &Config, db: Db) -> Result<Arc<Self>, install::InstallError> {
        Ok(Arc::new(Self {
            install: install::InstallService::init(config, db.clone()).await?,
            site: site::SiteService::new(db.clone()),
            health: health::HealthService::new(db.clone()),
            doctor: doctor::DoctorService::new(config, Some(db.clone())),
            auth: auth::AuthService::new(db.clone()),
            instance: instance::InstanceService::new(db.clone()),
            db,
        }))
    }

    /// Closes the database (at shutdown).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// The services the process runs with right now. Finishing the install wizard replaces them in-process (the
/// database may change from the first start's SQLite to the Postgres the owner chose), without a restart.
#[derive(Clone)]
pub struct Runtime {
    current: Arc<RwLock<Arc<Services>>>,
}

impl Runtime {
    pub fn new(services: Arc<Services>) -> Self {
        Self { current: Arc::new(RwLock::new(services)) }
    }

    /// The current services.
    pub fn services(&self) -> Arc<Services> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Commits the installation and switches the running process over to the installed instance.
    pub async fn finish_install(&self, kit_saved: bool, actor_ip: Option<&str>) -> Result<String, install::StepError> {
        let before = self.services();
        let installed = before.install.finish(kit_saved, actor_ip).await?;
        let next = Services::new(&installed.config, installed.db.clone())
            .await
            .map_err(|e| install::StepError::Internal(e.to_string()))?;
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        // The first start put an SQLite database in the data directory; if the owner chose Postgres it is unused now.
        if matches!(installed.config.database, DatabaseUrl::Postgres(_))
            && before.db.backend() == crate::store::Backend::Sqlite
        {
            before.db.close().await;
            let path = installed.config.data_dir.sqlite_database();
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        Ok(installed.admin_email)
    }
}
