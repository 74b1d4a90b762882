//! The composer's tools: quick-reply suggestions filled for the conversation (a fragment for the script, a
//! `<details>` list and a `?quick_reply=` prefill without it), the emoji picker, attaching a file
//! (`POST /inbox/{id}/attach`), the quota refusal that disables the composer, and the thread's media previews
//! served from `GET /inbox/media/{id}` under the conversation's visibility.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::view::{Composer, Day};
use super::{InboxQuery, inbox_error, inbox_page};
use crate::domain::msg::Msg;
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::composer::Attachment;
use crate::store::media::MediaRow;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::admin::{WithNav, check_csrf, optional_number};
use crate::web::render;
use crate::web::state::AppState;

/// The emoji the picker offers; any other comes from the system's keyboard.
pub const EMOJI: [&str; 40] = [
    "😀", "😂", "😊", "😍", "😉", "😎", "🤔", "😅", "😢", "😮", "🙏", "👍", "👎", "👌", "👏", "🙌", "💪", "👋", "🤝",
    "❤️", "💙", "🔥", "⭐", "🎉", "✅", "❌", "⚠️", "❓", "📦", "🚚", "📞", "📧", "📅", "⏰", "💳", "🛒", "🎁", "🙂",
    "😴", "🤗",
];

pub fn routes() -> Router<AppState> {
    let upload_limit = crate::services::whatsapp::media::MAX_UPLOAD + 64 * 1024;
    Router::new()
        .route("/inbox/{id}/quick-replies", get(suggestions))
        .route("/inbox/{id}/attach", post(attach).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/inbox/media/{id}", get(media))
}

/// A quick reply offered in the composer, already filled for the conversation.
pub struct QuickReplyItem {
    pub id: i64,
    pub shortcut: String,
    pub text: String,
    /// The no-script link that pre-fills the reply box.
    pub href: String,
}

/// The composer's tools for one conversation.
#[derive(Default)]
pub struct ComposerTools {
    /// Why nothing can be sent now (a quota used up): the composer is disabled and says so.
    pub refusal: Option<String>,
    /// The number's provider takes uploaded files.
    pub attach: bool,
    pub quick_replies: Vec<QuickReplyItem>,
    pub emoji: &'static [&'static str],
    /// The attachment form's errors and caption after a refusal.
    pub attach_errors: FieldErrors,
    pub caption: String,
}

impl ComposerTools {
    /// Whether the text box and its send button are disabled.
    pub fn disabled(&self) -> bool {
        self.refusal.is_some()
    }
}

/// The composer of conversation `id` with its tools; `?quick_reply=` pre-fills an empty reply box.
pub(super) async fn tools(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    id: i64,
    query: &InboxQuery,
    composer: Composer,
) -> Result<Composer, AppError> {
    let services = state.services();
    let composer_state = services.composer.state(&who.actor, id).await.map_err(inbox_error)?;
    let filled = services.quick_replies.suggest(&who.actor, id, "").await.map_err(inbox_error)?;
    let qs = query.filters();
    let separator = if qs.is_empty() { "?" } else { "&" };
    let quick_replies: Vec<QuickReplyItem> = filled
        .into_iter()
        .map(|f| QuickReplyItem {
            id: f.reply.id,
            href: format!("/inbox/{id}{qs}{separator}quick_reply={}#text", f.reply.id),
            shortcut: f.reply.shortcut,
            text: f.text,
        })
        .collect();
    let mut text = composer.text;
    if text.is_empty()
        && let Some(wanted) = optional_number(&query.quick_reply)
    {
        // Not among the first suggestions (a long list): render that one.
        text = match quick_replies.iter().find(|q| q.id == wanted) {
            Some(item) => item.text.clone(),
            None => services.quick_replies.render(&who.actor, id, wanted).await.map_err(inbox_error)?.text,
        };
    }
    let tools = ComposerTools {
        refusal: composer_state.refusal.map(|msg| msg.render(page.lang)),
        attach: composer_state.media_upload,
        quick_replies,
        emoji: &EMOJI,
        ..composer.tools
    };
    Ok(Composer { text, tools, ..composer })
}

/// A file under a message, as its bubble previews it.
pub struct MediaPreview {
    pub href: String,
    /// `image`, `audio`, `video`, or `file` for a download link.
    pub shows_as: &'static str,
    pub name: String,
    /// The size in words (`1.2 MB`); empty when unknown.
    pub size: String,
    /// Not fetched from the provider yet, or the fetch failed.
    pub unavailable: bool,
}

fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{size:.1} {}", UNITS[unit]) }
}

/// Whether a type is safe to show inline (never SVG or HTML: those could run script on our origin).
fn inline_kind(mime: &str) -> Option<&'static str> {
    match mime {
        "image/jpeg" | "image/png" | "image/webp" | "image/gif" => Some("image"),
        m if m.starts_with("audio/") => Some("audio"),
        "video/mp4" | "video/3gpp" | "video/webm" => Some("video"),
        _ => None,
    }
}

