//! Builds and starts the service the same way for the binary and the tests: open the
//! store, bind (port 0 picks a free port), and report the bound address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};

use crate::api::docs::RouteTable;
use crate::api::metrics::Metrics;
use crate::api::rate_limit::Limiters;
use crate::api::{self, AppState};
use crate::domain::{Lifetimes, TokenService, now_millis};
use crate::store::{self, PoolSettings, Store};
use crate::tls::{self, TlsFiles};

/// Everything `serve` needs (SPEC §8).
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub database_url: String,
    pub sandbox: bool,
    pub public_url: Option<String>,
    pub lifetimes: Lifetimes,
    pub auth_failure_limit: u32,
    /// Wrong secrets per client id per minute before that id gets 429; 0 disables.
    pub client_failure_limit: u32,
    pub workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    pub pool: PoolSettings,
    /// Serve HTTPS with these PEM files instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/obie-tokens.db".into(),
            sandbox: false,
            public_url: None,
            lifetimes: Lifetimes::default(),
            auth_failure_limit: 20,
            client_failure_limit: 20,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            shutdown_timeout_secs: 30,
            pool: PoolSettings::default(),
            tls: None,
        }
    }
}

/// A started service: where it listens, and the server future to await or spawn.
pub struct Running {
    pub addr: SocketAddr,
    pub public_url: String,
    pub server: actix_web::dev::Server,
}

/// How often expired codes and tokens are deleted, and how long past expiry they are kept.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const SWEEP_GRACE_MS: i64 = 60_000;

pub async fn start(config: Config) -> anyhow::Result<Running> {
    let store = store::open_with(&config.database_url, &config.pool).await?;
    let service = TokenService {
        store: store.clone(),
        lifetimes: config.lifetimes,
    };
    if config.sandbox {
        service.seed_sandbox().await?;
        log::info!("sandbox data seeded");
    }
    let doc = api::openapi();
    let routes = web::Data::new(RouteTable::from_openapi(&doc));

    // Bind first so the public URL can name the real port when port 0 was asked for.
    let listener = std::net::TcpListener::bind(&config.bind)?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let state = web::Data::new(AppState {
        service,
        public_url: public_url.trim_end_matches('/').to_owned(),
        limiters: Limiters::new(config.auth_failure_limit, config.client_failure_limit),
        metrics: Metrics::new(),
    });
    let server =
        HttpServer::new(move || api::build_app(state.clone(), doc.clone(), routes.clone()))
            .workers(config.workers.max(1))
            .shutdown_timeout(config.shutdown_timeout_secs)
            .shutdown_signal(stop_signal()?);
    let server = match &config.tls {
        Some(files) => server.listen_rustls_0_23(listener, tls::server_config(files)?)?,
        None => server.listen(listener)?,
    }
    .run();
    tokio::spawn(sweep_forever(store));
    log::info!("listening on {scheme}://{addr} (public URL {public_url})");
    Ok(Running {
        addr,
        public_url,
        server,
    })
}

/// Resolves on the first SIGTERM or SIGINT; both stop gracefully (SPEC §8), where actix's
/// own handlers would treat SIGINT as a forced stop. Installed before the address is logged,
/// so a signal sent as soon as the service is up cannot kill it mid-request.
fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        log::info!("{name} received: finishing in-flight requests, refusing new connections");
    })
}

/// Deletes expired codes and tokens in the background, so tables do not grow forever.
async fn sweep_forever(store: Arc<dyn Store>) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        match store.sweep_expired(now_millis() - SWEEP_GRACE_MS).await {
            Ok(swept) => log::debug!("swept expired rows: {swept:?}"),
            Err(err) => log::warn!("sweeping expired rows failed: {err}"),
        }
    }
}
