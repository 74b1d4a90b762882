//! What the inbox shows, built from the store rows: the conversation rows, the thread's messages grouped by day
//! with their delivery state, and the composer. Kept apart from the handlers so the shaping can be unit-tested
//! without a database.

use serde_json::Value;

use crate::store::conversations::Conversation;
use crate::store::messages::Message;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;

/// One conversation in the list.
pub struct ConversationRow {
    pub id: i64,
    /// Its thread, keeping the list's filters.
    pub href: String,
    pub name: String,
    pub phone: String,
    pub preview: String,
    pub time: String,
    pub unread: i64,
    pub status: String,
    pub status_label: String,
    /// The number it came in on.
    pub number: String,
    /// The conversation open beside the list.
    pub current: bool,
    /// Tags, snooze and assignee (`organize::decorate_rows`).
    pub organize: super::organize::RowExtras,
}

/// The messages of one local day.
pub struct Day {
    pub label: String,
    /// `YYYY-MM-DD` in the member's zone: where the live inbox files a new message.
    pub date: String,
    pub messages: Vec<Bubble>,
}

/// One message of the thread.
pub struct Bubble {
    pub id: i64,
    /// `inbound`, `outbound` or `note`: the side and colour of the bubble.
    pub direction: String,
    /// What a non-text message is ("Image", "Location"); empty for text.
    pub kind_label: String,
    pub text: String,
    /// A media file's name, a place's name and address, a reaction's emoji.
    pub detail: String,
    pub time: String,
    pub full_time: String,
    /// The local day (`YYYY-MM-DD`), matching its [`Day::date`].
    pub date: String,
    pub status: String,
    /// The delivery tick of an outbound message; empty for the others.
    pub tick: &'static str,
    pub status_label: String,
    /// Why it failed, or why the last attempt failed while a retry waits.
    pub error: String,
    pub retryable: bool,
    /// The message's files, previewed (filled by `compose::add_media`).
    pub media: Vec<super::compose::MediaPreview>,
    /// Who wrote it (a private note's author is named by `organize::sign_notes`).
    pub author_id: Option<i64>,
    pub author: String,
}

/// The reply box, with what was typed after a refused send.
#[derive(Default)]
pub struct Composer {
    /// The provider keeps the 24-hour customer window and it is closed: only a template may go out.
    pub window_closed: bool,
    /// The number's provider sends templates.
    pub templates: bool,
    /// `template` when the template form was the one sent (it then stays open).
    pub mode: String,
    pub text: String,
    pub template_name: String,
    pub template_language: String,
    pub template_variables: String,
    /// A refusal (409) shown above the forms.
    pub error: Option<String>,
    pub errors: FieldErrors,
    /// Quick replies, emoji, attachments and the quota refusal (`compose::tools`).
    pub tools: super::compose::ComposerTools,
    /// The approved templates of the number, the chosen one's variables and preview (`template_picker::fill`).
    pub picker: super::template_picker::Picker,
}

/// The open conversation.
pub struct Thread {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub number: String,
    pub status_label: String,
    pub days: Vec<Day>,
    /// The page of earlier messages, when there are more.
    pub earlier_href: Option<String>,
    pub composer: Composer,
    /// The contact panel beside the thread (`contact::panel`).
    pub contact: Option<super::contact::ContactPanel>,
    /// The header's actions: assign, state, snooze, tags, unread, notes (`organize::thread_actions`).
    pub organize: super::organize::ThreadActions,
}

/// `format` of a time in a zone (`%H:%M`, `%Y-%m-%d`).
pub fn local(millis: i64, tz: &jiff::tz::TimeZone, format: &str) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|ts| ts.to_zoned(tz.clone()).strftime(format).to_string())
        .unwrap_or_default()
}

/// A conversation's state in words.
pub fn conversation_status(page: &Page, status: &str) -> String {
    let key = match status {
        "open" => "inbox.state.open",
        "pending" => "inbox.state.pending",
        "resolved" => "inbox.state.resolved",
        "archived" => "inbox.state.archived",
        other => return other.to_owned(),
    };
    page.t(key).to_owned()
}

