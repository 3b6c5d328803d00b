//! `switchboard simulate`: a scenario run through the real router and ACD under a
//! virtual clock, printed as a table or JSON.

use std::{path::PathBuf, process::ExitCode};

use switchboard_sim::{
    Replayed, Scenario, chart, figures, render, render_comparison, replay, run as simulate,
};
use switchboard_store::report::ReplayedCall;

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
    /// Another scenario (another roster, say) to run under the same config and seed,
    /// side by side with this one; with --compare, under that config.
    #[arg(long)]
    compare_scenario: Option<PathBuf>,
    /// Write an SVG chart of each tier's service level over the day to this file.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Replay the calls the store (the config's `[store]`) recorded from this time, e.g.
    /// 2026-12-01T08:00:00Z, instead of the scenario's arrivals; with --replay-to.
    #[arg(long, value_parser = time, requires = "replay_to")]
    replay_from: Option<u64>,
    /// The end of the replayed period (calls that arrived before it).
    #[arg(long, value_parser = time, requires = "replay_from")]
    replay_to: Option<u64>,
    /// Find the fewest agents at the desk per interval (in the scenario's mix of groups)
    /// with which every tier meets its standard, and print them with the roster as
    /// scenario text.
    #[arg(long, conflicts_with_all = ["compare", "compare_scenario", "replay_from", "chart"])]
    target: bool,
    /// With --target: the runs per step of the search, pooled (from the seed on).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50), requires = "target")]
    replications: u32,
}

/// `--target` found no staffing that meets every standard (within its limits).
const EXIT_NOT_MET: u8 = 3;

/// A time as milliseconds since the epoch.
fn time(text: &str) -> Result<u64, String> {
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|_| format!("{text:?} is not a time like 2026-12-01T08:00:00Z"))?;
    u64::try_from(ts.as_millisecond()).map_err(|_| format!("{text:?} is before 1970"))
}

/// A recorded call as the simulator replays it: the line's number in `plan`, the talk
/// time of an answered call, the wait of one that hung up in a queue. `None` for a call
/// on a line the config no longer has, or a channel it does not know.
fn replayed(plan: &switchboard_core::RoutePlan, r: &ReplayedCall) -> Option<Replayed> {
    let line = plan.lines.iter().find(|l| l.name == r.line)?;
    let since = |a: Option<switchboard_core::Millis>, b: Option<switchboard_core::Millis>| {
        Some(b?.0.checked_sub(a?.0)? as f64 / 1_000.0)
    };
    Some(Replayed {
        at_ms: r.arrived.0,
        caller: r.caller.clone().unwrap_or_else(|| "anonymous".to_owned()),
        dialed: line.number.to_string(),
        channel: switchboard_core::caller::Channel::parse(&r.channel)?,
        digits: r.digits.clone(),
        talk_s: since(r.answered_at, r.ended_at),
        patience_s: if r.outcome == "abandoned" && r.answered_at.is_none() {
            since(r.queued_at, r.ended_at)
        } else {
            None
        },
    })
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
    let scenario = Scenario {
        no_answers_before_not_ready: config.settings.no_answers_before_not_ready,
        ..scenario
    };
    if args.compare.is_some() || args.compare_scenario.is_some() {
        return compare(args, &config, &scenario);
    }
    if args.target {
        let started = std::time::Instant::now();
        let found = switchboard_sim::search(
            &config.plan,
            &scenario,
            args.seed.unwrap_or(scenario.seed),
            args.replications as usize,
        );
        if args.json {
            println!("{}", serde_json::to_string_pretty(&found)?);
        } else {
            print!("{}", switchboard_sim::render_staffing(&found, &scenario));
        }
        eprintln!(
            "searched in {:.1}s ({} simulated days)",
            started.elapsed().as_secs_f64(),
            found.runs
        );
        return Ok(if found.met {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_NOT_MET)
        });
    }
    let started = std::time::Instant::now();
    let (scenario, out) = match (args.replay_from, args.replay_to) {
        (Some(from), Some(to)) => {
            let Some(store) = &config.settings.store else {
                crate::fail_line(
                    "--replay-from needs the config's [store], whose call records it replays",
                );
                return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
            };
            if to <= from {
                crate::fail_line("--replay-to must be after --replay-from");
                return Ok(ExitCode::from(2));
            }
            let location = switchboard_server::store_location(store);
            let records = match switchboard_store::report::replayed_calls(
                &location,
                switchboard_core::Millis(from),
                switchboard_core::Millis(to),
            ) {
                Ok(r) => r,
                Err(e) => {
                    crate::fail_line(&format!("switchboard: {e}"));
                    return Ok(ExitCode::from(crate::EXIT_STORE));
                }
            };
            let calls: Vec<Replayed> = records
                .iter()
                .filter_map(|r| replayed(&config.plan, r))
                .collect();
            if calls.len() < records.len() {
                eprintln!(
                    "{} recorded calls left out: their line or channel is not in this config",
                    records.len() - calls.len()
                );
            }
            // The store's customers, as the server would know them.
            let directory = switchboard_core::Directory::new();
            if let Ok(Some(mut s)) = switchboard_store::Backend::open_read_only(&location) {
                let (customers, _) = s.customers(|name| config.plan.tier_by_name(name))?;
                for c in customers {
                    let _ = directory.upsert(c);
                }
            }
            let replay_scenario = scenario.for_replay(from, to);
            let out = replay(
                config.plan.clone(),
                &replay_scenario,
                &calls,
                directory,
                args.seed,
            );
            (replay_scenario, out)
        }
        _ => {
            let out = simulate(config.plan.clone(), &scenario, args.seed);
            (scenario, out)
        }
    };
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

