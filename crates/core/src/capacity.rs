//! Capacity per channel, as config and log-ins state it: the lanes work is counted in,
//! how much of each an agent may hold, and the rules across lanes (blocking and mixing
//! caps). The ACD claims units against these atomically (see `acd::lanes`).

use crate::channel::Channel;

/// A lane of work: what an agent's capacity is counted in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Voice = 0,
    Chat = 1,
    Email = 2,
    Social = 3,
}

/// Lanes of work, and the most of one lane an agent may hold at once.
pub const LANES: usize = 4;
pub const MAX_PER_LANE: u8 = 32;

impl Lane {
    pub const ALL: [Lane; LANES] = [Lane::Voice, Lane::Chat, Lane::Email, Lane::Social];

    /// The lane a channel's work is counted in.
    pub fn of(channel: Channel) -> Lane {
        match channel {
            Channel::Voice | Channel::Video | Channel::Callback => Lane::Voice,
            Channel::Chat => Lane::Chat,
            Channel::Email => Lane::Email,
            Channel::Social => Lane::Social,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Voice => "voice",
            Lane::Chat => "chat",
            Lane::Email => "email",
            Lane::Social => "social",
        }
    }

    /// The channel whose name the lane bears.
    pub fn channel(self) -> Channel {
        match self {
            Lane::Voice => Channel::Voice,
            Lane::Chat => Channel::Chat,
            Lane::Email => Channel::Email,
            Lane::Social => Channel::Social,
        }
    }

    pub fn parse(name: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|l| l.as_str() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// How much work of each lane an agent may hold at once (voice 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Limits(pub [u8; LANES]);

impl Default for Limits {
    /// One voice call and nothing else: what an agent was before channels had capacity.
    fn default() -> Self {
        Limits([1, 0, 0, 0])
    }
}

impl Limits {
    pub fn get(self, lane: Lane) -> u8 {
        self.0[lane.index()]
    }

    /// The lanes with any capacity.
    pub fn lanes(self) -> impl Iterator<Item = Lane> {
        Lane::ALL.into_iter().filter(move |l| self.get(*l) > 0)
    }
}

/// A set of lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LaneSet(u8);

impl LaneSet {
    pub fn of(lanes: &[Lane]) -> LaneSet {
        LaneSet(lanes.iter().fold(0, |s, l| s | l.bit()))
    }

    pub fn contains(self, lane: Lane) -> bool {
        self.0 & lane.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Lane> {
        Lane::ALL.into_iter().filter(move |l| self.contains(*l))
    }

    /// Every lane.
    pub const ALL: LaneSet = LaneSet((1 << LANES) - 1);

    pub fn with(self, lane: Lane) -> LaneSet {
        LaneSet(self.0 | lane.bit())
    }

    pub fn union(self, other: LaneSet) -> LaneSet {
        LaneSet(self.0 | other.0)
    }
}

/// Rules across lanes, the same for every agent: work held in one lane stops new work in
/// others, and lanes mixed together may hold at most a total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaneRules {
    /// By lane: the lanes that get no new work while the agent holds work of that lane.
    pub blocks: [LaneSet; LANES],
    /// Groups of lanes, each with the most work they may hold together.
    pub mixes: Vec<(LaneSet, u8)>,
}

impl LaneRules {
    /// The lanes where an agent may have gained room when a unit of `released` came
    /// back: that lane, the lanes it blocks and the lanes mixed with it. Room anywhere
    /// else is as it was.
    pub fn freed_by(&self, released: Lane) -> LaneSet {
        let mixed = self
            .mixes
            .iter()
            .filter(|(set, _)| set.contains(released))
            .fold(LaneSet::default(), |acc, (set, _)| acc.union(*set));
        self.blocks[released.index()].union(mixed).with(released)
    }

    /// Whether one more unit of `lane` fits beside `held` (work held per lane).
    pub fn admits(&self, limits: Limits, held: [u8; LANES], lane: Lane) -> bool {
        if held[lane.index()] >= limits.get(lane) {
            return false;
        }
        if Lane::ALL
            .iter()
            .any(|l| held[l.index()] > 0 && self.blocks[l.index()].contains(lane))
        {
            return false;
        }
        self.mixes.iter().all(|(set, total)| {
            !set.contains(lane)
                || set.iter().map(|l| u32::from(held[l.index()])).sum::<u32>() < u32::from(*total)
        })
    }
}

/// `[capacity]`: what an agent who names no capacity at log-in may hold, and the
/// cross-channel rules for every agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub limits: Limits,
    pub rules: LaneRules,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LaneRules {
        let mut blocks = [LaneSet::default(); LANES];
        blocks[Lane::Voice.index()] = LaneSet::of(&[Lane::Chat, Lane::Email]);
        LaneRules {
            blocks,
            mixes: vec![(LaneSet::of(&[Lane::Chat, Lane::Email]), 4)],
        }
    }

    #[test]
    fn a_unit_coming_back_frees_room_in_its_lane_the_lanes_it_blocks_and_its_mixes_only() {
        let r = rules();
        assert_eq!(
            r.freed_by(Lane::Voice),
            LaneSet::of(&[Lane::Voice, Lane::Chat, Lane::Email])
        );
        assert_eq!(
            r.freed_by(Lane::Chat),
            LaneSet::of(&[Lane::Chat, Lane::Email])
        );
        assert_eq!(r.freed_by(Lane::Social), LaneSet::of(&[Lane::Social]));
    }

    #[test]
    fn a_unit_fits_within_its_limit_outside_blocks_and_under_the_mixing_cap() {
        let limits = Limits([1, 3, 5, 0]);
        let r = rules();
        assert!(r.admits(limits, [0, 2, 0, 0], Lane::Chat));
        assert!(!r.admits(limits, [0, 3, 0, 0], Lane::Chat), "chat limit 3");
        assert!(
            !r.admits(limits, [1, 0, 0, 0], Lane::Chat),
            "voice blocks chat"
        );
        assert!(
            !r.admits(limits, [1, 0, 0, 0], Lane::Email),
            "voice blocks email"
        );
        assert!(
            r.admits(limits, [0, 3, 0, 0], Lane::Voice),
            "chat does not block voice"
        );
        assert!(
            !r.admits(limits, [0, 2, 2, 0], Lane::Email),
            "chat and email mix to 4"
        );
        assert!(r.admits(limits, [0, 2, 1, 0], Lane::Email));
        assert!(
            !r.admits(limits, [0, 0, 0, 0], Lane::Social),
            "no social capacity"
        );
    }
}
