//! Wizard step "Database": SQLite (nothing to fill in) or Postgres; test the connection for real, detect an earlier
//! installation, and migrate the chosen database (a wipe only behind a typed confirmation).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{DatabaseChoice, InstallService, StepError};
use crate::config::DatabaseUrl;
use crate::domain::msg::Msg;
use crate::services::doctor::MIN_POSTGRES_MAJOR;
use crate::store::probe::{self, DatabaseFacts};
use crate::store::{Backend, Db, migrate};

/// The database form as submitted.
#[derive(Debug, Clone, Default)]
pub struct DatabaseForm {
    /// `sqlite` or `postgres`.
    pub kind: String,
    /// A full `postgres://` URL; when empty, the separate fields below build it.
    pub url: String,
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// For an existing installation: `reuse` or `wipe`.
    pub existing: String,
    /// The typed confirmation a wipe needs (the database's name).
    pub wipe_confirmation: String,
}

/// An earlier Conversure installation found in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingData {
    pub schema_version: i64,
    pub workspaces: i64,
    pub users: i64,
    pub installed: bool,
    /// What to type to confirm a wipe.
    pub confirmation_word: String,
}

/// The result of "Test connection".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseProbe {
    /// For example `PostgreSQL 16.4` or `SQLite 3.50.4`.
    pub server: String,
    /// Where, without any password.
    pub target: String,
    pub existing: Option<ExistingData>,
}

impl InstallService {
    /// Whether the operator fixed the database on the command line or in the environment.
    pub fn database_fixed(&self) -> Option<String> {
        self.config.fixed_by_operator.contains(&"database_url").then(|| self.config.database.display_redacted())
    }

    /// Connects to the database the form describes and reports what it found, changing nothing.
    pub async fn test_database(&self, form: &DatabaseForm) -> Result<DatabaseProbe, StepError> {
        let (choice, url) = self.resolve(form)?;
        let db = self.connect(&choice, &url).await?;
        let result = self.examine(&db, &url).await;
        if !matches!(choice, DatabaseChoice::Sqlite) {
            db.close().await;
        }
        result
    }

    /// Tests, then migrates the chosen database (wiping an earlier installation only when confirmed).
    pub async fn choose_database(&self, form: &DatabaseForm) -> Result<(DatabaseProbe, migrate::Report), StepError> {
        let (choice, url) = self.resolve(form)?;
        let db = self.connect(&choice, &url).await?;
        let outcome = async {
            let probe = self.examine(&db, &url).await?;
            let report = match &probe.existing {
                None => migrate::run(&db).await?,
                Some(existing) => match form.existing.as_str() {
                    "reuse" if existing.installed => {
                        return Err(StepError::field("existing", Msg::new("install.database.installed_reuse")));
                    }
                    "reuse" => migrate::run(&db).await?,
                    "wipe" if form.wipe_confirmation.trim() == existing.confirmation_word => {
                        migrate::wipe_and_run(&db).await?
                    }
                    "wipe" => {
                        return Err(StepError::field(
                            "wipe_confirmation",
                            Msg::with(
                                "install.database.confirm_mismatch",
                                &[("word", existing.confirmation_word.clone())],
                            ),
                        ));
                    }
                    _ => return Err(StepError::field("existing", Msg::new("install.database.choose_existing"))),
                },
            };
            Ok((probe, report))
        }
        .await;
        if !matches!(choice, DatabaseChoice::Sqlite) {
            db.close().await;
        }
        let (probe, report) = outcome?;
        self.update_draft(|d| d.database = Some(choice)).await?;
        Ok((probe, report))
    }

    /// The database the finished instance will use, opened (the running one for SQLite).
    pub(super) async fn open_chosen(&self, choice: &DatabaseChoice) -> Result<Db, StepError> {
        match choice {
            DatabaseChoice::Sqlite if self.db.backend() == Backend::Sqlite => Ok(self.db.clone()),
            DatabaseChoice::Sqlite => {
                let url = DatabaseUrl::Sqlite(self.config.data_dir.sqlite_database());
                let db = Db::open(&url).await?;
                migrate::run(&db).await?;
                Ok(db)
            }
            DatabaseChoice::Postgres { url } => {
                Ok(Db::open(&DatabaseUrl::parse(url).map_err(|e| StepError::Internal(e.to_string()))?).await?)
            }
        }
    }

    fn resolve(&self, form: &DatabaseForm) -> Result<(DatabaseChoice, DatabaseUrl), StepError> {
        if self.database_fixed().is_some() {
            let choice = match &self.config.database {
                DatabaseUrl::Sqlite(_) => DatabaseChoice::Sqlite,
                DatabaseUrl::Postgres(url) => DatabaseChoice::Postgres { url: url.expose().to_owned() },
            };
            return Ok((choice, self.config.database.clone()));
        }
        match form.kind.as_str() {
            "" | "sqlite" => Ok((DatabaseChoice::Sqlite, DatabaseUrl::Sqlite(self.config.data_dir.sqlite_database()))),
            "postgres" => {
                let text = postgres_url(form)?;
                let url = DatabaseUrl::parse(&text)
                    .map_err(|_| StepError::field("url", Msg::new("install.database.url_invalid")))?;
                Ok((DatabaseChoice::Postgres { url: text }, url))
            }
            _ => Err(StepError::field("kind", Msg::new("install.database.kind_invalid"))),
        }
    }

