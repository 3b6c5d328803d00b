//! The domain and hot path of Switchboard: who is calling, what the rules say, and where
//! the call goes. Plain synchronous Rust with no async runtime, RPC or I/O, so a test, a
//! benchmark or a simulator with a virtual clock can drive it directly.
//!
//! The modules form layers without cycles (`tests/layers.rs` checks it): `clock`,
//! `number` and `text` at the bottom; customers, learned behaviour, ids, calendars and
//! the caller's vocabulary above them; conditions (which read the plan through
//! [`condition::PlanFacts`]) and the rules' index over them, then the plan; the ACD and statistics; the router on top.
//!
//! Layout:
//! - [`number`]: strict normalization of caller and dialed numbers to E.164.
//! - [`customer`]: customer profiles and the concurrent directory keyed by number.
//! - [`behaviour`]: what callers teach by behaviour (zero-outs, menu choices, last call).
//! - [`caller`]: who is calling and how (channel, preference and where it came from): the
//!   words conditions, the router and the ACD share, below all three.
//! - [`plan`]: the compiled routing plan (tiers, lines, menus, queues, rules).
//! - [`condition`]: compiled rule conditions and their allocation-free evaluation.
//! - [`rule_index`]: which rules a caller can match at all, by the attribute values and
//!   tags their conditions need (built with the plan).
//! - [`calendar`]: business hours in a time zone, with holidays.
//! - [`router`]: the route path, menu input, explanations and idempotent call state.
//! - [`acd`]: agents, waiting calls and race-free matching of the two.
//! - [`stats`]: call counters per queue and tier (service level, speed of answer).
//! - [`ids`]: the ids of a plan's lines, menus, queues and rules, and tier sets.
//! - [`clock`]: time as milliseconds, always passed in, and civil dates.
//! - [`text`]: values from outside shown back in messages, bounded.

pub mod acd;
pub mod address;
pub mod behaviour;
pub mod calendar;
pub mod caller;
pub mod capacity;
pub mod channel;
pub mod clock;
pub mod condition;
pub mod customer;
pub mod ids;
pub mod number;
pub mod plan;
pub mod router;
pub mod rule_index;
pub mod scorecard;
pub mod stats;
pub mod text;

/// The hasher of the concurrent maps on the route path (numbers, call ids, agent ids):
/// foldhash, several times faster than the standard SipHash on short keys, seeded at
/// random per map so that callers choosing their numbers cannot aim at one bucket.
pub type FastHash = foldhash::fast::RandomState;

pub use clock::Millis;
pub use customer::{Customer, Directory, Preference, Profile, TierId};
pub use number::{E164, NumberError, NumberPlan};
pub use plan::RoutePlan;
pub use router::{Decision, Router};
