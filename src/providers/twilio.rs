//! Twilio's WhatsApp connector: sending through the Messages API (form-encoded, HTTP Basic auth), the
//! `X-Twilio-Signature` check, and reading inbound-message and status-callback webhooks (form-encoded too).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::http::{MAX_MEDIA_BYTES, classify_status, read_limited, transport_error};
use super::wire::{self, Answer};
use super::*;

mod webhook;
use webhook::{Form, inbound, status_event};

pub struct Twilio;

const FIELDS: &[CredentialField] = &[
    CredentialField { name: "account_sid", secret: false, required: true },
    CredentialField { name: "auth_token", secret: true, required: true },
    CredentialField { name: "from", secret: false, required: true },
];

/// What Twilio expects back from a webhook: an empty TwiML document (no automatic reply).
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

impl Provider for Twilio {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Twilio
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            templates: true,
            media: true,
            media_upload: false,
            interactive: false,
            mark_read: false,
            customer_window: true,
        }
    }

    fn credential_fields(&self) -> &'static [CredentialField] {
        FIELDS
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.twilio.com")
    }

    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let presented = request.header("x-twilio-signature").map(str::trim).filter(|s| !s.is_empty());
        let Some(presented) = presented else {
            return Err(VerifyError::Missing);
        };
        // Without the auth token nothing can be verified, and an unverifiable request must not be trusted.
        let Some(token) = account.credentials.optional("auth_token") else {
            return Err(VerifyError::Mismatch);
        };
        // JSON-bodied webhooks sign the URL only (it carries `bodySHA256`), and the body is checked against that hash;
        // form-bodied ones (all messaging webhooks) sign the URL plus every form parameter.
        let body_hash = url::Url::parse(request.url)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned()));
        let params: Vec<(String, String)> = match &body_hash {
            Some(hash) => {
                let actual = hex::encode(Sha256::digest(request.body));
                if !crate::crypto::constant_time_eq(&actual, &hash.to_ascii_lowercase()) {
                    return Err(VerifyError::Mismatch);
                }
                Vec::new()
            }
            None => url::form_urlencoded::parse(request.body).into_owned().collect(),
        };
        let matches = url_variants(request.url)
            .iter()
            .any(|url| crate::crypto::constant_time_eq(&signature(token, url, &params), presented));
        if matches { Ok(()) } else { Err(VerifyError::Mismatch) }
    }

    fn parse(&self, _account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError> {
        let body = std::str::from_utf8(request.body).map_err(|_| ParseError("the form body is not UTF-8".into()))?;
        let form = Form(url::form_urlencoded::parse(body.as_bytes()).into_owned().collect());
        let Some(id) = form.get("MessageSid").or_else(|| form.get("SmsSid")).or_else(|| form.get("SmsMessageSid"))
        else {
            return Err(ParseError("no MessageSid: not a Twilio messaging webhook".into()));
        };
        // Twilio puts no time in its messaging webhooks: the time they arrive is the best there is.
        let now = wire::now_ms();
        let event = match form.get("MessageStatus") {
            // Inbound messages may carry `received`/`receiving`; every other value is a status callback for one of ours.
            Some(status) if !matches!(status, "received" | "receiving") => status_event(&form, id, status, now),
            _ => Event::Message(inbound(&form, id, now)),
        };
        Ok(vec![event])
    }

    fn acknowledgement(&self) -> (&'static str, &'static str) {
        ("text/xml", EMPTY_TWIML)
    }

    fn send<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Sent, ProviderError>> {
        Box::pin(async move {
            let auth = Auth::of(account)?;
            let body = message_form(account, message)?;
            let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", account.base_url, wire::segment(auth.sid));
            let request = http
                .client()
                .post(url)
                .basic_auth(auth.sid, Some(auth.token))
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body);
            let answer = wire::call(request).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let sid = wire::text_at(&answer.json, "/sid").ok_or_else(|| {
                ProviderError::new(FailureKind::Permanent, None, "Twilio accepted the message but returned no sid")
            })?;
            Ok(Sent { provider_message_id: sid, wa_id: None, thread: None })
        })
    }

    fn mark_read<'a>(
        &'a self,
        _http: &'a Http,
        _account: &'a AccountConfig,
        _message_id: &'a str,
        _from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("read receipts are not supported by Twilio for WhatsApp")) })
    }

    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let auth = Auth::of(account)?;
            let url = format!("{}/2010-04-01/Accounts/{}.json", account.base_url, wire::segment(auth.sid));
            let request = http
                .client()
                .get(url)
                .basic_auth(auth.sid, Some(auth.token))
                .header(reqwest::header::ACCEPT, "application/json");
            let answer = wire::call(request).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let name = wire::text_at(&answer.json, "/friendly_name").unwrap_or_else(|| auth.sid.to_owned());
            let status = wire::text_at(&answer.json, "/status").unwrap_or_else(|| "unknown".to_owned());
            Ok(format!("{name} ({status})"))
        })
    }

    fn fetch_media<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>> {
        Box::pin(async move {
            let auth = Auth::of(account)?;
            let url = media.url.as_deref().ok_or_else(|| ProviderError::misconfigured("the media has no URL"))?;
            // The URL comes from a webhook; the account's credentials only go to Twilio (or the account's own API
            // base, which tests and regional edges use).
            let trusted = wire::origin(url).is_some_and(|(scheme, host, _)| {
                (scheme == "https" && (host == "twilio.com" || host.ends_with(".twilio.com")))
                    || wire::origin(&account.base_url).is_some_and(|base| Some(base) == wire::origin(url))
            });
            if !trusted {
                return Err(ProviderError::new(FailureKind::Permanent, None, "the media URL is not on Twilio's API"));
            }
            // Twilio answers with a redirect to its CDN, which reqwest follows; reqwest drops the Authorization header
            // when a redirect leaves the host, so the credentials never reach the CDN (which refuses them anyway).
            let response = http
                .client()
                .get(url)
                .basic_auth(auth.sid, Some(auth.token))
                .send()
                .await
                .map_err(|e| transport_error(&e))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let kind = if status == 404 { FailureKind::Permanent } else { classify_status(status) };
                return Err(ProviderError::new(kind, Some(status.to_string()), format!("Twilio media: HTTP {status}")));
            }
            let mime = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
                .filter(|v| !v.is_empty())
                .or_else(|| media.mime.clone())
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let bytes = read_limited(response, MAX_MEDIA_BYTES).await?;
            Ok(FetchedMedia { bytes, mime })
        })
    }
}

