//! What each FI and consumer may see and do (SPEC §4, §6): another FI's tokens are
//! inactive to it and untouched by its revocations; expiry and disabling end access.

use std::time::Duration;

use obie_tokens::domain::{Lifetimes, sandbox};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, access_token, error_codes};

const FI_B: &str = "PSDGB-FCA-222222";
const GOOGLE: &str = "https://www.google.com";

/// An aggregator acting for FI B gets an access token there; returns (authorization, token).
async fn token_of_fi_b(app: &TestApp) -> (String, String) {
    let aggregator = app
        .add_consumer("aggregator", &[sandbox::FI_REFERENCE_ID, FI_B])
        .await;
    let post = |path: &str| app.post_as(&aggregator, FI_B, path);
    let ccg: Value = post("/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ccg = ccg["data"]["access_token"].as_str().unwrap().to_owned();
    let code: Value = post("/v1/obie/authorization_codes")
        .header("ccg_token", &ccg)
        .json(&json!({"redirect_uri": GOOGLE}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exchange = post("/v1/obie/tokens")
        .header("ccg_token", &ccg)
        .json(&json!({"auth_code": code["data"]["auth_code"], "redirect_uri": GOOGLE}))
        .send()
        .await
        .unwrap();
    let token = access_token(exchange).await;
    (aggregator, token)
}

#[tokio::test]
async fn another_fis_token_is_inactive_and_survives_revocation_attempts() {
    // Arrange
    let app = TestApp::spawn().await;
    let (aggregator, token) = token_of_fi_b(&app).await;

    // Act: the sandbox FI introspects and revokes FI B's token.
    let seen = app.introspect(&token).await;
    let revoked = app
        .post("/v1/obie/tokens/revocation")
        .json(&json!({"access_token": token}))
        .send()
        .await
        .unwrap();

    // Assert: FI B still sees it active.
    assert_eq!(seen, json!({"active": false}));
    assert_eq!(revoked.status(), 204);
    let own: Value = app
        .post_as(&aggregator, FI_B, "/v1/obie/tokens/introspection")
        .json(&json!({"access_token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["data"]["active"], true);
    assert_eq!(own["data"]["fi_reference_id"], FI_B);
}

#[tokio::test]
async fn an_access_token_past_its_lifetime_is_inactive() {
    let app = TestApp::spawn_with(Options {
        lifetimes: Lifetimes {
            access_token: 1,
            ..Lifetimes::default()
        },
        ..Options::default()
    })
    .await;
    let code = app.new_code().await;
    let response = app.exchange(&code, GOOGLE).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["expires_in"], 1);
    let token = body["data"]["access_token"].as_str().unwrap().to_owned();

    tokio::time::sleep(Duration::from_millis(1200)).await; // waiting out the 1 s lifetime

    assert_eq!(app.introspect(&token).await, json!({"active": false}));
}

#[tokio::test]
async fn a_disabled_consumer_fails_authentication() {
    let app = TestApp::spawn().await;
    let consumer = app
        .add_consumer("leaving", &[sandbox::FI_REFERENCE_ID])
        .await;
    let store = app.store().await;
    assert!(store.disable_consumer("leaving").await.unwrap());

    let response = app
        .post_as(&consumer, sandbox::FI_REFERENCE_ID, "/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 401).await, ["authentication_failed"]);
}
