//! Who is calling and how: the words routing, conditions and the ACD share. It sits below
//! them all (it needs only customers, numbers and learned behaviour), so that the rule
//! conditions can read a caller without depending on the router that builds one.

use std::sync::Arc;

pub use crate::channel::Channel;
use crate::{
    behaviour::Learned,
    customer::{Customer, Preference, TierId},
    number::{E164, NumberError},
};

/// Where the routing preference came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreferenceSource {
    None,
    Explicit,
    LearnedZeroOut,
    LearnedChoice,
}

/// Everything routing knows about who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    pub number: Result<E164, NumberError>,
    pub customer: Option<Arc<Customer>>,
    pub tier: TierId,
    pub preference: Preference,
    pub source: PreferenceSource,
    pub repeat: bool,
    pub learned: Learned,
}
