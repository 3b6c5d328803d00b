//! What if? Switchboard's real router and ACD run a simulated day under a virtual clock:
//! a scenario says who calls when, how long agents take and who is at the desk; the
//! engine decides everything else exactly as it would in production.
//!
//! - `random`: the seeded random source and the distributions scenarios draw from;
//! - `scenario`: the scenario file, checked against the routing config;
//! - `engine`: the event loop around the real `Router` (and `engine::desk`, the agents'
//!   side: shifts, breaks, missed offers, time at the desk);
//! - `figures`: what a run delivered against the standards, as a table or JSON;
//! - `chart`: the service level of each tier over the day, as SVG;
//! - `staffing`: the fewest agents per interval that meet every standard, by search.

pub mod chart;
pub mod engine;
pub mod figures;
pub mod random;
pub mod scenario;
pub mod staffing;

pub use chart::chart;
pub use engine::{CallOutcome, Replayed, Run, replay, run};
pub use figures::{Figures, figures, render, render_comparison};
pub use scenario::{Scenario, ScenarioError};
pub use staffing::{Staffing, render_staffing, search};
