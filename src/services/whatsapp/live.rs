//! Live inbox updates: the change stream (SSE) with catch-up, and who is viewing or typing in a conversation.
//!
//! A stream reads the workspace's change log ([`inbox_events`]) after the last id it sent, keeps the events its
//! member may see (the one visibility rule, applied per batch), and waits for the next commit of this process or
//! polls every second for other nodes' commits. Presence lives in memory ([`presence`]).

pub mod presence;

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::conversations::{restriction, visible_under, visible_with_assignee};
use super::{Shared, WhatsAppError};
use crate::services::access::Actor;
use crate::store::conversations::{self, Conversation, Filter};
use crate::store::inbox_events::{self, EventKind};
use crate::store::messages::{self, Message};
use crate::store::{Backend, now_millis, organize};

pub use presence::PresenceView;

/// Events read per query.
const BATCH: i64 = 500;
/// The fallback poll, for events committed by another node.
const POLL: Duration = Duration::from_secs(1);
/// How often a stream checks its session or key is still valid.
const REVALIDATE: Duration = Duration::from_secs(30);
/// How often a member's activity is written as "online" (`memberships.last_seen_at`).
const SEEN_EVERY: Duration = Duration::from_secs(30);
/// Postgres: how long an event id may stay invisible while its transaction commits after a later one's. Ids are
/// handed out at insert, not at commit, so a stream re-reads this much of the recent past (never sending twice).
const SETTLE: Duration = Duration::from_secs(3);
/// Events buffered per stream before the stream waits for its client.
const BUFFER: usize = 256;

/// What a live stream sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A recorded change; `id` is what a reconnecting client resumes after.
    Change { id: i64, conversation_id: i64, message_id: Option<i64>, kind: EventKind },
    /// Events were pruned since the client's resume point: it must reload its list.
    Reset,
    /// Who else is in a conversation the member has open (ephemeral: no id, not replayed).
    Presence(PresenceView),
}

/// Answers whether the stream's session or key is still valid (the web layer knows how to ask).
pub type Validity = Box<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

pub struct LiveService {
    shared: Shared,
    presence: Arc<presence::Presence>,
}

impl LiveService {
    pub fn new(shared: Shared) -> Self {
        Self { shared, presence: Arc::new(presence::Presence::default()) }
    }

