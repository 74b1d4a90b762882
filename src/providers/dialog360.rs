//! The 360dialog connector (Cloud API hosting, `waba-v2.360dialog.io`): Meta's bodies and webhooks through
//! 360dialog's host with its `D360-API-KEY`, webhooks trusted by the account's shared secret since 360dialog signs
//! none. The wire format lives in `meta_codec`, shared with the Meta connector.

use super::meta_codec::{self, Api};
use super::*;

pub struct Dialog360;

const DEFAULT_BASE_URL: &str = "https://waba-v2.360dialog.io";

/// Where Meta's media download URLs point; 360dialog serves the same paths from its own host.
const META_MEDIA_HOST: &str = "lookaside.fbsbx.com";

const CREDENTIALS: &[CredentialField] = &[CredentialField { name: "api_key", secret: true, required: true }];

fn base(account: &AccountConfig) -> &str {
    let base = account.base_url.trim().trim_end_matches('/');
    if base.is_empty() { DEFAULT_BASE_URL } else { base }
}

fn api<'a>(http: &'a Http, account: &'a AccountConfig) -> Result<Api<'a>, ProviderError> {
    let key = account.credentials.get("api_key")?;
    Api::new(http, "d360-api-key", key, key, "api_key")
}

/// Meta's media URL (`https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…`) moved to the API host
/// (scheme, host and port of `base`), which serves it to the API key: our key means nothing to Meta's CDN.
fn media_download_url(url: &str, base: &str) -> Result<String, ProviderError> {
    let unusable = || ProviderError::new(FailureKind::Permanent, None, "the provider gave an unusable media URL");
    let mut url = url::Url::parse(url).map_err(|_| unusable())?;
    if url.host_str() == Some(META_MEDIA_HOST) {
        let base = url::Url::parse(base)
            .map_err(|_| ProviderError::misconfigured("the provider's API base URL is not a valid URL"))?;
        url.set_scheme(base.scheme()).map_err(|()| unusable())?;
        url.set_host(base.host_str()).map_err(|_| unusable())?;
        url.set_port(base.port()).map_err(|()| unusable())?;
    }
    Ok(url.into())
}

impl Provider for Dialog360 {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Dialog360
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

    /// 360dialog's messaging webhooks carry no signature, so the URL we register carries the account's secret
    /// (`?secret=` or the `X-Conversure-Secret` custom header).
    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        request.check_secret(&account.webhook_secret)
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
            let base = base(account);
            api.send(&format!("{base}/messages"), &format!("{base}/media"), message).await
        })
    }

    fn mark_read<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message_id: &'a str,
        _from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move { api(http, account)?.mark_read(&format!("{}/messages", base(account)), message_id).await })
    }

    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let answer = api(http, account)?.get_json(&format!("{}/v1/configs/webhook", base(account))).await?;
            Ok(match answer.get("url").and_then(|u| u.as_str()).map(str::trim).filter(|u| !u.is_empty()) {
                Some(url) => format!("webhook: {url}"),
                None => "connected".to_owned(),
            })
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
            let base = base(account);
            let (url, mime) = api.media_location(&format!("{base}/{id}")).await?;
            api.download(&media_download_url(&url, base)?, mime.or_else(|| media.mime.clone())).await
        })
    }
}

#[cfg(test)]
mod tests;