    async fn connect(&self, choice: &DatabaseChoice, url: &DatabaseUrl) -> Result<Db, StepError> {
        match choice {
            DatabaseChoice::Sqlite if self.db.backend() == Backend::Sqlite => Ok(self.db.clone()),
            _ => Db::open(url).await.map_err(|e| {
                let field = if form_uses_url(url) { "url" } else { "host" };
                StepError::field(field, Msg::with("install.database.connect_failed", &[("error", e.to_string())]))
            }),
        }
    }

    async fn examine(&self, db: &Db, url: &DatabaseUrl) -> Result<DatabaseProbe, StepError> {
        let facts = probe::inspect(db).await?;
        check_facts(&facts)?;
        let server = match facts.backend {
            Backend::Sqlite => format!("SQLite {}", facts.version),
            Backend::Postgres => format!("PostgreSQL {}", facts.version),
        };
        let confirmation_word = match url {
            DatabaseUrl::Sqlite(path) => {
                path.file_name().map_or_else(|| "conversure.db".to_owned(), |n| n.to_string_lossy().into_owned())
            }
            DatabaseUrl::Postgres(url) => url::Url::parse(url.expose())
                .ok()
                .map(|u| u.path().trim_start_matches('/').to_owned())
                .unwrap_or_default(),
        };
        // A schema with no accounts is what a first start leaves behind: nothing to protect.
        let existing = (facts.schema_version > 0 && (facts.workspaces > 0 || facts.users > 0 || facts.installed))
            .then_some(ExistingData {
                schema_version: facts.schema_version,
                workspaces: facts.workspaces,
                users: facts.users,
                installed: facts.installed,
                confirmation_word,
            });
        Ok(DatabaseProbe { server, target: url.display_redacted(), existing })
    }
}

fn form_uses_url(url: &DatabaseUrl) -> bool {
    matches!(url, DatabaseUrl::Postgres(_))
}

/// Server version, encoding and rights good enough for Conversure.
fn check_facts(facts: &DatabaseFacts) -> Result<(), StepError> {
    if facts.backend != Backend::Postgres {
        return Ok(());
    }
    let major: u32 = facts.version.split(['.', ' ']).next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < MIN_POSTGRES_MAJOR {
        return Err(StepError::Message(Msg::with(
            "doctor.database.pg_old",
            &[("version", facts.version.clone()), ("min", MIN_POSTGRES_MAJOR.to_string())],
        )));
    }
    let encoding = facts.encoding.clone().unwrap_or_default();
    if !encoding.eq_ignore_ascii_case("UTF8") {
        return Err(StepError::Message(Msg::with("doctor.database.pg_encoding", &[("encoding", encoding)])));
    }
    if !facts.can_create_tables {
        return Err(StepError::Message(Msg::new("install.database.no_create_right")));
    }
    if facts.schema_version > crate::store::migrate::latest_version() {
        return Err(StepError::Message(Msg::new("install.database.newer_schema")));
    }
    Ok(())
}

/// The Postgres URL from the form: the URL field, or one built from host, port, database, user and password.
fn postgres_url(form: &DatabaseForm) -> Result<String, StepError> {
    if !form.url.trim().is_empty() {
        return Ok(form.url.trim().to_owned());
    }
    let mut errors = Vec::new();
    let host = form.host.trim();
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        errors.push(("host", Msg::new("install.database.host_invalid")));
    }
    let port = if form.port.trim().is_empty() { Ok(5432) } else { form.port.trim().parse::<u16>() };
    if !matches!(port, Ok(p) if p > 0) {
        errors.push(("port", Msg::new("install.database.port_invalid")));
    }
    if form.database.trim().is_empty() {
        errors.push(("database", Msg::new("install.database.name_required")));
    }
    if form.user.trim().is_empty() {
        errors.push(("user", Msg::new("install.database.user_required")));
    }
    if !errors.is_empty() {
        return Err(StepError::Fields(errors));
    }
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let credentials = if form.password.is_empty() {
        enc(form.user.trim())
    } else {
        format!("{}:{}", enc(form.user.trim()), enc(&form.password))
    };
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    Ok(format!("postgres://{credentials}@{host}:{}/{}", port.unwrap_or(5432), enc(form.database.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_fields_with_escaping() {
        let form = DatabaseForm {
            kind: "postgres".into(),
            host: "db.internal".into(),
            database: "cs".into(),
            user: "app".into(),
            password: "p@ss/word".into(),
            ..DatabaseForm::default()
        };
        assert_eq!(postgres_url(&form).unwrap(), "postgres://app:p%40ss%2Fword@db.internal:5432/cs");
        let missing = DatabaseForm { kind: "postgres".into(), port: "99999".into(), ..DatabaseForm::default() };
        let Err(StepError::Fields(errors)) = postgres_url(&missing) else { panic!("expected field errors") };
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["host", "port", "database", "user"]);
    }
}
