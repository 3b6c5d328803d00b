use std::time::Duration;

use super::*;
use crate::Profile;
use crate::{
    behaviour::ZeroOutPolicy,
    condition::{Condition, Leaf, Test},
    plan::{
        Learning, Line, LineRedirect, Menu, MenuOption, PlanParts, Queue, Rule, ServiceStandard,
        Strategy, Then, Tier, TierSet,
    },
};

const STANDARD: TierId = TierId(0);
const GOLD: TierId = TierId(1);
const PLATINUM: TierId = TierId(2);

const OPERATOR: QueueId = QueueId(0);
const CARE: QueueId = QueueId(1);
const SUPPORT: QueueId = QueueId(2);
const PLATINUM_DESK: QueueId = QueueId(3);

const MAIN_LINE: &str = "+18005550100";
const PLATINUM_LINE: &str = "+18005550199";

fn tier(name: &str, base_priority: i32) -> Tier {
    Tier {
        by_channel: vec![],
        name: name.into(),
        base_priority,
        standard: ServiceStandard {
            percent: 80,
            within: Duration::from_secs(30),
        },
    }
}

fn option(digits: &str, target: Target, remember: Option<Preference>) -> MenuOption {
    MenuOption {
        digits: digits.into(),
        intent: None,
        label: digits.into(),
        target,
        remember,
    }
}

fn rule(name: &str, when: Condition, then: Then) -> Rule {
    Rule {
        name: name.into(),
        when,
        then,
    }
}

pub(super) fn plan() -> RoutePlan {
    let mut platinum_only = TierSet::default();
    platinum_only.insert(PLATINUM);
    RoutePlan::new(PlanParts {
        numbers: crate::NumberPlan::for_country("US").unwrap(),
        tiers: vec![tier("standard", 0), tier("gold", 20), tier("platinum", 50)],
        lines: vec![
            Line {
                name: "main".into(),
                number: MAIN_LINE.parse().unwrap(),
                entry: Target::Menu(MenuId(0)),
                admits: None,
                others: None,
            },
            Line {
                name: "platinum".into(),
                number: PLATINUM_LINE.parse().unwrap(),
                entry: Target::Menu(MenuId(0)),
                admits: Some(platinum_only),
                others: Some(LineRedirect {
                    line: LineId(0),
                    prompt: "members-only".into(),
                }),
            },
        ],
        default_line: LineId(0),
        menus: vec![Menu {
            name: "main".into(),
            prompt: "main-menu".into(),
            options: vec![
                option("0", Target::Queue(OPERATOR), None),
                option("1", Target::Queue(CARE), Some(Preference::FriendlyChat)),
                option("2", Target::Queue(SUPPORT), Some(Preference::GetItDone)),
            ],
            attempts: 2,
            fallback: Target::Queue(OPERATOR),
        }],
        queues: ["operator", "care", "support", "platinum_desk"]
            .into_iter()
            .map(|n| Queue {
                name: n.into(),
                skills: vec![],
                strategy: Strategy::LongestIdle,
                aging_per_minute: 10,
                wrap_up: Duration::from_secs(15),
                handle_time: Duration::from_secs(180),
                callback_after: Some(Duration::from_secs(300)),
                max_wait: None,
                overflow: vec![],
                retired: false,
                part_of: None,
                when_closed: None,
            })
            .collect(),
        rules: vec![
            rule(
                "gold-boost",
                Condition::Test(Leaf::new(
                    "caller.tier == \"gold\"",
                    Test::TierIn(TierSet(1 << GOLD.0)),
                )),
                Then {
                    raise_priority: 5,
                    continue_: true,
                    ..Then::default()
                },
            ),
            rule(
                "operator-seekers",
                Condition::Test(Leaf::new(
                    "caller.preference == \"always_operator\"",
                    Test::PreferenceIn(Preference::AlwaysOperator.bit()),
                )),
                Then {
                    target: Some(Target::Queue(OPERATOR)),
                    ..Then::default()
                },
            ),
            rule(
                "platinum-desk",
                Condition::Test(Leaf::new(
                    "caller.tier == \"platinum\"",
                    Test::TierIn(platinum_only),
                )),
                Then {
                    target: Some(Target::Queue(PLATINUM_DESK)),
                    ..Then::default()
                },
            ),
            rule(
                "friendly-chat",
                Condition::Test(Leaf::new(
                    "caller.preference == \"friendly_chat\"",
                    Test::PreferenceIn(Preference::FriendlyChat.bit()),
                )),
                Then {
                    target: Some(Target::Queue(CARE)),
                    ..Then::default()
                },
            ),
        ],
        learning: Learning {
            zero_out: ZeroOutPolicy {
                window: 5,
                threshold: 3,
            },
            repeat_window: Duration::from_secs(7 * 86_400),
            same_agent_for: Duration::from_secs(20),
        },
        coaching: Default::default(),
        capacity: Default::default(),
        calendars: vec![],
        fallback_queue: None,
    })
    .unwrap()
}

