//! `[capacity]`: what an agent may hold of each channel's work when their log-in names
//! none, and the cross-channel rules every agent's claims obey.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_core::capacity::{Capacity, LANES, Lane, LaneRules, LaneSet, Limits, MAX_PER_LANE};

use crate::{raw::S, validate::Checker};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapacity {
    voice: Option<S<i64>>,
    chat: Option<S<i64>>,
    email: Option<S<i64>>,
    social: Option<S<i64>>,
    /// By lane: the lanes that get no new work while the agent holds work of it.
    #[serde(default)]
    blocks: BTreeMap<String, S<Vec<S<String>>>>,
    /// Lanes mixed together, with the most work they may hold together.
    #[serde(default)]
    mix: Vec<S<RawMix>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    channels: S<Vec<S<String>>>,
    total: S<i64>,
}

/// What a lane name in the config may be, for messages.
const NAMES: &str = "voice, chat, email or social (video and callbacks count as voice)";

fn lane(c: &mut Checker<'_>, name: &S<String>, path: &str) -> Option<Lane> {
    let found = Lane::parse(name.get_ref());
    if found.is_none() {
        c.error(
            name.span(),
            path,
            format!("unknown channel {:?}: one of {NAMES}", name.get_ref()),
        );
    }
    found
}

pub(crate) fn capacity(c: &mut Checker<'_>, raw: &RawCapacity) -> Option<Capacity> {
    let defaults = Limits::default();
    let mut limits = [0u8; LANES];
    let mut ok = true;
    for (lane, value) in [
        (Lane::Voice, &raw.voice),
        (Lane::Chat, &raw.chat),
        (Lane::Email, &raw.email),
        (Lane::Social, &raw.social),
    ] {
        let max = if lane == Lane::Voice { 1 } else { MAX_PER_LANE };
        let path = format!("capacity.{}", lane.as_str());
        limits[lane.index()] = match value {
            Some(v) => match c.int_in(v, &path, 0..=i64::from(max)) {
                Some(n) => n as u8,
                None => {
                    ok = false;
                    0
                }
            },
            None => defaults.get(lane),
        };
    }
    let mut rules = LaneRules::default();
    for (from, to) in &raw.blocks {
        let path = format!("capacity.blocks.{from}");
        let Some(from_lane) = Lane::parse(from) else {
            c.error(
                to.span(),
                &path,
                format!("unknown channel {from:?}: one of {NAMES}"),
            );
            ok = false;
            continue;
        };
        let mut set = Vec::new();
        for (i, name) in to.get_ref().iter().enumerate() {
            match lane(c, name, &format!("{path}[{i}]")) {
                Some(l) if l == from_lane => {
                    c.error(
                        name.span(),
                        format!("{path}[{i}]"),
                        format!(
                            "a lane does not block itself: its own limit (capacity.{from}) caps it"
                        ),
                    );
                    ok = false;
                }
                Some(l) => set.push(l),
                None => ok = false,
            }
        }
        rules.blocks[from_lane.index()] = LaneSet::of(&set);
    }
    for (m, mix) in raw.mix.iter().enumerate() {
        let path = format!("capacity.mix[{m}]");
        let mut set = Vec::new();
        for (i, name) in mix.get_ref().channels.get_ref().iter().enumerate() {
            match lane(c, name, &format!("{path}.channels[{i}]")) {
                Some(l) if set.contains(&l) => {
                    c.error(
                        name.span(),
                        format!("{path}.channels[{i}]"),
                        format!("{:?} is named twice", name.get_ref()),
                    );
                    ok = false;
                }
                Some(l) => set.push(l),
                None => ok = false,
            }
        }
        if set.len() < 2 {
            c.error(
                mix.get_ref().channels.span(),
                format!("{path}.channels"),
                "a mix names at least two channels (one channel's cap is its own limit)",
            );
            ok = false;
        }
        let total = c.int_in(
            &mix.get_ref().total,
            &format!("{path}.total"),
            1..=i64::from(MAX_PER_LANE) * LANES as i64,
        );
        match total {
            Some(t) => rules.mixes.push((LaneSet::of(&set), t as u8)),
            None => ok = false,
        }
    }
    ok.then_some(Capacity {
        limits: Limits(limits),
        rules,
    })
}
