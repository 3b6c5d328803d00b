//! What a run delivered, in the terms of the standards: per tier, per queue and tier, and
//! per interval and tier, the calls offered, answered and abandoned, the service level
//! against the tier's standard for the calls' channel, the speed of answer and the
//! longest wait; how far the estimated waits callers were told fell from the waits they
//! had; and how busy the agents were.

use serde::Serialize;
use switchboard_core::{RoutePlan, TierId, caller::Channel};

use crate::{CallOutcome, Run, Scenario};

/// Calls of one slice (a tier, a queue and tier, an interval and tier).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Slice {
    pub offered: u64,
    pub answered: u64,
    pub answered_in_standard: u64,
    pub abandoned: u64,
    /// Abandoned after the standard's time (held against the service level).
    pub abandoned_late: u64,
    pub voicemail: u64,
    /// Callers who took a callback offered while waiting (counted answered when called
    /// back, their wait running until then).
    pub callbacks: u64,
    /// answered_in_standard / (answered + abandoned_late); `None` without such calls.
    pub service_level: Option<f64>,
    /// Average wait of answered calls, seconds.
    pub asa: Option<f64>,
    pub longest_wait: f64,
    #[serde(skip)]
    wait_sum: f64,
}

impl Slice {
    fn add(&mut self, wait: Option<(f64, bool)>, within: f64, c: &CallOutcome) {
        self.offered += 1;
        self.voicemail += u64::from(c.voicemail);
        self.callbacks += u64::from(c.callback);
        match wait {
            Some((w, true)) => {
                self.answered += 1;
                self.answered_in_standard += u64::from(w <= within);
                self.wait_sum += w;
                self.longest_wait = self.longest_wait.max(w);
            }
            Some((w, false)) => {
                self.abandoned += 1;
                self.abandoned_late += u64::from(w > within);
                self.longest_wait = self.longest_wait.max(w);
            }
            None => {}
        }
    }

    fn finish(&mut self) {
        let counted = self.answered + self.abandoned_late;
        self.service_level =
            (counted > 0).then(|| self.answered_in_standard as f64 / counted as f64);
        self.asa = (self.answered > 0).then(|| self.wait_sum / self.answered as f64);
    }
}

/// One tier's figures, with the standard they are held to.
#[derive(Clone, Debug, Serialize)]
pub struct TierFigures {
    pub tier: String,
    pub standard_percent: u8,
    pub standard_within_s: f64,
    pub all: Slice,
    /// By interval of the day.
    pub intervals: Vec<Slice>,
    /// By queue (only queues the tier's calls reached), by name.
    pub queues: Vec<(String, Slice)>,
}

/// The estimated wait told to callers who then waited and were answered, against the
/// wait they had: `actual - told`, seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Expectations {
    pub told: u64,
    pub mean_error: Option<f64>,
    pub mean_abs_error: Option<f64>,
    pub p90_abs_error: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub calls: u64,
    pub interval_s: f64,
    pub tiers: Vec<TierFigures>,
    pub expectations: Expectations,
    /// The longest wait of the lowest tier's callers (served or not): fairness while
    /// higher tiers keep arriving.
    pub lowest_tier_worst_wait: f64,
    /// Offers that rang out at agents who did not answer them.
    pub offers_rung_out: u64,
    /// Share of the time agents were at the desk (staffed, not on a break) they spent on
    /// calls, by interval.
    pub occupancy: Vec<Option<f64>>,
}

/// The figures of a run.
pub fn figures(run: &Run, plan: &RoutePlan, scenario: &Scenario) -> Figures {
    let intervals = scenario.intervals();
    let mut tiers: Vec<TierFigures> = plan
        .tiers
        .iter()
        .map(|t| TierFigures {
            tier: t.name.clone(),
            standard_percent: t.standard.percent,
            standard_within_s: t.standard.within.as_secs_f64(),
            all: Slice::default(),
            intervals: vec![Slice::default(); intervals],
            queues: Vec::new(),
        })
        .collect();
    let mut errors = Vec::new();
    let mut worst = 0.0f64;
    for c in &run.calls {
        let channel = c.channel.unwrap_or(Channel::Voice);
        let within = plan
            .tier(TierId(c.tier as u8))
            .standard_for(channel)
            .within
            .as_secs_f64();
        let wait = match (c.answered_after, c.abandoned_after) {
            (Some(w), _) => Some((w, true)),
            (None, Some(w)) => Some((w, false)),
            _ => None,
        };
        let t = &mut tiers[c.tier];
        t.all.add(wait, within, c);
        if let Some(slot) = t.intervals.get_mut(c.interval) {
            slot.add(wait, within, c);
        }
        if let Some(q) = c.queue {
            let name = &plan.queues[q].name;
            let at = match t.queues.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    t.queues.push((name.clone(), Slice::default()));
                    t.queues.len() - 1
                }
            };
            t.queues[at].1.add(wait, within, c);
        }
        if c.tier == 0
            && let Some((w, _)) = wait
        {
            worst = worst.max(w);
        }
        if let (Some(told), Some(actual)) = (c.told, c.answered_after) {
            errors.push(actual - told);
        }
    }
    for t in &mut tiers {
        t.all.finish();
        t.intervals.iter_mut().for_each(Slice::finish);
        t.queues.sort_by(|a, b| a.0.cmp(&b.0));
        t.queues.iter_mut().for_each(|(_, s)| s.finish());
    }
    let expectations = if errors.is_empty() {
        Expectations::default()
    } else {
        let n = errors.len() as f64;
        let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
        abs.sort_by(f64::total_cmp);
        Expectations {
            told: errors.len() as u64,
            mean_error: Some(errors.iter().sum::<f64>() / n),
            mean_abs_error: Some(abs.iter().sum::<f64>() / n),
            p90_abs_error: Some(abs[((abs.len() - 1) as f64 * 0.9).round() as usize]),
        }
    };
    let occupancy = run
        .occupancy
        .staffed_s
        .iter()
        .zip(&run.occupancy.away_s)
        .map(|(staffed, away)| staffed - away)
        .zip(&run.occupancy.busy_s)
        .map(|(at_desk, busy)| (at_desk > 0.5).then(|| busy / at_desk))
        .collect();
    Figures {
        calls: run.calls.len() as u64,
        interval_s: scenario.interval.as_secs_f64(),
        tiers,
        expectations,
        lowest_tier_worst_wait: worst,
        offers_rung_out: run.calls.iter().map(|c| u64::from(c.missed)).sum(),
        occupancy,
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn seconds(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}s"))
}

