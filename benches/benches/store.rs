//! The store at scale: importing 1,000,000 customers into a fresh store, and starting the
//! server on a store that holds them. Each is timed whole, a few times, and the median is
//! printed with the budget.
//!
//! `cargo bench --bench store` (`-- --quick` for 20,000 customers, once)

use std::{
    fs::File,
    io::BufWriter,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard_config::{DEFAULT_CONFIG, customers};
use switchboard_core::Directory;
use switchboard_server::{App, CustomerSource, SystemClock};
use switchboard_store::Store;

/// The daemon's allocator, so figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn config(store: &Path) -> switchboard_config::Config {
    let text = format!(
        "{DEFAULT_CONFIG}\n[store]\npath = {:?}\n",
        store.display().to_string()
    );
    switchboard_config::parse(&text, Path::new("bench.toml")).expect("bench config")
}

/// What `switchboard import FILE` does: the stored customers first (none here), then the
/// file read, checked and written in one transaction.
fn import(csv: &Path, store: &Path) -> usize {
    let config = config(store);
    let mut store = Store::open(store).unwrap();
    let directory = Directory::new();
    let mut accepted = Vec::new();
    let report = customers::import_each(File::open(csv).unwrap(), &config.plan, &directory, |c| {
        accepted.push(Arc::clone(c));
    })
    .unwrap();
    assert!(report.rejected.is_empty());
    store
        .put_customers(accepted.iter().map(|c| &**c), |t| {
            config.plan.tier(t).name.as_str()
        })
        .unwrap();
    // Like the CLI, which exits next: the frees are not part of the import.
    std::mem::forget(accepted);
    std::mem::forget(directory);
    report.imported
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (count, runs) = if quick { (20_000, 1) } else { (1_000_000, 3) };
    let dir = std::env::temp_dir().join(format!("switchboard-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("customers.csv");
    {
        let mut out = BufWriter::new(File::create(&csv).unwrap());
        switchboard_benches::synthetic::write_csv(&mut out, count, 7).unwrap();
    }
    let size = std::fs::metadata(&csv).unwrap().len();
    println!("{count} customers, {:.0} MB of CSV", size as f64 / 1e6);

    let mut imports = Vec::new();
    let mut store = dir.join("none.db");
    for run in 0..runs {
        store = dir.join(format!("import-{run}.db"));
        let start = Instant::now();
        let n = import(&csv, &store);
        let took = start.elapsed();
        println!("import run {run}: {n} customers in {took:.2?}");
        imports.push(took);
    }
    let import_median = median(imports);
    println!(
        "import {count} customers into a fresh store: median {import_median:.2?} (budget for 1,000,000: under 10 s)"
    );

    let mut starts = Vec::new();
    for run in 0..runs {
        let start = Instant::now();
        let (app, loaded) =
            App::with_store(config(&store), &CustomerSource::None, Arc::new(SystemClock)).unwrap();
        let took = start.elapsed();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.from_store, count as usize);
        println!(
            "start-up run {run}: {} customers from the store in {took:.2?}",
            loaded.from_store
        );
        starts.push(took);
        // Dropped, so the next run can take the store (one server per store).
        drop(app);
    }
    println!(
        "start-up with {count} customers in the store, to ready to serve: median {:.2?}",
        median(starts)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
