//! What the simulated callers and agents do beyond talking and waiting: callers who take
//! a callback offered to them, agents who let offers ring out, agents who hold several
//! chats at once, and agents at the desk by the interval.

mod support;

use switchboard_sim::{Run, Scenario, run};

const TIERS: &str = r#"
[[tiers]]
name = "standard"
base_priority = 0
standard = { answer_percent = 80, within = "60s" }
channel_standards.chat = { answer_percent = 80, within = "60s" }
"#;

/// Two hours of `per_interval` calls of `channel` a quarter, the `agents` groups given,
/// and `more` scenario text at the top.
fn scenario(
    plan: &switchboard_core::RoutePlan,
    channel: &str,
    per_interval: u32,
    more: &str,
    agents: &str,
) -> Scenario {
    let text = format!(
        r#"
seed = 5
interval = "15m"
customers_per_tier = 10000
{more}
handle_time = {{ default = {{ exponential = "3m" }}, channels = {{ chat = {{ exponential = "6m" }} }} }}

[[arrivals]]
line = "+18005550100"
channel = "{channel}"
per_interval = [{}]
callers = {{ standard = 1 }}

{agents}
"#,
        vec![per_interval.to_string(); 8].join(", ")
    );
    Scenario::parse(&text, plan).unwrap()
}

fn answered(out: &Run) -> usize {
    out.calls
        .iter()
        .filter(|c| c.answered_after.is_some())
        .count()
}

fn abandoned(out: &Run) -> usize {
    out.calls
        .iter()
        .filter(|c| c.abandoned_after.is_some())
        .count()
}

#[test]
fn callers_who_take_a_callback_offered_keep_their_place_and_do_not_give_up() {
    // Estimated waits over 30 s offer a callback; callers give up after a minute or so;
    // 4 agents for about 6 Erlangs, so queues build.
    let plan = support::one_queue_plan("desk-callbacks", TIERS, "callback_after = \"30s\"");
    let agents = "[[agents]]\nname = \"a\"\ncount = 4\nskills = { general = 5 }\nto = \"6h\"";
    let patience = "[patience]\ndefault = { exponential = \"1m\" }";
    let with = |accept: f64| {
        let mut s = scenario(
            &plan,
            "voice",
            30,
            &format!("accept_callback = {{ default = {accept} }}"),
            &format!("{agents}\n\n{patience}"),
        );
        s.no_answers_before_not_ready = 1;
        run(plan.clone(), &s, None)
    };
    let (none, all) = (with(0.0), with(1.0));
    let callbacks = |out: &Run| out.calls.iter().filter(|c| c.callback).count();
    assert_eq!(callbacks(&none), 0);
    assert!(abandoned(&none) > 40, "{} abandoned", abandoned(&none));
    assert!(callbacks(&all) > 40, "{} callbacks", callbacks(&all));
    // Those who took one were all called back (the desk stays until they are); only
    // callers never offered one (told a short wait that grew) still gave up.
    assert!(
        all.calls
            .iter()
            .filter(|c| c.callback)
            .all(|c| c.answered_after.is_some() && c.abandoned_after.is_none())
    );
    assert!(abandoned(&all) < abandoned(&none) / 2);
    assert!(answered(&all) > answered(&none));
}

#[test]
fn offers_an_agent_lets_ring_out_go_to_an_agent_who_answers() {
    let plan = support::one_queue_plan("desk-no-answer", TIERS, "");
    // Half the desk never answers; the other half always does, and stays until every
    // call is answered. Nobody hangs up.
    let agents = "[[agents]]\nname = \"away\"\ncount = 3\nskills = { general = 5 }\nno_answer = 1.0\n\n\
                  [[agents]]\nname = \"here\"\ncount = 3\nskills = { general = 5 }\nto = \"6h\"";
    let mut s = scenario(&plan, "voice", 10, "ring_time = \"20s\"", agents);
    s.no_answers_before_not_ready = 2;
    let out = run(plan.clone(), &s, None);
    assert_eq!(answered(&out), out.calls.len(), "everyone is answered");
    let rung_out = out.calls.iter().filter(|c| c.missed > 0).count();
    assert!(rung_out > 0, "some offers rang out");
    // A call that rang out waited its ring time at least.
    assert!(
        out.calls
            .iter()
            .filter(|c| c.missed > 0)
            .all(|c| c.answered_after.unwrap() >= 20.0)
    );
    // A desk of agents who never answer answers nobody.
    let agents =
        "[[agents]]\nname = \"away\"\ncount = 3\nskills = { general = 5 }\nno_answer = 1.0";
    let s = scenario(&plan, "voice", 10, "", agents);
    assert_eq!(answered(&run(plan.clone(), &s, None)), 0);
}

#[test]
fn agents_hold_as_many_chats_at_once_as_their_capacity_allows() {
    let plan = support::one_queue_plan("desk-chats", TIERS, "");
    // About 6 chats of 6 minutes at once, on 3 agents.
    let with = |chats: u8| {
        let agents = format!(
            "[[agents]]\nname = \"a\"\ncount = 3\nskills = {{ general = 5 }}\ncapacity = {{ chat = {chats} }}"
        );
        let s = scenario(&plan, "chat", 15, "", &agents);
        switchboard_sim::figures(&run(plan.clone(), &s, None), &plan, &s)
    };
    let (one, three) = (with(1), with(3));
    let level = |f: &switchboard_sim::Figures| f.tiers[0].all.service_level.unwrap();
    // One chat each is 3 at once against 6 of work: the queue only grows.
    assert!(level(&one) < 0.3, "{}", level(&one));
    assert!(level(&three) > 0.8, "{}", level(&three));
}

#[test]
fn a_group_staffed_by_the_interval_is_at_the_desk_only_then() {
    let plan = support::one_queue_plan("desk-staffed", TIERS, "");
    let agents = "[[agents]]\nname = \"a\"\ncount = 4\nskills = { general = 5 }\n\
                  staffed = [4, 4, 0, 0, 2, 2, 4, 1]";
    let s = scenario(&plan, "voice", 4, "", agents);
    let out = run(plan.clone(), &s, None);
    let staffed: Vec<f64> = out.occupancy.staffed_s.iter().map(|s| s / 900.0).collect();
    assert_eq!(staffed, [4.0, 4.0, 0.0, 0.0, 2.0, 2.0, 4.0, 1.0]);
    // Nobody answers in the empty half hour; those calls wait for 1 h.
    assert!(
        out.calls
            .iter()
            .filter(|c| c.interval == 2)
            .all(|c| c.answered_after.is_some_and(|w| w > 0.0))
    );
}
