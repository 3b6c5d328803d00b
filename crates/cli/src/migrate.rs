//! `switchboard migrate --from sqlite:PATH --to postgres://...`: moves a store from its
//! SQLite file into an empty PostgreSQL database, in one transaction, with the file
//! locked against a server meanwhile. The file is left as it was.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use switchboard_store::{PgOptions, StoreError, migrate};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The store to move: `sqlite:PATH` (the file a config's `store.path` names).
    #[arg(long)]
    from: String,
    /// Where to: `postgres://user[:password]@host[:port]/database`, an empty database.
    #[arg(long)]
    to: String,
    /// The certificate authority (PEM) the database's certificate must chain to; with it
    /// the connection uses TLS (as `store.tls_ca`).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let Some(path) = args.from.strip_prefix("sqlite:").filter(|p| !p.is_empty()) else {
        crate::fail_line(&format!(
            "switchboard: --from {:?}: expected sqlite:PATH (a PostgreSQL store is moved with pg_dump)",
            args.from
        ));
        return Ok(ExitCode::from(2));
    };
    if !(args.to.starts_with("postgres://") || args.to.starts_with("postgresql://")) {
        crate::fail_line(&format!(
            "switchboard: --to {:?}: expected postgres://user@host:port/database",
            switchboard_store::postgres::shown(&args.to)
        ));
        return Ok(ExitCode::from(2));
    }
    let path = PathBuf::from(path);
    if !path.is_file() {
        crate::fail_line(&format!(
            "switchboard: --from {}: no store there (nothing was copied)",
            path.display()
        ));
        return Ok(ExitCode::from(crate::EXIT_STORE));
    }
    let to = PgOptions {
        url: args.to.clone(),
        tls_ca: args.tls_ca.clone(),
        pool_size: 1,
        domain: "default".to_owned(),
        lease: Duration::from_secs(30),
    };
    let started = std::time::Instant::now();
    match migrate::sqlite_to_postgres(&path, to) {
        Ok(c) => {
            println!(
                "{} -> {}: {} customers, {} learned numbers, {} last contacts, {} call records, {} audit entries, {} closed queues, {} agents and {} journal rows copied in {:.1} s; the file is unchanged",
                path.display(),
                switchboard_store::postgres::shown(&args.to),
                c.customers,
                c.learned,
                c.last_contacts,
                c.call_records,
                c.audit,
                c.closed_queues,
                c.agents,
                c.journal_rows,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ StoreError::Locked { .. }) => {
            crate::fail_line(&format!(
                "switchboard: migrate: {e} (stop the server first)"
            ));
            Ok(ExitCode::from(crate::EXIT_STORE_IN_USE))
        }
        Err(e) => {
            crate::fail_line(&format!(
                "switchboard: migrate failed, nothing was copied: {e}"
            ));
            Ok(ExitCode::from(crate::EXIT_STORE))
        }
    }
}
