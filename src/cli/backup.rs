//! `conversure backup create|list|restore`: the same backup and restore code paths as the owner's page and API,
//! from the server's shell (restore needs the server stopped; create and list work beside a running server).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{DatabaseArgs, fail};
use crate::config::{Config, DatabaseUrl};
use crate::services::backup::{BackupKind, BackupService, RestoreRequest, restore_offline};
use crate::store::Db;

#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Make a backup now; with --out, also copy the archive to FILE.
    Create(CreateArgs),
    /// List the backups in the data directory, newest first.
    List(ListArgs),
    /// Restore an archive (a path, or a name from `backup list`); stop the server first.
    Restore(RestoreArgs),
}

impl BackupCommand {
    pub fn database(&self) -> DatabaseArgs {
        match self {
            Self::Create(args) => args.database.clone(),
            Self::List(args) => args.database.clone(),
            // The restore's --database-url is its target, not where the configuration points.
            Self::Restore(args) => DatabaseArgs { data_dir: args.data_dir.clone(), database_url: None },
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Copy the finished archive to this file as well.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Encrypt this archive with the passphrase in FILE (its first line) instead of the saved one.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The archive: a path, or a file name from `conversure backup list`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The data directory (default: the platform's data directory).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Restore into this database instead of the configured one (for example a Postgres to move to); it is then
    /// written into config.toml.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The archive's passphrase, in FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The encryption key from the recovery kit of the instance that made the backup, in FILE.
    #[arg(long, value_name = "FILE")]
    pub encryption_key_file: Option<PathBuf>,
}

pub async fn run(config: Config, command: BackupCommand) -> ExitCode {
    match command {
        BackupCommand::Create(args) => create(config, args).await,
        BackupCommand::List(_) => list(config).await,
        BackupCommand::Restore(args) => restore(config, args).await,
    }
}

fn first_line(path: &Path, flag: &str) -> Result<String, ExitCode> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().next().unwrap_or_default().trim_end().to_owned())
        .map_err(|e| fail(&format!("{flag} {}: {e}", path.display())))
}

/// The database as it is, without the data-directory lock: a backup only reads it, beside a running server.
async fn open(config: &Config) -> Result<BackupService, ExitCode> {
    let db = Db::open(&config.database).await.map_err(|e| fail(&e.to_string()))?;
    match BackupService::new(config, db.clone()) {
        Ok(service) => Ok(service),
        Err(e) => {
            db.close().await;
            Err(fail(&e.to_string()))
        }
    }
}

async fn create(config: Config, args: CreateArgs) -> ExitCode {
    let passphrase = match &args.passphrase_file {
        Some(path) => match first_line(path, "--passphrase-file") {
            Ok(p) if p.is_empty() => return fail("--passphrase-file: the file's first line is empty"),
            Ok(p) => Some(p),
            Err(code) => return code,
        },
        None => None,
    };
    if let Some(out) = &args.out
        && out.is_dir()
    {
        return fail(&format!("--out {}: is a directory; name the archive file", out.display()));
    }
    let service = match open(&config).await {
        Ok(service) => service,
        Err(code) => return code,
    };
    let made = service.create(BackupKind::Manual, Some("cli"), passphrase.as_deref()).await;
    let code = match made {
        Ok(summary) => {
            let archive = service.directory().join(&summary.file_name);
            println!("made {} ({} bytes)", archive.display(), summary.size);
            match &args.out {
                Some(out) => match std::fs::copy(&archive, out) {
                    Ok(_) => {
                        println!("copied to {}", out.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(&format!("--out {}: {e}", out.display())),
                },
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => fail(&e.to_string()),
    };
    service.close().await;
    code
}

async fn list(config: Config) -> ExitCode {
    let service = match open(&config).await {
        Ok(service) => service,
        Err(code) => return code,
    };
    let listed = service.list().await;
    service.close().await;
    match listed {
        Ok(backups) => {
            if backups.is_empty() {
                println!("no backups in {}", service.directory().display());
            }
            for b in backups {
                let when = jiff::Timestamp::from_millisecond(b.created_at)
                    .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                println!("{}  {:<11}  {:>12}  {}", when, b.kind.as_str(), b.size, b.file_name);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn restore(config: Config, args: RestoreArgs) -> ExitCode {
    let target = match args.database_url.as_deref().map(DatabaseUrl::parse).transpose() {
        Ok(target) => target,
        Err(e) => return fail(&format!("--database-url: {e}")),
    };
    let read = |path: &Option<PathBuf>, flag| path.as_ref().map(|p| first_line(p, flag)).transpose();
    let request = match (
        read(&args.passphrase_file, "--passphrase-file"),
        read(&args.encryption_key_file, "--encryption-key-file"),
    ) {
        (Ok(passphrase), Ok(encryption_key)) => RestoreRequest { passphrase, encryption_key },
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let archive = if args.file.exists() {
        args.file.clone()
    } else {
        let listed = config.data_dir.backups_dir().join(&args.file);
        if args.file.components().count() == 1 && listed.exists() {
            listed
        } else {
            return fail(&format!(
                "{}: no such archive (give a path, or a name from `conversure backup list`)",
                args.file.display()
            ));
        }
    };
    match restore_offline(&config, &archive, &request, target.as_ref()).await {
        Ok(outcome) => {
            println!(
                "restored {} (made {} by Conversure {}, schema {}) into {}",
                archive.display(),
                outcome.header.kind.as_str(),
                outcome.header.app_version,
                outcome.header.schema_version,
                outcome.config.database.display_redacted()
            );
            if let Some(pre) = outcome.pre_restore {
                println!("the previous state is kept as {pre}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}
