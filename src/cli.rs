//! The command line (SPEC §8): `serve` (the default) and the admin subcommands. Every
//! flag has an environment variable: `OBIE_` + the flag name upper-cased.

use clap::{Args, Parser, Subcommand};

use crate::app::{self, Config};
use crate::domain::{Lifetimes, admin};
use std::path::PathBuf;
use std::time::Duration;

use crate::store::{self, PoolSettings};
use crate::tls::TlsFiles;

#[derive(Parser, Debug)]
#[command(
    name = "obie-tokens",
    version,
    about = "UK Open Banking (OBIE) token service"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve` flags, accepted without the word `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Manage API consumers (the holders of Basic credentials).
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Manage PSPs and their redirect URIs.
    #[command(subcommand)]
    Psp(PspCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created with its folder) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "OBIE_DATABASE_URL",
        default_value = "sqlite://./data/obie-tokens.db"
    )]
    pub database_url: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(long, env = "OBIE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Seed the sandbox consumer, PSPs and ccg_token (SPEC §7).
    #[arg(long, env = "OBIE_SANDBOX", value_parser = clap::builder::BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub sandbox: bool,
    /// Base URL of error links; default `http://` + the bound address.
    #[arg(long, env = "OBIE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Authorization code lifetime in seconds (1–600).
    #[arg(long, env = "OBIE_AUTH_CODE_TTL", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub auth_code_ttl: u32,
    /// ccg_token lifetime in seconds.
    #[arg(long, env = "OBIE_CCG_TOKEN_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..))]
    pub ccg_token_ttl: u32,
    /// Access token lifetime in seconds.
    #[arg(long, env = "OBIE_ACCESS_TOKEN_TTL", default_value_t = 31_104_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub access_token_ttl: u32,
    /// Failed authentications per client address per minute before 429; 0 disables.
    #[arg(long, env = "OBIE_AUTH_FAILURE_LIMIT", default_value_t = 20)]
    pub auth_failure_limit: u32,
    /// Wrong secrets for one client id per minute, from any address, before 429; 0 disables.
    #[arg(long, env = "OBIE_CLIENT_FAILURE_LIMIT", default_value_t = 20)]
    pub client_failure_limit: u32,
    /// Worker threads; default the number of cores.
    #[arg(long, env = "OBIE_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long, env = "OBIE_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "OBIE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "OBIE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Most pooled PostgreSQL connections this process holds (SQLite uses one connection).
    #[arg(long, env = "OBIE_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// Milliseconds consumers, ccg tokens and PSP status may be served from memory: how
    /// long a change made elsewhere (another replica, the CLI) may take to apply here. 0 disables.
    #[arg(long, env = "OBIE_CACHE_TTL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub cache_ttl_ms: u64,
    /// Seconds a request waits for a PostgreSQL connection before it is answered 503.
    #[arg(long, env = "OBIE_DB_ACQUIRE_TIMEOUT", default_value_t = 3.0)]
    pub db_acquire_timeout: f64,
}

