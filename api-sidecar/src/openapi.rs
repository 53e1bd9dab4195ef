//! The OpenAPI 3.1 document, generated from the handlers' annotations and the response types
//! (`schema`), served at `/v1/openapi.json` and `/api/v1/openapi`, with Swagger UI at
//! `/v1/docs`. Errors every operation can answer (bad input, authentication, scope, rate
//! limit, store down, and 404 for ids) are added here once instead of on every handler.

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HttpMethod, Ref, RefOr, ResponseBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{error::Problem, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Moat API",
        description = "Manage the domains Moat protects, their policies and sender rules, \
quarantined mail, verdicts, the threat feed and API tokens. Every request carries \
`Authorization: Bearer moat_live_…` (or `moat_test_…` for the sandbox). Errors are RFC 9457 \
problem documents. Each token may make 600 requests an hour and 60 a minute; every answer \
carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`. Every POST \
takes an optional `Idempotency-Key` header (1 to 255 visible ASCII characters): the first \
answer to (token, path, key) is replayed for 24 hours with `Idempotent-Replayed: true`, the \
same key with another body answers 422, and a retry while the first runs answers 409."
    ),
    paths(
        routes::me::me,
        routes::domains::list, routes::domains::create, routes::domains::get,
        routes::domains::patch, routes::domains::delete, routes::domains::verify,
        routes::sender_rules::list, routes::sender_rules::create, routes::sender_rules::delete,
        routes::policies::list, routes::policies::create, routes::policies::get,
        routes::policies::replace, routes::policies::delete,
        routes::quarantine::list, routes::quarantine::get, routes::quarantine::raw,
        routes::quarantine::delete, routes::quarantine::release, routes::quarantine::report,
        routes::bulk::start, routes::bulk::get,
        routes::digest::digest, routes::digest::send, routes::digest::confirm, routes::digest::release,
        routes::digest::revoke_links,
        routes::verdicts::list, routes::verdicts::get,
        routes::threats::list,
        routes::stats::stats,
        routes::tokens::list, routes::tokens::create, routes::tokens::revoke,
        routes::webhooks::list, routes::webhooks::create, routes::webhooks::get,
        routes::webhooks::delete, routes::webhooks::test, routes::webhooks::deliveries,
        routes::webhooks::redeliver,
    ),
    components(schemas(Problem)),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// Adds the bearer scheme and the shared error answers to every operation.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("moat_live_… or moat_test_… token"))
                    .build(),
            ),
        );
        api.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        if let Some(condition) = components.schemas.get_mut("Condition") {
            tighten_condition(condition);
        }
        let problem = |why: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(why)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in api.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for method in [
                HttpMethod::Get,
                HttpMethod::Post,
                HttpMethod::Put,
                HttpMethod::Patch,
                HttpMethod::Delete,
            ] {
                let op = match method {
                    HttpMethod::Get => item.get.as_mut(),
                    HttpMethod::Post => item.post.as_mut(),
                    HttpMethod::Put => item.put.as_mut(),
                    HttpMethod::Patch => item.patch.as_mut(),
                    HttpMethod::Delete => item.delete.as_mut(),
                    _ => None,
                };
                let Some(op) = op else { continue };
                let mut add = |code: &str, why: &str| {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| problem(why));
                };
                add("400", "A parameter or the body is not valid");
                add("401", "Missing, unknown or revoked token");
                add("403", "The token's scope does not allow this");
                add("429", "Rate limit exceeded; see Retry-After");
                add("503", "The store is unavailable; try again");
                if has_id {
                    add("404", "No such object for this customer");
                }
                if op.request_body.is_some() {
                    add("413", "The body is too large");
                    add("422", "The body is well-formed but not acceptable");
                }
                if matches!(
                    method,
                    HttpMethod::Post | HttpMethod::Delete | HttpMethod::Patch
                ) {
                    add("409", "The object's state does not allow this");
                }
                if path.ends_with("/release") {
                    add("502", "The real mail server did not take the message");
                }
            }
        }
    }
}

/// A policy condition is a one-key object per variant whose lists hold non-empty strings; the
/// derived schema says less (serde's `deny_unknown_fields` and the non-empty rules are checked
/// in code), so it is tightened here. Nested conditions (`all`, `any`, `not`) are described as
/// one-key objects rather than by reference: client generators (openapi-python-client) cannot
/// build recursive unions, and the server checks the nested shape anyway.
fn tighten_condition(schema: &mut RefOr<utoipa::openapi::schema::Schema>) {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map)
                if map.get("$ref").and_then(|r| r.as_str())
                    == Some("#/components/schemas/Condition") =>
            {
                *v = serde_json::json!({
                    "type": "object",
                    "description": "A nested condition, shaped like Condition.",
                    "minProperties": 1,
                    "maxProperties": 1,
                });
            }
            serde_json::Value::Object(map) => {
                if map.contains_key("properties") {
                    map.insert("additionalProperties".into(), false.into());
                }
                if map.get("type").and_then(|t| t.as_str()) == Some("array") {
                    map.insert("minItems".into(), 1.into());
                }
                if map.get("type").and_then(|t| t.as_str()) == Some("string") {
                    map.insert("minLength".into(), 1.into());
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::to_value(&*schema) else {
        return;
    };
    walk(&mut value);
    // Name each variant (`SubjectContains`, `HeaderContainsArgs`, …) so generated clients get
    // one class per variant instead of colliding numbered ones.
    if let Some(variants) = value.get_mut("oneOf").and_then(|v| v.as_array_mut()) {
        for variant in variants {
            let Some(key) = variant
                .get("required")
                .and_then(|r| r.get(0))
                .and_then(|k| k.as_str())
                .map(str::to_string)
            else {
                continue;
            };
            let title: String = key
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            if let Some(inner) = variant
                .get_mut("properties")
                .and_then(|p| p.get_mut(&key))
                .filter(|i| i.get("properties").is_some())
            {
                inner["title"] = format!("{title}Args").into();
            }
            variant["title"] = title.into();
        }
    }
    if let Ok(tight) = serde_json::from_value(value) {
        *schema = tight;
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn spec() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// `/v1/openapi.json` (inside the `/v1` scope) and Swagger UI at `/v1/docs`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(spec)).service(
        SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/v1/openapi.json")),
    );
}

/// Root routes around the spec: `/api/v1/openapi` (the document under the path some
/// integrations look for), `/v1/docs` without its slash, and `/api/browser`, the interactive
/// browser over the live API (Swagger UI: "Authorize" with a token, then "Try it out").
pub fn configure_root(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi", web::get().to(spec))
        // Relative, so `/api/v1/docs` (an alias of this path) lands on `/api/v1/docs/`.
        .route("/v1/docs", web::get().to(|| redirect("docs/")))
        .route("/api/browser", web::get().to(|| redirect("/v1/docs/")))
        .route("/api/browser/", web::get().to(|| redirect("/v1/docs/")));
}

async fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

/// The path `/api/v1/...` stands for: every `/v1` route is also served under `/api/v1` (the
/// path MxGuard's documentation uses), by one router: the request is routed as its `/v1` path,
/// and the spec lists each operation once.
pub fn alias_of(path: &str) -> Option<String> {
    if path == "/api/v1/openapi" {
        return None;
    }
    let rest = path.strip_prefix("/api/v1")?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("/v1{rest}"))
}