/// The form body of a send, or why this message cannot go through Twilio.
fn message_form(account: &AccountConfig, message: &Outgoing) -> Result<String, ProviderError> {
    let from = whatsapp_address(account.credentials.get("from")?)
        .ok_or_else(|| ProviderError::misconfigured("the `from` credential is not a phone number"))?;
    let to = match (&message.to.phone, &message.to.bsuid) {
        (Some(phone), _) => format!("whatsapp:{phone}"),
        // Twilio names users known only by a business-scoped id `whatsapp:<BSUID>` in its webhooks; sending
        // to that address is the symmetric form (not verified against Twilio's documentation).
        (None, Some(bsuid)) => format!("whatsapp:{}", bsuid.trim_start_matches("whatsapp:")),
        (None, None) => {
            return Err(ProviderError::new(FailureKind::InvalidRecipient, None, "the recipient has no phone number"));
        }
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", &to).append_pair("From", &from);
    match &message.content {
        Content::Text { body, .. } => {
            form.append_pair("Body", body);
        }
        Content::Media { source: MediaSource::Url(url), caption, .. } => {
            form.append_pair("MediaUrl", url);
            if let Some(caption) = caption.as_deref().filter(|c| !c.trim().is_empty()) {
                form.append_pair("Body", caption);
            }
        }
        Content::Media { source: MediaSource::Upload { .. }, .. } => {
            return Err(ProviderError::misconfigured(
                "Twilio cannot send uploaded files through this connector: send the media by URL",
            ));
        }
        Content::Template { name, variables, .. } => {
            // The Content SID names one template in one language, so `language` has nothing to add.
            if !name.starts_with("HX") {
                return Err(ProviderError::misconfigured(format!(
                    "Twilio templates are sent by Content SID (HX…), not by name: `{}`",
                    wire::truncate(name, 60)
                )));
            }
            form.append_pair("ContentSid", name);
            if !variables.is_empty() {
                let numbered: serde_json::Map<String, serde_json::Value> = variables
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ((i + 1).to_string(), serde_json::Value::String(v.clone())))
                    .collect();
                form.append_pair("ContentVariables", &serde_json::Value::Object(numbered).to_string());
            }
        }
        Content::Buttons { .. } | Content::List { .. } => {
            return Err(ProviderError::misconfigured(
                "Twilio cannot send interactive messages (buttons, lists) through this connector",
            ));
        }
    }
    // Twilio has no quoting for WhatsApp messages, so `reply_to` is not sent.
    if !account.webhook_url.is_empty() {
        form.append_pair("StatusCallback", &account.webhook_url);
    }
    Ok(form.finish())
}

