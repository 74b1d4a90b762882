//! Per-resource rate limits for workers: a token bucket per key. A worker reserves the next token and sleeps until
//! it is due (nothing spins); when that is further away than it is worth holding a worker for, the job is put back
//! in the queue until then.

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
    /// Reserves the next token for `key`: `Ok(delay)` until it is ours (zero when one is free now), as long as that is
    /// at most `max_wait`; otherwise nothing is reserved and `Err(wait)` says when to try again.
    pub fn reserve(&self, key: &str, rate: Rate, max_wait: Duration) -> Result<Duration, Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(Duration::ZERO) };
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((rate.burst, now));
        let refilled = (*tokens + now.duration_since(*last).as_secs_f64() * rate.per_second).min(rate.burst);
        *last = now;
        let wait = Duration::from_secs_f64(((1.0 - refilled) / rate.per_second.max(f64::MIN_POSITIVE)).max(0.0));
        if wait <= max_wait {
            // May go below zero: the next reservations then wait for the tokens already promised.
            *tokens = refilled - 1.0;
            Ok(wait)
        } else {
            *tokens = refilled;
            Err(wait)
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
            assert_eq!(limiter.reserve("n1", rate, Duration::ZERO), Ok(Duration::ZERO));
        }
        let wait = limiter.reserve("n1", rate, Duration::ZERO).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        assert_eq!(limiter.reserve("n2", rate, Duration::ZERO), Ok(Duration::ZERO), "keys are independent");
    }

    #[test]
    fn reservations_space_out_and_stop_at_the_limit() {
        let limiter = RateLimiter::default();
        let rate = Rate { per_second: 100.0, burst: 1.0 };
        let hold = Duration::from_millis(50);
        assert_eq!(limiter.reserve("n", rate, hold), Ok(Duration::ZERO));
        let delays: Vec<Duration> = (0..5).map(|_| limiter.reserve("n", rate, hold).unwrap()).collect();
        // Each reservation waits about 10 ms longer than the one before.
        assert!(delays.windows(2).all(|w| w[1] > w[0]), "{delays:?}");
        assert!(delays[4] >= Duration::from_millis(45), "{delays:?}");
        assert!(limiter.reserve("n", rate, hold).is_err(), "beyond the hold time nothing is reserved");
    }
}
