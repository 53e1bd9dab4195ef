//! Moat's REST API (actix-web): customers' scripts manage domains, policies and quarantine with
//! bearer tokens. It reads and writes the same store as the scanner; the scanner notices changes
//! through the store's configuration version.
//!
//! # Layout
//! - [`routes`]: the `/v1` resources, one module each (also served under `/api/v1`);
//!   [`schema`]: the JSON bodies answered; [`openapi`]: the generated document, Swagger UI and
//!   the aliases.
//! - Edges every request crosses: [`auth`] (bearer tokens and scopes), [`ratelimit`],
//!   [`idempotency`], [`body`] (JSON objects only), [`error`] (problem details),
//!   [`cursor`] and [`pages`] (paging).
//! - [`service`]: the use cases (release, digest, domains, policies, tokens), one
//!   implementation each, which the routes and `moat`'s command line call.
//! - [`events`]: webhook events and their delivery; [`scheduler`]: the dispatcher thread
//!   (verdicts → events, `report.daily`, the daily digest mail, due deliveries);
//!   [`compile`]: policy compilation off the HTTP workers; [`signing`]: the key for links and
//!   cursors; [`tls`]: HTTPS for the API.

pub mod auth;
pub mod body;
pub mod compile;
pub mod cursor;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod in_force;
pub mod openapi;
pub mod pages;
pub mod ratelimit;
pub mod routes;
pub mod scheduler;
pub mod schema;
pub mod service;
pub mod signing;
pub mod tls;

use std::{net::SocketAddr, sync::mpsc, thread};

use actix_web::{App, HttpServer, dev::Service, web};
use moat_core::{config::Config, store::SharedStore};

/// Shared state of every handler.
pub struct AppState {
    pub store: SharedStore,
    pub config: Config,
    /// Per-token and per-customer request budgets, counted in the store (cluster-wide).
    pub budgets: ratelimit::SharedBudgets,
    /// This node's name in spool reports ([`moat_core::spoolfile::node_id`]), worked out once.
    pub node_id: String,
    /// Failed authentications per client address.
    pub auth_failures: auth::AuthFailures,
    /// Seals pagination cursors.
    pub signing: signing::SigningKey,
    /// Outbound SMTP (releases, digests), with its deadlines, limits and address guard.
    pub relay: std::sync::Arc<moat_core::relay::Relay>,
    /// The base of links the API hands out (set once the listener is bound; see
    /// [`service::digest::public_base`]): never taken from a request's `Host`.
    pub link_base: std::sync::Arc<std::sync::OnceLock<String>>,
    /// Compiles policies off the HTTP workers.
    pub compiler: compile::PolicyCompiler,
    /// The in-process scanner's reloader, under `moat up` (see [`in_force`]).
    pub reload: Option<std::sync::Arc<moat_core::snapshot::ReloadSignal>>,
}

impl AppState {
    /// Where links point: `api.public_url`, else this API's own scheme, address and port.
    /// What the services work with.
    pub fn ctx(&self) -> service::Ctx<'_> {
        service::Ctx {
            store: &self.store,
            config: &self.config,
            relay: &self.relay,
        }
    }

    pub fn link_base(&self) -> String {
        self.link_base
            .get()
            .cloned()
            .unwrap_or_else(|| service::digest::public_base(&self.config, self.config.api.listen))
    }
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
        None => {
            // A request a proxy forwarded comes from the proxy's (often loopback) address but
            // from anyone behind it: refused.
            let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
                .iter()
                .any(|h| req.headers().contains_key(*h));
            !forwarded
                && req.peer_addr().is_some_and(|a| match a.ip() {
                    std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
                    std::net::IpAddr::V6(v6) => {
                        v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00
                    }
                })
        }
    };
    if !allowed {
        return actix_web::ResponseError::error_response(&error::ApiError::NotFound("route"));
    }
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(moat_core::metrics::metrics().render())
}

/// The metrics alone, for `api.metrics_listen` (a port a reverse proxy does not forward).
async fn metrics_only() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(moat_core::metrics::metrics().render())
}

/// The API running on its own actix system thread.
pub struct ApiServer {
    pub addr: SocketAddr,
    /// The HTTPS certificate (SIGHUP reloads it), when the API terminates TLS itself.
    pub certificate: Option<std::sync::Arc<tls::ApiCertificate>>,
    thread: thread::JoinHandle<()>,
}

