//! Conversations: one per contact and number, with the counters the inbox lists by (unread, last message, the
//! customer's last message that opens the 24-hour window).

use super::search::{self, Terms};
use super::{Backend, Conn, Row, StoreError, Value};

/// A conversation with its contact and number, as lists and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: i64,
    pub workspace_id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub contact_id: i64,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub status: String,
    pub assignee_user_id: Option<i64>,
    pub provider_thread: Option<String>,
    pub unread_count: i64,
    pub last_message_at: Option<i64>,
    pub last_message_preview: Option<String>,
    pub last_inbound_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Hidden from the open tab until then; cleared when it reopens.
    pub snoozed_until: Option<i64>,
}

const SELECT: &str = "SELECT c.id, c.workspace_id, c.account_id, a.name, c.contact_id, k.name, k.phone, c.status,
        c.assignee_user_id, c.provider_thread, c.unread_count, c.last_message_at, c.last_message_preview,
        c.last_inbound_at, c.created_at, c.updated_at, c.snoozed_until
    FROM conversations c
    JOIN whatsapp_accounts a ON a.id = c.account_id
    JOIN contacts k ON k.id = c.contact_id";

fn conversation(row: &Row) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        account_id: row.int(2)?,
        account_name: row.text(3)?,
        contact_id: row.int(4)?,
        contact_name: row.text(5)?,
        contact_phone: row.opt_text(6)?,
        status: row.text(7)?,
        assignee_user_id: row.opt_int(8)?,
        provider_thread: row.opt_text(9)?,
        unread_count: row.int(10)?,
        last_message_at: row.opt_int(11)?,
        last_message_preview: row.opt_text(12)?,
        last_inbound_at: row.opt_int(13)?,
        created_at: row.int(14)?,
        updated_at: row.int(15)?,
        snoozed_until: row.opt_int(16)?,
    })
}

/// The conversation of a contact on a number, created when it does not exist yet; returns its id.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    contact_id: i64,
    thread: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(upsert_created(conn, workspace_id, account_id, contact_id, thread, now).await?.0)
}

/// [`upsert`], also telling whether this call created it (its `created_at` is this `now`): round-robin assignment
/// only acts on new conversations.
pub async fn upsert_created(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    contact_id: i64,
    thread: Option<&str>,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    let row = conn
        .fetch_one(
            "INSERT INTO conversations (workspace_id, account_id, contact_id, provider_thread, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (account_id, contact_id)
             DO UPDATE SET provider_thread = COALESCE(excluded.provider_thread, conversations.provider_thread)
             RETURNING id, created_at",
            &[workspace_id.into(), account_id.into(), contact_id.into(), thread.into(), now.into()],
        )
        .await?;
    Ok((row.int(0)?, row.int(1)? == now))
}

