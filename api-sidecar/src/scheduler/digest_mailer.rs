//! The daily digest mail: after midnight UTC, yesterday's digest goes to every domain with an
//! `admin_email`, once per domain and day for the whole cluster (a claim in the store, taken
//! before sending and given back when the send fails; a failed send is tried again ten
//! minutes later). The mail itself is the digest service's.

use moat_core::{store::SharedStore, tenancy, time::now_ms};

use super::Context;
use crate::service::{self, digest::yesterday};

/// Mails yesterday's digest of every domain that has not had it yet.
pub(super) async fn daily_mail(
    store: &SharedStore,
    ctx: &mut Context,
) -> Result<(), moat_core::StoreError> {
    let (start, day, today) = yesterday();
    let now = now_ms();
    for domain in store.all_domains().await? {
        if domain.detection.admin_email.is_none()
            || !tenancy::sends_mail(&domain.customer_id)
            || domain.created_at >= today
            || ctx.sent.get(&domain.id).is_some_and(|d| *d >= day)
            || ctx.tried.get(&domain.id).is_some_and(|t| now - t < 600_000)
        {
            continue;
        }
        ctx.tried.insert(domain.id.clone(), now);
        let claim = format!("digest-mail/{}/{day}", domain.id);
        if !store.claim_once(&claim, now, now + 3 * 86_400_000).await? {
            // Another host (or this one before a restart) mailed it.
            ctx.sent.insert(domain.id.clone(), day.clone());
            continue;
        }
        let services = service::Ctx {
            store,
            config: &ctx.config,
            relay: &ctx.relay,
        };
        match service::digest::mail_digest(&services, &ctx.signing, &ctx.base(), &domain, start)
            .await
        {
            Ok(_) => {
                ctx.sent.insert(domain.id.clone(), day.clone());
            }
            Err(e) => {
                store.unclaim(&claim).await?;
                match e {
                    crate::error::ApiError::Store(e) => return Err(e),
                    why => tracing::warn!(domain = %domain.name, %why, "daily digest not sent"),
                }
            }
        }
    }
    Ok(())
}
