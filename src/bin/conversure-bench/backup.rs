//! `conversure-bench backup --data-dir DIR`: G6, seconds per GB for a backup and for a restore of an installed data
//! directory (a `dataset` one), against a plain file copy of the same database measured in the same run.

use std::path::Path;
use std::time::Instant;

use conversure::config::{Config, Overrides};
use conversure::services::backup::{BackupKind, BackupService, RestoreRequest, restore_offline};
use conversure::store::Db;

const GB: f64 = 1_000_000_000.0;

fn fail<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

/// Bytes under `dir`, recursively (the media directory).
fn size_of_dir(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of_dir(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// A directory removed when the scenario ends.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(data_dir: &Path) -> Result<(), String> {
    let overrides = Overrides { data_dir: Some(data_dir.to_path_buf()), ..Default::default() };
    let config = Config::load_from(&overrides, Default::default()).map_err(fail("config"))?;
    let db_file = config.data_dir.sqlite_database();
    let data_bytes =
        std::fs::metadata(&db_file).map(|m| m.len()).unwrap_or(0) + size_of_dir(&config.data_dir.media_dir());
    println!(
        "scenario: backup (G6), data directory {}, {:.3} GB of database and media",
        data_dir.display(),
        data_bytes as f64 / GB
    );

    // Baseline: copying the database file (read + write + fsync) on the same disk.
    let scratch = Scratch(config.data_dir.tmp_dir().join("bench-backup"));
    std::fs::create_dir_all(scratch.path()).map_err(fail("scratch directory"))?;
    let started = Instant::now();
    let copy = scratch.path().join("copy.db");
    std::fs::copy(&db_file, &copy).map_err(fail("baseline copy"))?;
    std::fs::File::open(&copy).and_then(|f| f.sync_all()).map_err(fail("baseline sync"))?;
    let copy_seconds = started.elapsed().as_secs_f64();
    std::fs::remove_file(&copy).map_err(fail("baseline cleanup"))?;
    let per_gb = |seconds: f64| seconds / (data_bytes as f64 / GB);
    println!("B_copy: {copy_seconds:.2} s ({:.2} s/GB)", per_gb(copy_seconds));

    let db = Db::open(&config.database).await.map_err(fail("opening the database"))?;
    let service = BackupService::new(&config, db.clone()).map_err(fail("backup service"))?;
    let started = Instant::now();
    let made = service.create(BackupKind::Manual, Some("bench"), None).await.map_err(fail("backup"))?;
    let backup_seconds = started.elapsed().as_secs_f64();
    db.close().await;
    println!(
        "backup: {backup_seconds:.2} s for {:.3} GB -> archive {:.3} GB ({:.0} %)",
        data_bytes as f64 / GB,
        made.size as f64 / GB,
        100.0 * made.size as f64 / data_bytes.max(1) as f64
    );
    println!(
        "G6 backup: {:.2} s/GB (goal <= 8), ratio to B_copy {:.1}",
        per_gb(backup_seconds),
        backup_seconds / copy_seconds
    );

    // Restore into a new data directory (as a move to a new server does: no pre-restore backup to take).
    let target = scratch.path().join("restored");
    let target_config =
        Config::load_from(&Overrides { data_dir: Some(target.clone()), ..Default::default() }, Default::default())
            .map_err(fail("target config"))?;
    let request = RestoreRequest {
        passphrase: None,
        encryption_key: config.encryption_key.as_ref().map(|k| k.expose().to_owned()),
    };
    let archive = config.data_dir.backups_dir().join(&made.file_name);
    let started = Instant::now();
    restore_offline(&target_config, &archive, &request, None).await.map_err(fail("restore"))?;
    let restore_seconds = started.elapsed().as_secs_f64();
    println!(
        "G6 restore: {:.2} s/GB (goal <= 8), ratio to B_copy {:.1}",
        per_gb(restore_seconds),
        restore_seconds / copy_seconds
    );
    std::fs::remove_file(&archive).map_err(fail("removing the archive"))?;
    println!("not measured here: ingestion p99 during a backup (run `ingest` beside it)");
    Ok(())
}