pub(super) fn customer(id: &str, number: &str, tier: TierId, preference: Preference) -> Profile {
    Profile {
        id: id.into(),
        name: format!("Customer {id}").into(),
        numbers: Box::new([number.parse().unwrap()]),
        tier,
        preference,
        language: "en".into(),
        lifetime_value: 0.0,
        influence: 0,
        tags: Box::default(),
        attributes: Box::default(),
        preferred_agent: None,
        contacts: Box::default(),
        preferred_channel: None,
    }
}

fn router() -> Router {
    let dir = Directory::new();
    dir.upsert(customer("std", "+12125550101", STANDARD, Preference::None))
        .unwrap();
    dir.upsert(customer("gold", "+12125550102", GOLD, Preference::None))
        .unwrap();
    dir.upsert(customer("plat", "+12125550103", PLATINUM, Preference::None))
        .unwrap();
    dir.upsert(customer(
        "op",
        "+12125550104",
        STANDARD,
        Preference::AlwaysOperator,
    ))
    .unwrap();
    dir.upsert(customer(
        "chat",
        "+12125550105",
        GOLD,
        Preference::GetItDone,
    ))
    .unwrap();
    Router::new(plan(), Arc::new(dir))
}

const T0: Millis = Millis(1_800_000_000_000);

fn call<'a>(id: &'a str, caller: &'a str, dialed: &'a str) -> CallRequest<'a> {
    CallRequest {
        call_id: id,
        caller,
        dialed,
        channel: Channel::Voice,
        switch_id: "sbc-1",
    }
}

fn route(r: &Router, id: &str, caller: &str, dialed: &str) -> Decision {
    r.route(&call(id, caller, dialed), T0).unwrap().decision
}

#[test]
fn unknown_caller_hears_the_main_menu() {
    let r = router();
    let d = route(&r, "c1", "+13125550199", MAIN_LINE);
    assert_eq!(
        d.action,
        Action::PlayMenu {
            menu: MenuId(0),
            attempt: 1
        }
    );
    assert_eq!(d.reason, Reason::LineEntry);
    assert!(!d.menu_skipped);
}

#[test]
fn withheld_and_garbage_numbers_route_as_unknown_callers() {
    let r = router();
    for (i, caller) in ["anonymous", "", "1-800-FLOWERS", "+999 1", "%%%"]
        .iter()
        .enumerate()
    {
        let d = route(&r, &format!("c{i}"), caller, MAIN_LINE);
        assert_eq!(
            d.action,
            Action::PlayMenu {
                menu: MenuId(0),
                attempt: 1
            },
            "{caller:?}"
        );
    }
}

#[test]
fn always_operator_caller_skips_the_menu() {
    let r = router();
    let d = route(&r, "c1", "(212) 555-0104", MAIN_LINE);
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: OPERATOR,
            priority: 0
        }
    );
    assert_eq!(d.reason, Reason::Rule(RuleId(1)));
    assert!(d.menu_skipped);
}

#[test]
fn platinum_caller_on_platinum_line_goes_to_the_platinum_desk_with_tier_priority() {
    let r = router();
    let d = route(&r, "c1", "+12125550103", PLATINUM_LINE);
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: PLATINUM_DESK,
            priority: 50
        }
    );
    assert_eq!(d.redirected_from, None);
    assert_eq!(r.plan().line(d.line).name, "platinum");
}

#[test]
fn non_member_on_platinum_line_is_redirected_to_the_main_entry() {
    let r = router();
    let d = route(&r, "c1", "+12125550102", PLATINUM_LINE);
    assert_eq!(d.redirected_from, Some(LineId(1)));
    assert_eq!(d.line, LineId(0));
    assert_eq!(
        d.action,
        Action::PlayMenu {
            menu: MenuId(0),
            attempt: 1
        }
    );
}

#[test]
fn continuing_rules_raise_priority_and_later_rules_still_decide() {
    let r = router();
    // Gold (20) + gold-boost (5); the menu, then option 2.
    let d = route(&r, "c1", "+12125550102", MAIN_LINE);
    assert_eq!(d.matched.iter().collect::<Vec<_>>(), vec![RuleId(0)]);
    let next = r
        .submit_input("c1", Input::Digits("2"), T0)
        .unwrap()
        .decision;
    assert_eq!(
        next.action,
        Action::Enqueue {
            queue: SUPPORT,
            priority: 25
        }
    );
    assert_eq!(
        next.reason,
        Reason::MenuOption {
            menu: MenuId(0),
            option: 2
        }
    );
}

#[test]
fn a_call_past_its_menu_keeps_its_first_decision_for_replays_and_the_agents_screen() {
    let r = router();
    let menu = route(&r, "c1", "+12125550102", MAIN_LINE);
    let (_, first) = r.first_decision("c1").unwrap();
    assert_eq!(first, menu);
    let next = r
        .submit_input("c1", Input::Digits("2"), T0)
        .unwrap()
        .decision;
    assert_ne!(next, menu);
    let (_, first) = r.first_decision("c1").unwrap();
    assert_eq!(first, menu, "the first decision outlives the second");
    let again = r.route(&call("c1", "+12125550102", MAIN_LINE), T0).unwrap();
    assert!(again.replayed);
    assert_eq!(again.decision, menu);
}

