//! The contract as served: the OpenAPI document (generated from the route table), Swagger
//! UI, the error catalogue page, and the 404/405 fallback that reads the route table.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::errors::{ApiError, ErrorCode, ErrorEnvelope, ErrorObject, Problem};
use super::headers::ApiVersion;

pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";
pub const ERRORS_PAGE_PATH: &str = "/docs/errors";
pub const SWAGGER_UI_PATH: &str = "/swagger-ui/";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "obie-tokens",
        description = "Issues and checks the access tokens of the UK Open Banking (OBIE) authorization-code flow for financial institutions (FIs).\n\n\
The flow, in order: (1) `POST /v1/oauth2/tokens` gives a ccg_token for a PSP; (2) after the PSU consents, `POST /v1/obie/authorization_codes` gives a single-use code and the redirect for the PSU's browser; (3) `POST /v1/obie/tokens` trades the code for the PSP's access token; (4) `POST /v1/obie/tokens/introspection` tells whether a token is active and whose it is; (5) `POST /v1/obie/tokens/revocation` kills it.\n\n\
**Sandbox** (`serve --sandbox`): click *Authorize* and enter `api-consumer-id` / `password`; use `fi_reference_id` `PSDGB-FCA-111111`, `version` `1`, PSP `PSDGB-FCA-123456`, redirect URI `https://www.google.com`, and the ready-made ccg_token `good-access-token`.\n\n\
Every failure answers `{\"errors\": [{\"id\", \"code\", \"title\", \"link\"}]}`; the codes are listed at `/docs/errors`.",
        version = "1.0.0",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(ErrorEnvelope, ErrorObject, ApiVersion)),
    modifiers(&SecuritySchemes, &EnumVarNames),
    tags(
        (name = "ccg tokens", description = "Client-credentials grant tokens: step 1 of the flow."),
        (name = "authorization codes", description = "Single-use authorization codes: step 2 of the flow."),
        (name = "access tokens", description = "Access tokens: exchange (step 3), introspection (step 4) and revocation (step 5)."),
        (name = "health", description = "Liveness and readiness probes."),
    )
)]
pub struct ApiDoc;

/// Names for enum values that are not identifiers (`x-enum-varnames`, read by client
/// generators), so a generated client says `ApiVersion.V1` rather than `ApiVersion.VALUE_0`.
struct EnumVarNames;

impl Modify for EnumVarNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let schemas = openapi.components.as_mut().map(|c| &mut c.schemas);
        if let Some(RefOr::T(Schema::Object(version))) =
            schemas.and_then(|s| s.get_mut("ApiVersion"))
        {
            version
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "x-enum-varnames".into(),
                    serde_json::json!(["V1", "LATEST"]),
                );
        }
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some(
            "The API consumer's client id and secret (RFC 7617). Sandbox: `api-consumer-id` / `password`."
                .into(),
        );
        components.add_security_scheme("basic_auth", SecurityScheme::Http(basic));
        // The `ccg_token` header is documented as an API key rather than a header parameter,
        // so Swagger UI's Authorize dialog sets it once for every operation that needs it.
        let ccg_token = ApiKeyValue::with_description(
            "ccg_token",
            "The ccg_token from `POST /v1/oauth2/tokens`, 1-256 visible ASCII characters, sent as the `ccg_token` header (sandbox: `good-access-token`).",
        );
        components.add_security_scheme(
            "ccg_token",
            SecurityScheme::ApiKey(ApiKey::Header(ccg_token)),
        );
    }
}

/// Path → allowed methods, read from the generated document plus the docs pages, so the
/// 405 `Allow` header comes from the same route table as everything else.
#[derive(Clone, Default)]
pub struct RouteTable(BTreeMap<String, Vec<&'static str>>);

impl RouteTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut table = BTreeMap::new();
        for (path, item) in doc.paths.paths.iter() {
            let methods = [
                (item.get.is_some(), "GET"),
                (item.post.is_some(), "POST"),
                (item.put.is_some(), "PUT"),
                (item.delete.is_some(), "DELETE"),
                (item.patch.is_some(), "PATCH"),
            ];
            let allowed = methods
                .iter()
                .filter(|(has, _)| *has)
                .map(|(_, m)| *m)
                .collect();
            table.insert(path.clone(), allowed);
        }
        for page in [
            OPENAPI_PATH,
            ERRORS_PAGE_PATH,
            "/swagger-ui",
            SWAGGER_UI_PATH,
        ] {
            table.insert(page.to_owned(), vec!["GET"]);
        }
        RouteTable(table)
    }
}

/// The default service: 405 with `Allow` for a known path, else 404.
pub async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    let known = routes.0.get(req.path()).or_else(|| {
        req.path()
            .starts_with(SWAGGER_UI_PATH)
            .then(|| routes.0.get(SWAGGER_UI_PATH))
            .flatten()
    });
    match known {
        Some(methods) if !methods.contains(&req.method().as_str()) => Err(ApiError {
            allow: Some(methods.join(", ")),
            ..ApiError::one(Problem::new(
                ErrorCode::MethodNotAllowed,
                format!(
                    "{} is not allowed on {}; use {}.",
                    req.method(),
                    req.path(),
                    methods.join(", ")
                ),
            ))
        }),
        _ => Err(ApiError::one(ErrorCode::NotFound)),
    }
}

/// `GET /swagger-ui` → `/swagger-ui/`, where the UI's relative asset paths resolve.
pub async fn swagger_ui_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, SWAGGER_UI_PATH))
        .finish()
}

/// `GET /docs/errors`: the catalogue as HTML, one anchor per code.
pub async fn errors_page() -> HttpResponse {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>obie-tokens error codes</title>\
<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto;line-height:1.5}code{background:#eee;padding:0 .2rem}section{border-top:1px solid #ccc}</style>\
</head><body><h1>obie-tokens error codes</h1>\
<p>Every failure answers <code>{\"errors\": [{\"id\", \"code\", \"title\", \"link\"}]}</code>. \
<code>id</code> equals the response's <code>x-request-id</code> header; <code>code</code> is one of these, and stable.</p>",
    );
    for code in ErrorCode::ALL {
        html.push_str(&format!(
            "<section id=\"{c}\"><h2><a href=\"#{c}\">{c}</a> <small>HTTP {s}</small></h2><p>{t}</p><p>{w}</p></section>",
            c = code.as_str(),
            s = code.status().as_u16(),
            t = escape(code.title()),
            w = escape(code.when()),
        ));
    }
    html.push_str("</body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