/// A message's delivery state: its tick and its name.
fn delivery(page: &Page, status: &str) -> (&'static str, String) {
    let (tick, key) = match status {
        "pending" => ("◷", "inbox.status.pending"),
        "sent" => ("✓", "inbox.status.sent"),
        "delivered" => ("✓✓", "inbox.status.delivered"),
        "read" => ("✓✓", "inbox.status.read"),
        "played" => ("✓✓", "inbox.status.played"),
        "failed" => ("✕", "inbox.status.failed"),
        "received" => ("", "inbox.status.received"),
        other => return ("", other.to_owned()),
    };
    (tick, page.t(key).to_owned())
}

/// What a non-text message is, in words; empty for text. Unknown kinds show their raw name.
fn kind_label(page: &Page, kind: &str) -> String {
    let key = match kind {
        "text" => return String::new(),
        "image" => "inbox.kind.image",
        "document" => "inbox.kind.document",
        "audio" => "inbox.kind.audio",
        "video" => "inbox.kind.video",
        "sticker" => "inbox.kind.sticker",
        "location" => "inbox.kind.location",
        "reaction" => "inbox.kind.reaction",
        "button_reply" | "list_reply" | "template_button" => "inbox.kind.reply",
        "contacts" => "inbox.kind.contacts",
        "template" => "inbox.kind.template",
        "interactive" | "buttons" | "list" => "inbox.kind.interactive",
        "unsupported" => "inbox.kind.unsupported",
        other => return other.to_owned(),
    };
    page.t(key).to_owned()
}

/// The details of a message's payload worth a line under its text: a file name, a place, a reaction.
fn detail(payload: Option<&str>) -> String {
    let Some(value) = payload.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return String::new();
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    if let Some(place) = value.get("location") {
        let parts: Vec<String> = ["name", "address"].iter().filter_map(|k| place.get(*k).and_then(text)).collect();
        if !parts.is_empty() {
            return parts.join(", ");
        }
        let coordinate = |k: &str| place.get(k).and_then(Value::as_f64).map(|n| n.to_string()).unwrap_or_default();
        return format!("{}, {}", coordinate("latitude"), coordinate("longitude"));
    }
    if let Some(name) = value.get("media").and_then(|m| m.get("filename")).and_then(text) {
        return name;
    }
    // Outbound media keep their file name at the top of the stored payload.
    if let Some(name) = value.get("filename").and_then(text) {
        return name;
    }
    if let Some(emoji) = value.get("reaction").and_then(|r| r.get("emoji")).and_then(text) {
        return emoji;
    }
    value.get("reply").and_then(|r| r.get("title")).and_then(text).unwrap_or_default()
}

/// A message as its bubble shows it.
pub fn bubble(page: &Page, message: &Message, tz: &jiff::tz::TimeZone) -> Bubble {
    let outbound = message.direction == "outbound";
    let (tick, status_label) = if outbound { delivery(page, &message.status) } else { ("", String::new()) };
    let failed = outbound && message.status == "failed";
    // A pending message with an error is waiting for its retry: the reason shows, no button (the job retries).
    let error = if outbound && (failed || message.status == "pending") {
        match (&message.error_message, &message.error_code) {
            (Some(text), _) if !text.is_empty() => text.clone(),
            (_, Some(code)) => code.clone(),
            _ => String::new(),
        }
    } else {
        String::new()
    };
    Bubble {
        id: message.id,
        direction: message.direction.clone(),
        kind_label: kind_label(page, &message.kind),
        text: message.body.clone().unwrap_or_default(),
        detail: detail(message.payload.as_deref()),
        time: local(message.occurred_at, tz, "%H:%M"),
        full_time: local(message.occurred_at, tz, "%Y-%m-%d %H:%M:%S"),
        date: local(message.occurred_at, tz, "%Y-%m-%d"),
        status: message.status.clone(),
        tick,
        status_label,
        error,
        retryable: failed,
        media: Vec::new(),
        author_id: message.sent_by_user_id,
        author: String::new(),
    }
}

/// A page of messages (newest first, as the service gives them) as days, oldest at the top.
pub fn days(page: &Page, messages: &[Message], tz: &jiff::tz::TimeZone, now: i64) -> Vec<Day> {
    let today = local(now, tz, "%Y-%m-%d");
    let yesterday = local(now - 24 * 60 * 60 * 1000, tz, "%Y-%m-%d");
    let mut days: Vec<(String, Day)> = Vec::new();
    for message in messages.iter().rev() {
        let date = local(message.occurred_at, tz, "%Y-%m-%d");
        if days.last().is_none_or(|(d, _)| *d != date) {
            let label = if date == today {
                page.t("inbox.today").to_owned()
            } else if date == yesterday {
                page.t("inbox.yesterday").to_owned()
            } else {
                date.clone()
            };
            days.push((date.clone(), Day { label, date, messages: Vec::new() }));
        }
        if let Some((_, day)) = days.last_mut() {
            day.messages.push(bubble(page, message, tz));
        }
    }
    days.into_iter().map(|(_, day)| day).collect()
}

