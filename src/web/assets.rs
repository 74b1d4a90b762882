//! Embedded static files under `/assets/`, with content-hash URLs so browsers may cache them for a year.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Short content hashes of every embedded file, computed once on first use.
static HASHES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Assets::iter()
        .filter_map(|path| {
            let file = Assets::get(&path)?;
            Some((path.into_owned(), hex::encode(&Sha256::digest(&file.data)[..6])))
        })
        .collect()
});

/// The URL of an embedded asset with its cache-busting version, for templates.
pub fn url(path: &str) -> String {
    match HASHES.get(path) {
        Some(hash) => format!("/assets/{path}?v={hash}"),
        None => {
            tracing::warn!(path, "template refers to an asset that is not embedded");
            format!("/assets/{path}")
        }
    }
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// Serves one embedded file; immutable caching only when the URL carries the current version.
pub async fn serve(Path(path): Path<String>, Query(version): Query<Version>) -> Response {
    let Some(file) = Assets::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let current = HASHES.get(&path).is_some_and(|hash| version.v.as_deref() == Some(hash.as_str()));
    let cache = if current { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mime = file.metadata.mimetype();
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..8]));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""))),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_carry_a_content_hash() {
        let css = super::url("css/app.css");
        assert!(css.starts_with("/assets/css/app.css?v="), "{css}");
        assert_eq!(css.len(), "/assets/css/app.css?v=".len() + 12);
    }
}
