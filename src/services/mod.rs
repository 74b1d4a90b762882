//! Use cases. Services own transactions, tenant scope and permissions; they know no HTTP and write no SQL text.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod dashboard;
pub mod doctor;
pub mod domains;
pub mod health;
pub mod https;
pub mod install;
pub mod instance;
pub mod jobs;
pub mod limits;
pub mod maintenance;
pub mod security;
pub mod session_workspace;
pub mod settings;
pub mod site;
pub mod team;
pub mod update;
pub mod whatsapp;
pub mod workspaces;

use std::sync::{Arc, RwLock};

use crate::config::{Config, DatabaseUrl};
use crate::store::Db;

/// Every service, handed to the web layer and the CLI.
pub struct Services {
    db: Db,
    /// The job lease of the configuration.
    job_lease: std::time::Duration,
    pub install: install::InstallService,
    pub site: site::SiteService,
    pub health: health::HealthService,
    pub doctor: doctor::DoctorService,
    pub auth: auth::AuthService,
    pub instance: instance::InstanceService,
    pub security: Arc<security::SecurityService>,
    pub team: team::TeamService,
    pub jobs: jobs::JobsService,
    pub workspaces: workspaces::WorkspaceService,
    pub dashboard: dashboard::DashboardService,
    pub audit: audit::AuditService,
    pub settings: settings::SettingsService,
    pub session_workspace: session_workspace::SessionWorkspaceService,
    pub api_keys: api_keys::ApiKeyService,
    pub numbers: whatsapp::numbers::NumberService,
    pub ingest: whatsapp::ingest::IngestService,
    pub outbound: Arc<whatsapp::outbound::OutboundService>,
    pub conversations: whatsapp::conversations::ConversationService,
    pub media: Arc<whatsapp::media::MediaService>,
    pub live: whatsapp::live::LiveService,
    pub organize: whatsapp::organize::OrganizeService,
    pub quick_replies: whatsapp::quick_replies::QuickReplyService,
    pub contacts: whatsapp::contacts::ContactService,
    pub composer: whatsapp::composer::ComposerService,
    pub templates: Arc<whatsapp::templates::TemplateService>,
    pub update: Arc<update::UpdateService>,
    pub domains: Arc<domains::DomainService>,
    pub backups: Arc<backup::BackupService>,
    pub https: https::HttpsSettingsService,
}

impl Services {
    /// Builds the services over an opened, migrated database.
    pub async fn new(config: &Config, db: Db) -> Result<Arc<Self>, install::InstallError> {
        let security = Arc::new(security::SecurityService::new(config, db.clone()));
        let whatsapp = whatsapp::Shared::new(config, db.clone());
        let templates = Arc::new(whatsapp::templates::TemplateService::new(whatsapp.clone()));
        let domains = Arc::new(domains::DomainService::load(config, db.clone()).await?);
        let backups = Arc::new(
            backup::BackupService::new(config, db.clone())
                .map_err(|e| install::InstallError::Backups(e.to_string()))?,
        );
        let update = Arc::new(update::UpdateService::new(
            config,
            db.clone(),
            update::backup_link::PreUpdateBackup::new(Arc::clone(&backups)),
        ));
        Ok(Arc::new(Self {
            numbers: whatsapp::numbers::NumberService::new(whatsapp.clone()),
            ingest: whatsapp::ingest::IngestService::new(whatsapp.clone()),
            outbound: Arc::new(whatsapp::outbound::OutboundService::new(whatsapp.clone())),
            conversations: whatsapp::conversations::ConversationService::new(whatsapp.clone()),
            live: whatsapp::live::LiveService::new(whatsapp.clone()),
            organize: whatsapp::organize::OrganizeService::new(whatsapp.clone()),
            quick_replies: whatsapp::quick_replies::QuickReplyService::new(whatsapp.clone()),
            contacts: whatsapp::contacts::ContactService::new(whatsapp.clone()),
            composer: whatsapp::composer::ComposerService::new(whatsapp.clone()),
            templates: Arc::clone(&templates),
            update: Arc::clone(&update),
            media: Arc::new(whatsapp::media::MediaService::new(whatsapp)),
            install: install::InstallService::init(config, db.clone()).await?,
            site: site::SiteService::new(db.clone()),
            health: health::HealthService::new(db.clone()),
            doctor: doctor::DoctorService::new(config, Some(db.clone())),
            auth: auth::AuthService::new(db.clone()),
            instance: instance::InstanceService::new(db.clone()),
            security: Arc::clone(&security),
            team: team::TeamService::new(db.clone(), Arc::clone(&security)),
            jobs: jobs::JobsService::new(
                db.clone(),
                maintenance::schedules(&db, &templates, &domains, &update, &backups),
            ),
            workspaces: workspaces::WorkspaceService::new(db.clone()).with_domains(Arc::clone(&domains)),
            dashboard: dashboard::DashboardService::new(db.clone(), Arc::clone(&security)),
            audit: audit::AuditService::new(db.clone()),
            settings: settings::SettingsService::new(db.clone()),
            session_workspace: session_workspace::SessionWorkspaceService::new(db.clone()),
            api_keys: api_keys::ApiKeyService::new(db.clone()),
            domains,
            backups,
            https: https::HttpsSettingsService::new(config, db.clone()),
            job_lease: config.job_lease,
            db,
        }))
    }