/// The scenario under the config, and under `--compare`'s config or with
/// `--compare-scenario`'s scenario (another roster, say), side by side.
fn compare(
    args: &Args,
    config: &switchboard_config::Config,
    scenario: &Scenario,
) -> anyhow::Result<ExitCode> {
    let loaded;
    let other_config = match &args.compare {
        Some(other) => match crate::config_or_default(Some(other)) {
            Ok(c) => {
                loaded = c;
                &loaded
            }
            Err(code) => return Ok(code),
        },
        None => config,
    };
    let other_path = args.compare_scenario.as_ref().unwrap_or(&args.scenario);
    let (other_scenario, what) = {
        // The scenario names tiers, queues and menus: it must fit the other config too.
        let refused = |e: &dyn std::fmt::Display| {
            let with = args
                .compare
                .as_ref()
                .map_or_else(String::new, |c| format!(" with {}", c.display()));
            crate::fail_line(&format!("{}{with}: {e}", other_path.display()));
            Ok(ExitCode::from(crate::EXIT_BAD_CONFIG))
        };
        let text = match std::fs::read_to_string(other_path) {
            Ok(t) => t,
            Err(e) => return refused(&e),
        };
        let what = match (&args.compare, &args.compare_scenario) {
            (Some(c), None) => format!("under this config, {{}} under {}", c.display()),
            (None, _) => format!("with this scenario, {{}} with {}", other_path.display()),
            (Some(c), Some(_)) => format!(
                "as given, {{}} with {} under {}",
                other_path.display(),
                c.display()
            ),
        };
        match Scenario::parse(&text, &other_config.plan) {
            Ok(s) => (s, what),
            Err(e) => return refused(&e),
        }
    };
    let other_scenario = Scenario {
        no_answers_before_not_ready: other_config.settings.no_answers_before_not_ready,
        ..other_scenario
    };
    // One seed for both: the scenario's own unless --seed says.
    let seed = Some(args.seed.unwrap_or(scenario.seed));
    let this = figures(
        &simulate(config.plan.clone(), scenario, seed),
        &config.plan,
        scenario,
    );
    let that = figures(
        &simulate(other_config.plan.clone(), &other_scenario, seed),
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
            "{} calls {}\n",
            this.calls,
            what.replacen("{}", &that.calls.to_string(), 1)
        );
        print!("{}", render_comparison(&this, &that));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Millis;

    #[test]
    fn a_recorded_call_is_replayed_on_its_lines_number_with_its_talk_and_patience() {
        let plan = switchboard_config::load_default().unwrap().plan;
        let record = |outcome: &str, answered: Option<u64>| ReplayedCall {
            arrived: Millis(1_000_000),
            caller: Some("+12125550104".into()),
            channel: "voice".into(),
            line: "platinum".into(),
            digits: vec!["2".into(), "1".into()],
            queued_at: Some(Millis(1_016_000)),
            answered_at: answered.map(Millis),
            ended_at: Some(Millis(1_200_000)),
            outcome: outcome.into(),
        };
        let answered = replayed(&plan, &record("completed", Some(1_080_000))).unwrap();
        assert_eq!(answered.dialed, "+18005550199");
        assert_eq!(answered.at_ms, 1_000_000);
        assert_eq!(answered.digits, ["2", "1"]);
        assert_eq!((answered.talk_s, answered.patience_s), (Some(120.0), None));
        let gave_up = replayed(&plan, &record("abandoned", None)).unwrap();
        assert_eq!((gave_up.talk_s, gave_up.patience_s), (None, Some(184.0)));
        let mut gone = record("completed", None);
        gone.line = "retired-line".into();
        assert!(replayed(&plan, &gone).is_none());
    }
}
