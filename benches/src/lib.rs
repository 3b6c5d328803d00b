//! Shared fixtures for Switchboard's benchmarks and sample data: a deterministic
//! generator of realistic customers (tiers, preferences, languages, values, devices) and
//! of large routing configs.
//!
//! Layout:
//! - [`large_config`]: a config with hundreds of queues and a thousand rules.
//! - [`floor`]: a busy floor (5,000 agents, 1,000 waiting calls) on a 50-queue config.
//! - [`load`]: a closed-loop load driver for benches over the network.
//! - [`memory`]: heap bytes live (a counting allocator) and resident memory.
//! - [`threads`]: timing an operation on one thread and on two at once.
//! - [`synthetic`]: the customer generator, as CSV rows in the `config/customers.csv`
//!   format.
//! - `bin/gen-customers`: writes those rows to stdout (`config/customers.csv` is made
//!   with it).

pub mod floor;
pub mod large_config;
pub mod load;
pub mod memory;
pub mod synthetic;
pub mod threads;