#[test]
fn the_same_call_id_gets_the_same_decision_and_learns_nothing_more() {
    let r = router();
    let first = route(&r, "dup", "+12125550101", MAIN_LINE);
    let again = r
        .route(&call("dup", "+12125550104", PLATINUM_LINE), T0)
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.decision, first);
    assert_eq!(r.calls_in_progress(), 1);
    let n: E164 = "+12125550104".parse().unwrap();
    assert_eq!(
        r.behaviour().get(n).last_call,
        None,
        "a replay is not a call"
    );
}

#[test]
fn caller_who_pressed_zero_in_three_of_five_calls_skips_the_menu_next_time() {
    let r = router();
    let caller = "+13125550150";
    for (i, digits) in ["0", "2", "0", "0"].iter().enumerate() {
        let id = format!("z{i}");
        let d = route(&r, &id, caller, MAIN_LINE);
        assert!(
            matches!(d.action, Action::PlayMenu { .. }),
            "call {i} still hears the menu"
        );
        r.submit_input(&id, Input::Digits(digits), T0).unwrap();
    }
    let d = route(&r, "z-next", caller, MAIN_LINE);
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: OPERATOR,
            priority: 0
        }
    );
    assert!(d.menu_skipped);
    let e = r.explain(caller, MAIN_LINE, Channel::Voice, &[], T0);
    assert_eq!(e.caller.source, PreferenceSource::LearnedZeroOut);
}

#[test]
fn explicit_preference_wins_over_a_learned_one() {
    let r = router();
    // The get_it_done customer presses 0 every time; explicit stays.
    for i in 0..5 {
        let id = format!("g{i}");
        route(&r, &id, "+12125550105", MAIN_LINE);
        r.submit_input(&id, Input::Digits("0"), T0).unwrap();
    }
    let e = r.explain("+12125550105", MAIN_LINE, Channel::Voice, &[], T0);
    assert_eq!(e.caller.preference, Preference::GetItDone);
    assert_eq!(e.caller.source, PreferenceSource::Explicit);
}

#[test]
fn a_menu_choice_is_remembered_for_the_next_call() {
    let r = router();
    let caller = "+13125550151";
    route(&r, "m1", caller, MAIN_LINE);
    r.submit_input("m1", Input::Digits("1"), T0).unwrap();
    let d = route(&r, "m2", caller, MAIN_LINE);
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: CARE,
            priority: 0
        }
    );
    assert_eq!(d.reason, Reason::Rule(RuleId(3)));
}

#[test]
fn invalid_input_replays_the_menu_then_falls_back() {
    let r = router();
    route(&r, "c1", "+12125550101", MAIN_LINE);
    let d = r
        .submit_input("c1", Input::Digits("9"), T0)
        .unwrap()
        .decision;
    assert_eq!(
        d.action,
        Action::PlayMenu {
            menu: MenuId(0),
            attempt: 2
        }
    );
    assert_eq!(d.reason, Reason::InvalidInput(MenuId(0)));
    let d = r
        .submit_input("c1", Input::Digits("9"), T0)
        .unwrap()
        .decision;
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: OPERATOR,
            priority: 0
        }
    );
    assert_eq!(d.reason, Reason::MenuFallback(MenuId(0)));
    assert_eq!(
        r.submit_input("c1", Input::Digits("1"), T0).unwrap_err(),
        RouteError::NotAtMenu
    );
}

