//! Use cases. Services own transactions, tenant scope and permissions; they know no HTTP and write no SQL text.

pub mod doctor;
pub mod health;
pub mod install;
pub mod site;

use std::sync::Arc;

use crate::config::Config;
use crate::store::Db;

/// Every service, handed to the web layer and the CLI.
pub struct Services {
    pub install: install::InstallService,
    pub site: site::SiteService,
    pub health: health::HealthService,
    pub doctor: doctor::DoctorService,
}

impl Services {
    /// Builds the services over an opened, migrated database.
    pub async fn new(config: &Config, db: Db) -> Result<Arc<Self>, install::InstallError> {
        Ok(Arc::new(Self {
            install: install::InstallService::init(db.clone(), config.data_dir.clone()).await?,
            site: site::SiteService::new(db.clone()),
            health: health::HealthService::new(db.clone()),
            doctor: doctor::DoctorService::new(config, Some(db)),
        }))
    }
}
