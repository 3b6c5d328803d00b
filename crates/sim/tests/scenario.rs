//! The shipped scenario against the shipped config, reproducibility, and scenario
//! mistakes named by their field.

use switchboard_sim::{Scenario, figures, render, run};

fn shipped() -> (switchboard_core::RoutePlan, Scenario) {
    let plan = switchboard_config::load_default().unwrap().plan;
    let text = include_str!("../../../config/scenarios/weekday.toml");
    let scenario = Scenario::parse(text, &plan).unwrap();
    (plan, scenario)
}

#[test]
fn the_shipped_scenario_runs_through_the_shipped_config() {
    let (plan, scenario) = shipped();
    let out = run(plan.clone(), &scenario, None);
    let f = figures(&out, &plan, &scenario);
    let text = render(&f);
    eprintln!("{text}");
    assert!(f.calls > 6_000, "{text}");
    let answered: u64 = f.tiers.iter().map(|t| t.all.answered).sum();
    assert!(answered > f.calls * 8 / 10, "{text}");
}

#[test]
fn a_seed_gives_the_same_day_and_another_seed_another() {
    let (plan, scenario) = shipped();
    let day = |seed| {
        let out = run(plan.clone(), &scenario, Some(seed));
        format!("{:?}", figures(&out, &plan, &scenario))
    };
    assert_eq!(day(5), day(5));
    assert_ne!(day(5), day(6));
}

fn refused(text: &str) -> String {
    let plan = switchboard_config::load_default().unwrap().plan;
    match Scenario::parse(text, &plan) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted: {text}"),
    }
}