#[test]
fn bad_requests_name_the_field_and_leave_other_calls_alone() {
    let r = router();
    route(&r, "ok", "+12125550101", MAIN_LINE);
    let long = "x".repeat(129);
    for (req, field) in [
        (call("", "+12125550101", MAIN_LINE), "call_id"),
        (call(&long, "+12125550101", MAIN_LINE), "call_id"),
        (call("has space", "+12125550101", MAIN_LINE), "call_id"),
        (call("c2", &"1".repeat(65), MAIN_LINE), "caller"),
        (call("c3", "+12125550101", &"1".repeat(65)), "dialed"),
    ] {
        match r.route(&req, T0) {
            Err(RouteError::InvalidField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected an invalid field, got {other:?}"),
        }
    }
    for input in [
        Input::Digits("1a"),
        Input::Digits(""),
        Input::Digits(&"1".repeat(33)),
    ] {
        assert!(matches!(
            r.submit_input("ok", input, T0),
            Err(RouteError::InvalidField {
                field: "digits",
                ..
            })
        ));
    }
    assert_eq!(
        r.submit_input("nope", Input::Digits("1"), T0).unwrap_err(),
        RouteError::UnknownCall
    );
    assert_eq!(r.calls_in_progress(), 1);
    let d = r
        .submit_input("ok", Input::Digits("2"), T0)
        .unwrap()
        .decision;
    assert_eq!(
        d.action,
        Action::Enqueue {
            queue: SUPPORT,
            priority: 0
        }
    );
}

#[test]
fn a_line_is_found_by_its_number_however_the_switch_spells_it() {
    let r = router();
    let platinum = r
        .plan()
        .line(route(&r, "c0", "+12125550103", PLATINUM_LINE).line)
        .name
        .clone();
    assert_eq!(platinum, "platinum");
    // As the line's number prints (found without normalizing), and other spellings
    // (normalized first).
    for (i, dialed) in [
        "+18005550199",
        "1-800-555-0199",
        "(800) 555-0199",
        "tel:+1-800-555-0199",
        "sip:+18005550199@sbc-1",
    ]
    .into_iter()
    .enumerate()
    {
        let d = route(&r, &format!("c{}", i + 1), "+12125550103", dialed);
        assert_eq!(r.plan().line(d.line).name, "platinum", "{dialed}");
    }
    // Near misses are no line of ours.
    for (i, dialed) in ["+1800555019", "+180055501990", "+18005550199x"]
        .into_iter()
        .enumerate()
    {
        let d = route(&r, &format!("m{i}"), "+12125550103", dialed);
        assert_eq!(d.line, LineId(0), "{dialed}");
    }
}

#[test]
fn unknown_dialed_number_follows_the_default_line() {
    let r = router();
    let d = route(&r, "c1", "+12125550101", "+18005559999");
    assert_eq!(d.line, LineId(0));
    let e = r.explain("+12125550101", "+18005559999", Channel::Voice, &[], T0);
    assert!(
        e.notes.iter().any(|n| n.contains("not a configured line")),
        "{:?}",
        e.notes
    );
}

#[test]
fn explain_lists_every_rule_and_each_condition_agrees_with_the_match() {
    let r = router();
    let e = r.explain("+12125550102", PLATINUM_LINE, Channel::Voice, &["2"], T0);
    assert_eq!(e.rules.len(), 4);
    for t in &e.rules {
        assert_eq!(t.matched, t.conditions.iter().all(|c| c.matched), "{t:?}");
    }
    assert_eq!(
        e.rules[0].conditions[0].condition,
        "caller.tier == \"gold\""
    );
    assert_eq!(e.rules[0].conditions[0].actual, "gold");
    assert_eq!(e.rules[0].effect, "priority +5, then continue");
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("line platinum does not admit tier gold"))
    );
    assert_eq!(e.decisions.len(), 2);
    assert_eq!(
        e.decisions[1].action,
        Action::Enqueue {
            queue: SUPPORT,
            priority: 25
        }
    );
    // A dry run records nothing.
    assert_eq!(r.calls_in_progress(), 0);
    assert_eq!(
        r.behaviour().get("+12125550102".parse().unwrap()),
        Learned::default()
    );
}

#[test]
fn repeat_callers_are_recognized_within_the_window() {
    let r = router();
    route(&r, "r1", "+12125550101", MAIN_LINE);
    let soon = Millis(T0.0 + 3_600_000);
    assert!(
        r.explain("+12125550101", MAIN_LINE, Channel::Voice, &[], soon)
            .caller
            .repeat
    );
    let later = Millis(T0.0 + 8 * 86_400_000);
    assert!(
        !r.explain("+12125550101", MAIN_LINE, Channel::Voice, &[], later)
            .caller
            .repeat
    );
}

#[test]
fn upkeep_forgets_from_its_lists_exactly_the_calls_a_walk_over_every_call_finds() {
    let r = router();
    let mut scheduled = 0;
    // A minute of calls: some answer the menu (to a queue), some press a key it does not
    // know (and hear it again), some wait in a queue with a callback scheduled well after
    // the others are forgotten.
    for i in 0..60u64 {
        let at = Millis(T0.0 + i * 1_000);
        let id = format!("c{i}");
        let caller = ["+12125550101", "+12125550102", "+12125550104"][(i % 3) as usize];
        r.route(&call(&id, caller, MAIN_LINE), at).unwrap();
        if i % 4 == 1 {
            let _ = r.submit_input(&id, Input::Digits("2"), Millis(at.0 + 500 + i * 300));
        }
        // A key the menu does not know: the menu again, decided later.
        if i % 4 == 3 {
            let _ = r.submit_input(&id, Input::Digits("9"), Millis(at.0 + 8_000));
        }
        if i % 5 == 0 && r.schedule_callback(&id, Millis(T0.0 + 95_000)).is_ok() {
            scheduled += 1;
        }
    }
    assert!(scheduled > 0, "no callback was scheduled");
    let (mut forgotten, mut silent) = (0, 0);
    for k in 0..30u64 {
        let now = Millis(T0.0 + k * 5_000);
        let cutoff = Millis(now.0.saturating_sub(40_000));
        let menu_cutoff = Millis(now.0.saturating_sub(12_000));
        let mut expected: Vec<String> = r
            .calls
            .iter()
            .filter(|s| {
                upkeep::began(s) < cutoff || (upkeep::at_menu(s) && s.decided < menu_cutoff)
            })
            .map(|s| s.key().to_string())
            .collect();
        expected.sort();
        let out = r.forget_calls(cutoff, menu_cutoff, now);
        let mut ids: Vec<String> = out.calls.iter().map(|c| c.call_id.clone()).collect();
        ids.sort();
        assert_eq!(ids, expected, "at +{}s", k * 5);
        forgotten += ids.len();
        silent += out.silent_at.len();
    }
    assert_eq!(forgotten, 60, "every call is forgotten in the end");
    assert!(silent > 0, "some were silent at a menu");
    // Nothing is left listed once every call is gone.
    r.forget_calls(Millis(u64::MAX), Millis(u64::MAX), Millis(u64::MAX));
    assert_eq!(r.began.len() + r.at_menu.len(), 0);
}

