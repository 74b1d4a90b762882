//! Chatwoot connector: sending into a Chatwoot inbox through its Application API (finding or creating the contact and
//! conversation when needed), marking conversations seen, downloading attachments, and reading its account/inbox
//! webhooks (`message_created`, `message_updated`; everything else is passed on as [`Event::Other`]).

use serde_json::{Value, json};

use super::http::{MAX_MEDIA_BYTES, classify_status, read_limited, transport_error};
use super::wire::{self, Answer};
use super::*;

mod webhook;
use webhook::message_event;

pub struct Chatwoot;

const FIELDS: &[CredentialField] = &[
    CredentialField { name: "api_access_token", secret: true, required: true },
    CredentialField { name: "account_id", secret: false, required: true },
    CredentialField { name: "inbox_id", secret: false, required: true },
];

/// Redirects followed when downloading an attachment (ActiveStorage redirects once, to the storage service).
const MAX_REDIRECTS: usize = 5;

impl Provider for Chatwoot {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Chatwoot
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            templates: true,
            media: false,
            media_upload: true,
            interactive: false,
            mark_read: true,
            // Chatwoot's WhatsApp inboxes enforce the window themselves, but which channel an inbox is cannot be
            // known from here.
            customer_window: false,
        }
    }

    fn credential_fields(&self) -> &'static [CredentialField] {
        FIELDS
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://app.chatwoot.com")
    }

    /// The URL we give users carries the account's secret. Chatwoot releases since 2026 can also sign webhooks
    /// (`X-Chatwoot-Signature: sha256=…` over the timestamp and body), but the exact signed string is unverified and
    /// Chatwoot Cloud's secrets were reported not to match (chatwoot#13809), so the signature is not relied on.
    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        request.check_secret(&account.webhook_secret)
    }

    fn parse(&self, _account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError> {
        let body: Value =
            serde_json::from_slice(request.body).map_err(|e| ParseError(format!("the body is not JSON: {e}")))?;
        let Some(event) = body.get("event").and_then(Value::as_str) else {
            return Err(ParseError("no `event` in the webhook".into()));
        };
        Ok(vec![match event {
            "message_created" | "message_updated" => message_event(event, &body),
            // conversation_*, contact_*, webwidget_triggered and whatever newer releases add.
            other => Event::Other { kind: other.to_owned() },
        }])
    }

    fn send<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Sent, ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            // Checked before anything is created, so unsupported content leaves no empty conversation behind.
            let payload = payload(message)?;
            let thread = match message.to.thread.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                Some(thread) => thread.to_owned(),
                None => open_conversation(http, &api, &message.to).await?,
            };
            let path = format!("conversations/{}/messages", wire::segment(&thread));
            let request = match payload {
                Payload::Json(body) => api.post(http, &path, &body),
                Payload::Multipart { boundary, body } => api
                    .request(http, reqwest::Method::POST, &path)
                    .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
                    .body(body),
            };
            let answer = wire::call(request).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let id = wire::text_at(&answer.json, "/id").ok_or_else(|| {
                ProviderError::new(FailureKind::Permanent, None, "Chatwoot created the message but returned no id")
            })?;
            Ok(Sent { provider_message_id: id, wa_id: None, thread: Some(thread) })
        })
    }

    fn mark_read<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        _message_id: &'a str,
        from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let thread = from.thread.as_deref().map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
                ProviderError::misconfigured("marking read in Chatwoot needs the message's conversation")
            })?;
            // Chatwoot tracks "seen" per conversation, not per message.
            let path = format!("conversations/{}/update_last_seen", wire::segment(thread));
            let answer = wire::call(api.request(http, reqwest::Method::POST, &path)).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            Ok(())
        })
    }

    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let path = format!("inboxes/{}", wire::segment(api.inbox_id));
            let answer = wire::call(api.request(http, reqwest::Method::GET, &path)).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let name = wire::text_at(&answer.json, "/name").unwrap_or_else(|| format!("#{}", api.inbox_id));
            let channel = wire::text_at(&answer.json, "/channel_type").unwrap_or_else(|| "unknown channel".to_owned());
            Ok(format!("inbox {name} ({channel})"))
        })
    }

    fn fetch_media<'a>(
        &'a self,
        _http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let url = media.url.as_deref().ok_or_else(|| ProviderError::misconfigured("the attachment has no URL"))?;
            let mut url = url::Url::parse(url)
                .map_err(|_| ProviderError::new(FailureKind::Permanent, None, "the attachment URL is not valid"))?;
            // `data_url` is an ActiveStorage URL on the Chatwoot host that redirects to the storage service. The token
            // is a custom header, which an HTTP client keeps across redirects (only Authorization and cookies are
            // dropped), so redirects are followed here: the token goes to the Chatwoot host only.
            crate::init_crypto();
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(std::time::Duration::from_secs(5))
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .map_err(|_| ProviderError::transient("could not prepare the download"))?;
            let chatwoot = wire::origin(&account.base_url);
            for _ in 0..=MAX_REDIRECTS {
                let mut request = client.get(url.clone());
                if chatwoot.is_some() && wire::origin(url.as_str()) == chatwoot {
                    request = request.header("api_access_token", api.token);
                }
                let response = request.send().await.map_err(|e| transport_error(&e))?;
                let status = response.status();
                if status.is_redirection() {
                    let next = response
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| url.join(l).ok())
                        .ok_or_else(|| {
                            ProviderError::new(FailureKind::Permanent, None, "Chatwoot redirected without a location")
                        })?;
                    url = next;
                    continue;
                }
                if !status.is_success() {
                    let code = status.as_u16();
                    let kind = if code == 404 { FailureKind::Permanent } else { classify_status(code) };
                    return Err(ProviderError::new(kind, Some(code.to_string()), format!("attachment: HTTP {code}")));
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
                return Ok(FetchedMedia { bytes, mime });
            }
            Err(ProviderError::new(FailureKind::Permanent, None, "too many redirects downloading the attachment"))
        })
    }
}

