//! `installer/install.sh` run for real in a scratch root: `--root` redirects every path it writes, and systemctl,
//! useradd, groupadd, getent and `id -u` are tiny stub scripts that log their calls and keep their state in files
//! under the scratch root. The stubbed `systemctl start` really starts the installed executable, so the setup URL
//! the script prints comes from a running Conversure.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{binary, free_port};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const UNIT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/conversure.service");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/installer/install.sh");
/// Where the installed service keeps its data, as the unit names it (inside the scratch root).
const DATA_DIR: &str = "/var/lib/conversure";

const STUB_GETENT: &str = r#"#!/bin/sh
# getent DATABASE NAME, answered from the scratch root's files.
grep "^$2:" "$STUB_ROOT/etc/$1" 2>/dev/null
"#;

const STUB_GROUPADD: &str = r#"#!/bin/sh
echo "groupadd $*" >>"$STUB_STATE/calls.log"
for name; do :; done
mkdir -p "$STUB_ROOT/etc"
echo "$name:x:$STUB_UID:" >>"$STUB_ROOT/etc/group"
"#;

const STUB_USERADD: &str = r#"#!/bin/sh
echo "useradd $*" >>"$STUB_STATE/calls.log"
for name; do :; done
mkdir -p "$STUB_ROOT/etc"
echo "$name:x:$STUB_UID:$STUB_UID:Conversure:/var/lib/conversure:/usr/sbin/nologin" >>"$STUB_ROOT/etc/passwd"
"#;

const STUB_ID: &str = r#"#!/bin/sh
if [ "$1" = -u ]; then echo "${STUB_ID_U:-0}"; else exec /usr/bin/id "$@"; fi
"#;

/// A service manager for one unit: `start` runs the unit's ExecStart with its paths moved into the scratch root.
const STUB_SYSTEMCTL: &str = r#"#!/bin/sh
echo "systemctl $*" >>"$STUB_STATE/calls.log"
unit="$STUB_ROOT/etc/systemd/system/conversure.service"
pidfile="$STUB_STATE/service.pid"
running() {
    [ -f "$pidfile" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$(cat "$pidfile")/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}
stop() {
    if running; then
        kill "$(cat "$pidfile")"
        while running; do sleep 0.1; done
    fi
    rm -f "$pidfile"
}
start() {
    running && return 0
    line=$(sed -n 's/^ExecStart=//p' "$unit")
    exe=${line%% *}
    data=$(echo "$line" | sed -n 's/.* --data-dir \([^ ]*\).*/\1/p')
    listen=$(echo "$line" | sed -n 's/.* --listen \([^ ]*\).*/\1/p')
    # The unit's executable is a symlink with an absolute target: follow it inside the scratch root.
    target=$(readlink "$STUB_ROOT$exe")
    nohup "$STUB_ROOT$target" serve --data-dir "$STUB_ROOT$data" --listen "$listen" \
        </dev/null >>"$STUB_STATE/service.log" 2>&1 &
    echo $! >"$pidfile"
}
case $1 in
daemon-reload) ;;
enable) case "$*" in *--now*) start ;; esac ;;
start) start ;;
restart) stop; start ;;
stop) stop ;;
is-active) running ;;
status) cat "$STUB_STATE/service.log" ;;
*) echo "systemctl stub: unexpected $*" >&2; exit 1 ;;
esac
"#;

