//! Secrets hygiene (SPEC §6): with `RUST_LOG=trace`, the whole output of the service and of
//! the admin CLI over a complete flow holds no client secret, ccg_token, authorization code
//! or access token (nor the Basic credentials that encode a secret, nor a full SHA-256 of
//! one), and the database keeps none of them in clear text, on SQLite and on PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use obie_tokens::domain::sandbox;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::Row;

use crate::pg::TestDatabase;
use crate::process::{self, Server};

const GOOGLE: &str = "https://www.google.com";
const CLIENT_ID: &str = "hygiene-client";
/// A wrong secret tried once: a guess must not reach the log either.
const WRONG_SECRET: &str = "wrong-secret-b1f3c9";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_logs_and_files_hold_no_secret_token_or_code() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/obie-tokens.db", dir.path().display());
    let secrets = run_flow_and_check_the_log(&url).await;

    let mut control = false;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        control |= contains(&bytes, CLIENT_ID);
        for secret in &secrets {
            assert!(
                !contains(&bytes, secret),
                "{} holds {secret}",
                path.display()
            );
        }
    }
    assert!(
        control,
        "positive control: the client id is found in the files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_logs_and_tables_hold_no_secret_token_or_code() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let secrets = run_flow_and_check_the_log(&database.url).await;

    let text = table_text(&database.url).await;
    assert!(text.contains(CLIENT_ID), "positive control: rows were read");
    assert!(
        text.contains(sandbox::PSP_ID),
        "positive control: rows were read"
    );
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a table holds {secret}");
    }
}

/// Runs the whole flow against a `RUST_LOG=trace` server, asserts its output (and the
/// CLI's) is free of secrets; returns the secrets for the caller's store check.
async fn run_flow_and_check_the_log(database_url: &str) -> Vec<String> {
    // Arrange: a server logging everything, a consumer added with the CLI.
    let mut server = Server::start_with(database_url, "trace", &["--shutdown-timeout", "2"]);
    let add = ["consumer", "add", "--client-id", CLIENT_ID];
    let args = [&add[..], &["--fi-reference-id", sandbox::FI_REFERENCE_ID]].concat();
    let (printed, cli_log) = process::cli(database_url, &args, "trace");
    let client_secret = printed
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: "))
        .expect("the CLI prints the new secret")
        .to_owned();
    let flow = Flow::new(&server, &client_secret);

    // Act: every endpoint, with the new consumer and with the sandbox one.
    let (ccg_token, code, access_token) = flow.run().await;
    let (sandbox_code, sandbox_token) = flow.sandbox_round().await;
    server.signal(libc::SIGTERM);
    server
        .wait_for_exit(std::time::Duration::from_secs(5))
        .expect("stopped");
    let log = format!("{}\n{cli_log}", server.output());

    // Assert: the log is real and verbose, and no secret is in it.
    assert!(log.contains(" TRACE "), "trace level was on");
    assert!(
        log.contains("POST /v1/obie/tokens 201"),
        "request lines logged"
    );
    assert!(
        log.contains("POST /v1/obie/tokens 400"),
        "the replay was logged"
    );
    assert!(
        log.contains("POST /v1/oauth2/tokens 401"),
        "the bad guess was logged"
    );
    let mut secrets = vec![
        client_secret.clone(),
        sandbox::CONSUMER_SECRET.to_owned(),
        sandbox::CCG_TOKEN.to_owned(),
        WRONG_SECRET.to_owned(),
        ccg_token,
        code,
        access_token,
        sandbox_code,
        sandbox_token,
    ];
    secrets.extend([
        STANDARD.encode(format!("{CLIENT_ID}:{client_secret}")),
        STANDARD.encode(format!("{CLIENT_ID}:{WRONG_SECRET}")),
        sandbox::AUTHORIZATION
            .trim_start_matches("Basic ")
            .to_owned(),
    ]);
    let hashes: Vec<String> = secrets
        .iter()
        .map(|s| hex::encode(Sha256::digest(s)))
        .collect();
    for needle in secrets.iter().chain(&hashes) {
        let found: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(needle.as_str()))
            .collect();
        assert!(found.is_empty(), "the log holds {needle}: {found:#?}");
    }
    secrets
}

