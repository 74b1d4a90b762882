//! Throwaway Postgres databases, one per test, on the cluster `scripts/test.sh` starts.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// A database created for one test and dropped after it.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

/// The cluster's URL, or `None` (the test is skipped) when no Postgres is configured. With
/// `CONVERSURE_REQUIRE_POSTGRES=1` (as in CI) a missing URL fails instead, so the Postgres half cannot be skipped silently.
pub fn cluster_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CONVERSURE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "TEST_DATABASE_URL is not set but CONVERSURE_REQUIRE_POSTGRES=1: run the tests through scripts/test.sh"
            );
            eprintln!("skipping the Postgres half: TEST_DATABASE_URL is not set (scripts/test.sh sets it)");
            None
        }
    }
}

impl TestDatabase {
    /// Creates a fresh, empty database; `None` when Postgres is not configured.
    pub async fn create() -> Option<Self> {
        let admin_url = cluster_url()?;
        let name = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect to the test cluster");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(Self { url: url.to_string(), admin_url, name })
    }

    /// Cuts every connection and refuses new ones: the database goes away as if the server died.
    pub async fn make_unreachable(&self) {
        let mut admin = PgConnection::connect(&self.admin_url).await.expect("connect to the test cluster");
        let sql = format!(
            "ALTER DATABASE \"{0}\" ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
            self.name
        );
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await.expect("cut the test database off");
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a separate thread with its own runtime can block on the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
