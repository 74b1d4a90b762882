//! A user-facing message as a catalog key plus arguments, translated only when shown.

use crate::i18n::Lang;

/// A translatable message: which catalog entry, and the values for its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    /// A message without placeholders.
    pub fn new(key: &'static str) -> Self {
        Self { key, args: Vec::new() }
    }

    /// A message with placeholder values.
    pub fn with(key: &'static str, args: &[(&'static str, String)]) -> Self {
        Self { key, args: args.to_vec() }
    }

    /// The message in a language.
    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lang.format(self.key, &args)
    }
}