#[test]
fn old_calls_are_forgotten() {
    let r = router();
    route(&r, "old", "+12125550101", MAIN_LINE);
    r.route(
        &call("new", "+12125550101", MAIN_LINE),
        Millis(T0.0 + 10_000),
    )
    .unwrap();
    assert_eq!(
        r.forget_calls_before(Millis(T0.0 + 5_000), Millis(T0.0 + 5_000))
            .calls
            .len(),
        1
    );
    assert_eq!(
        r.submit_input("old", Input::Digits("1"), T0).unwrap_err(),
        RouteError::UnknownCall
    );
    assert!(r.submit_input("new", Input::Digits("1"), T0).is_ok());
}

#[test]
fn an_enqueue_decision_meets_an_idle_agent_or_says_where_the_call_waits() {
    use crate::acd::AgentProfile;
    let r = router();
    let agent = AgentProfile {
        id: "ann".into(),
        endpoint: "sip:ann@pbx".into(),
        skills: vec![],
        tags: vec![],
        capacity: Default::default(),
    };
    r.acd().log_in(agent, T0).unwrap();
    r.acd().ready("ann", T0).unwrap();
    let first = r
        .route(&call("p1", "+12125550103", PLATINUM_LINE), T0)
        .unwrap();
    assert_eq!(first.decision.placement, Placement::Assigned);
    let a = first.assignment.expect("the idle agent");
    assert_eq!(
        (
            &*a.call.call_id,
            &*a.call.switch_id,
            a.agent.profile.id.as_str()
        ),
        ("p1", "sbc-1", "ann")
    );
    // Nobody else is free: the next calls wait, in order.
    let d = route(&r, "p2", "+12125550103", PLATINUM_LINE);
    // One agent staffed, handle time 180 s: 180 s for the first in line, no callback;
    // 360 s for the second, past the 300 s threshold, so a callback is offered.
    let secs = Some(Duration::from_secs(180));
    assert_eq!(
        d.placement,
        Placement::Waiting {
            position: 1,
            estimated_wait: secs,
            callback_offered: false
        }
    );
    let d = route(&r, "p3", "+12125550103", PLATINUM_LINE);
    let secs = Some(Duration::from_secs(360));
    assert_eq!(
        d.placement,
        Placement::Waiting {
            position: 2,
            estimated_wait: secs,
            callback_offered: true
        }
    );
    // A replay repeats the placement and makes no new assignment.
    let again = r
        .route(&call("p1", "+12125550103", PLATINUM_LINE), T0)
        .unwrap();
    assert_eq!(
        (again.decision.placement, again.assignment.is_none()),
        (Placement::Assigned, true)
    );
    assert_eq!(r.acd().waiting_in(PLATINUM_DESK), 2);
    // Forgetting calls takes them out of the live queues too.
    assert_eq!(
        r.forget_calls_before(Millis(T0.0 + 1), Millis(T0.0 + 1))
            .calls
            .len(),
        3
    );
    assert_eq!(r.acd().waiting_in(PLATINUM_DESK), 0);
    // A menu decision is not queued.
    assert_eq!(
        route(&r, "m1", "+13125550199", MAIN_LINE).placement,
        Placement::NotQueued
    );
}

