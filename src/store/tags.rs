//! Tags: a workspace's coloured labels, and which conversations and contacts carry them.
//!
//! Every function takes the workspace id and filters by it, so a tag id from another workspace neither matches
//! nor attaches.

use std::collections::HashMap;

use super::{Conn, Row, StoreError, Value};

/// A label with a colour (`#rrggbb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    pub color: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "t.id, t.workspace_id, t.name, t.color, t.created_at, t.updated_at";

fn tag(row: &Row) -> Result<Tag, StoreError> {
    Ok(Tag {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        name: row.text(2)?,
        color: row.text(3)?,
        created_at: row.int(4)?,
        updated_at: row.int(5)?,
    })
}

/// The workspace's tags, by name.
pub async fn list(conn: &mut Conn, workspace_id: i64) -> Result<Vec<Tag>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tags t WHERE t.workspace_id = $1 ORDER BY t.name_lower, t.id");
    conn.fetch_all(&sql, &[workspace_id.into()]).await?.iter().map(tag).collect()
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Tag>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tags t WHERE t.workspace_id = $1 AND t.id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(tag).transpose()
}

/// Creates a tag; a name already taken in the workspace (ignoring case) is [`StoreError::Conflict`].
pub async fn create(conn: &mut Conn, workspace_id: i64, name: &str, color: &str, now: i64) -> Result<Tag, StoreError> {
    let id = conn
        .fetch_one(
            "INSERT INTO tags (workspace_id, name, name_lower, color, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            &[workspace_id.into(), name.into(), name.to_lowercase().into(), color.into(), now.into()],
        )
        .await?
        .int(0)?;
    get(conn, workspace_id, id).await?.ok_or(StoreError::NotFound)
}

/// Renames and recolours a tag; `false` when it does not exist in the workspace, a taken name is
/// [`StoreError::Conflict`].
pub async fn update(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    name: &str,
    color: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE tags SET name = $3, name_lower = $4, color = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), name.into(), name.to_lowercase().into(), color.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Deletes a tag (its links go with it); `false` when it does not exist in the workspace.
pub async fn delete(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<bool, StoreError> {
    let changed =
        conn.execute("DELETE FROM tags WHERE workspace_id = $1 AND id = $2", &[workspace_id.into(), id.into()]).await?;
    Ok(changed == 1)
}

/// Which of these tag ids exist in the workspace (to refuse unknown ones before changing anything).
pub async fn existing_ids(conn: &mut Conn, workspace_id: i64, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = vec![workspace_id.into()];
    let list = in_list(&mut params, ids);
    let sql = format!("SELECT id FROM tags WHERE workspace_id = $1 AND id IN ({list}) ORDER BY id");
    conn.fetch_all(&sql, &params).await?.iter().map(|r| r.int(0)).collect()
}

/// Appends `ids` as parameters and returns their placeholders, comma-separated.
fn in_list(params: &mut Vec<Value>, ids: &[i64]) -> String {
    let mut placeholders = Vec::with_capacity(ids.len());
    for id in ids {
        params.push((*id).into());
        placeholders.push(format!("${}", params.len()));
    }
    placeholders.join(", ")
}

/// The two link tables, named once so conversations and contacts share the code below.
#[derive(Clone, Copy)]
enum Link {
    Conversation,
    Contact,
}

impl Link {
    /// (link table, owner column, owner table).
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Conversation => ("conversation_tags", "conversation_id", "conversations"),
            Self::Contact => ("contact_tags", "contact_id", "contacts"),
        }
    }
}

async fn tags_of(conn: &mut Conn, link: Link, workspace_id: i64, owner: i64) -> Result<Vec<Tag>, StoreError> {
    let (table, column, _) = link.names();
    let sql = format!(
        "SELECT {COLUMNS} FROM {table} l JOIN tags t ON t.id = l.tag_id
         WHERE l.workspace_id = $1 AND l.{column} = $2 ORDER BY t.name_lower, t.id"
    );
    conn.fetch_all(&sql, &[workspace_id.into(), owner.into()]).await?.iter().map(tag).collect()
}

async fn add(
    conn: &mut Conn,
    link: Link,
    workspace_id: i64,
    owner: i64,
    tag_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let (table, column, owners) = link.names();
    // Both the tag and the owner must be the workspace's; a link that exists already changes nothing.
    let sql = format!(
        "INSERT INTO {table} (workspace_id, {column}, tag_id, created_at)
         SELECT $1, o.id, t.id, $4 FROM tags t JOIN {owners} o ON o.id = $2 AND o.workspace_id = $1
         WHERE t.workspace_id = $1 AND t.id = $3
         ON CONFLICT DO NOTHING"
    );
    let added = conn.execute(&sql, &[workspace_id.into(), owner.into(), tag_id.into(), now.into()]).await?;
    Ok(added == 1)
}

