//! Type-checks a parsed rule condition and compiles it into the core's
//! [`Condition`](switchboard_core::condition::Condition): every field resolved, every
//! name checked against the config (tiers, lines, queues, calendars), every comparison
//! checked for matching types. Comparing a number with text is a load error, not a rule
//! that silently never matches.

use std::{ops::Range, time::Duration};

use switchboard_core::{
    Preference, TierId,
    condition::{Cmp, Condition, Date, Flag, Leaf, Number, QueueMetric, Test, Text, parse_date},
    plan::{LineId, QueueId, TierSet},
    router::Channel,
};

use crate::{
    diagnostic::{did_you_mean, suggest},
    duration::parse_duration,
    expr::{self, Expr, ExprError, Kind, Op, Segment},
};

/// The names a condition may refer to; ids are positions in these lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) tiers: &'a [String],
    pub(crate) lines: &'a [String],
    pub(crate) queues: &'a [String],
    pub(crate) calendars: &'a [String],
}

/// Every field a condition can name, for did-you-mean.
const FIELDS: &[&str] = &[
    "caller.tier",
    "caller.preference",
    "caller.known",
    "caller.repeat",
    "caller.id",
    "caller.language",
    "caller.lifetime_value",
    "caller.influence",
    "caller.zero_outs",
    "caller.preferred_agent",
    "caller.preferred_channel",
    "caller.tags",
    "caller.attr",
    "call.channel",
    "call.digits",
    "call.line",
    "call.repeat_within",
    "line.name",
    "queue",
    "open",
    "days_ago",
    "date",
];

const QUEUE_METRICS: [QueueMetric; 4] = [
    QueueMetric::Waiting,
    QueueMetric::EstimatedWait,
    QueueMetric::Staffed,
    QueueMetric::Available,
];

/// What an operand is, once resolved.
#[derive(Clone, Debug)]
enum Operand {
    /// Already a test (a true-or-false field or function).
    Test(Test),
    Number(Number),
    Tier,
    Preference,
    Line,
    Channel,
    /// The channel the customer prefers (none for unknown callers and those who did
    /// not say).
    PreferredChannel,
    Text(Text),
    Tags,
    Date(Date),
    /// A free attribute: its type is that of what it is compared with.
    Attr(Box<str>),
    Str(String),
    Bool(bool),
    List(Vec<(Operand, Range<usize>)>),
}

impl Operand {
    fn kind(&self) -> &'static str {
        match self {
            Operand::Test(_) | Operand::Bool(_) => "true-or-false",
            Operand::Number(Number::Const(_)) => "number",
            Operand::Number(_) => "number",
            Operand::Tier => "tier",
            Operand::Preference => "preference",
            Operand::Line => "line",
            Operand::Channel | Operand::PreferredChannel => "channel",
            Operand::Text(_) => "text",
            Operand::Tags => "tag list",
            Operand::Date(_) => "date",
            Operand::Attr(_) => "attribute",
            Operand::Str(_) => "text",
            Operand::List(_) => "list",
        }
    }
}

/// Parses and compiles `text`; errors carry spans into `text`.
pub(crate) fn compile(text: &str, scope: Scope<'_>) -> Result<Condition, Vec<ExprError>> {
    let expr = expr::parse(text).map_err(|e| vec![e])?;
    let mut c = Compiler {
        text,
        scope,
        errors: Vec::new(),
    };
    let cond = c.condition(&expr);
    if c.errors.is_empty() {
        Ok(cond)
    } else {
        Err(c.errors)
    }
}

struct Compiler<'a> {
    text: &'a str,
    scope: Scope<'a>,
    errors: Vec<ExprError>,
}

