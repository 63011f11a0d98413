//! The request-level errors of SPEC §5: authentication, headers and bodies, each with its
//! status, the envelope of SPEC §3 and the headers its status calls for.

use obie_tokens::domain::sandbox;
use reqwest::Response;
use serde_json::json;

use crate::helpers::{TestApp, error_codes, header};

const REALM: &str = r#"Basic realm="obie-tokens""#;

/// Asserts a 401 with `WWW-Authenticate` and returns its codes.
async fn unauthorized(response: Response) -> Vec<String> {
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some(REALM)
    );
    error_codes(response, 401).await
}

#[tokio::test]
async fn a_missing_or_malformed_authorization_is_authentication_required() {
    let app = TestApp::spawn().await;
    let cases = [
        None,
        Some("Bearer YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk"),
        Some("Basic !!!not-base64"),
        Some("Basic bm9jb2xvbg=="), // "nocolon"
    ];

    for authorization in cases {
        let mut request = app
            .raw(reqwest::Method::POST, "/v1/oauth2/tokens")
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
            .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();

        assert_eq!(
            unauthorized(response).await,
            ["authentication_required"],
            "{authorization:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_or_unknown_client_is_authentication_failed() {
    let app = TestApp::spawn().await;
    let basic = |pair: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };

    for pair in ["api-consumer-id:wrong", "nobody:password"] {
        let response = app
            .raw(reqwest::Method::POST, "/v1/obie/tokens/introspection")
            .header("Authorization", basic(pair))
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
            .json(&json!({"access_token": "x"}))
            .send()
            .await
            .unwrap();

        assert_eq!(
            unauthorized(response).await,
            ["authentication_failed"],
            "{pair}"
        );
    }
}

#[tokio::test]
async fn each_missing_header_is_reported_in_one_answer() {
    let app = TestApp::spawn().await;

    let response = app
        .raw(reqwest::Method::POST, "/v1/obie/tokens")
        .header("Authorization", sandbox::AUTHORIZATION)
        .json(&json!({"auth_code": "x", "redirect_uri": "https://www.google.com"}))
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_codes(response, 400).await,
        ["header_missing", "header_missing", "header_missing"]
    );
}

#[tokio::test]
async fn a_malformed_header_is_header_invalid() {
    let app = TestApp::spawn().await;
    let too_long = "F".repeat(129);

    for fi in ["has space", too_long.as_str()] {
        let response = app
            .raw(reqwest::Method::POST, "/v1/obie/tokens/revocation")
            .header("Authorization", sandbox::AUTHORIZATION)
            .header("fi_reference_id", fi)
            .header("version", "1")
            .json(&json!({"access_token": "x"}))
            .send()
            .await
            .unwrap();

        assert_eq!(error_codes(response, 400).await, ["header_invalid"], "{fi}");
    }
}

#[tokio::test]
async fn a_version_other_than_1_or_latest_is_version_unsupported() {
    let app = TestApp::spawn().await;

    for version in ["2", "v1", "LATEST"] {
        let response = app
            .raw(reqwest::Method::POST, "/v1/oauth2/tokens")
            .header("Authorization", sandbox::AUTHORIZATION)
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", version)
            .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
            .send()
            .await
            .unwrap();

        assert_eq!(
            error_codes(response, 400).await,
            ["version_unsupported"],
            "{version}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_body_malformed() {
    let app = TestApp::spawn().await;

    for body in ["{\"psp_id\":", "[1, 2]", "\"text\"", ""] {
        let response = app
            .post("/v1/oauth2/tokens")
            .body(body)
            .send()
            .await
            .unwrap();

        assert_eq!(
            error_codes(response, 400).await,
            ["body_malformed"],
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn each_missing_field_is_parameter_missing() {
    let app = TestApp::spawn().await;

    let ccg = app
        .post("/v1/oauth2/tokens")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let exchange = app
        .post_with_ccg("/v1/obie/tokens")
        .json(&json!({"auth_code": null}))
        .send()
        .await
        .unwrap();
    let code = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(&json!({"state": "s"}))
        .send()
        .await
        .unwrap();
    let introspection = app
        .post("/v1/obie/tokens/introspection")
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    let two = ["parameter_missing", "parameter_missing"];
    assert_eq!(error_codes(ccg, 400).await, two);
    assert_eq!(error_codes(exchange, 400).await, two);
    assert_eq!(error_codes(code, 400).await, ["parameter_missing"]);
    assert_eq!(error_codes(introspection, 400).await, ["parameter_missing"]);
}

#[tokio::test]
async fn a_wrong_type_empty_too_long_relative_or_unknown_value_is_parameter_invalid() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "/v1/oauth2/tokens",
            json!({"grant_type": "client_credentials", "psp_id": 5}),
        ),
        (
            "/v1/oauth2/tokens",
            json!({"grant_type": "client_credentials", "psp_id": ""}),
        ),
        (
            "/v1/oauth2/tokens",
            json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID, "scope": "accounts openid"}),
        ),
        (
            "/v1/obie/authorization_codes",
            json!({"redirect_uri": "/relative"}),
        ),
        (
            "/v1/obie/authorization_codes",
            json!({"redirect_uri": "https://www.google.com", "state": "s".repeat(513)}),
        ),
        (
            "/v1/obie/tokens",
            json!({"auth_code": ["x"], "redirect_uri": "https://www.google.com"}),
        ),
        (
            "/v1/obie/tokens/revocation",
            json!({"access_token": "t".repeat(257)}),
        ),
    ];

    for (path, body) in cases {
        let response = app.post_with_ccg(path).json(&body).send().await.unwrap();

        assert_eq!(
            error_codes(response, 400).await,
            ["parameter_invalid"],
            "{path} {body}"
        );
    }
}

#[tokio::test]
async fn every_field_problem_of_a_body_is_reported_together() {
    let app = TestApp::spawn().await;

    let response = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(&json!({"redirect_uri": 7, "scope": "nonsense", "state": ""}))
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_codes(response, 400).await,
        [
            "parameter_invalid",
            "parameter_invalid",
            "parameter_invalid"
        ]
    );
}

#[tokio::test]
async fn a_grant_other_than_client_credentials_is_grant_type_unsupported() {
    let app = TestApp::spawn().await;

    let response = app
        .post("/v1/oauth2/tokens")
        .json(&json!({"grant_type": "authorization_code", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 400).await, ["grant_type_unsupported"]);
}