async fn remove(conn: &mut Conn, link: Link, workspace_id: i64, owner: i64, tag_id: i64) -> Result<bool, StoreError> {
    let (table, column, _) = link.names();
    let sql = format!("DELETE FROM {table} WHERE workspace_id = $1 AND {column} = $2 AND tag_id = $3");
    Ok(conn.execute(&sql, &[workspace_id.into(), owner.into(), tag_id.into()]).await? == 1)
}

async fn set(
    conn: &mut Conn,
    link: Link,
    workspace_id: i64,
    owner: i64,
    tag_ids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    let (table, column, _) = link.names();
    let mut params: Vec<Value> = vec![workspace_id.into(), owner.into()];
    let sql = if tag_ids.is_empty() {
        format!("DELETE FROM {table} WHERE workspace_id = $1 AND {column} = $2")
    } else {
        let list = in_list(&mut params, tag_ids);
        format!("DELETE FROM {table} WHERE workspace_id = $1 AND {column} = $2 AND tag_id NOT IN ({list})")
    };
    conn.execute(&sql, &params).await?;
    for tag_id in tag_ids {
        add(conn, link, workspace_id, owner, *tag_id, now).await?;
    }
    Ok(())
}

/// The tags of a conversation, by name.
pub async fn of_conversation(conn: &mut Conn, workspace_id: i64, conversation_id: i64) -> Result<Vec<Tag>, StoreError> {
    tags_of(conn, Link::Conversation, workspace_id, conversation_id).await
}

/// Tags a conversation; `false` when it already had the tag or the tag or conversation is not the workspace's.
pub async fn add_to_conversation(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    tag_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    add(conn, Link::Conversation, workspace_id, conversation_id, tag_id, now).await
}

/// Untags a conversation; `false` when it did not have the tag.
pub async fn remove_from_conversation(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    tag_id: i64,
) -> Result<bool, StoreError> {
    remove(conn, Link::Conversation, workspace_id, conversation_id, tag_id).await
}

/// Makes the conversation's tags exactly `tag_ids` (ids not in the workspace are ignored).
pub async fn set_for_conversation(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    tag_ids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    set(conn, Link::Conversation, workspace_id, conversation_id, tag_ids, now).await
}

/// The tags of many conversations in one query (for a list page), keyed by conversation id.
pub async fn of_conversations(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_ids: &[i64],
) -> Result<HashMap<i64, Vec<Tag>>, StoreError> {
    let mut by_conversation: HashMap<i64, Vec<Tag>> = HashMap::new();
    if conversation_ids.is_empty() {
        return Ok(by_conversation);
    }
    let mut params: Vec<Value> = vec![workspace_id.into()];
    let list = in_list(&mut params, conversation_ids);
    let sql = format!(
        "SELECT l.conversation_id, {COLUMNS} FROM conversation_tags l JOIN tags t ON t.id = l.tag_id
         WHERE l.workspace_id = $1 AND l.conversation_id IN ({list}) ORDER BY t.name_lower, t.id"
    );
    for row in conn.fetch_all(&sql, &params).await? {
        let conversation_id = row.int(0)?;
        let shifted = Row(row.0.into_iter().skip(1).collect());
        by_conversation.entry(conversation_id).or_default().push(tag(&shifted)?);
    }
    Ok(by_conversation)
}

/// The tags of a contact, by name.
pub async fn of_contact(conn: &mut Conn, workspace_id: i64, contact_id: i64) -> Result<Vec<Tag>, StoreError> {
    tags_of(conn, Link::Contact, workspace_id, contact_id).await
}

/// Tags a contact; `false` when it already had the tag or the tag or contact is not the workspace's.
pub async fn add_to_contact(
    conn: &mut Conn,
    workspace_id: i64,
    contact_id: i64,
    tag_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    add(conn, Link::Contact, workspace_id, contact_id, tag_id, now).await
}

/// Untags a contact; `false` when it did not have the tag.
pub async fn remove_from_contact(
    conn: &mut Conn,
    workspace_id: i64,
    contact_id: i64,
    tag_id: i64,
) -> Result<bool, StoreError> {
    remove(conn, Link::Contact, workspace_id, contact_id, tag_id).await
}

/// Makes the contact's tags exactly `tag_ids` (ids not in the workspace are ignored).
pub async fn set_for_contact(
    conn: &mut Conn,
    workspace_id: i64,
    contact_id: i64,
    tag_ids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    set(conn, Link::Contact, workspace_id, contact_id, tag_ids, now).await
}
