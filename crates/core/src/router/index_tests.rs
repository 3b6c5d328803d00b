//! The rules' index changes no decision: over random rule sets (attribute, tag, tier and
//! preference tests, negated or not, nested in `all`, `any` and `not`, with `continue`)
//! and random callers, the decision made through the index is the one made by evaluating
//! every rule, as `explain` does.

use proptest::prelude::*;

use super::{tests::customer, *};
use crate::{
    condition::{Cmp, Condition, Leaf, Test, Text},
    plan::{PlanParts, Rule, Then},
};

const KEYS: [&str; 2] = ["segment", "plan"];
const VALUES: [&str; 3] = ["a", "b", "c"];
const TAGS: [&str; 3] = ["vip", "churn", "press"];

fn leaf() -> impl Strategy<Value = Condition> {
    let test = prop_oneof![
        (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| Test::Text(
            Text::Attr(KEYS[k].into()),
            Cmp::Eq,
            VALUES[v].into()
        )),
        (
            0..KEYS.len(),
            proptest::sample::subsequence(VALUES.to_vec(), 1..3)
        )
            .prop_map(|(k, vs)| Test::TextIn(
                Text::Attr(KEYS[k].into()),
                vs.into_iter().map(Box::from).collect()
            )),
        (0..TAGS.len()).prop_map(|t| Test::Tagged(TAGS[t].into())),
        (0u8..3).prop_map(|t| Test::Tier(Cmp::Ge, TierId(t))),
        (0u8..16).prop_map(Test::PreferenceIn),
    ];
    (test, any::<bool>()).prop_map(|(test, negated)| {
        Condition::Test(if negated {
            Leaf::negated("", test)
        } else {
            Leaf::new("", test)
        })
    })
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|cs| Condition::All(cs.into())),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|cs| Condition::Any(cs.into())),
            inner.prop_map(|c| Condition::Not(Box::new(c))),
        ]
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        condition(),
        proptest::option::of(0u16..4),
        any::<bool>(),
        0..3i32,
    )
        .prop_map(|(when, queue, continue_, raise)| Rule {
            name: "r".into(),
            when,
            then: Then {
                target: queue.map(|q| Target::Queue(QueueId(q))),
                raise_priority: raise,
                continue_,
                ..Then::default()
            },
        })
}

/// A customer's attributes (a value or none per key) and tags.
fn profile() -> impl Strategy<Value = (Vec<Option<usize>>, Vec<bool>, u8)> {
    (
        proptest::collection::vec(proptest::option::of(0..VALUES.len()), KEYS.len()),
        proptest::collection::vec(any::<bool>(), TAGS.len()),
        0u8..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decisions_through_the_index_are_those_of_every_rule(
        rules in proptest::collection::vec(rule(), 1..24),
        profiles in proptest::collection::vec(profile(), 1..6),
    ) {
        let mut parts: PlanParts = (*tests::plan()).clone();
        parts.rules = rules;
        let plan = RoutePlan::new(parts).unwrap();
        let directory = Directory::new();
        for (i, (attrs, tags, tier)) in profiles.iter().enumerate() {
            let mut c = customer(&format!("c{i}"), &format!("+1212555{:04}", 100 + i), TierId(*tier), Default::default());
            let mut attributes: Vec<(Box<str>, Box<str>)> = attrs
                .iter()
                .zip(KEYS)
                .filter_map(|(v, k)| v.map(|v| (Box::from(k), Box::from(VALUES[v]))))
                .collect();
            attributes.sort();
            c.attributes = attributes.into();
            c.tags = tags.iter().zip(TAGS).filter(|(t, _)| **t).map(|(_, t)| Box::from(t)).collect();
            directory.upsert(c).unwrap();
        }
        let router = Router::new(plan, Arc::new(directory));
        let plan = router.plan();
        let now = Millis(1_800_000_000_000);
        let line = plan.lines[0].number.to_string();
        let numbers = (0..profiles.len()).map(|i| format!("+1212555{:04}", 100 + i)).chain(["+13125550199".to_owned()]);
        for number in numbers {
            let caller = router.caller(&plan, &number, now);
            let (decided, _) = router.decide(&plan, &caller, LineId(0), Channel::Voice, now);
            let explained = router.explain(&number, &line, Channel::Voice, &[], now);
            prop_assert_eq!(decided, explained.decisions[0], "caller {}", number);
        }
    }
}
