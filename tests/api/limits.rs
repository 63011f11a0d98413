//! Values at their documented limits (SPEC §3–§4) are accepted and round-trip through the
//! whole flow.

use obie_tokens::domain::admin;
use serde_json::{Value, json};

use crate::helpers::{TestApp, access_token};

#[tokio::test]
async fn a_512_character_state_and_256_character_ids_round_trip() {
    let app = TestApp::spawn().await;
    let state = "\u{e9}".repeat(512); // characters, not bytes
    let consent = "c".repeat(256);
    let data = app
        .issue_code(
            json!({"redirect_uri": "https://www.google.com", "state": state,
            "consent_id": consent, "psu_account_id": consent}),
        )
        .await;

    let response = app
        .exchange(
            data["auth_code"].as_str().unwrap(),
            "https://www.google.com",
        )
        .await;

    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["state"], state.as_str());
    let token = body["data"]["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(token).await["consent_id"], consent.as_str());
}

#[tokio::test]
async fn a_code_for_a_long_registered_redirect_uri_can_be_redeemed() {
    // Arrange: a PSP whose redirect URI is long but valid, and a code for it.
    let app = TestApp::spawn().await;
    let uri = format!("https://psp.example/{}", "p".repeat(400));
    admin::register_psp(
        app.store().await.as_ref(),
        "PSDGB-FCA-888888",
        "Long",
        std::slice::from_ref(&uri),
    )
    .await
    .unwrap();
    let ccg = app.new_ccg_token("PSDGB-FCA-888888", None).await;
    let response = app
        .post("/v1/obie/authorization_codes")
        .header("ccg_token", &ccg)
        .json(&json!({"redirect_uri": uri}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the code is issued");
    let code = response.json::<Value>().await.unwrap()["data"]["auth_code"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act: the exchange repeats the same redirect_uri, byte for byte.
    let response = app.exchange_with(&ccg, &code, &uri).await;

    // Assert
    let token = access_token(response).await;
    assert_eq!(app.introspect(&token).await["active"], true);
}

#[tokio::test]
async fn a_128_character_fi_reference_id_is_well_formed() {
    let app = TestApp::spawn().await;
    let fi = "F".repeat(128);
    let consumer = app.add_consumer("long-fi", &[fi.as_str()]).await;

    let response = app
        .post_as(&consumer, &fi, "/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": "PSDGB-FCA-123456"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
}
