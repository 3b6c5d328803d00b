//! Each agent's own figures since the server started: calls handled, handle time,
//! first-contact resolution, satisfaction and customer saves, held against the coaching
//! standard of the config, with points earned for calls that meet it.

use std::{fmt, sync::Arc, time::Duration};

use dashmap::DashMap;

use crate::plan::AgentStandard;

/// One agent's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Calls the agent talked to that ended.
    pub handled: u64,
    /// Their handle time (talk plus wrap-up), summed.
    pub handle_time: Duration,
    /// Handled calls the agent marked resolved.
    pub resolved: u64,
    /// Resolved calls whose caller called again within the repeat window.
    pub reopened: u64,
    /// Survey satisfaction answers (1-5) for the agent's calls, their sum and how many
    /// were 4 or 5.
    pub surveys: u64,
    pub satisfaction_points: u64,
    pub satisfied: u64,
    /// Retention offers made on the agent's calls, and those the caller accepted.
    pub retention_offers: u64,
    pub saves: u64,
    /// One per part of the standard a call met: handle time, resolved, satisfied survey.
    pub points: u64,
}

impl Figures {
    pub fn average_handle_time(&self) -> Option<Duration> {
        (self.handled > 0)
            .then(|| self.handle_time / u32::try_from(self.handled).unwrap_or(u32::MAX))
    }

    /// Calls resolved at the first contact, as a share of calls handled.
    pub fn first_contact_resolution(&self) -> Option<f64> {
        (self.handled > 0)
            .then(|| self.resolved.saturating_sub(self.reopened) as f64 / self.handled as f64)
    }

    /// Survey answers of 4 or 5, as a share of answers (CSAT).
    pub fn satisfied_share(&self) -> Option<f64> {
        (self.surveys > 0).then(|| self.satisfied as f64 / self.surveys as f64)
    }

    pub fn average_satisfaction(&self) -> Option<f64> {
        (self.surveys > 0).then(|| self.satisfaction_points as f64 / self.surveys as f64)
    }

    /// Where the figures fall short of the standard; empty before `min_calls` handled
    /// calls (too few to judge) and when every part is met. Satisfaction is judged only
    /// once there are surveys.
    pub fn shortfalls(&self, standard: &AgentStandard) -> Vec<Shortfall> {
        let mut out = Vec::new();
        if self.handled < u64::from(standard.min_calls) {
            return out;
        }
        if let Some(aht) = self.average_handle_time()
            && aht > standard.handle_time
        {
            out.push(Shortfall::HandleTime {
                average: aht,
                standard: standard.handle_time,
            });
        }
        let percent = |share: f64| share * 100.0;
        if let Some(fcr) = self.first_contact_resolution()
            && percent(fcr) < f64::from(standard.first_contact_percent)
        {
            out.push(Shortfall::FirstContactResolution {
                percent: percent(fcr),
                standard: standard.first_contact_percent,
            });
        }
        if let Some(csat) = self.satisfied_share()
            && percent(csat) < f64::from(standard.satisfied_percent)
        {
            out.push(Shortfall::Satisfaction {
                percent: percent(csat),
                standard: standard.satisfied_percent,
            });
        }
        out
    }
}

/// A part of the coaching standard an agent falls short of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shortfall {
    HandleTime {
        average: Duration,
        standard: Duration,
    },
    FirstContactResolution {
        percent: f64,
        standard: u8,
    },
    Satisfaction {
        percent: f64,
        standard: u8,
    },
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::HandleTime { average, standard } => write!(
                f,
                "average handle time {}s is over the standard {}s",
                average.as_secs(),
                standard.as_secs()
            ),
            Shortfall::FirstContactResolution { percent, standard } => write!(
                f,
                "first-contact resolution {percent:.1}% is under the standard {standard}%"
            ),
            Shortfall::Satisfaction { percent, standard } => write!(
                f,
                "satisfied callers {percent:.1}% is under the standard {standard}%"
            ),
        }
    }
}

/// The figures of every agent who has handled a call since start. Written on call
/// events, never on route decisions.
#[derive(Debug, Default)]
pub struct Scorecards {
    agents: DashMap<Arc<str>, Figures>,
}

impl Scorecards {
    fn with(&self, agent: &str, f: impl FnOnce(&mut Figures)) {
        if let Some(mut figures) = self.agents.get_mut(agent) {
            f(&mut figures);
            return;
        }
        f(&mut self.agents.entry(Arc::from(agent)).or_default());
    }

