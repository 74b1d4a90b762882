//! `dataset`: the deterministic read dataset of PERFORMANCE.md (100k contacts, 100k conversations, 1M messages
//! skewed per conversation, one 20k-message thread, and a second small tenant with 10k messages), written into an
//! installed instance so the inbox benchmarks (`inbox`) read exactly what the server would.
//!
//! The instance is installed the way an operator does it (`conversure install --evaluation`, as `ingest` does);
//! the generator then adds agents, numbers, tags, contacts, conversations and messages with multi-row inserts in
//! large transactions through the store's [`Conn`], so the real triggers (full-text search) and indexes are built.
//! SQL lives here only because this is a generator, not the application. Everything drawn comes from the seed:
//! the same seed gives the same rows (ids included, on an instance that had none).

use std::path::Path;
use std::time::Instant;

use conversure::store::{Backend, Conn, Db, Value};
use serde::{Deserialize, Serialize};

use crate::dataset_plan::{self, TenantSpec};
use crate::dataset_text::Vocabulary;
use crate::{fail, ingest, ms};

/// Where `inbox` finds what the generator made.
pub const MANIFEST: &str = "bench-dataset.json";
/// Rows per INSERT statement (16 columns: 8,000 parameters, under both engines' limits).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction: large enough to amortise the commit, small enough to keep the WAL and memory in bounds.
const ROWS_PER_TRANSACTION: usize = 50_000;
/// Words the vocabulary holds; with Zipf 1.05 the last ranks occur in a few dozen of 1M messages.
const VOCABULARY: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// As PERFORMANCE.md defines it: 1M messages.
    Full,
    /// A tenth of the main tenant (100k messages), the same 20k thread and second tenant.
    Small,
    /// For tests: a few thousand rows.
    Tiny,
}

impl Scale {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "full" => Ok(Self::Full),
            "small" => Ok(Self::Small),
            "tiny" => Ok(Self::Tiny),
            _ => Err("--scale takes full, small or tiny".into()),
        }
    }

    /// The main tenant and the small one.
    fn tenants(self) -> [TenantSpec; 2] {
        let (contacts, messages, big, small_contacts, small_messages) = match self {
            Self::Full => (100_000, 1_000_000, 20_000, 1_000, 10_000),
            Self::Small => (10_000, 100_000, 20_000, 1_000, 10_000),
            Self::Tiny => (200, 2_000, 300, 40, 300),
        };
        [
            TenantSpec { slug: "bench", name: "Bench", contacts, messages, big_thread: big, agents: 5, numbers: 2 },
            TenantSpec {
                slug: "bench-tenant",
                name: "Bench tenant",
                contacts: small_contacts,
                messages: small_messages,
                big_thread: 0,
                agents: 2,
                numbers: 1,
            },
        ]
    }
}

/// What one tenant holds, for the benchmarks to address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantInfo {
    pub slug: String,
    pub workspace_id: i64,
    pub agents: Vec<i64>,
    pub numbers: Vec<i64>,
    pub tags: Vec<i64>,
    pub contacts: usize,
    pub conversations: usize,
    pub messages: usize,
    /// The longest thread (the 20k one in the main tenant).
    pub big_thread: i64,
    pub big_thread_messages: usize,
    /// A thread of exactly 50 messages, G4's reference.
    pub thread_50: i64,
}

/// A search term and the number of messages holding it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Term {
    pub word: String,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub seed: u64,
    pub scale: String,
    pub main: TenantInfo,
    pub tenant: TenantInfo,
    /// The most frequent words (in most messages) and some of the rarest (in a few dozen).
    pub common_terms: Vec<Term>,
    pub rare_terms: Vec<Term>,
}

