//! The channels customers reach us on. The lowest layer of the vocabulary: customers
//! name the one they prefer, calls the one they came in on.

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

impl Channel {
    /// The channel of a name as [`Channel::as_str`] gives it.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}
