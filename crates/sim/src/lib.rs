//! What if? Switchboard's real router and ACD run a simulated day under a virtual clock:
//! a scenario says who calls when, how long agents take and who is at the desk; the
//! engine decides everything else exactly as it would in production.
//!
//! - `random`: the seeded random source and the distributions scenarios draw from;
//! - `scenario`: the scenario file, checked against the routing config;
//! - `engine`: the event loop around the real `Router`;
//! - `figures`: what a run delivered against the standards, as a table or JSON;
//! - `chart`: the service level of each tier over the day, as SVG.

pub mod chart;
pub mod engine;
pub mod figures;
pub mod random;
pub mod scenario;

pub use chart::chart;
pub use engine::{CallOutcome, Replayed, Run, replay, run};
pub use figures::{Figures, figures, render, render_comparison};
pub use scenario::{Scenario, ScenarioError};
