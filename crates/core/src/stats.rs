//! Cumulative call counters per queue and tier, for service levels and speed of answer.
//! Lock-free: one set of atomics per (queue, tier), bumped off the decision itself.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use std::sync::OnceLock;

use crate::{
    TierId,
    acd::MAX_QUEUES,
    plan::{MAX_TIERS, QueueId},
};

#[derive(Debug, Default)]
struct Cell {
    offered: AtomicU64,
    answered: AtomicU64,
    answered_in_standard: AtomicU64,
    answer_wait_ms: AtomicU64,
    abandoned: AtomicU64,
    abandoned_after_standard: AtomicU64,
    timed_out: AtomicU64,
}

/// A copy of one (queue, tier)'s counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls that entered the queue.
    pub offered: u64,
    pub answered: u64,
    /// Answered within the tier's standard (e.g. 20 s).
    pub answered_in_standard: u64,
    /// Total wait of answered calls.
    pub answer_wait: Duration,
    pub abandoned: u64,
    /// Abandoned after waiting longer than the tier's standard.
    pub abandoned_after_standard: u64,
    /// Reached the queue's maximum wait and went to voicemail.
    pub timed_out: u64,
}

impl Counts {
    /// Share of calls answered within the standard, of those answered plus those
    /// abandoned after the standard's time (callers who hung up sooner are not held
    /// against it). `None` before any such call.
    pub fn service_level(&self) -> Option<f64> {
        let counted = self.answered + self.abandoned_after_standard;
        (counted > 0).then(|| self.answered_in_standard as f64 / counted as f64)
    }

    /// Average wait of answered calls.
    pub fn average_speed_of_answer(&self) -> Option<Duration> {
        (self.answered > 0)
            .then(|| self.answer_wait / u32::try_from(self.answered).unwrap_or(u32::MAX))
    }

    pub fn add(&mut self, other: &Counts) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.answered_in_standard += other.answered_in_standard;
        self.answer_wait += other.answer_wait;
        self.abandoned += other.abandoned;
        self.abandoned_after_standard += other.abandoned_after_standard;
        self.timed_out += other.timed_out;
    }
}

/// Counters for every (queue, tier). A queue's row holds every possible tier and is
/// made when the queue first appears (at start or by a reload), so counting never locks
/// and a reload that adds queues or tiers loses no count.
#[derive(Debug)]
pub struct Stats {
    rows: Box<[OnceLock<Box<[Cell]>>]>,
}

impl Stats {
    pub fn new(queues: usize) -> Self {
        let stats = Stats {
            rows: (0..MAX_QUEUES).map(|_| OnceLock::new()).collect(),
        };
        stats.ensure(queues);
        stats
    }

    /// Makes sure the first `queues` queues have counters.
    pub fn ensure(&self, queues: usize) {
        for row in self.rows.iter().take(queues) {
            row.get_or_init(|| (0..MAX_TIERS).map(|_| Cell::default()).collect());
        }
    }

    fn cell(&self, queue: QueueId, tier: TierId) -> Option<&Cell> {
        self.rows
            .get(queue.index())?
            .get()?
            .get(usize::from(tier.0))
    }

    pub fn offered(&self, queue: QueueId, tier: TierId) {
        if let Some(c) = self.cell(queue, tier) {
            c.offered.fetch_add(1, Relaxed);
        }
    }

    pub fn answered(&self, queue: QueueId, tier: TierId, waited: Duration, standard: Duration) {
        if let Some(c) = self.cell(queue, tier) {
            c.answered.fetch_add(1, Relaxed);
            c.answer_wait_ms.fetch_add(
                u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                Relaxed,
            );
            if waited <= standard {
                c.answered_in_standard.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn abandoned(&self, queue: QueueId, tier: TierId, waited: Duration, standard: Duration) {
        if let Some(c) = self.cell(queue, tier) {
            c.abandoned.fetch_add(1, Relaxed);
            if waited > standard {
                c.abandoned_after_standard.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn timed_out(&self, queue: QueueId, tier: TierId) {
        if let Some(c) = self.cell(queue, tier) {
            c.timed_out.fetch_add(1, Relaxed);
        }
    }

    pub fn counts(&self, queue: QueueId, tier: TierId) -> Counts {
        self.cell(queue, tier)
            .map_or_else(Counts::default, |c| Counts {
                offered: c.offered.load(Relaxed),
                answered: c.answered.load(Relaxed),
                answered_in_standard: c.answered_in_standard.load(Relaxed),
                answer_wait: Duration::from_millis(c.answer_wait_ms.load(Relaxed)),
                abandoned: c.abandoned.load(Relaxed),
                abandoned_after_standard: c.abandoned_after_standard.load(Relaxed),
                timed_out: c.timed_out.load(Relaxed),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_level_counts_late_abandons_but_not_early_ones() {
        let s = Stats::new(2);
        let (q, t) = (QueueId(1), TierId(1));
        let standard = Duration::from_secs(20);
        for _ in 0..5 {
            s.offered(q, t);
        }
        s.answered(q, t, Duration::from_secs(5), standard);
        s.answered(q, t, Duration::from_secs(15), standard);
        s.answered(q, t, Duration::from_secs(40), standard);
        s.abandoned(q, t, Duration::from_secs(3), standard);
        s.abandoned(q, t, Duration::from_secs(30), standard);
        let c = s.counts(q, t);
        assert_eq!((c.offered, c.answered, c.abandoned), (5, 3, 2));
        // 2 in standard of (3 answered + 1 late abandon).
        assert_eq!(c.service_level(), Some(0.5));
        assert_eq!(c.average_speed_of_answer(), Some(Duration::from_secs(20)));
        assert_eq!(s.counts(QueueId(0), t), Counts::default());
        assert_eq!(Counts::default().service_level(), None);
    }
}
