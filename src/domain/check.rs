//! Requirement checks: what was checked, whether it passed, and what to do when it did not.

use serde::Serialize;

use super::msg::Msg;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail` (CSS modifiers and JSON use these).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One requirement check with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable identifier, for example `disk_space`.
    pub id: &'static str,
    pub title: Msg,
    pub status: Status,
    pub detail: Msg,
    /// What to do about a warning or failure.
    pub fix: Option<Msg>,
}

impl Check {
    /// A passed check.
    pub fn pass(id: &'static str, title: Msg, detail: Msg) -> Self {
        Self { id, title, status: Status::Pass, detail, fix: None }
    }

    /// A check that passed with a caveat.
    pub fn warn(id: &'static str, title: Msg, detail: Msg, fix: Msg) -> Self {
        Self { id, title, status: Status::Warn, detail, fix: Some(fix) }
    }

    /// A failed check.
    pub fn fail(id: &'static str, title: Msg, detail: Msg, fix: Msg) -> Self {
        Self { id, title, status: Status::Fail, detail, fix: Some(fix) }
    }
}

/// The worst status among the checks (`Pass` for none).
pub fn overall(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_is_the_worst() {
        let c = |status| Check {
            id: "x",
            title: Msg::new("doctor.clock.title"),
            status,
            detail: Msg::new("doctor.clock.title"),
            fix: None,
        };
        assert_eq!(overall(&[]), Status::Pass);
        assert_eq!(overall(&[c(Status::Pass), c(Status::Warn)]), Status::Warn);
        assert_eq!(overall(&[c(Status::Fail), c(Status::Warn)]), Status::Fail);
    }
}