/// The flow, spoken as one consumer.
struct Flow {
    client: reqwest::Client,
    base: String,
    authorization: String,
}

impl Flow {
    fn new(server: &Server, secret: &str) -> Flow {
        Flow {
            client: server.client.clone(),
            base: server.base.clone(),
            authorization: format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{secret}"))),
        }
    }

    async fn post(&self, auth: &str, path: &str, ccg: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Authorization", auth)
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
            .json(&body);
        if let Some(token) = ccg {
            request = request.header("ccg_token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = if status == 204 {
            Value::Null
        } else {
            response.json().await.unwrap()
        };
        (status, body)
    }

    /// ccg_token, code, exchange, introspection, replay, revocation and a wrong secret;
    /// returns the ccg_token, code and access token that went over the wire.
    async fn run(&self) -> (String, String, String) {
        let auth = self.authorization.as_str();
        let ask = json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID});
        let (status, body) = self.post(auth, "/v1/oauth2/tokens", None, ask).await;
        assert_eq!(status, 201, "{body}");
        let ccg = body["data"]["access_token"].as_str().unwrap().to_owned();
        let (code, token) = self.round(auth, &ccg).await;

        let guess = STANDARD.encode(format!("{CLIENT_ID}:{WRONG_SECRET}"));
        let ask = json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID});
        let (status, _) = self
            .post(&format!("Basic {guess}"), "/v1/oauth2/tokens", None, ask)
            .await;
        assert_eq!(status, 401);
        (ccg, code, token)
    }

    /// The same round with the sandbox credentials and ccg_token.
    async fn sandbox_round(&self) -> (String, String) {
        self.round(sandbox::AUTHORIZATION, sandbox::CCG_TOKEN).await
    }

    /// Code, exchange, introspection, replay, revocation; returns the code and token.
    async fn round(&self, auth: &str, ccg: &str) -> (String, String) {
        let ask = json!({"redirect_uri": GOOGLE, "state": "st", "consent_id": "c-1"});
        let path = "/v1/obie/authorization_codes";
        let (status, body) = self.post(auth, path, Some(ccg), ask).await;
        assert_eq!(status, 201, "{body}");
        let code = body["data"]["auth_code"].as_str().unwrap().to_owned();
        let trade = json!({"auth_code": code, "redirect_uri": GOOGLE});
        let (status, body) = self
            .post(auth, "/v1/obie/tokens", Some(ccg), trade.clone())
            .await;
        assert_eq!(status, 201, "{body}");
        let token = body["data"]["access_token"].as_str().unwrap().to_owned();
        let about = json!({"access_token": token});
        let path = "/v1/obie/tokens/introspection";
        let (status, body) = self.post(auth, path, None, about.clone()).await;
        assert_eq!((status, &body["data"]["active"]), (200, &json!(true)));
        let (status, _) = self.post(auth, "/v1/obie/tokens", Some(ccg), trade).await;
        assert_eq!(status, 400, "the replay is refused");
        let path = "/v1/obie/tokens/revocation";
        let (status, _) = self.post(auth, path, None, about).await;
        assert_eq!(status, 204);
        (code, token)
    }
}

/// Every row of every table in the public schema, as text.
async fn table_text(database_url: &str) -> String {
    let mut db = sqlx::postgres::PgConnection::connect(database_url)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(tables.len() >= 4, "tables found: {tables:?}");
    let mut text = String::new();
    for table in tables {
        let sql = format!("SELECT t::text FROM \"{table}\" t");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut db)
            .await
            .unwrap()
        {
            text.push_str(&row.get::<String, _>(0));
            text.push('\n');
        }
    }
    text
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}
