//! What the database keeps (SPEC §6–§7): no live credential in clear text, and a sandbox
//! seeding that can run again over existing data.

use obie_tokens::app::{self, Config};
use obie_tokens::domain::sandbox;
use serde_json::{Value, json};

use crate::helpers::{TestApp, access_token};

const GOOGLE: &str = "https://www.google.com";

/// The bytes of every database file: the `.db` and its `-wal` and `-shm` companions.
fn database_bytes(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(app.data_dir())
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn the_database_files_hold_no_code_token_or_secret_in_clear_text() {
    // Arrange: a full flow, keeping every credential that went over the wire.
    let app = TestApp::spawn().await;
    let aggregator = app
        .add_consumer("aggregator", &[sandbox::FI_REFERENCE_ID])
        .await;
    let aggregator_secret = {
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD
            .decode(aggregator.trim_start_matches("Basic "))
            .unwrap();
        String::from_utf8(pair).unwrap()["aggregator:".len()..].to_owned()
    };
    let ccg = app.new_ccg_token(sandbox::PSP_ID, Some("accounts")).await;
    let mut secrets = vec![
        sandbox::CONSUMER_SECRET.to_owned(),
        sandbox::CCG_TOKEN.to_owned(),
        aggregator_secret,
        ccg.clone(),
    ];
    for _ in 0..3 {
        let response = app
            .post("/v1/obie/authorization_codes")
            .header("ccg_token", &ccg)
            .json(&json!({"redirect_uri": GOOGLE, "state": "st"}))
            .send()
            .await
            .unwrap();
        let code = response.json::<Value>().await.unwrap()["data"]["auth_code"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = access_token(app.exchange_with(&ccg, &code, GOOGLE).await).await;
        secrets.extend([code, token]);
    }
    let unredeemed = app.new_code().await;
    secrets.push(unredeemed);

    // Act
    let files = database_bytes(&app);

    // Assert: the files are read (the PSP id is stored in clear), the credentials are not.
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, sandbox::PSP_ID)),
        "positive control: the PSP id is found in the database files"
    );
    for (name, bytes) in &files {
        for secret in &secrets {
            assert!(
                !contains(bytes, secret),
                "{name} holds {secret} in clear text"
            );
        }
    }
}

#[tokio::test]
async fn seeding_the_sandbox_again_keeps_existing_data() {
    // Arrange: a token issued by a first app.
    let first = TestApp::spawn().await;
    let code = first.new_code().await;
    let token = access_token(first.exchange(&code, GOOGLE).await).await;

    // Act: a second app seeds the same database.
    let config = Config {
        bind: "127.0.0.1:0".into(),
        database_url: first.database_url.clone(),
        sandbox: true,
        workers: 1,
        shutdown_timeout_secs: 1,
        ..Config::default()
    };
    let second = app::start(config).await.expect("second start seeds again");
    let handle = second.server.handle();
    tokio::spawn(second.server);

    // Assert: one of each sandbox record, and the earlier token still active.
    let store = first.store().await;
    assert_eq!(store.list_consumers().await.unwrap().len(), 1);
    assert_eq!(store.list_psps().await.unwrap().len(), 2);
    assert_eq!(first.introspect(&token).await["active"], true);
    let via_second = first
        .client
        .post(format!(
            "http://{}/v1/obie/tokens/introspection",
            second.addr
        ))
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
        .header("version", "1")
        .json(&json!({"access_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        via_second.json::<Value>().await.unwrap()["data"]["active"],
        true
    );
    handle.stop(true).await;
}
