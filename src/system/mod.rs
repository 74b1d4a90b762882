//! Facts about the machine Conversure runs on: disk, memory, mounts, ports, outbound network.

mod probe;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

pub use probe::{HttpsProbe, probe_https};

/// Bytes free for unprivileged users on the filesystem holding `path` (or its nearest existing ancestor).
pub fn free_disk_bytes(path: &Path) -> std::io::Result<u64> {
    fs4::available_space(existing_ancestor(path))
}

/// Total size of the files under `path` (0 when it does not exist).
pub fn dir_size_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Memory available to new processes, from `/proc/meminfo` (`None` where the kernel does not say).
pub fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_available(&info)
}

fn parse_meminfo_available(info: &str) -> Option<u64> {
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The filesystem type holding `path`, from `/proc/mounts` (`None` off Linux).
pub fn filesystem_type(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let path = std::fs::canonicalize(existing_ancestor(path)).ok()?;
    mount_type_for(&mounts, &path)
}

fn mount_type_for(mounts: &str, path: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            // /proc/mounts escapes spaces in mount points as \040.
            let mount_point = PathBuf::from(fields.next()?.replace("\\040", " "));
            let fs_type = fields.next()?;
            path.starts_with(&mount_point).then(|| (mount_point.as_os_str().len(), fs_type.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs_type)| fs_type)
}

/// Whether a filesystem type is a network filesystem, where SQLite's locking cannot be trusted.
pub fn is_network_filesystem(fs_type: &str) -> bool {
    const NETWORK: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "sshfs",
        "fuse.sshfs",
        "9p",
        "glusterfs",
        "fuse.glusterfs",
        "ceph",
        "fuse.rclone",
        "davfs",
    ];
    NETWORK.contains(&fs_type)
}

/// Why a port could not be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindProblem {
    /// Ports below 1024 need root or `CAP_NET_BIND_SERVICE`.
    PermissionDenied,
    /// Another program listens there.
    InUse,
    Other,
}

/// Tries to bind a TCP port on all interfaces and releases it at once.
pub fn try_bind(port: u16) -> Result<(), BindProblem> {
    match TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(BindProblem::PermissionDenied),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(BindProblem::InUse),
        Err(_) => Err(BindProblem::Other),
    }
}

/// Writes, syncs and removes a probe file: proves the directory is writable without leaving anything behind.
/// A directory that does not exist yet is judged by its nearest existing ancestor, which must let it be created.
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    let target = existing_ancestor(dir);
    if !target.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", target.display()),
        ));
    }
    let probe = target.join(format!(".conversure-write-test-{}", std::process::id()));
    let result = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(b"ok")?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    result
}

fn existing_ancestor(path: &Path) -> &Path {
    path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"))
}

/// Formats a byte count for people: `1.5 GB`, `300 MB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_available_is_read_in_bytes() {
        let info = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n";
        assert_eq!(parse_meminfo_available(info), Some(2048 * 1024));
        assert_eq!(parse_meminfo_available("MemTotal: 1 kB"), None);
    }

    #[test]
    fn the_longest_mount_point_wins() {
        let mounts = "/dev/vda / ext4 rw 0 0\nsrv:/export /mnt/nfs nfs4 rw 0 0\n";
        assert_eq!(mount_type_for(mounts, Path::new("/mnt/nfs/data")).as_deref(), Some("nfs4"));
        assert_eq!(mount_type_for(mounts, Path::new("/var/lib")).as_deref(), Some("ext4"));
        assert!(is_network_filesystem("nfs4"));
        assert!(!is_network_filesystem("ext4"));
    }

    #[test]
    fn writable_probe_leaves_nothing_and_refuses_files() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        check_writable(&dir.path().join("not/yet/there")).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(check_writable(&file.join("sub")).is_err());
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536 * 1024 * 1024), "1.5 GB");
    }
}
