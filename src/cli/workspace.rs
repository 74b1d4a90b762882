//! `conversure workspace create`: provisions a workspace (a tenant) from the server's shell, as the owner, through
//! the same service the owner panel and the owner API use.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::{DatabaseArgs, fail};
use crate::config::Config;
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::services::Services;
use crate::services::workspaces::{NewWorkspace, Owner, WorkspaceError};
use crate::startup::{self, OpenedData};

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; with --admin-email, an existing user becomes its admin.
    Create(CreateArgs),
}

impl WorkspaceCommand {
    pub fn database(&self) -> &DatabaseArgs {
        match self {
            Self::Create(args) => &args.database,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The workspace's display name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Its short name: 2–40 of a-z, 0-9 and inner hyphens.
    #[arg(long, value_name = "SLUG")]
    pub slug: String,
    /// An existing user of this installation to make the workspace's admin.
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: Option<String>,
    /// IANA time zone (default UTC).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

pub async fn run(config: Config, command: WorkspaceCommand) -> ExitCode {
    let WorkspaceCommand::Create(args) = command;
    let (data, services) = match open_installed(&config).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let new = NewWorkspace {
        name: args.name.clone(),
        slug: args.slug.clone(),
        timezone: args.timezone.clone().unwrap_or_default(),
        admin_email: args.admin_email.clone(),
    };
    let result = services.workspaces.create(&Owner::cli(), &new).await;
    close(data, &services).await;
    match result {
        Ok(workspace) => {
            println!("created workspace {} (id {}): {}", workspace.slug, workspace.id, workspace.name);
            println!("time zone: {}", workspace.timezone);
            match &args.admin_email {
                Some(email) => println!("admin: {}", email.trim()),
                None => println!("admin: none yet (add one from the owner panel or the API)"),
            }
            ExitCode::SUCCESS
        }
        Err(WorkspaceError::Fields(fields)) => fail(&fields_text(&fields, option_for)),
        Err(WorkspaceError::Refused(msg)) => fail(&msg.render(Lang::En)),
        Err(WorkspaceError::NotFound) => fail("the workspace disappeared while it was created; try again"),
        Err(WorkspaceError::Store(e)) => fail(&e.to_string()),
    }
}

fn option_for(field: &str) -> &'static str {
    match field {
        "name" => "--name",
        "slug" => "--slug",
        "admin_email" => "--admin-email",
        "timezone" => "--timezone",
        _ => "workspace",
    }
}

/// `--option: message; --other: message`, on one line.
pub(super) fn fields_text(fields: &[(&'static str, Msg)], option_for: fn(&str) -> &'static str) -> String {
    let parts: Vec<String> =
        fields.iter().map(|(field, msg)| format!("{}: {}", option_for(field), msg.render(Lang::En))).collect();
    parts.join("; ")
}

/// Opens the data directory and its services, refusing one that is not installed (and leaving it as it was).
pub(super) async fn open_installed(config: &Config) -> Result<(OpenedData, Arc<Services>), ExitCode> {
    let mut data = startup::open_data(config).await.map_err(|e| fail(&e.to_string()))?;
    let services = match Services::new(config, data.db.clone()).await {
        Ok(services) => services,
        Err(e) => {
            data.db.close().await;
            return Err(fail(&e.to_string()));
        }
    };
    if !services.install.is_installed() {
        services.close().await;
        return Err(fail(&format!(
            "{} is not an installed Conversure data directory; install first (conversure install, or the browser wizard)",
            config.data_dir.root().display()
        )));
    }
    data.keep();
    Ok((data, services))
}

/// Closes the database before the data directory's lock goes.
pub(super) async fn close(data: OpenedData, services: &Services) {
    services.close().await;
    drop(data);
}
