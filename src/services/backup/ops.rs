//! One backup or restore at a time per data directory, its live progress, and the history of every operation's
//! steps (a JSON-lines file beside the archives, so it survives the restores it records).

use std::collections::HashMap;
use std::fs::File;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use super::BackupError;
use crate::store::now_millis;

/// What an operation is doing right now, for the progress display.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Progress {
    /// `backup` or `restore`.
    pub operation: String,
    /// The kind of backup being made (`manual`, `scheduled`, ...), or the archive being restored.
    pub subject: String,
    /// The step under way (`snapshot`, `export`, `archive`, `store`, `prune`, `verify`, `swap`, ...).
    pub step: String,
    pub bytes_done: u64,
    pub started_at: i64,
}

/// One step's result, kept in the history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepResult {
    pub step: String,
    pub ok: bool,
    pub detail: String,
    pub millis: i64,
}

/// A finished operation, as the history keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub operation: String,
    pub subject: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub ok: bool,
    /// The archive made or restored.
    pub file_name: Option<String>,
    pub steps: Vec<StepResult>,
    /// The failure, in one line.
    pub error: Option<String>,
}

/// The progress of the operations of one data directory, shared by every `Services` the process builds over it (a
/// restore replaces the services while its operation is still running).
type Slot = Arc<Mutex<Option<Progress>>>;

static PROGRESS: LazyLock<Mutex<HashMap<PathBuf, Slot>>> = LazyLock::new(Mutex::default);

fn slot_of(dir: &Path) -> Slot {
    let mut slots = PROGRESS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(slots.entry(dir.to_owned()).or_default())
}

/// The operation under way in this process for the backups in `dir`, if any.
pub fn current(dir: &Path) -> Option<Progress> {
    slot_of(dir).lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// A running operation: holds the lock file (so another process — the CLI beside the server — waits its turn),
/// publishes progress, collects step results and appends them to the history when it ends.
pub struct Operation {
    _lock: File,
    slot: Slot,
    dir: PathBuf,
    record: Record,
    step_started: i64,
}

impl Operation {
    /// Starts an operation, or says that one is already running.
    pub fn begin(dir: &Path, operation: &str, subject: &str) -> Result<Self, BackupError> {
        create_private_dir(dir).map_err(|e| BackupError::io("creating the backup directory", e))?;
        let path = dir.join(".operation.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| BackupError::io("opening the backup lock", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(BackupError::Busy),
            Err(std::fs::TryLockError::Error(e)) => return Err(BackupError::io("taking the backup lock", e)),
        }
        let now = now_millis();
        let slot = slot_of(dir);
        *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Progress {
            operation: operation.to_owned(),
            subject: subject.to_owned(),
            step: String::new(),
            bytes_done: 0,
            started_at: now,
        });
        let record = Record {
            operation: operation.to_owned(),
            subject: subject.to_owned(),
            started_at: now,
            finished_at: now,
            ok: false,
            file_name: None,
            steps: Vec::new(),
            error: None,
        };
        Ok(Self { _lock: lock, slot, dir: dir.to_owned(), record, step_started: now })
    }

    /// Enters a step (shown as under way).
    pub fn step(&mut self, name: &str) {
        self.step_started = now_millis();
        self.update(|p| {
            p.step = name.to_owned();
            p.bytes_done = 0;
        });
    }

    /// A callback for long steps to report the bytes they have handled.
    pub fn bytes_reporter(&self) -> impl Fn(u64) + Send + Sync + 'static {
        let slot = Arc::clone(&self.slot);
        move |bytes| {
            if let Some(p) = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
                p.bytes_done = bytes;
            }
        }
    }

    /// Records the current step's result.
    pub fn done(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.record.steps.push(StepResult {
            step: name.to_owned(),
            ok,
            detail: detail.into(),
            millis: now_millis() - self.step_started,
        });
    }

    /// Runs one step: marks it under way, records its result (the error's text when it fails).
    pub async fn run<T, F>(&mut self, name: &str, work: F) -> Result<T, BackupError>
    where
        F: Future<Output = Result<(T, String), BackupError>>,
    {
        self.step(name);
        match work.await {
            Ok((value, detail)) => {
                self.done(name, true, detail);
                Ok(value)
            }
            Err(e) => {
                self.done(name, false, e.to_string());
                Err(e)
            }
        }
    }

    pub fn set_file(&mut self, file_name: &str) {
        self.record.file_name = Some(file_name.to_owned());
    }

    /// Ends the operation with its outcome and appends it to the history (best effort: a full disk must not turn a
    /// finished restore into a failure).
    pub fn finish(mut self, outcome: &Result<(), BackupError>) -> Record {
        self.record.finished_at = now_millis();
        self.record.ok = outcome.is_ok();
        self.record.error = outcome.as_ref().err().map(ToString::to_string);
        if let Err(e) = append_history(&self.dir, &self.record) {
            tracing::warn!(error = %e, "could not append to the backup history");
        }
        self.record.clone()
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        if let Some(p) = self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
            change(p);
        }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        *self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

const HISTORY_FILE: &str = "history.jsonl";
/// The history keeps the newest records only; older ones are of no use to anyone.
const HISTORY_KEEP: usize = 200;

fn append_history(dir: &Path, record: &Record) -> std::io::Result<()> {
    let path = dir.join(HISTORY_FILE);
    let mut records = read_history(dir);
    records.insert(0, record.clone());
    records.truncate(HISTORY_KEEP);
    let mut text = String::new();
    for r in records.iter().rev() {
        text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    crate::config::write::write_atomically(&path, &text)
}

/// The operations recorded for `dir`, newest first (unreadable lines are skipped).
pub fn read_history(dir: &Path) -> Vec<Record> {
    let Ok(file) = File::open(dir.join(HISTORY_FILE)) else { return Vec::new() };
    let mut records: Vec<Record> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    records.reverse();
    records
}

pub(super) fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_operation_waits_its_turn_and_history_keeps_steps() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Operation::begin(dir.path(), "backup", "manual").unwrap();
        assert!(matches!(Operation::begin(dir.path(), "restore", "x"), Err(BackupError::Busy)));
        first.step("snapshot");
        assert_eq!(current(dir.path()).unwrap().step, "snapshot");
        first.done("snapshot", true, "12 tables");
        let record = first.finish(&Err(BackupError::Failed("disk full".into())));
        assert!(!record.ok);
        assert!(current(dir.path()).is_none());
        let history = read_history(dir.path());
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].steps[0].detail, "12 tables");
        assert!(history[0].error.as_deref().unwrap().contains("disk full"));
        Operation::begin(dir.path(), "restore", "x").unwrap();
    }
}
