//! `conversure install`: the install wizard without a browser, through the same service and the same checks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{DatabaseArgs, fail};
use crate::config::{Config, DatabaseUrl};
use crate::domain::check::Status;
use crate::i18n::Lang;
use crate::services::Runtime;
use crate::services::install::{AdminForm, DatabaseForm, EmailForm, LicenseChoice, SiteForm, StepError};
use crate::startup;

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("license").required(true).args(["license_file", "purchase_code", "evaluation"]))]
pub struct InstallArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The first admin's email.
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: String,
    /// A file holding the admin's password (its first line), so the password stays out of shell history.
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: PathBuf,
    /// The address users reach this instance at, for example https://crm.example.com.
    #[arg(long, value_name = "URL")]
    pub site_url: String,
    /// Serve HTTPS for the site URL's domain with a free automatic certificate (Let's Encrypt); the domain's DNS
    /// must point at this server and ports 80 and 443 must reach it. Takes effect when `serve` starts.
    #[arg(long)]
    pub https: bool,
    #[arg(long, value_name = "NAME", default_value = "Main")]
    pub workspace_name: String,
    /// Default: derived from the workspace name.
    #[arg(long, value_name = "SLUG")]
    pub workspace_slug: Option<String>,
    /// A license file (verified offline).
    #[arg(long, value_name = "FILE")]
    pub license_file: Option<PathBuf>,
    /// A purchase code to activate online.
    #[arg(long, value_name = "CODE")]
    pub purchase_code: Option<String>,
    /// Start in evaluation mode.
    #[arg(long)]
    pub evaluation: bool,
    /// Succeed without changing anything when the instance is already installed.
    #[arg(long)]
    pub idempotent: bool,
}

/// Runs the install; prints each step, and the reason next to the option that caused a failure.
pub async fn run(mut config: Config, args: InstallArgs) -> ExitCode {
    // A database given here is the one to install into and to remember, not an operator override of config.toml.
    config.fixed_by_operator.retain(|key| *key != "database_url");
    let password = match std::fs::read_to_string(&args.admin_password_file) {
        Ok(text) => text.lines().next().unwrap_or_default().to_owned(),
        Err(e) => return fail(&format!("--admin-password-file {}: {e}", args.admin_password_file.display())),
    };
    let license = match (&args.license_file, &args.purchase_code) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(text) => LicenseChoice::File(text),
            Err(e) => return fail(&format!("--license-file {}: {e}", path.display())),
        },
        (None, Some(code)) => LicenseChoice::PurchaseCode { code: code.clone(), site_url: args.site_url.clone() },
        (None, None) => LicenseChoice::Evaluation,
    };
    let database_form = match &config.database {
        DatabaseUrl::Postgres(url) => {
            DatabaseForm { kind: "postgres".into(), url: url.expose().to_owned(), ..DatabaseForm::default() }
        }
        DatabaseUrl::Sqlite(_) => DatabaseForm { kind: "sqlite".into(), ..DatabaseForm::default() },
    };

    let mut data = match startup::open_data(&config).await {
        Ok(data) => data,
        Err(e) => return fail(&e.to_string()),
    };
    let services = match crate::services::Services::new(&config, data.db.clone()).await {
        Ok(services) => services,
        Err(e) => return fail(&e.to_string()),
    };
    data.keep();
    let install = &services.install;
    if install.is_installed() {
        return if args.idempotent {
            println!("Already installed; nothing changed.");
            ExitCode::SUCCESS
        } else {
            fail("this data directory is already installed (use --idempotent to accept that)")
        };
    }
    let say = |e: StepError, option: &str| -> ExitCode {
        match e {
            StepError::Fields(fields) => {
                let text: Vec<String> = fields
                    .iter()
                    .map(|(field, msg)| format!("{}: {}", option_for(field, option), msg.render(Lang::En)))
                    .collect();
                fail(&text.join("; "))
            }
            StepError::Message(msg) => fail(&format!("{option}: {}", msg.render(Lang::En))),
            StepError::OutOfOrder(step) => fail(&format!("the {} step is not done", step.slug())),
            StepError::AlreadyInstalled => fail("already installed"),
            StepError::Internal(detail) => fail(&detail),
        }
    };

    let checks = install.check_requirements(None).await;
    for check in checks.iter().filter(|c| c.status == Status::Fail) {
        eprintln!("requirement failed: {}: {}", check.title.render(Lang::En), check.detail.render(Lang::En));
    }
    if let Err(e) = install.accept_requirements(None).await {
        return say(e, "requirements");
    }
    println!("requirements: ok");
    match install.choose_database(&database_form).await {
        Ok((probe, report)) => {
            println!("database: {} at {} (schema version {})", probe.server, probe.target, report.to)
        }
        Err(e) => return say(e, "--database-url"),
    }
    match install.choose_license(license).await {
        Ok(license) => println!("license: {}", license.status_msg(crate::store::now_millis()).render(Lang::En)),
        Err(e) => return say(e, "license"),
    }
    let timezone = jiff::tz::TimeZone::system().iana_name().unwrap_or("UTC").to_owned();
    let site = SiteForm {
        name: args.workspace_name.clone(),
        public_url: args.site_url.clone(),
        timezone,
        language: "en".into(),
        https: args.https,
    };
    if let Err(e) = install.save_site(&site).await {
        return say(e, "--site-url");
    }
    println!("site: {}", args.site_url);
    let admin_name = args.admin_email.split('@').next().unwrap_or("Admin").to_owned();
    let admin = AdminForm {
        workspace_name: args.workspace_name.clone(),
        workspace_slug: args.workspace_slug.clone().unwrap_or_default(),
        name: admin_name,
        email: args.admin_email.clone(),
        password: password.clone(),
        password_confirm: password,
    };
    if let Err(e) = install.save_admin(&admin).await {
        return say(e, "admin");
    }
    println!("workspace and admin: {} <{}>", args.workspace_name, args.admin_email);
    if let Err(e) = install.save_email(&EmailForm { skip: true, ..EmailForm::default() }).await {
        return say(e, "email");
    }
    let kit_path = config.data_dir.root().join("recovery-kit.txt");
    match install.recovery_kit().await {
        Ok(kit) => {
            if let Err(e) = crate::config::write::write_atomically(&kit_path, &kit) {
                return fail(&format!("cannot write the recovery kit {}: {e}", kit_path.display()));
            }
        }
        Err(e) => return say(e, "recovery kit"),
    }
    let runtime = Runtime::new(services.clone());
    match runtime.finish_install(true, None).await {
        Ok(email) => {
            // The command ends here: no workers should start on its behalf.
            runtime.stop_background(std::time::Duration::ZERO).await;
            runtime.services().close().await;
            println!("installed: sign in at {}/login as {email}", args.site_url.trim_end_matches('/'));
            println!("recovery kit: {} (move it somewhere safe and delete it from the server)", kit_path.display());
            println!("email (SMTP) is not configured yet; set it up in the settings");
            ExitCode::SUCCESS
        }
        Err(e) => say(e, "finish"),
    }
}

/// The command-line option that corresponds to a form field, for error messages.
fn option_for(field: &str, fallback: &str) -> String {
    match field {
        "email" => "--admin-email".into(),
        "password" | "password_confirm" => "--admin-password-file".into(),
        "workspace_name" | "name" => "--workspace-name".into(),
        "workspace_slug" => "--workspace-slug".into(),
        "public_url" => "--site-url".into(),
        "https" => "--https".into(),
        "license_file" => "--license-file".into(),
        "purchase_code" => "--purchase-code".into(),
        "url" | "host" => "--database-url".into(),
        _ => fallback.to_owned(),
    }
}
