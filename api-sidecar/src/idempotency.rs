//! `Idempotency-Key` on every POST: the first answer to (token, path, key) is kept for 24
//! hours and a retry with the same key gets that answer again (`Idempotent-Replayed: true`)
//! instead of doing the work twice, so a script that lost a response can retry a release or a
//! creation safely. The same key with a different body is refused (422), and a retry while the
//! first request is still running answers 409. 5xx, 401 and 429 answers are not kept, so a
//! retry after them runs again.
//!
//! Kept in the store (`Store::idempotency_begin`/`idempotency_finish`), like the rate limits,
//! so a retry that reaches another API host gets the same answer. A request marks its slot
//! running for two minutes at most: if its host dies mid-request, a retry after that runs.
//!
//! Nothing is replayed to a caller that does not authenticate now: the presented token is
//! checked (and must not be revoked) before a kept answer is looked up, so a revoked token's
//! retries get 401, never the answer it once had. Secrets are never kept: a handler marks
//! fields with [`RedactOnReplay`] and the kept copy lacks them (a replayed token creation
//! answers without the secret).

use actix_web::HttpMessage;
use actix_web::{
    HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode},
    middleware::Next,
    web::{self, Bytes},
};
use futures::StreamExt;
use moat_core::{
    store::{IdempotencyBegin, KeptAnswer},
    time::now_ms,
};
use sha2::{Digest, Sha256};

use crate::{AppState, MAX_JSON_BODY, error::ApiError};

/// How long an answer is kept (ms).
const TTL_MS: i64 = 24 * 3600 * 1000;
/// How long a running request holds its slot at most (ms): longer than any request runs.
const RUNNING_MS: i64 = 120 * 1000;

/// Fields of a JSON answer that must not be kept for replays (secrets shown once); a handler
/// puts this in its response's extensions.
#[derive(Clone, Copy)]
pub struct RedactOnReplay(pub &'static [&'static str]);

/// The store's slot for (token, path, key): a hash, so neither the token nor the key is stored.
fn slot_of(token: &str, path: &str, key: &str) -> String {
    let mut h = Sha256::new();
    for part in [token, path, key] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The kept copy of an answer: without the fields marked [`RedactOnReplay`] (nothing at all if
/// such an answer is not JSON, rather than a secret).
fn kept_body(bytes: &Bytes, redact: Option<RedactOnReplay>) -> Vec<u8> {
    let Some(RedactOnReplay(fields)) = redact else {
        return bytes.to_vec();
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut v) => {
            if let Some(obj) = v.as_object_mut() {
                for f in fields {
                    obj.remove(*f);
                }
            }
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let header = req.headers().get("idempotency-key").cloned();
    let (Method::POST, Some(header)) = (req.method().clone(), header) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match header.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_string()
        }
        _ => {
            return Ok(req.error_response(ApiError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            )));
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The namespace is the presented token (hashed), so keys of different callers never meet.
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Authenticate before anything kept is consulted: without a live token, the request runs
    // as if it had no key (and its handler answers 401).
    let presented = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    let live = moat_core::token::parse(presented).is_some()
        && matches!(
            state
                .store
                .token_by_hash(&moat_core::token::hash(presented))
                .await,
            Ok(Some(_))
        );
    if !live {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    // Read the body to fingerprint it, then hand it on unchanged.
    let mut body = web::BytesMut::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_JSON_BODY {
            return Ok(req.error_response(ApiError::PayloadTooLarge(MAX_JSON_BODY)));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut fp = Sha256::new();
    fp.update(req.path().as_bytes());
    fp.update([0]);
    fp.update(&body);
    let fingerprint: [u8; 32] = fp.finalize().into();
    let slot = slot_of(&token, req.path(), &key);
    let (_, mut replay_payload) = actix_http::h1::Payload::create(true);
    replay_payload.unread_data(body);
    req.set_payload(replay_payload.into());

    let now = now_ms();
    let begun = state
        .store
        .idempotency_begin(&slot, fingerprint.to_vec(), now, now + RUNNING_MS)
        .await;
    let begun = match begun {
        Ok(b) => b,
        Err(e) => return Ok(req.error_response(ApiError::Store(e))),
    };
    match begun {
        IdempotencyBegin::Replay(kept) => {
            let status = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
            let mut resp = HttpResponse::build(status);
            if let Some(ct) = kept.content_type {
                resp.insert_header((actix_web::http::header::CONTENT_TYPE, ct));
            }
            resp.insert_header(("Idempotent-Replayed", "true"));
            Ok(req.into_response(resp.body(kept.body)))
        }
        IdempotencyBegin::Running => Ok(req.error_response(ApiError::Conflict(
            "a request with this Idempotency-Key is still running; retry shortly".into(),
        ))),
        IdempotencyBegin::Mismatch => Ok(req.error_response(ApiError::Unprocessable(
            "this Idempotency-Key was used with a different request".into(),
        ))),
        IdempotencyBegin::Run => {
            let res = match next.call(req).await {
                Ok(res) => res,
                Err(e) => {
                    finish(&state, &slot, fingerprint, None).await;
                    return Err(e);
                }
            };
            let status = res.status();
            let keep = !(status.is_server_error()
                || status == StatusCode::UNAUTHORIZED
                || status == StatusCode::TOO_MANY_REQUESTS);
            if !keep {
                finish(&state, &slot, fingerprint, None).await;
                return Ok(res.map_into_boxed_body());
            }
            let content_type = res
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .cloned();
            let redact = res.response().extensions().get::<RedactOnReplay>().copied();
            let (req, resp) = res.into_parts();
            let (head, body) = resp.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            let kept = KeptAnswer {
                status: status.as_u16(),
                content_type: content_type.and_then(|c| c.to_str().ok().map(str::to_string)),
                body: kept_body(&bytes, redact),
            };
            finish(&state, &slot, fingerprint, Some(kept)).await;
            let resp = head.set_body(BoxBody::new(bytes));
            Ok(ServiceResponse::new(req, resp))
        }
    }
}

/// Keeps the answer (or frees the slot). A store failure here is logged, not answered: the
/// work is done, and the slot's running mark lapses by itself.
async fn finish(state: &AppState, slot: &str, fingerprint: [u8; 32], answer: Option<KeptAnswer>) {
    let expires_at = now_ms() + TTL_MS;
    if let Err(e) = state
        .store
        .idempotency_finish(slot, fingerprint.to_vec(), answer, expires_at)
        .await
    {
        tracing::warn!(error = %e, "could not keep an idempotent answer");
    }
}
