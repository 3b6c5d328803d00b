//! `switchboard backup`: a consistent copy of the store while the server runs (SQLite's
//! online backup), checked before it is kept. Restoring is a file copy while the server
//! is stopped (README, "Backup and restore").

use std::{path::PathBuf, process::ExitCode};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file or directory (for the store's path); the embedded default when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the copy: a new file (an existing one is never overwritten).
    #[arg(long)]
    to: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match crate::config_or_default(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(path) = &config.settings.store else {
        crate::fail_line(
            "switchboard: the store is off (store.enabled = false): nothing to back up",
        );
        return Ok(ExitCode::FAILURE);
    };
    let Some(path) = path.file() else {
        crate::fail_line(
            "switchboard: backup copies an SQLite store (store.path); back a PostgreSQL store up \
             with PostgreSQL's own tools (pg_dump, or base backups with WAL archiving)",
        );
        return Ok(ExitCode::FAILURE);
    };
    match switchboard_store::backup::backup(path, &args.to) {
        Ok(b) => {
            println!(
                "{} -> {}: {} customers, {} call records, {} audit entries, {} bytes; integrity checked",
                path.display(),
                args.to.display(),
                b.customers,
                b.call_records,
                b.audit_entries,
                b.bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            crate::fail_line(&format!("switchboard: backup failed, nothing written: {e}"));
            Ok(ExitCode::from(crate::EXIT_STORE))
        }
    }
}
