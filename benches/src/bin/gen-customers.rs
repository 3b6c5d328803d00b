//! Writes synthetic customers as CSV to stdout.
//!
//! `cargo run -p switchboard-benches --bin gen-customers -- [COUNT] [SEED] > FILE`
//! The shipped sample is `gen-customers 1200 7 > config/customers.csv`.

use std::io::{self, BufWriter, Write};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let parse = |arg: Option<String>, default: u64, what: &str| -> io::Result<u64> {
        arg.map_or(Ok(default), |a| {
            a.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{what}: {a:?} is not a whole number"),
                )
            })
        })
    };
    let count = parse(args.next(), 1_200, "COUNT")?;
    let seed = parse(args.next(), 7, "SEED")?;
    let mut out = BufWriter::new(io::stdout().lock());
    switchboard_benches::synthetic::write_csv(&mut out, count, seed)?;
    out.flush()
}
