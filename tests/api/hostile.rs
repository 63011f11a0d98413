//! Hostile input over HTTP (issue 5, item 4), on SQLite and on PostgreSQL: every case gets a
//! documented 4xx, never a 500 and never a connection dropped without an answer.
//!
//! What reaches the service is answered in the error envelope. Two things never reach it:
//! a request head the HTTP/1 parser refuses (a control byte such as NUL in a header: 400) and
//! one too large for it (a head over 128 KiB or more than 96 headers: 431). The parser
//! answers those itself, with an empty body, and closes the connection.

use std::net::SocketAddr;
use std::time::Duration;

use obie_tokens::domain::sandbox;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, error_codes, header};

/// Each case runs twice: on a fresh SQLite file, and on a fresh PostgreSQL database when
/// `OBIE_TEST_POSTGRES_URL` is set (skipped, saying so, when it is not).
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&crate::helpers::TestApp::spawn().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(database) = crate::pg::TestDatabase::create().await else {
                        return;
                    };
                    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Options {
                        database_url: Some(database.url.clone()),
                        ..Default::default()
                    })
                    .await;
                    super::$case(&app).await;
                }
            )*
        }
    };
}

on_both_stores!(
    nul_and_control_bytes_in_headers_are_refused_by_the_http_parser,
    invalid_utf8_in_headers_is_a_header_problem,
    invalid_utf8_in_bodies_is_body_malformed,
    nul_in_json_strings_is_refused_for_every_field,
    a_64_kib_header_reaches_the_service_and_gets_its_header_problem,
    a_head_too_large_for_the_http_parser_is_431,
    deeply_nested_json_is_refused,
    duplicate_headers_are_refused,
    duplicate_json_keys_are_body_malformed_and_consume_nothing,
);

const INTROSPECT: &str = "/v1/obie/tokens/introspection";

/// How a raw exchange ended.
struct RawAnswer {
    status: u16,
    body: String,
    /// The connection was reset after the answer arrived, instead of closed.
    reset: bool,
}

/// A raw HTTP/1.1 request, for what reqwest refuses to send.
async fn raw(addr: SocketAddr, head: &[u8], body: &[u8]) -> RawAnswer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = head.to_vec();
    request.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    // The server may answer before it has read everything; only its answer matters.
    let _ = stream.write_all(&request).await;
    let (mut answer, mut reset) = (Vec::new(), false);
    let mut chunk = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk));
        match read.await.expect("the server answers and closes") {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                reset = true;
                break;
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer before the connection ended: {answer:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    RawAnswer {
        status: status.unwrap_or_else(|| panic!("no status line in {head:?}")),
        body: body.to_owned(),
        reset,
    }
}

/// The head of an introspection request with the sandbox headers, plus `extra` lines.
fn introspection_head(extra: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {INTROSPECT} HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\n\
         fi_reference_id: {}\r\nversion: 1\r\nContent-Type: application/json\r\n",
        sandbox::AUTHORIZATION,
        sandbox::FI_REFERENCE_ID
    )
    .into_bytes();
    head.extend_from_slice(extra);
    head
}

const TOKEN_BODY: &[u8] = br#"{"access_token":"8c9378f8-e27f-4e0a-a643-d73585d1249f"}"#;

async fn nul_and_control_bytes_in_headers_are_refused_by_the_http_parser(app: &TestApp) {
    let good = raw(app.addr, &introspection_head(b""), TOKEN_BODY).await;
    assert_eq!(good.status, 200, "the raw request itself is well formed");

    for line in [
        &b"x-request-id: a\0b\r\n"[..],
        b"ccg_token: good\0token\r\n",
        b"x-extra: \x01\r\n",
        b"x-extra: a\x7fb\r\n",
    ] {
        let answer = raw(app.addr, &introspection_head(line), TOKEN_BODY).await;

        assert_eq!(answer.status, 400, "{line:?}");
        assert_eq!(
            answer.body, "",
            "the HTTP parser answers, not the service: no envelope"
        );
        assert!(!answer.reset, "the connection is closed after the answer");
    }
}