impl Compiler<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(ExprError {
            span,
            message: message.into(),
        });
    }

    fn source(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or("")
    }

    fn leaf(&self, span: &Range<usize>, test: Test) -> Condition {
        Condition::Test(Leaf::new(self.source(span), test))
    }

    /// A sub-expression in a true-or-false position.
    fn condition(&mut self, e: &Expr) -> Condition {
        match &e.kind {
            Kind::Or(items) => Condition::Any(items.iter().map(|i| self.condition(i)).collect()),
            Kind::And(items) => Condition::All(items.iter().map(|i| self.condition(i)).collect()),
            Kind::Not(inner) => Condition::Not(Box::new(self.condition(inner))),
            Kind::Compare(a, op, b) => self.compare(e, a, *op, b),
            Kind::Bool(b) => self.leaf(&e.span, Test::Flag(Flag::Const(*b))),
            _ => match self.operand(e) {
                Some(Operand::Test(t)) => self.leaf(&e.span, t),
                Some(other) => {
                    let what = self.source(&e.span).to_owned();
                    self.error(
                        e.span.clone(),
                        format!(
                            "{what} is a {}, not a condition: compare it with something",
                            other.kind()
                        ),
                    );
                    Condition::always()
                }
                None => Condition::always(),
            },
        }
    }

    fn compare(&mut self, whole: &Expr, a: &Expr, op: Op, b: &Expr) -> Condition {
        let (Some(left), Some(right)) = (self.operand(a), self.operand(b)) else {
            return Condition::always();
        };
        let span = &whole.span;
        let test = match op {
            Op::Cmp(cmp) => self.compare_values(span, (left, &a.span), cmp, (right, &b.span)),
            Op::In => self
                .membership((left, &a.span), (right, &b.span))
                .map(|t| (t, false)),
            Op::NotIn => self
                .membership((left, &a.span), (right, &b.span))
                .map(|t| (t, true)),
        };
        match test {
            // The leaf's text is the whole comparison, so a negated one reads as written.
            Some((t, true)) => Condition::Test(Leaf::negated(self.source(span), t)),
            Some((t, false)) => self.leaf(span, t),
            None => Condition::always(),
        }
    }

    fn mismatch(
        &mut self,
        span: &Range<usize>,
        a: (&Operand, &Range<usize>),
        b: (&Operand, &Range<usize>),
    ) {
        let (sa, sb) = (self.source(a.1).to_owned(), self.source(b.1).to_owned());
        self.error(
            span.clone(),
            format!(
                "cannot compare {sa} (a {}) with {sb} (a {})",
                a.0.kind(),
                b.0.kind()
            ),
        );
    }

    fn compare_values(
        &mut self,
        span: &Range<usize>,
        a: (Operand, &Range<usize>),
        cmp: Cmp,
        b: (Operand, &Range<usize>),
    ) -> Option<(Test, bool)> {
        use Operand as O;
        // Put the field on the left: `"gold" <= caller.tier` reads as `caller.tier >= "gold"`.
        let (a, cmp, b) = match (&a.0, &b.0) {
            (
                O::Str(_) | O::Number(Number::Const(_)) | O::Bool(_),
                O::Tier
                | O::Preference
                | O::Line
                | O::Channel
                | O::PreferredChannel
                | O::Text(_)
                | O::Attr(_)
                | O::Number(_)
                | O::Test(_),
            ) => (b, cmp.flipped(), a),
            _ => (a, cmp, b),
        };
        let equality = matches!(cmp, Cmp::Eq | Cmp::Ne);
        let unordered = |me: &mut Self, what: &str| {
            me.error(
                span.clone(),
                format!("{what} have no order: compare with == or !=, or use in [...]"),
            );
            None
        };
        match (a.0, b.0) {
            (O::Number(x), O::Number(y)) => Some((Test::Number(x, cmp, y), false)),
            (O::Attr(k), O::Number(y)) => Some((Test::Number(Number::Attr(k), cmp, y), false)),
            (O::Number(x), O::Attr(k)) => Some((Test::Number(x, cmp, Number::Attr(k)), false)),
            (O::Date(x), O::Date(y)) => Some((Test::Date(x, cmp, y), false)),
            (O::Attr(k), O::Date(y)) => Some((Test::Date(Date::Attr(k), cmp, y), false)),
            (O::Date(x), O::Attr(k)) => Some((Test::Date(x, cmp, Date::Attr(k)), false)),
            (O::Tier, O::Str(name)) => {
                let id = self.tier(&name, b.1)?;
                Some((Test::Tier(cmp, id), false))
            }
            (O::Preference, O::Str(name)) if equality => {
                let p = self.preference(&name, b.1)?;
                Some(negate_if(cmp, Test::PreferenceIn(p.bit())))
            }
            (O::Preference, O::Str(_)) => unordered(self, "preferences"),
            (O::Line, O::Str(name)) if equality => {
                let id = self.line(&name, b.1)?;
                Some(negate_if(cmp, Test::LineIn(Box::new([id]))))
            }
            (O::Line, O::Str(_)) => unordered(self, "lines"),
            (O::Channel, O::Str(name)) if equality => {
                let ch = self.channel(&name, b.1)?;
                Some(negate_if(cmp, Test::ChannelIn(ch.bit())))
            }
            (O::PreferredChannel, O::Str(name)) if equality => {
                let ch = self.channel(&name, b.1)?;
                Some(negate_if(cmp, Test::PreferredChannelIn(ch.bit())))
            }
            (O::Channel | O::PreferredChannel, O::Str(_)) => unordered(self, "channels"),
            (O::Text(t), O::Str(s)) if equality => Some((Test::Text(t, cmp, s.into()), false)),
            (O::Attr(k), O::Str(s)) if equality => {
                Some((Test::Text(Text::Attr(k), cmp, s.into()), false))
            }
            (O::Text(_) | O::Attr(_), O::Str(_)) => unordered(self, "texts"),
            (O::Test(t), O::Bool(v)) if equality => Some((t, v != (cmp == Cmp::Eq))),
            (O::Test(_), O::Bool(_)) => unordered(self, "true-or-false values"),
            (x, y) => {
                self.mismatch(span, (&x, a.1), (&y, b.1));
                None
            }
        }
    }

    fn membership(
        &mut self,
        a: (Operand, &Range<usize>),
        b: (Operand, &Range<usize>),
    ) -> Option<Test> {
        let items = match (a.0, b.0) {
            (Operand::Str(tag), Operand::Tags) => return Some(Test::Tagged(tag.into())),
            (_, Operand::List(items)) if items.is_empty() => {
                self.error(b.1.clone(), "an empty list matches nothing");
                return None;
            }
            (x, Operand::List(items)) => (x, items),
            (_, y) => {
                let what = self.source(b.1).to_owned();
                let found = y.kind();
                self.error(
                    b.1.clone(),
                    format!("\"in\" needs a list like [\"a\", \"b\"] (or caller.tags), found {what} (a {found})"),
                );
                return None;
            }
        };
        let (field, list) = items;
        let mut strings = Vec::with_capacity(list.len());
        for (item, item_span) in list {
            match item {
                Operand::Str(s) => strings.push((s, item_span)),
                other => {
                    let what = self.source(&item_span).to_owned();
                    self.error(
                        item_span,
                        format!(
                            "list items must be text in quotes, found {what} (a {})",
                            other.kind()
                        ),
                    );
                    return None;
                }
            }
        }
        let mut ok = true;
        let test = match field {
            Operand::Tier => {
                let mut set = TierSet::default();
                for (s, sp) in &strings {
                    match self.tier(s, sp) {
                        Some(id) => set.insert(id),
                        None => ok = false,
                    }
                }
                Test::TierIn(set)
            }
            Operand::Preference => {
                let mut mask = 0;
                for (s, sp) in &strings {
                    match self.preference(s, sp) {
                        Some(p) => mask |= p.bit(),
                        None => ok = false,
                    }
                }
                Test::PreferenceIn(mask)
            }
            Operand::Line => {
                let mut ids = Vec::new();
                for (s, sp) in &strings {
                    match self.line(s, sp) {
                        Some(id) => ids.push(id),
                        None => ok = false,
                    }
                }
                Test::LineIn(ids.into())
            }
            ref which @ (Operand::Channel | Operand::PreferredChannel) => {
                let mut mask = 0;
                for (s, sp) in &strings {
                    match self.channel(s, sp) {
                        Some(c) => mask |= c.bit(),
                        None => ok = false,
                    }
                }
                if matches!(which, Operand::Channel) {
                    Test::ChannelIn(mask)
                } else {
                    Test::PreferredChannelIn(mask)
                }
            }
            Operand::Text(t) => {
                Test::TextIn(t, strings.into_iter().map(|(s, _)| s.into()).collect())
            }
            Operand::Attr(k) => Test::TextIn(
                Text::Attr(k),
                strings.into_iter().map(|(s, _)| s.into()).collect(),
            ),
            other => {
                let what = self.source(a.1).to_owned();
                self.error(
                    a.1.clone(),
                    format!(
                        "{what} (a {}) cannot be looked up in a list of text",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        ok.then_some(test)
    }

    /// The position of `name` among the configured names of one kind, or an error with a
    /// did-you-mean. Empty entries stand for names no longer in service.
    fn named(
        &mut self,
        kind: &str,
        names: &[String],
        name: &str,
        span: &Range<usize>,
    ) -> Option<usize> {
        match names.iter().position(|n| n == name && !n.is_empty()) {
            Some(i) => Some(i),
            None => {
                let hint = did_you_mean(name, names.iter().map(String::as_str));
                self.error(span.clone(), format!("unknown {kind} {name:?}{hint}"));
                None
            }
        }
    }

    fn tier(&mut self, name: &str, span: &Range<usize>) -> Option<TierId> {
        self.named("tier", self.scope.tiers, name, span)
            .map(|i| TierId(i as u8))
    }

    fn line(&mut self, name: &str, span: &Range<usize>) -> Option<LineId> {
        self.named("line", self.scope.lines, name, span)
            .map(|i| LineId(i as u16))
    }

    fn preference(&mut self, name: &str, span: &Range<usize>) -> Option<Preference> {
        match name.parse::<Preference>() {
            Ok(p) => Some(p),
            Err(e) => {
                let hint = did_you_mean(name, Preference::ALL.iter().map(|p| p.as_str()));
                self.error(span.clone(), format!("{e}{hint}"));
                None
            }
        }
    }

    fn channel(&mut self, name: &str, span: &Range<usize>) -> Option<Channel> {
        match Channel::ALL.into_iter().find(|c| c.as_str() == name) {
            Some(c) => Some(c),
            None => {
                let names = Channel::ALL.map(Channel::as_str);
                let hint = did_you_mean(name, names);
                self.error(
                    span.clone(),
                    format!(
                        "unknown channel {name:?} (expected {}){hint}",
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// One text argument of a function.
    fn text_arg<'e>(&mut self, seg: &'e Segment, what: &str) -> Option<(&'e str, Range<usize>)> {
        match seg.args.as_deref() {
            Some(
                [
                    Expr {
                        kind: Kind::Str(s),
                        span,
                    },
                ],
            ) => Some((s.as_str(), span.clone())),
            _ => {
                self.error(
                    seg.span.clone(),
                    format!(
                        "{}(...) takes one {what} in quotes, e.g. {}",
                        seg.name,
                        example(&seg.name)
                    ),
                );
                None
            }
        }
    }

    fn operand(&mut self, e: &Expr) -> Option<Operand> {
        match &e.kind {
            Kind::Str(s) => Some(Operand::Str(s.clone())),
            Kind::Num(n) => Some(Operand::Number(Number::Const(*n))),
            Kind::Bool(b) => Some(Operand::Bool(*b)),
            Kind::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push((self.operand(i)?, i.span.clone()));
                }
                Some(Operand::List(out))
            }
            Kind::Ref(segs) => self.reference(e, segs),
            Kind::Or(_) | Kind::And(_) | Kind::Not(_) | Kind::Compare(..) => {
                self.error(
                    e.span.clone(),
                    "a condition cannot be compared: write the comparison on its own",
                );
                None
            }
        }
    }

    fn reference(&mut self, e: &Expr, segs: &[Segment]) -> Option<Operand> {
        let path: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
        let plain = segs.iter().all(|s| s.args.is_none());
        let first = &segs[0];
        let op = match (path.as_slice(), plain) {
            (["caller", "tier"], true) => Operand::Tier,
            (["caller", "preference"], true) => Operand::Preference,
            (["caller", "known"], true) => Operand::Test(Test::Flag(Flag::Known)),
            (["caller", "repeat"], true) => Operand::Test(Test::Flag(Flag::Repeat)),
            (["caller", "id"], true) => Operand::Text(Text::CustomerId),
            (["caller", "language"], true) => Operand::Text(Text::Language),
            (["caller", "preferred_agent"], true) => Operand::Text(Text::PreferredAgent),
            (["caller", "lifetime_value"], true) => Operand::Number(Number::LifetimeValue),
            (["caller", "influence"], true) => Operand::Number(Number::Influence),
            (["caller", "zero_outs"], true) => Operand::Number(Number::ZeroOuts),
            (["caller", "tags"], true) => Operand::Tags,
            (["caller", "attr", key], true) => Operand::Attr((*key).into()),
            (["call", "channel"], true) => Operand::Channel,
            (["caller", "preferred_channel"], true) => Operand::PreferredChannel,
            (["call", "digits"], true) => Operand::Text(Text::Digits),
            (["call", "line"] | ["line", "name"], true) => Operand::Line,
            (["call", "repeat_within"], false) if segs[1].args.is_some() => {
                let (d, span) = self.text_arg(&segs[1], "duration")?;
                match parse_duration(d) {
                    Ok(d) if d >= Duration::from_secs(1) => Operand::Test(Test::RepeatWithin(d)),
                    Ok(_) => {
                        self.error(span, "the window must be at least 1s");
                        return None;
                    }
                    Err(err) => {
                        self.error(span, format!("{d:?}: {err}"));
                        return None;
                    }
                }
            }
            (["open"], false) => {
                let (name, span) = self.text_arg(first, "calendar name")?;
                match self.scope.calendars.iter().position(|c| c == name) {
                    Some(i) => Operand::Test(Test::Open(i as u16)),
                    None => {
                        let hint =
                            did_you_mean(name, self.scope.calendars.iter().map(String::as_str));
                        let known = if self.scope.calendars.is_empty() {
                            " (no [calendars] are configured)".to_owned()
                        } else {
                            String::new()
                        };
                        self.error(span, format!("unknown calendar {name:?}{hint}{known}"));
                        return None;
                    }
                }
            }
            (["days_ago"], false) => match first.args.as_deref() {
                Some(
                    [
                        Expr {
                            kind: Kind::Num(n),
                            span,
                        },
                    ],
                ) => {
                    if n.fract() != 0.0 || *n < 0.0 || *n > 100_000.0 {
                        self.error(span.clone(), "days_ago takes whole days from 0 to 100000");
                        return None;
                    }
                    Operand::Date(Date::DaysAgo(*n as i64))
                }
                _ => {
                    self.error(
                        first.span.clone(),
                        "days_ago(...) takes a number of days, e.g. days_ago(730)",
                    );
                    return None;
                }
            },
            (["date"], false) => {
                let (d, span) = self.text_arg(first, "date")?;
                match parse_date(d).filter(|_| d.len() == 10) {
                    Some(day) => Operand::Date(Date::Const(day)),
                    None => {
                        self.error(span, format!("{d:?} is not a date like \"2026-12-25\""));
                        return None;
                    }
                }
            }
            (["queue", metric], false) if first.args.is_some() && segs[1].args.is_none() => {
                let (name, span) = self.text_arg(first, "queue name")?;
                let queue = QueueId(self.named("queue", self.scope.queues, name, &span)? as u16);
                match QUEUE_METRICS.into_iter().find(|m| m.as_str() == *metric) {
                    Some(m) => Operand::Number(Number::Queue(queue, m)),
                    None => {
                        let names = QUEUE_METRICS.map(QueueMetric::as_str);
                        let hint = did_you_mean(metric, names);
                        self.error(
                            segs[1].span.clone(),
                            format!(
                                "queues have no field {metric:?}{hint} (expected {})",
                                names.join(", ")
                            ),
                        );
                        return None;
                    }
                }
            }
            (["queue"], false) => {
                self.error(
                    e.span.clone(),
                    "name what to read of the queue, e.g. queue(\"support\").estimated_wait",
                );
                return None;
            }
            (["caller", "attr"], true) => {
                self.error(
                    e.span.clone(),
                    "name the attribute, e.g. caller.attr.device_purchased",
                );
                return None;
            }
            _ => {
                let written = self.source(&e.span).to_owned();
                let dotted = path.join(".");
                let hint = suggest(&dotted, FIELDS.iter().copied())
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_else(|| {
                        " (fields start with caller., call. or line.; functions are queue(), open(), days_ago() and date())"
                            .to_owned()
                    });
                self.error(e.span.clone(), format!("unknown field {written}{hint}"));
                return None;
            }
        };
        Some(op)
    }
}

fn example(function: &str) -> &'static str {
    match function {
        "open" => "open(\"support_hours\")",
        "queue" => "queue(\"support\").estimated_wait",
        "date" => "date(\"2026-12-25\")",
        _ => "call.repeat_within(\"7d\")",
    }
}

/// `!=` on a test that has no operator of its own: the same test, negated in the tree.
fn negate_if(cmp: Cmp, test: Test) -> (Test, bool) {
    (test, cmp == Cmp::Ne)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_core::{
        Customer, Millis, Profile,
        behaviour::Learned,
        condition::{Facts, NoLiveQueues},
        number::E164,
        plan::RoutePlan,
        router::{Caller, PreferenceSource},
    };

    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn with_scope<T>(f: impl FnOnce(Scope<'_>) -> T) -> T {
        let tiers = names(&["standard", "gold", "platinum", "concierge"]);
        let lines = names(&["main", "platinum"]);
        let queues = names(&["operator", "", "support"]);
        let calendars = names(&["support_hours"]);
        f(Scope {
            tiers: &tiers,
            lines: &lines,
            queues: &queues,
            calendars: &calendars,
        })
    }

    fn ok(text: &str) -> Condition {
        with_scope(|s| compile(text, s)).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    /// The one error a condition gets, with the text it points at.
    fn error(text: &str) -> (String, String) {
        let errors = with_scope(|s| compile(text, s)).expect_err(text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        (e.message.clone(), text[e.span.clone()].to_owned())
    }

    fn plan() -> RoutePlan {
        switchboard_config_plan()
    }

    fn switchboard_config_plan() -> RoutePlan {
        crate::load_default().unwrap().plan
    }

    fn caller(customer: Option<Customer>, tier: u8, preference: Preference) -> Caller {
        Caller {
            number: "+12125550101".parse::<E164>().map_err(|_| unreachable!()),
            customer: customer.map(Arc::new),
            tier: TierId(tier),
            preference,
            source: PreferenceSource::Explicit,
            repeat: false,
            learned: Learned::default(),
        }
    }

    fn customer(attrs: &[(&str, &str)], tags: &[&str]) -> Customer {
        Profile {
            id: "C1".into(),
            name: "Maria".into(),
            numbers: Box::default(),
            tier: TierId(2),
            preference: Preference::None,
            language: "es".into(),
            lifetime_value: 7_200.0,
            influence: 40,
            tags: tags.iter().map(|t| Box::from(*t)).collect(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (Box::from(*k), Box::from(*v)))
                .collect(),
            preferred_agent: Some("ann".into()),
            contacts: Box::default(),
            preferred_channel: None,
        }
        .into()
    }

    /// 2026-11-23 12:00 UTC.
    const NOW: Millis = Millis(1_795_435_200_000);

    fn holds(text: &str, caller: &Caller) -> bool {
        let plan = plan();
        let cond = ok(text);
        let facts = Facts {
            plan: &plan,
            caller,
            line: LineId(0),
            channel: Channel::Voice,
            now: NOW,
            live: &NoLiveQueues,
            digits: "2,1",
        };
        let mut traces = Vec::new();
        let explained = cond.explain(&facts, &mut traces);
        assert_eq!(explained, cond.eval(&facts), "{text}");
        explained
    }

    #[test]
    fn tiers_compare_in_their_configured_order() {
        let platinum = caller(Some(customer(&[], &[])), 2, Preference::None);
        assert!(holds("caller.tier >= \"gold\"", &platinum));
        assert!(holds("caller.tier > \"gold\"", &platinum));
        assert!(!holds("caller.tier >= \"concierge\"", &platinum));
        assert!(holds("\"concierge\" > caller.tier", &platinum));
        assert!(holds("caller.tier in [\"gold\", \"platinum\"]", &platinum));
        assert!(!holds(
            "caller.tier not in [\"gold\", \"platinum\"]",
            &platinum
        ));
        assert!(holds("caller.tier != \"gold\"", &platinum));
    }

    #[test]
    fn numbers_text_tags_and_flags_read_the_profile() {
        let c = caller(
            Some(customer(&[("plan", "premium"), ("seats", "12")], &["vip"])),
            2,
            Preference::GetItDone,
        );
        assert!(holds(
            "caller.lifetime_value > 5000 and caller.influence <= 40",
            &c
        ));
        assert!(holds(
            "caller.language == \"es\" and caller.id != \"C2\"",
            &c
        ));
        assert!(holds("caller.preferred_agent == \"ann\"", &c));
        assert!(holds(
            "\"vip\" in caller.tags and \"gold-club\" not in caller.tags",
            &c
        ));
        assert!(holds(
            "caller.attr.plan in [\"premium\", \"enterprise\"]",
            &c
        ));
        assert!(holds("caller.attr.seats >= 10", &c));
        assert!(holds("caller.known and not caller.repeat", &c));
        assert!(holds("caller.known == true and caller.repeat == false", &c));
        assert!(holds("caller.preference == \"get_it_done\" or false", &c));
        assert!(holds("caller.preference != \"friendly_chat\"", &c));
        assert!(holds(
            "caller.preference in [\"get_it_done\", \"always_operator\"]",
            &c
        ));
        assert!(holds(
            "call.channel == \"voice\" and call.line == \"main\"",
            &c
        ));
        assert!(holds(
            "line.name != \"platinum\" and call.channel not in [\"chat\"]",
            &c
        ));
        assert!(holds("caller.zero_outs == 0", &c));
        assert!(holds("call.digits == \"2,1\" and call.digits != \"2\"", &c));
        assert!(holds("call.digits in [\"2,1\", \"2,2\"]", &c));
    }

    #[test]
    fn unknown_callers_fail_profile_tests_without_error() {
        let c = caller(None, 0, Preference::None);
        assert!(!holds("caller.known", &c));
        assert!(!holds("caller.language == \"es\"", &c));
        assert!(!holds("\"vip\" in caller.tags", &c));
        assert!(!holds("caller.attr.seats > 1", &c));
        assert!(holds("caller.lifetime_value == 0", &c));
    }

    #[test]
    fn attribute_dates_compare_with_days_ago_and_dates() {
        let old = caller(
            Some(customer(&[("device_purchased", "2023-02-01")], &[])),
            1,
            Preference::None,
        );
        let new = caller(
            Some(customer(&[("device_purchased", "2025-09-14")], &[])),
            1,
            Preference::None,
        );
        let junk = caller(
            Some(customer(&[("device_purchased", "soon")], &[])),
            1,
            Preference::None,
        );
        let rule = "caller.attr.device_purchased < days_ago(730)";
        assert!(holds(rule, &old));
        assert!(!holds(rule, &new));
        assert!(!holds(rule, &junk));
        assert!(holds(
            "caller.attr.device_purchased >= date(\"2025-01-01\")",
            &new
        ));
    }

    #[test]
    fn explanations_show_the_value_each_test_saw() {
        let plan = plan();
        let c = caller(
            Some(customer(&[("device_purchased", "soon")], &["vip"])),
            2,
            Preference::None,
        );
        let cond = ok(
            "caller.tier >= \"gold\" and (caller.attr.device_purchased < days_ago(730) or \"vip\" in caller.tags) and queue(\"support\").estimated_wait > 120",
        );
        let facts = Facts {
            plan: &plan,
            caller: &c,
            line: LineId(0),
            channel: Channel::Voice,
            now: NOW,
            live: &NoLiveQueues,
            digits: "2,1",
        };
        let mut traces = Vec::new();
        assert!(cond.explain(&facts, &mut traces));
        let seen: Vec<(&str, &str, bool)> = traces
            .iter()
            .map(|t| (t.text.as_str(), t.actual.as_str(), t.matched))
            .collect();
        assert_eq!(
            seen,
            [
                ("caller.tier >= \"gold\"", "platinum", true),
                (
                    "caller.attr.device_purchased < days_ago(730)",
                    "\"soon\" (not a date) vs 2024-11-23",
                    false
                ),
                ("\"vip\" in caller.tags", "tags [vip]", true),
                (
                    "queue(\"support\").estimated_wait > 120",
                    "unbounded (nobody staffed)",
                    true
                ),
            ]
        );
    }

    #[test]
    fn names_are_checked_with_suggestions() {
        assert_eq!(
            error("caller.tier == \"platnum\""),
            (
                "unknown tier \"platnum\" (did you mean \"platinum\"?)".into(),
                "\"platnum\"".into()
            )
        );
        assert_eq!(
            error("line.name == \"platinum-line\""),
            (
                "unknown line \"platinum-line\"".into(),
                "\"platinum-line\"".into()
            )
        );
        assert_eq!(
            error("queue(\"suport\").waiting > 3"),
            (
                "unknown queue \"suport\" (did you mean \"support\"?)".into(),
                "\"suport\"".into()
            )
        );
        assert_eq!(
            error("open(\"support_hour\")"),
            (
                "unknown calendar \"support_hour\" (did you mean \"support_hours\"?)".into(),
                "\"support_hour\"".into()
            )
        );
        assert_eq!(
            error("call.channel == \"sms\""),
            (
                "unknown channel \"sms\" (expected voice, video, chat, email, callback, social)"
                    .into(),
                "\"sms\"".into()
            )
        );
        assert_eq!(
            error("caller.teir == \"gold\""),
            (
                "unknown field caller.teir (did you mean \"caller.tier\"?)".into(),
                "caller.teir".into()
            )
        );
        assert_eq!(
            error("weather.rain"),
            ("unknown field weather.rain (fields start with caller., call. or line.; functions are queue(), open(), days_ago() and date())".into(), "weather.rain".into())
        );
        assert_eq!(
            error("queue(\"support\").wait > 3"),
            ("queues have no field \"wait\" (expected waiting, estimated_wait, staffed, available)".into(), "wait".into())
        );
    }

    #[test]
    fn types_are_checked_at_load() {
        assert_eq!(
            error("caller.lifetime_value > \"5000\""),
            (
                "cannot compare caller.lifetime_value (a number) with \"5000\" (a text)".into(),
                "caller.lifetime_value > \"5000\"".into()
            )
        );
        assert_eq!(
            error("caller.tier == 3"),
            (
                "cannot compare caller.tier (a tier) with 3 (a number)".into(),
                "caller.tier == 3".into()
            )
        );
        assert_eq!(
            error("caller.language > \"en\""),
            (
                "texts have no order: compare with == or !=, or use in [...]".into(),
                "caller.language > \"en\"".into()
            )
        );
        assert_eq!(
            error("caller.preference >= \"none\""),
            (
                "preferences have no order: compare with == or !=, or use in [...]".into(),
                "caller.preference >= \"none\"".into()
            )
        );
        assert_eq!(
            error("caller.lifetime_value"),
            (
                "caller.lifetime_value is a number, not a condition: compare it with something"
                    .into(),
                "caller.lifetime_value".into()
            )
        );
        assert_eq!(
            error("caller.tier in caller.tags"),
            ("\"in\" needs a list like [\"a\", \"b\"] (or caller.tags), found caller.tags (a tag list)".into(), "caller.tags".into())
        );
        assert_eq!(
            error("caller.tier in [\"gold\", 2]"),
            (
                "list items must be text in quotes, found 2 (a number)".into(),
                "2".into()
            )
        );
        assert_eq!(
            error("caller.tier in []"),
            ("an empty list matches nothing".into(), "[]".into())
        );
        assert_eq!(
            error("caller.lifetime_value in [\"a\"]"),
            (
                "caller.lifetime_value (a number) cannot be looked up in a list of text".into(),
                "caller.lifetime_value".into()
            )
        );
        assert_eq!(
            error("(caller.known and caller.repeat) == true"),
            (
                "a condition cannot be compared: write the comparison on its own".into(),
                "(caller.known and caller.repeat)".into()
            )
        );
        assert_eq!(
            error("caller.attr.bought < days_ago(\"2y\")"),
            (
                "days_ago(...) takes a number of days, e.g. days_ago(730)".into(),
                "days_ago(\"2y\")".into()
            )
        );
        assert_eq!(
            error("days_ago(1.5) > date(\"2020-01-01\")"),
            (
                "days_ago takes whole days from 0 to 100000".into(),
                "1.5".into()
            )
        );
        assert_eq!(
            error("caller.attr.bought > date(\"2020-02-30\")"),
            (
                "\"2020-02-30\" is not a date like \"2026-12-25\"".into(),
                "\"2020-02-30\"".into()
            )
        );
        assert_eq!(
            error("call.repeat_within(\"a week\")"),
            (
                "\"a week\": expected a number before \"a week\"".into(),
                "\"a week\"".into()
            )
        );
        assert_eq!(
            error("open(support_hours)"),
            (
                "open(...) takes one calendar name in quotes, e.g. open(\"support_hours\")".into(),
                "open(support_hours)".into()
            )
        );
        assert_eq!(
            error("queue(\"support\") > 2"),
            (
                "name what to read of the queue, e.g. queue(\"support\").estimated_wait".into(),
                "queue(\"support\")".into()
            )
        );
        assert_eq!(
            error("caller.attr == \"x\""),
            (
                "name the attribute, e.g. caller.attr.device_purchased".into(),
                "caller.attr".into()
            )
        );
    }

    #[test]
    fn retired_queues_cannot_be_named() {
        // The empty slot stands for a queue a reload removed.
        let (message, _) = error("queue(\"\").waiting > 1");
        assert_eq!(message, "unknown queue \"\"");
    }

    #[test]
    fn every_error_in_a_condition_is_reported() {
        let errors = with_scope(|s| {
            compile(
                "caller.tier == \"golden\" and caller.lifetime_value > \"x\" or open(\"nope\")",
                s,
            )
        })
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    /// A rule's guard never turns away a call its condition would match, over every
    /// mix of tier, preference, known or not, line and channel; and it does turn
    /// away what the tracked tests alone rule out.
    #[test]
    fn a_guard_never_rejects_a_call_the_condition_matches() {
        let plan = plan();
        let lines: Vec<LineId> = (0..plan.lines.len()).map(|i| LineId(i as u16)).collect();
        let channels = [Channel::Voice, Channel::Chat, Channel::Email];
        let preferences = [
            Preference::None,
            Preference::AlwaysOperator,
            Preference::GetItDone,
            Preference::FriendlyChat,
        ];
        let texts = [
            "caller.tier >= \"gold\" and caller.lifetime_value > 100",
            "caller.tier not in [\"gold\", \"platinum\"] or call.channel == \"chat\"",
            "not caller.known and line.name == \"main\"",
            "not (caller.known and caller.tier == \"gold\")",
            "not (caller.tier == \"gold\") and caller.preference != \"get_it_done\"",
            "caller.known == false or caller.preference in [\"friendly_chat\"]",
            "(caller.tier == \"standard\" and call.line == \"main\") or (caller.tier == \"concierge\" and call.channel != \"voice\")",
            "\"vip\" in caller.tags or caller.influence > 50",
            "caller.attr.plan == \"premium\" and not call.channel in [\"email\"]",
            "false or caller.tier < \"platinum\"",
            "true and not false",
        ];
        let mut rejected = 0;
        for text in texts {
            let cond = ok(text);
            let guard = cond.guard();
            for tier in 0..plan.tiers.len() as u8 {
                for known in [false, true] {
                    for preference in preferences {
                        let who = known.then(|| customer(&[("plan", "premium")], &["vip"]));
                        let c = caller(who, tier, preference);
                        for line in &lines {
                            for channel in channels {
                                let facts = Facts {
                                    plan: &plan,
                                    caller: &c,
                                    line: *line,
                                    channel,
                                    now: NOW,
                                    live: &NoLiveQueues,
                                    digits: "",
                                };
                                if !guard.admits(&facts) {
                                    rejected += 1;
                                    assert!(
                                        !cond.eval(&facts),
                                        "{text}: tier {tier}, known {known}, {preference:?}, line {}, {channel:?}",
                                        line.index()
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(rejected > 0, "the guards turned nothing away");
        // Precise where the tests say so: a standard caller cannot pass a gold test.
        let standard = caller(Some(customer(&[], &[])), 0, Preference::None);
        let facts = Facts {
            plan: &plan,
            caller: &standard,
            line: LineId(0),
            channel: Channel::Voice,
            now: NOW,
            live: &NoLiveQueues,
            digits: "",
        };
        assert!(!ok(texts[0]).guard().admits(&facts));
        assert!(
            !ok("caller.tier in [\"gold\"] or caller.tier > \"gold\"")
                .guard()
                .admits(&facts)
        );
        assert!(ok(texts[7]).guard().admits(&facts));
    }
}
