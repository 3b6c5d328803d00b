//! `switchboard import`

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use switchboard_config::customers;
use switchboard_core::Directory;
use switchboard_store::Backend;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Customers CSV, in the format of config/customers.csv.
    file: PathBuf,
    /// Config file or directory (for the store's path, the default country and the
    /// tiers); the embedded default when absent.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match crate::config_or_default(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(path) = &config.settings.store else {
        eprintln!("switchboard: the store is off (store.enabled = false): nothing to import into");
        return Ok(ExitCode::FAILURE);
    };
    // Opened before the store, so a file that is not there creates no store.
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => f,
        Err(source) => {
            let e = customers::CustomersError::Io {
                path: args.file.display().to_string(),
                source,
            };
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut store = match Backend::open(&switchboard_server::store_location(path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return Ok(ExitCode::from(crate::EXIT_STORE));
        }
    };
    let plan = &config.plan;
    // The stored customers first, so that a row taking another customer's number is
    // refused as the server would refuse it.
    let directory = Directory::new();
    let (stored, _) = store.customers(|name| plan.tier_by_name(name))?;
    for c in stored {
        let _ = directory.upsert(c);
    }
    let mut accepted = Vec::new();
    let report =
        match customers::import_each(file, plan, &directory, |c| accepted.push(Arc::clone(c))) {
            Ok(r) => r,
            // A read error names the file itself; a header error needs it.
            Err(e @ customers::CustomersError::Io { .. }) => {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                eprintln!("{}: {e}", args.file.display());
                return Ok(ExitCode::FAILURE);
            }
        };
    for row in &report.rejected {
        println!("{}: {row} (row skipped)", args.file.display());
    }
    store.put_customers(accepted.iter().map(|c| &**c), |t| {
        plan.tier(t).name.as_str()
    })?;
    // A change made on the host, in the audit trail beside those made through the API.
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown user".to_owned());
    store.apply(&[switchboard_store::writer::Change::Audit(Box::new(
        switchboard_store::audit::AuditEntry {
            at: switchboard_core::Millis::now(),
            who: format!("switchboard import ({user})"),
            role: "host".to_owned(),
            remote: None,
            action: "import".to_owned(),
            target: args.file.display().to_string(),
            detail: format!(
                "{} imported, {} rows rejected",
                report.imported,
                report.rejected.len()
            ),
        },
    ))])?;
    // The process ends next: freeing a million customers one by one would only cost time.
    std::mem::forget(accepted);
    std::mem::forget(directory);
    let skipped = match report.rejected.len() {
        0 => String::new(),
        1 => " (1 row skipped)".to_owned(),
        n => format!(" ({n} rows skipped)"),
    };
    println!(
        "{}: imported {} customers into {}{skipped}; a running server reads them at its next start (Admin.ImportCustomers loads them live)",
        args.file.display(),
        report.imported,
        store.shown()
    );
    Ok(ExitCode::SUCCESS)
}
