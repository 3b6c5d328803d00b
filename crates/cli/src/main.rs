//! `switchboard`: serve the routing engine, check config files, explain a route.

use std::process::ExitCode;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

mod audit;
mod backup;
mod check;
mod client;
mod explain;
mod import;
mod migrate;
mod report;
mod serve;
mod simulate;
mod status;
mod token;

/// Contact-center call routing: the IVR/ACD core a telephony switch asks where each call goes.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
struct Cli {
    /// Log lines for people (`human`, the default) or one JSON object per line for a
    /// log pipeline (`json`). Levels come from RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gRPC server (the embedded default config unless --config is given).
    Serve(serve::Args),
    /// Validate a config file or directory: print every error and warning; exit 1 if there
    /// are errors.
    Check(check::Args),
    /// Show which rules a call would match and where it would go, without a server.
    Explain(explain::Args),
    /// Load or update customers from CSV into the store; bad rows are reported by line
    /// and skipped.
    Import(import::Args),
    /// Ask a running server, per tier, for the published standard beside what was
    /// delivered over a window, marked met or missed.
    Report(report::Args),
    /// The floor of a running server: queues, service levels per tier and agents as
    /// tables, once or (--watch) redrawn as they change.
    Status(status::Args),
    /// The audit trail from the store: who changed what, from where, newest first.
    Audit(audit::Args),
    /// A consistent, checked copy of the store, taken while the server runs.
    Backup(backup::Args),
    /// Move a store from its SQLite file into an empty PostgreSQL database; the file is
    /// left as it was.
    Migrate(migrate::Args),
    /// Bearer tokens: make one (printed once; only its hash is stored), list or revoke.
    Token(token::Args),
    /// What if? Run a scenario (arrivals, handle times, patience, agents) through the real
    /// router and ACD under a virtual clock, and print what it delivered per tier and queue.
    Simulate(simulate::Args),
}

/// Set with `--log-format json`: then what a command prints as it fails is a log line too,
/// so a log pipeline never meets a line that is not JSON.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A line about a failure, on stderr: as it is, or with `--log-format json` as an ERROR
/// log line.
pub(crate) fn fail_line(line: &str) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::error!("{line}");
    } else {
        eprintln!("{line}");
    }
}

/// Exit code for a config that cannot be used at start (EX_CONFIG would be 78; 64 is
/// EX_USAGE, which our ops tooling already treats as "fix your input").
const EXIT_BAD_CONFIG: u8 = 64;

/// Exit code when the store cannot be opened or trusted, or when changes acknowledged
/// could not be written to it before the server stopped (EX_IOERR).
const EXIT_STORE: u8 = 74;

/// Exit code when a file `[security]` names cannot be used: the TLS certificate, key or
/// client CA, or the tokens file (EX_CONFIG).
const EXIT_SECURITY_FILES: u8 = 78;

/// Exit code when another server holds the store (EX_TEMPFAIL: try again once it stops).
const EXIT_STORE_IN_USE: u8 = 75;

/// The config at `path`, or the embedded default; on errors, prints each and gives the
/// exit code for a bad config.
fn config_or_default(
    path: Option<&std::path::Path>,
) -> Result<switchboard_config::Config, ExitCode> {
    let loaded = match path {
        Some(path) => switchboard_config::load(path),
        None => switchboard_config::load_default(),
    };
    loaded.map_err(|e| {
        for line in e.lines() {
            fail_line(&line);
        }
        ExitCode::from(EXIT_BAD_CONFIG)
    })
}

/// mimalloc: glibc's malloc put one route decision in six past 1.8 us (a p90 of
/// 1.8 us against a p50 of 0.7 us) and spent 508 resident bytes per customer beyond
/// the directory's own; mimalloc gives a p90 of 0.73 us and 384 bytes (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => {
            JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            logs.json().init();
        }
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Token(args) => token::run(args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Backup(args) => backup::run(&args),
        Command::Migrate(args) => migrate::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            fail_line(&format!("switchboard: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
