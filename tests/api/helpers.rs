//! Spawns the real service on port 0 with a fresh database and speaks HTTP to it.

use std::net::SocketAddr;
use std::sync::Arc;

use obie_tokens::app::{self, Config};
use obie_tokens::domain::Lifetimes;
use obie_tokens::domain::{admin, sandbox};
use obie_tokens::store::{PoolSettings, Store};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A running service on its own fresh SQLite database, removed on drop.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub database_url: String,
    pub client: Client,
    _dir: TempDir,
}

/// Options for `TestApp::spawn_with`. The failed-authentication limiter is off (0) by
/// default, so that tests of 401 answers do not trip it.
pub struct Options {
    pub lifetimes: Lifetimes,
    pub auth_failure_limit: u32,
    /// Wrong secrets per client id per minute before 429 (0: off).
    pub client_failure_limit: u32,
    /// A database to use instead of a fresh SQLite file (e.g. a PostgreSQL test database).
    pub database_url: Option<String>,
    pub pool: PoolSettings,
    /// Serve HTTPS with these files.
    pub tls: Option<obie_tokens::tls::TlsFiles>,
}

impl Default for Options {
    /// The read cache is off by default: most tests change consumers and PSPs through a
    /// second store handle and expect the change at once. `cache.rs` tests the cache itself.
    fn default() -> Self {
        Options {
            lifetimes: Lifetimes::default(),
            auth_failure_limit: 0,
            client_failure_limit: 0,
            database_url: None,
            pool: PoolSettings {
                cache_ttl: std::time::Duration::ZERO,
                ..PoolSettings::default()
            },
            tls: None,
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = options
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}/obie-tokens.db", dir.path().display()));
        let config = Config {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.clone(),
            sandbox: true,
            public_url: None,
            lifetimes: options.lifetimes,
            auth_failure_limit: options.auth_failure_limit,
            client_failure_limit: options.client_failure_limit,
            workers: 2,
            shutdown_timeout_secs: 1,
            pool: options.pool,
            tls: options.tls,
        };
        let running = app::start(config).await.expect("service starts");
        tokio::spawn(running.server);
        let client = Client::builder().build().expect("http client");
        TestApp {
            addr: running.addr,
            base: format!("http://{}", running.addr),
            database_url,
            client,
            _dir: dir,
        }
    }

    /// The folder holding the database files.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// A POST with the sandbox credentials and headers and a JSON content type.
    pub fn post(&self, path: &str) -> RequestBuilder {
        sandbox_post(&self.client, &self.base, path)
    }

    /// A POST carrying the sandbox ccg_token as well.
    pub fn post_with_ccg(&self, path: &str) -> RequestBuilder {
        self.post(path).header("ccg_token", sandbox::CCG_TOKEN)
    }

    /// A bare request with no headers at all.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Issues an authorization code for the sandbox PSP; returns the whole `data` object.
    pub async fn issue_code(&self, body: Value) -> Value {
        let response = self
            .post_with_ccg("/v1/obie/authorization_codes")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "issuing a code");
        response.json::<Value>().await.unwrap()["data"].clone()
    }

    /// Issues a code for `https://www.google.com` with a state; returns the code.
    pub async fn new_code(&self) -> String {
        let data = self
            .issue_code(json!({"redirect_uri": "https://www.google.com", "state": "example-state"}))
            .await;
        data["auth_code"].as_str().unwrap().to_owned()
    }

    /// Tries to exchange `code` for an access token with the sandbox ccg_token.
    pub async fn exchange(&self, code: &str, redirect_uri: &str) -> Response {
        self.post_with_ccg("/v1/obie/tokens")
            .json(&json!({"auth_code": code, "redirect_uri": redirect_uri}))
            .send()
            .await
            .unwrap()
    }

    /// Introspects `token`; returns the `data` object.
    pub async fn introspect(&self, token: &str) -> Value {
        let response = self
            .post("/v1/obie/tokens/introspection")
            .json(&json!({"access_token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["data"].clone()
    }
}

impl TestApp {
    /// A POST with the sandbox credentials and headers but no `Content-Type`.
    pub fn post_bare(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Authorization", sandbox::AUTHORIZATION)
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
    }

    /// Opens the app's database directly, as the admin subcommands do.
    pub async fn store(&self) -> Arc<dyn Store> {
        obie_tokens::store::open(&self.database_url)
            .await
            .expect("store opens")
    }

    /// Adds an API consumer allowed for `fis`; returns its `Authorization` header value.
    pub async fn add_consumer(&self, client_id: &str, fis: &[&str]) -> String {
        use base64::Engine;
        let fis: Vec<String> = fis.iter().map(|f| f.to_string()).collect();
        let secret = admin::add_consumer(self.store().await.as_ref(), client_id, &fis)
            .await
            .expect("consumer added");
        let pair = format!("{client_id}:{secret}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// A JSON POST as another consumer (`authorization`) acting for `fi`.
    pub fn post_as(&self, authorization: &str, fi: &str, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Authorization", authorization)
            .header("fi_reference_id", fi)
            .header("version", "1")
            .header("Content-Type", "application/json")
    }

    /// Asks `POST /v1/oauth2/tokens` for a ccg_token with the sandbox credentials.
    pub async fn new_ccg_token(&self, psp_id: &str, scope: Option<&str>) -> String {
        let mut body = json!({"grant_type": "client_credentials", "psp_id": psp_id});
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        let response = self
            .post("/v1/oauth2/tokens")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "issuing a ccg_token");
        let data = response.json::<Value>().await.unwrap()["data"].clone();
        data["access_token"].as_str().unwrap().to_owned()
    }

    /// Tries to exchange `code` with the sandbox credentials and the given ccg_token.
    pub async fn exchange_with(&self, ccg_token: &str, code: &str, redirect_uri: &str) -> Response {
        self.post("/v1/obie/tokens")
            .header("ccg_token", ccg_token)
            .json(&json!({"auth_code": code, "redirect_uri": redirect_uri}))
            .send()
            .await
            .unwrap()
    }
}

/// The value of a response header, if it is there and is text.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `data.access_token` of a 201 from `POST /v1/obie/tokens`.
pub async fn access_token(response: Response) -> String {
    assert_eq!(response.status(), 201, "exchanging a code");
    let body: Value = response.json().await.unwrap();
    body["data"]["access_token"].as_str().unwrap().to_owned()
}

/// A POST to `base` + `path` with the sandbox credentials and headers and a JSON content
/// type: what every test of a running service, in-process or as a child process, starts from.
pub fn sandbox_post(client: &Client, base: &str, path: &str) -> RequestBuilder {
    client
        .post(format!("{base}{path}"))
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
        .header("version", "1")
        .header("Content-Type", "application/json")
}

/// Asserts the error envelope of SPEC §3 and returns the codes in order.
pub async fn error_codes(response: Response, status: u16) -> Vec<String> {
    assert_eq!(response.status(), status, "status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_owned();
    let base = format!("http://{}", response.url().authority());
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let body: Value = response.json().await.expect("JSON error body");
    let errors = body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty());
    errors
        .iter()
        .map(|e| {
            assert_eq!(e["id"], request_id.as_str(), "error id equals x-request-id");
            let code = e["code"].as_str().unwrap().to_owned();
            assert!(!e["title"].as_str().unwrap().is_empty());
            assert_eq!(e["link"], format!("{base}/docs/errors#{code}"));
            code
        })
        .collect()
}
