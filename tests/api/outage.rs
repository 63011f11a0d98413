//! PostgreSQL outages: requests get a prompt 503 with `Retry-After` (no 500, no hang), and
//! the service recovers by itself when the database returns. The outage is made by a TCP
//! proxy between the service and the server, so the shared server itself keeps running.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use obie_tokens::store::PoolSettings;
use reqwest::Response;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Options, TestApp, error_codes};
use crate::pg::TestDatabase;

/// Forwards a local port to the database. `cut` drops every open connection and, until
/// `restore`, closes each new one as soon as it is accepted: the service sees the database
/// go away. The port stays bound throughout, so no other test can take it in between.
struct Proxy {
    listen: SocketAddr,
    open: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept_loop: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let listen = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let pipes = Arc::new(Mutex::new(Vec::new()));
        let (accepting, piped) = (open.clone(), pipes.clone());
        let accept_loop = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropping `inbound` closes it
                }
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let pipe = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                piped.lock().unwrap().push(pipe);
            }
        });
        Proxy {
            listen,
            open,
            pipes,
            accept_loop,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_loop.abort();
    }
}

fn through_proxy(url: &str, proxy: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_host(Some(&proxy.ip().to_string())).unwrap();
    parsed.set_port(Some(proxy.port())).unwrap();
    parsed.to_string()
}

fn server_of(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap().replace("localhost", "127.0.0.1");
    format!("{host}:{}", parsed.port().unwrap_or(5432))
        .parse()
        .unwrap()
}

async fn introspect(app: &TestApp) -> Response {
    app.post("/v1/obie/tokens/introspection")
        .json(&json!({"access_token": "x"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_promptly_and_the_service_recovers_by_itself() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(server_of(&database.url)).await;
    let pool = PoolSettings {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(1),
        cache_ttl: Duration::ZERO,
    };
    let database_url = Some(through_proxy(&database.url, proxy.listen));
    let app = TestApp::spawn_with(Options {
        database_url,
        pool,
        ..Options::default()
    })
    .await;
    let code = app.new_code().await;

    proxy.cut();

    let started = Instant::now();
    let ready = app
        .raw(reqwest::Method::GET, "/readyz")
        .send()
        .await
        .unwrap();
    assert!(ready.headers().contains_key("retry-after"));
    assert_eq!(error_codes(ready, 503).await, ["service_unavailable"]);
    let refused = introspect(&app).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_codes(refused, 503).await, ["service_unavailable"]);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered within the acquire timeout"
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app
            .raw(reqwest::Method::GET, "/readyz")
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recovered once the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.exchange(&code, "https://www.google.com").await.status(),
        201
    );
}
