//! Wizard step "Finish": the recovery kit, then one commit that writes `config.toml` and the database together, or
//! neither: a failure puts the previous `config.toml` back, so the wizard can simply be finished again.

use super::draft::{DatabaseChoice, Draft, EmailDraft};
use super::{INSTALLED_KEY, InstallService, Step, StepError};
use crate::config::{Config, DatabaseUrl, Secret};
use crate::domain::msg::Msg;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, accounts, audit, now_millis};

/// A finished installation: the configuration and database the instance now runs with.
pub struct Installed {
    pub config: Config,
    pub db: Db,
    /// The admin's email, for the sign-in page.
    pub admin_email: String,
}

impl InstallService {
    /// The recovery kit: what an owner needs to get back in or to restore elsewhere, as a text file.
    pub async fn recovery_kit(&self) -> Result<String, StepError> {
        self.may_open(Step::Finish).await?;
        let draft = self.draft().await;
        let admin = draft.admin.as_ref().map_or("", |a| a.email.as_str());
        let site = draft.site.as_ref().map_or("", |s| s.public_url.as_str());
        let license = draft.license.clone().unwrap_or_default();
        let kit = format!(
            "Conversure recovery kit\n\
             =======================\n\n\
             Keep this file offline and private (a password manager or a printed copy in a safe place).\n\
             Anyone holding it can decrypt this instance's stored credentials and reset the admin password.\n\n\
             Instance id:          {}\n\
             Site:                 {site}\n\
             Created:              {}\n\n\
             Data encryption key:  {}\n\
             (needed to restore a backup on another server; also in config.toml as encryption_key)\n\n\
             Admin account:        {admin}\n\
             Admin recovery code:  {}\n\
             (one-time code to reset the admin password: conversure admin reset-password)\n\n\
             License:\n{license}\n",
            draft.instance_id,
            jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
            draft.secrets.encryption_key,
            draft.secrets.recovery_code,
        );
        self.update_draft(|d| d.kit_downloaded = true).await?;
        Ok(kit)
    }

    /// Commits the installation. `kit_saved` is the owner's confirmation that the recovery kit is kept.
    pub async fn finish(&self, kit_saved: bool, actor_ip: Option<&str>) -> Result<Installed, StepError> {
        self.may_open(Step::Finish).await?;
        if !kit_saved {
            return Err(StepError::field("kit_saved", Msg::new("install.finish.kit_required")));
        }
        let draft = self.draft().await;
        let (Some(choice), Some(license), Some(site), Some(admin), Some(email)) =
            (&draft.database, &draft.license, &draft.site, &draft.admin, &draft.email)
        else {
            return Err(StepError::OutOfOrder(self.next_step().await));
        };
        let db = self.open_chosen(choice).await?;
        let fixed = &self.config.fixed_by_operator;
        let secrets = draft.secrets.clone();
        let database_url = match choice {
            DatabaseChoice::Postgres { url } if !fixed.contains(&"database_url") => Some(url.clone()),
            _ => None,
        };
        let previous = crate::config::write::update(&self.config.data_dir, |file| {
            if let Some(url) = &database_url {
                file.database_url = Some(url.clone());
            }
            if !fixed.contains(&"public_url") {
                file.public_url = Some(site.public_url.clone());
            }
            file.session_secret = Some(secrets.session_secret.clone());
            file.encryption_key = Some(secrets.encryption_key.clone());
            // HTTPS starts with the restart that follows (the finish page restarts when the settings changed).
            if let Some(domain) = site.https.then(|| super::steps::certificate_domain(&site.public_url)).flatten() {
                file.tls_mode = Some("auto".to_owned());
                file.tls_domains = Some(domain);
                file.acme_email = file.acme_email.take().or_else(|| Some(admin.email.clone()));
            }
        })?;
        if let Err(e) = commit(&db, &draft, actor_ip).await {
            if let Err(restore) = crate::config::write::restore(&self.config.data_dir, &previous) {
                tracing::error!(error = %restore, "could not restore config.toml after a failed install");
            }
            return Err(match e {
                StoreError::Conflict { .. } => StepError::Message(Msg::new("install.finish.conflict")),
                other => other.into(),
            });
        }
        self.installed.store(true, std::sync::atomic::Ordering::Release);
        if let Ok(mut token) = self.token.write() {
            *token = None;
        }
        let _ = std::fs::remove_file(self.config.data_dir.setup_token_file());
        Draft::remove(&self.config.data_dir);
        tracing::info!(admin = %admin.email, email = matches!(email, EmailDraft::Configured { .. }), license_len = license.len(), "installation finished");

        let mut config = self.config.clone();
        if let DatabaseChoice::Postgres { url } = choice {
            config.database = DatabaseUrl::Postgres(Secret::new(url.clone()));
        }
        if !fixed.contains(&"public_url") {
            config.public_url = url::Url::parse(&site.public_url).ok();
        }
        config.session_secret = Some(Secret::new(secrets.session_secret.clone()));
        config.encryption_key = Some(Secret::new(secrets.encryption_key.clone()));
        Ok(Installed { config, db, admin_email: admin.email.clone() })
    }
}

/// Everything the installation writes into the database, in one transaction.
async fn commit(db: &Db, draft: &Draft, actor_ip: Option<&str>) -> Result<(), StoreError> {
    let (Some(license), Some(site), Some(admin), Some(email)) =
        (&draft.license, &draft.site, &draft.admin, &draft.email)
    else {
        return Err(StoreError::Backend("the setup is incomplete".into()));
    };
    let recovery_hash =
        crate::services::auth::hash_password(&draft.secrets.recovery_code).await.map_err(StoreError::Backend)?;
    let mut tx = db.write().await?;
    let workspace_id =
        accounts::create_workspace(&mut tx, &admin.workspace_slug, &admin.workspace_name, &site.timezone).await?;
    let email_lower = admin.email.to_lowercase();
    let new_user = accounts::NewUser {
        email: &admin.email,
        email_lower: &email_lower,
        name: &admin.name,
        password_hash: Some(&admin.password_hash),
        is_owner: true,
    };
    let user_id = accounts::create_user(&mut tx, &new_user).await?;
    accounts::add_membership(&mut tx, workspace_id, user_id, "admin").await?;
    let mut values: Vec<(String, String)> = vec![
        ("instance.id".into(), draft.instance_id.clone()),
        ("brand.name".into(), site.name.clone()),
        ("site.public_url".into(), site.public_url.clone()),
        ("site.timezone".into(), site.timezone.clone()),
        ("site.language".into(), site.language.clone()),
        ("license.stored".into(), license.clone()),
        ("admin.recovery_code_hash".into(), recovery_hash),
    ];
    if let EmailDraft::Configured { settings } = email {
        values.extend(settings.iter().cloned());
    }
    for (key, value) in &values {
        settings::put(&mut tx, Scope::Instance, key, value).await?;
    }
    audit::record(
        &mut tx,
        &audit::Entry {
            workspace_id: Some(workspace_id),
            actor_user_id: Some(user_id),
            actor_label: &admin.email,
            action: "instance.installed",
            target: Some(&admin.workspace_slug),
            detail: serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }),
            ip: actor_ip,
        },
    )
    .await?;
    // Last, in the same transaction: the marker appears only together with everything above.
    settings::put(&mut tx, Scope::Instance, INSTALLED_KEY, &now_millis().to_string()).await?;
    tx.commit().await
}
