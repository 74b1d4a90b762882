//! One tenant of the dataset: its agents, numbers and tags, then contacts, conversations and messages, drawn from
//! the seed and written in bulk.
//!
//! Messages are planned first (how many per conversation, when) and then given ids in time order, as a live
//! instance would, so a long thread's rows are spread through the table rather than stored side by side. Each
//! message's direction and text come from its own random stream (conversation, position), so they do not depend on
//! the order rows are written in.

use conversure::store::{Db, StoreError, Value};

use crate::dataset::{TenantInfo, insert_batched};
use crate::dataset_text::{self, Rng, Vocabulary};

/// 2026-09-21T00:00:00Z: "now" for the dataset, fixed so a seed means the same times on every run.
const NOW: i64 = 1_790_000_000_000;
const DAY: i64 = 86_400_000;
/// Random streams, one per kind of item.
const CONVERSATION: u64 = 1;
const MESSAGE: u64 = 2;
const CONTACT: u64 = 3;
const COUNTS: u64 = 4;
const TAGS: u64 = 5;
const TAG_NAMES: [(&str, &str); 8] = [
    ("vip", "#d4a017"),
    ("billing", "#1f77b4"),
    ("delivery", "#2ca02c"),
    ("complaint", "#d62728"),
    ("lead", "#9467bd"),
    ("returns", "#8c564b"),
    ("wholesale", "#e377c2"),
    ("urgent", "#ff7f0e"),
];

/// How big one tenant is.
pub struct TenantSpec {
    pub slug: &'static str,
    pub name: &'static str,
    pub contacts: usize,
    pub messages: usize,
    /// Messages of the one long thread (0: none).
    pub big_thread: usize,
    pub agents: usize,
    pub numbers: usize,
}

/// In how many messages each vocabulary word occurs.
pub struct TermStats {
    messages: Vec<u64>,
    last_message: Vec<u64>,
}

impl TermStats {
    pub fn new(words: usize) -> Self {
        Self { messages: vec![0; words], last_message: vec![u64::MAX; words] }
    }

    fn saw(&mut self, rank: usize, message: u64) {
        if self.last_message[rank] != message {
            self.last_message[rank] = message;
            self.messages[rank] += 1;
        }
    }

    pub fn messages_with(&self, rank: usize) -> u64 {
        self.messages[rank]
    }

    /// The `n` rarest words that still occur in at least three messages (or at all, in a tiny dataset).
    pub fn rare_ranks(&self, n: usize) -> Vec<usize> {
        let floor = if self.messages.iter().any(|&m| m >= 3) { 3 } else { 1 };
        let mut ranks: Vec<usize> = (0..self.messages.len()).filter(|&r| self.messages[r] >= floor).collect();
        ranks.sort_by_key(|&r| (self.messages[r], r));
        ranks.truncate(n);
        ranks
    }
}

/// One planned message: when, in which conversation, at which position of it.
#[derive(Clone, Copy)]
struct Planned {
    at: i64,
    conversation: u32,
    position: u32,
}

/// Messages per conversation: conversation 0 is the long thread (when asked for), conversation 1 has exactly 50,
/// the rest follow a Pareto law (alpha 1.1, capped): most have 1 to 5, a few hundreds.
fn message_counts(spec: &TenantSpec, rng: &mut Rng) -> Vec<usize> {
    let n = spec.contacts;
    let fixed = [spec.big_thread.max(1), 50];
    let rest = spec.messages.saturating_sub(fixed.iter().sum::<usize>() + (n - 2));
    let weights: Vec<f64> = (2..n).map(|_| (1.0 - rng.unit()).powf(-1.0 / 1.1).min(400.0) - 1.0).collect();
    let total: f64 = weights.iter().sum::<f64>().max(1e-9);
    let mut counts: Vec<usize> = fixed.to_vec();
    counts.extend(weights.iter().map(|w| 1 + (rest as f64 * w / total) as usize));
    let mut missing = spec.messages.saturating_sub(counts.iter().sum());
    while missing > 0 {
        let i = 2 + rng.below((n - 2) as u64) as usize;
        counts[i] += 1;
        missing -= 1;
    }
    counts
}

