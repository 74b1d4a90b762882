//! The workspace's WhatsApp message templates: synced from the provider or entered by hand, offered by the composer's picker.
//!
//! Sync: the provider (Meta Cloud API; see [`crate::providers::Provider::lists_templates`]) is the truth for a
//! number's own templates. Each is upserted by (workspace, number, name, language); a template of that number the
//! provider no longer lists is deleted, since it could not be sent any more. Workspace-wide templates (no number)
//! are never touched by a sync. Numbers of the other providers get their templates entered by hand.
//!
//! Anyone in the workspace reads templates and sends the approved ones; only `ManageSettings` changes them.

pub mod rules;

use std::time::Duration;

use super::compose::Compose;
use super::outbound::{OutboundService, Target};
use super::{Shared, WhatsAppError, describe_failure};
use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::providers::{ListedTemplate, ProviderKind};
use crate::services::access::Actor;
use crate::store::message_templates::{self, TemplateRow};
use crate::store::messages::Message;
use crate::store::whatsapp_accounts::{self, AccountRow};
use crate::store::{Conn, StoreError, conversations, now_millis};

use rules::{Parts, VARIABLE_FIELDS};

/// How long a sync waits for the provider (every page together).
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// A template as the pages and the API show it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateView {
    pub id: i64,
    /// `None`: every number of the workspace.
    pub account_id: Option<i64>,
    pub account_name: Option<String>,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub body: String,
    /// The provider's components (a JSON array, empty for templates entered by hand).
    pub components: serde_json::Value,
    /// How many body variables (`{{1}}`…`{{n}}`) it takes; 0 when they are not numbered so.
    pub variables: usize,
    pub parts: Parts,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TemplateView {
    /// Whether the composer can send it now: approved, and nothing but body variables to fill.
    pub fn sendable(&self) -> bool {
        self.status == "approved" && self.parts.unsupported.is_none()
    }
}

/// A template typed by hand; on a change, the stored values fill what was not sent.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub account_id: Option<i64>,
    pub name: String,
    pub language: String,
    /// Empty, or one of [`rules::CATEGORIES`].
    pub category: String,
    /// One of [`rules::STATUSES`]; empty is `approved`.
    pub status: String,
    pub body: String,
}

/// Changes to a template; `None` keeps the stored value (`account_id: Some(None)` makes it workspace-wide).
#[derive(Debug, Clone, Default)]
pub struct TemplateChanges {
    pub account_id: Option<Option<i64>>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub body: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Templates the provider listed.
    pub listed: usize,
    pub added: usize,
    pub updated: usize,
    /// The number's templates the provider no longer lists, deleted.
    pub removed: usize,
}

