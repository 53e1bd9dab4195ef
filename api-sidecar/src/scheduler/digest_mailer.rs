//! The daily digest mail: after midnight UTC, yesterday's digest goes to every domain with an
//! `admin_email`, once per domain and day (remembered in `data_dir/digest-sent.json`; a failed
//! send is tried again ten minutes later). The mail itself is the digest service's.

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
                let path = ctx.config.data_dir.join("digest-sent.json");
                let tmp = path.with_extension("tmp");
                let saved = serde_json::to_vec(&ctx.sent)
                    .map_err(std::io::Error::other)
                    .and_then(|bytes| std::fs::write(&tmp, bytes))
                    .and_then(|()| std::fs::rename(&tmp, &path));
                if let Err(e) = saved {
                    tracing::warn!(error = %e, "digest-sent.json not written");
                }
            }
            Err(crate::error::ApiError::Store(e)) => return Err(e),
            Err(why) => tracing::warn!(domain = %domain.name, %why, "daily digest not sent"),
        }
    }
    Ok(())
}