/// Ids start after the highest one already in `table`.
async fn next_id(db: &Db, table: &str) -> Result<i64, StoreError> {
    let mut conn = db.read().await?;
    conn.fetch_one(&format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"), &[]).await?.int(0)
}

/// The workspace (the installed one, or a new one), its agents, numbers and tags.
async fn setup(db: &Db, spec: &TenantSpec, seed: u64) -> Result<(i64, Vec<i64>, Vec<i64>, Vec<i64>), StoreError> {
    let mut conn = db.write().await?;
    let existing = conn.fetch_optional("SELECT id FROM workspaces WHERE slug = $1", &[spec.slug.into()]).await?;
    let workspace = match existing {
        Some(row) => row.int(0)?,
        None => conn
            .fetch_one(
                "INSERT INTO workspaces (slug, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
                &[spec.slug.into(), spec.name.into(), (NOW - 400 * DAY).into()],
            )
            .await?
            .int(0)?,
    };
    let mut agents = Vec::new();
    for k in 0..spec.agents {
        let email = format!("agent{}@{}.bench.example", k + 1, spec.slug);
        let id = conn
            .fetch_one(
                "INSERT INTO users (email, email_lower, name, created_at, updated_at) VALUES ($1, $1, $2, $3, $3)
                 RETURNING id",
                &[email.into(), format!("Agent {}", k + 1).into(), (NOW - 300 * DAY).into()],
            )
            .await?
            .int(0)?;
        conn.execute(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'agent', $3)",
            &[workspace.into(), id.into(), (NOW - 300 * DAY).into()],
        )
        .await?;
        agents.push(id);
    }
    let mut numbers = Vec::new();
    for k in 0..spec.numbers {
        // Credentials are not sealed with the instance's key: these numbers are for reading, never for sending.
        let id = conn
            .fetch_one(
                "INSERT INTO whatsapp_accounts (workspace_id, name, provider, phone, account_key, credentials,
                    webhook_secret, warmup_enabled, warmup_schedule, warmup_started_on, throughput_per_second,
                    created_at, updated_at)
                 VALUES ($1, $2, 'meta', $3, $4, '', '', 0, '', '2026-01-01', 80, $5, $5) RETURNING id",
                &[
                    workspace.into(),
                    format!("{} line {}", spec.name, k + 1).into(),
                    format!("+1555010{:04}", k + 1).into(),
                    format!("bench-{}-{seed}-{k}", spec.slug).into(),
                    (NOW - 400 * DAY).into(),
                ],
            )
            .await?
            .int(0)?;
        numbers.push(id);
    }
    let mut tags = Vec::new();
    for (name, color) in TAG_NAMES {
        let id = conn
            .fetch_one(
                "INSERT INTO tags (workspace_id, name, name_lower, color, created_at, updated_at)
                 VALUES ($1, $2, $2, $3, $4, $4) RETURNING id",
                &[workspace.into(), name.into(), color.into(), (NOW - 300 * DAY).into()],
            )
            .await?
            .int(0)?;
        tags.push(id);
    }
    conn.commit().await?;
    Ok((workspace, agents, numbers, tags))
}

fn contact_rows(spec: &TenantSpec, workspace: i64, first_id: i64, seed: u64) -> Vec<Value> {
    let mut rows = Vec::with_capacity(spec.contacts * 8);
    for i in 0..spec.contacts {
        let mut rng = Rng::derive(seed, CONTACT, i as u64);
        let name = dataset_text::name(&mut rng);
        let email = rng.chance(0.3).then(|| format!("customer{i}@mail{}.example", i % 7));
        let fields = if rng.chance(0.4) {
            let city = *rng.pick(&["Dubai", "Riyadh", "Cairo", "London", "São Paulo", "Mumbai", "Berlin"]);
            let plan = *rng.pick(&["free", "silver", "gold"]);
            serde_json::json!({"city": city, "plan": plan}).to_string()
        } else {
            "{}".to_owned()
        };
        let created = NOW - rng.between(30, 400) * DAY;
        rows.extend([
            Value::from(first_id + i as i64),
            workspace.into(),
            dataset_text::phone(i as u64, seed % 1_000).into(),
            name.into(),
            email.into(),
            fields.into(),
            created.into(),
            created.into(),
        ]);
    }
    rows
}

