//! The rules' index changes no decision: over random rule sets (attribute, tag, tier,
//! preference, known-caller, channel and calendar tests, bounds on lifetime value and
//! influence written either way round, negated or not, nested in `all`, `any` and
//! `not`, with `continue`) and random callers (lifetime values on and around the bounds,
//! and not a number), the decision made through the index, with the rules' tests
//! cheapest first and the rules their guard and the index decide left unevaluated, is
//! the one made by evaluating every rule as written, as `explain` does.

use proptest::prelude::*;

use super::{tests::customer, *};
use crate::{
    calendar::Calendar,
    condition::{Cmp, Condition, Date, Flag, Leaf, Number, Test, Text},
    plan::{PlanParts, Rule, Then},
};

const KEYS: [&str; 2] = ["segment", "plan"];
const VALUES: [&str; 3] = ["a", "b", "c"];
const TAGS: [&str; 3] = ["vip", "churn", "press"];
const CMPS: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
/// Bounds, and the lifetime values callers have: on them, between them, beyond them.
const BOUNDS: [f64; 3] = [0.0, 1.0, 2.5];
const LIFETIME_VALUES: [f64; 5] = [0.0, 1.0, 2.0, 2.5, f64::NAN];
/// Values of `caller.attr.seats` and `caller.attr.since` callers may have.
const SEATS: [&str; 6] = ["0", "1", " 2.5 ", "2", "NaN", "many"];
const SINCE: [&str; 5] = [
    "2027-01-13",
    "2027-01-14",
    "2027-01-15",
    "2027-01-16",
    "soon",
];
/// The tests' now, and its day (2027-01-15).
const NOW: Millis = Millis(1_800_000_000_000);
const TODAY: i64 = 20_833;

/// `caller.attr.seats` against a number, or `caller.attr.since` against a date or a
/// number of days ago, either way round; the callers' values include none and nonsense.
fn attribute_bound() -> impl Strategy<Value = Test> {
    let cmp = 0..CMPS.len();
    prop_oneof![
        (cmp.clone(), 0..BOUNDS.len(), any::<bool>()).prop_map(|(cmp, b, reversed)| {
            let (attr, bound) = (Number::Attr("seats".into()), Number::Const(BOUNDS[b]));
            if reversed {
                Test::Number(bound, CMPS[cmp], attr)
            } else {
                Test::Number(attr, CMPS[cmp], bound)
            }
        }),
        (cmp, 0..3usize, 0i64..3, any::<bool>()).prop_map(|(cmp, kind, n, reversed)| {
            let attr = Date::Attr("since".into());
            // Days ago, or the date that many days before the tests' today.
            let bound = if kind == 0 {
                Date::Const(TODAY - n)
            } else {
                Date::DaysAgo(n)
            };
            if reversed {
                Test::Date(bound, CMPS[cmp], attr)
            } else {
                Test::Date(attr, CMPS[cmp], bound)
            }
        }),
    ]
}

fn bound() -> impl Strategy<Value = Test> {
    (0..CMPS.len(), 0..BOUNDS.len(), any::<bool>(), any::<bool>()).prop_map(
        |(cmp, b, influence, reversed)| {
            let figure = if influence {
                Number::Influence
            } else {
                Number::LifetimeValue
            };
            let bound = Number::Const(BOUNDS[b]);
            if reversed {
                Test::Number(bound, CMPS[cmp], figure)
            } else {
                Test::Number(figure, CMPS[cmp], bound)
            }
        },
    )
}

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
        Just(Test::Flag(Flag::Known)),
        Just(Test::ChannelIn(Channel::Voice.bit())),
        // Calendar 0 is open, 1 closed.
        (0u16..2).prop_map(Test::Open),
        bound(),
        attribute_bound(),
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

/// A customer's attributes (a value or none per key), tags, tier, lifetime value (one
/// of [`LIFETIME_VALUES`]), influence, and seats and since (one of [`SEATS`] and
/// [`SINCE`], or none).
type Persona = (
    Vec<Option<usize>>,
    Vec<bool>,
    u8,
    usize,
    u8,
    (Option<usize>, Option<usize>),
);

fn profile() -> impl Strategy<Value = Persona> {
    (
        proptest::collection::vec(proptest::option::of(0..VALUES.len()), KEYS.len()),
        proptest::collection::vec(any::<bool>(), TAGS.len()),
        0u8..3,
        0..LIFETIME_VALUES.len(),
        0u8..4,
        (
            proptest::option::of(0..SEATS.len()),
            proptest::option::of(0..SINCE.len()),
        ),
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
        parts.calendars = vec![
            Calendar::daily_utc("open", vec![(0, 24 * 60)]),
            Calendar::daily_utc("closed", vec![]),
        ];
        let plan = RoutePlan::new(parts).unwrap();
        let directory = Directory::new();
        for (i, (attrs, tags, tier, ltv, influence, (seats, since))) in profiles.iter().enumerate() {
            let mut c = customer(&format!("c{i}"), &format!("+1212555{:04}", 100 + i), TierId(*tier), Default::default());
            c.lifetime_value = LIFETIME_VALUES[*ltv];
            c.influence = *influence;
            let mut attributes: Vec<(Box<str>, Box<str>)> = attrs
                .iter()
                .zip(KEYS)
                .filter_map(|(v, k)| v.map(|v| (Box::from(k), Box::from(VALUES[v]))))
                .chain(seats.map(|s| (Box::from("seats"), Box::from(SEATS[s]))))
                .chain(since.map(|s| (Box::from("since"), Box::from(SINCE[s]))))
                .collect();
            attributes.sort();
            c.attributes = attributes.into();
            c.tags = tags.iter().zip(TAGS).filter(|(t, _)| **t).map(|(_, t)| Box::from(t)).collect();
            directory.upsert(c).unwrap();
        }
        let router = Router::new(plan, Arc::new(directory));
        let plan = router.plan();
        let now = NOW;
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