/// A conversation as its list row shows it: today's activity by its time, older by its date.
pub fn row(
    page: &Page,
    c: &Conversation,
    qs: &str,
    current: Option<i64>,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> ConversationRow {
    let at = c.last_message_at.unwrap_or(c.created_at);
    let same_day = local(at, tz, "%Y-%m-%d") == local(now, tz, "%Y-%m-%d");
    ConversationRow {
        id: c.id,
        href: format!("/inbox/{}{qs}", c.id),
        name: c.contact_name.clone(),
        phone: c.contact_phone.clone().unwrap_or_default(),
        preview: c.last_message_preview.clone().unwrap_or_default(),
        time: local(at, tz, if same_day { "%H:%M" } else { "%Y-%m-%d" }),
        unread: c.unread_count,
        status: c.status.clone(),
        status_label: conversation_status(page, &c.status),
        number: c.account_name.clone(),
        current: current == Some(c.id),
        organize: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::services::site::{Brand, Logo};

    fn page() -> Page {
        let brand = Brand {
            name: "X".into(),
            logo: Logo::Asset("img/logo.svg"),
            primary: "#112233".into(),
            primary_contrast: "#ffffff",
            accent: "#445566".into(),
            show_powered_by: true,
        };
        Page { lang: Lang::En, brand, here: "/inbox".into() }
    }

    fn message(id: i64, direction: &str, status: &str, at: i64) -> Message {
        Message {
            id,
            workspace_id: 1,
            conversation_id: 1,
            account_id: 1,
            direction: direction.into(),
            provider_message_id: None,
            kind: "text".into(),
            body: Some(format!("m{id}")),
            payload: None,
            status: status.into(),
            error_code: None,
            error_message: None,
            sent_by_user_id: None,
            send_attempts: 0,
            occurred_at: at,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            failed_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn threads_read_oldest_first_by_day() {
        let utc = jiff::tz::TimeZone::UTC;
        let now = 1_735_772_400_000; // 2025-01-01 23:00 UTC
        let hour = 60 * 60 * 1000;
        // Newest first, as the service pages them.
        let page_of = [
            message(3, "outbound", "read", now),
            message(2, "inbound", "received", now - 2 * hour),
            message(1, "inbound", "received", now - 48 * hour),
        ];
        let days = days(&page(), &page_of, &utc, now);
        assert_eq!(days.iter().map(|d| d.label.as_str()).collect::<Vec<_>>(), ["2024-12-30", "Today"]);
        assert_eq!(days[1].messages.iter().map(|m| m.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(days[1].messages[1].tick, "✓✓");
        assert_eq!(days[1].messages[0].tick, "", "inbound messages have no tick");
    }

    #[test]
    fn failures_show_their_reason_and_can_be_retried() {
        let mut failed = message(1, "outbound", "failed", 0);
        failed.error_code = Some("190".into());
        failed.error_message = Some("Access token expired (code 190)".into());
        let bubble = bubble(&page(), &failed, &jiff::tz::TimeZone::UTC);
        assert!(bubble.retryable);
        assert_eq!(bubble.tick, "✕");
        assert_eq!(bubble.error, "Access token expired (code 190)");
        let sent = super::bubble(&page(), &message(2, "outbound", "sent", 0), &jiff::tz::TimeZone::UTC);
        assert!(!sent.retryable && sent.error.is_empty());
    }

    #[test]
    fn payload_details() {
        assert_eq!(
            detail(Some(r#"{"location":{"latitude":1.5,"longitude":2,"name":"Depot","address":null}}"#)),
            "Depot"
        );
        assert_eq!(detail(Some(r#"{"media":{"filename":"invoice.pdf"}}"#)), "invoice.pdf");
        assert_eq!(detail(Some(r#"{"reaction":{"emoji":"👍"}}"#)), "👍");
        assert_eq!(detail(Some("not json")), "");
        assert_eq!(detail(None), "");
    }
}
