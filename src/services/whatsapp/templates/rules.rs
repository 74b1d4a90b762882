//! The rules of a message template, without a database: its `{{1}}…{{n}}` placeholders, what a person may type
//! into the fields, filling the placeholders for a preview, and reading the provider's components (header,
//! footer, buttons) and whether the composer can send them with body variables alone.

use serde_json::Value;

use crate::domain::msg::Msg;

/// Most body variables a template may have: one form field each, named by [`VARIABLE_FIELDS`].
pub const MAX_VARIABLES: usize = 30;

/// The form field of each body variable, `var_1` for `{{1}}`: field errors name them.
pub const VARIABLE_FIELDS: [&str; MAX_VARIABLES] = [
    "var_1", "var_2", "var_3", "var_4", "var_5", "var_6", "var_7", "var_8", "var_9", "var_10", "var_11", "var_12",
    "var_13", "var_14", "var_15", "var_16", "var_17", "var_18", "var_19", "var_20", "var_21", "var_22", "var_23",
    "var_24", "var_25", "var_26", "var_27", "var_28", "var_29", "var_30",
];

/// Longest body WhatsApp accepts for a template.
pub const MAX_BODY: usize = 1024;

/// The states a template can be in (Meta's, in lower case).
pub const STATUSES: [&str; 5] = ["approved", "pending", "rejected", "paused", "disabled"];

/// Meta's template categories; empty when unknown.
pub const CATEGORIES: [&str; 3] = ["marketing", "utility", "authentication"];

/// Why a text's placeholders are not `{{1}}`…`{{n}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceholderError {
    /// `{{name}}`, `{{0}}` or an unclosed `{{`.
    NotANumber,
    /// `{{1}}` and `{{3}}` without `{{2}}`, or not starting at 1.
    Gap,
    /// More than [`MAX_VARIABLES`].
    TooMany,
}

/// How many variables a text has: its placeholders must be `{{1}}` to `{{n}}`, each at least once, in any order.
pub fn placeholders(text: &str) -> Result<usize, PlaceholderError> {
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(PlaceholderError::NotANumber)?;
        let inside = after[..end].trim();
        let number: usize = match inside.parse() {
            Ok(n) if n >= 1 && inside.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(PlaceholderError::NotANumber),
        };
        if number > MAX_VARIABLES {
            return Err(PlaceholderError::TooMany);
        }
        if !seen.contains(&number) {
            seen.push(number);
        }
        rest = &after[end + 2..];
    }
    seen.sort_unstable();
    if seen.iter().enumerate().any(|(i, n)| *n != i + 1) {
        return Err(PlaceholderError::Gap);
    }
    Ok(seen.len())
}

/// The text with `{{k}}` replaced by the k-th value; a placeholder without a value stays as it is, so a preview
/// shows what is still missing.
pub fn fill(text: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let value =
            after[..end].trim().parse::<usize>().ok().and_then(|k| k.checked_sub(1)).and_then(|i| values.get(i));
        match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `^[a-z0-9_]{1,512}$`: WhatsApp's template names.
pub fn name_ok(name: &str) -> bool {
    (1..=512).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A WhatsApp language code: `en`, `fil`, `en_US`, `pt_BR`.
pub fn language_ok(code: &str) -> bool {
    let (lang, region) = code.split_once('_').unwrap_or((code, ""));
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (code.len() == lang.len() || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase())))
}

/// A body's field errors: empty, too long, or placeholders that are not `{{1}}`…`{{n}}`.
pub fn body_error(body: &str) -> Option<Msg> {
    if body.trim().is_empty() {
        return Some(Msg::new("templates.body_empty"));
    }
    if body.chars().count() > MAX_BODY {
        return Some(Msg::new("templates.body_too_long"));
    }
    match placeholders(body) {
        Ok(_) => None,
        Err(PlaceholderError::Gap) => Some(Msg::new("templates.placeholders_gap")),
        Err(PlaceholderError::NotANumber) => Some(Msg::new("templates.placeholder_invalid")),
        Err(PlaceholderError::TooMany) => Some(Msg::new("templates.placeholders_too_many")),
    }
}

/// What Meta refuses in a body parameter (error 132018): line breaks, tabs, more than four spaces in a row.
pub fn variable_ok(value: &str) -> bool {
    !value.contains(['\n', '\r', '\t']) && !value.contains("     ") && value.chars().count() <= MAX_BODY
}

/// The parts of the provider's components a preview shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// A text header.
    pub header: Option<String>,
    pub footer: Option<String>,
    /// The buttons' labels.
    pub buttons: Vec<String>,
    /// Why the composer cannot send it with body variables alone (a catalog key).
    pub unsupported: Option<&'static str>,
}

fn kind(component: &Value) -> String {
    component.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase()
}

fn text(component: &Value, key: &str) -> Option<String> {
    component.get(key).and_then(Value::as_str).map(str::to_owned).filter(|t| !t.is_empty())
}

