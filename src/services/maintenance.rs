//! Built-in schedules: clean-ups, SQLite upkeep, the WhatsApp numbers' daily quota reset with the warm-up
//! advanced, snoozed conversations reopened when due, the daily template sync and the hourly custom-domain
//! re-check, the update check every 12 hours, and the scheduled backup (checked every 5 minutes against the owner's
//! cron expression). (License re-checks arrive with their issue.)

use crate::jobs::cron::{Schedule, Schedules};
use crate::services::whatsapp::templates::TemplateService;
use crate::store::{Db, maintenance, now_millis};

/// The instance's built-in schedules over `db`; the daily template sync runs through the instance's template
/// service (it needs the data key and the HTTP client).
pub fn schedules(
    db: &Db,
    templates: &std::sync::Arc<TemplateService>,
    domains: &std::sync::Arc<crate::services::domains::DomainService>,
    update: &std::sync::Arc<crate::services::update::UpdateService>,
    backups: &std::sync::Arc<crate::services::backup::BackupService>,
) -> Schedules {
    let mut list = Vec::new();
    let cleanup_db = db.clone();
    let cleanup = Schedule::new("cleanup", "*/15 * * * *", true, move || {
        let db = cleanup_db.clone();
        async move {
            let mut tx = db.write().await.map_err(|e| e.to_string())?;
            let removed = maintenance::clean_up(&mut tx, now_millis()).await.map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(format!(
                "removed {} sessions, {} tokens, {} sign-in attempts, {} finished jobs, {} inbox events",
                removed.sessions, removed.tokens, removed.login_attempts, removed.jobs, removed.inbox_events
            ))
        }
    });
    let upkeep_db = db.clone();
    let upkeep = Schedule::new("database-upkeep", "30 3 * * *", true, move || {
        let db = upkeep_db.clone();
        async move {
            let mut conn = db.read().await.map_err(|e| e.to_string())?;
            maintenance::optimize(&mut conn).await.map(str::to_owned).map_err(|e| e.to_string())
        }
    });
    let whatsapp = [
        crate::services::whatsapp::quota::schedule(db),
        crate::services::whatsapp::organize::schedule(db),
        templates.schedule(),
        domains.schedule(),
        update.schedule(),
        backups.schedule(),
    ];
    for schedule in [cleanup, upkeep].into_iter().chain(whatsapp) {
        match schedule {
            Ok(schedule) => list.push(schedule),
            // The expressions above are constants covered by a test; a failure here is a programming error.
            Err(e) => tracing::error!(error = %e, "built-in schedule does not parse"),
        }
    }
    Schedules::new(list)
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn built_in_schedules_parse() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = crate::config::Overrides { data_dir: Some(dir.path().to_owned()), ..Default::default() };
        let config = crate::config::Config::load_from(&overrides, Default::default()).unwrap();
        let db = crate::store::Db::open(&config.database).await.unwrap();
        let shared = crate::services::whatsapp::Shared::new(&config, db.clone());
        let templates = std::sync::Arc::new(super::TemplateService::new(shared));
        crate::store::migrate::run(&db).await.unwrap();
        let domains =
            std::sync::Arc::new(crate::services::domains::DomainService::load(&config, db.clone()).await.unwrap());
        let backups = std::sync::Arc::new(crate::services::backup::BackupService::new(&config, db.clone()).unwrap());
        let link = crate::services::update::backup_link::PreUpdateBackup::new(backups);
        let update = std::sync::Arc::new(crate::services::update::UpdateService::new(&config, db.clone(), link));
        let backups = std::sync::Arc::new(crate::services::backup::BackupService::new(&config, db.clone()).unwrap());
        assert_eq!(super::schedules(&db, &templates, &domains, &update, &backups).list().len(), 8);
    }
}
