//! Rule conditions are compiled at load so that evaluating them allocates nothing: a
//! counting allocator watches every rule of a condition-rich config evaluated for callers
//! with and without profiles.

use std::{path::Path, sync::Arc};

use switchboard_config::{DEFAULT_CONFIG, parse};
use switchboard_core::{
    Customer, Millis, Preference, Profile, TierId,
    behaviour::Learned,
    condition::{Facts, NoLiveQueues},
    plan::LineId,
    router::{Caller, Channel, PreferenceSource},
};

mod counting;
use counting::allocations;

const EXTRA_RULES: &str = r#"
[[rules]]
name = "everything"
when = '''caller.tier in ["gold", "platinum"] and caller.lifetime_value > 5000
  or caller.language == "es" and "vip" not in caller.tags
  or caller.attr.seats >= 10 and caller.attr.plan in ["premium", "enterprise"]
  or caller.attr.device_purchased < days_ago(730) and caller.attr.device_purchased > date("2000-01-01")
  or call.channel in ["chat", "email"] and line.name != "platinum" and call.digits == "3,1"
  or not caller.known and caller.zero_outs >= 2 and call.repeat_within("1d")
  or queue("support").estimated_wait > 120 and queue("care").available == 0 and open("support_hours")'''
then = { tags = ["seen"], continue = true }
"#;

#[test]
fn evaluating_every_rule_allocates_nothing() {
    let config = parse(
        &(DEFAULT_CONFIG.to_owned() + EXTRA_RULES),
        Path::new("t.toml"),
    )
    .unwrap();
    let plan = config.plan;
    let profile = Profile {
        id: "C1".into(),
        name: "Maria".into(),
        numbers: Box::default(),
        tier: TierId(2),
        preference: Preference::None,
        language: "es".into(),
        lifetime_value: 7_200.0,
        influence: 40,
        tags: Box::new(["loyalty".into()]),
        attributes: Box::new([
            ("device_purchased".into(), "2023-02-01".into()),
            ("plan".into(), "premium".into()),
            ("seats".into(), "12".into()),
        ]),
        preferred_agent: None,
        contacts: Box::default(),
        preferred_channel: None,
    };
    let callers: Vec<Caller> = [Some(Customer::from(profile)), None]
        .into_iter()
        .map(|customer| Caller {
            number: "+12125550101".parse().map_err(|_| unreachable!()),
            tier: customer.as_ref().map_or(TierId(0), |c| c.tier),
            customer: customer.map(Arc::new),
            preference: Preference::GetItDone,
            source: PreferenceSource::Explicit,
            repeat: true,
            learned: Learned::default(),
        })
        .collect();
    let live = NoLiveQueues;
    let mut matched = 0;
    let before = allocations();
    for caller in &callers {
        for channel in [Channel::Voice, Channel::Chat] {
            let facts = Facts {
                plan: &plan,
                caller,
                line: LineId(0),
                channel,
                now: Millis(1_795_435_200_000),
                live: &live,
                digits: "3,1",
            };
            for rule in &plan.rules {
                matched += usize::from(rule.when.eval(&facts));
            }
        }
    }
    let allocated = allocations() - before;
    assert_eq!(
        allocated, 0,
        "evaluating the rules allocated {allocated} times"
    );
    assert!(matched > 0, "the conditions were evaluated to something");
}
