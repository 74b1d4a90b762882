//! Which database an instance uses, parsed from its URL.

use std::path::PathBuf;

use super::{ConfigError, Secret};

/// The database backend and where to find it, chosen by the URL's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (created on first start).
    Sqlite(PathBuf),
    /// A Postgres server; the URL may contain a password.
    Postgres(Secret),
}

impl DatabaseUrl {
    /// Parses `sqlite:PATH`, `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            key: "database_url",
            value: redact_url(value),
            reason: reason.to_owned(),
        };
        if let Some(path) = value.strip_prefix("sqlite://").or_else(|| value.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(invalid("an sqlite URL needs a file path, for example sqlite:/var/lib/conversure/db"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            let parsed = url::Url::parse(value).map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid(
                    "the Postgres URL needs a host, for example postgres://user:pass@127.0.0.1:5432/conversure",
                ));
            }
            return Ok(Self::Postgres(Secret::new(value)));
        }
        Err(invalid("use sqlite:PATH or postgres://user:password@host:port/database"))
    }

    /// The backend's name as shown to people: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// A form safe to print: the SQLite path, or the Postgres URL without its password.
    pub fn display_redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => redact_url(url.expose()),
        }
    }
}

/// Replaces the password in a URL with `***`; leaves anything unparsable mostly hidden.
pub fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Setting a password only fails for URLs that cannot have one, which we just saw has one.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => value.split('@').next_back().map(|rest| format!("…@{rest}")).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        assert_eq!(DatabaseUrl::parse("sqlite:/x/db").unwrap(), DatabaseUrl::Sqlite("/x/db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:///x/db").unwrap(), DatabaseUrl::Sqlite("/x/db".into()));
        assert_eq!(DatabaseUrl::parse("postgres://u:p@h/db").unwrap().backend_name(), "postgres");
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite:").is_err());
        assert!(DatabaseUrl::parse("postgres:///db").is_err());
    }

    #[test]
    fn passwords_never_print() {
        let url = DatabaseUrl::parse("postgres://user:s3cret@db.example:5432/cs").unwrap();
        let shown = url.display_redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
        let err = DatabaseUrl::parse("mysql://user:s3cret@h/db").unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
