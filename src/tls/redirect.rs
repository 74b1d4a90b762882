//! The plain-HTTP side when TLS is on: answers HTTP-01 challenges and permanently redirects everything else to HTTPS.
//! `/.well-known/acme-challenge/` is never redirected, so renewals keep working (nginx-proxy-manager#4661).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::store::CertStore;

#[derive(Clone)]
struct RedirectState {
    store: Arc<CertStore>,
    https_port: u16,
}

/// The router served on `http_listen`.
pub fn router(store: Arc<CertStore>, https_port: u16) -> Router {
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(answer_challenge))
        .fallback(redirect)
        .with_state(RedirectState { store, https_port })
}

async fn answer_challenge(State(state): State<RedirectState>, Path(token): Path<String>) -> Response {
    match state.store.http_challenge(&token) {
        Some(key_authorization) => ([(header::CONTENT_TYPE, "text/plain")], key_authorization).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn redirect(State(state): State<RedirectState>, headers: HeaderMap, uri: Uri) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<axum::http::uri::Authority>().ok())
        .map(|authority| authority.host().to_owned());
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "a Host header is required").into_response();
    };
    let port = if state.https_port == 443 { String::new() } else { format!(":{}", state.https_port) };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = format!("https://{host}{port}{path}");
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(router: Router, path: &str) -> Response {
        let request = Request::get(path).header(header::HOST, "crm.example.com:80").body(Body::empty()).unwrap();
        router.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn redirects_to_the_default_port_without_naming_it() {
        let response = get(router(Arc::default(), 443), "/inbox?x=1").await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "https://crm.example.com/inbox?x=1");
        let other_port = get(router(Arc::default(), 8443), "/").await;
        assert_eq!(other_port.headers()[header::LOCATION], "https://crm.example.com:8443/");
    }

    #[tokio::test]
    async fn answers_known_challenges_and_never_redirects_them() {
        let store = Arc::new(CertStore::default());
        store.set_http_challenge("tok", "tok.thumbprint".to_owned());
        let known = get(router(store.clone(), 443), "/.well-known/acme-challenge/tok").await;
        assert_eq!(known.status(), StatusCode::OK);
        let body = axum::body::to_bytes(known.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"tok.thumbprint");
        let unknown = get(router(store, 443), "/.well-known/acme-challenge/other").await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    }
}
