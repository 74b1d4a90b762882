//! Message rules with no I/O: the status ranks statuses only climb, and the 24-hour customer-service window.

/// Where a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            _ => None,
        }
    }
}

/// A message's delivery state. Inbound messages are `Received`; outbound ones start `Pending` and climb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Written, its send job queued.
    Pending,
    /// The provider accepted it (has its id).
    Sent,
    Delivered,
    Read,
    /// A voice message was played.
    Played,
    /// Terminal, with a reason.
    Failed,
    /// An inbound message.
    Received,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Received => "received",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            "received" => Self::Received,
            _ => return None,
        })
    }

    /// The order statuses climb in: pending < sent < delivered < read < played; failed above all (terminal).
    pub fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Received | Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Played => 4,
            Self::Failed => 9,
        }
    }

    /// Whether a message at `self` moves to `next`: only upwards, and nothing leaves `Failed`. Providers redeliver
    /// and reorder status webhooks (a `read` before its `delivered`), so a lower status arriving late is ignored.
    pub fn advances_to(self, next: Self) -> bool {
        self != Self::Failed && next.rank() > self.rank()
    }
}

/// How long after a customer's last message a business may answer freely (then only templates).
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Whether a free-form message may be sent at `now`, given the last inbound message's time.
pub fn window_open(last_inbound_at: Option<i64>, now: i64) -> bool {
    last_inbound_at.is_some_and(|at| now < at + WINDOW_MS)
}

/// The default warm-up for a new number on an unofficial gateway: messages per day in weeks 1, 2, 3, and after.
pub const DEFAULT_WARMUP: [i64; 4] = [20, 50, 100, 1000];

/// Meta's messaging-limit tiers: unique users a business portfolio may start conversations with per 24 hours
/// (`None` = unlimited).
pub const META_TIERS: [Option<i64>; 5] = [Some(250), Some(2_000), Some(10_000), Some(100_000), None];

/// Today's quota under a warm-up schedule, `week` counting from 0 at the start; the last step holds afterwards.
pub fn warmup_quota(schedule: &[i64], week: i64) -> Option<i64> {
    let index = usize::try_from(week.max(0)).unwrap_or(usize::MAX).min(schedule.len().checked_sub(1)?);
    schedule.get(index).copied()
}

/// Parses a warm-up schedule as admins type it: `20, 50, 100, 1000` (1–12 positive steps, not decreasing).
pub fn parse_warmup(text: &str) -> Option<Vec<i64>> {
    let steps: Vec<i64> =
        text.split(',').map(|s| s.trim().parse::<i64>().ok().filter(|n| *n > 0)).collect::<Option<_>>()?;
    let valid = (1..=12).contains(&steps.len()) && steps.windows(2).all(|w| w[0] <= w[1]);
    valid.then_some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_climb_and_failed_is_terminal() {
        assert!(Status::Pending.advances_to(Status::Sent));
        assert!(Status::Sent.advances_to(Status::Read));
        assert!(!Status::Read.advances_to(Status::Delivered), "a late delivered never lowers read");
        assert!(!Status::Delivered.advances_to(Status::Delivered), "a duplicate changes nothing");
        assert!(Status::Delivered.advances_to(Status::Failed), "failed wins over delivered");
        assert!(!Status::Failed.advances_to(Status::Read), "failed keeps its reason");
        for s in ["pending", "sent", "delivered", "read", "played", "failed", "received"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn window_is_open_for_24_hours_after_the_last_inbound() {
        assert!(!window_open(None, 1_000));
        assert!(window_open(Some(0), WINDOW_MS - 1));
        assert!(!window_open(Some(0), WINDOW_MS));
    }

    #[test]
    fn warmup_steps_by_week_then_holds() {
        assert_eq!(warmup_quota(&DEFAULT_WARMUP, 0), Some(20));
        assert_eq!(warmup_quota(&DEFAULT_WARMUP, 2), Some(100));
        assert_eq!(warmup_quota(&DEFAULT_WARMUP, 30), Some(1000));
        assert_eq!(warmup_quota(&[], 0), None);
        assert_eq!(parse_warmup("20, 50,100 ,1000"), Some(vec![20, 50, 100, 1000]));
        assert_eq!(parse_warmup("50, 20"), None);
        assert_eq!(parse_warmup("0"), None);
        assert_eq!(parse_warmup(""), None);
    }
}
