//! `switchboard audit`: the audit trail from the store's file, newest first. It reads the
//! file directly (beside a running server, or with none), so it needs no credentials:
//! whoever may read the store may read its trail.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use switchboard_core::Millis;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file or directory (for the store's path); the embedded default when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How far back from now, e.g. "1h", "7d"; everything kept when absent.
    #[arg(long, value_parser = window)]
    since: Option<Duration>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

fn window(text: &str) -> Result<Duration, String> {
    switchboard_config::duration::parse_duration(text).map_err(|e| e.to_string())
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match crate::config_or_default(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(path) = &config.settings.store else {
        eprintln!(
            "switchboard: the store is off (store.enabled = false): ask the server with Admin.ListAudit"
        );
        return Ok(ExitCode::FAILURE);
    };
    let since = args
        .since
        .map_or(Millis(0), |back| Millis::now().saturating_sub(back));
    let location = switchboard_server::store_location(path);
    let entries = match switchboard_store::audit::list(&location, since, args.limit) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return Ok(ExitCode::from(crate::EXIT_STORE));
        }
    };
    if entries.is_empty() {
        eprintln!("{}: no audit entries", location.shown());
    }
    for e in entries {
        let at = jiff::Timestamp::from_millisecond(i64::try_from(e.at.0).unwrap_or(i64::MAX))
            .map_or_else(|_| e.at.0.to_string(), |t| t.to_string());
        println!(
            "{at}  {}  from {}  {}  {}  {}",
            e.who,
            e.remote.as_deref().unwrap_or("-"),
            e.action,
            e.target,
            e.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}
