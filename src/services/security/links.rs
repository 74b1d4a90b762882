//! One-time links by email: password resets and invitations.
//!
//! A link's token is 32 random bytes (base64url) that only the email holds; the database keeps its SHA-256. Using a
//! link marks it used in the same transaction that changes the password, so a link works once even under races.

use std::time::Duration;

use super::email::{self, Content, Kind};
use super::{SecurityError, SecurityService, sha256_hex, throttle};
use crate::domain::identity::{Email, display_name};
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::mail::{self, SmtpSettings};
use crate::services::auth::{self, NewSession, SESSION_TTL};
use crate::store::security::{self as store, Purpose};
use crate::store::{accounts, audit, now_millis, sessions};

/// How long a password-reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(3600);
/// How long an invitation link works.
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Reset requests one address may make per [`throttle::WINDOW`].
const RESETS_PER_IP: i64 = 5;
/// Reset emails one account receives at most per [`throttle::WINDOW`] (more requests are answered alike, silently).
const RESETS_PER_ACCOUNT: i64 = 3;
const RESET_REQUESTED: &str = "auth.password_reset_requested";

/// An invitation made by [`SecurityService::invite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The link to `/invite/{token}` on the instance's public URL; valid for [`INVITE_TTL`], once.
    pub link: String,
    /// Whether it was emailed to the invited person (else the admin passes the link on).
    pub emailed: bool,
    /// Why sending failed, when SMTP is configured but the email did not go out.
    pub mail_error: Option<Msg>,
}

/// Who a live link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub email: String,
    pub name: String,
    /// For invitations: the workspace's name.
    pub workspace: Option<String>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Validates a new password and its confirmation; all messages at once.