#[test]
fn a_repeat_caller_is_kept_first_for_the_agent_who_served_them() {
    use crate::acd::AgentProfile;
    let r = router();
    let agent = |id: &str| AgentProfile {
        id: id.into(),
        endpoint: format!("sip:{id}@pbx"),
        skills: vec![],
        tags: vec![],
        capacity: Default::default(),
    };
    r.acd().log_in(agent("ann"), T0).unwrap();
    r.acd().ready("ann", T0).unwrap();
    let first = r
        .route(&call("v1", "+12125550103", PLATINUM_LINE), T0)
        .unwrap();
    assert_eq!(first.assignment.unwrap().agent.profile.id, "ann");
    r.acd().connected("ann", "v1", T0).unwrap();
    r.acd().ended("ann", "v1", T0).unwrap();
    r.record_served("v1", "ann", false, "billing-dispute", T0);
    // Bo is free, Ann is wrapping up: the caller's next call waits for Ann...
    r.acd().log_in(agent("bo"), T0).unwrap();
    r.acd().ready("bo", T0).unwrap();
    let later = Millis(T0.0 + 60_000);
    let again = r
        .route(&call("v2", "+12125550103", PLATINUM_LINE), later)
        .unwrap();
    // The agent's screen will say what happened last time.
    let last = r.last_contact_of("v2").unwrap();
    assert_eq!(
        last.describe(later),
        "1 minute ago in platinum_desk with ann: not resolved (wrap-up billing-dispute)"
    );
    // Two agents staffed (Ann wrapping up, Bo free). Ann's first call was measured: no
    // talk plus 15 s wrap-up moved the average from 180 s to 180 - 180/8 + 15/8 = 159.375 s.
    let secs = Some(Duration::from_micros(159_375_000 / 2));
    assert_eq!(
        again.decision.placement,
        Placement::Waiting {
            position: 1,
            estimated_wait: secs,
            callback_offered: false
        }
    );
    assert!(again.assignment.is_none());
    // ...and is hers when she is ready.
    let a = r
        .acd()
        .ready("ann", Millis(later.0 + 5_000))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(&*a.call.call_id, "v2");
    // A caller with no history is kept for no one: free Bo takes them from the menu.
    route(&r, "v3", "+13125550140", MAIN_LINE);
    let other = r.submit_input("v3", Input::Digits("0"), later).unwrap();
    assert_eq!(other.decision.placement, Placement::Assigned);
    assert_eq!(other.assignment.unwrap().agent.profile.id, "bo");
}

/// The test plan with the platinum desk removed (its calls go to the operator queue) or
/// back, and every queue's aging rate set to `aging`.
fn variant(aging: i64, desk_removed: bool, running: &RoutePlan) -> RoutePlan {
    let mut parts: crate::plan::PlanParts = (**running).clone();
    for q in &mut parts.queues {
        q.aging_per_minute = aging;
        q.retired = false;
    }
    parts.queues[PLATINUM_DESK.index()].retired = desk_removed;
    if desk_removed {
        for rule in &mut parts.rules {
            if rule.then.target == Some(Target::Queue(PLATINUM_DESK)) {
                rule.then.target = Some(Target::Queue(OPERATOR));
            }
        }
    }
    parts.fallback_queue = Some(OPERATOR);
    RoutePlan::new(parts).unwrap()
}

#[test]
fn reloads_while_calls_arrive_lose_no_call_and_never_route_to_a_removed_queue() {
    let r = Arc::new(router());
    let base = r.plan();
    let callers = ["+12125550103", "+12125550104", "+13125550199"];
    std::thread::scope(|s| {
        for t in 0..2 {
            let r = Arc::clone(&r);
            s.spawn(move || {
                for i in 0..2_000 {
                    let id = format!("t{t}-{i}");
                    let caller = callers[i % callers.len()];
                    let routed = r.route(&call(&id, caller, MAIN_LINE), T0).unwrap();
                    if let Action::Enqueue { queue, .. } = routed.decision.action {
                        // Whatever plan decided, the call is somewhere in the ACD.
                        assert!(
                            r.acd().position(&id).is_some() || r.acd().holder_of(&id).is_some(),
                            "{id} routed to queue {} is nowhere",
                            queue.index()
                        );
                    }
                }
            });
        }
        let r = Arc::clone(&r);
        s.spawn(move || {
            for k in 0..200 {
                let plan = variant(10 + k % 3, k % 2 == 0, &base);
                r.reload(plan, T0).unwrap();
            }
        });
    });
    // The last reload put the desk back: it works as before.
    let plan = r.plan();
    assert!(!plan.queue(PLATINUM_DESK).retired);
    // Every call that entered a queue is waiting in one that is in service.
    let waiting: usize = (0..plan.queues.len())
        .map(|i| QueueId(i as u16))
        .filter(|q| !plan.queue(*q).retired)
        .map(|q| r.acd().waiting_in(q))
        .sum();
    let queued = (0..2)
        .flat_map(|t| (0..2_000).map(move |i| format!("t{t}-{i}")))
        .filter(|id| r.acd().position(id).is_some())
        .count();
    assert_eq!(waiting, queued);
    assert!(queued > 0);
}