/// The plan of every message: a conversation's last activity is skewed to recent days; earlier messages go back
/// in gaps from seconds to days (minutes in the long thread).
fn plan_messages(counts: &[usize], seed: u64) -> Vec<Planned> {
    let mut plan = Vec::with_capacity(counts.iter().sum());
    for (c, &count) in counts.iter().enumerate() {
        let mut rng = Rng::derive(seed, CONVERSATION, c as u64);
        let mut at = NOW - (rng.unit().powi(3) * 365.0 * DAY as f64) as i64;
        let long = count > 1_000;
        for position in (0..count).rev() {
            plan.push(Planned { at, conversation: c as u32, position: position as u32 });
            let gap = if long { rng.unit().powi(2) * 1_800_000.0 } else { rng.unit().powi(4) * 3.0 * DAY as f64 };
            at -= 20_000 + gap as i64;
        }
    }
    plan.sort_unstable_by_key(|p| (p.at, p.conversation, p.position));
    plan
}

/// What a message is, from its own stream: direction, status, author and text.
struct Drawn {
    inbound: bool,
    status: &'static str,
    agent: Option<usize>,
    body: String,
}

fn draw(seed: u64, p: &Planned, agents: usize, vocabulary: &Vocabulary, seen: impl FnMut(usize)) -> Drawn {
    let mut rng = Rng::derive(seed, MESSAGE, (u64::from(p.conversation) << 24) | u64::from(p.position));
    let inbound = rng.chance(0.55);
    let status = match (inbound, rng.unit()) {
        (true, _) => "received",
        (false, r) if r < 0.6 => "read",
        (false, r) if r < 0.85 => "delivered",
        (false, r) if r < 0.97 => "sent",
        _ => "failed",
    };
    let agent = (!inbound && rng.chance(0.8)).then(|| rng.below(agents as u64) as usize);
    Drawn { inbound, status, agent, body: vocabulary.body(&mut rng, seen) }
}

/// Where a message belongs.
struct Ids {
    workspace: i64,
    message: i64,
    conversation: i64,
    account: i64,
}

/// One message's values in [`MESSAGE_COLUMNS`] order.
fn message_row(ids: &Ids, at: i64, m: &Drawn, agents: &[i64]) -> [Value; 16] {
    let failed = m.status == "failed";
    let sent_at = (!m.inbound && m.status != "failed").then_some(at);
    let read_at = (m.status == "read").then_some(at + 90_000);
    [
        Value::from(ids.message),
        ids.workspace.into(),
        ids.conversation.into(),
        ids.account.into(),
        (if m.inbound { "inbound" } else { "outbound" }).into(),
        format!("wamid.bench.{}.{}", ids.workspace, ids.message).into(),
        "text".into(),
        m.body.as_str().into(),
        m.status.into(),
        failed.then_some("131047").into(),
        m.agent.map(|a| agents[a]).into(),
        at.into(),
        sent_at.into(),
        read_at.into(),
        at.into(),
        read_at.unwrap_or(at).into(),
    ]
}

const CONTACT_COLUMNS: [&str; 8] =
    ["id", "workspace_id", "phone", "name", "email", "custom_fields", "created_at", "updated_at"];
const CONVERSATION_COLUMNS: [&str; 12] = [
    "id",
    "workspace_id",
    "account_id",
    "contact_id",
    "status",
    "assignee_user_id",
    "unread_count",
    "last_message_at",
    "last_message_preview",
    "last_inbound_at",
    "created_at",
    "updated_at",
];
const MESSAGE_COLUMNS: [&str; 16] = [
    "id",
    "workspace_id",
    "conversation_id",
    "account_id",
    "direction",
    "provider_message_id",
    "kind",
    "body",
    "status",
    "error_code",
    "sent_by_user_id",
    "occurred_at",
    "sent_at",
    "read_at",
    "created_at",
    "updated_at",
];