/// The account's Application API: `{base}/api/v1/accounts/{account_id}`, its token and our inbox.
struct Api<'a> {
    root: String,
    token: &'a str,
    inbox_id: &'a str,
}

impl<'a> Api<'a> {
    fn of(account: &'a AccountConfig) -> Result<Self, ProviderError> {
        let token = account.credentials.get("api_access_token")?;
        let account_id = account.credentials.get("account_id")?;
        let inbox_id = account.credentials.get("inbox_id")?;
        let root = format!("{}/api/v1/accounts/{}", account.base_url.trim_end_matches('/'), wire::segment(account_id));
        Ok(Self { root, token, inbox_id })
    }

    fn request(&self, http: &Http, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        http.client()
            .request(method, format!("{}/{path}", self.root))
            .header("api_access_token", self.token)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn post(&self, http: &Http, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.request(http, reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(wire::json_bytes(body))
    }

    /// The inbox id as Chatwoot's JSON has it (a number), or as typed if it is not one.
    fn inbox_json(&self) -> Value {
        id_json(self.inbox_id)
    }
}

/// An id as a JSON number when it is one (Chatwoot's ids are integers), else as a string.
fn id_json(id: &str) -> Value {
    id.trim().parse::<i64>().map_or_else(|_| Value::String(id.to_owned()), Value::from)
}

/// A message body: JSON, or multipart when it carries a file.
enum Payload {
    Json(Value),
    Multipart { boundary: String, body: Vec<u8> },
}

fn payload(message: &Outgoing) -> Result<Payload, ProviderError> {
    let mut body = match &message.content {
        Content::Text { body, .. } => json!({"content": body, "message_type": "outgoing", "private": false}),
        Content::Template { name, language, variables } => {
            // Chatwoot's "legacy" flat parameters ({"1": …}), which its template processor still reads; the
            // content is what its UI shows for the message, as we do not have the template's text.
            let processed: serde_json::Map<String, Value> =
                variables.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), Value::String(v.clone()))).collect();
            let content = if variables.is_empty() {
                format!("[template {name}]")
            } else {
                format!("[template {name}] {}", variables.join(" · "))
            };
            json!({
                "content": content,
                "message_type": "outgoing",
                "private": false,
                "template_params": {"name": name, "language": language, "processed_params": processed},
            })
        }
        Content::Media { source: MediaSource::Upload { bytes, mime, filename }, caption, filename: name, .. } => {
            let name = name.as_deref().unwrap_or(filename);
            return Ok(multipart(caption.as_deref().unwrap_or_default(), bytes, mime, name));
        }
        Content::Media { source: MediaSource::Url(_), .. } => {
            return Err(ProviderError::misconfigured(
                "Chatwoot takes attachments as uploaded files, not URLs: upload the file instead",
            ));
        }
        Content::Buttons { .. } | Content::List { .. } => {
            return Err(ProviderError::misconfigured(
                "Chatwoot cannot send interactive messages (buttons, lists) through this connector",
            ));
        }
    };
    // Quoting by Chatwoot message id, the id we store for Chatwoot messages.
    if let Some(reply_to) = message.reply_to.as_deref().and_then(|r| r.trim().parse::<i64>().ok()) {
        body["content_attributes"] = json!({"in_reply_to": reply_to});
    }
    Ok(Payload::Json(body))
}

