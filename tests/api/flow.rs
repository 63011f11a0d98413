//! The whole flow of SPEC §2 against the sandbox of SPEC §7, and the conventions of §3–§4
//! that a successful call relies on.

use obie_tokens::domain::{admin, sandbox};
use serde_json::{Value, json};

use crate::helpers::{TestApp, access_token};

#[tokio::test]
async fn the_whole_flow_runs_from_ccg_token_to_revocation() {
    // Arrange: a fresh ccg_token from step 1 (not the ready-made sandbox one).
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID, "scope": "accounts payments"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let ccg: Value = response.json().await.unwrap();
    assert_eq!(ccg["data"]["token_type"], "bearer");
    assert_eq!(ccg["data"]["expires_in"], 3600);
    let ccg_token = ccg["data"]["access_token"].as_str().unwrap().to_owned();

    // Act: code, exchange, introspection, revocation.
    let response = app
        .post("/v1/obie/authorization_codes")
        .header("ccg_token", &ccg_token)
        .json(
            &json!({"redirect_uri": "https://www.google.com", "scope": "accounts",
            "state": "s-1", "consent_id": "consent-0001", "psu_account_id": "account-0001"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let code: Value = response.json().await.unwrap();
    let auth_code = code["data"]["auth_code"].as_str().unwrap().to_owned();
    assert_eq!(code["data"]["expires_in"], 60);
    let response = app
        .exchange_with(&ccg_token, &auth_code, "https://www.google.com")
        .await;
    assert_eq!(response.status(), 201);
    let token: Value = response.json().await.unwrap();
    let access = token["data"]["access_token"].as_str().unwrap().to_owned();
    let active = app.introspect(&access).await;
    let revoked = app
        .post("/v1/obie/tokens/revocation")
        .json(&json!({"access_token": access}))
        .send()
        .await
        .unwrap();
    let after = app.introspect(&access).await;

    // Assert
    assert_eq!(token["data"]["token_type"], "bearer");
    assert_eq!(token["data"]["expires_in"], 31_104_000);
    assert_eq!(token["data"]["state"], "s-1");
    assert!(
        uuid::Uuid::parse_str(&access).is_ok(),
        "access token is a UUID"
    );
    assert_eq!(active["active"], true);
    assert_eq!(active["token_type"], "bearer");
    assert_eq!(active["psp_id"], sandbox::PSP_ID);
    assert_eq!(active["fi_reference_id"], sandbox::FI_REFERENCE_ID);
    assert_eq!(active["scope"], "accounts");
    assert_eq!(active["consent_id"], "consent-0001");
    assert_eq!(active["psu_account_id"], "account-0001");
    let issued_at = active["issued_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((issued_at - now).abs() < 60, "issued_at in Unix seconds");
    assert_eq!(
        active["expires_at"].as_i64().unwrap() - issued_at,
        31_104_000
    );
    assert_eq!(revoked.status(), 204);
    assert_eq!(after, json!({"active": false}));
}

#[tokio::test]
async fn redirect_to_appends_code_and_state_to_the_redirect_uri() {
    let app = TestApp::spawn().await;

    let data = app
        .issue_code(json!({"redirect_uri": "https://www.google.com", "state": "a b&c"}))
        .await;

    let code = data["auth_code"].as_str().unwrap();
    let expected = format!("https://www.google.com/?code={code}&state=a+b%26c");
    assert_eq!(data["redirect_to"], expected.as_str());
}

#[tokio::test]
async fn redirect_to_keeps_an_existing_query_and_omits_an_absent_state() {
    // Arrange: a PSP whose registered URI has a query.
    let app = TestApp::spawn().await;
    let uri = "https://psp.example/cb?x=1";
    admin::register_psp(
        app.store().await.as_ref(),
        "PSDGB-FCA-777777",
        "Q",
        &[uri.into()],
    )
    .await
    .unwrap();
    let ccg = app.new_ccg_token("PSDGB-FCA-777777", None).await;

    // Act
    let response = app
        .post("/v1/obie/authorization_codes")
        .header("ccg_token", &ccg)
        .json(&json!({"redirect_uri": uri}))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 201);
    let data = response.json::<Value>().await.unwrap()["data"].clone();
    let code = data["auth_code"].as_str().unwrap();
    assert_eq!(data["redirect_to"], format!("{uri}&code={code}").as_str());
}

#[tokio::test]
async fn the_token_response_omits_state_when_the_code_had_none() {
    let app = TestApp::spawn().await;
    let data = app
        .issue_code(json!({"redirect_uri": "https://psp.example/callback"}))
        .await;
    let code = data["auth_code"].as_str().unwrap();

    let response = app.exchange(code, "https://psp.example/callback").await;

    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert!(body["data"].get("state").is_none(), "{body}");
}

#[tokio::test]
async fn responses_carrying_a_token_or_code_are_not_cached() {
    let app = TestApp::spawn().await;

    let ccg = app
        .post("/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();
    let code = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(&json!({"redirect_uri": "https://www.google.com"}))
        .send()
        .await
        .unwrap();
    let code_value = code.headers().clone();
    let code_body: Value = code.json().await.unwrap();
    let token = app
        .exchange(
            code_body["data"]["auth_code"].as_str().unwrap(),
            "https://www.google.com",
        )
        .await;

    for (what, headers) in [
        ("ccg_token", ccg.headers()),
        ("code", &code_value),
        ("access token", token.headers()),
    ] {
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert_eq!(headers["pragma"], "no-cache", "{what}");
    }
}

/// Sends `request` over a plain TCP connection, so header names go out exactly as written.
fn send_raw(addr: std::net::SocketAddr, request: String) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test]
async fn header_names_and_the_basic_scheme_are_case_insensitive() {
    let app = TestApp::spawn().await;
    let body = r#"{"redirect_uri":"https://www.google.com"}"#;
    let request = format!(
        "POST /v1/obie/authorization_codes HTTP/1.1\r\nHost: {}\r\nAUTHORIZATION: bAsIc YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk\r\n\
FI_REFERENCE_ID: PSDGB-FCA-111111\r\nVersion: 1\r\nCCG_Token: good-access-token\r\n\
CONTENT-TYPE: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.addr,
        body.len()
    );

    let addr = app.addr;
    let answer = tokio::task::spawn_blocking(move || send_raw(addr, request))
        .await
        .unwrap();

    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

#[tokio::test]
async fn version_latest_and_a_json_charset_are_accepted() {
    let app = TestApp::spawn().await;

    let response = app
        .post_bare("/v1/oauth2/tokens")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"grant_type":"client_credentials","psp_id":"PSDGB-FCA-123456"}"#)
        .send()
        .await
        .unwrap();
    let latest = app
        .client
        .post(format!("{}/v1/oauth2/tokens", app.base))
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
        .header("version", "latest")
        .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(latest.status(), 201);
}

#[tokio::test]
async fn unknown_json_fields_are_ignored() {
    let app = TestApp::spawn().await;

    let response = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(&json!({"redirect_uri": "https://www.google.com", "colour": "blue", "n": [1, 2]}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn revocation_is_idempotent_and_answers_204_for_unknown_tokens() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    let token = access_token(app.exchange(&code, "https://www.google.com").await).await;

    let mut statuses = Vec::new();
    for t in [token.as_str(), token.as_str(), "no-such-token"] {
        let response = app
            .post("/v1/obie/tokens/revocation")
            .json(&json!({"access_token": t}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [204, 204, 204]);
    assert_eq!(app.introspect(&token).await, json!({"active": false}));
    assert_eq!(
        app.introspect("no-such-token").await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn scope_defaults_to_accounts_for_a_ccg_token_and_to_its_scope_for_a_code() {
    let app = TestApp::spawn().await;
    let default_ccg = app.new_ccg_token(sandbox::PSP_ID, None).await;
    let narrow = app
        .post("/v1/obie/authorization_codes")
        .header("ccg_token", &default_ccg)
        .json(&json!({"redirect_uri": "https://www.google.com"}))
        .send()
        .await
        .unwrap();
    let narrow_code = narrow.json::<Value>().await.unwrap()["data"]["auth_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let wide_code = app.new_code().await; // the sandbox token: `accounts payments`

    let narrow_token = access_token(
        app.exchange_with(&default_ccg, &narrow_code, "https://www.google.com")
            .await,
    )
    .await;
    let wide_token = access_token(app.exchange(&wide_code, "https://www.google.com").await).await;

    assert_eq!(app.introspect(&narrow_token).await["scope"], "accounts");
    assert_eq!(
        app.introspect(&wide_token).await["scope"],
        "accounts payments"
    );
}