/// The account's Basic-auth pair.
struct Auth<'a> {
    sid: &'a str,
    token: &'a str,
}

impl<'a> Auth<'a> {
    fn of(account: &'a AccountConfig) -> Result<Self, ProviderError> {
        Ok(Self { sid: account.credentials.get("account_sid")?, token: account.credentials.get("auth_token")? })
    }
}

/// `whatsapp:+E164` from a number typed with or without the `whatsapp:` prefix.
fn whatsapp_address(text: &str) -> Option<String> {
    Phone::parse(text).ok().map(|phone| format!("whatsapp:{phone}"))
}

/// A failed API call, classified by Twilio's error code first (the HTTP status is the same 400 for most of them).
fn error(answer: &Answer) -> ProviderError {
    let code = wire::int(answer.json.get("code").unwrap_or(&serde_json::Value::Null));
    let kind = match code {
        Some(20003 | 20005) => FailureKind::Unauthorized,
        Some(63016) => FailureKind::OutsideWindow,
        Some(63017 | 63018 | 20429 | 14107) => FailureKind::RateLimited,
        Some(63024 | 21211 | 21610 | 21614 | 63003 | 63033) => FailureKind::InvalidRecipient,
        _ => match answer.status {
            401 => FailureKind::Unauthorized,
            status => classify_status(status),
        },
    };
    let message = wire::text_at(&answer.json, "/message")
        .map(|m| wire::truncate(&m, 300))
        .or_else(|| code.and_then(known_error).map(str::to_owned))
        .unwrap_or_else(|| format!("Twilio answered HTTP {}", answer.status));
    let mut error =
        ProviderError::new(kind, Some(code.map_or_else(|| answer.status.to_string(), |c| c.to_string())), message);
    error.retry_after = answer.retry_after;
    error
}

/// Readable reasons for the error codes WhatsApp sends through Twilio most (from Twilio's error-code list).
fn known_error(code: i64) -> Option<&'static str> {
    Some(match code {
        21211 => "Invalid 'To' phone number",
        21610 => "The recipient has unsubscribed (replied STOP)",
        21614 => "'To' number is not a valid mobile number",
        30003 => "Unreachable destination handset",
        30005 => "Unknown destination handset",
        30006 => "Landline or unreachable carrier",
        30007 => "Message filtered",
        30008 => "Unknown error",
        63003 => "The channel could not find the 'To' address",
        63013 => "Channel policy violation",
        63015 => "The sandbox can only send to numbers that have joined it",
        63016 => "Outside the 24-hour window: a free-form message needs a template",
        63017 | 63018 => "Rate limit exceeded",
        63024 => "Invalid message recipient",
        63027 => "The template does not exist for this language",
        63028 => "The number of template parameters does not match",
        63032 => "WhatsApp does not allow sending this message to this user",
        63033 => "The recipient blocked messages",
        _ => return None,
    })
}

/// `X-Twilio-Signature` for a request: base64(HMAC-SHA1(auth token, URL followed by every parameter's name and
/// value, names sorted and each name's distinct values sorted)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name.as_str()).or_default().insert(value.as_str());
    }
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot run.
        return String::new();
    };
    mac.update(url.as_bytes());
    for (name, values) in sorted {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    wire::encode_base64(&mac.finalize().into_bytes())
}

/// The URLs a signature may have been computed over: as given, without its port, and with the scheme's default
/// port (Twilio's own validators accept all three, because its signing is inconsistent about ports).
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let port_at = host_port.rfind(':').filter(|&i| {
        let port = &host_port[i + 1..];
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host_port[i..].contains(']')
    });
    match port_at {
        Some(i) => variants.push(format!("{scheme}://{userinfo}{}{tail}", &host_port[..i])),
        None => variants.push(format!("{scheme}://{userinfo}{host_port}:{default_port}{tail}")),
    }
    variants
}

#[cfg(test)]
mod tests;
