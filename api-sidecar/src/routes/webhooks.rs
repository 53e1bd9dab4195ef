//! `/v1/webhooks`: endpoints that receive signed events, their delivery log, test pings and
//! redelivery. The secret that signs deliveries is shown once, when the webhook is created.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{DeliveryStatus, TokenScope, Webhook, WebhookDelivery, WebhookEvent},
    time::{now_ms, rfc3339},
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{limit_param, resource};
use crate::body::Body;
use crate::{AppState, auth::Caller, error::ApiError, events as webhooks};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/webhooks", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/webhooks/{id}", "GET, DELETE")
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    )
    .service(resource("/webhooks/{id}/test", "POST").route(web::post().to(test)))
    .service(resource("/webhooks/{id}/deliveries", "GET").route(web::get().to(deliveries)))
    .service(
        resource("/webhooks/{id}/deliveries/{delivery_id}/redeliver", "POST")
            .route(web::post().to(redeliver)),
    );
}

/// A webhook to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed (https, or http).
    #[schema(example = "https://hooks.example.com/moat", max_length = 2000)]
    pub url: String,
    /// The events to send; at least one.
    #[schema(min_items = 1)]
    pub events: Vec<WebhookEvent>,
}

/// A webhook (its secret only in the creation answer).
#[derive(Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The HMAC-SHA256 key of `Moat-Signature` (`t=<unix>,v1=<hex of HMAC(secret,
    /// "<t>.<body>")>`); shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookOut {
    fn of(w: &Webhook) -> WebhookOut {
        WebhookOut {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            created_at: rfc3339(w.created_at),
            secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookOut>,
}

/// One delivery and its attempts so far.
#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub give_up_at: String,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    /// The exact body sent (and signed).
    pub payload: String,
}

impl DeliveryOut {
    fn of(d: &WebhookDelivery) -> DeliveryOut {
        DeliveryOut {
            id: d.id.clone(),
            webhook_id: d.webhook_id.clone(),
            event: d.event.clone(),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            give_up_at: rfc3339(d.give_up_at),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: rfc3339(d.created_at),
            delivered_at: d.delivered_at.map(rfc3339),
            payload: d.payload.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryOut>,
}

/// Page size of the delivery log.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Newest first; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

async fn webhook(state: &AppState, caller: &Caller, id: &str) -> Result<Webhook, ApiError> {
    state
        .store
        .webhooks(caller.customer_id())
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or(ApiError::NotFound("webhook"))
}

/// The customer's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses((status = 200, body = WebhookList)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let hooks = state.store.webhooks(caller.customer_id()).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        data: hooks.iter().map(WebhookOut::of).collect(),
    }))
}

/// Creates a webhook; the answer holds its signing secret, shown this once. At most 20 per
/// customer.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = NewWebhook,
    responses((status = 201, body = WebhookOut)))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let new = body.into_inner();
    webhooks::check_url(&new.url).map_err(ApiError::Unprocessable)?;
    let mut events = new.events;
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::Unprocessable(
            "events must name at least one event".into(),
        ));
    }
    if state.store.webhooks(caller.customer_id()).await?.len() >= 20 {
        return Err(ApiError::Conflict(
            "at most 20 webhooks per customer".into(),
        ));
    }
    let mut rng = rand::rng();
    let secret: String = format!(
        "whsec_{}",
        (0..32)
            .map(|_| {
                let i = rng.random_range(0..62);
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i] as char
            })
            .collect::<String>()
    );
    let now = now_ms();
    let w = Webhook {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: caller.customer_id().to_string(),
        url: new.url,
        events,
        secret: secret.clone(),
        created_at: now,
        // Events start with mail received from now on.
        watermark: Some((now, String::new())),
        last_report_day: None,
    };
    state.store.insert_webhook(w.clone()).await?;
    let mut out = WebhookOut::of(&w);
    out.secret = Some(secret);
    Ok(HttpResponse::Created().json(out))
}

/// One webhook.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookOut)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let w = webhook(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::of(&w)))
}

/// Deletes a webhook and its delivery log; nothing more is sent to it.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    operation_id = "delete_webhook",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    if state
        .store
        .delete_webhook(caller.customer_id(), &id)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// Sends a signed `webhook.test` event now and answers how the endpoint took it (the
/// delivery is logged and retried like any other if it failed).
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks",
    operation_id = "test_webhook",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = DeliveryOut)))]
pub async fn test(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let w = webhook(&state, &caller, &id).await?;
    let object = uuid::Uuid::now_v7().to_string();
    let d = webhooks::new_delivery(
        &w,
        "webhook.test",
        &object,
        serde_json::json!({ "webhook_id": w.id, "message": "Moat can reach this endpoint" }),
    );
    state.store.add_delivery(d.clone()).await?;
    let store = state.store.clone();
    let allow_private = state.config.api.webhook_allow_private_targets;
    let sent = web::block(move || {
        let agent = webhooks::client(allow_private);
        webhooks::deliver_now(&store, &agent, &w, d)
    })
    .await
    .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?;
    Ok(HttpResponse::Ok().json(DeliveryOut::of(&sent)))
}

/// The webhook's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList)))]
pub async fn deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    // Payloads of `report.daily` carry the digest's release links.
    caller.require(TokenScope::Quarantine)?;
    let limit = limit_param(query.limit)?;
    webhook(&state, &caller, &id).await?;
    let list = state
        .store
        .deliveries(caller.customer_id(), &id, limit)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        data: list.iter().map(DeliveryOut::of).collect(),
    }))
}

/// Queues a delivery again (due now, retried for another 24 hours), whatever its state.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks", operation_id = "redeliver_webhook_delivery",
    params(("id" = String, Path, description = "Webhook id"),
        ("delivery_id" = String, Path, description = "Delivery id")),
    responses((status = 202, body = DeliveryOut)))]
pub async fn redeliver(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let (id, delivery_id) = path.into_inner();
    let mut d = state
        .store
        .delivery(caller.customer_id(), &id, &delivery_id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let was_due = d.next_attempt_at;
    let now = now_ms();
    d.status = DeliveryStatus::Pending;
    d.next_attempt_at = Some(now);
    d.give_up_at = now + webhooks::RETRY_WINDOW_MS;
    state.store.put_delivery(d.clone(), was_due).await?;
    Ok(HttpResponse::Accepted().json(DeliveryOut::of(&d)))
}
