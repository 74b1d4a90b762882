//! Meta's template listing (`GET /{waba-id}/message_templates`, `templates_list_response.json`), shared with
//! anything speaking the Cloud API: pages read one after the other by their `after` cursor, each template's
//! components kept as Meta gave them.

use serde_json::Value;

use super::{Api, nonempty};
use crate::providers::{ListedTemplate, ProviderError};

/// Templates asked for per page (Graph's `limit`).
const PAGE_SIZE: &str = "100";
/// Most pages read: 10,000 templates, far beyond what Meta lets one business account hold.
const MAX_PAGES: usize = 100;
/// The fields asked for: exactly what the listing needs, whatever Graph's defaults become.
const FIELDS: &str = "name,language,status,category,components";

/// One page of the listing: its templates, and the cursor of the next page when Graph says there is one.
/// Graph includes `paging.next` only when another page follows; `cursors.after` is present on the last page too.
pub(in crate::providers) fn parse_page(page: &Value) -> (Vec<ListedTemplate>, Option<String>) {
    let templates = page.get("data").and_then(Value::as_array).map(|all| all.iter().filter_map(template).collect());
    let next = page
        .pointer("/paging/next")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .and_then(|_| page.pointer("/paging/cursors/after").and_then(Value::as_str))
        .filter(|after| !after.is_empty())
        .map(str::to_owned);
    (templates.unwrap_or_default(), next)
}

/// A template of the listing; one without a name or language is skipped (it could never be sent).
fn template(value: &Value) -> Option<ListedTemplate> {
    let lower = |key: &str| nonempty(value, key).map(str::to_ascii_lowercase).unwrap_or_default();
    let components = value.get("components").filter(|c| c.is_array()).cloned().unwrap_or_else(|| Value::Array(vec![]));
    let body = components
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("body")))
        .and_then(|c| c.get("text").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    Some(ListedTemplate {
        name: nonempty(value, "name")?.to_owned(),
        language: nonempty(value, "language")?.to_owned(),
        category: lower("category"),
        status: lower("status"),
        body,
        components,
    })
}

impl Api<'_> {
    /// Every template under `{url}` (`…/{waba-id}/message_templates`), all pages.
    pub(in crate::providers) async fn list_templates(&self, url: &str) -> Result<Vec<ListedTemplate>, ProviderError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_url = Self::url(url)?;
            {
                let mut query = page_url.query_pairs_mut();
                query.append_pair("fields", FIELDS).append_pair("limit", PAGE_SIZE);
                if let Some(cursor) = &after {
                    query.append_pair("after", cursor);
                }
            }
            let (templates, next) = parse_page(&self.get_json(page_url.as_str()).await?);
            all.extend(templates);
            // A cursor that does not move would loop for ever on a misbehaving server.
            if next.is_none() || next == after {
                break;
            }
            after = next;
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::mock::MockServer;
    use super::*;
    use crate::providers::{AccountConfig, Credentials, Http, Provider, ProviderKind, meta::Meta};

    const FIXTURE: &str = include_str!("../../../tests/fixtures/providers/meta-cloud-api/templates_list_response.json");

    #[test]
    fn the_fixture_lists_two_approved_templates_on_one_page() {
        let (templates, next) = parse_page(&serde_json::from_str(FIXTURE).unwrap());
        assert_eq!(next, None, "cursors without `paging.next`: the last page");
        assert_eq!(templates.len(), 2);
        let promo = &templates[1];
        assert_eq!(promo.name, "2023_april_promo");
        assert_eq!(promo.language, "en_US");
        assert_eq!(promo.status, "approved");
        assert_eq!(promo.category, "marketing");
        assert!(promo.body.starts_with("Hi {{1}}, our Fall Sale is on! Use promo code {{2}}"), "{}", promo.body);
        assert_eq!(promo.components.as_array().map(Vec::len), Some(4));
        assert_eq!(templates[0].name, "hello_world");
        assert!(templates[0].body.starts_with("Welcome and congratulations!!"));
    }

    #[test]
    fn a_next_link_pages_on_and_nameless_templates_are_skipped() {
        let page = json!({
            "data": [{ "name": "", "language": "en" }, { "name": "a", "language": "ar", "status": "PAUSED" }],
            "paging": { "cursors": { "before": "B", "after": "QVFI" }, "next": "https://graph.facebook.com/…" }
        });
        let (templates, next) = parse_page(&page);
        assert_eq!(next.as_deref(), Some("QVFI"));
        assert_eq!(templates.len(), 1);
        assert_eq!((templates[0].status.as_str(), templates[0].body.as_str()), ("paused", ""));
    }

    fn account(base: &str, waba: Option<&str>) -> AccountConfig {
        let mut credentials = vec![("access_token", "EAAG-token"), ("phone_number_id", "1065")];
        credentials.extend(waba.map(|w| ("waba_id", w)));
        AccountConfig {
            kind: ProviderKind::Meta,
            base_url: base.to_owned(),
            phone: crate::domain::phone::Phone::parse("+15550783881").unwrap(),
            credentials: Credentials(credentials.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            webhook_secret: "s".to_owned(),
            webhook_url: "https://crm.example.com/hooks/meta/1".to_owned(),
        }
    }

    #[tokio::test]
    async fn meta_reads_every_page_by_its_cursor() {
        crate::init_crypto();
        let server = MockServer::start().await;
        let mut first: Value = serde_json::from_str(FIXTURE).unwrap();
        first["paging"]["next"] =
            json!("https://graph.facebook.com/v23.0/102290129340398/message_templates?after=MjQZD");
        server.reply(200, &first.to_string());
        server.reply(200, r#"{"data":[{"name":"order_update","language":"ar","status":"APPROVED","category":"UTILITY","components":[{"type":"BODY","text":"{{1}}"}]}],"paging":{"cursors":{"before":"MjQZD","after":"MjUZD"}}}"#);
        let listed = Meta.list_templates(&Http::new(), &account(&server.base, Some("102290129340398"))).await.unwrap();
        assert_eq!(
            listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["hello_world", "2023_april_promo", "order_update"]
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert!(requests[0].path.starts_with("/102290129340398/message_templates?fields="), "{}", requests[0].path);
        assert!(!requests[0].path.contains("after="));
        assert!(requests[1].path.ends_with("&after=MjQZD"), "{}", requests[1].path);
        assert_eq!(requests[0].header("authorization"), Some("Bearer EAAG-token"));

        let missing = Meta.list_templates(&Http::new(), &account(&server.base, None)).await.unwrap_err();
        assert!(missing.message.contains("waba_id"), "{missing:?}");
        assert_eq!(server.requests().len(), 2, "nothing asked without the business account id");
    }
}