    /// The latest change of the actor's workspace: a page reads it before its list, then resumes after it.
    pub async fn latest_id(&self, actor: &Actor) -> Result<i64, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        Ok(inbox_events::latest_id(&mut conn, actor.workspace_id).await?)
    }

    /// Starts a stream of what `actor` may see, after `resume_after` (or from now). It ends when the receiver is
    /// dropped or `still_valid` answers false.
    pub async fn stream(
        &self,
        actor: &Actor,
        resume_after: Option<i64>,
        still_valid: Validity,
    ) -> Result<mpsc::Receiver<LiveEvent>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let latest = inbox_events::latest_id(&mut conn, actor.workspace_id).await?;
        let oldest = inbox_events::oldest_id(&mut conn, actor.workspace_id).await?;
        drop(conn);
        let (tx, rx) = mpsc::channel(BUFFER);
        let start = match resume_after {
            // A resume point before the oldest kept event may have lost pruned ones: start over from now.
            Some(after) if after > 0 && oldest.is_some_and(|oldest| after + 1 < oldest) => {
                let _ = tx.send(LiveEvent::Reset).await;
                latest
            }
            Some(after) => after.min(latest),
            None => latest,
        };
        let settle = if self.shared.db().backend() == Backend::Postgres { SETTLE } else { Duration::ZERO };
        let task = StreamTask {
            shared: self.shared.clone(),
            presence: Arc::clone(&self.presence),
            actor: actor.clone(),
            cursor: Cursor::new(start, settle),
            tx,
        };
        tokio::spawn(task.run(still_valid));
        Ok(rx)
    }

    /// A presence heartbeat from a member viewing a conversation (typing or not); it also counts as the member
    /// being online.
    pub async fn presence(
        &self,
        actor: &Actor,
        name: &str,
        conversation_id: i64,
        typing: bool,
    ) -> Result<(), WhatsAppError> {
        let Some(user_id) = actor.user_id() else { return Err(WhatsAppError::NotFound) };
        self.visible(actor, conversation_id).await?;
        self.presence.beat(actor.workspace_id, conversation_id, user_id, name, typing);
        seen(&self.shared, &self.presence, actor.workspace_id, user_id).await?;
        Ok(())
    }

    /// One message of a conversation the actor may see, for its bubble.
    pub async fn message(
        &self,
        actor: &Actor,
        conversation_id: i64,
        message_id: i64,
    ) -> Result<Message, WhatsAppError> {
        self.visible(actor, conversation_id).await?;
        let mut conn = self.shared.db().read().await?;
        messages::get(&mut conn, actor.workspace_id, message_id)
            .await?
            .filter(|m| m.conversation_id == conversation_id)
            .ok_or(WhatsAppError::NotFound)
    }

    /// A conversation the actor may see, with whether it belongs in a list under `filter`: `None` when it does not
    /// match (the list drops its row).
    pub async fn row(
        &self,
        actor: &Actor,
        filter: &Filter,
        conversation_id: i64,
    ) -> Result<Option<Conversation>, WhatsAppError> {
        let conversation = self.visible(actor, conversation_id).await?;
        let mut filter = filter.clone();
        let mut conn = self.shared.db().read().await?;
        filter.visible_to = restriction(&mut conn, actor).await?;
        // The list's own query, from just above this conversation's place in its order: the first row is this
        // conversation exactly when it passes every filter the list applies.
        let at = conversation.last_message_at.unwrap_or(conversation.created_at);
        let first =
            conversations::list(&mut conn, actor.workspace_id, &filter, Some((at, conversation.id + 1)), 1).await?;
        Ok(first.into_iter().next().filter(|c| c.id == conversation.id))
    }

    async fn visible(&self, actor: &Actor, conversation_id: i64) -> Result<Conversation, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let conversation =
            conversations::get(&mut conn, actor.workspace_id, conversation_id).await?.ok_or(WhatsAppError::NotFound)?;
        if !visible_under(restriction(&mut conn, actor).await?, &conversation) {
            return Err(WhatsAppError::NotFound);
        }
        Ok(conversation)
    }
}

/// Marks a member online: a write at most once per [`SEEN_EVERY`] in this process (heartbeats and open streams
/// both call it), and the statement itself skips a fresh mark another node wrote.
async fn seen(
    shared: &Shared,
    presence: &presence::Presence,
    workspace_id: i64,
    user_id: i64,
) -> Result<(), WhatsAppError> {
    if !presence.online_due(workspace_id, user_id, SEEN_EVERY) {
        return Ok(());
    }
    let every = i64::try_from(SEEN_EVERY.as_millis()).unwrap_or(i64::MAX);
    let mut tx = shared.db().write().await?;
    organize::touch_member(&mut tx, workspace_id, user_id, now_millis(), every).await?;
    tx.commit().await?;
    Ok(())
}

/// Where a stream is in the change log. Each read starts at the cursor as it was [`SETTLE`] ago and skips what
/// was sent since, so an event whose transaction committed late is still sent, once.
struct Cursor {
    settle: Duration,
    /// The highest id read.
    last: i64,
    /// Earlier values of `last`, with when they were reached.
    history: VecDeque<(Instant, i64)>,
    /// Ids sent above the floor.
    sent: HashSet<i64>,
}

impl Cursor {
    fn new(start: i64, settle: Duration) -> Self {
        Self { settle, last: start, history: VecDeque::new(), sent: HashSet::new() }
    }