/// Reads Meta-shaped components (`HEADER`, `BODY`, `FOOTER`, `BUTTONS`). A header with media or variables, or a
/// button with a variable (a URL suffix, a one-time code), needs parameters the composer does not collect.
pub fn parts(components: &Value, body: &str) -> Parts {
    let mut parts = Parts::default();
    for component in components.as_array().into_iter().flatten() {
        match kind(component).as_str() {
            "HEADER" => {
                let format = component.get("format").and_then(Value::as_str).unwrap_or("TEXT").to_ascii_uppercase();
                if format != "TEXT" {
                    parts.unsupported = Some("templates.unsupported_media_header");
                }
                parts.header = text(component, "text");
                if parts.header.as_deref().is_some_and(|h| h.contains("{{")) {
                    parts.unsupported = Some("templates.unsupported_header_variables");
                }
            }
            "FOOTER" => parts.footer = text(component, "text"),
            "BUTTONS" => {
                for button in component.get("buttons").and_then(Value::as_array).into_iter().flatten() {
                    let dynamic = match kind(button).as_str() {
                        "URL" => button.get("url").and_then(Value::as_str).is_some_and(|u| u.contains("{{")),
                        "COPY_CODE" | "OTP" | "FLOW" | "CATALOG" | "MPM" => true,
                        _ => false,
                    };
                    if dynamic {
                        parts.unsupported = Some("templates.unsupported_button_variables");
                    }
                    parts.buttons.extend(text(button, "text"));
                }
            }
            _ => {}
        }
    }
    if parts.unsupported.is_none() && placeholders(body).is_err() {
        parts.unsupported = Some("templates.unsupported_named");
    }
    parts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_are_numbered_from_one_without_gaps() {
        assert_eq!(placeholders("Hello"), Ok(0));
        assert_eq!(placeholders("Hi {{1}}, code {{2}}; again {{1}}"), Ok(2));
        assert_eq!(placeholders("{{2}} then {{1}}"), Ok(2), "any order");
        assert_eq!(placeholders("{{ 1 }}"), Ok(1));
        assert_eq!(placeholders("{{1}} {{3}}"), Err(PlaceholderError::Gap));
        assert_eq!(placeholders("{{2}}"), Err(PlaceholderError::Gap));
        assert_eq!(placeholders("{{name}}"), Err(PlaceholderError::NotANumber));
        assert_eq!(placeholders("{{0}}"), Err(PlaceholderError::NotANumber));
        assert_eq!(placeholders("{{+1}}"), Err(PlaceholderError::NotANumber));
        assert_eq!(placeholders("open {{1"), Err(PlaceholderError::NotANumber));
        assert_eq!(placeholders("{{31}}"), Err(PlaceholderError::TooMany));
    }

    #[test]
    fn filling_keeps_what_is_missing() {
        let values = vec!["Ada".to_owned(), "  ".to_owned()];
        assert_eq!(fill("Hi {{1}}, code {{2}}, {{1}}!", &values), "Hi Ada, code {{2}}, Ada!");
        assert_eq!(fill("broken {{1", &values), "broken {{1");
        assert_eq!(fill("{{x}} {{3}}", &values), "{{x}} {{3}}");
    }

    #[test]
    fn names_languages_bodies_and_values() {
        assert!(name_ok("order_update_2"));
        assert!(!name_ok("Order-Update") && !name_ok("") && !name_ok(&"a".repeat(513)));
        for good in ["en", "en_US", "pt_BR", "fil"] {
            assert!(language_ok(good), "{good}");
        }
        for bad in ["EN", "en-US", "en_us", "e", "english", "en_", "en_USA"] {
            assert!(!language_ok(bad), "{bad}");
        }
        assert_eq!(body_error("Hi {{1}}"), None);
        assert_eq!(body_error("  ").map(|m| m.key), Some("templates.body_empty"));
        assert_eq!(body_error("{{1}} {{3}}").map(|m| m.key), Some("templates.placeholders_gap"));
        assert_eq!(body_error("{{first}}").map(|m| m.key), Some("templates.placeholder_invalid"));
        assert!(variable_ok("Ada Lovelace") && !variable_ok("two\nlines") && !variable_ok("a     b"));
    }

    #[test]
    fn the_fixture_components_read_as_a_preview() {
        let listing: Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/providers/meta-cloud-api/templates_list_response.json"
        ))
        .unwrap();
        let promo = &listing["data"][1];
        let body = promo["components"][1]["text"].as_str().unwrap();
        let read = parts(&promo["components"], body);
        assert_eq!(read.header.as_deref(), Some("Fall Sale"));
        assert_eq!(read.footer.as_deref(), Some("Not interested in any of our sales? Tap Stop Promotions"));
        assert_eq!(read.buttons, ["Stop promotions"]);
        assert_eq!(read.unsupported, None, "a quick reply needs no parameter");

        let image = json!([{ "type": "HEADER", "format": "IMAGE" }]);
        assert_eq!(parts_of(&image), Some("templates.unsupported_media_header"));
        let header = json!([{ "type": "HEADER", "format": "TEXT", "text": "Order {{1}}" }]);
        assert_eq!(parts_of(&header), Some("templates.unsupported_header_variables"));
        let url = json!([{ "type": "BUTTONS", "buttons": [{ "type": "URL", "text": "Track", "url": "https://x.example/{{1}}" }] }]);
        assert_eq!(parts_of(&url), Some("templates.unsupported_button_variables"));
        assert_eq!(parts(&json!([]), "Hi {{name}}").unsupported, Some("templates.unsupported_named"));
    }

    fn parts_of(components: &Value) -> Option<&'static str> {
        parts(components, "Hi").unsupported
    }
}
