//! `conversure update check|apply`, and `serve`'s hand-over to the update's health gate. Both commands go through
//! the same [`UpdateService`](crate::services::update::UpdateService) as the owner's page and the API.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::workspace::{close, open_installed};
use super::{DatabaseArgs, fail};
use crate::config::Config;
use crate::lifecycle::StopRequest;
use crate::services::update::{UpdateStatus, gate};
use crate::services::workspaces::Owner;
use crate::startup::Application;

#[derive(Debug, Clone, Subcommand)]
pub enum UpdateCommand {
    /// Ask the release server for a newer version and print it with its notes.
    Check(UpdateArgs),
    /// Install the newest version: verify, back up, replace the executable, start it once and check its health
    /// (rolled back if it fails). Stop the service first; start it again afterwards.
    Apply(UpdateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The address the new version listens on during its health check (default: the configured one).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

impl UpdateCommand {
    pub fn database(&self) -> &DatabaseArgs {
        &self.args().database
    }

    pub fn listen(&self) -> Option<String> {
        self.args().listen.clone()
    }

    fn args(&self) -> &UpdateArgs {
        match self {
            Self::Check(args) | Self::Apply(args) => args,
        }
    }
}

/// Serves until a signal, or until an installed update asks to hand over to the health gate.
pub(super) async fn serve_until_stopped(app: Application, config: &Config) -> ExitCode {
    let runtime = app.runtime();
    let waiting = runtime.clone();
    let stop_request = StopRequest::watch();
    let mut watching = stop_request.clone();
    let stop = async move {
        tokio::select! {
            () = watching.requested() => {}
            () = waiting.restart_requested() => tracing::info!("stopping to start the new version"),
        }
    };
    match app.run_until_stopped(stop).await {
        Ok(()) if runtime.is_restart_requested() => gate::after_serve(config, stop_request).await,
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

pub async fn run(config: Config, command: UpdateCommand) -> ExitCode {
    let (data, services) = match open_installed(&config).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let owner = Owner::cli();
    match command {
        UpdateCommand::Check(_) => {
            let checked = services.update.check(&owner).await;
            close(data, &services).await;
            match checked {
                Ok(status) => {
                    print_status(&status);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
        UpdateCommand::Apply(args) => {
            let applied = services.update.apply(&owner).await;
            // The health gate starts the new version on this data directory: release the lock first.
            close(data, &services).await;
            match applied {
                Ok(attempt) => gate_and_report(&config, &args, &attempt.to).await,
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

fn print_status(status: &UpdateStatus) {
    println!("current version: {}", status.current);
    let Some(check) = &status.check else { return };
    if let Some(error) = &check.error {
        println!("check failed: {error}");
        return;
    }
    let latest = check.latest_version.as_deref().unwrap_or("unknown");
    println!("latest version: {latest}");
    match (&status.available, &status.blocked) {
        (Some(offered), None) => println!("version {offered} is available: run `conversure update apply`"),
        (Some(offered), Some(reason)) => println!("version {offered} is available, but {reason}"),
        (None, _) => println!("this is the newest version"),
    }
    if status.available.is_some() && !check.notes.trim().is_empty() {
        println!("\n{}", check.notes.trim());
    }
}

/// Starts the new executable once (`serve` on this data directory), checks its health and stops it.
async fn gate_and_report(config: &Config, args: &UpdateArgs, to: &str) -> ExitCode {
    let mut serve_args: Vec<OsString> =
        vec!["serve".into(), "--data-dir".into(), config.data_dir.root().as_os_str().to_owned()];
    if let Some(url) = &args.database.database_url {
        serve_args.extend(["--database-url".into(), url.into()]);
    }
    serve_args.extend(["--listen".into(), config.listen.to_string().into()]);
    let mut stop_request = StopRequest::watch();
    match gate::run(config, &serve_args, &mut stop_request).await.and_then(|attempt| attempt.outcome) {
        Some(outcome) if outcome.succeeded => {
            println!("updated to {to}; start the service again");
            ExitCode::SUCCESS
        }
        Some(outcome) => fail(&format!(
            "the update to {to} failed and was rolled back (the previous version and its data are back): {}",
            outcome.reason
        )),
        None => fail("the update's state file is missing; check the data directory"),
    }
}