#[test]
fn a_caller_at_a_menu_whose_queue_a_reload_removed_goes_to_the_fallback_queue() {
    let r = router();
    // An unknown caller hears the main menu under the first plan.
    route(&r, "m1", "+13125550199", MAIN_LINE);
    let mut parts: crate::plan::PlanParts = (**r.plan()).clone();
    parts.queues[CARE.index()].retired = true;
    parts.menus[0].options[1].target = Target::Queue(OPERATOR);
    parts.fallback_queue = Some(OPERATOR);
    r.reload(RoutePlan::new(parts).unwrap(), T0).unwrap();
    // Option 1 of the menu the call heard led to care; care is gone.
    let d = r
        .submit_input("m1", Input::Digits("1"), T0)
        .unwrap()
        .decision;
    assert!(
        matches!(
            d.action,
            Action::Enqueue {
                queue: OPERATOR,
                ..
            }
        ),
        "{:?}",
        d.action
    );
    assert_eq!(r.acd().waiting_in(OPERATOR), 1);
    assert_eq!(r.acd().waiting_in(CARE), 0);
    // Without a fallback queue, removing a queue is refused and nothing changes.
    let mut parts: crate::plan::PlanParts = (**r.plan()).clone();
    parts.queues[SUPPORT.index()].retired = true;
    parts.fallback_queue = None;
    let err = r.reload(RoutePlan::new(parts).unwrap(), T0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "queue support is removed but calls.fallback_queue is not set, so its calls would have nowhere to go"
    );
    assert!(!r.plan().queue(SUPPORT).retired);
}

/// Everything the journal would hold of a router: its agents and calls, by names.
fn journal_of(r: &Router) -> (Vec<crate::acd::AgentImage>, Vec<CallImage>) {
    let agents = r
        .acd()
        .agents()
        .iter()
        .filter_map(|a| r.acd().agent_image(&a.profile.id))
        .collect();
    let mut ids = r.call_ids();
    ids.sort();
    let calls = ids.iter().filter_map(|id| r.call_image(id)).collect();
    (agents, calls)
}

fn restart(r: &Router, plan: RoutePlan, now: Millis) -> (Router, Restored) {
    let (agents, mut calls) = journal_of(r);
    // The journal reads back oldest first; the order within a queue comes from the keys.
    calls.sort_by_key(|c| c.created);
    let fresh = Router::new(plan, Arc::new(Directory::new()));
    for a in agents {
        fresh.acd().restore_agent(a);
    }
    fresh.acd().order_members();
    let restored = fresh.restore_calls(calls, now);
    (fresh, restored)
}

#[test]
fn a_restart_from_the_journal_puts_calls_back_in_order_with_their_agents() {
    use crate::acd::{AgentProfile, AgentState};
    let r = router();
    let agent = |id: &str| AgentProfile {
        id: id.into(),
        endpoint: format!("sip:{id}@pbx"),
        skills: vec![],
        tags: vec!["rapport".into()],
        capacity: Default::default(),
    };
    let acd = r.acd();
    for id in ["ann", "bo", "cy"] {
        acd.log_in(agent(id), T0).unwrap();
    }
    acd.ready("ann", T0).unwrap();
    acd.ready("bo", T0).unwrap();
    acd.not_ready("cy", "lunch", T0).unwrap();
    let at = |s: u64| Millis(T0.0 + s * 1_000);
    // Ann takes p1 and is connected; Bo is offered p2; the rest wait on the desk, a gold
    // caller jumps the queue at the menu, and one caller is still at the menu.
    r.route(&call("p1", "+12125550103", PLATINUM_LINE), at(1))
        .unwrap();
    acd.connected("ann", "p1", at(2)).unwrap();
    r.route(&call("p2", "+12125550103", PLATINUM_LINE), at(3))
        .unwrap();
    for (i, id) in ["p3", "p4", "p5"].into_iter().enumerate() {
        r.route(&call(id, "+12125550103", PLATINUM_LINE), at(4 + i as u64))
            .unwrap();
    }
    route(&r, "m1", "+13125550140", MAIN_LINE);
    r.submit_input("m1", Input::Digits("9"), at(8)).unwrap();
    route(&r, "g1", "+12125550102", MAIN_LINE);
    r.submit_input("g1", Input::Digits("0"), at(9)).unwrap();
    r.record("p1", |rec| rec.agent = Some("ann".into()));
    let before: Vec<usize> = ["p3", "p4", "p5"]
        .iter()
        .map(|c| acd.position(c).unwrap())
        .collect();
    assert_eq!(before, [1, 2, 3]);

    let (fresh, restored) = restart(&r, plan(), at(60));
    assert!(restored.notes.is_empty(), "{:?}", restored.notes);
    assert!(restored.changed.is_empty(), "{:?}", restored.changed);
    assert_eq!(restored.calls, 7);
    // The offer to Bo is pending again, for the switch to get when it reconnects.
    let pending: Vec<(&str, &str)> = restored
        .pending
        .iter()
        .map(|a| (&*a.call.call_id, a.agent.profile.id.as_str()))
        .collect();
    assert_eq!(pending, [("p2", "bo")]);
    let f = fresh.acd();
    let state = |id: &str| {
        let a = f.agent(id).unwrap();
        (
            a.state(),
            a.call().as_deref().map(str::to_owned),
            a.reason(),
        )
    };
    assert_eq!(state("ann"), (AgentState::OnCall, Some("p1".into()), None));
    assert_eq!(state("bo"), (AgentState::Reserved, Some("p2".into()), None));
    assert_eq!(
        state("cy"),
        (AgentState::NotReady, None, Some("lunch".into()))
    );
    // Same places, same arrival times.
    let after: Vec<usize> = ["p3", "p4", "p5"]
        .iter()
        .map(|c| f.position(c).unwrap())
        .collect();
    assert_eq!(after, before);
    assert_eq!(f.waiting_in(PLATINUM_DESK), 3);
    assert_eq!(f.waiting_in(OPERATOR), 1);
    match f.locate("p3") {
        Some(crate::acd::Located::Waiting { call, .. }) => assert_eq!(call.arrived, at(4)),
        other => panic!("p3 not waiting: {other:?}"),
    }
    // A call id seen before gets the same decision, and nothing new happens.
    for id in ["p1", "p2", "p4", "m1", "g1"] {
        let old = r.route(&call(id, "", ""), at(1)).unwrap();
        let new = fresh.route(&call(id, "", ""), at(61)).unwrap();
        assert!(new.replayed && new.assignment.is_none(), "{id}");
        assert_eq!(new.decision, old.decision, "{id}");
    }
    // The call at the menu is still at it, with the answers it gave.
    let next = fresh
        .submit_input("m1", Input::Digits("2"), at(62))
        .unwrap();
    assert_eq!(
        next.decision.action,
        Action::Enqueue {
            queue: SUPPORT,
            priority: 0
        }
    );
    assert_eq!(
        fresh.call_image("m1").unwrap().digits,
        "2",
        "an invalid answer is not on the path; the valid one is"
    );
    assert_eq!(
        fresh.call_image("p1").unwrap().record.agent.as_deref(),
        Some("ann")
    );
    // And the restarted router's own journal is the same as the first one's, so a second
    // restart changes nothing either.
    let (agents_a, calls_a) = journal_of(&r);
    let (agents_b, calls_b) = journal_of(&fresh);
    assert_eq!(agents_a, agents_b);
    let m1 = |c: &CallImage| c.call_id != "m1";
    assert_eq!(
        calls_a.iter().filter(|c| m1(c)).collect::<Vec<_>>(),
        calls_b.iter().filter(|c| m1(c)).collect::<Vec<_>>()
    );
}

