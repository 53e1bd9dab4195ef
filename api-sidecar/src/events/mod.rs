//! Webhook events: what happened (a verdict's threat, a triggered policy, a failed
//! authentication, a release, a day's report) as signed JSON deliveries queued in the store.
//! The scanner knows nothing of webhooks; the API's dispatcher turns stored verdicts into
//! events, and services (a release, say) emit theirs through [`emit`].
//!
//! # Layout
//! - this module: the event bodies, their deterministic delivery ids and [`emit`];
//! - [`delivery`]: one attempt (signature, the SSRF guard on every connection, back-off).
//!
//! Turning stored verdicts into events is the scheduler's work (`crate::scheduler`); this
//! module depends on nothing above the store, so the services can emit without a cycle.

pub mod delivery;

use moat_core::{
    model::{DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent},
    store::SharedStore,
    time::{now_ms, rfc3339},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use delivery::{
    Attempt, allowed_target, attempt, backoff_ms, check_url, client, deliver_now, record, signature,
};

/// Attempts stop this long after an event is queued (or redelivered).
pub const RETRY_WINDOW_MS: i64 = 24 * 3_600_000;

/// A delivery's id: the same (webhook, event, object) always gives the same id.
pub fn delivery_id(webhook_id: &str, event: &str, object: &str) -> String {
    let digest = Sha256::digest(format!("{webhook_id}\0{event}\0{object}").as_bytes());
    format!("dlv_{}", &hex::encode(digest)[..32])
}

/// The body of an event: `{"id", "type", "created_at", "data"}`.
fn body(id: &str, event: &str, data: Value) -> String {
    json!({ "id": id, "type": event, "created_at": rfc3339(now_ms()), "data": data }).to_string()
}

/// A delivery of `event` about `object` to `webhook`, due now.
pub fn new_delivery(webhook: &Webhook, event: &str, object: &str, data: Value) -> WebhookDelivery {
    let id = delivery_id(&webhook.id, event, object);
    let now = now_ms();
    WebhookDelivery {
        payload: body(&id, event, data),
        id,
        webhook_id: webhook.id.clone(),
        customer_id: webhook.customer_id.clone(),
        event: event.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        give_up_at: now + RETRY_WINDOW_MS,
        last_status: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// Queues `event` about `object` for every webhook of `customer` that asked for it.
pub async fn emit(
    store: &SharedStore,
    customer: &str,
    event: WebhookEvent,
    object: &str,
    data: Value,
) {
    let hooks = match store.webhooks(customer).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks not read; event not queued");
            return;
        }
    };
    for w in hooks.iter().filter(|w| w.events.contains(&event)) {
        let d = new_delivery(w, event.as_str(), object, data.clone());
        if let Err(e) = store.add_delivery(d).await {
            tracing::warn!(error = %e, webhook = %w.id, "webhook delivery not queued");
        }
    }
}
