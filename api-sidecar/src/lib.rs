//! Moat's REST API (actix-web): customers' scripts manage domains, policies and quarantine with
//! bearer tokens. It reads and writes the same store as the scanner; the scanner notices changes
//! through the store's configuration version.

pub mod auth;
pub mod body;
pub mod cursor;
pub mod error;
pub mod idempotency;
pub mod openapi;
pub mod pages;
pub mod ratelimit;
pub mod routes;
pub mod schema;
pub mod signing;
pub mod webhooks;

use std::{net::SocketAddr, sync::mpsc, thread};

use actix_web::{App, HttpServer, dev::Service, web};
use moat_core::{config::Config, store::SharedStore};

/// Shared state of every handler.
pub struct AppState {
    pub store: SharedStore,
    pub config: Config,
    pub limiter: ratelimit::RateLimiter,
    /// Failed authentications per client address.
    pub auth_failures: auth::AuthFailures,
    /// Seals pagination cursors.
    pub signing: signing::SigningKey,
    /// Answers kept for `Idempotency-Key` retries.
    pub idempotency: idempotency::IdempotencyCache,
    /// Bulk quarantine jobs of this process.
    pub jobs: routes::bulk::Jobs,
    /// Outbound SMTP (releases, digests), with its deadlines, limits and address guard.
    pub relay: std::sync::Arc<moat_core::relay::Relay>,
}

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 256 * 1024;

/// Registers every route and the JSON/query error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BODY)
                .error_handler(|e, _| error::ApiError::bad_json(e).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| error::ApiError::bad_query(e.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| error::ApiError::bad_query(e.to_string()).into()),
        )
        .route("/metrics", web::get().to(metrics_text))
        .configure(openapi::configure_root)
        .configure(routes::configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(error::ApiError::NotFound("route"))
        }));
}

/// Counts a request by route pattern (never the raw path: ids would explode cardinality).
fn record_request<B>(res: &actix_web::dev::ServiceResponse<B>, started: std::time::Instant) {
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let m = moat_core::metrics::metrics();
    m.api_requests
        .with_label_values(&[route.as_str(), res.status().as_str()])
        .inc();
    m.api_request_duration
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
}

/// Adds the caller's rate-limit state (left in the request by authentication) to the response.
fn rate_limit_headers<B>(res: &mut actix_web::dev::ServiceResponse<B>) {
    use actix_web::{
        HttpMessage,
        http::header::{HeaderName, HeaderValue},
    };
    let Some(d) = res
        .request()
        .extensions()
        .get::<ratelimit::RateDecision>()
        .copied()
    else {
        return;
    };
    let headers = res.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", d.limit as i64),
        ("x-ratelimit-remaining", d.remaining as i64),
        ("x-ratelimit-reset", d.reset_at),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// `GET /metrics`: Prometheus text exposition of the whole process (scanner and API), for
/// clients presenting `api.metrics_token`, or, when none is set, for loopback and
/// private-network clients only (the API port may face the internet; its metrics must not).
async fn metrics_text(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> actix_web::HttpResponse {
    let allowed = match &state.config.api.metrics_token {
        Some(expected) => req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| {
                use sha2::Digest;
                // Equal-length digests compared whole: no early exit on the secret's bytes.
                sha2::Sha256::digest(t.trim().as_bytes())
                    == sha2::Sha256::digest(expected.as_bytes())
            }),
        None => req.peer_addr().is_some_and(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        }),
    };
    if !allowed {
        return actix_web::ResponseError::error_response(&error::ApiError::NotFound("route"));
    }
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(moat_core::metrics::metrics().render())
}

/// The API running on its own actix system thread.
pub struct ApiServer {
    pub addr: SocketAddr,
    thread: thread::JoinHandle<()>,
}

impl ApiServer {
    /// Binds `config.api.listen` and serves until the process ends.
    pub fn start(config: Config, store: SharedStore) -> std::io::Result<ApiServer> {
        let (tx, rx) = mpsc::channel::<std::io::Result<SocketAddr>>();
        let thread = thread::Builder::new()
            .name("moat-api".into())
            .spawn(move || {
                let listen = config.api.listen;
                let workers = if config.api.workers > 0 {
                    config.api.workers
                } else {
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                };
                let limiter = ratelimit::RateLimiter::new(
                    config.api.rate_limit_per_hour,
                    config.api.rate_limit_per_minute,
                );
                let signing = match signing::SigningKey::load_or_create(&config.data_dir) {
                    Ok(key) => key,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let relay = match moat_core::relay::Relay::from_config(&config, 4) {
                    Ok(r) => std::sync::Arc::new(r),
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string())));
                        return;
                    }
                };
                let _dispatcher = if config.api.webhooks {
                    match webhooks::Dispatcher::start(
                        store.clone(),
                        &config,
                        signing.clone(),
                        relay.clone(),
                    ) {
                        Ok(d) => Some(d),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                } else {
                    None
                };
                let auth_failures = auth::AuthFailures::new(config.api.auth_failures_per_minute);
                let state = web::Data::new(AppState {
                    store,
                    config,
                    limiter,
                    auth_failures,
                    signing,
                    idempotency: Default::default(),
                    jobs: Default::default(),
                    relay,
                });
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        let state = state.clone();
                        App::new()
                            .wrap(actix_web::middleware::from_fn(idempotency::middleware))
                            .wrap_fn(|req, srv| {
                                let started = std::time::Instant::now();
                                let fut = srv.call(req);
                                async move {
                                    let mut res = fut.await?;
                                    record_request(&res, started);
                                    rate_limit_headers(&mut res);
                                    Ok(res)
                                }
                            })
                            .configure(move |c| configure(c, state))
                    })
                    .workers(workers)
                    .disable_signals()
                    .bind(listen);
                    match server {
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                        Ok(server) => {
                            let addr = server.addrs().first().copied().unwrap_or(listen);
                            let _ = tx.send(Ok(addr));
                            if let Err(e) = server.run().await {
                                tracing::error!(error = %e, "API server stopped");
                            }
                        }
                    }
                });
            })?;
        let addr = rx
            .recv()
            .map_err(|_| std::io::Error::other("API thread stopped before binding"))??;
        tracing::info!(%addr, "API listening");
        Ok(ApiServer { addr, thread })
    }

    /// Blocks until the API thread ends.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}
