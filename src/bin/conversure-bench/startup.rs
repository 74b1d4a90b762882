//! `startup`: G9 cold start, G8 binary size, G7 idle RSS.
//!
//! Each run starts the release binary on an empty data directory (SQLite) and polls `/healthz` until it answers 200.
//! The baseline, measured in the same run, is the same binary's `version` command: process exec and exit without
//! any server work, so the ratio shows what start-up itself costs on this machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::{ms, percentile};

pub fn default_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("conversure")
}

pub fn run(binary: &PathBuf, runs: usize) -> ExitCode {
    let mut baseline = Vec::with_capacity(runs);
    let mut cold = Vec::with_capacity(runs);
    let mut rss_kib = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let ok = Command::new(binary).arg("version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("{} version failed", binary.display());
            return ExitCode::FAILURE;
        }
        baseline.push(started.elapsed());

        let dir = std::env::temp_dir().join(format!("conversure-bench-{}-{}", std::process::id(), cold.len()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => addr.port(),
            Err(e) => {
                eprintln!("no free port: {e}");
                return ExitCode::FAILURE;
            }
        };
        let started = Instant::now();
        let child = Command::new(binary)
            .args(["serve", "--data-dir", &dir.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
            .env("CONVERSURE_LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("cannot start {}", binary.display());
            return ExitCode::FAILURE;
        };
        let healthy = loop {
            if healthz(port) {
                break Some(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(10) {
                break None;
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        // Idle memory right after start, once the first request is served.
        std::thread::sleep(Duration::from_millis(200));
        rss_kib.push(vm_rss_kib(child.id()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        match healthy {
            Some(elapsed) => cold.push(elapsed),
            None => {
                eprintln!("no /healthz 200 within 10 s");
                return ExitCode::FAILURE;
            }
        }
    }
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    let (b50, b99) = (percentile(&mut baseline, 50), percentile(&mut baseline, 99));
    let (c50, c99) = (percentile(&mut cold, 50), percentile(&mut cold, 99));
    rss_kib.sort_unstable();
    println!("runs: {runs}");
    println!("B_exec (conversure version) p50: {:.1} ms, p99: {:.1} ms", ms(b50), ms(b99));
    println!(
        "G9 cold start, exec to /healthz 200, empty SQLite data dir, p50: {:.1} ms, p99: {:.1} ms (goal <= 150 ms)",
        ms(c50),
        ms(c99)
    );
    println!("G9 ratio cold start / B_exec, p50: {:.1}x", ms(c50) / ms(b50).max(0.001));
    println!(
        "G7 RSS right after start, median: {:.1} MB (goal <= 30 MB idle)",
        rss_kib[rss_kib.len() / 2] as f64 / 1024.0
    );
    println!("G8 binary size: {:.1} MB (goal <= 20 MB, stretch 12 MB)", size as f64 / 1_048_576.0);
    ExitCode::SUCCESS
}

fn healthz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}
