//! The flow's own refusals (SPEC §4–§5): the ccg_token, the PSP, the redirect URI, the
//! scope and the authorization code.

use std::time::Duration;

use obie_tokens::domain::{Lifetimes, admin, sandbox};
use serde_json::json;

use crate::helpers::{Options, TestApp, error_codes, header};

const FI_B: &str = "PSDGB-FCA-222222";
const GOOGLE: &str = "https://www.google.com";

fn short_lived(auth_code: u32, ccg_token: u32) -> Options {
    Options {
        lifetimes: Lifetimes {
            auth_code,
            ccg_token,
            ..Lifetimes::default()
        },
        ..Options::default()
    }
}

#[tokio::test]
async fn a_redirect_uri_not_exactly_registered_is_redirect_uri_not_registered() {
    let app = TestApp::spawn().await;

    for uri in [
        "https://evil.example",
        "https://www.google.com/",
        "https://WWW.google.com",
    ] {
        let response = app
            .post_with_ccg("/v1/obie/authorization_codes")
            .json(&json!({"redirect_uri": uri}))
            .send()
            .await
            .unwrap();

        assert_eq!(
            error_codes(response, 400).await,
            ["redirect_uri_not_registered"],
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_scope_beyond_the_ccg_tokens_is_scope_forbidden() {
    let app = TestApp::spawn().await; // the sandbox token grants `accounts payments`

    let response = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(&json!({"redirect_uri": GOOGLE, "scope": "accounts fundsconfirmations"}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 403).await, ["scope_forbidden"]);
}

#[tokio::test]
async fn an_unknown_code_is_auth_code_invalid() {
    let app = TestApp::spawn().await;

    let response = app.exchange("no-such-code", GOOGLE).await;

    assert_eq!(error_codes(response, 400).await, ["auth_code_invalid"]);
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_auth_code_expired() {
    let app = TestApp::spawn_with(short_lived(1, 3600)).await;
    let code = app.new_code().await;

    tokio::time::sleep(Duration::from_millis(1200)).await; // waiting out the 1 s lifetime
    let response = app.exchange(&code, GOOGLE).await;

    assert_eq!(error_codes(response, 400).await, ["auth_code_expired"]);
}

#[tokio::test]
async fn a_code_redeemed_before_is_auth_code_used() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    assert_eq!(app.exchange(&code, GOOGLE).await.status(), 201);

    let response = app.exchange(&code, GOOGLE).await;

    assert_eq!(error_codes(response, 400).await, ["auth_code_used"]);
}

#[tokio::test]
async fn a_redirect_uri_differing_from_the_codes_is_redirect_uri_mismatch() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await; // issued for https://www.google.com

    for uri in ["https://psp.example/callback", "https://www.google.com/"] {
        let response = app.exchange(&code, uri).await;

        assert_eq!(
            error_codes(response, 400).await,
            ["redirect_uri_mismatch"],
            "{uri}"
        );
    }
}

#[tokio::test]
async fn an_unknown_or_expired_ccg_token_is_ccg_token_invalid() {
    let app = TestApp::spawn_with(short_lived(60, 1)).await;
    let expiring = app.new_ccg_token(sandbox::PSP_ID, None).await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // waiting out the 1 s lifetime

    for token in ["no-such-token", expiring.as_str()] {
        let response = app
            .post("/v1/obie/authorization_codes")
            .header("ccg_token", token)
            .json(&json!({"redirect_uri": GOOGLE}))
            .send()
            .await
            .unwrap();

        let realm = header(&response, "www-authenticate");
        assert_eq!(error_codes(response, 401).await, ["ccg_token_invalid"]);
        assert_eq!(realm.as_deref(), Some(r#"Basic realm="obie-tokens""#));
    }
}

#[tokio::test]
async fn an_fi_the_credentials_may_not_act_for_is_fi_reference_forbidden() {
    let app = TestApp::spawn().await;

    let response = app
        .post_as(sandbox::AUTHORIZATION, FI_B, "/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(response, 403).await, ["fi_reference_forbidden"]);
}

#[tokio::test]
async fn a_ccg_token_of_another_consumer_or_fi_is_ccg_token_forbidden() {
    // Arrange: an aggregator allowed for the sandbox FI and FI B.
    let app = TestApp::spawn().await;
    let aggregator = app
        .add_consumer("aggregator", &[sandbox::FI_REFERENCE_ID, FI_B])
        .await;
    let code_request = |fi: &str, ccg: &str| {
        app.post_as(&aggregator, fi, "/v1/obie/authorization_codes")
            .header("ccg_token", ccg)
            .json(&json!({"redirect_uri": GOOGLE}))
    };
    let response = app
        .post_as(&aggregator, sandbox::FI_REFERENCE_ID, "/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let own_ccg = body["data"]["access_token"].as_str().unwrap().to_owned();

    // Act
    let other_consumers = code_request(sandbox::FI_REFERENCE_ID, sandbox::CCG_TOKEN)
        .send()
        .await
        .unwrap();
    let other_fis = code_request(FI_B, &own_ccg).send().await.unwrap();
    let own = code_request(sandbox::FI_REFERENCE_ID, &own_ccg)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        error_codes(other_consumers, 403).await,
        ["ccg_token_forbidden"]
    );
    assert_eq!(error_codes(other_fis, 403).await, ["ccg_token_forbidden"]);
    assert_eq!(own.status(), 201);
}

#[tokio::test]
async fn a_ccg_token_for_a_withdrawn_or_unknown_psp_is_psp_not_authorised() {
    let app = TestApp::spawn().await;

    for psp in [sandbox::WITHDRAWN_PSP_ID, "PSDGB-FCA-000000"] {
        let response = app
            .post("/v1/oauth2/tokens")
            .json(&json!({"grant_type": "client_credentials", "psp_id": psp}))
            .send()
            .await
            .unwrap();

        assert_eq!(
            error_codes(response, 403).await,
            ["psp_not_authorised"],
            "{psp}"
        );
    }
}

#[tokio::test]
async fn a_ccg_token_stops_working_when_its_psp_is_withdrawn() {
    let app = TestApp::spawn().await;
    let ccg = app.new_ccg_token(sandbox::PSP_ID, None).await;
    let code = app.new_code().await;
    assert!(
        app.store()
            .await
            .withdraw_psp(sandbox::PSP_ID)
            .await
            .unwrap()
    );

    let new_code = app
        .post("/v1/obie/authorization_codes")
        .header("ccg_token", &ccg)
        .json(&json!({"redirect_uri": GOOGLE}))
        .send()
        .await
        .unwrap();
    let exchange = app.exchange(&code, GOOGLE).await;

    assert_eq!(error_codes(new_code, 403).await, ["psp_not_authorised"]);
    assert_eq!(error_codes(exchange, 403).await, ["psp_not_authorised"]);
}

#[tokio::test]
async fn a_code_of_another_psp_is_auth_code_psp_mismatch() {
    // Arrange: a second PSP with its own ccg_token, and a code of the sandbox PSP.
    let app = TestApp::spawn().await;
    let store = app.store().await;
    admin::register_psp(
        store.as_ref(),
        "PSDGB-FCA-654321",
        "Other",
        &[GOOGLE.into()],
    )
    .await
    .unwrap();
    let other_ccg = app.new_ccg_token("PSDGB-FCA-654321", None).await;
    let code = app.new_code().await;

    let response = app.exchange_with(&other_ccg, &code, GOOGLE).await;

    assert_eq!(error_codes(response, 403).await, ["auth_code_psp_mismatch"]);
}
