//! `switchboard explain`

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use switchboard_config::customers;
use switchboard_core::{
    Directory, Millis, Router,
    router::{Action, Channel, Decision, Explanation, PreferenceSource, describe_reason},
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file or directory; the embedded default (with the sample customers) when
    /// absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The caller's number, in any format a switch sends.
    #[arg(long)]
    caller: String,
    /// The dialed number.
    #[arg(long)]
    dialed: String,
    /// Menu answers to follow, one per prompt: --digits 2 or --digits 2,1.
    #[arg(long, value_delimiter = ',')]
    digits: Vec<String>,
    /// How the contact arrives: voice, video, chat, email or callback.
    #[arg(long, default_value = "voice", value_parser = channel)]
    channel: Channel,
    /// Explain as if the call came at this time, e.g. 2026-12-25T10:00:00-05:00 (business
    /// hours, days_ago); default now.
    #[arg(long, value_parser = time)]
    at: Option<Millis>,
}

fn time(text: &str) -> Result<Millis, String> {
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|_| format!("{text:?} is not a time like 2026-12-25T10:00:00-05:00"))?;
    u64::try_from(ts.as_millisecond())
        .map(Millis)
        .map_err(|_| format!("{text:?} is before 1970"))
}

fn channel(name: &str) -> Result<Channel, String> {
    Channel::ALL
        .into_iter()
        .find(|c| c.as_str() == name)
        .ok_or_else(|| format!("unknown channel {name:?} (voice, video, chat, email or callback)"))
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match crate::config_or_default(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // What the server would know: the store's customers and learned behaviour when there
    // is a store (read beside a running server, never written), else the customers file.
    let directory = Directory::new();
    let mut learned = Vec::new();
    let stored = match &config.settings.store {
        Some(at) => match switchboard_store::Backend::open_read_only(
            &switchboard_server::store_location(at),
        ) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("switchboard: {e}");
                return Ok(ExitCode::from(crate::EXIT_STORE));
            }
        },
        None => None,
    };
    let source = match stored {
        Some(mut store) => {
            let (customers, _) = store.customers(|name| config.plan.tier_by_name(name))?;
            let count = customers.len();
            for c in customers {
                let _ = directory.upsert(c);
            }
            learned = store.learned()?;
            format!(
                "{count} customers and what was learned of {} numbers, from the store {}",
                learned.len(),
                store.shown()
            )
        }
        None => {
            let (report, from) = match (&args.config, &config.settings.customers) {
                (None, _) => (
                    customers::import(
                        switchboard_config::DEFAULT_CUSTOMERS.as_bytes(),
                        &config.plan,
                        &directory,
                    )?,
                    "the sample customers".to_owned(),
                ),
                (Some(_), Some(path)) => (
                    customers::import_file(path, &config.plan, &directory)?,
                    path.display().to_string(),
                ),
                (Some(_), None) => (customers::ImportReport::default(), "nowhere".to_owned()),
            };
            if !report.rejected.is_empty() {
                eprintln!(
                    "({} customer rows skipped; `switchboard check` lists them)",
                    report.rejected.len()
                );
            }
            format!(
                "{} customers from {from}; no store yet, so nothing learned",
                report.imported
            )
        }
    };
    eprintln!("(explained with {source})");
    let router = Router::new(config.plan, Arc::new(directory));
    let behaviour = router.behaviour();
    for (number, l, contact) in learned {
        behaviour.restore(number, l, contact);
    }
    let digits: Vec<&str> = args.digits.iter().map(String::as_str).collect();
    let e = router.explain(
        &args.caller,
        &args.dialed,
        args.channel,
        &digits,
        args.at.unwrap_or_else(Millis::now),
    );
    print!("{}", render(&e));
    Ok(ExitCode::SUCCESS)
}

fn render(e: &Explanation) -> String {
    let plan = &e.plan;
    let mut out = String::new();
    let caller = match (&e.caller.number, &e.caller.customer) {
        (Ok(n), Some(c)) => format!(
            "{n}: customer {} ({}), tier {}",
            c.id(),
            c.name(),
            plan.tier(e.caller.tier).name
        ),
        (Ok(n), None) => format!(
            "{n}: unknown caller, tier {}",
            plan.tier(e.caller.tier).name
        ),
        (Err(err), _) => format!("unknown caller ({err})"),
    };
    let source = match e.caller.source {
        PreferenceSource::None => "",
        PreferenceSource::Explicit => " (explicit)",
        PreferenceSource::LearnedZeroOut => " (learned: presses 0)",
        PreferenceSource::LearnedChoice => " (learned: menu choice)",
    };
    out.push_str(&format!(
        "caller: {caller}; preference {}{source}\n",
        e.caller.preference
    ));
    for note in &e.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str("rules:\n");
    for r in &e.rules {
        let mark = if r.matched { "match" } else { "  -  " };
        out.push_str(&format!(
            "  [{mark}] {} => {}\n",
            plan.rule(r.rule).name,
            r.effect
        ));
        if r.conditions.is_empty() {
            out.push_str("          always\n");
        }
        for c in &r.conditions {
            let ok = if c.matched { "yes" } else { "no " };
            out.push_str(&format!(
                "          {ok} {} (is {})\n",
                c.condition, c.actual
            ));
        }
    }
    for (i, d) in e.decisions.iter().enumerate() {
        out.push_str(&format!("decision {}: {}\n", i + 1, decision(plan, d)));
    }
    out
}

fn decision(plan: &switchboard_core::RoutePlan, d: &Decision) -> String {
    let action = match d.action {
        Action::PlayMenu { menu, attempt } => {
            let m = plan.menu(menu);
            let options: Vec<String> = m
                .options
                .iter()
                .map(|o| format!("{} {}", o.digits, o.label))
                .collect();
            format!(
                "play menu {} (attempt {attempt}: {})",
                m.name,
                options.join(", ")
            )
        }
        Action::Enqueue { queue, priority } => {
            format!("queue {} at priority {priority}", plan.queue(queue).name)
        }
    };
    let skipped = if d.menu_skipped { ", menu skipped" } else { "" };
    format!(
        "{action} on line {} [{}{skipped}]",
        plan.line(d.line).name,
        describe_reason(plan, d.reason)
    )
}
