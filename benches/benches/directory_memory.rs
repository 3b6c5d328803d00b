//! Memory of the customer directory at 1,000,000 customers: the heap bytes the directory
//! holds (counted by a global allocator that tracks live bytes) and the growth of the
//! process's resident memory, each per customer, beside the bytes of the customers' own
//! strings (ids, names, languages, tags, attributes, preferred agents).
//!
//! `cargo bench --bench directory_memory` (`-- --quick` for 50,000 customers)

use switchboard_benches::memory::{LiveBytes, live_bytes, resident_bytes};
use switchboard_config::{customers, load_default};
use switchboard_core::{Customer, Directory};

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

/// The bytes of a customer's own strings.
fn string_bytes(c: &Customer) -> usize {
    c.id().len()
        + c.name().len()
        + c.language().len()
        + c.tags().map(|t| t.len()).sum::<usize>()
        + c.attributes()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + c.preferred_agent().map_or(0, str::len)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let count: u64 = if quick { 50_000 } else { 1_000_000 };
    let config = load_default().expect("shipped config");
    let mut csv = Vec::with_capacity(115 * count as usize);
    switchboard_benches::synthetic::write_csv(&mut csv, count, 7).unwrap();

    let (live_before, rss_before) = (live_bytes(), resident_bytes());
    let directory = Directory::new();
    let mut strings = 0usize;
    let mut numbers = 0usize;
    let report = customers::import_each(csv.as_slice(), &config.plan, &directory, |c| {
        strings += string_bytes(c);
        numbers += c.numbers.len();
    })
    .unwrap();
    assert!(report.rejected.is_empty());
    drop(report);
    let (live_after, rss_after) = (live_bytes(), resident_bytes());

    let n = directory.len() as f64;
    let heap = (live_after - live_before) as f64 / n;
    let rss = rss_after.saturating_sub(rss_before) as f64 / n;
    let own = strings as f64 / n;
    println!(
        "{} customers ({:.2} numbers each): their own strings {own:.0} B each",
        directory.len(),
        numbers as f64 / n
    );
    println!(
        "directory heap {heap:.0} B per customer: {:.0} B beyond the strings (budget: at most 300)",
        heap - own
    );
    println!(
        "resident memory grew {rss:.0} B per customer: {:.0} B beyond the strings (allocator overhead included)",
        rss - own
    );
    std::hint::black_box(&directory);
}