/// The figures as a readable table: per tier, then per queue under each tier.
pub fn render(f: &Figures) -> String {
    let mut out = format!(
        "{} calls\n\n{:<16} {:<12} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>8}  {}\n",
        f.calls,
        "tier / queue",
        "standard",
        "offered",
        "answered",
        "abandoned",
        "voicemail",
        "level",
        "ASA",
        "longest",
        "result"
    );
    for t in &f.tiers {
        if t.all.offered == 0 {
            continue;
        }
        let row = |name: &str, s: &Slice| {
            let result = match s.service_level {
                None => "no calls",
                Some(l) if l * 100.0 + 1e-9 >= f64::from(t.standard_percent) => "met",
                Some(_) => "MISSED",
            };
            format!(
                "{name:<16} {:<12} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>8}  {result}\n",
                format!("{}% in {:.0}s", t.standard_percent, t.standard_within_s),
                s.offered,
                s.answered,
                s.abandoned,
                s.voicemail,
                percent(s.service_level),
                seconds(s.asa),
                format!("{:.0}s", s.longest_wait),
            )
        };
        out.push_str(&row(&t.tier, &t.all));
        for (q, s) in &t.queues {
            out.push_str(&row(&format!("  {q}"), s));
        }
    }
    let e = &f.expectations;
    out.push_str(&format!(
        "\nestimated waits told: {} callers; actual - told: mean {}, mean absolute {}, 90th percentile absolute {}\n",
        e.told,
        seconds(e.mean_error),
        seconds(e.mean_abs_error),
        seconds(e.p90_abs_error),
    ));
    out.push_str(&format!(
        "longest wait of a {} caller: {:.0}s\n",
        f.tiers.first().map_or("", |t| t.tier.as_str()),
        f.lowest_tier_worst_wait
    ));
    let callbacks: u64 = f.tiers.iter().map(|t| t.all.callbacks).sum();
    if callbacks > 0 || f.offers_rung_out > 0 {
        out.push_str(&format!(
            "callbacks taken: {callbacks}; offers that rang out unanswered: {}\n",
            f.offers_rung_out
        ));
    }
    let busy: Vec<f64> = f.occupancy.iter().flatten().copied().collect();
    if !busy.is_empty() {
        out.push_str(&format!(
            "occupancy: mean {:.1}% over staffed intervals, highest {:.1}%\n",
            busy.iter().sum::<f64>() / busy.len() as f64 * 100.0,
            busy.iter().copied().fold(0.0, f64::max) * 100.0
        ));
    }
    out
}

/// Two runs of one scenario and seed side by side (`before` under the config, `after`
/// under the other one): per tier and queue, the service level, the speed of answer and
/// the calls abandoned of each, with the change (other minus this, in points and seconds).
pub fn render_comparison(before: &Figures, after: &Figures) -> String {
    let mut out = format!(
        "{:<16} {:>8} {:>8} {:>8}   {:>7} {:>7} {:>7}   {:>9} {:>9}\n",
        "tier / queue", "level", "other", "change", "ASA", "other", "change", "abandoned", "other"
    );
    let row = |name: &str, a: &Slice, b: &Slice| {
        let change = match (a.service_level, b.service_level) {
            // A change that rounds to nothing is shown as none, never as -0.0.
            (Some(x), Some(y)) => format!("{:+.1}", ((y - x) * 1000.0).round() / 10.0 + 0.0),
            _ => "-".to_owned(),
        };
        let asa_change = match (a.asa, b.asa) {
            (Some(x), Some(y)) => format!("{:+.0}s", (y - x).round() + 0.0),
            _ => "-".to_owned(),
        };
        format!(
            "{name:<16} {:>8} {:>8} {:>8}   {:>7} {:>7} {:>7}   {:>9} {:>9}\n",
            percent(a.service_level),
            percent(b.service_level),
            change,
            seconds(a.asa),
            seconds(b.asa),
            asa_change,
            a.abandoned,
            b.abandoned,
        )
    };
    for (ta, tb) in before.tiers.iter().zip(&after.tiers) {
        if ta.all.offered == 0 && tb.all.offered == 0 {
            continue;
        }
        out.push_str(&row(&ta.tier, &ta.all, &tb.all));
        let mut queues: Vec<&String> = ta.queues.iter().chain(&tb.queues).map(|(q, _)| q).collect();
        queues.sort();
        queues.dedup();
        let empty = Slice::default();
        let of = |t: &TierFigures, q: &String| {
            t.queues
                .iter()
                .find(|(n, _)| n == q)
                .map_or(&empty, |(_, s)| s)
                .clone()
        };
        for q in queues {
            out.push_str(&row(&format!("  {q}"), &of(ta, q), &of(tb, q)));
        }
    }
    out
}
