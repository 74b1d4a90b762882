//! The command line: `serve` (the default), `install`, `migrate`, `admin`, `workspace`, `api-key`, `doctor`,
//! `version`.

mod api_key;
mod backup;
mod install;
mod update;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::domain::check::{self, Status};
use crate::i18n::Lang;
use crate::services::doctor::DoctorService;
use crate::startup::{self, Application};
use crate::store::migrate;

const ABOUT: &str =
    "Self-hosted WhatsApp CRM: team inbox, contacts, templates, campaigns and automations in one binary.";
const AFTER_HELP: &str = "Configuration, lowest to highest precedence: built-in defaults, config.toml in the data \
directory, CONVERSURE_* environment variables (CONVERSURE_DATA_DIR, CONVERSURE_LISTEN, CONVERSURE_DATABASE_URL, \
CONVERSURE_LOG_FORMAT, CONVERSURE_LOG_LEVEL, CONVERSURE_PUBLIC_URL, CONVERSURE_NETWORK_PROBE_URL; secrets also as \
*_FILE), then flags. Without a command, Conversure serves.";

/// `conversure [COMMAND]`.
#[derive(Debug, Parser)]
#[command(name = "conversure", version, about = ABOUT, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, which runs when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server, the job queue and the connectors (the default).
    Serve(ServeArgs),
    /// Install without the browser wizard (same checks), for scripted setups.
    Install(install::InstallArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Administration from the server's shell.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Workspaces (tenants), as the instance owner, for scripted setups.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// API keys of a workspace, as the instance owner, for scripted setups.
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Backups: make one, list them, restore one (the same code as the owner's Backups page).
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Check for a new version, or install it (with the server stopped).
    #[command(subcommand)]
    Update(update::UpdateCommand),
    /// Check that this server meets Conversure's requirements; exits 1 when a check fails.
    Doctor(DoctorArgs),
    /// Print the version and the database schema version this binary supports.
    Version,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Reset the instance owner's password with the recovery code from the recovery kit.
    ResetPassword(ResetPasswordArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ResetPasswordArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The owner's email.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// The admin recovery code from the recovery kit.
    #[arg(long, value_name = "CODE")]
    pub recovery_code: String,
    /// A file holding the new password (its first line).
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
}

/// Where the data lives and which database to use.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// The data directory (default: the platform's data directory, e.g. ~/.local/share/conversure).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://user:password@host:port/database (default: SQLite in the data directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on (default 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ServeArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.database.data_dir.clone(),
            listen: self.listen.clone(),
            database_url: self.database.database_url.clone(),
        }
    }
}

/// Runs the parsed command line; the exit code says how it went.
pub fn run(cli: Cli) -> ExitCode {
    let (overrides, command) = match cli.command {
        None => (cli.serve.overrides(), Command::Serve(cli.serve)),
        Some(Command::Version) => {
            println!("conversure {}", crate::services::update::version());
            println!("schema version {}", migrate::latest_version());
            println!("databases: sqlite {} (bundled), postgres 13 or newer", rusqlite::version());
            return ExitCode::SUCCESS;
        }
        Some(Command::Serve(args)) => (args.overrides(), Command::Serve(args)),
        Some(Command::Migrate(args)) => {
            (ServeArgs { database: args.clone(), listen: None }.overrides(), Command::Migrate(args))
        }
        Some(Command::Doctor(args)) => (args.serve.overrides(), Command::Doctor(args)),
        Some(Command::Admin(AdminCommand::ResetPassword(args))) => (
            ServeArgs { database: args.database.clone(), listen: None }.overrides(),
            Command::Admin(AdminCommand::ResetPassword(args)),
        ),
        Some(Command::Install(args)) => {
            (ServeArgs { database: args.database.clone(), listen: None }.overrides(), Command::Install(args))
        }
        Some(Command::Workspace(cmd)) => {
            (ServeArgs { database: cmd.database().clone(), listen: None }.overrides(), Command::Workspace(cmd))
        }
        Some(Command::Update(cmd)) => {
            (ServeArgs { database: cmd.database().clone(), listen: cmd.listen() }.overrides(), Command::Update(cmd))
        }
        Some(Command::Backup(cmd)) => {
            (ServeArgs { database: cmd.database(), listen: None }.overrides(), Command::Backup(cmd))
        }
        Some(Command::ApiKey(cmd)) => {
            (ServeArgs { database: cmd.database().clone(), listen: None }.overrides(), Command::ApiKey(cmd))
        }
    };
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    crate::telemetry::init(config.log_format, &config.log_level);
    for name in &config.unknown_env {
        tracing::warn!(variable = %name, "unknown CONVERSURE_ environment variable ignored (a typo?)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match command {
            Command::Serve(_) => serve(config).await,
            Command::Migrate(_) => migrate_now(config).await,
            Command::Doctor(args) => doctor(config, args.json).await,
            Command::Install(args) => install::run(config, args).await,
            Command::Workspace(cmd) => workspace::run(config, cmd).await,
            Command::ApiKey(cmd) => api_key::run(config, cmd).await,
            Command::Backup(cmd) => backup::run(config, cmd).await,
            Command::Update(cmd) => update::run(config, cmd).await,
            Command::Admin(AdminCommand::ResetPassword(args)) => reset_password(config, args).await,
            Command::Version => ExitCode::SUCCESS,
        }
    })
}

pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn serve(config: Config) -> ExitCode {
    let app = match Application::build(config.clone()).await {
        // On-demand certificates for the verified custom domains (the configured `tls_domains` are kept anyway).
        Ok(app) => app.with_host_policy(|runtime| {
            std::sync::Arc::new(crate::services::domains::policy::VerifiedDomains::new(runtime.clone()))
        }),
        Err(e) => return fail(&e.to_string()),
    };
    println!("{}", app.banner());
    update::serve_until_stopped(app, &config).await
}

async fn migrate_now(config: Config) -> ExitCode {
    let target = config.database.display_redacted();
    match startup::open_data(&config).await {
        Ok(mut data) => {
            let report = data.migrations.clone();
            data.db.close().await;
            // Keep what was created: a successful migrate of a new SQLite database is the point of the command.
            data.keep();
            if report.applied.is_empty() {
                println!("{target} is up to date at schema version {}.", report.to);
            } else {
                for name in &report.applied {
                    println!("applied {name}");
                }
                println!("{target} migrated from schema version {} to {}.", report.from, report.to);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn doctor(config: Config, json: bool) -> ExitCode {
    let checks = DoctorService::new(&config, None).run(None).await;
    let lang = Lang::En;
    if json {
        let list: Vec<_> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "status": c.status, "title": c.title.render(lang),
                    "detail": c.detail.render(lang), "fix": c.fix.as_ref().map(|f| f.render(lang)),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "overall": check::overall(&checks), "checks": list }));
    } else {
        for c in &checks {
            let mark = match c.status {
                Status::Pass => "pass",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            println!("[{mark}] {}: {}", c.title.render(lang), c.detail.render(lang));
            if let Some(fix) = &c.fix {
                println!("       fix: {}", fix.render(lang));
            }
        }
    }
    if check::overall(&checks) == Status::Fail { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

async fn reset_password(config: Config, args: ResetPasswordArgs) -> ExitCode {
    let password = match std::fs::read_to_string(&args.password_file) {
        Ok(text) => text.lines().next().unwrap_or_default().to_owned(),
        Err(e) => return fail(&format!("--password-file {}: {e}", args.password_file.display())),
    };
    let mut data = match startup::open_data(&config).await {
        Ok(data) => data,
        Err(e) => return fail(&e.to_string()),
    };
    data.keep();
    let auth = crate::services::auth::AuthService::new(data.db.clone());
    let result = auth.recover_owner(&args.email, &args.recovery_code, &password).await;
    data.db.close().await;
    match result {
        Ok(next_code) => {
            println!("The password of {} is reset and their sessions are signed out.", args.email);
            println!("The recovery code is used up. The new one is: {next_code}");
            println!("Write it into your recovery kit in place of the old one.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}
