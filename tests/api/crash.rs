//! Crash safety (SPEC §6 durability): a 201 means committed. The process is killed with
//! SIGKILL while concurrent clients run the flow; restarted on the same database, it still
//! knows every ccg_token, access token and redeemed code it acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use obie_tokens::domain::sandbox;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::pg::TestDatabase;
use crate::process::Server;

const GOOGLE: &str = "https://www.google.com";
/// Clients running the flow at once.
const CLIENTS: usize = 8;
/// Flow rounds acknowledged before the kill; each round is three committed writes.
const ROUNDS_BEFORE_KILL: usize = 120;
/// A client stops after this many rounds even if the kill never comes.
const MAX_ROUNDS_PER_CLIENT: usize = 2_000;
/// Codes live long enough that a replay after the restart is `auth_code_used`, not expired.
const FLAGS: &[&str] = &["--auth-code-ttl", "600", "--shutdown-timeout", "1"];

/// What the server answered 201 for: a ccg_token, then a code and the token it became.
#[derive(Clone)]
struct Acknowledged {
    ccg_token: String,
    code: String,
    access_token: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_loses_nothing_acknowledged_when_killed_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/obie-tokens.db", dir.path().display());
    kill_under_load_then_check(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_loses_nothing_acknowledged_when_killed_under_load() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    kill_under_load_then_check(&database.url).await;
}

async fn kill_under_load_then_check(database_url: &str) {
    // Arrange: clients run the flow until their connection dies.
    let mut server = Server::start_with(database_url, "warn,obie_tokens::app=info", FLAGS);
    let api = Arc::new(Api::of(&server));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let rounds = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (api, acknowledged) = (api.clone(), acknowledged.clone());
            let (rounds, enough) = (rounds.clone(), enough.clone());
            tokio::spawn(async move {
                for _ in 0..MAX_ROUNDS_PER_CLIENT {
                    let Some(round) = api.round().await else {
                        return true; // the connection died: the kill came mid-load
                    };
                    acknowledged.lock().unwrap().push(round);
                    if rounds.fetch_add(1, Ordering::SeqCst) + 1 == ROUNDS_BEFORE_KILL {
                        enough.notify_one();
                    }
                }
                false
            })
        })
        .collect();

    // Act: SIGKILL once enough rounds are acknowledged, with the clients still sending.
    tokio::time::timeout(Duration::from_secs(30), enough.notified())
        .await
        .expect("the load acknowledged enough rounds within 30 s");
    server.kill();
    let interrupted = futures::future::join_all(clients)
        .await
        .into_iter()
        .filter(|cut| *cut.as_ref().unwrap())
        .count();
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!("killed after {} acknowledged rounds", acknowledged.len());
    let restarted = Server::start_with(database_url, "warn,obie_tokens::app=info", FLAGS);
    let api = Api::of(&restarted);

    // Assert: the kill came mid-load, and everything acknowledged survived it.
    assert_eq!(interrupted, CLIENTS, "every client was cut off by the kill");
    assert!(acknowledged.len() >= ROUNDS_BEFORE_KILL);
    let checks = futures::stream::iter(&acknowledged)
        .map(|ack| api.check_survived(ack))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let lost: Vec<&String> = checks.iter().flatten().collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged rounds lost something: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}

/// Speaks the flow to one server with the sandbox credentials.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn of(server: &Server) -> Api {
        Api {
            client: server.client.clone(),
            base: server.base.clone(),
        }
    }

    /// POSTs `body`; `None` when the connection fails (the server is gone).
    async fn post(&self, path: &str, ccg: Option<&str>, body: Value) -> Option<(u16, Value)> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Authorization", sandbox::AUTHORIZATION)
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
            .json(&body);
        if let Some(token) = ccg {
            request = request.header("ccg_token", token);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.ok()?;
        Some((status, body))
    }

    /// One round of the flow; every answer received must be 201. `None` when cut off.
    async fn round(&self) -> Option<Acknowledged> {
        let ask = json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID});
        let ccg_token = created(
            self.post("/v1/oauth2/tokens", None, ask).await?,
            "access_token",
        );
        let ask = json!({"redirect_uri": GOOGLE});
        let path = "/v1/obie/authorization_codes";
        let code = created(self.post(path, Some(&ccg_token), ask).await?, "auth_code");
        let trade = json!({"auth_code": code, "redirect_uri": GOOGLE});
        let answer = self
            .post("/v1/obie/tokens", Some(&ccg_token), trade)
            .await?;
        let access_token = created(answer, "access_token");
        Some(Acknowledged {
            ccg_token,
            code,
            access_token,
        })
    }

    /// What of `ack` did not survive: empty when the token is active, the ccg_token still
    /// issues codes, and the code is refused as used.
    async fn check_survived(&self, ack: &Acknowledged) -> Vec<String> {
        let mut lost = Vec::new();
        let ask = json!({"access_token": ack.access_token});
        let (_, body) = self
            .post("/v1/obie/tokens/introspection", None, ask)
            .await
            .expect("introspection answered");
        if body["data"]["active"] != true {
            lost.push(format!("access token {} inactive", ack.access_token));
        }
        let ask = json!({"redirect_uri": GOOGLE});
        let path = "/v1/obie/authorization_codes";
        let (status, _) = self.post(path, Some(&ack.ccg_token), ask).await.unwrap();
        if status != 201 {
            lost.push(format!("ccg_token {} refused: {status}", ack.ccg_token));
        }
        let replay = json!({"auth_code": ack.code, "redirect_uri": GOOGLE});
        let answer = self.post("/v1/obie/tokens", Some(&ack.ccg_token), replay);
        let (status, body) = answer.await.unwrap();
        if status != 400 || body["errors"][0]["code"] != "auth_code_used" {
            lost.push(format!("code {} redeemed again: {status} {body}", ack.code));
        }
        lost
    }
}

/// The `data[field]` of an answer that must be 201.
fn created((status, body): (u16, Value), field: &str) -> String {
    assert_eq!(status, 201, "under load: {body}");
    body["data"][field].as_str().unwrap().to_owned()
}
