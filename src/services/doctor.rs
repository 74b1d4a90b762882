//! The requirement checks behind `conversure doctor` and the first step of the install wizard.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{Config, DataDir, DatabaseUrl};
use crate::domain::check::Check;
use crate::domain::msg::Msg;
use crate::store::{Backend, Db};
use crate::system::{self, BindProblem};

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;
const PROBE_TIMEOUT: Duration = Duration::from_secs(4);
/// Oldest Postgres major version the schema and queries are tested against.
pub const MIN_POSTGRES_MAJOR: u32 = 13;

/// Headers that reverse proxies add; their presence on a request means one sits in front of us.
pub const PROXY_HEADERS: &[&str] =
    &["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "via"];

/// Runs the requirement checks for one instance.
pub struct DoctorService {
    data_dir: DataDir,
    database: DatabaseUrl,
    listen: SocketAddr,
    probe_url: url::Url,
    /// The running instance's database; `None` for the CLI, which must not create one.
    db: Option<Db>,
}

impl DoctorService {
    pub fn new(config: &Config, db: Option<Db>) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            database: config.database.clone(),
            listen: config.listen,
            probe_url: config.network_probe_url.clone(),
            db,
        }
    }

    /// Every check, in the order shown. `proxy_headers` are the proxy headers seen on the request that asked
    /// (`None` from the command line, where there is no request).
    pub async fn run(&self, proxy_headers: Option<&[String]>) -> Vec<Check> {
        let probe = system::probe_https(&self.probe_url, PROBE_TIMEOUT).await;
        let host = self.probe_url.host_str().unwrap_or_default().to_owned();
        let data_dir = self.data_dir.root().to_owned();
        let local = tokio::task::spawn_blocking(move || {
            [check_data_dir(&data_dir), check_disk(&data_dir), check_memory(), check_network_fs(&data_dir)]
        })
        .await
        .unwrap_or_else(|_| [(); 4].map(|()| internal_failure()));
        let [data_dir, disk, memory, network_fs] = local;
        let mut checks = vec![data_dir, disk, memory, self.check_database().await];
        checks.push(match &probe {
            Ok(p) => Check::pass(
                "outbound_https",
                Msg::new("doctor.outbound.title"),
                Msg::with("doctor.outbound.ok", &[("host", host), ("status", p.status.to_string())]),
            ),
            Err(e) => Check::warn(
                "outbound_https",
                Msg::new("doctor.outbound.title"),
                Msg::with("doctor.outbound.failed", &[("host", host), ("error", e.clone())]),
                Msg::new("doctor.outbound.fix"),
            ),
        });
        checks.push(check_clock(probe.ok().and_then(|p| p.clock_skew_secs)));
        checks.push(check_ports(self.listen));
        checks.push(network_fs);
        if let Some(headers) = proxy_headers {
            checks.push(check_proxy(headers));
        }
        checks
    }

    async fn check_database(&self) -> Check {
        let title = Msg::new("doctor.database.title");
        let target = self.database.display_redacted();
        let opened;
        let db = match (&self.db, &self.database) {
            (Some(db), _) => db,
            (None, DatabaseUrl::Sqlite(path)) if !path.exists() => {
                return Check::pass(
                    "database",
                    title,
                    Msg::with("doctor.database.sqlite_new", &[("path", path.display().to_string())]),
                );
            }
            (None, url) => match Db::open(url).await {
                Ok(db) => {
                    opened = db;
                    &opened
                }
                Err(e) => return unreachable(title, target, &e),
            },
        };
        let info = match db.server_info().await {
            Ok(info) => info,
            Err(e) => return unreachable(title, target, &e),
        };
        let version = info.version.clone();
        match info.backend {
            Backend::Sqlite => Check::pass(
                "database",
                title,
                Msg::with("doctor.database.sqlite_ok", &[("version", version), ("target", target)]),
            ),
            Backend::Postgres => {
                let major: u32 = version.split(['.', ' ']).next().and_then(|m| m.parse().ok()).unwrap_or(0);
                let encoding = info.encoding.unwrap_or_default();
                if major < MIN_POSTGRES_MAJOR {
                    Check::fail(
                        "database",
                        title,
                        Msg::with(
                            "doctor.database.pg_old",
                            &[("version", version), ("min", MIN_POSTGRES_MAJOR.to_string())],
                        ),
                        Msg::new("doctor.database.fix_upgrade"),
                    )
                } else if !encoding.eq_ignore_ascii_case("UTF8") {
                    Check::fail(
                        "database",
                        title,
                        Msg::with("doctor.database.pg_encoding", &[("encoding", encoding)]),
                        Msg::new("doctor.database.fix_encoding"),
                    )
                } else {
                    Check::pass(
                        "database",
                        title,
                        Msg::with("doctor.database.pg_ok", &[("version", version), ("target", target)]),
                    )
                }
            }
        }
    }
}