/// A `multipart/form-data` message with one attachment (`attachments[]`), built by hand because the HTTP client
/// is compiled without multipart support.
fn multipart(caption: &str, bytes: &[u8], mime: &str, filename: &str) -> Payload {
    let boundary = format!("conversure-{:032x}", rand::random::<u128>());
    // Header values must stay on one line and inside their quotes.
    let clean = |text: &str| text.chars().filter(|c| !c.is_control()).collect::<String>().replace('"', "%22");
    let mut body = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in [("content", caption), ("message_type", "outgoing"), ("private", "false")] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"attachments[]\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            clean(filename),
            clean(mime)
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Payload::Multipart { boundary, body }
}

/// A conversation in our inbox for a recipient known by phone: the contact's open one, or a new one.
async fn open_conversation(http: &Http, api: &Api<'_>, to: &Recipient) -> Result<String, ProviderError> {
    let phone = to.phone.as_ref().ok_or_else(|| {
        ProviderError::new(
            FailureKind::InvalidRecipient,
            None,
            "sending through Chatwoot needs the customer's phone number or Chatwoot conversation",
        )
    })?;
    let (contact_id, source_id) = match find_contact(http, api, phone).await? {
        Some(found) => found,
        None => create_contact(http, api, phone).await?,
    };
    // Reusing an open conversation keeps one thread per customer, and keeps a retried send (after a failure past this
    // point) from opening a second conversation.
    if let Some(existing) = existing_conversation(http, api, &contact_id).await? {
        return Ok(existing);
    }
    // For WhatsApp inboxes Chatwoot's own source id is the number's digits (its ContactInboxBuilder does the same),
    // used when the contact's answers did not include one for our inbox.
    let source_id = source_id.unwrap_or_else(|| phone.digits().to_owned());
    let body = json!({"source_id": source_id, "inbox_id": api.inbox_json(), "contact_id": id_json(&contact_id)});
    let answer = wire::call(api.post(http, "conversations", &body)).await?;
    if !answer.is_success() {
        return Err(error(&answer));
    }
    wire::text_at(&answer.json, "/id").ok_or_else(|| {
        ProviderError::new(FailureKind::Permanent, None, "Chatwoot created the conversation but returned no id")
    })
}

