//! `switchboard check`

use std::{path::PathBuf, process::ExitCode};

use switchboard_config::customers;
use switchboard_core::Directory;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The config file, or a directory of `*.toml` files, to check.
    path: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // Errors and warnings go to stderr; the one-line summary of a good config to stdout.
    let config = match switchboard_config::load(&args.path) {
        Ok(c) => c,
        // The message names the file already.
        Err(e @ switchboard_config::ConfigError::Io { .. }) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            eprintln!("{}: {e}", args.path.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &config.warnings {
        eprintln!("{w}");
    }
    let plan = &config.plan;
    let mut customers_note = String::new();
    if let Some(path) = &config.settings.customers {
        match customers::import_file(path, plan, &Directory::new()) {
            Ok(report) => {
                for row in &report.rejected {
                    eprintln!("{}: warning: {row} (row skipped)", path.display());
                }
                customers_note = format!("; {} customers", report.imported);
                match report.rejected.len() {
                    0 => {}
                    1 => customers_note.push_str(", 1 row skipped"),
                    n => customers_note.push_str(&format!(", {n} rows skipped")),
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    // The files [security] names, read as `serve` would read them.
    if let Err(e) = switchboard_server::security::Guard::load(&config.settings.security) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: ok ({} tiers, {} lines, {} menus, {} queues, {} rules{customers_note}{})",
        args.path.display(),
        plan.tiers.len(),
        plan.lines.len(),
        plan.menus.len(),
        plan.queues.len(),
        plan.rules.len(),
        match config.warnings.len() {
            0 => String::new(),
            1 => "; 1 warning".to_owned(),
            n => format!("; {n} warnings"),
        }
    );
    Ok(ExitCode::SUCCESS)
}