fn view(row: TemplateRow, accounts: &[AccountRow]) -> TemplateView {
    let components = serde_json::from_str(&row.components).unwrap_or_else(|_| serde_json::json!([]));
    let parts = rules::parts(&components, &row.body);
    TemplateView {
        id: row.id,
        account_id: row.account_id,
        account_name: row.account_id.and_then(|id| accounts.iter().find(|a| a.id == id).map(|a| a.name.clone())),
        variables: rules::placeholders(&row.body).unwrap_or(0),
        parts,
        components,
        name: row.name,
        language: row.language,
        category: row.category,
        status: row.status,
        body: row.body,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Checks typed input; every field error at once.
fn check(input: &TemplateInput) -> Result<TemplateInput, WhatsAppError> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if !rules::name_ok(name) {
        errors.push(("name", Msg::new("templates.name_invalid")));
    }
    let language = input.language.trim();
    if !rules::language_ok(language) {
        errors.push(("language", Msg::new("templates.language_invalid")));
    }
    let category = input.category.trim().to_ascii_lowercase();
    if !category.is_empty() && !rules::CATEGORIES.contains(&category.as_str()) {
        errors.push(("category", Msg::new("templates.category_invalid")));
    }
    let status = input.status.trim().to_ascii_lowercase();
    let status = if status.is_empty() { "approved".to_owned() } else { status };
    if !rules::STATUSES.contains(&status.as_str()) {
        errors.push(("status", Msg::new("templates.status_invalid")));
    }
    if let Some(msg) = rules::body_error(&input.body) {
        errors.push(("body", msg));
    }
    if !errors.is_empty() {
        return Err(WhatsAppError::Fields(errors));
    }
    Ok(TemplateInput {
        account_id: input.account_id,
        name: name.to_owned(),
        language: language.to_owned(),
        category,
        status,
        body: input.body.trim().to_owned(),
    })
}

fn duplicate() -> WhatsAppError {
    WhatsAppError::Fields(vec![("name", Msg::new("templates.duplicate"))])
}

pub struct TemplateService {
    shared: Shared,
}

impl TemplateService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The workspace's templates (`account_id`: one number's own only). Every member may read them.
    pub async fn list(&self, actor: &Actor, account_id: Option<i64>) -> Result<Vec<TemplateView>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let accounts = whatsapp_accounts::list(&mut conn, actor.workspace_id).await?;
        let rows = message_templates::list(&mut conn, actor.workspace_id, account_id).await?;
        Ok(rows.into_iter().map(|row| view(row, &accounts)).collect())
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<TemplateView, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let row = message_templates::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let accounts = whatsapp_accounts::list(&mut conn, actor.workspace_id).await?;
        Ok(view(row, &accounts))
    }

    /// The approved templates a number may send (its own and the workspace-wide ones), for the composer.
    pub async fn approved_for(&self, actor: &Actor, account_id: i64) -> Result<Vec<TemplateView>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let accounts = whatsapp_accounts::list(&mut conn, actor.workspace_id).await?;
        let rows = message_templates::approved_for(&mut conn, actor.workspace_id, account_id).await?;
        Ok(rows.into_iter().map(|row| view(row, &accounts)).collect())
    }

    /// Adds a template by hand. Needs [`Permission::ManageSettings`].
    pub async fn create(&self, actor: &Actor, input: &TemplateInput) -> Result<TemplateView, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let input = check(input)?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        check_account(&mut tx, actor, input.account_id).await?;
        if message_templates::find(&mut tx, actor.workspace_id, input.account_id, &input.name, &input.language)
            .await?
            .is_some()
        {
            return Err(duplicate());
        }
        let row = TemplateRow {
            id: 0,
            workspace_id: actor.workspace_id,
            account_id: input.account_id,
            name: input.name,
            language: input.language,
            category: input.category,
            status: input.status,
            body: input.body,
            components: "[]".to_owned(),
            created_at: now,
            updated_at: now,
        };
        let id = message_templates::insert(&mut tx, &row).await.map_err(conflict)?;
        actor.audit(&mut tx, "inbox.template_created", &format!("template:{id}"), audit_detail(&row)).await?;
        tx.commit().await?;
        self.get(actor, id).await
    }

    /// Changes a template. Needs [`Permission::ManageSettings`]. A synced template may be changed too; the next
    /// sync puts back what the provider says.
    pub async fn update(
        &self,
        actor: &Actor,
        id: i64,
        changes: &TemplateChanges,
    ) -> Result<TemplateView, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let mut tx = self.shared.db().write().await?;
        let stored = message_templates::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let pick = |new: &Option<String>, old: &str| new.clone().unwrap_or_else(|| old.to_owned());
        let input = check(&TemplateInput {
            account_id: changes.account_id.unwrap_or(stored.account_id),
            name: pick(&changes.name, &stored.name),
            language: pick(&changes.language, &stored.language),
            category: pick(&changes.category, &stored.category),
            status: pick(&changes.status, &stored.status),
            body: pick(&changes.body, &stored.body),
        })?;
        check_account(&mut tx, actor, input.account_id).await?;
        let same = message_templates::find(&mut tx, actor.workspace_id, input.account_id, &input.name, &input.language)
            .await?;
        if same.is_some_and(|other| other.id != id) {
            return Err(duplicate());
        }
        let row = TemplateRow {
            account_id: input.account_id,
            name: input.name,
            language: input.language,
            category: input.category,
            status: input.status,
            body: input.body,
            updated_at: now_millis(),
            ..stored
        };
        message_templates::update(&mut tx, &row).await.map_err(conflict)?;
        actor.audit(&mut tx, "inbox.template_changed", &format!("template:{id}"), audit_detail(&row)).await?;
        tx.commit().await?;
        self.get(actor, id).await
    }

    /// Deletes a template. Needs [`Permission::ManageSettings`].
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<(), WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let mut tx = self.shared.db().write().await?;
        if !message_templates::delete(&mut tx, actor.workspace_id, id).await? {
            return Err(WhatsAppError::NotFound);
        }
        actor.audit(&mut tx, "inbox.template_deleted", &format!("template:{id}"), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a number's templates from its provider and stores them (see the module's notes). Needs
    /// [`Permission::ManageSettings`]. A provider without a listing, or a failed listing, is refused (409) with the
    /// reason, and nothing changes.
    pub async fn sync(&self, actor: &Actor, account_id: i64) -> Result<SyncReport, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let mut conn = self.shared.db().read().await?;
        let row = whatsapp_accounts::get(&mut conn, actor.workspace_id, account_id)
            .await?
            .ok_or_else(|| WhatsAppError::Fields(vec![("whatsapp_account_id", Msg::new("whatsapp.number_unknown"))]))?;
        drop(conn);
        let listed = self.listing(&row).await?;
        let mut tx = self.shared.db().write().await?;
        let report = store_listed(&mut tx, actor.workspace_id, account_id, &listed).await?;
        let detail = serde_json::json!({ "listed": listed.len() });
        actor.audit(&mut tx, "inbox.templates_synced", &format!("whatsapp_account:{account_id}"), detail).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// A number's templates as its provider lists them; refused (409) with the reason when the provider has no
    /// listing or the listing fails.
    async fn listing(&self, row: &AccountRow) -> Result<Vec<ListedTemplate>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let base = self.shared.base_url(&mut conn).await?;
        drop(conn);
        let account = self.shared.account_config(row, &base)?;
        let connector = account.kind.connector();
        if !connector.lists_templates() {
            return Err(WhatsAppError::Refused {
                code: "sync_unsupported",
                msg: Msg::new("templates.sync_unsupported"),
            });
        }
        match tokio::time::timeout(SYNC_TIMEOUT, connector.list_templates(&self.shared.http, &account)).await {
            Ok(Ok(listed)) => Ok(listed),
            Ok(Err(e)) => Err(sync_failed(describe_failure(&e))),
            Err(_) => Err(sync_failed("the provider did not answer within 60 seconds".to_owned())),
        }
    }

    /// The daily sync: every active number, of every workspace, whose provider lists templates (Meta with its
    /// business account id). A number that fails is logged and skipped; the others are still synced.
    pub async fn sync_all(&self) -> Result<String, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let numbers = whatsapp_accounts::all_with_timezone(&mut conn).await?;
        drop(conn);
        let (mut synced, mut failed) = (0, 0);
        for (row, _) in numbers.into_iter().filter(|(row, _)| row.status == "active") {
            let lists = ProviderKind::parse(&row.provider).is_some_and(|kind| kind.connector().lists_templates());
            if !lists {
                continue;
            }
            let listed = match self.listing(&row).await {
                Ok(listed) => listed,
                Err(e) => {
                    tracing::warn!(number = row.id, error = ?e, "template sync failed");
                    failed += 1;
                    continue;
                }
            };
            let mut tx = self.shared.db().write().await?;
            store_listed(&mut tx, row.workspace_id, row.id, &listed).await?;
            tx.commit().await?;
            synced += 1;
        }
        Ok(format!("synced the templates of {synced} numbers, {failed} failed"))
    }

    /// `templates-sync`: [`Self::sync_all`] once a day, at a quiet hour.
    pub fn schedule(self: &std::sync::Arc<Self>) -> Result<crate::jobs::cron::Schedule, String> {
        let service = std::sync::Arc::clone(self);
        crate::jobs::cron::Schedule::new("templates-sync", "17 4 * * *", true, move || {
            let service = std::sync::Arc::clone(&service);
            async move { service.sync_all().await.map_err(|e| e.to_string()) }
        })
    }

    /// Sends an approved template into a conversation with its body variables in order (`values[0]` is `{{1}}`).
    /// A missing or unusable value is a field error on its `var_N` field, and nothing is sent.
    pub async fn send(
        &self,
        actor: &Actor,
        conversation_id: i64,
        template_id: i64,
        values: &[String],
    ) -> Result<Message, WhatsAppError> {
        actor.require_write()?;
        let mut conn = self.shared.db().read().await?;
        let restricted = super::conversations::restriction(&mut conn, actor).await?;
        let conversation = conversations::get(&mut conn, actor.workspace_id, conversation_id)
            .await?
            .filter(|c| super::conversations::visible_under(restricted, c))
            .ok_or(WhatsAppError::NotFound)?;
        let accounts = whatsapp_accounts::list(&mut conn, actor.workspace_id).await?;
        let row = message_templates::get(&mut conn, actor.workspace_id, template_id)
            .await?
            .ok_or_else(|| WhatsAppError::Fields(vec![("template", Msg::new("templates.unknown"))]))?;
        drop(conn);
        if row.account_id.is_some_and(|a| a != conversation.account_id) {
            return Err(WhatsAppError::Fields(vec![("template", Msg::new("templates.not_for_number"))]));
        }
        let template = view(row, &accounts);
        if template.status != "approved" {
            let msg = Msg::with("templates.not_approved", &[("status", template.status.clone())]);
            return Err(WhatsAppError::Refused { code: "template_not_approved", msg });
        }
        if let Some(reason) = template.parts.unsupported {
            return Err(WhatsAppError::Refused { code: "template_unsupported", msg: Msg::new(reason) });
        }
        let variables = variables(&template, values)?;
        let compose = Compose::Template { name: template.name, language: template.language, variables };
        OutboundService::new(self.shared.clone()).send(actor, Target::Conversation(conversation_id), &compose).await
    }
}