async fn invalid_utf8_in_headers_is_a_header_problem(app: &TestApp) {
    let obs = |bytes: &[u8]| HeaderValue::from_bytes(bytes).unwrap();
    let path = "/v1/obie/authorization_codes";
    let body = json!({"redirect_uri": "https://www.google.com"});
    let send = |name: &'static str, value: HeaderValue| {
        let mut request = app.raw(Method::POST, path).json(&body);
        for (n, v) in [
            ("Authorization", sandbox::AUTHORIZATION),
            ("fi_reference_id", sandbox::FI_REFERENCE_ID),
            ("version", "1"),
            ("ccg_token", sandbox::CCG_TOKEN),
        ] {
            if n != name {
                request = request.header(n, v);
            }
        }
        request.header(name, value).send()
    };

    let auth = send("Authorization", obs(b"Basic \xff\xfe")).await.unwrap();
    assert_eq!(
        header(&auth, "www-authenticate").unwrap(),
        r#"Basic realm="obie-tokens""#
    );
    assert_eq!(error_codes(auth, 401).await, ["authentication_required"]);
    // base64 of `id\xff:secret`: valid base64, not UTF-8.
    let auth = send("Authorization", obs(b"Basic aWT/OnNlY3JldA=="))
        .await
        .unwrap();
    assert_eq!(error_codes(auth, 401).await, ["authentication_required"]);
    let fi = send("fi_reference_id", obs(b"PSDGB-FCA-\xff"))
        .await
        .unwrap();
    assert_eq!(error_codes(fi, 400).await, ["header_invalid"]);
    let version = send("version", obs(b"\xff")).await.unwrap();
    assert_eq!(error_codes(version, 400).await, ["version_unsupported"]);
    let ccg = send("ccg_token", obs(b"good-access-token\xff"))
        .await
        .unwrap();
    assert_eq!(error_codes(ccg, 400).await, ["header_invalid"]);

    let content_type = app
        .post_bare(INTROSPECT)
        .header("Content-Type", obs(b"application/json\xff"))
        .body(TOKEN_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_codes(content_type, 415).await,
        ["content_type_unsupported"]
    );
    let request_id = app
        .post(INTROSPECT)
        .header("x-request-id", obs(b"id-\xff"))
        .body(TOKEN_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(request_id.status(), 200);
    let id = header(&request_id, "x-request-id").unwrap();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "replaced by a fresh id: {id}"
    );
}

async fn invalid_utf8_in_bodies_is_body_malformed(app: &TestApp) {
    for body in [
        &b"{\"access_token\":\"\xff\xfe\"}"[..],
        b"{\"access_token\":\"\xc0\xaf\"}",     // overlong '/'
        b"{\"access_token\":\"\xed\xa0\x80\"}", // encoded surrogate
        br#"{"access_token":"\ud800"}"#,        // lone surrogate escape
        b"{\"\xff\":\"x\"}",
    ] {
        let response = app.post(INTROSPECT).body(body).send().await.unwrap();

        assert_eq!(
            error_codes(response, 400).await,
            ["body_malformed"],
            "{body:?}"
        );
    }
}

async fn nul_in_json_strings_is_refused_for_every_field(app: &TestApp) {
    let ccg = app
        .post("/v1/oauth2/tokens")
        .json(&json!({"grant_type": "client_credentials", "psp_id": "PSDGB-FCA-123456\u{0}"}))
        .send()
        .await
        .unwrap();
    let code = app
        .post_with_ccg("/v1/obie/authorization_codes")
        .json(
            &json!({"redirect_uri": "https://www.google.com", "state": "s\u{0}",
            "consent_id": "\u{0}", "psu_account_id": "a\u{0}"}),
        )
        .send()
        .await
        .unwrap();
    let token = app.exchange("code\u{0}", "https://www.google.com").await;
    let introspect = app
        .post(INTROSPECT)
        .json(&json!({"access_token": "\u{0}"}))
        .send()
        .await
        .unwrap();
    // An unescaped NUL byte is not JSON at all (RFC 8259 §7).
    let raw_nul = app
        .post(INTROSPECT)
        .body(&b"{\"access_token\":\"a\0b\"}"[..])
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(ccg, 400).await, ["parameter_invalid"]);
    assert_eq!(error_codes(code, 400).await, ["parameter_invalid"; 3]);
    assert_eq!(error_codes(token, 400).await, ["parameter_invalid"]);
    assert_eq!(error_codes(introspect, 400).await, ["parameter_invalid"]);
    assert_eq!(error_codes(raw_nul, 400).await, ["body_malformed"]);
}

async fn a_64_kib_header_reaches_the_service_and_gets_its_header_problem(app: &TestApp) {
    let big = "A".repeat(64 * 1024);
    let introspect = |name: &'static str, value: String| {
        app.post(INTROSPECT)
            .header(name, value)
            .body(TOKEN_BODY)
            .send()
    };
    let auth = app
        .post_bare(INTROSPECT)
        .header("Authorization", format!("Basic {big}"))
        .send()
        .await
        .unwrap();
    let fi = app
        .raw(Method::POST, INTROSPECT)
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", &big)
        .header("version", "1")
        .header("Content-Type", "application/json")
        .body(TOKEN_BODY)
        .send()
        .await
        .unwrap();
    let ccg = app
        .post("/v1/obie/tokens")
        .header("ccg_token", &big)
        .json(&json!({"auth_code": "a", "redirect_uri": "https://www.google.com"}))
        .send()
        .await
        .unwrap();
    let request_id = introspect("x-request-id", big.clone()).await.unwrap();
    let unknown = introspect("x-padding", big.clone()).await.unwrap();

    assert_eq!(error_codes(auth, 401).await, ["authentication_required"]);
    assert_eq!(error_codes(fi, 400).await, ["header_invalid"]);
    assert_eq!(error_codes(ccg, 400).await, ["header_invalid"]);
    assert_eq!(
        request_id.status(),
        200,
        "an unusable request id is replaced"
    );
    assert_ne!(header(&request_id, "x-request-id").unwrap(), big);
    assert_eq!(
        unknown.status(),
        200,
        "unknown headers are ignored, whatever their size"
    );
}