/// A scratch root with the stubs, a copy of the built binary, and the service stopped when dropped.
struct Scratch {
    dir: tempfile::TempDir,
    uid: u32,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["root/run/systemd/system", "stubs", "state"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        for (name, text) in [
            ("getent", STUB_GETENT),
            ("groupadd", STUB_GROUPADD),
            ("useradd", STUB_USERADD),
            ("id", STUB_ID),
            ("systemctl", STUB_SYSTEMCTL),
        ] {
            write_executable(&dir.path().join("stubs").join(name), text.as_bytes());
        }
        std::fs::copy(binary(), dir.path().join("conversure")).unwrap();
        // As root, the service user gets its own uid so ownership is a real check; otherwise chown can only give
        // files to ourselves.
        let own_uid = std::fs::metadata(dir.path()).unwrap().uid();
        Self { uid: if own_uid == 0 { 990 } else { own_uid }, dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// A path inside the scratch root, given as the installed system sees it.
    fn in_root(&self, absolute: &str) -> PathBuf {
        self.path("root").join(absolute.trim_start_matches('/'))
    }

    fn binary_copy(&self) -> String {
        self.path("conversure").to_str().unwrap().to_owned()
    }

    /// Runs the installer with `args` after `--root <scratch root>`, stubs on PATH, `id -u` answering `uid`.
    fn install_as(&self, uid: u32, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.path("stubs").display(), std::env::var("PATH").unwrap_or_default());
        let mut command = Command::new("bash");
        command
            .arg(SCRIPT)
            .args(["--root", self.path("root").to_str().unwrap()])
            .args(args)
            .env("PATH", path)
            .env("STUB_ROOT", self.path("root"))
            .env("STUB_STATE", self.path("state"))
            .env("STUB_UID", self.uid.to_string())
            .env("STUB_ID_U", uid.to_string())
            .env("SYSTEMCTL", self.path("stubs/systemctl"))
            .env("USERADD", self.path("stubs/useradd"))
            .env("GROUPADD", self.path("stubs/groupadd"))
            .env("GETENT", self.path("stubs/getent"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_")) {
            command.env_remove(key);
        }
        command.env("CONVERSURE_LOG_LEVEL", "warn").env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/");
        command.output().unwrap()
    }

    fn install(&self, args: &[&str]) -> Output {
        self.install_as(0, args)
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.path("state/calls.log")).unwrap_or_default()
    }

    fn systemctl(&self, args: &[&str]) {
        let status = Command::new(self.path("stubs/systemctl"))
            .args(args)
            .env("STUB_ROOT", self.path("root"))
            .env("STUB_STATE", self.path("state"))
            .status()
            .unwrap();
        assert!(status.success(), "systemctl stub {args:?}");
    }

    /// Everything under the scratch root except the `run/systemd/system` marker: what the installer wrote.
    fn written(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![self.path("root")];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path.clone());
                }
                if !self.path("root/run/systemd/system").starts_with(&path) {
                    found.push(path);
                }
            }
        }
        found
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Stop the service the stub started, if any, by the pid it recorded.
        if let Ok(pid) = std::fs::read_to_string(self.path("state/service.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn write_executable(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output) -> String {
    assert!(output.status.success(), "install.sh failed:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

fn expected_unit(port: u16) -> String {
    std::fs::read_to_string(UNIT_FILE).unwrap().replace("--listen 0.0.0.0:80\n", &format!("--listen 0.0.0.0:{port}\n"))
}

#[test]
fn the_embedded_unit_is_the_packaged_unit() {
    let output = Command::new("bash").arg(SCRIPT).arg("--print-unit").output().unwrap();
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), std::fs::read_to_string(UNIT_FILE).unwrap());
}

#[test]
fn the_unit_restarts_always_with_the_bind_capability_and_a_writable_data_dir() {
    let unit = std::fs::read_to_string(UNIT_FILE).unwrap();
    for line in [
        "Type=simple",
        "User=conversure",
        "ExecStart=/usr/local/bin/conversure serve --data-dir /var/lib/conversure --listen 0.0.0.0:80",
        "Restart=always",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/conversure",
        "LimitNOFILE=65536",
        "Environment=CONVERSURE_LOG_FORMAT=json",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
}

#[test]
fn installs_twice_then_reports_the_installed_instance() {
    let scratch = Scratch::new();
    let port = free_port();
    let port_arg = port.to_string();

    // First run: everything is created and the service is started.
    let said = assert_ok(&scratch.install(&["--binary", &scratch.binary_copy(), "--port", &port_arg]));
    let data = scratch.in_root(DATA_DIR);
    let token = std::fs::read_to_string(data.join("setup-token")).unwrap().trim().to_owned();
    assert!(said.contains(&format!(":{port}/install?token={token}\n")), "no setup URL in:\n{said}");

    let metadata = std::fs::metadata(&data).unwrap();
    assert_eq!(metadata.mode() & 0o7777, 0o750);
    assert_eq!((metadata.uid(), metadata.gid()), (scratch.uid, scratch.uid));
    let unit_path = scratch.in_root("/etc/systemd/system/conversure.service");
    assert_eq!(std::fs::read_to_string(&unit_path).unwrap(), expected_unit(port));
    let link = scratch.in_root("/usr/local/bin/conversure");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/var/lib/conversure/bin/conversure"));
    let installed = data.join("bin/conversure");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(text(&version.stdout).trim(), format!("conversure {}", env!("CARGO_PKG_VERSION")));
    let calls = scratch.calls();
    let root = scratch.path("root");
    assert!(calls.contains(&format!("groupadd --root {} --system conversure\n", root.display())), "{calls}");
    assert!(calls.contains("--home-dir /var/lib/conversure --no-create-home"), "{calls}");
    assert!(calls.contains("systemctl daemon-reload\nsystemctl is-active --quiet conversure.service\n"), "{calls}");
    assert!(calls.contains("systemctl enable --now conversure.service\n"), "{calls}");

    // Second run while it runs: nothing re-created, data kept, the service restarted, the same link printed.
    std::fs::write(data.join("keep.txt"), "mine").unwrap();
    let again = assert_ok(&scratch.install(&["--binary", &scratch.binary_copy()]));
    assert!(again.contains(&format!(":{port}/install?token={token}\n")), "{again}");
    assert!(again.contains("Unit /etc/systemd/system/conversure.service is up to date"), "{again}");
    assert!(again.contains("Executable /var/lib/conversure/bin/conversure is already this version"), "{again}");
    let calls = scratch.calls();
    assert_eq!((count(&calls, "useradd "), count(&calls, "groupadd ")), (1, 1), "{calls}");
    assert!(calls.ends_with("systemctl enable conversure.service\nsystemctl restart conversure.service\n"), "{calls}");
    let passwd = std::fs::read_to_string(scratch.in_root("/etc/passwd")).unwrap();
    assert_eq!(passwd.lines().filter(|l| l.starts_with("conversure:")).count(), 1);
    assert_eq!(std::fs::read_to_string(data.join("keep.txt")).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(&unit_path).unwrap(), expected_unit(port), "a re-run keeps the port");

    // Installed through the CLI meanwhile: a third run says so instead of printing a setup link.
    scratch.systemctl(&["stop", "conversure.service"]);
    install_instance(&installed, &data, &scratch.path("password"));
    let third = assert_ok(&scratch.install(&["--binary", &scratch.binary_copy()]));
    assert!(third.contains("Conversure is already installed and running: http://"), "{third}");
    assert!(!third.contains("install?token="), "{third}");
    assert_eq!(std::fs::read_dir(scratch.in_root("/etc/systemd/system")).unwrap().count(), 1, "one unit file");
}

/// `conversure install` on the installed data directory, as an owner would after the wizard.
fn install_instance(executable: &Path, data: &Path, password_file: &Path) {
    std::fs::write(password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let output = Command::new(executable)
        .args(["install", "--evaluation", "--data-dir", data.to_str().unwrap(), "--admin-email", ADMIN_EMAIL])
        .args(["--admin-password-file", password_file.to_str().unwrap(), "--site-url", "https://crm.acme.example"])
        .env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn refuses_to_run_without_root_and_writes_nothing() {
    let scratch = Scratch::new();
    let output = scratch.install_as(1000, &["--binary", &scratch.binary_copy()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("this installer must run as root"), "{}", text(&output.stderr));
    assert_eq!(scratch.written(), Vec::<PathBuf>::new());
    assert_eq!(scratch.calls(), "");
}

#[test]
fn a_missing_binary_is_a_clear_error_and_writes_nothing() {
    let scratch = Scratch::new();
    let missing = scratch.path("nowhere/conversure");
    let output = scratch.install(&["--binary", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let said = text(&output.stderr);
    assert!(said.contains(&format!("binary not found: {}", missing.display())), "{said}");
    assert_eq!(scratch.written(), Vec::<PathBuf>::new());
    assert_eq!(scratch.calls(), "");
}

#[test]
fn refuses_a_machine_without_systemd() {
    let scratch = Scratch::new();
    std::fs::remove_dir_all(scratch.path("root/run")).unwrap();
    let output = scratch.install(&["--binary", &scratch.binary_copy()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("systemd is not running"), "{}", text(&output.stderr));
    assert_eq!(scratch.calls(), "");
}

#[test]
fn bad_options_are_refused() {
    let scratch = Scratch::new();
    for (args, message) in [
        (vec!["--port", "99999"], "--port must be a number from 1 to 65535"),
        (vec!["--data-dir", "relative/dir"], "--data-dir must be an absolute path"),
        (vec!["--user", "Root Admin"], "--user must be a lower-case system user name"),
        (vec!["--frobnicate"], "unknown argument: --frobnicate"),
    ] {
        let output = scratch.install(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(text(&output.stderr).contains(message), "{args:?}: {}", text(&output.stderr));
    }
    assert_eq!(scratch.written(), Vec::<PathBuf>::new());
}

#[test]
fn downloads_the_release_the_manifest_names_and_checks_its_sha256() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("release")).unwrap();
    std::fs::copy(binary(), scratch.path("release/conversure")).unwrap();
    let asset = scratch.path("conversure.tar.zst");
    let packed = Command::new("tar")
        .args(["--zstd", "-cf", asset.to_str().unwrap(), "-C", scratch.path("release").to_str().unwrap(), "conversure"])
        .status()
        .unwrap();
    assert!(packed.success(), "tar --zstd (needs zstd)");
    let bytes = std::fs::read(&asset).unwrap();
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let this_target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let manifest_file = scratch.path("manifest.json");
    let manifest_url = format!("file://{}", manifest_file.display());
    let write_manifest = |sha256: &str| {
        let asset_entry = |target: &str, url: String| {
            serde_json::json!({ "target": target, "url": url, "size": bytes.len(), "sha256": sha256,
                                "key_id": "test", "signature": "c2lnbmF0dXJl" })
        };
        let manifest = serde_json::json!({
            "format": 1, "version": env!("CARGO_PKG_VERSION"), "published_at": "2026-01-01T00:00:00Z", "notes": "n",
            "assets": [asset_entry("riscv64gc-unknown-linux-gnu", "file:///nowhere".into()),
                       asset_entry(&this_target, format!("file://{}", asset.display()))],
        });
        std::fs::write(&manifest_file, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    };

    write_manifest(&"0".repeat(64));
    let refused = scratch.install(&["--manifest-url", &manifest_url, "--no-start"]);
    assert_eq!(refused.status.code(), Some(1));
    let said = text(&refused.stderr);
    assert!(said.contains(&format!("the download's sha256 is {sha256} but the manifest says 000")), "{said}");
    assert_eq!(scratch.written(), Vec::<PathBuf>::new());

    write_manifest(&sha256);
    let said = assert_ok(&scratch.install(&["--manifest-url", &manifest_url, "--no-start"]));
    assert!(said.contains(&format!("Downloading Conversure {} for {this_target}", env!("CARGO_PKG_VERSION"))));
    assert_eq!(
        std::fs::read(scratch.in_root("/var/lib/conversure/bin/conversure")).unwrap(),
        std::fs::read(binary()).unwrap()
    );
    assert_eq!(
        scratch.calls().lines().filter(|l| l.starts_with("systemctl")).collect::<Vec<_>>(),
        ["systemctl daemon-reload", "systemctl enable conversure.service"]
    );
    assert!(!scratch.path("state/service.pid").exists(), "--no-start starts nothing");
}

#[test]
fn another_user_data_dir_and_port_go_into_the_unit() {
    let scratch = Scratch::new();
    let args = ["--binary", &scratch.binary_copy(), "--user", "crm", "--data-dir", "/srv/crm/", "--port", "8443"];
    let said = assert_ok(&scratch.install(&[&args[..], &["--no-start"]].concat()));
    assert!(said.contains("Start it with: systemctl start conversure"), "{said}");
    let unit = std::fs::read_to_string(scratch.in_root("/etc/systemd/system/conversure.service")).unwrap();
    let expected = std::fs::read_to_string(UNIT_FILE)
        .unwrap()
        .replace("User=conversure\nGroup=conversure\n", "User=crm\nGroup=crm\n")
        .replace("--data-dir /var/lib/conversure --listen 0.0.0.0:80\n", "--data-dir /srv/crm --listen 0.0.0.0:8443\n")
        .replace("ReadWritePaths=/var/lib/conversure\n", "ReadWritePaths=/srv/crm\n");
    assert_eq!(unit, expected);
    let calls = scratch.calls();
    assert!(calls.contains("--home-dir /srv/crm --no-create-home") && calls.contains("Conversure crm\n"), "{calls}");
    assert_eq!(
        std::fs::read_link(scratch.in_root("/usr/local/bin/conversure")).unwrap(),
        Path::new("/srv/crm/bin/conversure")
    );
    assert_eq!(std::fs::metadata(scratch.in_root("/srv/crm")).unwrap().mode() & 0o7777, 0o750);
}

/// `packaging/release.sh` with a stand-in executable (the release build itself is too slow for a test) and the
/// built `conversure-release` signing tool, keyed with the test release key.
fn release(out: &Path, executable: &Path, target: &str) -> Output {
    let key = out.with_file_name("release.key");
    std::fs::write(&key, conversure::services::update::keys::TEST_SEED_HEX).unwrap();
    let notes = out.with_file_name("notes.txt");
    std::fs::write(&notes, "Faster inbox.\n").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/release.sh");
    Command::new("bash")
        .arg(script)
        .args(["--binary", executable.to_str().unwrap(), "--target", target, "--out", out.to_str().unwrap()])
        .args(["--key", key.to_str().unwrap(), "--key-id", "release-test", "--notes-file", notes.to_str().unwrap()])
        .args([
            "--base-url",
            "https://releases.example/stable/",
            "--release-tool",
            env!("CARGO_BIN_EXE_conversure-release"),
        ])
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .unwrap()
}

#[test]
fn the_release_script_packs_and_signs_a_manifest_the_updater_verifies() {
    use conversure::services::update::manifest::{self, Manifest};

    let dir = tempfile::tempdir().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let executable = dir.path().join("conversure");
    write_executable(&executable, format!("#!/bin/sh\necho 'conversure {version}'\n").as_bytes());
    let out = dir.path().join("dist");
    let other_target = "riscv64gc-unknown-linux-gnu";
    for target in [manifest::TARGET, other_target] {
        let output = release(&out, &executable, target);
        assert!(output.status.success(), "release.sh: {}", text(&output.stderr));
    }

    let manifest = Manifest::parse(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!((manifest.version.as_str(), manifest.notes.as_str()), (version, "Faster inbox."));
    let targets: Vec<&str> = manifest.assets.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(targets.len(), 2, "both platforms are listed: {targets:?}");
    assert!(targets.contains(&other_target));
    let asset = manifest.asset_for_this_platform().unwrap();
    let name = format!("conversure-{version}-{}.tar.zst", manifest::TARGET);
    assert_eq!(asset.url, format!("https://releases.example/stable/{name}"));
    manifest::verify_signature(&manifest.version, asset).unwrap();
    let archive = std::fs::read(out.join(&name)).unwrap();
    manifest::verify_archive(asset, &archive).unwrap();
    let checksum = std::fs::read_to_string(out.join(format!("{name}.sha256"))).unwrap();
    assert_eq!(checksum, format!("{}  {name}\n", asset.sha256));
    assert_eq!(std::fs::read(out.join("install.sh")).unwrap(), std::fs::read(SCRIPT).unwrap());

    let listing = Command::new("tar").args(["--zstd", "-tf"]).arg(out.join(&name)).output().unwrap();
    assert_eq!(text(&listing.stdout), "conversure\nLICENSE\nREADME.md\n");
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let mut unpack = Command::new("tar");
    unpack.arg("--zstd").arg("-xf").arg(out.join(&name)).arg("-C").arg(&unpacked);
    assert!(unpack.status().unwrap().success());
    assert_eq!(std::fs::read(unpacked.join("conversure")).unwrap(), std::fs::read(&executable).unwrap());

    // An executable of another version is refused before anything is packed.
    write_executable(&executable, b"#!/bin/sh\necho 'conversure 9.9.9'\n");
    let refused = release(&dir.path().join("other"), &executable, manifest::TARGET);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains(&format!("says 'conversure 9.9.9', but Cargo.toml's version is {version}")));
    assert!(!dir.path().join("other").exists());
}