/// The shipped scenario with one line replaced.
fn edited(from: &str, to: &str) -> String {
    let text = include_str!("../../../config/scenarios/weekday.toml");
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn scenario_mistakes_are_refused_naming_the_field() {
    for (from, to, says) in [
        (
            "ring_time = \"15s\"",
            "ring_time = \"soon\"",
            "scenario: ring_time: expected a number before \"soon\"",
        ),
        (
            "ready_after_missed = \"1m\"",
            "ready_after_missed = \"later\"",
            "scenario: ready_after_missed: expected a number before \"later\"",
        ),
        (
            "queues = { support = {",
            "tiers = { gold = { fixed = \"1m\" } }\nqueues = { support = {",
            "scenario: handle_time.tiers: handle time is by queue and channel, not by tier",
        ),
        (
            "tiers = { gold = { exponential = \"6m\" }",
            "queues = { support = { fixed = \"1m\" } }\ntiers = { gold = { exponential = \"6m\" }",
            "scenario: patience: patience is by tier only",
        ),
        (
            "name = \"billing\"\ncount = 14\n",
            "name = \"billing\"\ncount = 14\nno_answer = 1.5\n",
            "scenario: agents[3].no_answer: 1.5 is not a share from 0 to 1",
        ),
        (
            "name = \"billing\"\ncount = 14\n",
            "name = \"billing\"\ncount = 14\ncapacity = { fax = 1 }\n",
            "scenario: agents[3].capacity: \"fax\" is not voice, chat, email or social",
        ),
        (
            "name = \"billing\"\ncount = 14\n",
            "name = \"billing\"\ncount = 14\ncapacity = { voice = 2 }\n",
            "scenario: agents[3].capacity: voice: 2 is more than 1",
        ),
        (
            "name = \"billing\"\ncount = 14\n",
            "name = \"billing\"\ncount = 14\nstaffed = [1, 2]\n",
            "scenario: agents[3].staffed: 2 counts for 48 intervals of arrivals",
        ),
        (
            "name = \"tech-early\"\ncount = 24\n",
            "name = \"tech-early\"\ncount = 24\nstaffed = [1, 2]\n",
            "scenario: agents[1].staffed: a group staffed per interval has no from, to or breaks",
        ),
        (
            "accept_callback = { default = 0.3,",
            "accept_callback = { default = 2,",
            "scenario: accept_callback.default: 2 is not a share from 0 to 1",
        ),
        (
            "tiers = { platinum = 0.1, concierge = 0.05 } }",
            "tiers = { bronze = 0.1 } }",
            "scenario: accept_callback.tiers: \"bronze\" is not a tier",
        ),
        (
            "queues = { support = {",
            "channels = { fax = { exponential = \"1m\" } }\nqueues = { support = {",
            "scenario: handle_time.channels: \"fax\" is not a channel",
        ),
        (
            "interval = \"15m\"",
            "interval = \"30s\"",
            "scenario: interval: must be a minute or longer",
        ),
        (
            "interval = \"15m\"",
            "interval = \"soon\"",
            "scenario: interval: expected a number before \"soon\"",
        ),
        (
            "callers = { platinum = 80, concierge = 20 }",
            "callers = { platinum = 80, diamond = 20 }",
            "scenario: arrivals[1].callers: \"diamond\" is neither a tier nor \"unknown\"",
        ),
        (
            "callers = { platinum = 80, concierge = 20 }",
            "callers = { platinum = 0 }",
            "scenario: arrivals[1].callers: some caller needs a weight above 0",
        ),
        (
            "menus = { main = {",
            "menus = { lobby = {",
            "scenario: arrivals[0].menus: \"lobby\" is not a menu of the config",
        ),
        (
            "default = { exponential = \"4m\" }",
            "default = { exponential = \"0s\" }",
            "scenario: handle_time.default: the mean must be more than 0",
        ),
        (
            "queues = { support = {",
            "queues = { helpdesk = {",
            "scenario: handle_time.queues: \"helpdesk\" is not a queue",
        ),
        (
            "tiers = { gold = {",
            "tiers = { bronze = {",
            "scenario: patience.tiers: \"bronze\" is not a tier",
        ),
        (
            "from = \"4h\"",
            "from = \"13h\"",
            "scenario: agents[2].to: the shift ends after it starts",
        ),
        (
            "count = 30",
            "count = 300000",
            "scenario: agents[0].count: at most 100000",
        ),
        (
            "skills = { general = 5, billing = 3 }",
            "skills = { general = 11 }",
            "scenario: agents[0].skills: general: proficiency 11 is not 1 to 10",
        ),
    ] {
        assert_eq!(refused(&edited(from, to)), says, "{from} -> {to}");
    }
    // Unknown keys and a missing section are the TOML reader's to name.
    let e = refused(&edited("menu_time = \"8s\"", "menu_tme = \"8s\""));
    assert!(e.starts_with("scenario: ") && e.contains("menu_tme"), "{e}");
    let e = refused("interval = \"15m\"\n");
    assert!(e.contains("missing field"), "{e}");
}

#[test]
fn a_replay_brings_each_recorded_call_at_its_time_and_reproduces_the_arrival_counts() {
    use switchboard_sim::{Replayed, replay};
    let (plan, scenario) = shipped();
    let from = scenario.start_ms;
    let replay_scenario = scenario.for_replay(from, from + 4 * 900_000);
    // Calls at known times over four intervals: 3, 0, 5 and 2 of them; some pressed 2
    // (support) at the main menu, one hung up after 30 s, the answered ones talked 2 min.
    let counts = [3usize, 0, 5, 2];
    let mut calls = Vec::new();
    for (i, n) in counts.iter().enumerate() {
        for k in 0..*n {
            calls.push(Replayed {
                at_ms: from + i as u64 * 900_000 + k as u64 * 60_000,
                caller: format!("+1718200{:04}", calls.len()),
                dialed: "+18005550100".into(),
                channel: switchboard_core::caller::Channel::Voice,
                digits: vec!["2".into()],
                talk_s: Some(120.0),
                patience_s: (k == 1).then_some(30.0),
            });
        }
    }
    let directory = switchboard_sim::engine::directory(&plan, 10);
    let out = replay(plan.clone(), &replay_scenario, &calls, directory, None);
    let mut got = [0usize; 4];
    for c in &out.calls {
        got[c.interval] += 1;
    }
    assert_eq!(got, counts);
    assert!(
        out.calls.iter().all(|c| c.queue.is_some()),
        "every call reached a queue"
    );
    let f = figures(&out, &plan, &replay_scenario);
    assert_eq!(f.tiers[0].intervals.len(), 4);
    assert_eq!(
        f.tiers[0]
            .intervals
            .iter()
            .map(|s| s.offered)
            .collect::<Vec<_>>(),
        [3, 0, 5, 2]
    );
}

#[test]
fn agents_on_a_break_are_away_for_its_time_and_back_after_it() {
    let plan = switchboard_config::load_default().unwrap().plan;
    // The early technical shift (24 agents, until 8 h) takes an hour's break at 2 h, in
    // the morning peak, before the late shift comes.
    let text = edited(
        "to = \"8h\"\n",
        "to = \"8h\"\nbreaks = [{ at = \"2h\", for = \"1h\" }]\n",
    );
    let scenario = Scenario::parse(&text, &plan).unwrap();
    let out = run(plan.clone(), &scenario, None);
    // All 24 away from 2 h to 3 h (intervals 8 to 11); those on a call at 2 h go when
    // it ends, and all are back at 3 h.
    let away = &out.occupancy.away_s;
    let hour: f64 = away[8..12].iter().sum();
    assert!(hour > 20.0 * 3_600.0 && hour <= 24.0 * 3_600.0, "{away:?}");
    assert!(
        away[..8].iter().chain(&away[12..]).all(|s| *s == 0.0),
        "{away:?}"
    );
    // The support queue feels it: its longest wait in that hour is longer.
    let (_, without) = shipped();
    let before = run(plan.clone(), &without, None);
    let support = plan.queues.iter().position(|q| q.name == "support");
    let support_wait = |out: &switchboard_sim::Run, hours: std::ops::Range<usize>| {
        out.calls
            .iter()
            .filter(|c| c.queue == support && hours.contains(&c.interval))
            .filter_map(|c| c.answered_after.or(c.abandoned_after))
            .fold(0.0, f64::max)
    };
    assert!(
        support_wait(&out, 8..12) > support_wait(&before, 8..12) + 60.0,
        "{} against {}",
        support_wait(&out, 8..12),
        support_wait(&before, 8..12)
    );
}

#[test]
fn a_break_outside_its_shift_or_of_no_time_is_refused() {
    for (breaks, says) in [
        (
            "breaks = [{ at = \"7h\", for = \"2h\" }]",
            "scenario: agents[1].breaks[0].at: every break falls within the shift",
        ),
        (
            "breaks = [{ at = \"1h\", for = \"0s\" }]",
            "scenario: agents[1].breaks[0].for: a break lasts more than 0s",
        ),
        (
            "breaks = [{ at = \"1h\", for = \"15m\", spread = \"never\" }]",
            "scenario: agents[1].breaks[0].spread: expected a number before \"never\"",
        ),
    ] {
        let text = edited("to = \"8h\"\n", &format!("to = \"8h\"\n{breaks}\n"));
        assert_eq!(refused(&text), says, "{breaks}");
    }
}