    /// Closes the database (at shutdown).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// The job workers and the cron scheduler of the current database.
struct Background {
    workers: crate::jobs::runner::Workers,
    stop_cron: tokio::sync::watch::Sender<bool>,
    cron: tokio::task::JoinHandle<()>,
}

/// The services the process runs with right now. Finishing the install wizard replaces them in-process (the
/// database may change from the first start's SQLite to the Postgres the owner chose), without a restart.
#[derive(Clone)]
pub struct Runtime {
    current: Arc<RwLock<Arc<Services>>>,
    background: Arc<tokio::sync::Mutex<Option<Background>>>,
    /// Set when an installed update asks `serve` to hand over to the health gate.
    restart: Arc<update::RestartRequest>,
}

impl Runtime {
    pub fn new(services: Arc<Services>) -> Self {
        Self { current: Arc::new(RwLock::new(services)), background: Arc::default(), restart: Arc::default() }
    }

    /// The current services.
    pub fn services(&self) -> Arc<Services> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Starts the job workers and cron over the current database, once the instance is installed (before that
    /// there is nothing to run, and the database may still change).
    pub async fn start_background(&self) {
        let services = self.services();
        if !services.install.is_installed() {
            return;
        }
        let mut background = self.background.lock().await;
        if background.is_some() {
            return;
        }
        services.update.report_finished_attempt().await;
        if let Err(e) = services.jobs.ensure_cron_token().await {
            tracing::warn!(error = %e, "could not create the web cron token");
        }
        let schedules = maintenance::schedules(
            &services.db,
            &services.templates,
            &services.domains,
            &services.update,
            &services.backups,
        );
        let mut registry = crate::jobs::Registry::new();
        schedules.register(&mut registry);
        services.outbound.register(&mut registry);
        services.media.register(&mut registry);
        registry.rates(whatsapp::outbound::rate_of);
        let options = crate::jobs::runner::Options { lease: services.job_lease, ..Default::default() };
        let workers = crate::jobs::runner::start(services.db.clone(), registry, options);
        let (stop_cron, stopped) = tokio::sync::watch::channel(false);
        let cron = tokio::spawn(crate::jobs::cron::run(
            schedules,
            services.db.clone(),
            std::time::Duration::from_secs(15),
            stopped,
        ));
        *background = Some(Background { workers, stop_cron, cron });
    }

    /// Stops cron and lets running jobs finish within `grace`.
    pub async fn stop_background(&self, grace: std::time::Duration) {
        if let Some(background) = self.background.lock().await.take() {
            let _ = background.stop_cron.send(true);
            let _ = background.cron.await;
            background.workers.shutdown(grace).await;
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
        self.start_background().await;
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
