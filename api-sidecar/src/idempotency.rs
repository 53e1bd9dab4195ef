//! `Idempotency-Key` on every POST: the first answer to (token, path, key) is kept for 24
//! hours and a retry with the same key gets that answer again (`Idempotent-Replayed: true`)
//! instead of doing the work twice, so a script that lost a response can retry a release or a
//! creation safely. The same key with a different body is refused (422), and a retry while the
//! first request is still running answers 409. 5xx, 401 and 429 answers are not kept, so a
//! retry after them runs again.
//!
//! Kept in memory per API process (unlike the rate limits, which are in the store): API hosts
//! behind a load balancer should route a token to one host, or a retry reaching another host
//! runs again.
//!
//! Nothing is replayed to a caller that does not authenticate now: the presented token is
//! checked (and must not be revoked) before a kept answer is looked up, so a revoked token's
//! retries get 401, never the answer it once had. Secrets are never kept: a handler marks
//! fields with [`RedactOnReplay`] and the kept copy lacks them (a replayed token creation
//! answers without the secret).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::HttpMessage;
use actix_web::{
    HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header::HeaderValue},
    middleware::Next,
    web::{self, Bytes},
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::{AppState, MAX_JSON_BODY, error::ApiError};

/// How long an answer is kept.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// Answers kept at most (oldest dropped first).
const CAPACITY: usize = 50_000;

enum Entry {
    Running {
        fingerprint: [u8; 32],
    },
    Done {
        fingerprint: [u8; 32],
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
        at: Instant,
    },
}

/// Fields of a JSON answer that must not be kept for replays (secrets shown once); a handler
/// puts this in its response's extensions.
#[derive(Clone, Copy)]
pub struct RedactOnReplay(pub &'static [&'static str]);

/// The kept answers, by (token hash, path, key).
#[derive(Default)]
pub struct IdempotencyCache {
    entries: Mutex<HashMap<(String, String, String), Entry>>,
}

enum Claim {
    /// Run the request; its answer is kept.
    Run,
    Replay(StatusCode, Option<HeaderValue>, Bytes),
    Running,
    Mismatch,
}

impl IdempotencyCache {
    fn claim(&self, key: &(String, String, String), fingerprint: [u8; 32]) -> Claim {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if entries.len() >= CAPACITY {
            entries.retain(
                |_, e| matches!(e, Entry::Done { at, .. } if now.duration_since(*at) < TTL),
            );
            if entries.len() >= CAPACITY
                && let Some(oldest) = entries
                    .iter()
                    .filter_map(|(k, e)| match e {
                        Entry::Done { at, .. } => Some((k.clone(), *at)),
                        Entry::Running { .. } => None,
                    })
                    .min_by_key(|(_, at)| *at)
                    .map(|(k, _)| k)
            {
                entries.remove(&oldest);
            }
        }
        match entries.get(key) {
            Some(Entry::Running { fingerprint: f }) => {
                if *f == fingerprint {
                    Claim::Running
                } else {
                    Claim::Mismatch
                }
            }
            Some(Entry::Done {
                fingerprint: f,
                status,
                content_type,
                body,
                at,
            }) if now.duration_since(*at) < TTL => {
                if *f == fingerprint {
                    Claim::Replay(*status, content_type.clone(), body.clone())
                } else {
                    Claim::Mismatch
                }
            }
            _ => {
                entries.insert(key.clone(), Entry::Running { fingerprint });
                Claim::Run
            }
        }
    }

    fn finish(&self, key: (String, String, String), entry: Option<Entry>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entry {
            Some(e) => {
                entries.insert(key, e);
            }
            None => {
                entries.remove(&key);
            }
        }
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
    let slot = (
        hex::encode(Sha256::digest(token.as_bytes())),
        req.path().to_string(),
        key,
    );
    let (_, mut replay_payload) = actix_http::h1::Payload::create(true);
    replay_payload.unread_data(body);
    req.set_payload(replay_payload.into());

    match state.idempotency.claim(&slot, fingerprint) {
        Claim::Replay(status, content_type, bytes) => {
            let mut resp = HttpResponse::build(status);
            if let Some(ct) = content_type {
                resp.insert_header((actix_web::http::header::CONTENT_TYPE, ct));
            }
            resp.insert_header(("Idempotent-Replayed", "true"));
            Ok(req.into_response(resp.body(bytes)))
        }
        Claim::Running => Ok(req.error_response(ApiError::Conflict(
            "a request with this Idempotency-Key is still running; retry shortly".into(),
        ))),
        Claim::Mismatch => Ok(req.error_response(ApiError::Unprocessable(
            "this Idempotency-Key was used with a different request".into(),
        ))),
        Claim::Run => {
            let res = match next.call(req).await {
                Ok(res) => res,
                Err(e) => {
                    state.idempotency.finish(slot, None);
                    return Err(e);
                }
            };
            let status = res.status();
            let keep = !(status.is_server_error()
                || status == StatusCode::UNAUTHORIZED
                || status == StatusCode::TOO_MANY_REQUESTS);
            if !keep {
                state.idempotency.finish(slot, None);
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
            let kept = match redact {
                None => bytes.clone(),
                Some(RedactOnReplay(fields)) => {
                    match serde_json::from_slice::<serde_json::Value>(&bytes) {
                        Ok(mut v) => {
                            if let Some(obj) = v.as_object_mut() {
                                for f in fields {
                                    obj.remove(*f);
                                }
                            }
                            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
                        }
                        // Not JSON: keep nothing rather than a secret.
                        Err(_) => Bytes::new(),
                    }
                }
            };
            state.idempotency.finish(
                slot,
                Some(Entry::Done {
                    fingerprint,
                    status,
                    content_type,
                    body: kept,
                    at: Instant::now(),
                }),
            );
            let resp = head.set_body(BoxBody::new(bytes));
            Ok(ServiceResponse::new(req, resp))
        }
    }
}
