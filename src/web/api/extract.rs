//! Extractors of the JSON API: the Bearer key as a workspace [`Actor`] or as the instance [`Owner`], and JSON
//! bodies, query strings and ids whose rejections are rendered as the API's JSON errors.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::keys;
use crate::domain::msg::Msg;
use crate::services::access::Actor;
use crate::services::api_keys::KeyCaller;
use crate::services::workspaces::Owner;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The caller of a workspace endpoint, authenticated by `Authorization: Bearer <key>`. No key, an unknown or a
/// revoked key: 401 with `WWW-Authenticate: Bearer`; a suspended workspace: 403; a read-only key on anything but
/// GET: 403.
pub struct ApiActor(pub Actor);

/// The instance owner, through an admin-scope key the owner created. Every other key gets 404, so the owner
/// endpoints are invisible to tenants.
pub struct ApiOwner(pub Owner);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts, state).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD)
            && let Err(e) = caller.actor.require_write()
        {
            return Err(AppError::Forbidden(e.msg()).into_response());
        }
        Ok(Self(caller.actor))
    }
}

impl FromRequestParts<AppState> for ApiOwner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match caller(parts, state).await?.owner {
            Some(owner) => Ok(Self(owner)),
            None => Err(AppError::NotFound.into_response()),
        }
    }
}

/// The key in an `Authorization: Bearer …` header value.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()).filter(|k| !k.is_empty())
}

/// Authenticates once per request (the result is kept in the request's extensions).
async fn caller(parts: &mut Parts, state: &AppState) -> Result<KeyCaller, Response> {
    if let Some(caller) = parts.extensions.get::<KeyCaller>() {
        return Ok(caller.clone());
    }
    let presented = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
    let Some(presented) = presented else {
        return Err(challenge(AppError::Unauthorized(Msg::new("api.unauthorized")).into_response()));
    };
    let services = state.services();
    match services.api_keys.authenticate(presented, parts.method.as_str(), parts.uri.path()).await {
        Ok(caller) => {
            parts.extensions.insert(caller.clone());
            Ok(caller)
        }
        Err(e) => Err(challenge(keys(e).into_response())),
    }
}

/// Adds the `WWW-Authenticate` challenge to a 401.
fn challenge(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A JSON body; a malformed one is a 400 JSON error that says what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                Err(AppError::BadRequest(Msg::with("api.body_invalid", &[("detail", rejection.body_text())])))
            }
        }
    }
}

/// A query string; a malformed one is a 400 JSON error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                Err(AppError::BadRequest(Msg::with("api.query_invalid", &[("detail", rejection.body_text())])))
            }
        }
    }
}

/// The `{id}` of a path; anything but a number names nothing, so it is a 404.
pub struct ApiId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ApiId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Self(id)),
            Err(_) => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer cvk_a_b"), Some("cvk_a_b"));
        assert_eq!(bearer("bearer  cvk_a_b "), Some("cvk_a_b"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("cvk_a_b"), None);
    }
}
