//! A real SMTP server for the tests: `tests/support/smtp_server.py` (aiosmtpd) on a free port, one per test.
//!
//! It needs Debian's `python3-aiosmtpd` under `/usr/bin/python3` (or the Python in `CONVERSURE_TEST_PYTHON`);
//! `scripts/test.sh` installs it. Without it the mail tests are skipped, unless `CONVERSURE_REQUIRE_POSTGRES=1` says
//! they run under `scripts/test.sh`, where a missing server is a failure.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How long the server may take to print `READY`.
const START_TIMEOUT: Duration = Duration::from_secs(15);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");

/// A running test SMTP server that stores every message it accepts; killed on drop.
pub struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
    /// Held open: the server exits when it closes, so it cannot outlive a test process that dies without dropping.
    _stdin: ChildStdin,
}

fn python() -> String {
    std::env::var("CONVERSURE_TEST_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "/usr/bin/python3".into())
}

/// Whether the Python has aiosmtpd; checked once per test run.
fn aiosmtpd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

impl SmtpServer {
    /// Starts a server (with `auth = Some((user, password))`, it requires that login); `None`, and the test is skipped,
    /// when aiosmtpd is not installed. Under `scripts/test.sh` (`CONVERSURE_REQUIRE_POSTGRES=1`) that is a failure.
    pub fn try_start(auth: Option<(&str, &str)>) -> Option<Self> {
        if !aiosmtpd_available() {
            assert!(
                std::env::var("CONVERSURE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{} cannot import aiosmtpd but CONVERSURE_REQUIRE_POSTGRES=1: scripts/test.sh installs python3-aiosmtpd \
                 (or run `apt-get install python3-aiosmtpd`, or point CONVERSURE_TEST_PYTHON at a Python that has it)",
                python()
            );
            eprintln!("skipping an SMTP test: {} cannot import aiosmtpd (scripts/test.sh installs it)", python());
            return None;
        }
        Some(Self::start(auth))
    }

    /// Starts a server, failing the test when it cannot.
    pub fn start(auth: Option<(&str, &str)>) -> Self {
        let maildir = tempfile::tempdir().expect("a temporary maildir");
        let log_path = maildir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("create the server log");
        let mut command = Command::new(python());
        command.arg(SCRIPT).args(["--port", "0", "--watch-stdin", "--maildir"]).arg(maildir.path());
        if let Some((user, password)) = auth {
            command.args(["--auth-user", user, "--auth-password", password]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} {SCRIPT}: {e}", python()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");

        // Read stdout on a thread so the wait has a deadline; after READY it keeps draining (the server prints nothing).
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("READY ").and_then(|p| p.trim().parse::<u16>().ok()) {
                    let _ = ready_tx.send(port);
                }
            }
        });
        let port = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => port,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!(
                    "the test SMTP server did not become ready ({e}; {status}); its log:\n{}",
                    read_lossy(&log_path)
                );
            }
        };
        Self { port, maildir, child, _stdin: stdin }
    }

    /// The raw text of every message received so far (`.eml` files), in the order they arrived.
    pub fn messages(&self) -> Vec<String> {
        let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(self.maildir.path())
            .expect("read the maildir")
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".eml")?.parse::<u64>().ok()?;
                Some((n, path))
            })
            .collect();
        numbered.sort();
        numbered.into_iter().map(|(_, path)| read_lossy(&path)).collect()
    }

    /// Waits until at least `n` messages have arrived or `timeout` passes, and returns what is there then.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The server's own log (aiosmtpd's warnings and errors), for assertion messages.
    pub fn log(&self) -> String {
        read_lossy(&self.maildir.path().join("server.log"))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}
