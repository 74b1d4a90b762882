//! Per-resource rate limits for workers: a token bucket per key, answering "when may the next one go?" so a
//! limited job is put back until then instead of being spun on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// Token buckets by resource key (per node).
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes a token for `key` now, or says how long until one is free (nothing is taken then).
    pub fn try_take(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((rate.burst, now));
        let refilled = (*tokens + now.duration_since(*last).as_secs_f64() * rate.per_second).min(rate.burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / rate.per_second.max(f64::MIN_POSITIVE)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_waits() {
        let limiter = RateLimiter::default();
        let rate = Rate { per_second: 10.0, burst: 3.0 };
        for _ in 0..3 {
            assert!(limiter.try_take("n1", rate).is_ok());
        }
        let wait = limiter.try_take("n1", rate).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        assert!(limiter.try_take("n2", rate).is_ok(), "keys are independent");
    }
}
