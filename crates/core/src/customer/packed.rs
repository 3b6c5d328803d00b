//! A customer as the directory holds it: every text field of the profile packed into one
//! allocation, with where each piece ends. A million profiles are a million of these, so
//! one allocation for the text instead of one per field (and per tag, attribute key and
//! value) saves the allocator's rounding and bookkeeping on each.

use std::fmt;

use super::{Preference, Profile, TierId};
use crate::{channel::Channel, number::E164};

/// A validated customer profile, packed (see [`Profile`] for the fields). Built from a
/// profile (`Customer::from`), read through its methods, unpacked with
/// [`Customer::profile`]. Shared (`Arc`) between the directory's indexes and the calls
/// that routed with it; replaced whole on update, never mutated in place.
#[derive(Clone, PartialEq)]
pub struct Customer {
    /// The id, name, language and preferred agent (empty for none), then each tag, each
    /// attribute's key and value in turn, and each contact, one after another.
    text: Box<str>,
    /// Where the id, name, language and preferred agent end in `text`.
    fixed: [u32; 4],
    /// Where each tag, attribute key, attribute value and contact ends, in that order;
    /// empty (no allocation) for a profile with none of them.
    ends: Box<[u32]>,
    tags: u8,
    attributes: u8,
    pub numbers: Box<[E164]>,
    pub tier: TierId,
    /// The explicit preference (CRM or admin); learned behaviour is kept apart.
    pub preference: Preference,
    pub lifetime_value: f64,
    /// Social influence, 0 to 100.
    pub influence: u8,
    /// The channel the customer prefers to be reached on, if they said.
    pub preferred_channel: Option<Channel>,
}

impl From<Profile> for Customer {
    /// Packs a profile, its attributes sorted by key. Counts beyond 255 tags or
    /// attributes (which validation refuses long before) are cut to 255.
    fn from(p: Profile) -> Customer {
        let tags = p.tags.len().min(usize::from(u8::MAX));
        let attributes = p.attributes.len().min(usize::from(u8::MAX));
        let fixed_text = [
            &*p.id,
            &*p.name,
            &*p.language,
            p.preferred_agent.as_deref().unwrap_or(""),
        ];
        // Sorted by key (as validation leaves them), for look-ups by halving.
        let mut sorted: Vec<&(Box<str>, Box<str>)> = p.attributes[..attributes].iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let pieces = p.tags[..tags]
            .iter()
            .map(|t| &**t)
            .chain(sorted.iter().flat_map(|(k, v)| [&**k, &**v]))
            .chain(p.contacts.iter().map(|c| &**c));
        let len = fixed_text.iter().map(|t| t.len()).sum::<usize>()
            + pieces.clone().map(str::len).sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut end = |piece: &str| {
            text.push_str(piece);
            u32::try_from(text.len()).unwrap_or(u32::MAX)
        };
        let fixed = fixed_text.map(&mut end);
        let ends: Box<[u32]> = pieces.map(end).collect();
        Customer {
            text: text.into_boxed_str(),
            fixed,
            ends,
            tags: tags as u8,
            attributes: attributes as u8,
            numbers: p.numbers,
            tier: p.tier,
            preference: p.preference,
            lifetime_value: p.lifetime_value,
            influence: p.influence,
            preferred_channel: p.preferred_channel,
        }
    }
}