    /// A call the agent talked to ended after `handle_time`. `retention` is whether a
    /// retention offer was made and accepted (`Some(true)`), made and declined
    /// (`Some(false)`), or not made.
    pub fn handled(
        &self,
        agent: &str,
        handle_time: Duration,
        resolved: bool,
        retention: Option<bool>,
        standard: &AgentStandard,
    ) {
        self.with(agent, |f| {
            f.handled += 1;
            f.handle_time += handle_time;
            f.resolved += u64::from(resolved);
            f.points += u64::from(handle_time <= standard.handle_time) + u64::from(resolved);
            if let Some(saved) = retention {
                f.retention_offers += 1;
                f.saves += u64::from(saved);
            }
        });
    }

    /// The caller of one of the agent's calls answered the satisfaction question (1-5).
    pub fn surveyed(&self, agent: &str, satisfaction: u8) {
        self.with(agent, |f| {
            f.surveys += 1;
            f.satisfaction_points += u64::from(satisfaction);
            let satisfied = satisfaction >= 4;
            f.satisfied += u64::from(satisfied);
            f.points += u64::from(satisfied);
        });
    }

    /// A caller the agent marked resolved called again within the repeat window.
    pub fn reopened(&self, agent: &str) {
        self.with(agent, |f| f.reopened += 1);
    }

    pub fn get(&self, agent: &str) -> Option<Figures> {
        self.agents.get(agent).map(|f| *f)
    }

    /// Every agent's figures, by agent id.
    pub fn all(&self) -> Vec<(Arc<str>, Figures)> {
        let mut out: Vec<_> = self
            .agents
            .iter()
            .map(|e| (Arc::clone(e.key()), *e.value()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard() -> AgentStandard {
        AgentStandard {
            handle_time: Duration::from_secs(300),
            first_contact_percent: 70,
            satisfied_percent: 80,
            min_calls: 3,
        }
    }

    #[test]
    fn points_count_each_part_of_the_standard_a_call_meets() {
        let cards = Scorecards::default();
        let std = standard();
        // Quick and resolved: 2 points, then a satisfied survey: 1 more.
        cards.handled("ann", Duration::from_secs(200), true, None, &std);
        cards.surveyed("ann", 5);
        // Slow, not resolved, unhappy caller: nothing.
        cards.handled("ann", Duration::from_secs(400), false, Some(false), &std);
        cards.surveyed("ann", 2);
        // Slow but resolved, and a save.
        cards.handled("ann", Duration::from_secs(600), true, Some(true), &std);
        let ann = cards.get("ann").unwrap();
        assert_eq!(ann.points, 4);
        assert_eq!(
            (ann.handled, ann.resolved, ann.surveys, ann.satisfied),
            (3, 2, 2, 1)
        );
        assert_eq!((ann.retention_offers, ann.saves), (2, 1));
        assert_eq!(ann.average_handle_time(), Some(Duration::from_secs(400)));
        assert_eq!(ann.average_satisfaction(), Some(3.5));
        assert_eq!(cards.get("bo"), None);
    }

    #[test]
    fn an_agent_below_the_standard_is_flagged_once_there_are_enough_calls() {
        let cards = Scorecards::default();
        let std = standard();
        cards.handled("bo", Duration::from_secs(400), true, None, &std);
        cards.handled("bo", Duration::from_secs(400), true, None, &std);
        // Two calls: too few to judge, though slow.
        assert!(cards.get("bo").unwrap().shortfalls(&std).is_empty());
        cards.handled("bo", Duration::from_secs(400), true, None, &std);
        cards.surveyed("bo", 3);
        // One of the resolved calls came back: FCR 2 of 3.
        cards.reopened("bo");
        let bo = cards.get("bo").unwrap();
        assert!((bo.first_contact_resolution().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        let why: Vec<String> = bo.shortfalls(&std).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            why,
            [
                "average handle time 400s is over the standard 300s",
                "first-contact resolution 66.7% is under the standard 70%",
                "satisfied callers 0.0% is under the standard 80%",
            ]
        );
        // An agent who meets every part is not flagged.
        for _ in 0..3 {
            cards.handled("cy", Duration::from_secs(100), true, None, &std);
            cards.surveyed("cy", 4);
        }
        assert!(cards.get("cy").unwrap().shortfalls(&std).is_empty());
        assert_eq!(cards.get("cy").unwrap().points, 9);
        assert_eq!(
            cards
                .all()
                .iter()
                .map(|(id, _)| id.as_ref())
                .collect::<Vec<_>>(),
            ["bo", "cy"]
        );
    }
}
