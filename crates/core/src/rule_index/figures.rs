//! The figures a rule can bound, and bounds read from its tests: the caller's lifetime
//! value, influence and zero-outs, and a free attribute read as a number, as a date, or
//! as the days from its date to today. `caller.attr.device_purchased < days_ago(730)`
//! is the bound "the purchase is more than 730 days old".

use crate::{
    clock::parse_date,
    condition::{Cmp, Date, Facts, Number, Test, attr_number, today},
};

/// Bounds beyond this size are left to the interpreter (an `f64` holds every integer up
/// to it exactly, so comparing day numbers as `f64` changes nothing).
const EXACT: f64 = (1u64 << 52) as f64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Figure {
    LifetimeValue,
    Influence,
    ZeroOuts,
    /// A free attribute read as a number.
    Number(Box<str>),
    /// A free attribute read as a date (days since 1970-01-01).
    Date(Box<str>),
    /// Days from a free attribute's date to today.
    Age(Box<str>),
}

impl Figure {
    fn of_number(n: &Number) -> Option<Figure> {
        Some(match n {
            Number::LifetimeValue => Figure::LifetimeValue,
            Number::Influence => Figure::Influence,
            Number::ZeroOuts => Figure::ZeroOuts,
            Number::Attr(k) => Figure::Number(k.clone()),
            Number::Const(_) | Number::Queue(..) => return None,
        })
    }

    /// The figure for the call of `f`, as its tests read it; `None` where they fail
    /// whatever the bound (a missing attribute, or one that is no number or date).
    pub(super) fn value(&self, f: &Facts<'_>) -> Option<f64> {
        let customer = f.caller.customer.as_deref();
        let window = || f.plan.zero_out_window();
        let date = |k: &str| parse_date(customer?.attribute(k)?);
        match self {
            Figure::LifetimeValue => Number::LifetimeValue.of_caller(f.caller, window()),
            Figure::Influence => Number::Influence.of_caller(f.caller, window()),
            Figure::ZeroOuts => Number::ZeroOuts.of_caller(f.caller, window()),
            Figure::Number(k) => attr_number(customer, k),
            Figure::Date(k) => date(k).map(|d| d as f64),
            Figure::Age(k) => date(k).map(|d| (today(f.now) - d) as f64),
        }
    }
}

/// The test as `figure cmp bound`, when it is one (written either way round).
pub(super) fn bound(test: &Test) -> Option<(Figure, Cmp, f64)> {
    let (figure, cmp, t) = match test {
        Test::Number(a, cmp, Number::Const(t)) => (Figure::of_number(a)?, *cmp, *t),
        Test::Number(Number::Const(t), cmp, b) => (Figure::of_number(b)?, cmp.flipped(), *t),
        Test::Date(Date::Attr(k), cmp, Date::Const(d)) => {
            (Figure::Date(k.clone()), *cmp, *d as f64)
        }
        Test::Date(Date::Const(d), cmp, Date::Attr(k)) => {
            (Figure::Date(k.clone()), cmp.flipped(), *d as f64)
        }
        // date < today - n: the date is more than n days old.
        Test::Date(Date::Attr(k), cmp, Date::DaysAgo(n)) => {
            (Figure::Age(k.clone()), cmp.flipped(), *n as f64)
        }
        // today - n < date: the date is less than n days old.
        Test::Date(Date::DaysAgo(n), cmp, Date::Attr(k)) => {
            (Figure::Age(k.clone()), *cmp, *n as f64)
        }
        _ => return None,
    };
    let exact = match test {
        Test::Date(..) => t.abs() <= EXACT,
        _ => !t.is_nan(),
    };
    (matches!(cmp, Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge) && exact).then_some((figure, cmp, t))
}