#[test]
fn a_restart_under_an_edited_config_maps_names_and_says_what_it_could_not_keep() {
    use crate::acd::AgentProfile;
    let r = router();
    let at = |s: u64| Millis(T0.0 + s * 1_000);
    r.route(&call("p1", "+12125550103", PLATINUM_LINE), at(1))
        .unwrap();
    r.route(&call("p2", "+12125550103", PLATINUM_LINE), at(2))
        .unwrap();
    route(&r, "m1", "+13125550140", MAIN_LINE);
    r.acd()
        .log_in(
            AgentProfile {
                id: "ann".into(),
                endpoint: "sip:ann@pbx".into(),
                skills: vec![],
                tags: vec![],
                capacity: Default::default(),
            },
            T0,
        )
        .unwrap();
    // The restart's config has no platinum desk (its calls go to the operator queue)
    // and no main menu.
    let mut parts: crate::plan::PlanParts = (*plan()).clone();
    parts.queues.retain(|q| q.name != "platinum_desk");
    parts.rules.retain(|r| r.name != "platinum-desk");
    parts.fallback_queue = Some(OPERATOR);
    parts.menus[0].name = "welcome".into();
    let edited = RoutePlan::new(parts).unwrap();
    let (fresh, restored) = restart(&r, edited, at(10));
    assert_eq!(restored.calls, 2);
    assert_eq!(
        restored.notes,
        ["call m1: not restored: menu main is gone from the config"]
    );
    let mut changed: Vec<&str> = restored.changed.iter().map(|c| &**c).collect();
    changed.sort_unstable();
    assert_eq!(changed, ["p1", "p2"], "moved calls are written again");
    // The desk's calls wait in the fallback queue, in their order.
    assert_eq!(fresh.acd().waiting_in(OPERATOR), 2);
    assert_eq!(
        (fresh.acd().position("p1"), fresh.acd().position("p2")),
        (Some(1), Some(2))
    );
    assert!(fresh.acd().agent("ann").is_some());
}

#[test]
fn switch_ids_are_shared_but_a_client_inventing_them_cannot_grow_the_table() {
    let r = router();
    let first = r.route(&call("s1", "+13125550140", MAIN_LINE), T0).unwrap();
    drop(first);
    let a = r.switch_id("sbc-1");
    let b = r.switch_id("sbc-1");
    assert!(Arc::ptr_eq(&a, &b), "one copy per switch");
    for i in 0..MAX_SHARED_SWITCH_IDS + 100 {
        let (switch, id) = (format!("made-up-{i}"), format!("x{i}"));
        let req = CallRequest {
            switch_id: &switch,
            ..call(&id, "+13125550140", MAIN_LINE)
        };
        let _ = r.route(&req, T0).unwrap();
    }
    assert_eq!(r.switches.len(), MAX_SHARED_SWITCH_IDS);
    // Calls on switches past the limit still carry their own switch id.
    let id = format!("made-up-{}", MAX_SHARED_SWITCH_IDS + 50);
    assert_eq!(&*r.switch_id(&id), id.as_str());
}
