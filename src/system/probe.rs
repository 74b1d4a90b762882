//! Outbound HTTPS probe: proves the server reaches the internet and measures its clock against the far end's.

use std::time::{Duration, SystemTime};

/// What one probe request learnt.
#[derive(Debug, Clone)]
pub struct HttpsProbe {
    /// The HTTP status the far end answered with (any status proves connectivity).
    pub status: u16,
    /// Local clock minus the far end's `Date` header, in seconds; `None` without a usable header.
    pub clock_skew_secs: Option<i64>,
}

/// Fetches `url` once with a short timeout.
pub async fn probe_https(url: &url::Url, timeout: Duration) -> Result<HttpsProbe, String> {
    crate::init_crypto();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("conversure/", env!("CARGO_PKG_VERSION"), " (requirement check)"))
        .build()
        .map_err(|e| e.to_string())?;
    let sent = SystemTime::now();
    let response = client.head(url.as_str()).send().await.map_err(|e| describe(&e))?;
    let received = SystemTime::now();
    // The far end stamped its Date somewhere between send and receive: compare against the midpoint.
    let midpoint = sent + received.duration_since(sent).unwrap_or_default() / 2;
    let clock_skew_secs = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(httpdate_to_system_time)
        .map(|remote| seconds_between(midpoint, remote));
    Ok(HttpsProbe { status: response.status().as_u16(), clock_skew_secs })
}

fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    // reqwest's top-level text is generic ("error sending request"); the innermost cause names the real problem.
    let mut cause: &dyn Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if err.is_timeout() { "timed out".to_owned() } else { cause.to_string() }
}

fn seconds_between(local: SystemTime, remote: SystemTime) -> i64 {
    match local.duration_since(remote) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form servers may send today (RFC 9110).
fn httpdate_to_system_time(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: i64 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3_600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let t = httpdate_to_system_time("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        assert!(httpdate_to_system_time("yesterday").is_none());
        assert!(httpdate_to_system_time("Sun, 06 Nov 1994 08:49:37 CET").is_none());
    }

    #[test]
    fn skew_has_a_sign() {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(seconds_between(base + Duration::from_secs(5), base), 5);
        assert_eq!(seconds_between(base, base + Duration::from_secs(5)), -5);
    }
}
