//! `switchboard simulate`: a scenario run through the real router and ACD under a
//! virtual clock, printed as a table or JSON.

use std::{path::PathBuf, process::ExitCode};

use switchboard_sim::{Scenario, chart, figures, render, render_comparison, run as simulate};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file or directory; the embedded default when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The scenario file (see config/scenarios/weekday.toml).
    #[arg(long)]
    scenario: PathBuf,
    /// The random seed; the scenario's when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Another config (file or directory) to run the same scenario and seed under, side
    /// by side with this one: per tier and queue, service level, ASA and abandons of both.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Write an SVG chart of each tier's service level over the day to this file.
    #[arg(long)]
    chart: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match crate::config_or_default(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let text = match std::fs::read_to_string(&args.scenario) {
        Ok(t) => t,
        Err(e) => {
            crate::fail_line(&format!("{}: {e}", args.scenario.display()));
            return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
        }
    };
    let scenario = match Scenario::parse(&text, &config.plan) {
        Ok(s) => s,
        Err(e) => {
            crate::fail_line(&format!("{}: {e}", args.scenario.display()));
            return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
        }
    };
    if let Some(other) = &args.compare {
        return compare(args, &config, &scenario, other);
    }
    let started = std::time::Instant::now();
    let out = simulate(config.plan.clone(), &scenario, args.seed);
    let took = started.elapsed();
    let f = figures(&out, &config.plan, &scenario);
    if let Some(path) = &args.chart {
        let title = format!(
            "Service level per tier: {}",
            args.scenario
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        if let Err(e) = std::fs::write(path, chart(&f, &title)) {
            crate::fail_line(&format!("{}: {e}", path.display()));
            return Ok(ExitCode::FAILURE);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print!("{}", render(&f));
    }
    eprintln!(
        "simulated {} calls in {:.2}s ({:.0} calls per second)",
        f.calls,
        took.as_secs_f64(),
        f.calls as f64 / took.as_secs_f64().max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// The scenario under the config and under `other`, side by side.
fn compare(
    args: &Args,
    config: &switchboard_config::Config,
    scenario: &Scenario,
    other: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let other_config = match crate::config_or_default(Some(other)) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // The scenario names tiers, queues and menus: it must fit the other config too.
    let text = std::fs::read_to_string(&args.scenario)?;
    let other_scenario = match Scenario::parse(&text, &other_config.plan) {
        Ok(s) => s,
        Err(e) => {
            crate::fail_line(&format!(
                "{} with {}: {e}",
                args.scenario.display(),
                other.display()
            ));
            return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
        }
    };
    let this = figures(
        &simulate(config.plan.clone(), scenario, args.seed),
        &config.plan,
        scenario,
    );
    let that = figures(
        &simulate(other_config.plan.clone(), &other_scenario, args.seed),
        &other_config.plan,
        &other_scenario,
    );
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "this": this, "other": that }))?
        );
    } else {
        println!(
            "{} calls under this config, {} under {}\n",
            this.calls,
            that.calls,
            other.display()
        );
        print!("{}", render_comparison(&this, &that));
    }
    Ok(ExitCode::SUCCESS)
}
