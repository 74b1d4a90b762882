//! The health gate: after the swap, with the old server stopped (database closed, data-directory lock released),
//! start the new executable, wait until its `/healthz` answers healthy with the new version, then stop it again and
//! restart for real; if it exits, stays unhealthy, reports another version or times out, put the old executable and
//! the pre-update backup back. Either way the outcome is written to `update-state.json` for the next process.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::backup_link;
use super::install;
use super::state::{self, UpdateState};
use crate::config::Config;
use crate::lifecycle::StopRequest;

/// How long the new version has to answer healthy.
const HEALTH_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stopped version may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(25);
/// The exit code that asks systemd (`Restart=always` in the unit) to start the service again.
pub const EXIT_RESTART: u8 = 75;

/// After `serve` stopped for an update: run the gate with the same arguments, then restart into whichever
/// executable is in place (the new one, or the old one put back).
///
/// A stop requested meanwhile ends the gate (an undecided update is rolled back) and the process, without restarting.
pub async fn after_serve(config: &Config, mut stop_request: StopRequest) -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let exe = match run(config, &args, &mut stop_request).await {
        Some(attempt) => attempt.exe,
        None => match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return fail(&format!("cannot locate this executable to restart: {e}")),
        },
    };
    if stop_request.arrived() {
        tracing::info!("asked to stop during the update: not restarting");
        return ExitCode::SUCCESS;
    }
    handover(&exe, &args)
}

/// Runs the gate for the attempt in flight (none: `None`), starting the new executable with `args`; returns the
/// attempt with its outcome recorded. A stop request before the verdict counts as a failure: the update is rolled
/// back rather than left half-checked.
pub async fn run(config: &Config, args: &[OsString], stop_request: &mut StopRequest) -> Option<UpdateState> {
    let mut attempt = state::read(&config.data_dir).filter(|a| a.outcome.is_none())?;
    let url = format!("http://{}/healthz", loopback(config.listen));
    tracing::info!(to = %attempt.to, "starting the new version behind the health gate");
    let interrupted = || "the service was asked to stop before the new version passed its health check".to_owned();
    let verdict = match spawn_unless_stopping(&attempt.exe, args, stop_request) {
        None => Err(interrupted()),
        Some(Ok(mut child)) => {
            let verdict = tokio::select! {
                verdict = wait_healthy(&mut child, &url, &attempt.to) => verdict,
                () = stop_request.requested() => Err(interrupted()),
            };
            stop(&mut child).await;
            verdict
        }
        Some(Err(e)) => Err(format!("the new version does not start: {e}")),
    };
    let reason = match verdict {
        Ok(()) => {
            tracing::info!(to = %attempt.to, "the new version is healthy");
            record(config, &mut attempt, true, "");
            return Some(attempt);
        }
        Err(reason) => reason,
    };
    tracing::error!(%reason, "the new version failed its health gate; rolling back");
    let mut problems = Vec::new();
    if let Err(e) = install::put_back(&attempt.exe) {
        problems.push(e);
    }
    if let Err(e) = backup_link::restore(config, &attempt.backup_file).await {
        problems.push(e);
    }
    let reason = if problems.is_empty() {
        reason
    } else {
        format!("{reason}; the rollback also failed: {}", problems.join("; "))
    };
    record(config, &mut attempt, false, &reason);
    Some(attempt)
}

fn record(config: &Config, attempt: &mut UpdateState, succeeded: bool, reason: &str) {
    if let Err(e) = state::finish(&config.data_dir, attempt, succeeded, reason) {
        tracing::error!(error = %e, "cannot record the update's outcome");
    }
}

/// The address to poll: a wildcard listen address is reached over loopback.
fn loopback(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port()),
        _ => listen,
    }
}

/// Starts the new executable, unless a stop was already requested (`None`).
fn spawn_unless_stopping(exe: &Path, args: &[OsString], stop_request: &StopRequest) -> Option<std::io::Result<Child>> {
    (!stop_request.arrived()).then(|| Command::new(exe).args(args).stdin(Stdio::null()).spawn())
}

/// Polls `/healthz` until it reports `version` healthy; fails when the child exits, another version answers, or
/// the deadline passes.
async fn wait_healthy(child: &mut Child, url: &str, version: &str) -> Result<(), String> {
    crate::init_crypto();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + HEALTH_DEADLINE;
    let mut last = "it never answered".to_owned();
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the new version {version} stopped ({status}) before answering its health check"));
        }
        if let Ok(response) = client.get(url).send().await {
            let healthy = response.status().is_success();
            let bytes = response.bytes().await.unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let reported = body["version"].as_str().unwrap_or_default().to_owned();
            if healthy && reported == version {
                return Ok(());
            }
            if healthy {
                return Err(format!("the new executable reports version {reported:?} instead of {version}"));
            }
            last = format!("its health check answers {body}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("the new version {version} was not healthy within {} s ({last})", HEALTH_DEADLINE.as_secs()))
}

/// Stops a child with SIGTERM (through `kill`, so no unsafe code), then SIGKILL after the grace period.
async fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Restarts into `exe`: under systemd (`INVOCATION_ID` set) by exiting with [`EXIT_RESTART`] so the unit's
/// `Restart=always` starts it again under supervision; elsewhere by replacing this process (same pid, same args).
fn handover(exe: &Path, args: &[OsString]) -> ExitCode {
    if std::env::var_os("INVOCATION_ID").is_some() {
        tracing::info!("exiting for systemd to restart the service");
        return ExitCode::from(EXIT_RESTART);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = Command::new(exe).args(args).exec();
        fail(&format!("cannot restart {}: {error}", exe.display()))
    }
    #[cfg(not(unix))]
    {
        let _ = args;
        fail(&format!("start {} again to finish the update", exe.display()))
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_polled_on_loopback() {
        assert_eq!(loopback("0.0.0.0:8080".parse().unwrap()), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(loopback("[::]:80".parse().unwrap()), "[::1]:80".parse().unwrap());
        assert_eq!(loopback("10.0.0.2:80".parse().unwrap()), "10.0.0.2:80".parse().unwrap());
    }
}
