//! The order of the checks of SPEC §3–§4: authenticate, headers, FI, ccg_token, body, code.
//! Only the first failing stage is reported, and a failed check other than
//! `auth_code_used` leaves the code redeemable.

use std::time::Duration;

use obie_tokens::domain::{Lifetimes, admin, sandbox};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, error_codes};

const FI_B: &str = "PSDGB-FCA-222222";
const GOOGLE: &str = "https://www.google.com";

#[tokio::test]
async fn bad_credentials_hide_missing_headers_and_a_malformed_body() {
    let app = TestApp::spawn().await;

    let response = app
        .raw(Method::POST, "/v1/obie/tokens")
        .header("Authorization", "Basic YXBpLWNvbnN1bWVyLWlkOndyb25n")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 401).await, ["authentication_failed"]);
}

#[tokio::test]
async fn with_good_credentials_all_header_problems_come_in_one_400_before_the_body() {
    let app = TestApp::spawn().await;

    let response = app
        .raw(Method::POST, "/v1/obie/authorization_codes")
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("version", "2")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_codes(response, 400).await,
        ["header_missing", "version_unsupported", "header_missing"]
    );
}

#[tokio::test]
async fn header_problems_come_before_a_forbidden_fi() {
    let app = TestApp::spawn().await;

    let response = app
        .raw(Method::POST, "/v1/obie/tokens")
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", FI_B)
        .header("version", "1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 400).await, ["header_missing"]); // ccg_token
}

#[tokio::test]
async fn a_forbidden_fi_comes_before_a_bad_ccg_token() {
    let app = TestApp::spawn().await;

    let response = app
        .post_as(sandbox::AUTHORIZATION, FI_B, "/v1/obie/tokens")
        .header("ccg_token", "no-such-token")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 403).await, ["fi_reference_forbidden"]);
}

#[tokio::test]
async fn a_bad_ccg_token_comes_before_the_content_type_and_the_body() {
    let app = TestApp::spawn().await;

    let malformed = app
        .post("/v1/obie/tokens")
        .header("ccg_token", "no-such-token")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let wrong_type = app
        .post_bare("/v1/obie/authorization_codes")
        .header("ccg_token", "no-such-token")
        .header("Content-Type", "text/plain")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(malformed, 401).await, ["ccg_token_invalid"]);
    assert_eq!(error_codes(wrong_type, 401).await, ["ccg_token_invalid"]);
}

#[tokio::test]
async fn an_unsupported_content_type_comes_before_a_malformed_body() {
    let app = TestApp::spawn().await;

    let response = app
        .post_bare("/v1/obie/tokens/introspection")
        .header("Content-Type", "text/plain")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_codes(response, 415).await,
        ["content_type_unsupported"]
    );
}

#[tokio::test]
async fn a_redirect_mismatch_leaves_the_code_redeemable() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    let mismatch = app.exchange(&code, "https://psp.example/callback").await;
    assert_eq!(error_codes(mismatch, 400).await, ["redirect_uri_mismatch"]);

    let response = app.exchange(&code, GOOGLE).await;

    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["state"], "example-state");
}

#[tokio::test]
async fn a_psp_mismatch_comes_before_a_redirect_mismatch_and_leaves_the_code_redeemable() {
    let app = TestApp::spawn().await;
    admin::register_psp(
        app.store().await.as_ref(),
        "PSDGB-FCA-654321",
        "Other",
        &[GOOGLE.into()],
    )
    .await
    .unwrap();
    let other_ccg = app.new_ccg_token("PSDGB-FCA-654321", None).await;
    let code = app.new_code().await;
    let wrong_psp = app
        .exchange_with(&other_ccg, &code, "https://psp.example/callback")
        .await;
    assert_eq!(
        error_codes(wrong_psp, 403).await,
        ["auth_code_psp_mismatch"]
    );

    let response = app.exchange(&code, GOOGLE).await;

    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn another_fis_code_is_auth_code_invalid_and_stays_redeemable_by_its_fi() {
    // Arrange: an aggregator issues a code for FI B.
    let app = TestApp::spawn().await;
    let aggregator = app
        .add_consumer("aggregator", &[sandbox::FI_REFERENCE_ID, FI_B])
        .await;
    let response = app
        .post_as(&aggregator, FI_B, "/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();
    let ccg_b = response.json::<Value>().await.unwrap()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchange_b = |code: &str| {
        app.post_as(&aggregator, FI_B, "/v1/obie/tokens")
            .header("ccg_token", &ccg_b)
            .json(&json!({"auth_code": code, "redirect_uri": GOOGLE}))
            .send()
    };
    let response = app
        .post_as(&aggregator, FI_B, "/v1/obie/authorization_codes")
        .header("ccg_token", &ccg_b)
        .json(&json!({"redirect_uri": GOOGLE}))
        .send()
        .await
        .unwrap();
    let code_b = response.json::<Value>().await.unwrap()["data"]["auth_code"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act: the sandbox FI tries it, then FI B.
    let foreign = app.exchange(&code_b, GOOGLE).await;
    let own = exchange_b(&code_b).await.unwrap();

    // Assert
    assert_eq!(error_codes(foreign, 400).await, ["auth_code_invalid"]);
    assert_eq!(own.status(), 201);
}

#[tokio::test]
async fn expiry_comes_before_the_psp_and_redirect_checks() {
    let app = TestApp::spawn_with(Options {
        lifetimes: Lifetimes {
            auth_code: 1,
            ..Lifetimes::default()
        },
        ..Options::default()
    })
    .await;
    let code = app.new_code().await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // waiting out the 1 s lifetime

    let response = app.exchange(&code, "https://psp.example/callback").await;

    assert_eq!(error_codes(response, 400).await, ["auth_code_expired"]);
}

#[tokio::test]
async fn a_failed_exchange_for_a_bad_body_does_not_consume_the_code() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    let bad = app
        .post_with_ccg("/v1/obie/tokens")
        .json(&json!({"auth_code": code, "redirect_uri": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_codes(bad, 400).await, ["parameter_invalid"]);

    let response = app.exchange(&code, GOOGLE).await;

    assert_eq!(response.status(), 201);
}
