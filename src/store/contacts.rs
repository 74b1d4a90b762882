//! Contacts and their provider ids: one person per workspace, found by canonical phone or by any provider id
//! (wa_id, JID, BSUID, a gateway's contact id) and created when none matches.

use super::search::Terms;
use super::{Backend, Conn, Row, StoreError, Value};

/// A contact as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub workspace_id: i64,
    pub phone: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, phone, name, email, created_at, updated_at";

fn contact(row: &Row) -> Result<Contact, StoreError> {
    Ok(Contact {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        phone: row.opt_text(2)?,
        name: row.text(3)?,
        email: row.opt_text(4)?,
        created_at: row.int(5)?,
        updated_at: row.int(6)?,
    })
}

/// Who a provider says someone is: the canonical phone when known, a name, and provider ids as (kind, value).
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    pub phone: Option<&'a str>,
    pub name: Option<&'a str>,
    pub ids: Vec<(&'static str, String)>,
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Contact>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM contacts WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(contact).transpose()
}

/// The provider ids of a contact, as (kind, value).
pub async fn identities(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Vec<(String, String)>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT kind, value FROM contact_identities WHERE workspace_id = $1 AND contact_id = $2 ORDER BY kind",
            &[workspace_id.into(), id.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
}

/// The contact this identity belongs to, created when none matches; the phone, a missing name and every new
/// provider id are added to it. The phone wins over provider ids when both match different contacts.
pub async fn resolve(conn: &mut Conn, workspace_id: i64, who: &Identity<'_>, now: i64) -> Result<i64, StoreError> {
    let mut found = None;
    if let Some(phone) = who.phone {
        found = conn
            .fetch_optional(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND phone = $2",
                &[workspace_id.into(), phone.into()],
            )
            .await?
            .map(|r| r.int(0))
            .transpose()?;
    }
    for (kind, value) in &who.ids {
        if found.is_some() {
            break;
        }
        found = conn
            .fetch_optional(
                "SELECT contact_id FROM contact_identities WHERE workspace_id = $1 AND kind = $2 AND value = $3",
                &[workspace_id.into(), (*kind).into(), value.as_str().into()],
            )
            .await?
            .map(|r| r.int(0))
            .transpose()?;
    }
    let id = match found {
        Some(id) => {
            // A contact first known by a provider id learns its phone, unless another contact already has it.
            conn.execute(
                "UPDATE contacts SET
                    phone = CASE WHEN phone IS NULL AND $3 IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM contacts o WHERE o.workspace_id = $1 AND o.phone = $3) THEN $3 ELSE phone END,
                    name = CASE WHEN name = '' AND $4 IS NOT NULL THEN $4 ELSE name END
                 WHERE workspace_id = $1 AND id = $2 AND ((phone IS NULL AND $3 IS NOT NULL) OR (name = '' AND $4 IS NOT NULL))",
                &[workspace_id.into(), id.into(), who.phone.into(), who.name.into()],
            )
            .await?;
            id
        }
        None => conn
            .fetch_one(
                "INSERT INTO contacts (workspace_id, phone, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (workspace_id, phone) WHERE phone IS NOT NULL DO UPDATE SET updated_at = contacts.updated_at
                 RETURNING id",
                &[workspace_id.into(), who.phone.into(), who.name.unwrap_or_default().into(), now.into()],
            )
            .await?
            .int(0)?,
    };
    for (kind, value) in &who.ids {
        conn.execute(
            "INSERT INTO contact_identities (workspace_id, kind, value, contact_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, kind, value) DO NOTHING",
            &[workspace_id.into(), (*kind).into(), value.as_str().into(), id.into()],
        )
        .await?;
    }
    Ok(id)
}

/// A contact's custom fields as stored: a JSON object of strings (`{}` when none).
pub async fn custom_fields(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<String>, StoreError> {
    conn.fetch_optional(
        "SELECT custom_fields FROM contacts WHERE workspace_id = $1 AND id = $2",
        &[workspace_id.into(), id.into()],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}

/// What a person may change about a contact (the phone is the provider's).
#[derive(Debug, Clone)]
pub struct ContactChange<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// A JSON object of strings.
    pub custom_fields: &'a str,
}

/// `false` when the contact does not exist in the workspace.
pub async fn update(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    change: &ContactChange<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE contacts SET name = $3, email = $4, custom_fields = $5, updated_at = $6
             WHERE workspace_id = $1 AND id = $2",
            &[
                workspace_id.into(),
                id.into(),
                change.name.into(),
                change.email.into(),
                change.custom_fields.into(),
                now.into(),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Escapes LIKE's wildcards so a search text matches literally (with `ESCAPE '\'`).
/// Contacts whose name has words starting with the typed ones (any script, any case) or whose number starts with
/// the typed one (all for an empty query), by id, newest first, older than `before` (an id) when given. Names go
/// through each engine's full-text index, numbers through the phone index as a range.
pub async fn search(
    conn: &mut Conn,
    workspace_id: i64,
    query: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Contact>, StoreError> {
    let before = before.unwrap_or(i64::MAX);
    let query = query.trim();
    let mut params: Vec<Value> = vec![workspace_id.into(), before.into(), limit.into()];
    let mut matches = Vec::new();
    if let Some(terms) = Terms::parse(query) {
        params.push(terms.expression(conn.backend(), "name", workspace_id, true).into());
        let p = params.len();
        matches.push(match conn.backend() {
            Backend::Sqlite => format!("id IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ${p})"),
            Backend::Postgres => format!("to_tsvector('simple', name) @@ to_tsquery('simple', ${p})"),
        });
    }
    if let Some((low, high)) = Terms::phone_range(query) {
        params.push(low.into());
        let mut range = format!("(phone >= ${}", params.len());
        if let Some(high) = high {
            params.push(high.into());
            range.push_str(&format!(" AND phone < ${}", params.len()));
        }
        range.push(')');
        matches.push(range);
    }
    let condition = match (query.is_empty(), matches.is_empty()) {
        (true, _) => "1 = 1".to_owned(),
        (false, true) => "1 = 0".to_owned(),
        (false, false) => format!("({})", matches.join(" OR ")),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts WHERE workspace_id = $1 AND id < $2 AND {condition} ORDER BY id DESC LIMIT $3"
    );
    conn.fetch_all(&sql, &params).await?.iter().map(contact).collect()
}
