//! Customers and the directory that finds them by phone number. A profile comes in as a
//! [`Profile`] (owned fields, checked by [`Profile::validated`]) and is held packed as a
//! [`Customer`] (see [`packed`]).

mod packed;

pub use packed::Customer;

use std::{
    fmt,
    str::FromStr,
    sync::{Arc, Mutex},
};

use dashmap::DashMap;

use crate::FastHash;

use crate::{channel::Channel, number::E164};

/// Index of a tier in the configured order, lowest (e.g. `standard`) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TierId(pub u8);

/// How a customer likes to be served.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    #[default]
    None,
    /// Skip every menu, straight to a person.
    AlwaysOperator,
    /// Fastest competent resolution.
    GetItDone,
    /// Agents known for rapport, no rush.
    FriendlyChat,
}

impl Preference {
    pub const ALL: [Preference; 4] = [
        Preference::None,
        Preference::AlwaysOperator,
        Preference::GetItDone,
        Preference::FriendlyChat,
    ];

    /// The name used in config files, CSV and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Preference::None => "none",
            Preference::AlwaysOperator => "always_operator",
            Preference::GetItDone => "get_it_done",
            Preference::FriendlyChat => "friendly_chat",
        }
    }

    /// A one-bit mask, for rule conditions over sets of preferences.
    pub fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preference name that is not one of [`Preference::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown preference {} (expected none, always_operator, get_it_done or friendly_chat)",
    crate::text::shown(.0)
)]
pub struct UnknownPreference(pub String);

impl FromStr for Preference {
    type Err = UnknownPreference;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preference::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPreference(s.to_owned()))
    }
}

/// A customer profile as imports, the admin API and the store give it, field by field;
/// the directory holds it packed ([`Customer`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub id: Box<str>,
    pub name: Box<str>,
    pub numbers: Box<[E164]>,
    pub tier: TierId,
    /// The explicit preference (CRM or admin); learned behaviour is kept apart.
    pub preference: Preference,
    pub language: Box<str>,
    pub lifetime_value: f64,
    /// Social influence, 0 to 100.
    pub influence: u8,
    pub tags: Box<[Box<str>]>,
    /// Sorted by key, keys unique.
    pub attributes: Box<[(Box<str>, Box<str>)]>,
    pub preferred_agent: Option<Box<str>>,
    /// Email addresses and social handles the customer writes from, each in its one
    /// spelling (see [`crate::address`]).
    pub contacts: Box<[Box<str>]>,
    /// The channel the customer prefers to be reached on, if they said.
    pub preferred_channel: Option<Channel>,
}

/// Limits on customer fields. Generous for real CRM data, tight enough that a bad import
/// or request cannot balloon memory.
pub mod limits {
    pub const ID: usize = 64;
    pub const NAME: usize = 128;
    pub const NUMBERS: usize = 16;
    pub const LANGUAGE: usize = 35;
    pub const TAGS: usize = 32;
    pub const TAG: usize = 64;
    pub const ATTRIBUTES: usize = 32;
    pub const ATTRIBUTE_KEY: usize = 64;
    pub const ATTRIBUTE_VALUE: usize = 256;
    pub const INFLUENCE: u32 = 100;
    pub const CONTACTS: usize = 16;
}

/// A customer field that breaks a rule; `field` is the name used in CSV and the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct CustomerError {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> CustomerError {
    CustomerError {
        field,
        problem: problem.into(),
    }
}

fn check_len(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), CustomerError> {
    let n = value.chars().count();
    if n < min {
        return Err(bad(field, "must not be empty"));
    }
    if n > max {
        return Err(bad(field, format!("longer than {max} characters ({n})")));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(field, "contains control characters"));
    }
    Ok(())
}

impl Profile {
    /// Checks every field against [`limits`], sorts attributes and drops duplicate
    /// numbers. Numbers are already normalized by the caller (it knows the default
    /// country).
    pub fn validated(mut self) -> Result<Self, CustomerError> {
        check_len("customer_id", &self.id, 1, limits::ID)?;
        if self.id.trim() != &*self.id {
            return Err(bad("customer_id", "has leading or trailing spaces"));
        }
        check_len("name", &self.name, 0, limits::NAME)?;
        check_len("language", &self.language, 0, limits::LANGUAGE)?;
        if self.numbers.is_empty() {
            return Err(bad("phone_numbers", "at least one number is required"));
        }
        let mut numbers: Vec<E164> = Vec::with_capacity(self.numbers.len());
        for n in self.numbers.iter() {
            if !numbers.contains(n) {
                numbers.push(*n);
            }
        }
        self.numbers = numbers.into_boxed_slice();
        if self.numbers.len() > limits::NUMBERS {
            return Err(bad(
                "phone_numbers",
                format!("more than {} numbers", limits::NUMBERS),
            ));
        }
        if !self.lifetime_value.is_finite() || self.lifetime_value < 0.0 {
            return Err(bad(
                "lifetime_value",
                format!(
                    "must be a finite amount not below 0 (got {})",
                    self.lifetime_value
                ),
            ));
        }
        if u32::from(self.influence) > limits::INFLUENCE {
            return Err(bad(
                "influence",
                format!("must be 0 to 100 (got {})", self.influence),
            ));
        }
        if self.tags.len() > limits::TAGS {
            return Err(bad("tags", format!("more than {} tags", limits::TAGS)));
        }
        for tag in &self.tags {
            check_len("tags", tag, 1, limits::TAG)?;
        }
        if self.attributes.len() > limits::ATTRIBUTES {
            return Err(bad(
                "attributes",
                format!("more than {} attributes", limits::ATTRIBUTES),
            ));
        }
        for (k, v) in &self.attributes {
            check_len("attributes", k, 1, limits::ATTRIBUTE_KEY)?;
            check_len("attributes", v, 0, limits::ATTRIBUTE_VALUE)?;
        }
        self.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = self.attributes.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(bad(
                "attributes",
                format!("key {} given twice", crate::text::shown(&w[0].0)),
            ));
        }
        if let Some(agent) = &self.preferred_agent {
            check_len("preferred_agent", agent, 1, limits::ID)?;
        }
        let mut contacts: Vec<Box<str>> = Vec::with_capacity(self.contacts.len());
        for c in self.contacts.iter() {
            let field = match crate::address::kind_of(c) {
                Some(crate::address::Kind::Social) => "social_handles",
                _ => "emails",
            };
            let (_, one) = crate::address::normalize(c).map_err(|e| bad(field, e.to_string()))?;
            if !contacts.contains(&one) {
                contacts.push(one);
            }
        }
        if contacts.len() > limits::CONTACTS {
            return Err(bad(
                "emails",
                format!(
                    "more than {} email addresses and social handles together",
                    limits::CONTACTS
                ),
            ));
        }
        self.contacts = contacts.into_boxed_slice();
        Ok(self)
    }
}

/// Why the directory refused a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("phone number {number} belongs to customer {owner}")]
    NumberTaken { number: E164, owner: String },
    #[error("{address} belongs to customer {owner}")]
    AddressTaken { address: String, owner: String },
}

/// A profile as a key of the by-id index: hashed and compared by its id, and found by a
/// `&str`.
#[derive(Debug, Clone)]
struct ById(Arc<Customer>);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for ById {}

impl std::hash::Hash for ById {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that a lookup by `&str` finds it.
        self.0.id().hash(state);
    }
}

impl std::borrow::Borrow<str> for ById {
    fn borrow(&self) -> &str {
        self.0.id()
    }
}

/// Every known customer, by phone number (the route path) and by customer id (admin).
///
/// Reads never block each other: both indexes are sharded concurrent maps. Writers
/// (imports, admin upserts) take one mutex so that the two indexes and the
/// one-number-one-customer rule stay consistent; writes are rare and off the route path.
#[derive(Debug)]
pub struct Directory {
    by_number: DashMap<E164, Arc<Customer>, FastHash>,
    /// By email address or social handle, in their one spelling.
    by_address: DashMap<Box<str>, Arc<Customer>, FastHash>,
    /// Keyed by the profile itself (found by its id), so the id is not stored twice.
    by_id: DashMap<ById, (), FastHash>,
    writer: Mutex<()>,
}

/// Shards of the directory's number index. Every lookup takes its shard's read lock,
/// an atomic write to the lock: two threads on one shard pass its cache line back and
/// forth, so the more shards the rarer that is.
const NUMBER_SHARDS: usize = 256;

impl Default for Directory {
    fn default() -> Self {
        Directory {
            by_number: DashMap::with_hasher_and_shard_amount(FastHash::default(), NUMBER_SHARDS),
            by_address: DashMap::default(),
            by_id: DashMap::default(),
            writer: Mutex::new(()),
        }
    }
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The customer calling from `number`, if known.
    pub fn lookup(&self, number: E164) -> Option<Arc<Customer>> {
        self.by_number.get(&number).map(|c| Arc::clone(&c))
    }

    /// The customer who writes from `address` (in its one spelling), if known.
    pub fn lookup_address(&self, address: &str) -> Option<Arc<Customer>> {
        self.by_address.get(address).map(|c| Arc::clone(&c))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Customer>> {
        self.by_id.get(id).map(|c| Arc::clone(&c.key().0))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Inserts or replaces the customer with `customer.id`. Numbers the old profile had
    /// and the new one lacks stop resolving to it. A number owned by another customer is
    /// refused and nothing changes.
    pub fn upsert(&self, customer: impl Into<Customer>) -> Result<Arc<Customer>, DirectoryError> {
        let customer = customer.into();
        // A poisoned lock only means another writer panicked; the maps are still whole.
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for number in &customer.numbers {
            if let Some(owner) = self.by_number.get(number)
                && owner.id() != customer.id()
            {
                return Err(DirectoryError::NumberTaken {
                    number: *number,
                    owner: owner.id().to_owned(),
                });
            }
        }
        for address in customer.contacts() {
            if let Some(owner) = self.by_address.get(address)
                && owner.id() != customer.id()
            {
                return Err(DirectoryError::AddressTaken {
                    address: address.to_owned(),
                    owner: owner.id().to_owned(),
                });
            }
        }
        let customer = Arc::new(customer);
        // The key is replaced with the value, in one step under the shard's lock.
        let old = match self.by_id.entry(ById(Arc::clone(&customer))) {
            dashmap::mapref::entry::Entry::Occupied(e) => Some(e.replace_entry(()).0.0),
            dashmap::mapref::entry::Entry::Vacant(e) => {
                e.insert(());
                None
            }
        };
        for number in &customer.numbers {
            self.by_number.insert(*number, Arc::clone(&customer));
        }
        for address in customer.contacts() {
            self.by_address
                .insert(address.into(), Arc::clone(&customer));
        }
        if let Some(old) = old {
            for number in old.numbers.iter().filter(|n| !customer.numbers.contains(n)) {
                self.by_number.remove(number);
            }
            for address in old
                .contacts()
                .filter(|a| !customer.contacts().any(|b| b == *a))
            {
                self.by_address.remove(address);
            }
        }
        Ok(customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        s.parse().unwrap()
    }

    fn customer(id: &str, numbers: &[&str]) -> Profile {
        Profile {
            id: id.into(),
            name: format!("Customer {id}").into(),
            numbers: numbers.iter().map(|s| n(s)).collect(),
            tier: TierId(0),
            preference: Preference::None,
            language: "en".into(),
            lifetime_value: 10.0,
            influence: 5,
            tags: Box::default(),
            attributes: Box::default(),
            preferred_agent: None,
            contacts: Box::default(),
            preferred_channel: None,
        }
    }

    #[test]
    fn a_customer_is_found_by_email_and_handle_and_an_address_of_another_is_refused() {
        let dir = Directory::new();
        let mut c1 = customer("c1", &["+12125550101"]);
        c1.contacts = vec!["Jane@Example.com".into(), "x:@JaneDoe".into()].into();
        let c1 = Customer::from(c1.validated().unwrap());
        assert_eq!(c1.emails().collect::<Vec<_>>(), ["jane@example.com"]);
        assert_eq!(c1.social_handles().collect::<Vec<_>>(), ["x:janedoe"]);
        dir.upsert(c1).unwrap();
        assert_eq!(dir.lookup_address("jane@example.com").unwrap().id(), "c1");
        assert_eq!(dir.lookup_address("x:janedoe").unwrap().id(), "c1");
        let mut c2 = customer("c2", &["+12125550102"]);
        c2.contacts = vec!["x:janedoe".into()].into();
        assert_eq!(
            dir.upsert(c2).unwrap_err().to_string(),
            "x:janedoe belongs to customer c1"
        );
        // c1 drops the email: it no longer finds her.
        let mut c1 = customer("c1", &["+12125550101"]);
        c1.contacts = vec!["x:janedoe".into()].into();
        dir.upsert(c1).unwrap();
        assert!(dir.lookup_address("jane@example.com").is_none());
        let mut bad = customer("c3", &["+12125550103"]);
        bad.contacts = vec!["jane@localhost".into()].into();
        assert_eq!(
            bad.validated().unwrap_err().to_string(),
            "emails: not an email address: the domain needs a dot (example.com)"
        );
    }

    #[test]
    fn customer_is_found_by_every_number_and_by_id() {
        let dir = Directory::new();
        dir.upsert(customer("c1", &["+12125550101", "+12125550102"]))
            .unwrap();
        assert_eq!(dir.lookup(n("+12125550101")).unwrap().id(), "c1");
        assert_eq!(dir.lookup(n("+12125550102")).unwrap().id(), "c1");
        assert_eq!(dir.get("c1").unwrap().numbers.len(), 2);
        assert!(dir.lookup(n("+12125550103")).is_none());
    }

    #[test]
    fn replacing_a_customer_releases_numbers_it_no_longer_has() {
        let dir = Directory::new();
        dir.upsert(customer("c1", &["+12125550101", "+12125550102"]))
            .unwrap();
        dir.upsert(customer("c1", &["+12125550102", "+12125550104"]))
            .unwrap();
        assert!(dir.lookup(n("+12125550101")).is_none());
        assert_eq!(dir.lookup(n("+12125550104")).unwrap().id(), "c1");
        assert_eq!(dir.len(), 1);
        // By id, too, the new profile answers.
        let by_id = dir.get("c1").unwrap();
        assert_eq!(*by_id.numbers, [n("+12125550102"), n("+12125550104")]);
        assert!(Arc::ptr_eq(&by_id, &dir.lookup(n("+12125550102")).unwrap()));
    }

    #[test]
    fn a_number_of_another_customer_is_refused_and_nothing_changes() {
        let dir = Directory::new();
        dir.upsert(customer("c1", &["+12125550101"])).unwrap();
        let err = dir
            .upsert(customer("c2", &["+12125550105", "+12125550101"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "phone number +12125550101 belongs to customer c1"
        );
        assert!(dir.get("c2").is_none());
        assert!(dir.lookup(n("+12125550105")).is_none());
    }

    #[test]
    fn field_limits_are_enforced_with_the_field_named() {
        let mut c = customer("c1", &["+12125550101"]);
        c.lifetime_value = f64::NAN;
        assert_eq!(c.validated().unwrap_err().field, "lifetime_value");
        let mut c = customer("", &["+12125550101"]);
        c.id = "".into();
        assert_eq!(
            c.validated().unwrap_err().to_string(),
            "customer_id: must not be empty"
        );
        let mut c = customer("c1", &["+12125550101"]);
        c.tags = Box::new(["x".repeat(65).into()]);
        assert_eq!(
            c.validated().unwrap_err().to_string(),
            "tags: longer than 64 characters (65)"
        );
        let mut c = customer("c1", &["+12125550101"]);
        c.attributes = Box::new([("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(
            c.validated().unwrap_err().to_string(),
            "attributes: key \"a\" given twice"
        );
        let c = customer("c1", &[]);
        assert_eq!(c.validated().unwrap_err().field, "phone_numbers");
        let mut c = customer("c1", &["+12125550101"]);
        c.influence = 101;
        assert_eq!(c.validated().unwrap_err().field, "influence");
    }

    #[test]
    fn attributes_are_sorted_for_lookup() {
        let mut c = customer("c1", &["+12125550101", "+12125550101"]);
        c.attributes = Box::new([
            ("z".into(), "last".into()),
            ("device_purchased".into(), "2024-03-01".into()),
        ]);
        let c = Customer::from(c.validated().unwrap());
        assert_eq!(c.attribute("device_purchased"), Some("2024-03-01"));
        assert_eq!(c.attribute("z"), Some("last"));
        assert_eq!(c.attribute("missing"), None);
        assert_eq!(c.numbers.len(), 1, "duplicate numbers are dropped");
    }
}
