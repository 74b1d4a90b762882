//! Twilio's WhatsApp connector: sending through the Messages API (form-encoded, HTTP Basic auth), the
//! `X-Twilio-Signature` check, and reading inbound-message and status-callback webhooks (form-encoded too).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::http::{MAX_MEDIA_BYTES, classify_status, read_limited, transport_error};
use super::wire::{self, Answer};
use super::*;

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

/// The form parameters of a webhook, in the order received.
struct Form(Vec<(String, String)>);

impl Form {
    /// A parameter's first non-blank value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, v)| n == name && !v.trim().is_empty()).map(|(_, v)| v.as_str())
    }
}

fn status_event(form: &Form, id: &str, value: &str, now: i64) -> Event {
    let status = match value {
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" => Status::Read,
        "failed" | "undelivered" => Status::Failed,
        // queued, accepted, sending, scheduled: Twilio's own progress before WhatsApp has it, not a rank change.
        other => return Event::Other { kind: format!("status.{other}") },
    };
    let error = (status == Status::Failed).then(|| {
        let code = form.get("ErrorCode");
        let text = form
            .get("ErrorMessage")
            .map(str::to_owned)
            .or_else(|| code.and_then(|c| c.parse().ok()).and_then(known_error).map(str::to_owned))
            .or_else(|| code.map(|c| format!("Twilio error {c}")))
            .unwrap_or_else(|| format!("Twilio reported the message as {value}"));
        (code.unwrap_or(value).to_owned(), text)
    });
    Event::Status(StatusUpdate {
        message_id: id.to_owned(),
        status,
        timestamp_ms: now,
        recipient: form.get("To").map(str::to_owned),
        error,
    })
}

fn inbound(form: &Form, id: &str, now: i64) -> InboundMessage {
    let mut contact = ContactRef { name: form.get("ProfileName").map(str::to_owned), ..ContactRef::default() };
    if let Some(from) = form.get("From") {
        let address = from.trim().strip_prefix("whatsapp:").unwrap_or(from.trim());
        // A user known only by a business-scoped id arrives as `whatsapp:US.…` instead of a number.
        if address.starts_with(|c: char| c.is_ascii_digit() || c == '+') {
            contact.phone = Phone::parse(address).ok();
        } else if !address.is_empty() {
            contact.bsuid = Some(address.to_owned());
        }
    }
    if let Some(external) = form.get("ExternalUserId") {
        contact.bsuid = Some(external.strip_prefix("whatsapp:").unwrap_or(external).to_owned());
    }
    if let Some(wa_id) = form.get("WaId") {
        contact.wa_id = Some(wa_id.to_owned());
        if contact.phone.is_none() {
            contact.phone = Phone::parse(wa_id).ok();
        }
    }
    let body = form.get("Body").map(str::to_owned);
    let mut message = InboundMessage {
        id: id.to_owned(),
        contact,
        timestamp_ms: now,
        kind: MessageKind::Unsupported,
        text: None,
        media: None,
        location: None,
        reaction: None,
        reply: None,
        context_id: form.get("OriginalRepliedMessageSid").map(str::to_owned),
    };
    let media_count: u32 = form.get("NumMedia").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    let coordinates = form
        .get("Latitude")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .zip(form.get("Longitude").and_then(|v| v.trim().parse::<f64>().ok()))
        .filter(|(lat, lon)| lat.is_finite() && lon.is_finite());
    if let (true, Some(url)) = (media_count > 0, form.get("MediaUrl0")) {
        // WhatsApp carries one file per message; Twilio numbers them from 0 like MMS.
        let mime = form.get("MediaContentType0").map(str::to_owned);
        let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some("image") => MediaKind::Image,
            Some("video") => MediaKind::Video,
            Some("audio") => MediaKind::Audio,
            _ => MediaKind::Document,
        };
        message.kind = MessageKind::from_media(kind);
        message.text = body;
        message.media = Some(MediaRef { url: Some(url.to_owned()), mime, ..MediaRef::default() });
    } else if let Some((latitude, longitude)) = coordinates {
        message.kind = MessageKind::Location;
        message.location = Some(Location {
            latitude,
            longitude,
            name: form.get("Label").map(str::to_owned),
            address: form.get("Address").map(str::to_owned),
        });
    } else if let Some(title) = form.get("ButtonText") {
        // A template quick-reply tap. `ButtonPayload` is only evidenced by third-party tests; without it the title
        // is the best id there is.
        message.kind = MessageKind::TemplateButton;
        message.text = Some(title.to_owned());
        message.reply =
            Some(ReplyChoice { id: form.get("ButtonPayload").unwrap_or(title).to_owned(), title: title.to_owned() });
    } else if let Some(list_id) = form.get("ListId") {
        // List replies (`ListId`/`ListTitle`): evidenced only by third-party tests, not Twilio's documentation.
        let title = form.get("ListTitle").or(body.as_deref()).unwrap_or(list_id).to_owned();
        message.kind = MessageKind::ListReply;
        message.text = Some(title.clone());
        message.reply = Some(ReplyChoice { id: list_id.to_owned(), title });
    } else if body.is_some() {
        message.kind = MessageKind::Text;
        message.text = body;
    }
    message
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
mod tests {
    use super::wire::mock;
    use super::*;

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn example_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn account(base: &str) -> AccountConfig {
        mock::account(
            ProviderKind::Twilio,
            base,
            &[("account_sid", "ACtest"), ("auth_token", "12345"), ("from", "+14155238886")],
        )
    }

