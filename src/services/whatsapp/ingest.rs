//! Webhook ingestion: find the number by its URL key, verify the request, parse it into events, and write them
//! durably before answering. Writes from concurrent webhooks are grouped into one transaction (group commit), so
//! one fsync covers many requests; each request is answered only after the commit that holds it.
//!
//! Writes are idempotent: a message is stored once per (number, provider id), a status once per (message,
//! status), and statuses only climb. Providers redeliver and reorder (Meta, 360dialog and Evolution retry for
//! days), so duplicates and late statuses are ordinary input.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::{Shared, WhatsAppError};
use crate::domain::message::{Direction, Status};
use crate::jobs::{self, Job};
use crate::providers::{ContactRef, Event, InboundMessage, MessageKind, ProviderKind, VerifyError, WebhookRequest};
use crate::store::contacts::{self, Identity};
use crate::store::inbox_events::{self, EventKind};
use crate::store::messages::{self, NewMessage, StatusReport};
use crate::store::whatsapp_accounts::{self, AccountRow};
use crate::store::{Conn, Db, StoreError, conversations, media, now_millis};

/// Requests grouped into one transaction at most.
const MAX_GROUP: usize = 256;
/// Requests waiting for the writer at most; more wait in their handlers (back-pressure, not loss).
const QUEUE: usize = 4096;

/// A webhook as the web layer hands it over.
#[derive(Debug, Clone, Copy)]
pub struct WebhookCall<'a> {
    /// The provider named in the URL.
    pub provider: &'a str,
    pub account_key: &'a str,
    pub method: &'a str,
    /// The request's path and query as received (`/webhooks/twilio/abc?x=1`).
    pub path_and_query: &'a str,
    pub query: &'a str,
    /// Scheme and host the request came to, used when no public URL is configured.
    pub origin: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// How to answer a webhook that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookReply {
    /// The verification handshake's challenge, as plain text.
    Challenge(String),
    /// The provider's expected acknowledgement.
    Ack { content_type: &'static str, body: &'static str },
}

