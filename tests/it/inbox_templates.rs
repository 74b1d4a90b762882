//! Message templates over HTTP, on SQLite and Postgres, against the mock Meta provider: syncing a number's templates
//! (the mock lists exactly the fixture), the composer's picker with its variable form and preview, sending with the
//! variables in order, a missing variable and an unapproved template that send nothing, the closed window keeping
//! the picker open, templates entered by hand (pages and API) with their field errors, an agent who may pick but
//! not manage, and another workspace that finds nothing.

use serde_json::{Value, json};

use crate::api::{Api, cli_key_for_new_workspace, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::inbox_ui::{newest_message, path_of, wait_status};
use crate::mock_providers::{MockProvider, meta, post_webhook};
use crate::web_user::{Browser, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const APP_SECRET: &str = "meta-app-secret-for-templates";
const SAM_EMAIL: &str = "sam@acme.example";
const SAM_PASSWORD: &str = "copper meadow violin 42";

/// Connects a Meta number on the mock, with the business account id the mock lists templates for.
async fn connect_meta(api: &Api, mock: &MockProvider, phone: &str) -> Value {
    api.connect_meta(mock, "Support", phone, APP_SECRET, json!({ "waba_id": meta::WABA_ID })).await
}

/// A customer writes to the number; returns the conversation's id.
async fn inbound(api: &Api, mock: &MockProvider, number: &Value, customer: &str) -> i64 {
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    let phone = number["phone_number"].as_str().unwrap();
    let party = meta::CloudParty::new(&mock.auth().account, phone, customer);
    let message = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Any news about the sale?");
    assert_eq!(post_webhook(&url, &meta::signed(&message, APP_SECRET)).await.status(), 200);
    let listed = api.get("/api/v1/conversations", &api.owner_key).await;
    listed.body["conversations"][0]["id"].as_i64().unwrap()
}

/// The API's templates, by name.
async fn templates(api: &Api) -> Vec<Value> {
    let listed = api.get("/api/v1/templates", &api.owner_key).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["templates"].as_array().unwrap().clone()
}

fn id_of(templates: &[Value], name: &str) -> i64 {
    templates.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no {name} in {templates:?}"))["id"]
        .as_i64()
        .unwrap()
}

both_backends!(templates_sync_pick_and_send, templates_sync_pick_and_send_on);
async fn templates_sync_pick_and_send_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550110").await;
    let account_id = number["id"].as_i64().unwrap();
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // The optional business account id is one of Meta's credential fields on the number's page.
    assert!(owner.html(&format!("/admin/numbers/{account_id}")).await.contains("waba_id"));

    // "Sync templates" on the admin page reads the business account's listing and stores both approved templates.
    let page = owner.html("/admin/templates").await;
    assert!(page.contains(&format!("id=\"sync-{account_id}\"")), "{page}");
    let synced = owner.send("/admin/templates/sync", &[("account_id", &account_id.to_string())]).await;
    assert_eq!(synced.status(), 303);
    assert_eq!(location(&synced), "/admin/templates?done=synced&listed=2&added=2&updated=0&removed=0");
    let listing = mock.requests().into_iter().find(|r| r.path.ends_with("/message_templates")).unwrap();
    assert_eq!(listing.path, format!("/v23.0/{}/message_templates", meta::WABA_ID));
    assert_eq!(listing.header("authorization"), Some(format!("Bearer {}", mock.auth().token).as_str()));
    let stored = templates(&api).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    let promo = stored.iter().find(|t| t["name"] == "2023_april_promo").unwrap();
    assert_eq!(promo["whatsapp_account_id"], account_id);
    assert_eq!((promo["status"].as_str(), promo["language"].as_str()), (Some("approved"), Some("en_US")));
    assert_eq!((promo["variables"].as_u64(), promo["sendable"].as_bool()), (Some(2), Some(true)));
    let promo_id = promo["id"].as_i64().unwrap();
    let listed_page = owner.html("/admin/templates?done=synced&listed=2&added=2&updated=0&removed=0").await;
    assert!(listed_page.contains("Sync finished: 2 listed, 2 added") && listed_page.contains("2023_april_promo"));

    // Syncing again through the API changes nothing.
    let again = api.post("/api/v1/templates/sync", &api.owner_key, json!({ "whatsapp_account_id": account_id })).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, json!({ "listed": 2, "added": 0, "updated": 0, "removed": 0 }));

    // The picker offers them instead of the manual name-and-language form.
    let id = inbound(&api, &mock, &number, "+447700900201").await;
    let thread = owner.html(&format!("/inbox/{id}")).await;
    assert!(thread.contains("id=\"template-picker\"") && thread.contains("2023_april_promo · en_US"), "{thread}");
    assert!(!thread.contains("id=\"template_name\""), "no manual form when templates exist");

    // Choosing one (a GET) renders one labelled input per variable, the fixture's examples and the preview.
    let chosen = owner.html(&format!("/inbox/{id}?template={promo_id}")).await;
    assert!(chosen.contains("id=\"template-box\" open"), "{chosen}");
    assert!(chosen.contains("<label class=\"field__label\" for=\"var_1\">Variable {{1}}</label>"), "{chosen}");
    assert!(chosen.contains("id=\"var_2\"") && chosen.contains("placeholder=\"FALL25\""), "{chosen}");
    assert!(chosen.contains("Fall Sale") && chosen.contains("Hi {{1}}, our Fall Sale is on!"), "{chosen}");

    // Preview without a script: the page again, the body filled with what was typed, which stays in the field.
    let sends = mock.sends().len();
    let preview = owner
        .send(
            &format!("/inbox/{id}/template"),
            &[("template_id", &promo_id.to_string()), ("var_1", "Ada"), ("action", "preview")],
        )
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(html.contains("Hi Ada, our Fall Sale is on! Use promo code {{2}}"), "{html}");
    assert!(html.contains("value=\"Ada\""), "what was typed stays: {html}");

    // A missing variable: an error at its field, and nothing sent.
    let missing = owner
        .send(
            &format!("/inbox/{id}/template"),
            &[("template_id", &promo_id.to_string()), ("var_1", "Ada"), ("var_2", " "), ("action", "send")],
        )
        .await;
    assert_eq!(missing.status(), 422);
    let html = missing.text().await.unwrap();
    assert!(html.contains("id=\"var_2-error\"") && html.contains("Fill in variable {{2}}."), "{html}");
    assert_eq!(mock.sends().len(), sends, "nothing was sent");

    // Sent: the mock receives Meta's template request with the parameters in order.
    let sent = owner
        .send(
            &format!("/inbox/{id}/template"),
            &[("template_id", &promo_id.to_string()), ("var_1", "Ada"), ("var_2", "FALL25"), ("action", "send")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(location(&sent), format!("/inbox/{id}"));
    let message_id = newest_message(&api, id).await["id"].as_i64().unwrap();
    wait_status(&api, message_id, "sent").await;
    let body = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "2023_april_promo");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(
        body["template"]["components"],
        json!([{ "type": "body", "parameters": [{ "type": "text", "text": "Ada" }, { "type": "text", "text": "FALL25" }] }])
    );

    // A template that is not approved is refused with the reason, and nothing is sent.
    let pending = api
        .post(
            "/api/v1/templates",
            &api.owner_key,
            json!({ "whatsapp_account_id": account_id, "name": "winter_promo", "language": "en_US",
                    "status": "pending", "body": "Hi {{1}}" }),
        )
        .await;
    assert_eq!(pending.status, 201, "{}", pending.body);
    let sends = mock.sends().len();
    let refused = owner
        .send(
            &format!("/inbox/{id}/template"),
            &[("template_id", &pending.body["id"].to_string()), ("var_1", "Ada"), ("action", "send")],
        )
        .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"picker-error\"") && html.contains("Only approved templates can be sent."), "{html}");
    assert!(!owner.html(&format!("/inbox/{id}")).await.contains("winter_promo"), "not offered");
    assert_eq!(mock.sends().len(), sends);

    // A conversation the business started: the window is closed, the picker stays open and says why.
    let cold = api
        .post(
            "/api/v1/messages",
            &api.owner_key,
            json!({ "whatsapp_account_id": account_id, "to": "+447700900202",
                    "template": { "name": "hello_world", "language": "en_US", "variables": [] } }),
        )
        .await;
    assert_eq!(cold.status, 201, "{}", cold.body);
    let closed = owner.html(&format!("/inbox/{}", cold.body["conversation_id"])).await;
    assert!(closed.contains("id=\"window-closed\"") && closed.contains("id=\"template-box\" open"), "{closed}");
    assert!(closed.contains("id=\"picker-window-closed\"") && closed.contains("id=\"template-select\""), "{closed}");
}

