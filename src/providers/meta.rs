//! The Meta WhatsApp Cloud API connector: Graph API calls with the system-user token, the GET verify-token handshake
//! and `X-Hub-Signature-256` webhook signatures. The wire format itself lives in `meta_codec`, shared with 360dialog.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::meta_codec::{self, Api};
use super::*;

pub struct Meta;

const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v23.0";

const CREDENTIALS: &[CredentialField] = &[
    CredentialField { name: "access_token", secret: true, required: true },
    CredentialField { name: "phone_number_id", secret: false, required: true },
    // Signs the webhooks; without it no webhook can be trusted.
    CredentialField { name: "app_secret", secret: true, required: true },
    CredentialField { name: "waba_id", secret: false, required: false },
];

/// The account's API base, or Meta's when it has none.
fn base(account: &AccountConfig) -> &str {
    let base = account.base_url.trim().trim_end_matches('/');
    if base.is_empty() { DEFAULT_BASE_URL } else { base }
}

fn api<'a>(http: &'a Http, account: &'a AccountConfig) -> Result<Api<'a>, ProviderError> {
    let token = account.credentials.get("access_token")?;
    Api::new(http, "authorization", &format!("Bearer {token}"), token, "access_token")
}

/// `{base}/{phone_number_id}`: everything a number does hangs off it.
fn number_url(account: &AccountConfig) -> Result<String, ProviderError> {
    let id = account.credentials.get("phone_number_id")?;
    if !meta_codec::is_plain_id(id) {
        return Err(ProviderError::misconfigured("credential `phone_number_id` must be the number's id from Meta"));
    }
    Ok(format!("{}/{id}", base(account)))
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared in constant time.
fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(expected) = header.trim().strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

impl Provider for Meta {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Meta
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            templates: true,
            media: true,
            media_upload: true,
            interactive: true,
            mark_read: true,
            customer_window: true,
        }
    }

    fn credential_fields(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some(DEFAULT_BASE_URL)
    }

    /// `?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…` (`webhook_verify_get_request.txt`): the challenge is
    /// echoed when the token is the account's webhook secret.
    fn handshake(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Option<Result<String, VerifyError>> {
        let Some(token) = request.query_param("hub.verify_token") else {
            return Some(Err(VerifyError::Missing));
        };
        let subscribing = request.query_param("hub.mode").as_deref() == Some("subscribe");
        let matches =
            !account.webhook_secret.is_empty() && crate::crypto::constant_time_eq(&token, &account.webhook_secret);
        if !(subscribing && matches) {
            return Some(Err(VerifyError::Mismatch));
        }
        Some(Ok(request.query_param("hub.challenge").unwrap_or_default()))
    }

    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let header = request.header("x-hub-signature-256").ok_or(VerifyError::Missing)?;
        // A signed webhook for an account that cannot check signatures is not trusted.
        let secret = account.credentials.optional("app_secret").ok_or(VerifyError::Mismatch)?;
        if signature_matches(secret.as_bytes(), request.body, header) { Ok(()) } else { Err(VerifyError::Mismatch) }
    }

    fn parse(&self, _account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError> {
        meta_codec::parse_webhook(request.body)
    }

    fn send<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Sent, ProviderError>> {
        Box::pin(async move {
            let api = api(http, account)?;
            let number = number_url(account)?;
            api.send(&format!("{number}/messages"), &format!("{number}/media"), message).await
        })
    }

    fn mark_read<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message_id: &'a str,
        _from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let api = api(http, account)?;
            api.mark_read(&format!("{}/messages", number_url(account)?), message_id).await
        })
    }

    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let api = api(http, account)?;
            let url = format!("{}?fields=display_phone_number,verified_name", number_url(account)?);
            let answer = api.get_json(&url).await?;
            let field = |name: &str| answer.get(name).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
            Ok(match (field("verified_name"), field("display_phone_number")) {
                (Some(name), Some(number)) => format!("{name} ({number})"),
                (Some(only), None) | (None, Some(only)) => only.to_owned(),
                (None, None) => "connected".to_owned(),
            })
        })
    }

    fn lists_templates(&self) -> bool {
        true
    }

    /// `GET /{waba_id}/message_templates`, page after page: templates belong to the business account, not the number.
    fn list_templates<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<Vec<ListedTemplate>, ProviderError>> {
        Box::pin(async move {
            let waba = account.credentials.optional("waba_id").ok_or_else(|| {
                ProviderError::misconfigured(
                    "set the number's `waba_id` (WhatsApp Business Account id) to sync templates",
                )
            })?;
            if !meta_codec::is_plain_id(waba) {
                return Err(ProviderError::misconfigured("credential `waba_id` must be the business account's id"));
            }
            api(http, account)?.list_templates(&format!("{}/{waba}/message_templates", base(account))).await
        })
    }

    fn fetch_media<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>> {
        Box::pin(async move {
            let api = api(http, account)?;
            let id = meta_codec::media_id(media)?;
            let (url, mime) = api.media_location(&format!("{}/{id}", base(account))).await?;
            // The URL Graph hands out (lookaside.fbsbx.com) is not public: it wants the same bearer token, and
            // expires after five minutes, which is why it is resolved afresh for each download.
            api.download(&url, mime.or_else(|| media.mime.clone())).await
        })
    }
}

#[cfg(test)]
mod tests;
