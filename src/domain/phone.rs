//! Phone numbers in their canonical form, `+` and 8–15 digits (E.164), parsed from what people and providers write:
//! `+44 7700 900123`, `447700900123`, `whatsapp:+447700900123`, `447700900123@s.whatsapp.net`.

use std::fmt;

use super::msg::Msg;

/// A phone number in E.164: `+` then 8–15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Parses a number a person typed or a provider sent. Spaces, dots, dashes and brackets are ignored; a
    /// `whatsapp:` prefix and a `@s.whatsapp.net` / `@c.us` suffix are taken off. A leading `00` counts as `+`.
    /// Group and privacy ids (`@g.us`, `@lid`) are not phone numbers.
    pub fn parse(text: &str) -> Result<Self, Msg> {
        let mut value = text.trim();
        value = value.strip_prefix("whatsapp:").unwrap_or(value);
        for suffix in ["@s.whatsapp.net", "@c.us"] {
            value = value.strip_suffix(suffix).unwrap_or(value);
        }
        if value.contains('@') {
            return Err(Msg::new("phone.invalid"));
        }
        let mut digits = String::with_capacity(16);
        for (i, c) in value.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '.' | '-' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(Msg::new("phone.invalid")),
            }
        }
        if let Some(rest) = digits.strip_prefix("00").filter(|_| !value.starts_with('+')) {
            digits = rest.to_owned();
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(Msg::new("phone.invalid"));
        }
        Ok(Self(format!("+{digits}")))
    }

    /// `+447700900123`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `447700900123`: what Meta calls a `wa_id` and Evolution wants as `number`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_and_human_forms_become_one_number() {
        for text in [
            "+44 7700 900123",
            "447700900123",
            "whatsapp:+447700900123",
            "447700900123@s.whatsapp.net",
            "0044 (7700) 900-123",
        ] {
            assert_eq!(Phone::parse(text).unwrap().as_str(), "+447700900123", "{text}");
        }
        assert_eq!(Phone::parse("+16505551234").unwrap().digits(), "16505551234");
    }

    #[test]
    fn non_numbers_are_refused() {
        for text in
            ["", "+", "12345", "+0123456789", "1234567890123456", "abc", "120363@g.us", "1234567890@lid", "+1 650 55x"]
        {
            assert!(Phone::parse(text).is_err(), "{text}");
        }
    }
}
