//! HTTPS with `--tls-cert`/`--tls-key`, using a certificate made for this test.

use obie_tokens::domain::sandbox;
use obie_tokens::tls::TlsFiles;
use reqwest::Client;
use serde_json::Value;

use crate::helpers::{Options, TestApp};

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files.
fn certificate(dir: &std::path::Path) -> (TlsFiles, reqwest::Certificate) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let issued = rcgen::generate_simple_self_signed(names).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, issued.cert.pem()).unwrap();
    std::fs::write(&files.key, issued.signing_key.serialize_pem()).unwrap();
    let trusted = reqwest::Certificate::from_pem(issued.cert.pem().as_bytes()).unwrap();
    (files, trusted)
}

#[tokio::test]
async fn the_service_answers_over_tls_and_refuses_plain_http_on_that_port() {
    let dir = tempfile::tempdir().unwrap();
    let (files, trusted) = certificate(dir.path());
    let app = TestApp::spawn_with(Options {
        tls: Some(files),
        ..Options::default()
    })
    .await;
    let https = Client::builder()
        .add_root_certificate(trusted)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", app.addr.port());

    let response = https
        .post(format!("{base}/v1/obie/tokens/introspection"))
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
        .header("version", "1")
        .header("Content-Type", "application/json")
        .body(r#"{"access_token": "unknown"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["data"]["active"],
        false
    );

    let missing = https
        .post(format!("{base}/v1/obie/tokens"))
        .send()
        .await
        .unwrap();
    let body: Value = missing.json().await.unwrap();
    let link = body["errors"][0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://"),
        "error links name the HTTPS address: {link}"
    );

    let plain = app
        .client
        .get(format!("http://127.0.0.1:{}/healthz", app.addr.port()))
        .send()
        .await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served"
    );
}