fn check_new_password(
    password: &str,
    confirm: &str,
    inputs: &[&str],
    errors: &mut Vec<(&'static str, Msg)>,
) -> Result<(), ()> {
    if let Err(msg) = crate::domain::password::check(password, inputs) {
        errors.push(("password", msg));
        return Err(());
    }
    if password != confirm {
        errors.push(("password_confirm", Msg::new("security.password.mismatch")));
        return Err(());
    }
    Ok(())
}

impl SecurityService {
    /// "Forgot password": emails a reset link when the address belongs to an active account with a password. The
    /// answer is the same whether or not it does (no account probing), and the email goes out in the background so
    /// the timing does not tell either. Throttled per address.
    pub async fn request_password_reset(&self, email: &str, ip: Option<&str>) -> Result<(), SecurityError> {
        let lookup = Email::parse(email).map_err(|m| SecurityError::field("email", m))?.lookup;
        let mut conn = self.db.read().await?;
        let smtp = self.smtp(&mut conn).await?.ok_or(SecurityError::MailNotConfigured)?;
        let window = millis(throttle::WINDOW);
        let now = now_millis();
        if let Some(ip) = ip
            && let Some(at) =
                store::nth_recent_audit_from_ip(&mut conn, RESET_REQUESTED, ip, now - window, RESETS_PER_IP).await?
        {
            let minutes = ((at + window - now).max(1) + 59_999) / 60_000;
            return Err(SecurityError::TooManyRequests { minutes });
        }
        let user = accounts::user_by_email(&mut conn, &lookup)
            .await?
            .filter(|u| u.status == "active" && u.password_hash.is_some());
        let recent = match &user {
            Some(user) => store::tokens_created_since(&mut conn, user.id, Purpose::Reset, now - window).await?,
            None => 0,
        };
        drop(conn);

        let token = auth::random_token();
        let mut tx = self.db.write().await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: None,
                actor_user_id: None,
                actor_label: &lookup,
                action: RESET_REQUESTED,
                target: None,
                detail: serde_json::json!({}),
                ip,
            },
        )
        .await?;
        let recipient = match user {
            Some(user) if recent < RESETS_PER_ACCOUNT => {
                store::void_tokens(&mut tx, user.id, Purpose::Reset).await?;
                let expires_at = now + millis(RESET_TTL);
                store::create_token(&mut tx, &sha256_hex(&token), user.id, None, Purpose::Reset, expires_at).await?;
                let lang = self.recipient_lang(&mut tx, user.id).await?;
                let base = self.base_url(&mut tx).await?;
                Some((user, lang, format!("{base}/password/reset/{token}")))
            }
            _ => None,
        };
        tx.commit().await?;

        if let Some((user, lang, link)) = recipient {
            let brand = self.brand().await?;
            let content = Content {
                kind: Kind::Reset,
                lang,
                brand: &brand,
                to: &user.email,
                name: &user.name,
                link: &link,
                inviter: "",
                workspace: "",
            };
            let message = email::build(&content).map_err(|e| SecurityError::Internal(format!("reset email: {e}")))?;
            send_in_background(smtp, message, "password reset");
        }
        Ok(())
    }

    /// Who a live reset link is for; [`SecurityError::LinkInvalid`] when it is unknown, used or expired.
    pub async fn reset_target(&self, token: &str) -> Result<LinkTarget, SecurityError> {
        let (_, target, _) = self.live_link(token, Purpose::Reset).await?;
        Ok(target)
    }

    /// Sets a new password through a reset link: the link is used up, every session of the user but `keep_session`
    /// (the browser doing the reset, if it is signed in as that user) ends, and `auth.password_reset` is audited.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        confirm: &str,
        keep_session: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(), SecurityError> {
        let (user_id, target, _) = self.live_link(token, Purpose::Reset).await?;
        let site = self.brand().await?.name;
        let mut errors = Vec::new();
        if check_new_password(password, confirm, &[&target.email, &target.name, &site], &mut errors).is_err() {
            return Err(SecurityError::Invalid(errors));
        }
        let hash = auth::hash_password(password).await.map_err(SecurityError::Internal)?;
        let mut tx = self.db.write().await?;
        if !store::use_token(&mut tx, &sha256_hex(token), Purpose::Reset).await? {
            return Err(SecurityError::LinkInvalid);
        }
        accounts::set_password_hash(&mut tx, user_id, &hash).await?;
        store::void_tokens(&mut tx, user_id, Purpose::Reset).await?;
        let keep = keep_session.map(auth::token_hash);
        let ended = store::delete_sessions_except(&mut tx, user_id, keep.as_deref()).await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: None,
                actor_user_id: Some(user_id),
                actor_label: &target.email,
                action: "auth.password_reset",
                target: Some(&target.email),
                detail: serde_json::json!({ "sessions_ended": ended }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invites a member who has no password yet: a link to `/invite/{token}`, valid for [`INVITE_TTL`], emailed in
    /// `lang` when SMTP is configured (else, or when sending fails, the admin passes the link on). A newer invitation
    /// voids the user's older ones. The team service calls this right after creating the member.
    pub async fn invite(
        &self,
        user_id: i64,
        workspace_id: i64,
        inviter_name: &str,
        lang: Lang,
    ) -> Result<Invitation, SecurityError> {
        let mut conn = self.db.read().await?;
        let user = accounts::user_by_id(&mut conn, user_id).await?.ok_or(SecurityError::UnknownUser)?;
        if user.password_hash.is_some() {
            return Err(SecurityError::AlreadyJoined);
        }
        let workspace = store::workspace_name(&mut conn, workspace_id).await?.ok_or(SecurityError::UnknownUser)?;
        let smtp = self.smtp(&mut conn).await?;
        let base = self.base_url(&mut conn).await?;
        drop(conn);

        let token = auth::random_token();
        let mut tx = self.db.write().await?;
        store::void_tokens(&mut tx, user_id, Purpose::Invite).await?;
        let expires_at = now_millis() + millis(INVITE_TTL);
        store::create_token(&mut tx, &sha256_hex(&token), user_id, Some(workspace_id), Purpose::Invite, expires_at)
            .await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: Some(workspace_id),
                actor_user_id: None,
                actor_label: inviter_name,
                action: "auth.invitation_created",
                target: Some(&user.email),
                detail: serde_json::json!({ "emailed": smtp.is_some() }),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;

        let link = format!("{base}/invite/{token}");
        let Some(smtp) = smtp else { return Ok(Invitation { link, emailed: false, mail_error: None }) };
        let brand = self.brand().await?;
        let content = Content {
            kind: Kind::Invite,
            lang,
            brand: &brand,
            to: &user.email,
            name: &user.name,
            link: &link,
            inviter: inviter_name,
            workspace: &workspace,
        };
        let message = email::build(&content).map_err(|e| SecurityError::Internal(format!("invitation email: {e}")))?;
        match mail::send(&smtp, &message).await {
            Ok(()) => Ok(Invitation { link, emailed: true, mail_error: None }),
            Err(e) => {
                tracing::warn!(error = %e, "the invitation email was not sent");
                Ok(Invitation { link, emailed: false, mail_error: Some(e.msg()) })
            }
        }
    }

    /// Who a live invitation is for.
    pub async fn invitation_target(&self, token: &str) -> Result<LinkTarget, SecurityError> {
        let (_, target, _) = self.live_link(token, Purpose::Invite).await?;
        Ok(target)
    }

    /// Accepts an invitation: the invited person chooses their name and password and is signed in (in the workspace
    /// they were invited to). The link is used up.
    pub async fn accept_invitation(
        &self,
        token: &str,
        name: &str,
        password: &str,
        confirm: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<NewSession, SecurityError> {
        let (user_id, target, workspace_id) = self.live_link(token, Purpose::Invite).await?;
        let site = self.brand().await?.name;
        let mut errors = Vec::new();
        let name = display_name(name).map_err(|m| errors.push(("name", m))).ok();
        let password_ok = check_new_password(
            password,
            confirm,
            &[&target.email, name.as_deref().unwrap_or_default(), &site],
            &mut errors,
        );
        let (Some(name), Ok(())) = (name, password_ok) else { return Err(SecurityError::Invalid(errors)) };
        let hash = auth::hash_password(password).await.map_err(SecurityError::Internal)?;

        let mut tx = self.db.write().await?;
        if !store::use_token(&mut tx, &sha256_hex(token), Purpose::Invite).await? {
            return Err(SecurityError::LinkInvalid);
        }
        store::set_name_and_password(&mut tx, user_id, &name, &hash).await?;
        let memberships = accounts::memberships_of(&mut tx, user_id).await?;
        let workspace_id = memberships
            .iter()
            .find(|m| Some(m.workspace.id) == workspace_id)
            .or(memberships.first())
            .map(|m| m.workspace.id);
        let session = NewSession { token: auth::random_token(), csrf_token: auth::random_token(), mfa_pending: false };
        let expires_at = now_millis() + millis(SESSION_TTL);
        sessions::create(
            &mut tx,
            &sessions::NewSession {
                token_hash: &auth::token_hash(&session.token),
                user_id,
                workspace_id,
                csrf_token: &session.csrf_token,
                ip,
                user_agent,
                expires_at,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id,
                actor_user_id: Some(user_id),
                actor_label: &target.email,
                action: "auth.invitation_accepted",
                target: None,
                detail: serde_json::json!({}),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// A live link's user id, who it is for, and (invitations) the workspace.
    async fn live_link(&self, token: &str, purpose: Purpose) -> Result<(i64, LinkTarget, Option<i64>), SecurityError> {
        // Tokens are 43 base64url characters; anything else cannot match and is not looked up.
        if token.len() != 43 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(SecurityError::LinkInvalid);
        }
        let mut conn = self.db.read().await?;
        let link = store::token(&mut conn, &sha256_hex(token), purpose).await?;
        let Some(link) = link.filter(|l| l.is_live(now_millis())) else { return Err(SecurityError::LinkInvalid) };
        let user = accounts::user_by_id(&mut conn, link.user_id).await?.filter(|u| u.status == "active");
        let Some(user) = user else { return Err(SecurityError::LinkInvalid) };
        // An invitation is for someone without a password; once they chose one, the link is spent.
        if purpose == Purpose::Invite && user.password_hash.is_some() {
            return Err(SecurityError::LinkInvalid);
        }
        let workspace = match link.workspace_id {
            Some(id) => store::workspace_name(&mut conn, id).await?,
            None => None,
        };
        Ok((link.user_id, LinkTarget { email: user.email, name: user.name, workspace }, link.workspace_id))
    }
}

/// Sends an email without making the caller wait (the answer must not depend on whether an email went out).
fn send_in_background(smtp: SmtpSettings, message: mail::Email, what: &'static str) {
    tokio::spawn(async move {
        if let Err(e) = mail::send(&smtp, &message).await {
            tracing::warn!(error = %e, email = what, "an email was not sent");
        }
    });
}
