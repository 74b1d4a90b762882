//! `live` (G4, live update): how long after a webhook's 200 its event reaches an open server-sent events stream.
//!
//! The server is the release binary set up as for `ingest` (a fresh instance, a Meta number, an admin key). One
//! client holds `GET /api/v1/events` open; the load generator posts signed inbound webhooks at a steady rate, one
//! at a time, and for each takes the time from the 200 to the `message` event it produced. An event can arrive
//! before the 200 is read (the stream wakes at commit, the answer follows it): that counts as zero. Requests are
//! sequential so each event is known to be its webhook's; at the default 100/s that is far below what one
//! connection carries.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::ingest::{post_one, start_instance, stream};
use crate::{Scratch, Target, fail, ms, percentile};

/// Reads `message` events from an open stream and passes on when each arrived.
async fn read_events(mut response: reqwest::Response, arrived: mpsc::UnboundedSender<Instant>) -> Result<(), String> {
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await.map_err(fail("event stream"))? {
        let now = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(at) = buffer.find("\n\n") {
            let block: String = buffer.drain(..at + 2).collect();
            if block.lines().any(|line| line.trim() == "event: message" || line.trim() == "event:message") {
                let _ = arrived.send(now);
            }
        }
    }
    Err("the event stream ended".into())
}

pub async fn run(per_second: usize, seconds: usize, binary: &Path, target: &Target) -> Result<(), String> {
    let binary = binary.canonicalize().map_err(|e| format!("no binary at {}: {e}", binary.display()))?;
    let n = per_second * seconds;
    println!(
        "scenario: live (G4), {n} webhooks at {per_second}/s, each timed from its 200 to its event on an open SSE stream"
    );
    println!("server: {}", binary.display());
    println!("database: {}", target.describe());
    let postgres_data;
    let (dir, postgres) = match target {
        Target::Sqlite(dir) => (&dir.0, None),
        Target::Postgres(url) => {
            postgres_data = Scratch::new("live-data")?;
            (&postgres_data.0, Some(url.as_str()))
        }
    };
    let instance = start_instance(&binary, dir, postgres).await?;
    let client = reqwest::Client::builder().build().map_err(fail("HTTP client"))?;
    let base = instance.webhook_url.split("/webhooks/").next().unwrap_or_default().to_owned();
    let response = client
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(&instance.key)
        .send()
        .await
        .map_err(fail("opening the event stream"))?;
    if !response.status().is_success() {
        return Err(format!("GET /api/v1/events answered {}", response.status()));
    }
    let (tx, mut arrivals) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_events(response, tx));

    let events = stream(0..n + 50)?;
    // Warm-up: the first webhooks create contacts and conversations and open connections.
    for webhook in events.iter().take(50) {
        post_one(&client, &instance.webhook_url, webhook).await?;
        tokio::time::timeout(Duration::from_secs(5), arrivals.recv()).await.map_err(fail("warm-up event"))?;
    }

    let mut latencies = Vec::with_capacity(n);
    let start = tokio::time::Instant::now();
    for (i, webhook) in events.iter().skip(50).enumerate() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / per_second as f64)).await;
        post_one(&client, &instance.webhook_url, webhook).await?;
        let answered = Instant::now();
        let arrived = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
            .await
            .map_err(|_| format!("no event within 5 s for webhook {i}"))?
            .ok_or("the event stream ended")?;
        latencies.push(arrived.saturating_duration_since(answered));
    }
    reader.abort();
    let early = latencies.iter().filter(|d| d.is_zero()).count();
    let (p50, p99) = (percentile(&mut latencies, 50), percentile(&mut latencies, 99));
    let max = latencies.last().copied().unwrap_or_default();
    println!(
        "G4 live: webhook 200 -> event on the open SSE stream, {n} events at {per_second}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({early} before the 200 was read) (goal p99 <= 50 ms): {}",
        ms(p50),
        ms(p99),
        ms(max),
        if p99 <= Duration::from_millis(50) { "met" } else { "missed" }
    );
    drop(instance);
    Ok(())
}
