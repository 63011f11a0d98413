//! The pages and probes beside the API (SPEC §4): health, the error catalogue page and
//! Swagger UI.

use crate::helpers::{TestApp, header};

#[tokio::test]
async fn liveness_and_readiness_answer_200() {
    let app = TestApp::spawn().await;

    let live = app
        .raw(reqwest::Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    let ready = app
        .raw(reqwest::Method::GET, "/readyz")
        .send()
        .await
        .unwrap();

    assert_eq!(live.status(), 200);
    assert!(header(&live, "x-request-id").is_some());
    assert_eq!(ready.status(), 200);
}

/// Every code of SPEC §5.
pub const CATALOGUE: [&str; 27] = [
    "header_missing",
    "header_invalid",
    "version_unsupported",
    "body_malformed",
    "parameter_missing",
    "parameter_invalid",
    "grant_type_unsupported",
    "redirect_uri_not_registered",
    "auth_code_invalid",
    "auth_code_expired",
    "auth_code_used",
    "redirect_uri_mismatch",
    "authentication_required",
    "authentication_failed",
    "ccg_token_invalid",
    "fi_reference_forbidden",
    "ccg_token_forbidden",
    "psp_not_authorised",
    "auth_code_psp_mismatch",
    "scope_forbidden",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "content_type_unsupported",
    "rate_limited",
    "internal_error",
    "service_unavailable",
];

#[tokio::test]
async fn the_error_page_has_an_anchor_for_every_code() {
    let app = TestApp::spawn().await;

    let response = app
        .raw(reqwest::Method::GET, "/docs/errors")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for code in CATALOGUE {
        assert!(
            html.contains(&format!("id=\"{code}\"")),
            "anchor for {code}"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_and_its_bare_path_redirects() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let ui = app
        .raw(reqwest::Method::GET, "/swagger-ui/")
        .send()
        .await
        .unwrap();
    let bare = no_redirects
        .get(format!("{}/swagger-ui", app.base))
        .send()
        .await
        .unwrap();

    assert_eq!(ui.status(), 200);
    assert!(
        header(&ui, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(bare.status().is_redirection());
    assert_eq!(header(&bare, "location").unwrap(), "/swagger-ui/");
}