/// The values for a template's variables, trimmed, or the field error of each one missing or unusable.
pub fn variables(template: &TemplateView, values: &[String]) -> Result<Vec<String>, WhatsAppError> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(template.variables);
    for (index, field) in VARIABLE_FIELDS.iter().enumerate().take(template.variables) {
        let value = values.get(index).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            errors.push((*field, Msg::with("templates.variable_missing", &[("n", (index + 1).to_string())])));
        } else if !rules::variable_ok(value) {
            errors.push((*field, Msg::new("templates.variable_invalid")));
        }
        out.push(value.to_owned());
    }
    if errors.is_empty() { Ok(out) } else { Err(WhatsAppError::Fields(errors)) }
}

fn sync_failed(detail: String) -> WhatsAppError {
    WhatsAppError::Refused { code: "sync_failed", msg: Msg::with("templates.sync_failed", &[("detail", detail)]) }
}

/// A unique-name race lost to another writer reads as the same field error as the check before it.
fn conflict(e: StoreError) -> WhatsAppError {
    match e {
        StoreError::Conflict { .. } => duplicate(),
        other => other.into(),
    }
}

/// A template's number must be one of the workspace's.
async fn check_account(conn: &mut Conn, actor: &Actor, account_id: Option<i64>) -> Result<(), WhatsAppError> {
    if let Some(id) = account_id
        && whatsapp_accounts::get(conn, actor.workspace_id, id).await?.is_none()
    {
        return Err(WhatsAppError::Fields(vec![("account_id", Msg::new("whatsapp.number_unknown"))]));
    }
    Ok(())
}