both_backends!(templates_by_hand_and_who_may_manage_them, templates_by_hand_and_who_may_manage_them_on);
async fn templates_by_hand_and_who_may_manage_them_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550111").await;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(owner.html("/").await.contains("id=\"nav-templates\""), "linked in the navigation");

    // By hand on the admin page: a bad name or gapped placeholders are refused at their fields, nothing stored.
    let form = |name: &'static str, body: &'static str| {
        [
            ("account_id", ""),
            ("name", name),
            ("language", "en_US"),
            ("category", "utility"),
            ("status", "approved"),
            ("body", body),
        ]
    };
    let bad_name = owner.send("/admin/templates", &form("Order-Update", "Hi {{1}}")).await;
    assert_eq!(bad_name.status(), 422);
    let html = bad_name.text().await.unwrap();
    assert!(html.contains("id=\"name-error\"") && html.contains("value=\"Order-Update\""), "{html}");
    let gapped = owner.send("/admin/templates", &form("order_update", "Hi {{1}}, order {{3}}")).await;
    assert_eq!(gapped.status(), 422);
    assert!(gapped.text().await.unwrap().contains("Number the variables {{1}}, {{2}}, … from 1 without gaps."));
    assert!(templates(&api).await.is_empty(), "nothing stored");
    let added = owner.send("/admin/templates", &form("order_update", "Hi {{1}}, order {{2}} is on its way.")).await;
    assert_eq!(added.status(), 303);
    assert_eq!(location(&added), "/admin/templates?done=created");
    let tid = id_of(&templates(&api).await, "order_update");
    let twice = owner.send("/admin/templates", &form("order_update", "Again {{1}}")).await;
    assert_eq!(twice.status(), 422, "same name and language for the same number");
    let edited =
        owner.send(&format!("/admin/templates/{tid}"), &form("order_update", "Hello {{1}}, order {{2}}.")).await;
    assert_eq!(edited.status(), 303);
    assert!(owner.html("/admin/templates").await.contains("Hello {{1}}, order {{2}}."));

    // The API: the same rules, 422 with the field, nothing stored.
    let key = &api.owner_key;
    let bad = api.post("/api/v1/templates", key, json!({ "name": "Bad Name", "language": "en_US", "body": "x" })).await;
    assert_eq!((bad.status, bad.body["error"]["fields"]["name"].is_string()), (422, true), "{}", bad.body);
    let gap = api.post("/api/v1/templates", key, json!({ "name": "gap", "language": "en_US", "body": "{{2}}" })).await;
    assert_eq!((gap.status, gap.body["error"]["fields"]["body"].is_string()), (422, true), "{}", gap.body);
    let made = api
        .post(
            "/api/v1/templates",
            key,
            json!({ "whatsapp_account_id": number["id"], "name": "receipt", "language": "ar", "body": "شكرًا {{1}}" }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!((made.body["status"].as_str(), made.body["variables"].as_u64()), (Some("approved"), Some(1)));
    let made_id = made.body["id"].as_i64().unwrap();
    let patched = api.patch(&format!("/api/v1/templates/{made_id}"), key, json!({ "category": "utility" })).await;
    assert_eq!((patched.status, patched.body["category"].as_str()), (200, Some("utility")), "{}", patched.body);
    let bad_patch = api.patch(&format!("/api/v1/templates/{made_id}"), key, json!({ "language": "Arabic" })).await;
    assert_eq!(bad_patch.status, 422);
    assert_eq!(api.get(&format!("/api/v1/templates/{made_id}"), key).await.body["language"], "ar");
    assert_eq!(api.delete(&format!("/api/v1/templates/{made_id}"), key).await.status, 204);
    assert_eq!(api.get(&format!("/api/v1/templates/{made_id}"), key).await.status, 404);
    assert_eq!(templates(&api).await.len(), 1);

    // An agent may not manage templates, but picks and sends them.
    let sam = owner
        .send(
            "/admin/members",
            &[("name", "Sam Agent"), ("email", SAM_EMAIL), ("role", "agent"), ("password", SAM_PASSWORD)],
        )
        .await;
    assert_eq!(sam.status(), 303);
    let sam = Browser::signed_in(&api.app, SAM_EMAIL, SAM_PASSWORD).await;
    assert!(!sam.html("/").await.contains("id=\"nav-templates\""));
    assert_eq!(sam.get("/admin/templates").await.status(), 403);
    assert_eq!(sam.get(&format!("/admin/templates/{tid}")).await.status(), 403);
    assert_eq!(sam.send("/admin/templates", &form("sams_own", "Hi {{1}}")).await.status(), 403);
    assert_eq!(sam.send(&format!("/admin/templates/{tid}/delete"), &[]).await.status(), 403);
    assert_eq!(templates(&api).await.len(), 1, "nothing changed");
    let id = inbound(&api, &mock, &number, "+447700900203").await;
    let chosen = sam.html(&format!("/inbox/{id}?template={tid}")).await;
    assert!(chosen.contains("id=\"var_1\"") && chosen.contains("id=\"var_2\""), "{chosen}");
    let sent = sam
        .send(
            &format!("/inbox/{id}/template"),
            &[("template_id", &tid.to_string()), ("var_1", "Kerry"), ("var_2", "#7")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let message_id = newest_message(&api, id).await["id"].as_i64().unwrap();
    wait_status(&api, message_id, "sent").await;
    let body = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(
        (body["template"]["name"].as_str(), body["template"]["language"]["code"].as_str()),
        (Some("order_update"), Some("en_US"))
    );
    assert_eq!(body["template"]["components"][0]["parameters"][1]["text"], "#7");

    // Another workspace finds none of it.
    let outsider = cli_key_for_new_workspace(&api, "outsider-templates").await;
    assert!(api.get("/api/v1/templates", &outsider).await.body["templates"].as_array().unwrap().is_empty());
    assert_eq!(api.get(&format!("/api/v1/templates/{tid}"), &outsider).await.status, 404);
    assert_eq!(api.patch(&format!("/api/v1/templates/{tid}"), &outsider, json!({ "body": "x" })).await.status, 404);
    assert_eq!(api.delete(&format!("/api/v1/templates/{tid}"), &outsider).await.status, 404);
    let foreign_sync =
        api.post("/api/v1/templates/sync", &outsider, json!({ "whatsapp_account_id": number["id"] })).await;
    assert_eq!(foreign_sync.status, 422, "not one of its numbers");
    assert_eq!(templates(&api).await.len(), 1);
}

both_backends!(the_daily_sync_reads_every_listing_number, the_daily_sync_reads_every_listing_number_on);

/// The `templates-sync` schedule's run: every active Meta number with a business account id gets its templates; one
/// that cannot be listed (no business account id) is counted as failed without stopping the others.
async fn the_daily_sync_reads_every_listing_number_on(backend: Backend) {
    use conversure::services::whatsapp::{Shared, templates::TemplateService};
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let listed = connect_meta(&api, &mock, "+15550120").await;
    let unlisted = api.connect_meta(&mock, "No WABA", "+15550121", APP_SECRET, json!({})).await;
    // The installed instance's own configuration: its data key opens the numbers' credentials.
    let config = crate::helpers::test_config(api.app.data_dir.path(), None, &[]);
    let service = TemplateService::new(Shared::new(&config, api.db.clone()));
    let summary = service.sync_all().await.unwrap();
    assert_eq!(summary, "synced the templates of 1 numbers, 1 failed");
    let stored = templates(&api).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().all(|t| t["whatsapp_account_id"] == listed["id"]), "{stored:?}");
    assert!(stored.iter().all(|t| t["whatsapp_account_id"] != unlisted["id"]));
    // A second run changes nothing.
    assert_eq!(service.sync_all().await.unwrap(), "synced the templates of 1 numbers, 1 failed");
    assert_eq!(templates(&api).await.len(), 2);
}