/// Why a webhook was refused (and nothing stored).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No number with this key and provider (404).
    #[error("unknown account")]
    UnknownAccount,
    /// No signature or secret (401).
    #[error("missing signature")]
    Unauthenticated,
    /// A wrong signature or secret (403).
    #[error("bad signature")]
    Forbidden,
    /// A body that does not parse (400).
    #[error("malformed: {0}")]
    Malformed(String),
    /// GET on a provider without a handshake (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<WhatsAppError> for WebhookError {
    fn from(e: WhatsAppError) -> Self {
        match e {
            WhatsAppError::Store(e) => Self::Store(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// One request's events, waiting to be written.
struct Pending {
    account: Arc<AccountRow>,
    events: Vec<Event>,
    body: Arc<[u8]>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Fetches an inbound message's media into the data directory.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FetchMedia {
    pub media_id: i64,
}

impl Job for FetchMedia {
    const KIND: &'static str = "whatsapp.fetch_media";
    const QUEUE: &'static str = "media";
    const MAX_ATTEMPTS: i64 = 6;
}

pub struct IngestService {
    shared: Shared,
    writer: mpsc::Sender<Pending>,
}

impl IngestService {
    /// Starts the group-commit writer (a task that ends when the service is dropped).
    pub fn new(shared: Shared) -> Self {
        let (writer, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(shared.db().clone(), queue));
        Self { shared, writer }
    }

    /// Handles one webhook request end to end; `Ok` only once its events are committed.
    pub async fn receive(&self, call: &WebhookCall<'_>) -> Result<WebhookReply, WebhookError> {
        let kind = ProviderKind::parse(call.provider).ok_or(WebhookError::UnknownAccount)?;
        let mut conn = self.shared.db().read().await?;
        let row = whatsapp_accounts::by_key(&mut conn, call.account_key).await?;
        let Some(row) = row.filter(|r| r.provider == kind.as_str()) else { return Err(WebhookError::UnknownAccount) };
        let mut base = self.shared.base_url(&mut conn).await?;
        drop(conn);
        if base.is_empty() {
            base = call.origin.trim_end_matches('/').to_owned();
        }
        let account = self.shared.account_config(&row, &base)?;
        let url = format!("{base}{}", call.path_and_query);
        let request = WebhookRequest {
            method: call.method,
            url: &url,
            query: call.query,
            headers: call.headers,
            body: call.body,
        };
        let connector = kind.connector();
        if call.method.eq_ignore_ascii_case("GET") {
            return match connector.handshake(&account, &request) {
                Some(Ok(challenge)) => Ok(WebhookReply::Challenge(challenge)),
                Some(Err(e)) => Err(refusal(e)),
                None => Err(WebhookError::MethodNotAllowed),
            };
        }
        connector.verify(&account, &request).map_err(refusal)?;
        let events = connector.parse(&account, &request).map_err(|e| WebhookError::Malformed(e.0))?;
        self.write(Arc::new(row), events, Arc::from(call.body)).await?;
        let (content_type, body) = connector.acknowledgement();
        Ok(WebhookReply::Ack { content_type, body })
    }

    /// Writes events through the group-commit writer and waits for their commit.
    pub async fn write(
        &self,
        account: Arc<AccountRow>,
        events: Vec<Event>,
        body: Arc<[u8]>,
    ) -> Result<(), WebhookError> {
        let (done, committed) = oneshot::channel();
        self.writer
            .send(Pending { account, events, body, done })
            .await
            .map_err(|_| WebhookError::Internal("the ingest writer stopped".into()))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(WebhookError::Store(StoreError::Unavailable(e))),
            Err(_) => Err(WebhookError::Internal("the ingest writer stopped".into())),
        }
    }
}

fn refusal(e: VerifyError) -> WebhookError {
    match e {
        VerifyError::Missing => WebhookError::Unauthenticated,
        VerifyError::Mismatch => WebhookError::Forbidden,
    }
}

/// Conversations the writer has filed messages under, by (number, customer, provider thread): the next message
/// from the same customer skips resolving the contact and the conversation (three statements of the hot path).
/// Only the writer task touches it. It is cleared whenever a write fails, since a deleted contact or conversation
/// would fail every later write that used a stale entry. The second field lists the conversations the current
/// batch created from inbound messages, as (workspace, conversation), for round-robin assignment.
#[derive(Default)]
struct Threads(std::collections::HashMap<(i64, String, Option<String>), i64>, Vec<(i64, i64)>);

impl Threads {
    /// Entries kept at most (about 100 bytes each); past this the map starts again.
    const MAX: usize = 100_000;

    fn remember(&mut self, key: (i64, String, Option<String>), conversation_id: i64) {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(key, conversation_id);
    }
}

/// Takes whatever requests are waiting (up to [`MAX_GROUP`]), writes them in one transaction, answers them all.
/// If the group fails, each request is retried alone, so one bad request cannot fail the others.
async fn write_loop(db: Db, mut queue: mpsc::Receiver<Pending>) {
    let mut threads = Threads::default();
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let written = write_group(&db, &group, &mut threads).await;
        if written.is_err() {
            threads.0.clear();
        }
        match written {
            Ok(()) => {
                for pending in group {
                    let _ = pending.done.send(Ok(()));
                }
            }
            Err(e) if group.len() == 1 => {
                tracing::warn!(error = %e, "webhook events could not be stored");
                for pending in group {
                    let _ = pending.done.send(Err(e.to_string()));
                }
            }
            Err(_) => {
                for pending in group {
                    let result = write_group(&db, std::slice::from_ref(&pending), &mut threads).await.map_err(|e| {
                        tracing::warn!(error = %e, "webhook events could not be stored");
                        e.to_string()
                    });
                    if result.is_err() {
                        threads.0.clear();
                    }
                    let _ = pending.done.send(result);
                }
            }
        }
    }
}

async fn write_group(db: &Db, group: &[Pending], threads: &mut Threads) -> Result<(), StoreError> {
    let now = now_millis();
    let mut tx = db.write().await?;
    let mut touched: Vec<(i64, Option<String>)> = Vec::new();
    threads.1.clear();
    for pending in group {
        let mut state = None;
        for event in &pending.events {
            if let Event::Connection { state: s } = event {
                state = Some(s.clone());
            }
            apply(&mut tx, &pending.account, event, &pending.body, now, threads).await?;
        }
        match touched.iter_mut().find(|(id, _)| *id == pending.account.id) {
            Some(entry) => entry.1 = state.or(entry.1.take()),
            None => touched.push((pending.account.id, state)),
        }
    }
    for (id, state) in touched {
        whatsapp_accounts::touch_webhook(&mut tx, id, now, state.as_deref()).await?;
    }
    let created = std::mem::take(&mut threads.1);
    super::organize::auto_assign_new(&mut tx, &created, now).await?;
    tx.commit().await
}

async fn apply(
    conn: &mut Conn,
    account: &AccountRow,
    event: &Event,
    body: &[u8],
    now: i64,
    threads: &mut Threads,
) -> Result<(), StoreError> {
    match event {
        Event::Message(message) => store_message(conn, account, message, Direction::Inbound, body, now, threads).await,
        Event::Echo(message) => store_message(conn, account, message, Direction::Outbound, body, now, threads).await,
        Event::Status(update) => {
            let status = update.status;
            let (code, reason) = update.error.as_ref().map(|(c, r)| (c.as_str(), r.as_str())).unzip();
            let recorded = messages::record_status(
                conn,
                &StatusReport {
                    workspace_id: account.workspace_id,
                    account_id: account.id,
                    provider_message_id: &update.message_id,
                    status: status.as_str(),
                    rank: i64::from(status.rank()),
                    occurred_at: if update.timestamp_ms > 0 { update.timestamp_ms } else { now },
                    error_code: code,
                    error_message: reason,
                    now,
                },
            )
            .await?;
            // Only a new report can change what the inbox shows; a redelivered one costs no event.
            if recorded {
                let (workspace, id) = (account.workspace_id, &update.message_id);
                inbox_events::record_for_provider_message(conn, workspace, account.id, id, EventKind::Status, now)
                    .await?;
            }
            Ok(())
        }
        Event::Connection { .. } => Ok(()),
        Event::Other { kind } => {
            let raw = String::from_utf8_lossy(body);
            messages::store_raw_event(conn, account.workspace_id, account.id, kind, &raw, now).await
        }
    }
}

/// The provider ids of a contact, as stored identities.
fn identity_of(account: &AccountRow, contact: &ContactRef) -> Vec<(&'static str, String)> {
    let mut ids = Vec::new();
    if let Some(v) = &contact.wa_id {
        ids.push(("wa_id", v.clone()));
    }
    if let Some(v) = &contact.jid {
        ids.push(("jid", v.clone()));
    }
    if let Some(v) = &contact.bsuid {
        ids.push(("bsuid", v.clone()));
    }
    if let Some(v) = &contact.provider_contact_id {
        // Gateway contact ids are only unique within that gateway account.
        ids.push(("gateway_contact", format!("{}:{v}", account.id)));
    }
    ids
}

/// What the conversation list shows for a message.
fn preview(message: &InboundMessage) -> String {
    match (&message.text, message.kind) {
        (Some(text), _) if !text.trim().is_empty() => text.chars().take(120).collect(),
        (_, kind) => format!("[{}]", kind.as_str()),
    }
}

/// The message's details beyond its text, as stored JSON.
fn payload(message: &InboundMessage) -> Option<String> {
    let mut details = serde_json::Map::new();
    if let Some(m) = &message.media {
        details.insert(
            "media".into(),
            json!({"mime": m.mime, "filename": m.filename, "sha256": m.sha256, "provider_id": m.id}),
        );
    }
    if let Some(l) = &message.location {
        details.insert(
            "location".into(),
            json!({"latitude": l.latitude, "longitude": l.longitude, "name": l.name, "address": l.address}),
        );
    }
    if let Some(r) = &message.reaction {
        details.insert("reaction".into(), json!({"message_id": r.message_id, "emoji": r.emoji}));
    }
    if let Some(r) = &message.reply {
        details.insert("reply".into(), json!({"id": r.id, "title": r.title}));
    }
    if let Some(c) = &message.context_id {
        details.insert("context_id".into(), json!(c));
    }
    (!details.is_empty()).then(|| serde_json::Value::Object(details).to_string())
}

async fn store_message(
    conn: &mut Conn,
    account: &AccountRow,
    message: &InboundMessage,
    direction: Direction,
    body: &[u8],
    now: i64,
    threads: &mut Threads,
) -> Result<(), StoreError> {
    // The cheap check first: a redelivered webhook costs one indexed read.
    if messages::exists(conn, account.id, &message.id).await? {
        return Ok(());
    }
    let ids = identity_of(account, &message.contact);
    let phone = message.contact.phone.as_ref().map(|p| p.as_str());
    if phone.is_none() && ids.is_empty() {
        // Nobody to file it under: keep it raw rather than drop it.
        let raw = String::from_utf8_lossy(body);
        return messages::store_raw_event(conn, account.workspace_id, account.id, "message_without_sender", &raw, now)
            .await;
    }
    // Every id is part of the key, so a customer who shows up with a new one (a BSUID, say) is resolved again and
    // the new id stored.
    let customer =
        ids.iter().fold(phone.unwrap_or_default().to_owned(), |key, (kind, value)| format!("{key}|{kind}:{value}"));
    let key = (account.id, customer, message.contact.thread.clone());
    let conversation_id = match threads.0.get(&key) {
        Some(id) => *id,
        None => {
            let who = Identity { phone, name: message.contact.name.as_deref(), ids };
            let contact_id = contacts::resolve(conn, account.workspace_id, &who, now).await?;
            let thread = message.contact.thread.as_deref();
            let (id, created) =
                conversations::upsert_created(conn, account.workspace_id, account.id, contact_id, thread, now).await?;
            if created && direction == Direction::Inbound {
                threads.1.push((account.workspace_id, id));
            }
            threads.remember(key, id);
            id
        }
    };
    let occurred_at = if message.timestamp_ms > 0 { message.timestamp_ms } else { now };
    let details = payload(message);
    let status = if direction == Direction::Inbound { Status::Received } else { Status::Sent };
    let inserted = messages::insert(
        conn,
        &NewMessage {
            workspace_id: account.workspace_id,
            conversation_id,
            account_id: account.id,
            direction: direction.as_str(),
            provider_message_id: Some(&message.id),
            kind: message.kind.as_str(),
            body: message.text.as_deref(),
            payload: details.as_deref(),
            status: status.as_str(),
            sent_by_user_id: None,
            occurred_at,
            now,
        },
    )
    .await?;
    let Some(message_id) = inserted else { return Ok(()) };
    inbox_events::record(conn, account.workspace_id, conversation_id, Some(message_id), EventKind::Message, now)
        .await?;
    let text = preview(message);
    match direction {
        Direction::Inbound => conversations::note_inbound(conn, conversation_id, occurred_at, &text, now).await?,
        Direction::Outbound => {
            conversations::note_outbound(conn, conversation_id, occurred_at, &text, now).await?;
            messages::apply_recorded(conn, account.workspace_id, account.id, &message.id, now).await?;
        }
    }
    if let Some(reference) = &message.media
        && message.kind != MessageKind::Reaction
    {
        let media_id =
            media::create_pending(conn, account.workspace_id, message_id, message.kind.as_str(), reference, now)
                .await?;
        jobs::enqueue(conn, Some(account.workspace_id), &FetchMedia { media_id }, None).await?;
    }
    Ok(())
}
