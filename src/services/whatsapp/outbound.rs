//! Sending: a message is written `pending` together with its send job in one transaction, after the checks that
//! can refuse it at once (the number's capabilities, the 24-hour window, the quotas). The job calls the provider
//! and records `sent` with the provider's id, or a classified failure: retried with backoff, or `failed` with a
//! readable reason.
//!
//! The job follows the reconciliation rule of `docs/JOBS.md`: claiming a job counts its attempt before the
//! provider is called, and every attempt's result is written to the message. A run that finds an earlier attempt
//! without a recorded result (the process died while the request was out) cannot know whether the customer got
//! the message, and none of the providers can be asked by our reference, so it marks the message `failed`
//! ("delivery unknown") for a person to check and retry, rather than risk sending it twice.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::compose::{Compose, Stored, field, validate};
use super::quota::{self, SendCheck};
use super::{Shared, WhatsAppError, describe_failure};
use crate::domain::message::{Status, window_open};
use crate::domain::phone::Phone;
use crate::jobs::{self, Context, Job, Outcome, Rate, Registry};
use crate::providers::{
    Content, ListRow, ListSection, MediaKind, MediaSource, Outgoing, ProviderKind, Recipient, ReplyButton,
};
use crate::services::access::Actor;
use crate::store::contacts::{self, Identity};
use crate::store::inbox_events::{self, EventKind};
use crate::store::messages::{self, Message, NewMessage};
use crate::store::whatsapp_accounts::{self, AccountRow};
use crate::store::{Conn, conversations, media, now_millis};

/// Sends one outbound message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMessage {
    pub message_id: i64,
    pub account_id: i64,
    /// The number's throughput when the job was written: the rate key carries it, so workers need no lookup.
    pub per_second: i64,
}

impl Job for SendMessage {
    const KIND: &'static str = "whatsapp.send";
    const QUEUE: &'static str = "send";
    const MAX_ATTEMPTS: i64 = 8;

    fn dedupe_key(&self) -> Option<String> {
        None
    }

    fn rate_key(&self) -> Option<String> {
        Some(format!("wa:{}:{}", self.account_id, self.per_second))
    }
}

/// Tells the provider the customer's latest message was read (blue ticks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkRead {
    pub message_id: i64,
}

impl Job for MarkRead {
    const KIND: &'static str = "whatsapp.mark_read";
    const QUEUE: &'static str = "send";
    const MAX_ATTEMPTS: i64 = 4;

    fn dedupe_key(&self) -> Option<String> {
        // Once per message: marking the same message read twice tells the customer nothing new.
        Some(format!("read:{}", self.message_id))
    }
}

/// The rate of a send rate key `wa:<account>:<per second>`: the number's throughput, with a burst of a quarter
/// second's worth.
pub fn rate_of(key: &str) -> Option<Rate> {
    let per_second: u32 = key.strip_prefix("wa:")?.rsplit(':').next()?.parse().ok()?;
    let per_second = f64::from(per_second.max(1));
    Some(Rate { per_second, burst: (per_second / 4.0).max(1.0) })
}

/// Where a new message goes: an existing conversation, or a number and a recipient.
pub enum Target {
    Conversation(i64),
    New { account_id: i64, to: String },
}

pub struct OutboundService {
    shared: Shared,
}

