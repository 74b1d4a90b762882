//! What a typed search becomes in each engine's full-text syntax: word prefixes for SQLite FTS5 and Postgres
//! `tsquery`, and a phone-number prefix as an index range. Nothing typed ever reaches either syntax as operators:
//! only runs of letters and digits survive.

use super::Backend;

/// At most this many of the newest matching rows (messages, contacts) feed a search: what an inbox search is for is
/// the recent, and the bound keeps a very common word as cheap as a rare one.
pub const NEWEST_MATCHES: i64 = 1000;

/// A search split into words (runs of letters and digits, in any script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    words: Vec<String>,
}

impl Terms {
    /// `None` when nothing searchable was typed.
    pub fn parse(input: &str) -> Option<Self> {
        let words: Vec<String> = input
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            // Case is left to the engine, which folds the query's words exactly as it folded the text's
            // (FTS5's unicode61 in every script; Postgres by the database's ctype).
            .map(str::to_owned)
            .collect();
        (!words.is_empty()).then_some(Self { words })
    }

    /// The match expression for `column` of a full-text table whose `workspace_id` column is indexed too:
    /// every word, the last one as a prefix (still being typed), or every word as a prefix (`all_prefixes`, for
    /// names: "ker fis" finds Kerry Fisher).
    pub fn expression(&self, backend: Backend, column: &str, workspace_id: i64, all_prefixes: bool) -> String {
        let last = self.words.len() - 1;
        let prefix = |i: usize| all_prefixes || i == last;
        match backend {
            // Words are letters and digits only, so quoting them is enough to keep FTS5 syntax out.
            Backend::Sqlite => {
                let words: Vec<String> = self
                    .words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| if prefix(i) { format!("\"{w}\"*") } else { format!("\"{w}\"") })
                    .collect();
                format!("workspace_id : \"{workspace_id}\" AND {column} : ({})", words.join(" AND "))
            }
            Backend::Postgres => self
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| if prefix(i) { format!("{w}:*") } else { w.clone() })
                .collect::<Vec<_>>()
                .join(" & "),
        }
    }

    /// The bounds of the E.164 numbers starting with what was typed, when it is a phone number (digits, maybe
    /// with `+`, spaces, dashes or brackets): `[low, high)`, `high` absent when every following number matches.
    /// A range rather than `LIKE`, so both engines use the phone index whatever their collation.
    pub fn phone_range(input: &str) -> Option<(String, Option<String>)> {
        let input = input.trim();
        if input.is_empty() || !input.chars().all(|c| c.is_ascii_digit() || "+ -().".contains(c)) {
            return None;
        }
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        // The smallest string above every number with this prefix: bump the last digit below 9, drop the rest.
        let mut upper: Vec<u8> = digits.clone().into_bytes();
        while let Some(last) = upper.pop() {
            if last < b'9' {
                upper.push(last + 1);
                break;
            }
        }
        let high = (!upper.is_empty()).then(|| format!("+{}", String::from_utf8_lossy(&upper)));
        Some((format!("+{digits}"), high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_syntax_never_reaches_the_engines() {
        let terms = Terms::parse("\"foo* OR (bar) NEAR").unwrap();
        assert_eq!(
            terms.expression(Backend::Sqlite, "body", 7, false),
            "workspace_id : \"7\" AND body : (\"foo\" AND \"OR\" AND \"bar\" AND \"NEAR\"*)"
        );
        assert_eq!(terms.expression(Backend::Postgres, "body", 7, false), "foo & OR & bar & NEAR:*");
        assert_eq!(Terms::parse(" * ( ) \"\" "), None, "nothing searchable");
    }

    #[test]
    fn names_match_every_word_as_a_prefix_in_any_script() {
        let terms = Terms::parse("Ив Fis").unwrap();
        assert_eq!(terms.expression(Backend::Postgres, "name", 1, true), "Ив:* & Fis:*");
        assert_eq!(
            terms.expression(Backend::Sqlite, "name", 1, true),
            "workspace_id : \"1\" AND name : (\"Ив\"* AND \"Fis\"*)"
        );
    }

    #[test]
    fn phone_prefixes_are_index_ranges() {
        assert_eq!(Terms::phone_range("+44 7700"), Some(("+447700".into(), Some("+447701".into()))));
        assert_eq!(Terms::phone_range("4479"), Some(("+4479".into(), Some("+448".into()))));
        assert_eq!(Terms::phone_range("999"), Some(("+999".into(), None)));
        assert_eq!(Terms::phone_range("Kerry"), None);
        assert_eq!(Terms::phone_range("+"), None);
    }
}