/// Generates and writes one tenant.
pub async fn tenant(
    db: &Db,
    spec: &TenantSpec,
    seed: u64,
    vocabulary: &Vocabulary,
    stats: &mut TermStats,
) -> Result<TenantInfo, StoreError> {
    let (workspace, agents, numbers, tags) = setup(db, spec, seed).await?;
    let first_contact = next_id(db, "contacts").await?;
    insert_batched(db, "contacts", &CONTACT_COLUMNS, &contact_rows(spec, workspace, first_contact, seed)).await?;

    let counts = message_counts(spec, &mut Rng::derive(seed, COUNTS, 0));
    let plan = plan_messages(&counts, seed);
    let first_message = next_id(db, "messages").await?;
    let first_conversation = next_id(db, "conversations").await?;
    // Each conversation's first and last message (plan index), its last inbound time.
    let n = counts.len();
    let (mut first, mut last, mut last_inbound) = (vec![usize::MAX; n], vec![0usize; n], vec![None; n]);
    let mut drawn = Vec::with_capacity(plan.len());
    for (index, p) in plan.iter().enumerate() {
        let c = p.conversation as usize;
        let message = draw(seed, p, agents.len(), vocabulary, |rank| stats.saw(rank, index as u64));
        first[c] = first[c].min(index);
        last[c] = index;
        if message.inbound {
            last_inbound[c] = Some(p.at);
        }
        drawn.push(message);
    }

    let mut conversation_rows = Vec::with_capacity(n * CONVERSATION_COLUMNS.len());
    let mut tag_rows = Vec::new();
    let mut accounts = Vec::with_capacity(n);
    for c in 0..n {
        let mut rng = Rng::derive(seed, CONVERSATION, (c as u64) | (1 << 40));
        let status = match rng.unit() {
            r if r < 0.30 => "open",
            r if r < 0.40 => "pending",
            r if r < 0.90 => "resolved",
            _ => "archived",
        };
        // A fifth unassigned; the rest skewed towards the first agents, as real teams are.
        let assignee =
            rng.chance(0.8).then(|| agents[((rng.unit().powf(1.5)) * agents.len() as f64) as usize % agents.len()]);
        let (last_message, opened) = (&drawn[last[c]], plan[first[c]].at - 60_000);
        let unread = if status == "open" && last_message.inbound { rng.between(1, 3) } else { 0 };
        let id = first_conversation + c as i64;
        let account = numbers[if rng.chance(0.8) { 0 } else { c % numbers.len() }];
        accounts.push(account);
        let preview: String = last_message.body.chars().take(100).collect();
        conversation_rows.extend([
            Value::from(id),
            workspace.into(),
            account.into(),
            (first_contact + c as i64).into(),
            status.into(),
            assignee.into(),
            unread.into(),
            plan[last[c]].at.into(),
            preview.into(),
            last_inbound[c].into(),
            opened.into(),
            plan[last[c]].at.into(),
        ]);
        let mut tag_rng = Rng::derive(seed, TAGS, c as u64);
        if tag_rng.chance(0.3) {
            let a = tag_rng.below(tags.len() as u64) as usize;
            let b = (a + 1 + tag_rng.below(tags.len() as u64 - 1) as usize) % tags.len();
            for t in if tag_rng.chance(0.3) { vec![a, b] } else { vec![a] } {
                tag_rows.extend([Value::from(workspace), id.into(), tags[t].into(), opened.into()]);
            }
        }
    }
    insert_batched(db, "conversations", &CONVERSATION_COLUMNS, &conversation_rows).await?;
    drop(conversation_rows);
    insert_batched(db, "conversation_tags", &["workspace_id", "conversation_id", "tag_id", "created_at"], &tag_rows)
        .await?;

    // Messages, in id order, a transaction's worth at a time (the bodies of 1M messages are not held twice).
    let chunk = 50_000;
    for start in (0..plan.len()).step_by(chunk) {
        let mut rows = Vec::with_capacity(chunk * MESSAGE_COLUMNS.len());
        for index in start..(start + chunk).min(plan.len()) {
            let (p, m) = (&plan[index], &drawn[index]);
            let (c, id) = (p.conversation as usize, first_message + index as i64);
            let ids = Ids { workspace, message: id, conversation: first_conversation + c as i64, account: accounts[c] };
            rows.extend(message_row(&ids, p.at, m, &agents));
        }
        insert_batched(db, "messages", &MESSAGE_COLUMNS, &rows).await?;
    }

    let big = (0..n).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).unwrap_or(0);
    Ok(TenantInfo {
        slug: spec.slug.to_owned(),
        workspace_id: workspace,
        agents,
        numbers,
        tags,
        contacts: spec.contacts,
        conversations: n,
        messages: plan.len(),
        big_thread: first_conversation + big as i64,
        big_thread_messages: counts[big],
        thread_50: first_conversation + 1,
    })
}
