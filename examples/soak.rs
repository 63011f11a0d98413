//! Soak run (`make soak`): starts the release `obie-tokens serve --sandbox` on a loopback
//! port 0 with a temporary SQLite database, drives the whole flow mix at it for a bounded
//! time, and prints requests, errors, requests/s and the server's resident memory (VmRSS)
//! after warm-up and at the end. It fails on any unexpected status or transport error, or
//! when RSS grows by more than `SOAK_MAX_RSS_GROWTH_MIB` (default 16) and more than 20 %.
//!
//! Settings (environment): `SOAK_SECONDS` (default 120), `SOAK_CLIENTS` (default 16),
//! `SOAK_MAX_RSS_GROWTH_MIB` (default 16), `SOAK_BINARY` (default: `obie-tokens` beside
//! this example's folder, i.e. `target/release/obie-tokens`).

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const AUTHORIZATION: &str = "Basic YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk";
const FI: &str = "PSDGB-FCA-111111";
const PSP: &str = "PSDGB-FCA-123456";
const GOOGLE: &str = "https://www.google.com";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    unexpected: AtomicU64,
    transport: AtomicU64,
}

struct Flow {
    client: reqwest::Client,
    base: String,
    tally: Arc<Tally>,
}

impl Flow {
    /// POSTs and checks the status; returns the body (`Null` when there is none).
    async fn post(
        &self,
        auth: &str,
        path: &str,
        ccg: Option<&str>,
        body: Value,
        expected: u16,
    ) -> Option<Value> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Authorization", auth)
            .header("fi_reference_id", FI)
            .header("version", "1")
            .json(&body);
        if let Some(token) = ccg {
            request = request.header("ccg_token", token);
        }
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                if self.tally.transport.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("transport error on {path}: {err}");
                }
                return None;
            }
        };
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        if status != expected {
            if self.tally.unexpected.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("{path}: expected {expected}, got {status}: {body}");
            }
            return None;
        }
        Some(body)
    }

    /// One round of the mix: ccg_token, code, exchange, introspection, then a replay (every
    /// 4th round) or a revocation, a wrong secret every 8th round, `/healthz` every 16th.
    async fn round(&self, n: u64) -> Option<()> {
        let ask = json!({"grant_type": "client_credentials", "psp_id": PSP});
        let body = self
            .post(AUTHORIZATION, "/v1/oauth2/tokens", None, ask, 201)
            .await?;
        let ccg = body["data"]["access_token"].as_str()?.to_owned();
        let ask = json!({"redirect_uri": GOOGLE, "state": format!("s{n}")});
        let path = "/v1/obie/authorization_codes";
        let body = self.post(AUTHORIZATION, path, Some(&ccg), ask, 201).await?;
        let code = body["data"]["auth_code"].as_str()?.to_owned();
        let trade = json!({"auth_code": code, "redirect_uri": GOOGLE});
        let path = "/v1/obie/tokens";
        let body = self
            .post(AUTHORIZATION, path, Some(&ccg), trade.clone(), 201)
            .await?;
        let token = body["data"]["access_token"].as_str()?.to_owned();
        let about = json!({"access_token": token});
        self.expect_active(&about, true).await?;
        if n.is_multiple_of(4) {
            self.post(AUTHORIZATION, path, Some(&ccg), trade, 400)
                .await?;
        } else {
            let path = "/v1/obie/tokens/revocation";
            self.post(AUTHORIZATION, path, None, about.clone(), 204)
                .await?;
        }
        self.expect_active(&about, false).await?;
        if n.is_multiple_of(8) {
            let pair = format!("api-consumer-id:wrong-{n}");
            let guess = base64::engine::general_purpose::STANDARD.encode(pair);
            let ask = json!({"grant_type": "client_credentials", "psp_id": PSP});
            self.post(
                &format!("Basic {guess}"),
                "/v1/oauth2/tokens",
                None,
                ask,
                401,
            )
            .await?;
        }
        if n.is_multiple_of(16) {
            self.tally.requests.fetch_add(1, Ordering::Relaxed);
            let health = self.client.get(format!("{}/healthz", self.base)).send();
            if !matches!(health.await, Ok(r) if r.status() == 200) {
                self.tally.unexpected.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(())
    }

    async fn expect_active(&self, about: &Value, active: bool) -> Option<()> {
        let path = "/v1/obie/tokens/introspection";
        let body = self
            .post(AUTHORIZATION, path, None, about.clone(), 200)
            .await?;
        if body["data"]["active"] != active {
            self.tally.unexpected.fetch_add(1, Ordering::Relaxed);
            eprintln!("introspection: expected active={active}, got {body}");
            return None;
        }
        Some(())
    }
}

/// The server's resident set size in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// One `kB` field of /proc/PID/status (VmRSS, RssAnon, RssFile, RssShmem).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let seconds = setting("SOAK_SECONDS", 120).max(5);
    let clients = setting("SOAK_CLIENTS", 16).max(1);
    let max_growth_kib = setting("SOAK_MAX_RSS_GROWTH_MIB", 16) * 1024;
    let warm_up = Duration::from_secs((seconds / 6).clamp(2, 15));
    let binary = std::env::var("SOAK_BINARY").unwrap_or_else(|_| {
        let me = std::env::current_exe().expect("own path");
        let release = me.parent().and_then(|p| p.parent()).expect("target dir");
        release.join("obie-tokens").display().to_string()
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/soak.db", dir.path().display());
    let mut server = Command::new(&binary)
        .args(["serve", "--sandbox", "--bind", "127.0.0.1:0"])
        .args(["--database-url", &url, "--auth-failure-limit", "0"])
        .args(["--client-failure-limit", "0", "--auth-code-ttl", "600"])
        .env("RUST_LOG", "warn,obie_tokens::app=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let pid = server.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            } else if !line.contains(" INFO ") {
                eprintln!("server: {line}");
            }
        }
    });
    let Ok(base) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = server.kill();
        let _ = server.wait();
        eprintln!("soak: the server did not start");
        return ExitCode::FAILURE;
    };
    println!("soak: {binary} (pid {pid}) at {base}, {clients} clients, {seconds} s");

    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let flow = Flow {
                client: reqwest::Client::new(),
                base: base.clone(),
                tally: tally.clone(),
            };
            tokio::spawn(async move {
                let mut n = c;
                while Instant::now() < deadline {
                    let _ = flow.round(n).await;
                    n += clients;
                }
            })
        })
        .collect();

    tokio::time::sleep(warm_up).await;
    let (rss_start, requests_start) = (rss_kib(pid), tally.requests.load(Ordering::Relaxed));
    println!("after {warm_up:?} warm-up: RSS {:.1} MiB", mib(rss_start));
    let mut rss_peak = rss_start;
    while Instant::now() + Duration::from_secs(10) < deadline {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let rss = rss_kib(pid);
        rss_peak = rss_peak.max(rss);
        let done = tally.requests.load(Ordering::Relaxed);
        let rate = done as f64 / started.elapsed().as_secs_f64();
        println!(
            "{:>4} s: {done} requests, {rate:.0}/s, RSS {:.1} MiB",
            started.elapsed().as_secs(),
            mib(rss)
        );
    }
    futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_end = rss_kib(pid);
    let parts =
        ["RssAnon", "RssFile", "RssShmem"].map(|f| format!("{f} {:.1}", mib(status_kib(pid, f))));
    let _ = server.kill();
    let _ = server.wait();

    let requests = tally.requests.load(Ordering::Relaxed);
    let unexpected = tally.unexpected.load(Ordering::Relaxed);
    let transport = tally.transport.load(Ordering::Relaxed);
    let growth = rss_end.saturating_sub(rss_start);
    let measured = requests - requests_start;
    println!(
        "requests:          {requests} ({:.0}/s)",
        requests as f64 / elapsed
    );
    println!("errors:            {unexpected} unexpected statuses, {transport} transport");
    println!(
        "RSS after warm-up: {:.1} MiB; at end {:.1} MiB (peak {:.1}); growth {:.1} MiB over {measured} requests",
        mib(rss_start),
        mib(rss_end),
        mib(rss_peak.max(rss_end)),
        mib(growth)
    );
    println!("RSS at end, MiB:   {}", parts.join(", "));
    let grew_too_much = growth > max_growth_kib && growth * 5 > rss_start;
    if unexpected + transport > 0 || grew_too_much || rss_start == 0 || requests == 0 {
        println!("soak: FAILED");
        return ExitCode::FAILURE;
    }
    println!("soak: passed");
    ExitCode::SUCCESS
}
