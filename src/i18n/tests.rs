//! Catalog completeness: both languages have the same keys and placeholders, and every key the code uses exists.

use std::collections::BTreeSet;

use super::*;

fn keys(lang: Lang) -> BTreeSet<String> {
    parse_catalog(lang).unwrap().into_keys().collect()
}

fn placeholders(text: &str) -> BTreeSet<String> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned())).collect()
}

#[test]
fn every_language_has_the_same_files() {
    let names = |lang: Lang| -> Vec<String> {
        sources(lang).into_iter().map(|(path, _)| path.split_once('/').unwrap().1.to_owned()).collect()
    };
    assert_eq!(names(Lang::En), names(Lang::Ar));
}

#[test]
fn catalogs_parse_and_have_the_same_keys() {
    let en = keys(Lang::En);
    assert!(en.len() > 20);
    for lang in Lang::ALL {
        let other = keys(lang);
        let missing: Vec<_> = en.difference(&other).collect();
        let extra: Vec<_> = other.difference(&en).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", lang.code());
    }
}

#[test]
fn translations_keep_the_placeholders() {
    let en = parse_catalog(Lang::En).unwrap();
    let ar = parse_catalog(Lang::Ar).unwrap();
    for (key, text) in &en {
        assert_eq!(placeholders(text), placeholders(&ar[key]), "{key}");
    }
}

/// Every `.t("…")`, `.format("…"` and `Msg::new("…"` / `Msg::with("…"` in templates and code names a catalog key.
#[test]
fn every_key_used_exists() {
    let en = keys(Lang::En);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    for dir in ["templates", "src"] {
        collect_used(&root.join(dir), &mut used);
    }
    assert!(used.len() > 10, "the scan found the keys in use");
    let unknown: Vec<_> = used.difference(&en).collect();
    assert!(unknown.is_empty(), "keys used but not in the catalog: {unknown:?}");
}

fn collect_used(dir: &std::path::Path, used: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_used(&path, used);
            continue;
        }
        if path.ends_with("i18n/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for marker in [".t(\"", ".format(\"", "Msg::new(\"", "Msg::with(\""] {
            for rest in text.split(marker).skip(1) {
                if let Some((key, _)) = rest.split_once('"')
                    && key.contains('.')
                    && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
                {
                    used.insert(key.to_owned());
                }
            }
        }
    }
}

#[test]
fn negotiation_follows_quality() {
    assert_eq!(Lang::negotiate("fr-FR, ar;q=0.8, en;q=0.5"), Some(Lang::Ar));
    assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Some(Lang::En));
    assert_eq!(Lang::negotiate("de, fr"), None);
    assert_eq!(Lang::negotiate("ar;q=0, en"), Some(Lang::En));
}

#[test]
fn lookups_fall_back_and_format() {
    assert_eq!(Lang::Ar.direction().as_str(), "rtl");
    assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
    let text = Lang::En.format("doctor.disk.ok", &[("free", "9 GB"), ("need", "1 GB")]);
    assert!(text.contains("9 GB") && text.contains("1 GB"), "{text}");
    let arabic = Lang::Ar.format("doctor.data_dir.ok", &[("path", "/var/lib/x")]);
    assert!(arabic.contains("\u{2068}/var/lib/x\u{2069}"), "values are isolated in RTL: {arabic:?}");
}
