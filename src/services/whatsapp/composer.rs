//! The composer's side of sending: whether the number may send now (the same allowance rule the send path
//! enforces, so the composer can say why before anything is typed), attaching a file and sending it in one call,
//! and the thread's media files, read under the conversation's visibility.

use super::media::{MediaFile, MediaService};
use super::outbound::{OutboundService, Target};
use super::quick_replies::conversation_for;
use super::quota::{self, SendCheck};
use super::{Shared, WhatsAppError};
use crate::domain::message::window_open;
use crate::domain::msg::Msg;
use crate::providers::ProviderKind;
use crate::services::access::Actor;
use crate::services::whatsapp::compose::Compose;
use crate::store::media::{self, MediaRow};
use crate::store::messages::{self, Message};
use crate::store::{now_millis, whatsapp_accounts};

/// What the composer may offer for a conversation now.
#[derive(Debug, Clone, Default)]
pub struct ComposerState {
    /// Why nothing can be sent now (a quota used up), in the words the send path would refuse with.
    pub refusal: Option<Msg>,
    /// The number's provider takes uploaded files.
    pub media_upload: bool,
}

/// A file chosen in the composer.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub mime: String,
    pub bytes: Vec<u8>,
    pub caption: String,
}

/// WhatsApp's kinds and their size limits, by the file's type: JPEG and PNG images up to 5 MB, MP4 and 3GPP video
/// and the usual audio formats up to 16 MB, anything else as a document up to 100 MB.
pub fn kind_of(mime: &str) -> (&'static str, usize) {
    const MB: usize = 1024 * 1024;
    let mime = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match mime.as_str() {
        "image/jpeg" | "image/png" => ("image", 5 * MB),
        "video/mp4" | "video/3gpp" => ("video", 16 * MB),
        "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr" | "audio/ogg" => ("audio", 16 * MB),
        _ => ("document", super::media::MAX_UPLOAD),
    }
}

pub struct ComposerService {
    shared: Shared,
}

impl ComposerService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// What the composer of a conversation the actor can see may offer.
    pub async fn state(&self, actor: &Actor, conversation_id: i64) -> Result<ComposerState, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let conversation = conversation_for(&mut conn, actor, conversation_id).await?;
        let account = whatsapp_accounts::get(&mut conn, actor.workspace_id, conversation.account_id)
            .await?
            .ok_or(WhatsAppError::NotFound)?;
        let caps = ProviderKind::parse(&account.provider).map(|k| k.connector().capabilities());
        let window_closed =
            caps.is_some_and(|c| c.customer_window) && !window_open(conversation.last_inbound_at, now_millis());
        let check = SendCheck {
            account: &account,
            conversation_id: conversation.id,
            user_id: actor.user_id(),
            // With the window closed only a template can go, and it opens a business-initiated conversation.
            business_initiated: window_closed,
        };
        let refusal = match quota::refusal(&mut conn, &check).await? {
            Some(WhatsAppError::Refused { msg, .. }) => Some(msg),
            _ => None,
        };
        Ok(ComposerState { refusal, media_upload: caps.is_some_and(|c| c.media_upload) })
    }

    /// Stores a file and sends it in a conversation the actor can see, with its caption.
    pub async fn attach(
        &self,
        actor: &Actor,
        conversation_id: i64,
        attachment: &Attachment,
    ) -> Result<Message, WhatsAppError> {
        actor.require_write()?;
        let state = self.state(actor, conversation_id).await?;
        // Refused before the file is written: a number that cannot take it would leave the file unused.
        if !state.media_upload {
            return Err(WhatsAppError::Refused {
                code: "unsupported",
                msg: Msg::new("whatsapp.media_upload_unsupported"),
            });
        }
        let (kind, limit) = kind_of(&attachment.mime);
        if attachment.bytes.is_empty() {
            return Err(WhatsAppError::Fields(vec![("file", Msg::new("compose.attach.missing"))]));
        }
        if attachment.bytes.len() > limit {
            let max = format!("{} MB", limit / (1024 * 1024));
            return Err(WhatsAppError::Fields(vec![("file", Msg::with("compose.attach.too_large", &[("max", max)]))]));
        }
        if attachment.caption.chars().count() > 1024 {
            return Err(WhatsAppError::Fields(vec![("caption", Msg::new("compose.attach.caption_invalid"))]));
        }
        let media = MediaService::new(self.shared.clone());
        let row = media.upload(actor, kind, &attachment.filename, &attachment.mime, &attachment.bytes).await?;
        let compose = Compose::Media {
            kind: kind.to_owned(),
            url: None,
            media_id: Some(row.id),
            caption: Some(attachment.caption.trim().to_owned()).filter(|c| !c.is_empty()),
            filename: row.filename.clone(),
        };
        OutboundService::new(self.shared.clone()).send(actor, Target::Conversation(conversation_id), &compose).await
    }

    /// The files of some messages of a conversation the actor can see (a thread page's previews).
    pub async fn thread_media(
        &self,
        actor: &Actor,
        conversation_id: i64,
        message_ids: &[i64],
    ) -> Result<Vec<MediaRow>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        conversation_for(&mut conn, actor, conversation_id).await?;
        let rows = media::of_messages(&mut conn, actor.workspace_id, message_ids).await?;
        Ok(rows)
    }

    /// A stored file, when the message it belongs to is in a conversation the actor can see.
    pub async fn media_file(&self, actor: &Actor, id: i64) -> Result<MediaFile, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let row = media::get(&mut conn, Some(actor.workspace_id), id).await?.ok_or(WhatsAppError::NotFound)?;
        let message_id = row.message_id.ok_or(WhatsAppError::NotFound)?;
        let message = messages::get(&mut conn, actor.workspace_id, message_id).await?.ok_or(WhatsAppError::NotFound)?;
        conversation_for(&mut conn, actor, message.conversation_id).await?;
        drop(conn);
        MediaService::new(self.shared.clone()).read(actor, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_limits_follow_the_file_type() {
        assert_eq!(kind_of("image/png"), ("image", 5 * 1024 * 1024));
        assert_eq!(kind_of("Video/MP4; codecs=x").0, "video");
        assert_eq!(kind_of("audio/ogg").0, "audio");
        assert_eq!(kind_of("application/pdf").0, "document");
        assert_eq!(kind_of("image/gif").0, "document", "WhatsApp does not send GIF images");
    }
}
