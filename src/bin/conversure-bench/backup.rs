//! `conversure-bench backup --data-dir DIR`: G6, seconds per GB for a backup and for a restore of an installed data
//! directory (a `dataset` one), against a plain file copy of the same database measured in the same run.
//! `conversure-bench backup-ingest`: G6's second half, webhook ingestion p99 while backups run beside the server.

use std::path::Path;
use std::time::Instant;

use conversure::config::{Config, Overrides};
use conversure::services::backup::{BackupKind, BackupService, RestoreRequest, restore_offline};
use conversure::store::Db;

use crate::{Scratch, fail};

const GB: f64 = 1_000_000_000.0;

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
    std::fs::create_dir_all(&scratch.0).map_err(fail("scratch directory"))?;
    let started = Instant::now();
    let copy = scratch.0.join("copy.db");
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
    let target = scratch.0.join("restored");
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
    println!("ingestion p99 during a backup: `conversure-bench backup-ingest`");
    Ok(())
}

/// Ingestion p99 at `per_second` for `seconds` into the release binary, alone and then while backups of the same
/// data directory run back to back beside the server (as `conversure backup create` does), after `seed` webhooks of
/// history so each backup has real work.
pub async fn under_ingest(binary: &Path, seed: usize, per_second: usize, seconds: usize) -> Result<(), String> {
    let dir = Scratch::new("backup-ingest")?;
    let instance = crate::ingest::start_instance(binary, &dir.0, None).await?;
    let client = reqwest::Client::new();
    let url = std::sync::Arc::clone(&instance.webhook_url);
    let seeded = crate::ingest::closed_loop(&client, &url, &crate::ingest::stream(0..seed)?).await?;
    println!("scenario: backup-ingest (G6), {seed} webhooks of history seeded in {:.1} s", seeded.as_secs_f64());
    let n = per_second * seconds;
    let mut alone =
        crate::ingest::open_loop(&client, &url, &crate::ingest::stream(seed..seed + n)?, per_second).await?;
    alone.print("without backups", per_second);

    let data = dir.0.join("data");
    let config = Config::load_from(&Overrides { data_dir: Some(data), ..Default::default() }, Default::default())
        .map_err(fail("config"))?;
    let db = Db::open(&config.database).await.map_err(fail("opening the database"))?;
    let service = std::sync::Arc::new(BackupService::new(&config, db.clone()).map_err(fail("backup service"))?);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let backups = {
        let (service, stop) = (std::sync::Arc::clone(&service), std::sync::Arc::clone(&stop));
        tokio::spawn(async move {
            let mut made = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let summary = service.create(BackupKind::Manual, Some("bench"), None).await.map_err(fail("backup"))?;
                made.push((started.elapsed(), summary.size));
                let _ = std::fs::remove_file(service.directory().join(&summary.file_name));
            }
            Ok::<_, String>(made)
        })
    };
    let stream = crate::ingest::stream(seed + n..seed + 2 * n)?;
    let during = crate::ingest::open_loop(&client, &url, &stream, per_second).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = backups.await.map_err(fail("backup task"))??;
    db.close().await;
    let mut during = during?;
    during.print("during backups", per_second);
    let (count, bytes) = (made.len(), made.last().map_or(0, |(_, size)| *size));
    let each = made.iter().map(|(took, _)| took.as_secs_f64()).sum::<f64>() / count.max(1) as f64;
    println!("backups during the run: {count}, {each:.2} s each, archive {:.1} MB", bytes as f64 / 1e6);
    let (before, under) = (alone.p99(), during.p99());
    println!(
        "G6 ingestion p99 during backups: {:.2} ms vs {:.2} ms alone = {:.2} x (goal <= 2 x)",
        under.as_secs_f64() * 1e3,
        before.as_secs_f64() * 1e3,
        under.as_secs_f64() / before.as_secs_f64().max(1e-9)
    );
    drop(instance);
    Ok(())
}