/// `conversure-bench dataset`: installs an instance in `data_dir` when none is there, fills it, writes the manifest.
pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    seed: u64,
    scale: Scale,
    binary: &Path,
) -> Result<(), String> {
    println!("scenario: dataset, seed {seed}, scale {scale:?}, data directory {}", data_dir.display());
    if data_dir.join(MANIFEST).exists() {
        return Err(format!("{} already holds a dataset ({MANIFEST}); use a new directory", data_dir.display()));
    }
    let started = Instant::now();
    if !data_dir.join("config.toml").exists() {
        ingest::install(binary, data_dir, "Bench", "http://127.0.0.1:8080", database_url)?;
        println!("installed (conversure install --evaluation) in {:.0} ms", ms(started.elapsed()));
    }
    let db = open_installed(data_dir).await?;
    println!("database: {}", db_description(&db));
    let manifest = generate(&db, seed, scale).await;
    db.close().await;
    let manifest = manifest?;
    let json = serde_json::to_string_pretty(&manifest).map_err(fail("manifest"))?;
    std::fs::write(data_dir.join(MANIFEST), json).map_err(fail("writing the manifest"))?;
    print_manifest(&manifest);
    println!("dataset generated in {:.1} s (install included)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The database an installed data directory uses (its `config.toml`), opened as the server opens it.
pub async fn open_installed(data_dir: &Path) -> Result<Db, String> {
    let overrides = conversure::config::Overrides { data_dir: Some(data_dir.to_path_buf()), ..Default::default() };
    let config = conversure::config::Config::load_from(&overrides, Default::default()).map_err(fail("config"))?;
    Db::open(&config.database).await.map_err(fail("opening the database"))
}

pub fn db_description(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Sqlite => "SQLite (WAL, synchronous = FULL)",
        Backend::Postgres => "Postgres",
    }
}

fn print_manifest(m: &Manifest) {
    for t in [&m.main, &m.tenant] {
        println!(
            "tenant {} (workspace {}): {} contacts, {} conversations, {} messages; longest thread {} ({} messages), 50-message thread {}",
            t.slug,
            t.workspace_id,
            t.contacts,
            t.conversations,
            t.messages,
            t.big_thread,
            t.big_thread_messages,
            t.thread_50
        );
    }
    let terms = |terms: &[Term]| terms.iter().map(|t| format!("{} ({})", t.word, t.messages)).collect::<Vec<_>>();
    println!("common terms (messages holding them): {}", terms(&m.common_terms).join(", "));
    println!("rare terms (messages holding them): {}", terms(&m.rare_terms).join(", "));
}

/// Fills `db` (installed or just migrated) with both tenants; the main tenant's workspace is the installed one
/// (slug `bench`) when it exists.
pub async fn generate(db: &Db, seed: u64, scale: Scale) -> Result<Manifest, String> {
    let vocabulary = Vocabulary::new(VOCABULARY);
    let mut main_stats = None;
    let [main_spec, tenant_spec] = scale.tenants();
    let mut infos = Vec::new();
    for (n, spec) in [main_spec, tenant_spec].iter().enumerate() {
        let started = Instant::now();
        let mut stats = dataset_plan::TermStats::new(VOCABULARY);
        let info = dataset_plan::tenant(db, spec, seed.wrapping_add(n as u64 * 0x1000_0000), &vocabulary, &mut stats)
            .await
            .map_err(fail("generating"))?;
        println!(
            "generated tenant {}: {} messages in {:.1} s ({:.0} messages/s)",
            spec.slug,
            info.messages,
            started.elapsed().as_secs_f64(),
            info.messages as f64 / started.elapsed().as_secs_f64().max(1e-9)
        );
        infos.push(info);
        main_stats.get_or_insert(stats);
    }
    let stats = main_stats.ok_or("no tenant")?;
    let started = Instant::now();
    finish(db).await.map_err(fail("analyze"))?;
    println!("ANALYZE (and identity sequences on Postgres) in {:.0} ms", ms(started.elapsed()));
    let tenant = infos.pop().ok_or("no tenant")?;
    let main = infos.pop().ok_or("no tenant")?;
    let term = |rank: usize| Term { word: vocabulary.words[rank].clone(), messages: stats.messages_with(rank) };
    let rare = stats.rare_ranks(5);
    Ok(Manifest {
        seed,
        scale: format!("{scale:?}").to_lowercase(),
        main,
        tenant,
        common_terms: (0..3).map(term).collect(),
        rare_terms: rare.into_iter().map(term).collect(),
    })
}

/// Statistics for the planners; on Postgres also moves the identity sequences past the ids written explicitly.
async fn finish(db: &Db) -> Result<(), conversure::store::StoreError> {
    let mut conn = db.write().await?;
    if db.backend() == Backend::Postgres {
        for table in ["contacts", "conversations", "messages"] {
            conn.fetch_all(
                &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"),
                &[],
            )
            .await?;
        }
    }
    conn.commit().await?;
    let mut conn = db.write().await?;
    conn.execute("ANALYZE", &[]).await?;
    conn.commit().await
}

/// Inserts `rows` (each `columns` values) into `table`, [`ROWS_PER_STATEMENT`] per statement.
pub async fn insert_rows(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Value],
) -> Result<(), conversure::store::StoreError> {
    let width = columns.len();
    for chunk in rows.chunks(ROWS_PER_STATEMENT * width) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        for row in 0..chunk.len() / width {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for col in 0..width {
                if col > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", row * width + col + 1));
            }
            sql.push(')');
        }
        conn.execute(&sql, chunk).await?;
    }
    Ok(())
}