    /// The form body of a fixture: its only line that is not a `#` comment.
    fn fixture_body(text: &str) -> &str {
        text.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap()
    }

    fn parse(body: &str) -> Event {
        let request = WebhookRequest {
            method: "POST",
            url: "https://crm.example.com/hooks",
            query: "",
            headers: &[],
            body: body.as_bytes(),
        };
        let mut events = Twilio.parse(&account("http://unused"), &request).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn message(body: &str) -> InboundMessage {
        match parse(body) {
            Event::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn status(body: &str) -> StatusUpdate {
        match parse(body) {
            Event::Status(s) => s,
            other => panic!("not a status: {other:?}"),
        }
    }

    #[test]
    fn signature_matches_twilios_worked_examples() {
        let fixture = include_str!("../../tests/fixtures/providers/twilio/signature_x_twilio_signature.txt");
        assert!(fixture.contains("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert_eq!(signature("12345", URL, &example_params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &example_params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        let duplicates: Vec<(String, String)> =
            [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        assert_eq!(signature("12345", URL, &duplicates), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    fn form_body(params: &[(String, String)]) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.finish()
    }

    fn verify(url: &str, body: &str, signature: Option<&str>) -> Result<(), VerifyError> {
        let headers: Vec<(String, String)> =
            signature.map(|s| vec![("x-twilio-signature".to_owned(), s.to_owned())]).unwrap_or_default();
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let request = WebhookRequest { method: "POST", url, query, headers: &headers, body: body.as_bytes() };
        Twilio.verify(&account("http://unused"), &request)
    }

    #[test]
    fn verify_accepts_the_examples_with_and_without_ports() {
        let body = form_body(&example_params());
        assert_eq!(verify(URL, &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Ok(()));
        // Signed with the default port, received without it, and the other way round.
        assert_eq!(verify(URL, &body, Some("kvajT1Ptam85bY51eRf/AJRuM3w=")), Ok(()));
        assert_eq!(
            verify("https://mycompany.com:443/myapp.php?foo=1&bar=2", &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
            Ok(())
        );
        // twilio-python's port tests: a non-default port signed without it, and http with :80.
        assert_eq!(
            verify("http://mycompany.com:1234/myapp.php?foo=1&bar=2", &body, Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")),
            Ok(())
        );
        assert_eq!(
            verify("http://mycompany.com/myapp.php?foo=1&bar=2", &body, Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")),
            Ok(())
        );
    }

    #[test]
    fn verify_refuses_changed_or_missing_signatures() {
        let mut params = example_params();
        params[2].1 = "9999".to_owned();
        let body = form_body(&params);
        assert_eq!(verify(URL, &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Err(VerifyError::Mismatch));
        // An added parameter changes the signature too (all parameters are signed, known or not).
        let mut params = example_params();
        params.push(("Extra".to_owned(), "1".to_owned()));
        assert_eq!(verify(URL, &form_body(&params), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Err(VerifyError::Mismatch));
        assert_eq!(verify(URL, &form_body(&example_params()), None), Err(VerifyError::Missing));
        assert_eq!(verify(URL, &form_body(&example_params()), Some(" ")), Err(VerifyError::Missing));
        assert_eq!(
            verify(
                "https://other.example.com/myapp.php?foo=1&bar=2",
                &form_body(&example_params()),
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn verify_checks_json_bodies_by_their_hash() {
        let body = r#"{"property": "value", "boolean": true}"#;
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(verify(url, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")), Ok(()));
        assert_eq!(
            verify(url, r#"{"property": "other"}"#, Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn url_variants_add_or_strip_the_port() {
        assert_eq!(url_variants("https://a.test/x?y=1"), ["https://a.test/x?y=1", "https://a.test:443/x?y=1"]);
        assert_eq!(url_variants("http://a.test:8080/x"), ["http://a.test:8080/x", "http://a.test/x"]);
        assert_eq!(url_variants("https://[::1]/x"), ["https://[::1]/x", "https://[::1]:443/x"]);
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn inbound_text() {
        let m = message(fixture_body(include_str!("../../tests/fixtures/providers/twilio/inbound_whatsapp_text.txt")));
        assert_eq!(m.id, "SMe287d7109a5a925f182f0e07fe5b223b");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.text.as_deref(), Some("Msg"));
        assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+14133881111"));
        assert_eq!(m.contact.bsuid, None);
        assert!(m.timestamp_ms > 1_700_000_000_000, "no time in the webhook: the time it arrived");
    }

    #[test]
    fn inbound_text_with_profile_name_and_wa_id() {
        let m = message(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/inbound_whatsapp_text_profile_waid.txt"
        )));
        assert_eq!(m.id, "SM95fd59caa1ad5c3138d42f804d9ffe04");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.text.as_deref(), Some("אישור הגעה"));
        assert_eq!(m.contact.name.as_deref(), Some("Eyal"));
        assert_eq!(m.contact.wa_id.as_deref(), Some("9725XXXXXXXX"));
        assert_eq!(m.contact.phone, None, "the fixture's redacted number is not a number");
    }

    #[test]
    fn inbound_image() {
        let m = message(fixture_body(include_str!("../../tests/fixtures/providers/twilio/inbound_whatsapp_image.txt")));
        assert_eq!(m.id, "MMabcdef123456789");
        assert_eq!(m.kind, MessageKind::Image);
        assert_eq!(m.text, None, "empty Body is no caption");
        let media = m.media.unwrap();
        assert_eq!(media.mime.as_deref(), Some("image/jpeg"));
        assert_eq!(
            media.url.as_deref(),
            Some(
                "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/MMabcdef123456789/Media/ME123456"
            )
        );
        assert_eq!(m.contact.name.as_deref(), Some("מיכל"));
    }

    #[test]
    fn inbound_location() {
        let m =
            message(fixture_body(include_str!("../../tests/fixtures/providers/twilio/inbound_whatsapp_location.txt")));
        assert_eq!(m.id, "SMxx");
        assert_eq!(m.kind, MessageKind::Location);
        let location = m.location.unwrap();
        assert!((location.latitude - 12.160894393921).abs() < 1e-9);
        assert!((location.longitude - 75.265205383301).abs() < 1e-9);
        assert_eq!(location.name, None);
        let with_label = message(
            "MessageSid=SM1&From=whatsapp%3A%2B14133881111&MessageType=location&Latitude=1.5&Longitude=-2&Label=Home&Address=Main+St",
        );
        let location = with_label.location.unwrap();
        assert_eq!((location.name.as_deref(), location.address.as_deref()), (Some("Home"), Some("Main St")));
    }

    #[test]
    fn inbound_template_button() {
        let m = message(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/inbound_whatsapp_template_button.txt"
        )));
        assert_eq!(m.kind, MessageKind::TemplateButton);
        assert_eq!(m.text.as_deref(), Some("Confirm"));
        assert_eq!(m.reply, Some(ReplyChoice { id: "Confirm".into(), title: "Confirm".into() }));
        let with_payload = message(
            "MessageSid=SM1&From=whatsapp%3A%2B14133881111&Body=Yes&ButtonText=Yes&ButtonPayload=confirm-42&OriginalRepliedMessageSid=SM0",
        );
        assert_eq!(with_payload.reply, Some(ReplyChoice { id: "confirm-42".into(), title: "Yes".into() }));
        assert_eq!(with_payload.context_id.as_deref(), Some("SM0"));
    }

    #[test]
    fn inbound_with_bsuid() {
        let m = message(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/inbound_whatsapp_with_bsuid.txt"
        )));
        assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+14133881111"));
        assert_eq!(m.contact.bsuid.as_deref(), Some("US.1234"));
        let m = message(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/inbound_whatsapp_from_bsuid_only.txt"
        )));
        assert_eq!(m.contact.phone, None);
        assert_eq!(m.contact.bsuid.as_deref(), Some("US.1234"));
        assert_eq!(m.text.as_deref(), Some("Msg"));
    }

    #[test]
    fn status_callbacks() {
        let s =
            status(fixture_body(include_str!("../../tests/fixtures/providers/twilio/status_callback_delivered.txt")));
        assert_eq!((s.message_id.as_str(), s.status), ("SMe287d7109a5a925f182f0e07fe5b223b", Status::Delivered));
        assert_eq!(s.error, None);
        let s = status(fixture_body(include_str!("../../tests/fixtures/providers/twilio/status_callback_read.txt")));
        assert_eq!(s.status, Status::Read);
        let s =
            status(fixture_body(include_str!("../../tests/fixtures/providers/twilio/status_callback_sent_full.txt")));
        assert_eq!((s.message_id.as_str(), s.status), ("SM0b6e2697aae04182a9f5b5c7a8994c7f", Status::Sent));
        assert_eq!(s.recipient.as_deref(), Some("2021"));

        let s = status(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/status_callback_failed_21610.txt"
        )));
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.recipient.as_deref(), Some("+12028831111"));
        assert_eq!(s.error, Some(("21610".into(), "The recipient has unsubscribed (replied STOP)".into())));
        let s = status(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/status_callback_failed_63018.txt"
        )));
        assert_eq!(s.error, Some(("63018".into(), "Rate limit exceeded".into())));
        let s = status(fixture_body(include_str!(
            "../../tests/fixtures/providers/twilio/status_callback_failed_30008_with_message.txt"
        )));
        assert_eq!(s.message_id, "SMd560ac79e4a4d36b3ce59f1f50471986");
        assert_eq!(s.error, Some(("30008".into(), "Unknown error".into())));

        let s = status("MessageSid=SM1&MessageStatus=undelivered");
        assert_eq!(
            (s.status, s.error),
            (Status::Failed, Some(("undelivered".into(), "Twilio reported the message as undelivered".into())))
        );
        for early in ["queued", "accepted", "sending", "scheduled"] {
            assert_eq!(
                parse(&format!("MessageSid=SM1&MessageStatus={early}")),
                Event::Other { kind: format!("status.{early}") }
            );
        }
    }

    #[test]
    fn malformed_forms_are_refused() {
        let request =
            |body: &'static [u8]| WebhookRequest { method: "POST", url: "https://x", query: "", headers: &[], body };
        let account = account("http://unused");
        assert!(Twilio.parse(&account, &request(b"")).is_err());
        assert!(Twilio.parse(&account, &request(b"{\"json\": true}")).is_err());
        assert!(Twilio.parse(&account, &request(b"MessageSid=SM1&Body=\xff")).is_err());
        assert_eq!(Twilio.acknowledgement().0, "text/xml");
    }

    fn outgoing(content: Content) -> Outgoing {
        Outgoing {
            to: Recipient { phone: Some(Phone::parse("+250788383383").unwrap()), ..Recipient::default() },
            content,
            client_ref: "cvm-1".into(),
            reply_to: None,
        }
    }

    const MESSAGES: &str = "/2010-04-01/Accounts/ACtest/Messages.json";

    #[tokio::test]
    async fn send_text_posts_the_form_with_basic_auth() {
        let response = include_str!("../../tests/fixtures/providers/twilio/messages_create_response_queued.json");
        let server = mock::serve(&[("POST", MESSAGES, 201, response)]).await;
        let account = account(&server.base);
        let text = Content::Text { body: "Simple Message ☺".into(), preview_url: false };
        let sent = Twilio.send(&Http::new(), &account, &outgoing(text)).await.unwrap();
        assert_eq!(sent.provider_message_id, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

        let seen = server.seen();
        let request = &seen[0];
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", MESSAGES));
        assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
        // base64("ACtest:12345")
        assert_eq!(request.header("authorization"), Some("Basic QUN0ZXN0OjEyMzQ1"));
        // The fixture's field names, with our values.
        let fixture =
            fixture_body(include_str!("../../tests/fixtures/providers/twilio/messages_create_request_text.txt"));
        let names: Vec<String> = url::form_urlencoded::parse(fixture.as_bytes())
            .map(|(k, _)| k.into_owned())
            .filter(|k| k != "MessagingServiceSid")
            .collect();
        let mut got: Vec<String> = request.form().into_iter().map(|(k, _)| k).collect();
        let mut want = names.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(request.form_value("To").as_deref(), Some("whatsapp:+250788383383"));
        assert_eq!(request.form_value("From").as_deref(), Some("whatsapp:+14155238886"));
        assert_eq!(request.form_value("Body").as_deref(), Some("Simple Message ☺"));
        assert_eq!(request.form_value("StatusCallback").as_deref(), Some("https://crm.example.com/hooks/test/1"));
    }

    #[tokio::test]
    async fn send_template_and_media() {
        let response =
            include_str!("../../tests/fixtures/providers/twilio/messages_create_response_whatsapp_scheduled.json");
        let server = mock::serve(&[("POST", MESSAGES, 201, response)]).await;
        let mut account = account(&server.base);
        account.credentials.0.insert("from".into(), "whatsapp:+12065551212".into());
        let template = Content::Template {
            name: "HXb5b62575e6e4ff6129ad7c8efe1f983e".into(),
            language: "en".into(),
            variables: vec!["Chef".into(), "tomorrow".into()],
        };
        Twilio.send(&Http::new(), &account, &outgoing(template)).await.unwrap();
        let media = Content::Media {
            kind: MediaKind::Image,
            source: MediaSource::Url("https://cdn.example.com/a.jpg".into()),
            caption: Some("Look".into()),
            filename: None,
        };
        Twilio.send(&Http::new(), &account, &outgoing(media)).await.unwrap();

        let seen = server.seen();
        let template = &seen[0];
        assert_eq!(template.form_value("From").as_deref(), Some("whatsapp:+12065551212"));
        assert_eq!(template.form_value("ContentSid").as_deref(), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
        let variables: serde_json::Value =
            serde_json::from_str(&template.form_value("ContentVariables").unwrap()).unwrap();
        assert_eq!(variables, serde_json::json!({"1": "Chef", "2": "tomorrow"}));
        assert_eq!(template.form_value("Body"), None, "templates carry no Body");
        let media = &seen[1];
        assert_eq!(media.form_value("MediaUrl").as_deref(), Some("https://cdn.example.com/a.jpg"));
        assert_eq!(media.form_value("Body").as_deref(), Some("Look"));
    }

    #[tokio::test]
    async fn unsupported_content_is_refused_before_any_request() {
        let server = mock::serve(&[]).await;
        let account = account(&server.base);
        for content in [
            Content::Template { name: "order_update".into(), language: "en".into(), variables: vec![] },
            Content::Buttons { body: "?".into(), buttons: vec![] },
            Content::Media {
                kind: MediaKind::Image,
                source: MediaSource::Upload { bytes: vec![1], mime: "image/png".into(), filename: "a.png".into() },
                caption: None,
                filename: None,
            },
        ] {
            let error = Twilio.send(&Http::new(), &account, &outgoing(content)).await.unwrap_err();
            assert_eq!(error.kind, FailureKind::Misconfigured);
        }
        let error = Twilio.mark_read(&Http::new(), &account, "SM1", &Recipient::default()).await.unwrap_err();
        assert_eq!(error.kind, FailureKind::Misconfigured);
        assert!(server.seen().is_empty());
    }

    async fn send_error(status: u16, body: &str) -> ProviderError {
        let server = mock::serve(&[("POST", MESSAGES, status, body)]).await;
        let text = Content::Text { body: "hi".into(), preview_url: false };
        Twilio.send(&Http::new(), &account(&server.base), &outgoing(text)).await.unwrap_err()
    }

    #[tokio::test]
    async fn errors_are_classified_by_twilio_code() {
        let error = send_error(
            400,
            r#"{"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400}"#,
        )
        .await;
        assert_eq!((error.kind, error.code.as_deref()), (FailureKind::OutsideWindow, Some("63016")));
        assert!(error.message.contains("outside the allowed window"));
        let error = send_error(401, r#"{"code": 20003, "message": "Authenticate", "status": 401}"#).await;
        assert_eq!(error.kind, FailureKind::Unauthorized);
        assert!(!error.message.contains("12345"), "no credentials in errors");
        let error = send_error(500, "oops").await;
        assert_eq!((error.kind, error.code.as_deref()), (FailureKind::Transient, Some("500")));
        let error = send_error(429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#).await;
        assert_eq!(error.kind, FailureKind::RateLimited);
        let error = send_error(400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#).await;
        assert_eq!(error.kind, FailureKind::InvalidRecipient);
        let error = send_error(400, r#"{"code": 21655, "message": "The ContentSid is Invalid", "status": 400}"#).await;
        assert_eq!(error.kind, FailureKind::Permanent);
    }

    #[tokio::test]
    async fn test_connection_and_media() {
        let server = mock::serve(&[
            (
                "GET",
                "/2010-04-01/Accounts/ACtest.json",
                200,
                r#"{"friendly_name": "My first account", "status": "active"}"#,
            ),
            ("GET", "/media/ME1", 200, "JPEGDATA"),
        ])
        .await;
        let account = account(&server.base);
        assert_eq!(Twilio.test_connection(&Http::new(), &account).await.unwrap(), "My first account (active)");
        let media = MediaRef { url: Some(format!("{}/media/ME1", server.base)), ..MediaRef::default() };
        let fetched = Twilio.fetch_media(&Http::new(), &account, &media).await.unwrap();
        assert_eq!(fetched.bytes, b"JPEGDATA");
        assert_eq!(server.seen()[1].header("authorization"), Some("Basic QUN0ZXN0OjEyMzQ1"));
        // Credentials are not sent to a host that is not Twilio's.
        let elsewhere = MediaRef { url: Some("https://evil.example.com/m".into()), ..MediaRef::default() };
        assert!(Twilio.fetch_media(&Http::new(), &account, &elsewhere).await.is_err());
    }
}
