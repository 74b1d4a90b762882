//! Evolution connector (being written).

use super::*;

pub struct Evolution;

impl Provider for Evolution {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Evolution
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        &[]
    }
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }
    fn verify(&self, _a: &AccountConfig, _r: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        Err(VerifyError::Missing)
    }
    fn parse(&self, _a: &AccountConfig, _r: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError> {
        Err(ParseError("unfinished".into()))
    }
    fn send<'a>(&'a self, _h: &'a Http, _a: &'a AccountConfig, _m: &'a Outgoing) -> BoxFuture<'a, Result<Sent, ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("unfinished")) })
    }
    fn mark_read<'a>(&'a self, _h: &'a Http, _a: &'a AccountConfig, _m: &'a str, _f: &'a Recipient) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("unfinished")) })
    }
    fn test_connection<'a>(&'a self, _h: &'a Http, _a: &'a AccountConfig) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("unfinished")) })
    }
    fn fetch_media<'a>(&'a self, _h: &'a Http, _a: &'a AccountConfig, _m: &'a MediaRef) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("unfinished")) })
    }
}