fn unreachable(title: Msg, target: String, error: &crate::store::StoreError) -> Check {
    let detail = Msg::with("doctor.database.unreachable", &[("target", target), ("error", error.to_string())]);
    Check::fail("database", title, detail, Msg::new("doctor.database.fix_connect"))
}

fn internal_failure() -> Check {
    Check::fail(
        "internal",
        Msg::new("doctor.internal.title"),
        Msg::new("doctor.internal.detail"),
        Msg::new("doctor.internal.fix"),
    )
}

fn check_data_dir(dir: &std::path::Path) -> Check {
    let title = Msg::new("doctor.data_dir.title");
    let path = dir.display().to_string();
    match system::check_writable(dir) {
        Ok(()) if dir.exists() => Check::pass("data_dir", title, Msg::with("doctor.data_dir.ok", &[("path", path)])),
        Ok(()) => Check::pass("data_dir", title, Msg::with("doctor.data_dir.will_create", &[("path", path)])),
        Err(e) => Check::fail(
            "data_dir",
            title,
            Msg::with("doctor.data_dir.failed", &[("path", path.clone()), ("error", e.to_string())]),
            Msg::with("doctor.data_dir.fix", &[("path", path)]),
        ),
    }
}

fn check_disk(dir: &std::path::Path) -> Check {
    let title = Msg::new("doctor.disk.title");
    let Ok(free) = system::free_disk_bytes(dir) else {
        return Check::warn("disk_space", title, Msg::new("doctor.disk.unknown"), Msg::new("doctor.disk.fix"));
    };
    let used = system::dir_size_bytes(dir);
    let need = GIB.max(used.saturating_mul(2));
    let args =
        [("free", system::human_bytes(free)), ("need", system::human_bytes(need)), ("used", system::human_bytes(used))];
    if free < GIB {
        Check::fail("disk_space", title, Msg::with("doctor.disk.low", &args), Msg::new("doctor.disk.fix"))
    } else if free < need {
        Check::warn("disk_space", title, Msg::with("doctor.disk.tight", &args), Msg::new("doctor.disk.fix"))
    } else {
        Check::pass("disk_space", title, Msg::with("doctor.disk.ok", &args))
    }
}

fn check_memory() -> Check {
    let title = Msg::new("doctor.memory.title");
    match system::available_memory_bytes() {
        None => Check::warn("memory", title, Msg::new("doctor.memory.unknown"), Msg::new("doctor.memory.fix")),
        Some(bytes) => {
            let args = [("available", system::human_bytes(bytes))];
            if bytes < 128 * MIB {
                Check::fail("memory", title, Msg::with("doctor.memory.low", &args), Msg::new("doctor.memory.fix"))
            } else if bytes < 256 * MIB {
                Check::warn("memory", title, Msg::with("doctor.memory.tight", &args), Msg::new("doctor.memory.fix"))
            } else {
                Check::pass("memory", title, Msg::with("doctor.memory.ok", &args))
            }
        }
    }
}