/// A new customer message: one more unread, the window restarts, and a resolved, archived or snoozed conversation
/// opens again.
pub async fn note_inbound(conn: &mut Conn, id: i64, at: i64, preview: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET unread_count = unread_count + 1,
            last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $2 ELSE last_message_at END,
            last_message_preview = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $3 ELSE last_message_preview END,
            last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 ELSE last_inbound_at END,
            status = CASE WHEN status IN ('resolved', 'archived') OR snoozed_until IS NOT NULL THEN 'open' ELSE status END,
            snoozed_until = NULL,
            updated_at = $4
         WHERE id = $1",
        &[id.into(), at.into(), preview.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// A message from the business: the conversation's latest activity.
pub async fn note_outbound(conn: &mut Conn, id: i64, at: i64, preview: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET
            last_message_preview = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $3 ELSE last_message_preview END,
            last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $2 ELSE last_message_at END,
            updated_at = $4
         WHERE id = $1",
        &[id.into(), at.into(), preview.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// The agent has read everything: no unread messages left.
pub async fn mark_read(conn: &mut Conn, workspace_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET unread_count = 0, updated_at = $3 WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Remembers the provider's conversation id (Chatwoot) once a send learned it.
pub async fn set_thread(conn: &mut Conn, id: i64, thread: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE conversations SET provider_thread = $2 WHERE id = $1", &[id.into(), thread.into()]).await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Conversation>, StoreError> {
    let sql = format!("{SELECT} WHERE c.workspace_id = $1 AND c.id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(conversation).transpose()
}

/// A contact's conversations (one per number), most recent activity first.
pub async fn of_contact(conn: &mut Conn, workspace_id: i64, contact_id: i64) -> Result<Vec<Conversation>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE c.workspace_id = $1 AND c.contact_id = $2
         ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC"
    );
    conn.fetch_all(&sql, &[workspace_id.into(), contact_id.into()]).await?.iter().map(conversation).collect()
}

/// The inbox's tabs. "Active" work is open or pending and not snoozed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Open and not snoozed.
    Open,
    /// Active and assigned to this user.
    Mine(i64),
    /// Active and assigned to nobody.
    Unassigned,
    /// Everything, whatever its state.
    All,
}

const ACTIVE: &str = "c.status IN ('open', 'pending') AND c.snoozed_until IS NULL";

/// What a conversation list is filtered by; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub account_id: Option<i64>,
    pub status: Option<String>,
    /// `Some(None)`: unassigned only.
    pub assignee: Option<Option<i64>>,
    /// Matches words of the contact's name (prefixes, any script, any case), the start of their phone number, or
    /// words of a message (full text); see `search_candidates`.
    pub query: Option<String>,
    /// Only conversations this user may see as an agent: assigned to them or to nobody.
    pub visible_to: Option<i64>,
    pub tab: Option<Tab>,
    /// Only conversations with this tag.
    pub tag_id: Option<i64>,
}

/// A statement under construction whose parameters are numbered as they are bound.
struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// No text yet; the workspace id is `$1`.
    fn new(workspace_id: i64) -> Self {
        Self { text: String::new(), params: vec![workspace_id.into()] }
    }

    /// The scope every list and count shares: the workspace, the number and who may see it.
    fn scope(&mut self, filter: &Filter) -> String {
        let mut condition = "c.workspace_id = $1".to_owned();
        if let Some(account) = filter.account_id {
            condition.push_str(&format!(" AND c.account_id = {}", self.bind(account)));
        }
        if let Some(user) = filter.visible_to {
            let p = self.bind(user);
            condition.push_str(&format!(" AND (c.assignee_user_id IS NULL OR c.assignee_user_id = {p})"));
        }
        condition
    }

    /// A tab's condition (`TRUE`-like for all).
    fn tab(&mut self, tab: Tab) -> String {
        match tab {
            Tab::Open => "c.status = 'open' AND c.snoozed_until IS NULL".to_owned(),
            Tab::Mine(user) => format!("{ACTIVE} AND c.assignee_user_id = {}", self.bind(user)),
            Tab::Unassigned => format!("{ACTIVE} AND c.assignee_user_id IS NULL"),
            Tab::All => "1 = 1".to_owned(),
        }
    }
}

/// The conversations a search finds, as a subquery: those of the newest matching messages (full text), of the
/// newest contacts whose name has words starting with the typed ones, and of the contacts whose number starts with
/// a typed phone number. Each part is an index lookup bounded by [`search::NEWEST_MATCHES`], so the list's own
/// order and paging then work on a small set however common the words are. `None`: nothing searchable was typed.
fn search_candidates(sql: &mut Sql, backend: Backend, workspace_id: i64, query: &str) -> Option<String> {
    let mut parts = Vec::new();
    let newest = search::NEWEST_MATCHES;
    if let Some(terms) = Terms::parse(query) {
        let words = sql.bind(terms.expression(backend, "body", workspace_id, false));
        let names = sql.bind(terms.expression(backend, "name", workspace_id, true));
        match backend {
            Backend::Sqlite => {
                parts.push(format!(
                    "SELECT m.conversation_id FROM messages m WHERE m.workspace_id = $1 AND m.id IN
                        (SELECT rowid FROM messages_fts WHERE messages_fts MATCH {words} ORDER BY rowid DESC LIMIT {newest})"
                ));
                parts.push(format!(
                    "SELECT n.id FROM conversations n WHERE n.workspace_id = $1 AND n.contact_id IN
                        (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH {names} ORDER BY rowid DESC LIMIT {newest})"
                ));
            }
            // Exactly the indexed expressions, so the GIN indexes serve them.
            Backend::Postgres => {
                parts.push(format!(
                    "SELECT recent.conversation_id FROM (SELECT m.conversation_id FROM messages m WHERE m.workspace_id = $1
                        AND to_tsvector('simple', COALESCE(m.body, '')) @@ to_tsquery('simple', {words})
                        ORDER BY m.id DESC LIMIT {newest}) recent"
                ));
                parts.push(format!(
                    "SELECT n.id FROM conversations n WHERE n.workspace_id = $1 AND n.contact_id IN
                        (SELECT k.id FROM contacts k WHERE k.workspace_id = $1
                            AND to_tsvector('simple', k.name) @@ to_tsquery('simple', {names})
                            ORDER BY k.id DESC LIMIT {newest})"
                ));
            }
        }
    }
    if let Some((low, high)) = Terms::phone_range(query) {
        let low = sql.bind(low);
        let high = high.map(|h| format!(" AND k.phone < {}", sql.bind(h))).unwrap_or_default();
        parts.push(format!(
            "SELECT n.id FROM conversations n JOIN contacts k ON k.id = n.contact_id
             WHERE k.workspace_id = $1 AND k.phone >= {low}{high}"
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" UNION "))
}

/// A page of conversations, most recent activity first. `after` is the last row of the previous page
/// (its `last_message_at` or `created_at`, and id): keyset pagination stays fast and stable while rows change.
pub async fn list(
    conn: &mut Conn,
    workspace_id: i64,
    filter: &Filter,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<Conversation>, StoreError> {
    let mut sql = Sql::new(workspace_id);
    let scope = sql.scope(filter);
    sql.text = format!("{SELECT} WHERE {scope}");
    if let Some(tab) = filter.tab {
        let condition = sql.tab(tab);
        sql.text.push_str(&format!(" AND {condition}"));
    }
    if let Some(status) = &filter.status {
        let p = sql.bind(status.as_str());
        sql.text.push_str(&format!(" AND c.status = {p}"));
    }
    match filter.assignee {
        Some(Some(user)) => {
            let p = sql.bind(user);
            sql.text.push_str(&format!(" AND c.assignee_user_id = {p}"));
        }
        Some(None) => sql.text.push_str(" AND c.assignee_user_id IS NULL"),
        None => {}
    }
    if let Some(tag) = filter.tag_id {
        let p = sql.bind(tag);
        sql.text.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM conversation_tags ct WHERE ct.conversation_id = c.id AND ct.tag_id = {p})"
        ));
    }
    if let Some(query) = filter.query.as_deref() {
        match search_candidates(&mut sql, conn.backend(), workspace_id, query) {
            Some(candidates) => sql.text.push_str(&format!(" AND c.id IN ({candidates})")),
            None => sql.text.push_str(" AND 1 = 0"),
        }
    }
    if let Some((at, id)) = after {
        let (a, b) = (sql.bind(at), sql.bind(id));
        sql.text.push_str(&format!(
            " AND (COALESCE(c.last_message_at, c.created_at) < {a} OR (COALESCE(c.last_message_at, c.created_at) = {a} AND c.id < {b}))"
        ));
    }
    let p = sql.bind(limit);
    sql.text.push_str(&format!(" ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT {p}"));
    conn.fetch_all(&sql.text, &sql.params).await?.iter().map(conversation).collect()
}

