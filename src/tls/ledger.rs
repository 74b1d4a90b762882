//! The issuance ledger: every ACME order started, kept in a JSON file so restarts can't exceed the caps that keep
//! the instance inside Let's Encrypt's rate limits (5 duplicate certificates a week, 5 failed validations an hour).

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Orders per host per hour: a failing challenge can be retried, but never fast enough to hit the CA's limits.
pub const PER_HOST_PER_HOUR: usize = 3;
/// Orders per host per day.
pub const PER_HOST_PER_DAY: usize = 8;
/// Orders for all hosts together per hour (on-demand custom domains included).
pub const ALL_HOSTS_PER_HOUR: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    host: String,
    /// Unix milliseconds when the order was started.
    at: i64,
}

/// The orders of the last day, persisted after every change.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    entries: Mutex<Vec<Entry>>,
}

impl Ledger {
    /// Reads the ledger file; a missing or unreadable one starts empty (the caps then restart from zero).
    pub fn load(path: PathBuf) -> Self {
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "the ACME issuance ledger is unreadable; starting a new one");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Self { path, entries: Mutex::new(entries) }
    }

    /// Records an order for `host` if the caps allow one now; otherwise returns when one is allowed again.
    pub fn try_record(&self, host: &str, now: i64) -> Result<(), i64> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| now - e.at < DAY_MS);
        let host_times: Vec<i64> = entries.iter().filter(|e| e.host == host).map(|e| e.at).collect();
        let all_last_hour: Vec<i64> = entries.iter().filter(|e| now - e.at < HOUR_MS).map(|e| e.at).collect();
        let host_last_hour: Vec<i64> = host_times.iter().copied().filter(|at| now - at < HOUR_MS).collect();
        // Each cap frees up when its oldest counted order leaves the window.
        let mut allowed_at = None::<i64>;
        for (times, cap, window) in [
            (&host_last_hour, PER_HOST_PER_HOUR, HOUR_MS),
            (&host_times, PER_HOST_PER_DAY, DAY_MS),
            (&all_last_hour, ALL_HOSTS_PER_HOUR, HOUR_MS),
        ] {
            if times.len() >= cap {
                let oldest = times.iter().copied().min().unwrap_or(now);
                allowed_at = Some(allowed_at.unwrap_or(0).max(oldest + window));
            }
        }
        if let Some(at) = allowed_at {
            return Err(at);
        }
        entries.push(Entry { host: host.to_owned(), at: now });
        self.persist(&entries);
        Ok(())
    }

    fn persist(&self, entries: &[Entry]) {
        let written = serde_json::to_vec_pretty(entries).map_err(std::io::Error::other).and_then(|bytes| {
            let staged = self.path.with_extension("json.tmp");
            std::fs::write(&staged, bytes)?;
            std::fs::rename(&staged, &self.path)
        });
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the ACME issuance ledger");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_host_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let ledger = Ledger::load(path.clone());
        for i in 0..PER_HOST_PER_HOUR as i64 {
            ledger.try_record("a.test", 1_000 + i).unwrap();
        }
        let reloaded = Ledger::load(path);
        assert_eq!(reloaded.try_record("a.test", 2_000), Err(1_000 + HOUR_MS));
        assert!(reloaded.try_record("b.test", 2_000).is_ok(), "other hosts have their own cap");
        assert!(reloaded.try_record("a.test", 1_000 + HOUR_MS).is_ok(), "the hour passed");
    }
}