fn check_clock(skew: Option<i64>) -> Check {
    let title = Msg::new("doctor.clock.title");
    match skew {
        None => Check::warn("clock", title, Msg::new("doctor.clock.unknown"), Msg::new("doctor.clock.fix")),
        Some(s) => {
            let args = [("seconds", s.to_string())];
            match s.unsigned_abs() {
                0..=30 => Check::pass("clock", title, Msg::with("doctor.clock.ok", &args)),
                31..=300 => {
                    Check::warn("clock", title, Msg::with("doctor.clock.off", &args), Msg::new("doctor.clock.fix"))
                }
                _ => Check::fail("clock", title, Msg::with("doctor.clock.off", &args), Msg::new("doctor.clock.fix")),
            }
        }
    }
}

fn check_ports(listen: SocketAddr) -> Check {
    let title = Msg::new("doctor.ports.title");
    let mut denied = Vec::new();
    let mut in_use = Vec::new();
    for port in [80u16, 443] {
        if listen.port() == port {
            continue; // We hold it ourselves.
        }
        match system::try_bind(port) {
            Ok(()) => {}
            Err(BindProblem::PermissionDenied) => denied.push(port.to_string()),
            Err(BindProblem::InUse | BindProblem::Other) => in_use.push(port.to_string()),
        }
    }
    if !in_use.is_empty() {
        Check::warn(
            "ports",
            title,
            Msg::with("doctor.ports.in_use", &[("ports", in_use.join(", "))]),
            Msg::new("doctor.ports.fix_in_use"),
        )
    } else if !denied.is_empty() {
        Check::warn(
            "ports",
            title,
            Msg::with("doctor.ports.denied", &[("ports", denied.join(", "))]),
            Msg::new("doctor.ports.fix_denied"),
        )
    } else {
        Check::pass("ports", title, Msg::new("doctor.ports.ok"))
    }
}

fn check_network_fs(dir: &std::path::Path) -> Check {
    let title = Msg::new("doctor.network_fs.title");
    match system::filesystem_type(dir) {
        Some(fs) if system::is_network_filesystem(&fs) => Check::warn(
            "network_fs",
            title,
            Msg::with("doctor.network_fs.network", &[("fs", fs)]),
            Msg::new("doctor.network_fs.fix"),
        ),
        Some(fs) => Check::pass("network_fs", title, Msg::with("doctor.network_fs.local", &[("fs", fs)])),
        None => Check::pass("network_fs", title, Msg::new("doctor.network_fs.unknown")),
    }
}

fn check_proxy(headers: &[String]) -> Check {
    let title = Msg::new("doctor.proxy.title");
    if headers.is_empty() {
        Check::pass("reverse_proxy", title, Msg::new("doctor.proxy.none"))
    } else {
        Check::pass("reverse_proxy", title, Msg::with("doctor.proxy.detected", &[("headers", headers.join(", "))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::check::Status;

    #[test]
    fn clock_thresholds() {
        assert_eq!(check_clock(Some(-5)).status, Status::Pass);
        assert_eq!(check_clock(Some(120)).status, Status::Warn);
        assert_eq!(check_clock(Some(-3600)).status, Status::Fail);
        assert_eq!(check_clock(None).status, Status::Warn);
    }

    #[test]
    fn proxy_detection_names_headers() {
        let check = check_proxy(&["x-forwarded-for".to_owned()]);
        assert!(check.detail.args.iter().any(|(_, v)| v == "x-forwarded-for"));
        assert_eq!(check_proxy(&[]).detail.key, "doctor.proxy.none");
    }

    #[test]
    fn data_dir_under_a_file_fails_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let check = check_data_dir(&file.join("data"));
        assert_eq!(check.status, Status::Fail);
        assert!(check.fix.is_some());
    }
}