impl OutboundService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Writes a message `pending` with its send job; refuses at once what cannot be sent (capabilities, window,
    /// quotas). Needs a write-capable actor.
    pub async fn send(&self, actor: &Actor, target: Target, compose: &Compose) -> Result<Message, WhatsAppError> {
        actor.require_write()?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        let (account, conversation) = match target {
            Target::Conversation(id) => {
                let conversation =
                    conversations::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
                let account = whatsapp_accounts::get(&mut tx, actor.workspace_id, conversation.account_id)
                    .await?
                    .ok_or(WhatsAppError::NotFound)?;
                (account, conversation)
            }
            Target::New { account_id, to } => {
                let account = whatsapp_accounts::get(&mut tx, actor.workspace_id, account_id)
                    .await?
                    .ok_or_else(|| field("whatsapp_account_id", "whatsapp.number_unknown"))?;
                let phone = Phone::parse(&to).map_err(|m| WhatsAppError::Fields(vec![("to", m)]))?;
                let who = Identity { phone: Some(phone.as_str()), name: None, ids: Vec::new() };
                let contact = contacts::resolve(&mut tx, actor.workspace_id, &who, now).await?;
                let id = conversations::upsert(&mut tx, actor.workspace_id, account.id, contact, None, now).await?;
                let conversation =
                    conversations::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
                (account, conversation)
            }
        };
        if account.status != "active" {
            return Err(WhatsAppError::refused("number_disabled", "whatsapp.number_disabled"));
        }
        let kind = ProviderKind::parse(&account.provider).ok_or(WhatsAppError::NotFound)?;
        let (stored, message_kind, text) = validate(compose, kind)?;
        let is_template = matches!(stored, Stored::Template { .. });
        let open = window_open(conversation.last_inbound_at, now);
        if kind.connector().capabilities().customer_window && !open && !is_template {
            return Err(WhatsAppError::refused("outside_window", "whatsapp.outside_window"));
        }
        if let Stored::Media { media_id: Some(media_id), .. } = &stored {
            let file = media::get(&mut tx, Some(actor.workspace_id), *media_id).await?;
            if !file.is_some_and(|f| f.message_id.is_none() && f.state == "stored") {
                return Err(field("media", "whatsapp.media_unknown"));
            }
        }
        quota::consume(
            &mut tx,
            &SendCheck {
                account: &account,
                conversation_id: conversation.id,
                user_id: actor.user_id(),
                business_initiated: is_template && !open,
            },
        )
        .await?;
        let payload = serde_json::to_string(&stored).map_err(|e| WhatsAppError::Internal(e.to_string()))?;
        let id = messages::insert(
            &mut tx,
            &NewMessage {
                workspace_id: actor.workspace_id,
                conversation_id: conversation.id,
                account_id: account.id,
                direction: "outbound",
                provider_message_id: None,
                kind: message_kind,
                body: text.as_deref(),
                payload: Some(&payload),
                status: Status::Pending.as_str(),
                sent_by_user_id: actor.user_id(),
                occurred_at: now,
                now,
            },
        )
        .await?
        .ok_or_else(|| WhatsAppError::Internal("a new message conflicted".into()))?;
        if let Stored::Media { media_id: Some(media_id), .. } = &stored {
            media::attach(&mut tx, actor.workspace_id, *media_id, id).await?;
        }
        let preview = text.unwrap_or_else(|| format!("[{message_kind}]"));
        conversations::note_outbound(&mut tx, conversation.id, now, &preview, now).await?;
        inbox_events::record(&mut tx, actor.workspace_id, conversation.id, Some(id), EventKind::Message, now).await?;
        enqueue_send(&mut tx, &account, id).await?;
        tx.commit().await?;
        let mut conn = self.shared.db().read().await?;
        messages::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)
    }

    /// Sends a failed message again (a person checked it did not arrive).
    pub async fn retry(&self, actor: &Actor, id: i64) -> Result<Message, WhatsAppError> {
        actor.require_write()?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        let message = messages::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let account = whatsapp_accounts::get(&mut tx, actor.workspace_id, message.account_id)
            .await?
            .ok_or(WhatsAppError::NotFound)?;
        if !messages::requeue(&mut tx, actor.workspace_id, id, now).await? {
            return Err(WhatsAppError::refused("not_retryable", "whatsapp.not_retryable"));
        }
        inbox_events::record_for_message(&mut tx, actor.workspace_id, id, EventKind::Status, now).await?;
        enqueue_send(&mut tx, &account, id).await?;
        tx.commit().await?;
        let mut conn = self.shared.db().read().await?;
        messages::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)
    }

    /// Marks a conversation read: no unread messages left, and, where the number's provider supports it, the
    /// customer's latest message is marked read at the provider (by a job, so a slow provider never holds the page).
    pub async fn mark_read(&self, actor: &Actor, conversation_id: i64) -> Result<(), WhatsAppError> {
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let conversation =
            conversations::get(&mut tx, actor.workspace_id, conversation_id).await?.ok_or(WhatsAppError::NotFound)?;
        let now = now_millis();
        conversations::mark_read(&mut tx, actor.workspace_id, conversation.id, now).await?;
        inbox_events::record(&mut tx, actor.workspace_id, conversation.id, None, EventKind::Conversation, now).await?;
        let account = whatsapp_accounts::get(&mut tx, actor.workspace_id, conversation.account_id).await?;
        let supported = account
            .and_then(|a| ProviderKind::parse(&a.provider))
            .is_some_and(|kind| kind.connector().capabilities().mark_read);
        if supported && let Some(last) = messages::last_inbound(&mut tx, actor.workspace_id, conversation.id).await? {
            jobs::enqueue(&mut tx, Some(actor.workspace_id), &MarkRead { message_id: last.id }, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One message of the workspace.
    pub async fn get(&self, actor: &Actor, id: i64) -> Result<Message, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        messages::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)
    }

    /// Registers the send job's handler.
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        let service = Arc::clone(self);
        registry.handle::<SendMessage, _, _>(move |job, ctx| {
            let service = Arc::clone(&service);
            async move { service.run(job, ctx).await }
        });
        let service = Arc::clone(self);
        registry.handle::<MarkRead, _, _>(move |job, ctx| {
            let service = Arc::clone(&service);
            async move {
                match service.mark_read_at_provider(&job, &ctx).await {
                    Ok(outcome) => outcome,
                    Err(e) => Outcome::Retry { error: e.to_string(), at: None },
                }
            }
        });
        registry.queue(SendMessage::QUEUE, 32);
    }

    /// The mark-read job: one provider call; retried on rate limits and outages, dropped with the reason otherwise.
    async fn mark_read_at_provider(&self, job: &MarkRead, ctx: &Context) -> Result<Outcome, WhatsAppError> {
        let Some(workspace_id) = ctx.job.workspace_id else { return Ok(Outcome::Done) };
        let mut conn = self.shared.db().read().await?;
        let Some(message) = messages::get(&mut conn, workspace_id, job.message_id).await? else {
            return Ok(Outcome::Done);
        };
        let (Some(provider_id), Some(conversation), Some(account)) = (
            message.provider_message_id.clone(),
            conversations::get(&mut conn, workspace_id, message.conversation_id).await?,
            whatsapp_accounts::get(&mut conn, workspace_id, message.account_id).await?,
        ) else {
            return Ok(Outcome::Done);
        };
        let from = recipient(&mut conn, workspace_id, &conversation).await?;
        let base = self.shared.base_url(&mut conn).await?;
        drop(conn);
        let config = self.shared.account_config(&account, &base)?;
        match config.kind.connector().mark_read(&self.shared.http, &config, &provider_id, &from).await {
            Ok(()) => Ok(Outcome::Done),
            Err(e) if e.retryable() => Ok(Outcome::Retry { error: describe_failure(&e), at: None }),
            Err(e) => Ok(Outcome::Fail { error: describe_failure(&e) }),
        }
    }

    /// The send job: reconcile an attempt without a result, else call the provider and record what it said.
    async fn run(&self, job: SendMessage, ctx: Context) -> Outcome {
        match self.attempt(&job, &ctx).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry { error: e.to_string(), at: None },
        }
    }

    async fn attempt(&self, job: &SendMessage, ctx: &Context) -> Result<Outcome, WhatsAppError> {
        let Some(workspace_id) = ctx.job.workspace_id else {
            return Ok(Outcome::Fail { error: "send job without a workspace".into() });
        };
        let attempt = ctx.job.attempts;
        let mut conn = self.shared.db().read().await?;
        let Some(message) = messages::get(&mut conn, workspace_id, job.message_id).await? else {
            return Ok(Outcome::Done); // deleted with its number or conversation
        };
        if message.status != Status::Pending.as_str() {
            return Ok(Outcome::Done); // its result is recorded already
        }
        let Some(account) = whatsapp_accounts::get(&mut conn, workspace_id, message.account_id).await? else {
            return Ok(Outcome::Done);
        };
        let conversation = conversations::get(&mut conn, workspace_id, message.conversation_id).await?;
        let base = self.shared.base_url(&mut conn).await?;
        drop(conn);

        if message.send_attempts < attempt - 1 {
            let mut tx = self.shared.db().write().await?;
            messages::mark_failed(
                &mut tx,
                workspace_id,
                message.id,
                "delivery_unknown",
                "Delivery unknown: the server stopped while this message was being sent. Check with the customer before sending it again.",
                attempt,
                now_millis(),
            )
            .await?;
            inbox_events::record_for_message(&mut tx, workspace_id, message.id, EventKind::Status, now_millis())
                .await?;
            tx.commit().await?;
            return Ok(Outcome::Done);
        }

        let config = self.shared.account_config(&account, &base)?;
        let Some(conversation) = conversation else { return Ok(Outcome::Done) };
        let outgoing = match self.outgoing(&message, &conversation, workspace_id).await {
            Ok(outgoing) => outgoing,
            Err(reason) => return self.fail(workspace_id, &message, "invalid", &reason, attempt).await,
        };
        let result = config.kind.connector().send(&self.shared.http, &config, &outgoing).await;
        let now = now_millis();
        match result {
            Ok(sent) => {
                let mut tx = self.shared.db().write().await?;
                messages::mark_sent(
                    &mut tx,
                    workspace_id,
                    message.id,
                    account.id,
                    &sent.provider_message_id,
                    attempt,
                    now,
                )
                .await?;
                if let Some(thread) = &sent.thread {
                    conversations::set_thread(&mut tx, message.conversation_id, thread).await?;
                }
                let (conversation_id, id) = (message.conversation_id, Some(message.id));
                inbox_events::record(&mut tx, workspace_id, conversation_id, id, EventKind::Status, now).await?;
                tx.commit().await?;
                Ok(Outcome::Done)
            }
            Err(e) if e.retryable() && attempt < ctx.job.max_attempts => {
                let mut tx = self.shared.db().write().await?;
                let code = e.code.clone().unwrap_or_else(|| e.kind.as_str().to_owned());
                messages::note_attempt(&mut tx, workspace_id, message.id, &code, &describe_failure(&e), attempt, now)
                    .await?;
                let (conversation_id, id) = (message.conversation_id, Some(message.id));
                inbox_events::record(&mut tx, workspace_id, conversation_id, id, EventKind::Status, now).await?;
                tx.commit().await?;
                let at = e.retry_after.map(|d| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
                Ok(Outcome::Retry { error: describe_failure(&e), at })
            }
            Err(e) => {
                let code = e.code.clone().unwrap_or_else(|| e.kind.as_str().to_owned());
                let outcome = self.fail(workspace_id, &message, &code, &describe_failure(&e), attempt).await?;
                // Retries exhausted: the job goes dead too, so the queue's admin page shows it.
                Ok(if e.retryable() { Outcome::Fail { error: describe_failure(&e) } } else { outcome })
            }
        }
    }

    async fn fail(
        &self,
        workspace_id: i64,
        message: &Message,
        code: &str,
        reason: &str,
        attempt: i64,
    ) -> Result<Outcome, WhatsAppError> {
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        messages::mark_failed(&mut tx, workspace_id, message.id, code, reason, attempt, now).await?;
        let (conversation_id, id) = (message.conversation_id, Some(message.id));
        inbox_events::record(&mut tx, workspace_id, conversation_id, id, EventKind::Status, now).await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// The provider call for a stored message; `Err` is a reason the message can never be sent.
    async fn outgoing(
        &self,
        message: &Message,
        conversation: &conversations::Conversation,
        workspace_id: i64,
    ) -> Result<Outgoing, String> {
        let stored: Stored = serde_json::from_str(message.payload.as_deref().unwrap_or_default())
            .map_err(|e| format!("the stored message does not load: {e}"))?;
        let mut conn = self.shared.db().read().await.map_err(|e| e.to_string())?;
        let to = recipient(&mut conn, workspace_id, conversation).await.map_err(|e| e.to_string())?;
        let content = match stored {
            Stored::Text { body } => Content::Text { body, preview_url: true },
            Stored::Template { name, language, variables } => Content::Template { name, language, variables },
            Stored::Media { kind, url, media_id, caption, filename } => {
                let kind = MediaKind::parse(&kind).ok_or("unknown media kind")?;
                let source = match (url, media_id) {
                    (Some(url), _) => MediaSource::Url(url),
                    (None, Some(id)) => {
                        let file = media::get(&mut conn, Some(workspace_id), id)
                            .await
                            .map_err(|e| e.to_string())?
                            .ok_or("the attached file is gone")?;
                        let path = file.path.clone().ok_or("the attached file was never stored")?;
                        let bytes = tokio::fs::read(self.shared.media_dir.join(&path))
                            .await
                            .map_err(|e| format!("the attached file cannot be read: {e}"))?;
                        MediaSource::Upload {
                            bytes,
                            mime: file.mime.unwrap_or_else(|| "application/octet-stream".into()),
                            filename: file.filename.unwrap_or_else(|| "file".into()),
                        }
                    }
                    (None, None) => return Err("the media has no source".into()),
                };
                Content::Media { kind, source, caption, filename }
            }
            Stored::Buttons { body, buttons } => Content::Buttons {
                body,
                buttons: buttons.into_iter().map(|b| ReplyButton { id: b.id, title: b.title }).collect(),
            },
            Stored::List { body, button, sections } => Content::List {
                body,
                button,
                sections: sections
                    .into_iter()
                    .map(|s| ListSection {
                        title: s.title,
                        rows: s
                            .rows
                            .into_iter()
                            .map(|r| ListRow { id: r.id, title: r.title, description: r.description })
                            .collect(),
                    })
                    .collect(),
            },
        };
        Ok(Outgoing { to, content, client_ref: format!("cvm-{}", message.id), reply_to: None })
    }
}

/// The customer of a conversation as the provider addresses them: phone, JID, BSUID, the provider's thread.
async fn recipient(
    conn: &mut Conn,
    workspace_id: i64,
    conversation: &conversations::Conversation,
) -> Result<Recipient, crate::store::StoreError> {
    let identities = contacts::identities(conn, workspace_id, conversation.contact_id).await?;
    let id_of = |kind: &str| identities.iter().find(|(k, _)| k == kind).map(|(_, v)| v.clone());
    Ok(Recipient {
        phone: conversation.contact_phone.as_deref().and_then(|p| Phone::parse(p).ok()),
        jid: id_of("jid"),
        bsuid: id_of("bsuid"),
        thread: conversation.provider_thread.clone(),
    })
}

/// Enqueues the send job of a message inside the caller's transaction.
async fn enqueue_send(conn: &mut Conn, account: &AccountRow, message_id: i64) -> Result<(), WhatsAppError> {
    let job = SendMessage { message_id, account_id: account.id, per_second: account.throughput_per_second.max(1) };
    jobs::enqueue(conn, Some(account.workspace_id), &job, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_keys_carry_the_numbers_throughput() {
        let job = SendMessage { message_id: 1, account_id: 7, per_second: 80 };
        let key = job.rate_key().unwrap();
        assert_eq!(key, "wa:7:80");
        assert_eq!(rate_of(&key), Some(Rate { per_second: 80.0, burst: 20.0 }));
        assert_eq!(rate_of("other:1"), None);
    }
}
