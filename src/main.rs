//! The `obie-tokens` binary: parse the command line, run the subcommand, report why it ended.

use std::process::ExitCode;

use clap::Parser;
use obie_tokens::cli::{self, Cli};

/// The whole process allocates through mimalloc: glibc's allocator took about a sixth of
/// the HTTP workers' CPU in an exchange profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match cli::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
