//! `conversure api-key create`: an API key for a workspace, from the server's shell, for scripted setups. The key is
//! printed once, alone on standard output; everything else goes to standard error.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::workspace::{close, fields_text, open_installed};
use super::{DatabaseArgs, fail};
use crate::config::Config;
use crate::services::api_keys::{ApiKeyError, NewKey};
use crate::services::workspaces::Owner;

#[derive(Debug, Clone, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a workspace and print it (once).
    Create(CreateArgs),
}

impl ApiKeyCommand {
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
    /// The workspace's slug.
    #[arg(long, value_name = "SLUG")]
    pub workspace: String,
    /// A name that says who uses the key, e.g. "Billing sync".
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// read (GET only), write, or admin (the team and API keys too; every request is audited).
    #[arg(long, value_name = "SCOPE", default_value = "read")]
    pub scope: String,
}

pub async fn run(config: Config, command: ApiKeyCommand) -> ExitCode {
    let ApiKeyCommand::Create(args) = command;
    if crate::domain::role::Scope::parse(&args.scope).is_none() {
        return fail(&format!("--scope: \"{}\" is not a scope; choose read, write or admin", args.scope));
    }
    let (data, services) = match open_installed(&config).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let new = NewKey { name: args.name.clone(), scope: args.scope.clone() };
    let result = services.api_keys.create_for_workspace(&Owner::cli(), &args.workspace, &new).await;
    close(data, &services).await;
    match result {
        Ok(created) => {
            eprintln!(
                "API key \"{}\" (scope {}, prefix {}) created for workspace {}. It is shown only this once:",
                created.key.name,
                created.key.scope,
                created.key.prefix,
                args.workspace.trim()
            );
            println!("{}", created.secret);
            ExitCode::SUCCESS
        }
        Err(ApiKeyError::NotFound) => {
            fail(&format!("--workspace: no workspace has the slug \"{}\"", args.workspace.trim()))
        }
        Err(ApiKeyError::Fields(fields)) => fail(&fields_text(&fields, option_for)),
        Err(ApiKeyError::Store(e)) => fail(&e.to_string()),
        Err(other) => fail(&other.to_string()),
    }
}

fn option_for(field: &str) -> &'static str {
    match field {
        "name" => "--name",
        "scope" => "--scope",
        _ => "api-key",
    }
}
