//! The rules' index, built with the plan: which rules a caller can match at all, by the
//! attribute values and tags their conditions cannot hold without.
//!
//! A rule whose condition needs `caller.attr.segment == "s7"`, `caller.attr.plan in
//! ["a", "b"]` or `"vip" in caller.tags` (as a test every branch of it requires, not
//! negated) is filed under those values; a caller is offered it only when their own
//! attributes or tags carry one, found by hash look-ups over the few the caller has.
//! Every other rule is always a candidate. The candidates come out in rule order, so
//! first-match order and `continue` are exactly those of evaluating every rule; the
//! index only skips rules whose condition is sure to be false.

use std::collections::HashMap;

use crate::{
    condition::{Cmp, Condition, Test, Text},
    customer::Customer,
};

/// Rules beyond this many are not indexed (every rule is then a candidate).
pub const MOST_INDEXED: usize = 64 * WORDS;
const WORDS: usize = 16;

/// A value a condition cannot hold without.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Attr(Box<str>, Box<str>),
    Tag(Box<str>),
}

/// Keys of which the caller must have one for `c` to hold; `None` when `c` needs none.
fn required(c: &Condition) -> Option<Vec<Key>> {
    match c {
        Condition::Test(leaf) if !leaf.negated => match &leaf.test {
            Test::Text(Text::Attr(k), Cmp::Eq, v) => Some(vec![Key::Attr(k.clone(), v.clone())]),
            Test::TextIn(Text::Attr(k), values) => Some(
                values
                    .iter()
                    .map(|v| Key::Attr(k.clone(), v.clone()))
                    .collect(),
            ),
            Test::Tagged(tag) => Some(vec![Key::Tag(tag.clone())]),
            _ => None,
        },
        // Any one requirement of a conjunction will do: the narrowest.
        Condition::All(cs) => cs.iter().filter_map(required).min_by_key(Vec::len),
        // A disjunction needs one of its branches' keys, if every branch needs some.
        Condition::Any(cs) if !cs.is_empty() => {
            let mut keys = Vec::new();
            for c in cs.iter() {
                keys.extend(required(c)?);
            }
            Some(keys)
        }
        _ => None,
    }
}

/// Rules filed under each value of one attribute.
type ByValue = HashMap<Box<str>, Box<[u16]>>;

/// Which rules each attribute value and tag makes candidates, and which always are.
#[derive(Clone, Debug, Default)]
pub struct RuleIndex {
    /// False beyond [`MOST_INDEXED`] rules.
    enabled: bool,
    rules: usize,
    always: [u64; WORDS],
    /// Attribute name, then value: the rules filed under them.
    attrs: HashMap<Box<str>, ByValue>,
    tags: HashMap<Box<str>, Box<[u16]>>,
}

impl RuleIndex {
    pub fn new<'a>(conditions: impl ExactSizeIterator<Item = &'a Condition>) -> RuleIndex {
        let rules = conditions.len();
        let mut index = RuleIndex {
            enabled: rules <= MOST_INDEXED,
            rules,
            ..RuleIndex::default()
        };
        if !index.enabled {
            return index;
        }
        let mut attrs: HashMap<Box<str>, HashMap<Box<str>, Vec<u16>>> = HashMap::new();
        let mut tags: HashMap<Box<str>, Vec<u16>> = HashMap::new();
        for (i, c) in conditions.enumerate() {
            let Some(keys) = required(c) else {
                index.always[i / 64] |= 1 << (i % 64);
                continue;
            };
            for key in keys {
                let list = match key {
                    Key::Attr(k, v) => attrs.entry(k).or_default().entry(v).or_default(),
                    Key::Tag(t) => tags.entry(t).or_default(),
                };
                if list.last() != Some(&(i as u16)) {
                    list.push(i as u16);
                }
            }
        }
        index.attrs = attrs
            .into_iter()
            .map(|(k, values)| {
                let values = values.into_iter().map(|(v, l)| (v, l.into())).collect();
                (k, values)
            })
            .collect();
        index.tags = tags.into_iter().map(|(t, l)| (t, l.into())).collect();
        index
    }

    /// The rules `customer` (or an unknown caller) can match, in order.
    pub fn candidates(&self, customer: Option<&Customer>) -> Candidates {
        // Nothing filed (no rule needs a value): every rule, with no bits to walk.
        if !self.enabled || (self.attrs.is_empty() && self.tags.is_empty()) {
            return Candidates::Every(0..self.rules);
        }
        let mut bits = self.always;
        let mut add = |list: &[u16]| {
            for &i in list {
                bits[usize::from(i) / 64] |= 1 << (i % 64);
            }
        };
        if let Some(c) = customer {
            if !self.attrs.is_empty() {
                for (k, v) in c.attributes.iter() {
                    if let Some(list) = self.attrs.get(k).and_then(|values| values.get(v)) {
                        add(list);
                    }
                }
            }
            if !self.tags.is_empty() {
                for t in c.tags.iter() {
                    if let Some(list) = self.tags.get(t) {
                        add(list);
                    }
                }
            }
        }
        Candidates::Bits {
            bits,
            word: 0,
            words: self.rules.div_ceil(64),
        }
    }
}

