//! Shared fixtures for Switchboard's benchmarks and sample data: a deterministic
//! generator of realistic customers (tiers, preferences, languages, values, devices) and
//! of large routing configs.
//!
//! Layout:
//! - [`large_config`]: a config with hundreds of queues and a thousand rules.
//! - [`synthetic`]: the customer generator, as CSV rows in the `config/customers.csv`
//!   format.
//! - `bin/gen-customers`: writes those rows to stdout (`config/customers.csv` is made
//!   with it).

pub mod large_config;
pub mod synthetic;