/// How many conversations each tab holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TabCounts {
    pub open: i64,
    pub mine: i64,
    pub unassigned: i64,
    pub all: i64,
}

/// The tabs' counts in one query, under the filter's number and visibility (its other fields are ignored);
/// `mine` counts `user`'s (none without a user).
pub async fn counts(
    conn: &mut Conn,
    workspace_id: i64,
    filter: &Filter,
    user: Option<i64>,
) -> Result<TabCounts, StoreError> {
    let mut sql = Sql::new(workspace_id);
    let open = sql.tab(Tab::Open);
    // Without a user (an API key) nobody's id is 0: "mine" is empty.
    let mine = sql.tab(Tab::Mine(user.unwrap_or(0)));
    let unassigned = sql.tab(Tab::Unassigned);
    let scope = sql.scope(filter);
    sql.text = format!(
        "SELECT COUNT(CASE WHEN {open} THEN 1 END), COUNT(CASE WHEN {mine} THEN 1 END),
            COUNT(CASE WHEN {unassigned} THEN 1 END), COUNT(*) FROM conversations c WHERE {scope}"
    );
    let row = conn.fetch_one(&sql.text, &sql.params).await?;
    Ok(TabCounts { open: row.int(0)?, mine: row.int(1)?, unassigned: row.int(2)?, all: row.int(3)? })
}