/// Upserts what the provider listed for a number and deletes that number's templates it no longer lists.
async fn store_listed(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    listed: &[ListedTemplate],
) -> Result<SyncReport, StoreError> {
    let now = now_millis();
    let existing = message_templates::list(conn, workspace_id, Some(account_id)).await?;
    let mut report = SyncReport { listed: listed.len(), ..SyncReport::default() };
    let mut kept = Vec::new();
    for template in listed {
        let key = (template.name.as_str(), template.language.as_str());
        // The same name and language twice in one listing: the first wins.
        if kept.iter().any(|(name, language, _)| (*name, *language) == key) {
            continue;
        }
        let components = template.components.to_string();
        let found = existing.iter().find(|row| (row.name.as_str(), row.language.as_str()) == key);
        let id = match found {
            Some(row) => {
                let changed = row.category != template.category
                    || row.status != template.status
                    || row.body != template.body
                    || row.components != components;
                if changed {
                    let updated = TemplateRow {
                        category: template.category.clone(),
                        status: template.status.clone(),
                        body: template.body.clone(),
                        components,
                        updated_at: now,
                        ..row.clone()
                    };
                    message_templates::update(conn, &updated).await?;
                    report.updated += 1;
                }
                row.id
            }
            None => {
                let new = TemplateRow {
                    id: 0,
                    workspace_id,
                    account_id: Some(account_id),
                    name: template.name.clone(),
                    language: template.language.clone(),
                    category: template.category.clone(),
                    status: template.status.clone(),
                    body: template.body.clone(),
                    components,
                    created_at: now,
                    updated_at: now,
                };
                report.added += 1;
                message_templates::insert(conn, &new).await?
            }
        };
        kept.push((key.0, key.1, id));
    }
    for row in existing.iter().filter(|row| !kept.iter().any(|(_, _, id)| *id == row.id)) {
        message_templates::delete(conn, workspace_id, row.id).await?;
        report.removed += 1;
    }
    Ok(report)
}

/// What the audit log keeps of a template change: which template, not its whole text.
fn audit_detail(row: &TemplateRow) -> serde_json::Value {
    serde_json::json!({ "name": row.name, "language": row.language, "status": row.status })
}