fn preview(page: &Page, row: &MediaRow) -> MediaPreview {
    let mime = row.mime.clone().unwrap_or_default();
    let stored = row.state == "stored";
    MediaPreview {
        href: format!("/inbox/media/{}", row.id),
        shows_as: if stored { inline_kind(&mime).unwrap_or("file") } else { "file" },
        name: row.filename.clone().unwrap_or_else(|| page.t("compose.media.file").to_owned()),
        size: row.size.map(human_size).unwrap_or_default(),
        unavailable: !stored,
    }
}

/// Adds the media previews to a thread page's bubbles.
pub(super) async fn add_media(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    id: i64,
    mut days: Vec<Day>,
) -> Result<Vec<Day>, AppError> {
    let ids: Vec<i64> = days.iter().flat_map(|d| d.messages.iter().map(|b| b.id)).collect();
    let rows = state.services().composer.thread_media(&who.actor, id, &ids).await.map_err(inbox_error)?;
    for bubble in days.iter_mut().flat_map(|d| d.messages.iter_mut()) {
        bubble.media = rows.iter().filter(|r| r.message_id == Some(bubble.id)).map(|r| preview(page, r)).collect();
    }
    Ok(days)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SuggestQuery {
    q: String,
}

#[derive(Template)]
#[template(path = "inbox/_quick_suggestions.html")]
struct Suggestions<'a> {
    page: &'a Page,
    items: Vec<QuickReplyItem>,
}

/// `GET /inbox/{id}/quick-replies?q=<prefix>`: the matching replies filled for this conversation (a fragment the
/// composer's script shows under the box).
pub async fn suggestions(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Query(query): Query<SuggestQuery>,
) -> Result<Response, AppError> {
    let filled = state.services().quick_replies.suggest(&who.actor, id, &query.q).await.map_err(inbox_error)?;
    let items = filled
        .into_iter()
        .map(|f| QuickReplyItem {
            id: f.reply.id,
            href: format!("/inbox/{id}?quick_reply={}#text", f.reply.id),
            shortcut: f.reply.shortcut,
            text: f.text,
        })
        .collect();
    Ok(render::html(&Suggestions { page: &page, items })?.into_response())
}

/// `POST /inbox/{id}/attach` (multipart: `csrf`, `file`, `caption`): stores the file and sends it. A refusal shows
/// the thread again with the reason by the attachment form.
pub async fn attach(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let bad = |_| AppError::BadRequest(Msg::new("compose.attach.unreadable"));
    let (mut csrf, mut caption, mut file) = (String::new(), String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(bad)?,
            Some("caption") => caption = field.text().await.map_err(bad)?,
            Some("file") => {
                let filename = field.file_name().unwrap_or_default().to_owned();
                let mime = field.content_type().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(bad)?.to_vec();
                file = Some((filename, mime, bytes));
            }
            _ => {}
        }
    }
    check_csrf(&who.user, &csrf)?;
    let (filename, mime, bytes) = file.unwrap_or_default();
    let attachment = Attachment { filename, mime, bytes, caption: caption.clone() };
    let sent = state.services().composer.attach(&who.actor, id, &attachment).await;
    let (status, error, errors) = match sent {
        Ok(_) => return Ok(Redirect::to(&format!("/inbox/{id}{}", query.filters())).into_response()),
        Err(WhatsAppError::Fields(fields)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, FieldErrors::from_msgs(&fields, page.lang))
        }
        Err(WhatsAppError::Refused { msg, .. }) => {
            (StatusCode::CONFLICT, Some(msg.render(page.lang)), FieldErrors::default())
        }
        Err(other) => return Err(inbox_error(other)),
    };
    let tools = ComposerTools { attach_errors: errors, caption, ..ComposerTools::default() };
    let composer = Composer { error, tools, ..Composer::default() };
    let view = inbox_page(&state, &page, nav, &who, &query, Some((id, composer))).await?;
    Ok((status, render::html(&view)?).into_response())
}

/// `GET /inbox/media/{id}`: a message's file, for the thread's previews and download links. Images, audio and
/// video show inline; everything else downloads.
pub async fn media(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let file = state.services().composer.media_file(&who.actor, id).await.map_err(inbox_error)?;
    let mime = file.row.mime.clone().unwrap_or_else(|| "application/octet-stream".into());
    let name = file.row.filename.clone().unwrap_or_else(|| format!("media-{id}"));
    let name = name.replace(['"', '\\', '\r', '\n'], "_");
    let (mime, disposition) = match inline_kind(&mime) {
        Some(_) => (mime, format!("inline; filename=\"{name}\"")),
        None => ("application/octet-stream".to_owned(), format!("attachment; filename=\"{name}\"")),
    };
    let headers = [
        (header::CONTENT_TYPE, mime),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
    ];
    Ok((headers, file.bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(900), "900 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }

    #[test]
    fn only_safe_types_show_inline() {
        assert_eq!(inline_kind("image/png"), Some("image"));
        assert_eq!(inline_kind("image/svg+xml"), None);
        assert_eq!(inline_kind("text/html"), None);
        assert_eq!(inline_kind("audio/ogg"), Some("audio"));
    }
}
