//! `update-state.json` in the data directory: the update in flight (from, to, the executable, the pre-update
//! backup) and, once the health gate decided, its outcome. It survives the restart, so the new (or the restored old)
//! process can report the result once and the owner's page can show it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::DataDir;

/// The file's name inside the data directory.
pub const FILE_NAME: &str = "update-state.json";

/// One update attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateState {
    pub from: String,
    pub to: String,
    /// The executable that was replaced (its previous content is at `<exe>.old`). Recorded because once the running
    /// file is renamed, the kernel reports the process's own path as the `.old` one.
    pub exe: PathBuf,
    /// The pre-update backup's file name, restored when the new version fails.
    pub backup_file: String,
    pub started_at: i64,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Whether a process already wrote the outcome to the audit log.
    #[serde(default)]
    pub reported: bool,
}

/// How the attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub succeeded: bool,
    /// Why it failed (empty on success).
    #[serde(default)]
    pub reason: String,
    pub finished_at: i64,
}

fn path(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join(FILE_NAME)
}

/// The last attempt recorded, if any (an unreadable file counts as none: it only feeds reports).
pub fn read(data_dir: &DataDir) -> Option<UpdateState> {
    let text = std::fs::read(path(data_dir)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the state atomically (a temporary file renamed over the old one).
pub fn write(data_dir: &DataDir, state: &UpdateState) -> std::io::Result<()> {
    let target = path(data_dir);
    let staged = data_dir.root().join(format!(".{FILE_NAME}.tmp"));
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    std::fs::write(&staged, text)?;
    std::fs::rename(&staged, &target)
}

/// Records the outcome of the attempt in flight.
pub fn finish(data_dir: &DataDir, state: &mut UpdateState, succeeded: bool, reason: &str) -> std::io::Result<()> {
    state.outcome = Some(Outcome { succeeded, reason: reason.to_owned(), finished_at: crate::store::now_millis() });
    state.reported = false;
    write(data_dir, state)
}

/// `<exe>.old`: where the previous executable is kept until the new one proved healthy (and after, for a manual
/// rollback).
pub fn old_exe(exe: &Path) -> PathBuf {
    let mut name = exe.as_os_str().to_owned();
    name.push(".old");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_records_the_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        assert_eq!(read(&data), None);
        let mut state = UpdateState {
            from: "0.1.0".into(),
            to: "0.2.0".into(),
            exe: "/opt/conversure".into(),
            backup_file: "b.tar.zst".into(),
            started_at: 1,
            outcome: None,
            reported: true,
        };
        write(&data, &state).unwrap();
        assert_eq!(read(&data).as_ref(), Some(&state));
        finish(&data, &mut state, false, "it crashed").unwrap();
        let back = read(&data).unwrap();
        assert!(!back.reported);
        assert_eq!(back.outcome.map(|o| (o.succeeded, o.reason)), Some((false, "it crashed".to_owned())));
        assert_eq!(old_exe(Path::new("/opt/conversure")), PathBuf::from("/opt/conversure.old"));
    }
}