/// The contact with exactly this number (the search also matches partial numbers and names) and its source id in our
/// inbox, if it has one.
async fn find_contact(
    http: &Http,
    api: &Api<'_>,
    phone: &Phone,
) -> Result<Option<(String, Option<String>)>, ProviderError> {
    let mut url = String::from("contacts/search?");
    url.push_str(&url::form_urlencoded::Serializer::new(String::new()).append_pair("q", phone.as_str()).finish());
    let answer = wire::call(api.request(http, reqwest::Method::GET, &url)).await?;
    if !answer.is_success() {
        return Err(error(&answer));
    }
    let contacts = answer.json.get("payload").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let found = contacts.iter().find(|c| {
        c.get("phone_number").and_then(Value::as_str).and_then(|p| Phone::parse(p).ok()).as_ref() == Some(phone)
    });
    Ok(found.and_then(|contact| {
        let id = wire::text_at(contact, "/id")?;
        Some((id, source_id_in(contact, api.inbox_id)))
    }))
}

async fn create_contact(http: &Http, api: &Api<'_>, phone: &Phone) -> Result<(String, Option<String>), ProviderError> {
    // The number is the only name we know; Chatwoot replaces it when the customer writes with a profile name.
    let body = json!({"inbox_id": api.inbox_json(), "name": phone.as_str(), "phone_number": phone.as_str()});
    let answer = wire::call(api.post(http, "contacts", &body)).await?;
    if !answer.is_success() {
        return Err(error(&answer));
    }
    // `{"payload": {"contact": {…}, "contact_inbox": {…}}}` in current releases, `{"payload": {…contact}}` in older.
    let payload = answer.json.get("payload").unwrap_or(&answer.json);
    let contact = payload.get("contact").unwrap_or(payload);
    let id = wire::text_at(contact, "/id").ok_or_else(|| {
        ProviderError::new(FailureKind::Permanent, None, "Chatwoot created the contact but returned no id")
    })?;
    let source_id = wire::text_at(payload, "/contact_inbox/source_id").or_else(|| source_id_in(contact, api.inbox_id));
    Ok((id, source_id))
}

/// The contact's source id in our inbox, from its `contact_inboxes` list.
fn source_id_in(contact: &Value, inbox_id: &str) -> Option<String> {
    contact.get("contact_inboxes")?.as_array()?.iter().find_map(|ci| {
        let inbox = wire::text_at(ci, "/inbox/id").or_else(|| wire::text_at(ci, "/inbox_id"))?;
        (inbox == inbox_id.trim()).then(|| wire::text_at(ci, "/source_id")).flatten()
    })
}

/// The contact's newest conversation in our inbox that is not resolved. Only an authentication failure is an
/// error: without this lookup a new conversation still works.
async fn existing_conversation(http: &Http, api: &Api<'_>, contact_id: &str) -> Result<Option<String>, ProviderError> {
    let path = format!("contacts/{}/conversations", wire::segment(contact_id));
    let answer = wire::call(api.request(http, reqwest::Method::GET, &path)).await?;
    if matches!(answer.status, 401 | 403) {
        return Err(error(&answer));
    }
    if !answer.is_success() {
        return Ok(None);
    }
    let conversations = answer.json.get("payload").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Ok(conversations
        .iter()
        .filter(|c| wire::text_at(c, "/inbox_id").as_deref() == Some(api.inbox_id.trim()))
        .filter(|c| c.get("status").and_then(Value::as_str) != Some("resolved"))
        .filter_map(|c| c.get("id").and_then(wire::int))
        .max()
        .map(|id| id.to_string()))
}

/// A failed API call.
fn error(answer: &Answer) -> ProviderError {
    let text = wire::error_text(&answer.json);
    let (kind, message) = match answer.status {
        404 => (FailureKind::Misconfigured, "Chatwoot: account, inbox or conversation not found".to_owned()),
        422 => (FailureKind::Permanent, text.unwrap_or_else(|| "Chatwoot refused the request (422)".to_owned())),
        status => (classify_status(status), text.unwrap_or_else(|| format!("Chatwoot answered HTTP {status}"))),
    };
    let mut error = ProviderError::new(kind, Some(answer.status.to_string()), message);
    error.retry_after = answer.retry_after;
    error
}

#[cfg(test)]
mod tests;