async fn a_head_too_large_for_the_http_parser_is_431(app: &TestApp) {
    let huge = format!("x-padding: {}\r\n", "A".repeat(200 * 1024));
    let many: String = (0..100).map(|i| format!("x-h{i}: v\r\n")).collect();

    let huge = raw(app.addr, &introspection_head(huge.as_bytes()), b"").await;
    let many = raw(app.addr, &introspection_head(many.as_bytes()), b"").await;

    for answer in [&huge, &many] {
        assert_eq!(answer.status, 431);
        assert_eq!(
            answer.body, "",
            "the HTTP parser answers, not the service: no envelope"
        );
    }
    // The parser stops reading at 128 KiB, so closing with the rest unread resets the
    // connection: after the complete 431, which the client has by then.
    assert!(!many.reset, "a head read whole is closed normally");
}

async fn deeply_nested_json_is_refused(app: &TestApp) {
    let too_long = "[".repeat(100_000);
    let arrays = "[".repeat(16 * 1024);
    let objects = format!("{}1{}", r#"{"a":"#.repeat(2500), "}".repeat(2500));
    let object_in_field = format!(
        r#"{{"access_token":"x","x":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );

    let too_long = app.post(INTROSPECT).body(too_long).send().await.unwrap();
    assert_eq!(error_codes(too_long, 413).await, ["payload_too_large"]);
    for body in [arrays, objects, object_in_field] {
        let response = app.post(INTROSPECT).body(body).send().await.unwrap();

        assert_eq!(error_codes(response, 400).await, ["body_malformed"]);
    }
}

async fn duplicate_headers_are_refused(app: &TestApp) {
    let twice = |name: &'static str, value: &'static str| {
        app.post(INTROSPECT)
            .header(name, value)
            .body(TOKEN_BODY)
            .send()
    };

    let auth = twice("Authorization", sandbox::AUTHORIZATION)
        .await
        .unwrap();
    let fi = twice("fi_reference_id", sandbox::FI_REFERENCE_ID)
        .await
        .unwrap();
    let version = twice("version", "1").await.unwrap();
    let content_type = twice("Content-Type", "application/json").await.unwrap();
    let ccg = app
        .post_with_ccg("/v1/obie/tokens")
        .header("ccg_token", sandbox::CCG_TOKEN)
        .json(&json!({"auth_code": "a", "redirect_uri": "https://www.google.com"}))
        .send()
        .await
        .unwrap();
    // One header line listing two values is one malformed value.
    let joined = app
        .raw(Method::POST, INTROSPECT)
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", "PSDGB-FCA-111111, PSDGB-FCA-111111")
        .header("version", "1")
        .header("Content-Type", "application/json")
        .body(TOKEN_BODY)
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(auth, 401).await, ["authentication_required"]);
    assert_eq!(error_codes(fi, 400).await, ["header_invalid"]);
    assert_eq!(error_codes(version, 400).await, ["header_invalid"]);
    assert_eq!(
        error_codes(content_type, 415).await,
        ["content_type_unsupported"]
    );
    assert_eq!(error_codes(ccg, 400).await, ["header_invalid"]);
    assert_eq!(error_codes(joined, 400).await, ["header_invalid"]);
}

async fn duplicate_json_keys_are_body_malformed_and_consume_nothing(app: &TestApp) {
    let code = app.new_code().await;
    let repeated = format!(
        r#"{{"auth_code":"{code}","auth_code":"other","redirect_uri":"https://www.google.com"}}"#
    );
    let nested = r#"{"access_token":"x","extra":{"k":1,"k":2}}"#;
    let escaped = r#"{"access_token":"x","acc\u0065ss_token":"y"}"#;

    let response = app
        .post_with_ccg("/v1/obie/tokens")
        .body(repeated)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "body_malformed");
    assert!(
        body["errors"][0]["title"]
            .as_str()
            .unwrap()
            .contains("duplicate key `auth_code`"),
        "{body}"
    );
    for body in [nested, escaped] {
        let response = app.post(INTROSPECT).body(body).send().await.unwrap();
        assert_eq!(error_codes(response, 400).await, ["body_malformed"]);
    }
    let exchanged = app.exchange(&code, "https://www.google.com").await;
    assert_eq!(
        exchanged.status(),
        201,
        "the refused request did not consume the code"
    );
}
