//! Who is calling and how: the words routing, conditions and the ACD share. It sits below
//! them all (it needs only customers, numbers and learned behaviour), so that the rule
//! conditions can read a caller without depending on the router that builds one.

use std::sync::Arc;

use crate::{
    behaviour::Learned,
    customer::{Customer, Preference, TierId},
    number::{E164, NumberError},
};

/// How the contact reaches us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Voice,
    Video,
    Chat,
    Email,
    Callback,
    /// A post or direct message on a social network.
    Social,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Voice,
        Channel::Video,
        Channel::Chat,
        Channel::Email,
        Channel::Callback,
        Channel::Social,
    ];

    /// The name used in rule conditions (`call.channel == "chat"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Video => "video",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Callback => "callback",
            Channel::Social => "social",
        }
    }

    /// A one-bit mask, for conditions over sets of channels.
    pub fn bit(self) -> u8 {
        1 << self as u8
    }
}

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