/// Inserts a long run of rows in transactions of [`ROWS_PER_TRANSACTION`].
pub async fn insert_batched(
    db: &Db,
    table: &str,
    columns: &[&str],
    rows: &[Value],
) -> Result<(), conversure::store::StoreError> {
    for chunk in rows.chunks(ROWS_PER_TRANSACTION * columns.len()) {
        let mut conn = db.write().await?;
        insert_rows(&mut conn, table, columns, chunk).await?;
        conn.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use conversure::config::DatabaseUrl;
    use conversure::store::migrate;

    /// Counts of the generated tables and a checksum over a sample of their rows.
    async fn fingerprint(seed: u64) -> (Vec<i64>, String, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DatabaseUrl::Sqlite(dir.path().join("t.db"))).await.unwrap();
        migrate::run(&db).await.unwrap();
        let manifest = generate(&db, seed, Scale::Tiny).await.unwrap();
        let mut conn = db.read().await.unwrap();
        let mut counts = Vec::new();
        for table in ["workspaces", "users", "contacts", "conversations", "messages", "conversation_tags", "tags"] {
            counts.push(conn.fetch_one(&format!("SELECT COUNT(*) FROM {table}"), &[]).await.unwrap().int(0).unwrap());
        }
        let mut sample = String::new();
        for sql in [
            "SELECT id || name || COALESCE(phone, '') || COALESCE(email, '') || custom_fields FROM contacts ORDER BY id LIMIT 30",
            "SELECT id || contact_id || status || COALESCE(assignee_user_id, 0) || last_message_at || COALESCE(last_message_preview, '') FROM conversations ORDER BY id DESC LIMIT 30",
            "SELECT id || conversation_id || direction || status || COALESCE(body, '') || created_at FROM messages WHERE id % 37 = 0 ORDER BY id",
        ] {
            for row in conn.fetch_all(sql, &[]).await.unwrap() {
                sample.push_str(&row.text(0).unwrap());
            }
        }
        drop(conn);
        db.close().await;
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sample.as_bytes()));
        (counts, digest, manifest)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_same_seed_gives_the_same_dataset() {
        let (counts, digest, manifest) = fingerprint(7).await;
        assert_eq!(counts[0], 2, "two workspaces");
        assert_eq!(counts[2], 240, "contacts of both tenants");
        assert_eq!(counts[3], 240, "one conversation per contact");
        assert_eq!(counts[4], 2_300, "messages of both tenants");
        assert_eq!(manifest.main.big_thread_messages, 300);
        let again = fingerprint(7).await;
        assert_eq!((&counts, &digest, &manifest), (&again.0, &again.1, &again.2));
        let other = fingerprint(8).await;
        assert_eq!(counts[..5], other.0[..5], "another seed changes contents, not sizes");
        assert_ne!(digest, other.1);
    }
}