#[derive(Subcommand, Debug)]
pub enum ConsumerCommand {
    /// Add an API consumer (or replace its secret) and print its new secret once.
    Add {
        #[arg(long)]
        client_id: String,
        /// An FI it may act for; repeat for an aggregator.
        #[arg(long = "fi-reference-id", required = true)]
        fi_reference_ids: Vec<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List API consumers (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable an API consumer: its credentials and ccg_tokens stop working.
    Disable {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum PspCommand {
    /// Register a PSP (or replace its name and redirect URIs); it is active.
    Register {
        #[arg(long)]
        psp_id: String,
        #[arg(long)]
        name: String,
        /// A redirect URI, compared byte for byte; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Withdraw a PSP: its ccg_tokens stop working and no new ones are issued.
    Withdraw {
        #[arg(long)]
        psp_id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List PSPs with their status and redirect URIs.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

impl From<ServeArgs> for Config {
    fn from(args: ServeArgs) -> Self {
        Config {
            bind: args.bind,
            database_url: args.database.database_url,
            sandbox: args.sandbox,
            public_url: args.public_url,
            lifetimes: Lifetimes {
                auth_code: args.auth_code_ttl,
                ccg_token: args.ccg_token_ttl,
                access_token: args.access_token_ttl,
            },
            auth_failure_limit: args.auth_failure_limit,
            client_failure_limit: args.client_failure_limit,
            workers: args.workers.unwrap_or_else(|| Config::default().workers),
            shutdown_timeout_secs: args.shutdown_timeout,
            tls: args
                .tls_cert
                .zip(args.tls_key)
                .map(|(cert, key)| TlsFiles { cert, key }),
            pool: PoolSettings {
                max_connections: args.db_max_connections,
                cache_ttl: Duration::from_millis(args.cache_ttl_ms),
                acquire_timeout: Duration::from_secs_f64(
                    args.db_acquire_timeout.clamp(0.05, 600.0),
                ),
            },
        }
    }
}

/// Runs the chosen subcommand to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Openapi) => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
        Some(Command::Consumer(command)) => run_consumer(command).await,
        Some(Command::Psp(command)) => run_psp(command).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let running = app::start(args.into()).await?;
    running.server.await?;
    log::info!("stopped");
    Ok(())
}

async fn run_consumer(command: ConsumerCommand) -> anyhow::Result<()> {
    match command {
        ConsumerCommand::Add {
            client_id,
            fi_reference_ids,
            database,
        } => {
            let store = store::open(&database.database_url).await?;
            let secret = admin::add_consumer(store.as_ref(), &client_id, &fi_reference_ids).await?;
            println!(
                "client_id: {client_id}\nclient_secret: {secret}\n(the secret is shown only now; store it safely)"
            );
        }
        ConsumerCommand::List { database } => {
            let store = store::open(&database.database_url).await?;
            for c in store.list_consumers().await? {
                let status = if c.enabled { "enabled" } else { "disabled" };
                println!(
                    "{}\t{status}\t{}",
                    c.client_id,
                    c.fi_reference_ids.join(",")
                );
            }
        }
        ConsumerCommand::Disable {
            client_id,
            database,
        } => {
            let store = store::open(&database.database_url).await?;
            anyhow::ensure!(
                store.disable_consumer(&client_id).await?,
                "no API consumer {client_id:?}"
            );
            println!("disabled {client_id}");
        }
    }
    Ok(())
}

async fn run_psp(command: PspCommand) -> anyhow::Result<()> {
    match command {
        PspCommand::Register {
            psp_id,
            name,
            redirect_uris,
            database,
        } => {
            let store = store::open(&database.database_url).await?;
            admin::register_psp(store.as_ref(), &psp_id, &name, &redirect_uris).await?;
            println!("registered {psp_id}");
        }
        PspCommand::Withdraw { psp_id, database } => {
            let store = store::open(&database.database_url).await?;
            anyhow::ensure!(store.withdraw_psp(&psp_id).await?, "no PSP {psp_id:?}");
            println!("withdrew {psp_id}");
        }
        PspCommand::List { database } => {
            let store = store::open(&database.database_url).await?;
            for p in store.list_psps().await? {
                let status = if p.active { "active" } else { "withdrawn" };
                println!(
                    "{}\t{status}\t{}\t{}",
                    p.psp_id,
                    p.name,
                    p.redirect_uris.join(" ")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        Cli::try_parse_from(args).expect("parses").serve
    }

    #[test]
    fn serve_is_the_default_subcommand_with_spec_defaults() {
        let args = serve_args(&["obie-tokens"]);
        assert_eq!(args.bind, "127.0.0.1:8080");
        assert_eq!(args.database.database_url, "sqlite://./data/obie-tokens.db");
        assert!(!args.sandbox);
        assert_eq!(
            (
                args.auth_code_ttl,
                args.ccg_token_ttl,
                args.access_token_ttl
            ),
            (60, 3600, 31_104_000)
        );
        assert_eq!(args.auth_failure_limit, 20);
    }

    #[test]
    fn sandbox_takes_a_bare_flag_or_a_boolish_value() {
        assert!(serve_args(&["obie-tokens", "--sandbox"]).sandbox);
        assert!(serve_args(&["obie-tokens", "--sandbox=1"]).sandbox);
        assert!(!serve_args(&["obie-tokens", "--sandbox=no"]).sandbox);
    }

    #[test]
    fn the_code_lifetime_is_bounded_to_600_seconds() {
        assert!(Cli::try_parse_from(["obie-tokens", "--auth-code-ttl", "601"]).is_err());
        assert!(Cli::try_parse_from(["obie-tokens", "--auth-code-ttl", "0"]).is_err());
        assert_eq!(
            serve_args(&["obie-tokens", "--auth-code-ttl", "600"]).auth_code_ttl,
            600
        );
    }
}