/// Rule indexes in ascending order.
#[derive(Clone, Debug)]
pub enum Candidates {
    Every(std::ops::Range<usize>),
    /// The candidates' bits, the word at, and the words in use.
    Bits {
        bits: [u64; WORDS],
        word: usize,
        words: usize,
    },
}

impl Iterator for Candidates {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Candidates::Every(range) => range.next(),
            Candidates::Bits { bits, word, words } => {
                while *word < *words {
                    let w = &mut bits[*word];
                    if *w != 0 {
                        let bit = w.trailing_zeros() as usize;
                        *w &= *w - 1;
                        return Some(*word * 64 + bit);
                    }
                    *word += 1;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Leaf;

    fn attr_is(k: &str, v: &str) -> Condition {
        Condition::Test(Leaf::new(
            "",
            Test::Text(Text::Attr(k.into()), Cmp::Eq, v.into()),
        ))
    }

    fn tagged(t: &str) -> Condition {
        Condition::Test(Leaf::new("", Test::Tagged(t.into())))
    }

    fn customer(attrs: &[(&str, &str)], tags: &[&str]) -> Customer {
        let mut attributes: Vec<(Box<str>, Box<str>)> = attrs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        attributes.sort();
        Customer {
            id: "c".into(),
            name: "C".into(),
            numbers: Box::new([]),
            tier: crate::TierId(0),
            preference: Default::default(),
            language: "en".into(),
            lifetime_value: 0.0,
            influence: 0,
            tags: tags.iter().map(|t| (*t).into()).collect(),
            attributes: attributes.into(),
            preferred_agent: None,
            contacts: Box::new([]),
            preferred_channel: None,
        }
    }

    #[test]
    fn a_rule_is_offered_only_to_callers_carrying_a_value_it_needs() {
        let rules = [
            attr_is("segment", "s1"),
            Condition::All(Box::new([tagged("vip"), attr_is("segment", "s2")])),
            Condition::Any(Box::new([tagged("vip"), attr_is("plan", "gold")])),
            // Not indexable: a branch without a key, and a negation.
            Condition::Any(Box::new([tagged("vip"), Condition::default()])),
            Condition::Not(Box::new(attr_is("segment", "s1"))),
        ];
        let index = RuleIndex::new(rules.iter());
        let of = |c: Option<&Customer>| index.candidates(c).collect::<Vec<_>>();
        assert_eq!(of(None), [3, 4]);
        assert_eq!(of(Some(&customer(&[("segment", "s1")], &[]))), [0, 3, 4]);
        assert_eq!(
            of(Some(&customer(&[("segment", "s2")], &["vip"]))),
            [1, 2, 3, 4]
        );
        assert_eq!(of(Some(&customer(&[("plan", "gold")], &[]))), [2, 3, 4]);
    }

    #[test]
    fn beyond_the_most_indexed_every_rule_is_a_candidate() {
        let rules = vec![attr_is("segment", "s1"); MOST_INDEXED + 1];
        let index = RuleIndex::new(rules.iter());
        assert_eq!(index.candidates(None).count(), MOST_INDEXED + 1);
        let rules = vec![attr_is("segment", "s1"); MOST_INDEXED];
        let index = RuleIndex::new(rules.iter());
        assert_eq!(index.candidates(None).count(), 0);
        assert_eq!(
            index
                .candidates(Some(&customer(&[("segment", "s1")], &[])))
                .last(),
            Some(MOST_INDEXED - 1)
        );
    }
}