    /// The id to read after now.
    fn floor(&mut self) -> i64 {
        if self.settle.is_zero() {
            return self.last;
        }
        let now = Instant::now();
        self.history.push_back((now, self.last));
        // Keep one entry at least SETTLE old: it is the floor.
        while self.history.len() > 1
            && self.history.get(1).is_some_and(|(at, _)| now.duration_since(*at) >= self.settle)
        {
            self.history.pop_front();
        }
        let floor = self.history.front().map_or(self.last, |(_, id)| *id);
        self.sent.retain(|id| *id > floor);
        floor
    }

    /// Whether an event is new to this stream (and notes it as sent).
    fn fresh(&mut self, id: i64) -> bool {
        self.last = self.last.max(id);
        if self.settle.is_zero() {
            return true;
        }
        self.sent.insert(id)
    }
}

struct StreamTask {
    shared: Shared,
    presence: Arc<presence::Presence>,
    actor: Actor,
    cursor: Cursor,
    tx: mpsc::Sender<LiveEvent>,
}

impl StreamTask {
    async fn run(mut self, still_valid: Validity) {
        let mut changes = self.shared.db().inbox_changes();
        let mut presence_changes = self.presence.changes();
        let mut checked: Option<Instant> = None;
        // Who the member may see, read again with each revalidation rather than on every wake-up: a stream wakes at
        // every commit of the process, and the visibility setting changes rarely.
        let mut restricted_to = None;
        let mut last_presence: Vec<PresenceView> = Vec::new();
        loop {
            if checked.is_none_or(|at| at.elapsed() >= REVALIDATE) {
                if checked.is_some() && !still_valid().await {
                    return;
                }
                match self.restriction().await {
                    Ok(restriction) => restricted_to = restriction,
                    // Never guess wider: the stream ends and the browser reconnects.
                    Err(e) => {
                        tracing::warn!(error = %e, "live inbox stream could not read its visibility");
                        return;
                    }
                }
                checked = Some(Instant::now());
            }
            if let Some(user_id) = self.actor.user_id() {
                // The open stream is a heartbeat too; a failed write only delays "online".
                if let Err(e) = seen(&self.shared, &self.presence, self.actor.workspace_id, user_id).await {
                    tracing::debug!(error = %e, "could not record inbox presence");
                }
            }
            match self.catch_up(restricted_to).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "live inbox stream could not read its events"),
            }
            if let Some(user_id) = self.actor.user_id() {
                let views = self.presence.seen_by(self.actor.workspace_id, user_id);
                for view in views.iter().filter(|v| !last_presence.contains(v)) {
                    if self.tx.send(LiveEvent::Presence(view.clone())).await.is_err() {
                        return;
                    }
                }
                last_presence = views;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = presence_changes.changed() => {}
                () = tokio::time::sleep(POLL) => {}
                () = self.tx.closed() => return,
            }
        }
    }

    /// Whom the member's view is limited to (see [`restriction`]).
    async fn restriction(&self) -> Result<Option<i64>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        restriction(&mut conn, &self.actor).await
    }

    /// Sends every event after the cursor visible under `restricted_to`; `Ok(false)` once the client is gone.
    async fn catch_up(&mut self, restricted_to: Option<i64>) -> Result<bool, WhatsAppError> {
        let mut after = self.cursor.floor();
        loop {
            // A connection per batch, given back before sending: a slow client must not hold a reader.
            let mut conn = self.shared.db().read().await?;
            let batch = inbox_events::since_with_assignee(&mut conn, self.actor.workspace_id, after, BATCH).await?;
            drop(conn);
            let full = batch.len() as i64 == BATCH;
            for (event, assignee) in batch {
                after = event.id;
                if !self.cursor.fresh(event.id) || !visible_with_assignee(restricted_to, assignee) {
                    continue;
                }
                let change = LiveEvent::Change {
                    id: event.id,
                    conversation_id: event.conversation_id,
                    message_id: event.message_id,
                    kind: event.kind,
                };
                if self.tx.send(change).await.is_err() {
                    return Ok(false);
                }
            }
            if !full {
                return Ok(true);
            }
        }
    }
}
