//! What an agent or integrator composes (text, template, media, buttons, list), checked against the number's
//! provider before anything is stored, and the stored form the send job turns into the provider call.

use serde::{Deserialize, Serialize};

use super::WhatsAppError;
use crate::domain::msg::Msg;
use crate::providers::{MediaKind, ProviderKind};

/// Longest text message WhatsApp accepts.
const MAX_TEXT: usize = 4096;

/// What to send, as the API and the composer give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compose {
    Text(String),
    Template {
        name: String,
        language: String,
        variables: Vec<String>,
    },
    /// `url` or an uploaded file's `media_id`.
    Media {
        kind: String,
        url: Option<String>,
        media_id: Option<i64>,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// Up to three reply buttons under a text.
    Buttons {
        body: String,
        buttons: Vec<Choice>,
    },
    /// A list of options behind a button.
    List {
        body: String,
        button: String,
        sections: Vec<Section>,
    },
}

/// An option of a buttons or list message: the id comes back in the customer's reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A titled group of list options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Choice>,
}

/// The stored form of what was composed (the message's `payload`), from which the job builds the provider call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Stored {
    Text {
        body: String,
    },
    Template {
        name: String,
        language: String,
        variables: Vec<String>,
    },
    Media {
        kind: String,
        url: Option<String>,
        media_id: Option<i64>,
        caption: Option<String>,
        filename: Option<String>,
    },
    Buttons {
        body: String,
        buttons: Vec<Choice>,
    },
    List {
        body: String,
        button: String,
        sections: Vec<Section>,
    },
}

pub(super) fn field(name: &'static str, key: &'static str) -> WhatsAppError {
    WhatsAppError::Fields(vec![(name, Msg::new(key))])
}

/// Checks a composed message against the provider's capabilities; returns it stored, its kind and its text.
pub(super) fn validate(
    compose: &Compose,
    kind: ProviderKind,
) -> Result<(Stored, &'static str, Option<String>), WhatsAppError> {
    let caps = kind.connector().capabilities();
    match compose {
        Compose::Text(body) => {
            let body = body.trim();
            if body.is_empty() || body.chars().count() > MAX_TEXT {
                return Err(field("text", "whatsapp.text_invalid"));
            }
            Ok((Stored::Text { body: body.to_owned() }, "text", Some(body.to_owned())))
        }
        Compose::Template { name, language, variables } => {
            if !caps.templates {
                return Err(WhatsAppError::refused("unsupported", "whatsapp.templates_unsupported"));
            }
            let (name, language) = (name.trim(), language.trim());
            if name.is_empty() || name.len() > 512 || language.is_empty() || language.len() > 15 {
                return Err(field("template", "whatsapp.template_invalid"));
            }
            let text = format!("[template {name}] {}", variables.join(" | "));
            Ok((
                Stored::Template { name: name.into(), language: language.into(), variables: variables.clone() },
                "template",
                Some(text.trim_end().to_owned()),
            ))
        }
        Compose::Media { kind: media_kind, url, media_id, caption, filename } => {
            let Some(parsed) = MediaKind::parse(media_kind) else {
                return Err(field("media", "whatsapp.media_kind_invalid"));
            };
            match (url, media_id) {
                (Some(url), None) => {
                    if !caps.media {
                        return Err(WhatsAppError::refused("unsupported", "whatsapp.media_url_unsupported"));
                    }
                    if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                        return Err(field("media", "whatsapp.media_url_invalid"));
                    }
                }
                (None, Some(_)) if !caps.media_upload => {
                    return Err(WhatsAppError::refused("unsupported", "whatsapp.media_upload_unsupported"));
                }
                (None, Some(_)) => {}
                _ => return Err(field("media", "whatsapp.media_source_invalid")),
            }
            Ok((
                Stored::Media {
                    kind: parsed.as_str().into(),
                    url: url.clone(),
                    media_id: *media_id,
                    caption: caption.clone().filter(|c| !c.trim().is_empty()),
                    filename: filename.clone().filter(|f| !f.trim().is_empty()),
                },
                parsed.as_str(),
                caption.clone(),
            ))
        }
        Compose::Buttons { body, buttons } => {
            if !caps.interactive {
                return Err(WhatsAppError::refused("unsupported", "whatsapp.interactive_unsupported"));
            }
            let body = body.trim();
            // WhatsApp's limits: 1–3 buttons, titles of at most 20 characters, unique ids.
            let valid = !body.is_empty()
                && body.chars().count() <= 1024
                && (1..=3).contains(&buttons.len())
                && buttons.iter().all(|b| choice_ok(b, 20))
                && unique_ids(buttons.iter());
            if !valid {
                return Err(field("interactive", "whatsapp.buttons_invalid"));
            }
            Ok((Stored::Buttons { body: body.into(), buttons: buttons.clone() }, "interactive", Some(body.into())))
        }
        Compose::List { body, button, sections } => {
            if !caps.interactive {
                return Err(WhatsAppError::refused("unsupported", "whatsapp.interactive_unsupported"));
            }
            let body = body.trim();
            let rows = sections.iter().map(|s| s.rows.len()).sum::<usize>();
            // WhatsApp's limits: at most 10 rows in all, titles of 24 characters, a button label of 20.
            let valid = !body.is_empty()
                && body.chars().count() <= 1024
                && !button.trim().is_empty()
                && button.chars().count() <= 20
                && (1..=10).contains(&rows)
                && sections.iter().all(|s| s.title.chars().count() <= 24 && !s.rows.is_empty())
                && sections.iter().flat_map(|s| &s.rows).all(|r| choice_ok(r, 24))
                && unique_ids(sections.iter().flat_map(|s| &s.rows));
            if !valid {
                return Err(field("interactive", "whatsapp.list_invalid"));
            }
            let stored = Stored::List { body: body.into(), button: button.trim().into(), sections: sections.clone() };
            Ok((stored, "interactive", Some(body.into())))
        }
    }
}

fn choice_ok(choice: &Choice, max_title: usize) -> bool {
    let title = choice.title.trim();
    !title.is_empty()
        && title.chars().count() <= max_title
        && !choice.id.trim().is_empty()
        && choice.id.len() <= 200
        && choice.description.as_ref().is_none_or(|d| d.chars().count() <= 72)
}

fn unique_ids<'a>(choices: impl Iterator<Item = &'a Choice>) -> bool {
    let mut seen = std::collections::HashSet::new();
    choices.into_iter().all(|c| seen.insert(c.id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositions_are_checked_against_the_provider() {
        assert!(validate(&Compose::Text("  ".into()), ProviderKind::Meta).is_err());
        assert!(validate(&Compose::Text("x".repeat(MAX_TEXT + 1)), ProviderKind::Meta).is_err());
        let template = Compose::Template { name: "hello".into(), language: "en_US".into(), variables: vec![] };
        assert!(validate(&template, ProviderKind::Meta).is_ok());
        assert!(matches!(
            validate(&template, ProviderKind::Evolution),
            Err(WhatsAppError::Refused { code: "unsupported", .. })
        ));
        let by_url = |url: &str| Compose::Media {
            kind: "image".into(),
            url: Some(url.into()),
            media_id: None,
            caption: None,
            filename: None,
        };
        assert!(validate(&by_url("https://example.com/a.jpg"), ProviderKind::Meta).is_ok());
        assert!(validate(&by_url("ftp://example.com/a.jpg"), ProviderKind::Meta).is_err());
    }
}