impl ApiServer {
    /// Binds `config.api.listen` and serves until the process ends. `reload` is the scanner's
    /// reloader when the scanner runs in the same process: configuration writes are then
    /// answered once the scanner applies them.
    pub fn start(
        config: Config,
        store: SharedStore,
        reload: Option<std::sync::Arc<moat_core::snapshot::ReloadSignal>>,
    ) -> std::io::Result<ApiServer> {
        let certificate = tls::ApiCertificate::load(&config).map_err(std::io::Error::other)?;
        let tls_config = certificate
            .as_ref()
            .map(|c| c.server_config())
            .transpose()
            .map_err(std::io::Error::other)?;
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
                let budgets = ratelimit::SharedBudgets {
                    token_per_hour: config.api.rate_limit_per_hour.max(1),
                    token_per_minute: config.api.rate_limit_per_minute.max(1),
                    customer_per_hour: config
                        .api
                        .customer_rate_limit_per_hour
                        .unwrap_or(config.api.rate_limit_per_hour.saturating_mul(2))
                        .max(1),
                    customer_per_minute: config
                        .api
                        .customer_rate_limit_per_minute
                        .unwrap_or(config.api.rate_limit_per_minute.saturating_mul(2))
                        .max(1),
                };
                let shared = signing::SigningKey::shared(store.as_ref(), &config.data_dir);
                let signing = match futures::executor::block_on(shared) {
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
                let link_base = std::sync::Arc::new(std::sync::OnceLock::new());
                let _dispatcher = if config.api.webhooks {
                    match scheduler::Dispatcher::start(
                        store.clone(),
                        &config,
                        signing.clone(),
                        relay.clone(),
                        link_base.clone(),
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
                let compiler = match compile::PolicyCompiler::start(2) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let metrics_listen = config.api.metrics_listen;
                let hsts = tls_config.is_some();
                let node_id = moat_core::spoolfile::node_id(&config);
                let state = web::Data::new(AppState {
                    store,
                    config,
                    budgets,
                    node_id,
                    auth_failures,
                    signing,
                    relay,
                    link_base: link_base.clone(),
                    compiler,
                    reload,
                });
                let for_base = state.clone();
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        let state = state.clone();
                        App::new()
                            .wrap(actix_web::middleware::from_fn(idempotency::middleware))
                            .wrap_fn(|mut req, srv| {
                                // `/api/v1/...` is routed as `/v1/...` (one router).
                                if let Some(path) = openapi::alias_of(req.path()) {
                                    let target = match req.query_string() {
                                        "" => path,
                                        q => format!("{path}?{q}"),
                                    };
                                    if let Ok(uri) = target.parse::<actix_web::http::Uri>() {
                                        req.match_info_mut().get_mut().update(&uri);
                                        req.head_mut().uri = uri;
                                    }
                                }
                                srv.call(req)
                            })
                            .wrap_fn({
                                let state = state.clone();
                                move |req, srv| {
                                let started = std::time::Instant::now();
                                let writes = !req.method().is_safe();
                                let state = state.clone();
                                let fut = srv.call(req);
                                async move {
                                    let mut res = fut.await?;
                                    if let (true, Some(signal)) = (
                                        writes && res.status().is_success(),
                                        state.reload.as_ref(),
                                    ) {
                                        in_force::settle(&state.store, signal).await;
                                    }
                                    record_request(&res, started);
                                    rate_limit_headers(&mut res);
                                    if hsts {
                                        res.headers_mut().insert(
                                            actix_web::http::header::STRICT_TRANSPORT_SECURITY,
                                            actix_web::http::header::HeaderValue::from_static(
                                                "max-age=31536000",
                                            ),
                                        );
                                    }
                                    Ok(res)
                                }
                            }})
                            .configure(move |c| configure(c, state))
                    })
                    .workers(workers)
                    .disable_signals();
                    let server = match tls_config {
                        Some(tls) => server.bind_rustls_0_23(listen, tls),
                        None => server.bind(listen),
                    };
                    let server = match (server, metrics_listen) {
                        (Ok(s), Some(m)) => HttpServer::new(|| {
                            App::new().route("/metrics", web::get().to(metrics_only))
                        })
                        .workers(1)
                        .disable_signals()
                        .bind(m)
                        .map(|metrics| (s, Some(metrics))),
                        (Ok(s), None) => Ok((s, None)),
                        (Err(e), _) => Err(e),
                    };
                    match server {
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                        Ok((server, metrics)) => {
                            let addr = server.addrs().first().copied().unwrap_or(listen);
                            let _ = for_base
                                .link_base
                                .set(service::digest::public_base(&for_base.config, addr));
                            if !hsts && !addr.ip().is_loopback() {
                                tracing::warn!(%addr, "the API serves plain HTTP on a non-loopback address: put a TLS-terminating proxy in front or set api.tls_cert and api.tls_key");
                            }
                            let _ = tx.send(Ok(addr));
                            let api = server.run();
                            let result = match metrics {
                                Some(m) => futures::future::try_join(api, m.run()).await.map(|_| ()),
                                None => api.await,
                            };
                            if let Err(e) = result {
                                tracing::error!(error = %e, "API server stopped");
                            }
                        }
                    }
                });
            })?;
        let addr = rx
            .recv()
            .map_err(|_| std::io::Error::other("API thread stopped before binding"))??;
        tracing::info!(%addr, tls = certificate.is_some(), "API listening");
        Ok(ApiServer {
            addr,
            certificate,
            thread,
        })
    }

    /// Blocks until the API thread ends.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}
