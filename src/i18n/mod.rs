//! The translation catalog: every user-facing string is looked up here by key, in English or Arabic.
//!
//! Catalogs are TOML files compiled into the binary, one folder per language and one file per area
//! (`en/core.toml`, `ar/core.toml`, …); nested tables flatten to dotted keys (`[install] title`
//! becomes `install.title`). Placeholders are written `{name}`. A key missing in a language falls back to English,
//! and a key missing everywhere shows itself, so a gap is visible instead of blank (a unit test keeps both complete).

use std::collections::HashMap;
use std::sync::LazyLock;

/// The languages the interface is translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ar,
}

/// Text direction for `<html dir>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ltr,
    Rtl,
}

impl Direction {
    /// `ltr` or `rtl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ltr => "ltr",
            Self::Rtl => "rtl",
        }
    }
}

impl Lang {
    /// Every supported language, in the order the language switcher lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ar];

    /// The BCP 47 code (`en`, `ar`).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ar => "ar",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Ar => "العربية",
        }
    }

    /// Writing direction.
    pub fn direction(self) -> Direction {
        match self {
            Self::En => Direction::Ltr,
            Self::Ar => Direction::Rtl,
        }
    }

    /// The language for a code such as `ar` or `ar-EG`; `None` when unsupported.
    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|lang| lang.code() == primary)
    }

    /// The best supported language of an `Accept-Language` header, by its quality values.
    pub fn negotiate(accept_language: &str) -> Option<Self> {
        let mut candidates: Vec<(f32, Lang)> = accept_language
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let lang = Self::from_code(pieces.next()?)?;
                let quality =
                    pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                (quality > 0.0).then_some((quality, lang))
            })
            .collect();
        // Stable sort keeps header order among equal qualities.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.first().map(|(_, lang)| *lang)
    }

    /// The translation of `key`.
    pub fn t(self, key: &str) -> &str {
        CATALOG
            .get(&self)
            .and_then(|c| c.get(key))
            .or_else(|| CATALOG.get(&Lang::En).and_then(|c| c.get(key)))
            .map_or(key, String::as_str)
    }

    /// The translation of `key` with `{name}` placeholders filled in. In right-to-left languages each value is
    /// wrapped in Unicode directional isolates, so a path, URL or number inside Arabic text keeps its own order.
    pub fn format(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            let value = match self.direction() {
                Direction::Ltr => (*value).to_owned(),
                Direction::Rtl => format!("\u{2068}{value}\u{2069}"),
            };
            text = text.replace(&format!("{{{name}}}"), &value);
        }
        text
    }
}

type Catalog = HashMap<String, String>;

static CATALOG: LazyLock<HashMap<Lang, Catalog>> = LazyLock::new(|| {
    Lang::ALL
        .into_iter()
        .map(|lang| {
            let catalog = parse_catalog(lang).unwrap_or_else(|e| {
                // Unreachable in a tested build (a unit test parses both); degrade to showing keys rather than dying.
                tracing::error!(lang = lang.code(), error = %e, "translation catalog does not parse");
                Catalog::new()
            });
            (lang, catalog)
        })
        .collect()
});

/// The catalog files, one folder per language (`en/core.toml`, `en/license.toml`, …), compiled in.
#[derive(rust_embed::RustEmbed)]
#[folder = "src/i18n/"]
#[include = "*.toml"]
struct Files;

/// Every catalog file of a language, by file name.
fn sources(lang: Lang) -> Vec<(String, String)> {
    let prefix = format!("{}/", lang.code());
    let mut files: Vec<(String, String)> = Files::iter()
        .filter(|path| path.starts_with(&prefix))
        .filter_map(|path| {
            let text = String::from_utf8_lossy(&Files::get(&path)?.data).into_owned();
            Some((path.into_owned(), text))
        })
        .collect();
    files.sort();
    files
}

/// All files of a language merged into one catalog; a key defined twice is an error.
fn parse_catalog(lang: Lang) -> Result<Catalog, String> {
    let mut out = Catalog::new();
    for (path, text) in sources(lang) {
        let table: toml::Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let mut file = Catalog::new();
        flatten("", &table, &mut file);
        for (key, value) in file {
            if out.insert(key.clone(), value).is_some() {
                return Err(format!("{path}: key {key} is defined twice"));
            }
        }
    }
    Ok(out)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalog) {
    for (key, value) in table {
        let full = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out),
            toml::Value::String(text) => {
                out.insert(full, text.clone());
            }
            // Catalog values are strings; anything else is a mistake the completeness test reports as a missing key.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
