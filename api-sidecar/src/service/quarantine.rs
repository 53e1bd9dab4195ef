//! Releasing and deleting quarantined mail: the one release protocol. Claim (a conditional
//! change quarantined → releasing in the store), deliver, then mark released, or hand the
//! message back on a failure. Of concurrent releases exactly one delivers; a delete never
//! removes a message a release holds, so a release racing a delete cannot bring it back.
//! The single-message route, bulk jobs, digest links and `moat quarantine release` all call
//! [`release`], so the rules (malware needs an administrator, a sandbox sends nothing, the
//! `quarantine.released` webhook) hold for every one of them.

use moat_core::{
    model::{QuarantineItem, QuarantineStatus, ThreatType, TokenKind, TokenScope, WebhookEvent},
    relay::{Envelope, RelayOutcome, Route},
    tenancy,
    time::now_ms,
};

use super::Ctx;
use crate::{error::ApiError, schema::QuarantineOut};

/// Who acts, as the release rules see it: the kind of token (a test token's release never
/// delivers) and its scope (releasing malware is a deliberate act of an administrator).
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub kind: TokenKind,
    pub scope: TokenScope,
}

impl Actor {
    /// The operator at the command line: live, with every scope.
    pub const OPERATOR: Actor = Actor {
        kind: TokenKind::Live,
        scope: TokenScope::Admin,
    };

    /// Whether this actor's scope reaches `need`.
    pub fn require(&self, need: TokenScope) -> Result<(), ApiError> {
        if self.scope >= need {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                have: self.scope.as_str(),
                need: need.as_str(),
            })
        }
    }
}

fn deleted() -> ApiError {
    ApiError::Conflict("the message was deleted and cannot be released".into())
}

/// Releases message `id` of `customer`: delivers it to its original recipients at the
/// domain's real server. Idempotent: a released message is answered again without a second
/// delivery.
pub async fn release(
    ctx: &Ctx<'_>,
    customer: &str,
    actor: Actor,
    id: &str,
) -> Result<QuarantineItem, ApiError> {
    actor.require(TokenScope::Quarantine)?;
    let item = ctx
        .store
        .quarantine_get(customer, id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    if item.threat_type == ThreatType::Malware {
        actor.require(TokenScope::Admin)?;
    }
    match item.status {
        QuarantineStatus::Released => return Ok(item),
        QuarantineStatus::Deleted => return Err(deleted()),
        QuarantineStatus::Quarantined | QuarantineStatus::Releasing => {}
    }
    let claim_at = now_ms();
    if !ctx
        .store
        .quarantine_claim_release(customer, id, claim_at)
        .await?
    {
        let now = ctx
            .store
            .quarantine_get(customer, id)
            .await?
            .ok_or(ApiError::NotFound("quarantined message"))?;
        return match now.status {
            QuarantineStatus::Released => Ok(now),
            QuarantineStatus::Deleted => Err(deleted()),
            _ => Err(ApiError::Conflict(
                "the message is being released by another request; try again shortly".into(),
            )),
        };
    }
    let delivered = if actor.kind == TokenKind::Live && tenancy::sends_mail(customer) {
        relay_released(ctx, customer, &item).await
    } else {
        Ok(())
    };
    let finished = ctx
        .store
        .quarantine_finish_release(customer, id, claim_at, delivered.is_ok(), now_ms())
        .await;
    delivered?;
    if !finished? {
        tracing::warn!(quarantine_id = %id, "release claim was taken over while delivering; the message may be delivered twice");
    }
    let item = ctx
        .store
        .quarantine_get(customer, id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    tracing::info!(quarantine_id = %item.id, customer = %customer, "quarantined message released");
    crate::events::emit(
        ctx.store,
        customer,
        WebhookEvent::QuarantineReleased,
        &item.id,
        serde_json::to_value(QuarantineOut::of(&item)).unwrap_or_default(),
    )
    .await;
    Ok(item)
}

/// Deletes message `id` of `customer`: never one a release is delivering (a conflict), so a
/// delete racing a release cannot lose the release nor bring the message back.
pub async fn delete(ctx: &Ctx<'_>, customer: &str, actor: Actor, id: &str) -> Result<(), ApiError> {
    actor.require(TokenScope::Quarantine)?;
    if ctx.store.quarantine_delete(customer, id, now_ms()).await? {
        return Ok(());
    }
    match ctx.store.quarantine_get(customer, id).await? {
        None => Err(ApiError::NotFound("quarantined message")),
        Some(_) => Err(ApiError::Conflict(
            "the message is being released; try again shortly".into(),
        )),
    }
}

async fn relay_released(
    ctx: &Ctx<'_>,
    customer: &str,
    item: &QuarantineItem,
) -> Result<(), ApiError> {
    let domain = ctx
        .store
        .domain(customer, &item.domain_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the message's domain is no longer protected by Moat".into())
        })?;
    let raw = ctx
        .store
        .quarantine_raw(customer, &item.id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    let envelope = Envelope {
        mail_from: &item.mail_from,
        rcpts: &item.rcpt_to,
        body: &raw,
        options: Default::default(),
    };
    match ctx
        .relay
        .deliver(&Route::to_domain(&domain), envelope)
        .await
    {
        RelayOutcome::Delivered { .. } => Ok(()),
        RelayOutcome::TempFail(why) => Err(ApiError::RelayFailed(format!(
            "{} did not take the message, try again: {why}",
            domain.real_mx_host
        ))),
        RelayOutcome::PermFail { code, text, .. } => Err(ApiError::RelayFailed(format!(
            "{} refused the message: {code} {text}",
            domain.real_mx_host
        ))),
    }
}