impl Customer {
    fn span(&self, start: u32, end: u32) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The `i`-th of the fixed pieces (id, name, language, preferred agent).
    fn fixed(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.fixed[i - 1] };
        self.span(start, self.fixed[i])
    }

    /// The `i`-th of the counted pieces (tags, attribute keys and values, contacts).
    fn piece(&self, i: usize) -> &str {
        let start = if i == 0 {
            self.fixed[3]
        } else {
            self.ends[i - 1]
        };
        self.span(start, self.ends[i])
    }

    fn pieces(&self, from: usize, to: usize) -> impl ExactSizeIterator<Item = &str> + Clone {
        (from..to).map(|i| self.piece(i))
    }

    pub fn id(&self) -> &str {
        self.fixed(0)
    }

    pub fn name(&self) -> &str {
        self.fixed(1)
    }

    pub fn language(&self) -> &str {
        self.fixed(2)
    }

    pub fn preferred_agent(&self) -> Option<&str> {
        Some(self.fixed(3)).filter(|a| !a.is_empty())
    }

    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.pieces(0, usize::from(self.tags))
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// The attributes, sorted by key.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        let first = usize::from(self.tags);
        (0..usize::from(self.attributes))
            .map(move |i| (self.piece(first + 2 * i), self.piece(first + 2 * i + 1)))
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        let first = usize::from(self.tags);
        let (mut lo, mut hi) = (0, usize::from(self.attributes));
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.piece(first + 2 * mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.piece(first + 2 * mid + 1)),
            }
        }
        None
    }

    /// Email addresses and social handles, each in its one spelling.
    pub fn contacts(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        let first = usize::from(self.tags) + 2 * usize::from(self.attributes);
        self.pieces(first, self.ends.len())
    }

    /// The customer's email addresses.
    pub fn emails(&self) -> impl Iterator<Item = &str> {
        self.contacts().filter(|c| !c.contains(':'))
    }

    /// The customer's social handles (`network:name`).
    pub fn social_handles(&self) -> impl Iterator<Item = &str> {
        self.contacts().filter(|c| c.contains(':'))
    }

    /// The profile unpacked, to change and pack again or to hand out.
    pub fn profile(&self) -> Profile {
        Profile {
            id: self.id().into(),
            name: self.name().into(),
            numbers: self.numbers.clone(),
            tier: self.tier,
            preference: self.preference,
            language: self.language().into(),
            lifetime_value: self.lifetime_value,
            influence: self.influence,
            tags: self.tags().map(Box::from).collect(),
            attributes: self
                .attributes()
                .map(|(k, v)| (Box::from(k), Box::from(v)))
                .collect(),
            preferred_agent: self.preferred_agent().map(Box::from),
            contacts: self.contacts().map(Box::from).collect(),
            preferred_channel: self.preferred_channel,
        }
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.profile(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            id: "c1".into(),
            name: "Zoë Ångström".into(),
            numbers: Box::new(["+12125550101".parse().unwrap()]),
            tier: TierId(2),
            preference: Preference::GetItDone,
            language: "sv".into(),
            lifetime_value: 12.5,
            influence: 7,
            tags: Box::new(["vip".into(), "".into(), "churn-risk".into()]),
            attributes: Box::new([
                ("device".into(), "phone".into()),
                ("plan".into(), "".into()),
                ("segment".into(), "s7".into()),
            ]),
            preferred_agent: Some("a-9".into()),
            contacts: Box::new(["jane@example.com".into(), "x:janedoe".into()]),
            preferred_channel: Some(Channel::Chat),
        }
    }

    #[test]
    fn a_packed_profile_reads_back_field_by_field_and_unpacks_whole() {
        let p = profile();
        let c = Customer::from(p.clone());
        assert_eq!(
            (c.id(), c.name(), c.language(), c.preferred_agent()),
            ("c1", "Zoë Ångström", "sv", Some("a-9"))
        );
        assert_eq!(c.tags().collect::<Vec<_>>(), ["vip", "", "churn-risk"]);
        assert!(c.has_tag("churn-risk") && !c.has_tag("churn"));
        assert_eq!(c.attributes().len(), 3);
        for (k, v) in p.attributes.iter() {
            assert_eq!(c.attribute(k), Some(&**v), "{k}");
        }
        assert_eq!(c.attribute("missing"), None);
        assert_eq!(c.attribute("a"), None);
        assert_eq!(c.attribute("z"), None);
        assert_eq!(c.emails().collect::<Vec<_>>(), ["jane@example.com"]);
        assert_eq!(c.social_handles().collect::<Vec<_>>(), ["x:janedoe"]);
        assert_eq!(c.profile(), p);
    }

    #[test]
    fn a_bare_profile_packs_without_pieces() {
        let p = Profile {
            tags: Box::default(),
            attributes: Box::default(),
            preferred_agent: None,
            contacts: Box::default(),
            ..profile()
        };
        let c = Customer::from(p.clone());
        assert!(c.ends.is_empty());
        assert_eq!(
            c.tags().len() + c.attributes().len() + c.contacts().len(),
            0
        );
        assert_eq!(c.preferred_agent(), None);
        assert_eq!(c.profile(), p);
    }
}
