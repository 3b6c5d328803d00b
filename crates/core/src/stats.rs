//! Cumulative call counters per queue and tier, and per channel and tier, for service
//! levels and speed of answer. Lock-free: one set of atomics per (queue, tier) and per
//! (channel, tier), bumped off the decision itself.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use std::sync::OnceLock;

use crate::{
    Millis, TierId,
    acd::MAX_QUEUES,
    channel::Channel,
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

/// How far back the minute buckets of [`Stats::recent`] reach.
pub const RECENT_SPAN: Duration = Duration::from_secs(24 * 3_600);
const MINUTES: usize = 24 * 60;

/// One (queue, tier)'s answered and abandoned calls in one minute.
#[derive(Clone, Copy, Debug, Default)]
struct Minute {
    /// Minutes since the epoch, plus one; 0 for a bucket never used.
    at: u64,
    answered: u32,
    in_standard: u32,
    wait_ms: u64,
    abandoned: u32,
    abandoned_after: u32,
}

/// A ring of minute buckets over the last day, for one (queue, tier). Written on answers
/// and abandons only (not on route decisions), so a mutex costs nothing that matters.
type Ring = std::sync::Mutex<Box<[Minute]>>;

/// Runs `f` on a ring's bucket for the minute of `now` (making the ring on first use),
/// emptied first if it held an older minute.
fn in_minute<R>(ring: &OnceLock<Ring>, now: Millis, f: impl FnOnce(&mut Minute) -> R) -> R {
    let ring = ring
        .get_or_init(|| std::sync::Mutex::new(vec![Minute::default(); MINUTES].into_boxed_slice()));
    let minute = now.0 / 60_000;
    let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
    let slot = &mut ring[(minute % MINUTES as u64) as usize];
    if slot.at != minute + 1 {
        *slot = Minute {
            at: minute + 1,
            ..Minute::default()
        };
    }
    f(slot)
}

/// Adds a ring's answers and abandons in the buckets tagged `oldest..=newest` (minute
/// numbers plus one) to `out`.
fn add_minutes(out: &mut Counts, ring: &Ring, oldest: u64, newest: u64) {
    let ring = ring.lock().unwrap_or_else(|e| e.into_inner());
    for m in ring.iter().filter(|m| m.at >= oldest && m.at <= newest) {
        out.answered += u64::from(m.answered);
        out.answered_in_standard += u64::from(m.in_standard);
        out.answer_wait += Duration::from_millis(m.wait_ms);
        out.abandoned += u64::from(m.abandoned);
        out.abandoned_after_standard += u64::from(m.abandoned_after);
    }
}

/// Calls offered per minute over the last day, for one (queue, tier): each slot packs
/// `(minute + 1) << 32 | count`. Bumped on the route path, so lock-free: one
/// compare-and-swap, which also empties a slot that held an older minute.
type OfferedRing = Box<[AtomicU64]>;

/// One (queue, tier)'s minute rings, made on first use.
#[derive(Debug, Default)]
struct Recent {
    outcomes: OnceLock<Ring>,
    offered: OnceLock<OfferedRing>,
}

/// Counters for every (queue, tier). A queue's row holds every possible tier and is
/// made when the queue first appears (at start or by a reload), so counting never locks
/// and a reload that adds queues or tiers loses no count.
#[derive(Debug)]
pub struct Stats {
    rows: Box<[OnceLock<Box<[Cell]>>]>,
    /// Per (queue, tier), by minute: service levels over a sliding window and since
    /// midnight. Indexed like `rows`.
    recent: Box<[OnceLock<Box<[Recent]>>]>,
    /// Per (channel, tier) over all queues, each held to the tier's standard for its
    /// channel: `channel * MAX_TIERS + tier`.
    channels: Box<[Cell]>,
    /// The same, by minute over the last day (made on first use). Indexed like
    /// `channels`.
    channel_minutes: Box<[OnceLock<Ring>]>,
}

impl Stats {
    pub fn new(queues: usize) -> Self {
        let stats = Stats {
            rows: (0..MAX_QUEUES).map(|_| OnceLock::new()).collect(),
            recent: (0..MAX_QUEUES).map(|_| OnceLock::new()).collect(),
            channels: (0..Channel::ALL.len() * MAX_TIERS)
                .map(|_| Cell::default())
                .collect(),
            channel_minutes: (0..Channel::ALL.len() * MAX_TIERS)
                .map(|_| OnceLock::new())
                .collect(),
        };
        stats.ensure(queues);
        stats
    }

    /// Makes sure the first `queues` queues have counters.
    pub fn ensure(&self, queues: usize) {
        for (row, recent) in self.rows.iter().zip(self.recent.iter()).take(queues) {
            row.get_or_init(|| (0..MAX_TIERS).map(|_| Cell::default()).collect());
            recent.get_or_init(|| (0..MAX_TIERS).map(|_| Recent::default()).collect());
        }
    }

    fn cell(&self, queue: QueueId, tier: TierId) -> Option<&Cell> {
        self.rows
            .get(queue.index())?
            .get()?
            .get(usize::from(tier.0))
    }

    fn recent_of(&self, queue: QueueId, tier: TierId) -> Option<&Recent> {
        self.recent
            .get(queue.index())?
            .get()?
            .get(usize::from(tier.0))
    }

    pub fn offered(&self, queue: QueueId, tier: TierId, now: Millis) {
        if let Some(c) = self.cell(queue, tier) {
            c.offered.fetch_add(1, Relaxed);
        }
        let Some(recent) = self.recent_of(queue, tier) else {
            return;
        };
        let ring = recent
            .offered
            .get_or_init(|| (0..MINUTES).map(|_| AtomicU64::new(0)).collect());
        let minute = now.0 / 60_000;
        let tag = (minute + 1) << 32;
        let slot = &ring[(minute % MINUTES as u64) as usize];
        let _ = slot.fetch_update(Relaxed, Relaxed, |old| {
            Some(if old >> 32 == minute + 1 {
                old + 1
            } else {
                tag | 1
            })
        });
    }

    /// The minute bucket of (`queue`, `tier`) for `now`, emptied first if it held an
    /// older minute.
    fn minute<R>(
        &self,
        queue: QueueId,
        tier: TierId,
        now: Millis,
        f: impl FnOnce(&mut Minute) -> R,
    ) -> Option<R> {
        let ring = &self.recent_of(queue, tier)?.outcomes;
        Some(in_minute(ring, now, f))
    }

    /// A tier's calls over all queues in the `window` before `now`, to the minute, for
    /// windows up to [`RECENT_SPAN`]. `timed_out` is not kept by minute and reads 0.
    pub fn recent(&self, tier: TierId, window: Duration, now: Millis) -> Counts {
        let minutes = (window.min(RECENT_SPAN).as_secs() / 60).max(1);
        let newest = now.0 / 60_000 + 1;
        let oldest = newest.saturating_sub(minutes - 1);
        let mut out = Counts::default();
        for q in 0..self.recent.len() {
            if self.recent[q].get().is_none() {
                break;
            }
            out.add(&self.minutes_of(QueueId(q as u16), tier, oldest, newest));
        }
        out
    }

    /// One queue and tier's calls from the minute of `since` to that of `now` (at most
    /// [`RECENT_SPAN`] back), offered included.
    pub fn recent_in(&self, queue: QueueId, tier: TierId, since: Millis, now: Millis) -> Counts {
        let newest = now.0 / 60_000 + 1;
        let span = RECENT_SPAN.as_secs() / 60;
        let oldest = (since.0 / 60_000 + 1).max(newest.saturating_sub(span - 1));
        self.minutes_of(queue, tier, oldest, newest)
    }

    /// Counts in the minute buckets tagged `oldest..=newest` (minute numbers plus one).
    fn minutes_of(&self, queue: QueueId, tier: TierId, oldest: u64, newest: u64) -> Counts {
        let mut out = Counts::default();
        let Some(recent) = self.recent_of(queue, tier) else {
            return out;
        };
        if let Some(ring) = recent.offered.get() {
            out.offered = ring
                .iter()
                .map(|slot| slot.load(Relaxed))
                .filter(|v| (oldest..=newest).contains(&(v >> 32)))
                .map(|v| v & 0xFFFF_FFFF)
                .sum();
        }
        if let Some(ring) = recent.outcomes.get() {
            add_minutes(&mut out, ring, oldest, newest);
        }
        out
    }

    pub fn answered(
        &self,
        queue: QueueId,
        tier: TierId,
        waited: Duration,
        standard: Duration,
        now: Millis,
    ) {
        let wait_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        self.minute(queue, tier, now, |m| {
            m.answered += 1;
            m.in_standard += u32::from(waited <= standard);
            m.wait_ms = m.wait_ms.saturating_add(wait_ms);
        });
        if let Some(c) = self.cell(queue, tier) {
            c.answer(waited, standard);
        }
    }

    pub fn abandoned(
        &self,
        queue: QueueId,
        tier: TierId,
        waited: Duration,
        standard: Duration,
        now: Millis,
    ) {
        self.minute(queue, tier, now, |m| {
            m.abandoned += 1;
            m.abandoned_after += u32::from(waited > standard);
        });
        if let Some(c) = self.cell(queue, tier) {
            c.abandon(waited, standard);
        }
    }

    pub fn timed_out(&self, queue: QueueId, tier: TierId) {
        if let Some(c) = self.cell(queue, tier) {
            c.timed_out.fetch_add(1, Relaxed);
        }
    }

    pub fn counts(&self, queue: QueueId, tier: TierId) -> Counts {
        self.cell(queue, tier)
            .map_or_else(Counts::default, Cell::counts)
    }

    fn channel_cell(&self, channel: Channel, tier: TierId) -> Option<&Cell> {
        self.channels
            .get(channel as usize * MAX_TIERS + usize::from(tier.0))
    }

    /// A contact of `channel` entered a queue.
    pub fn channel_offered(&self, channel: Channel, tier: TierId) {
        if let Some(c) = self.channel_cell(channel, tier) {
            c.offered.fetch_add(1, Relaxed);
        }
    }

    /// A contact of `channel` was answered or abandoned after `waited`, against the
    /// tier's standard for the channel.
    pub fn channel_outcome(
        &self,
        channel: Channel,
        tier: TierId,
        answered: bool,
        waited: Duration,
        standard: Duration,
        now: Millis,
    ) {
        let at = channel as usize * MAX_TIERS + usize::from(tier.0);
        let (Some(c), Some(ring)) = (self.channels.get(at), self.channel_minutes.get(at)) else {
            return;
        };
        let wait_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        in_minute(ring, now, |m| {
            if answered {
                m.answered += 1;
                m.in_standard += u32::from(waited <= standard);
                m.wait_ms = m.wait_ms.saturating_add(wait_ms);
            } else {
                m.abandoned += 1;
                m.abandoned_after += u32::from(waited > standard);
            }
        });
        if answered {
            c.answer(waited, standard);
        } else {
            c.abandon(waited, standard);
        }
    }

    /// A tier's contacts of `channel` over all queues in the `window` before `now`, to
    /// the minute, for windows up to [`RECENT_SPAN`], each held to the tier's standard
    /// for the channel. `offered` and `timed_out` are not kept by minute and read 0.
    pub fn recent_channel(
        &self,
        channel: Channel,
        tier: TierId,
        window: Duration,
        now: Millis,
    ) -> Counts {
        let minutes = (window.min(RECENT_SPAN).as_secs() / 60).max(1);
        let newest = now.0 / 60_000 + 1;
        let oldest = newest.saturating_sub(minutes - 1);
        let mut out = Counts::default();
        if let Some(ring) = self
            .channel_minutes
            .get(channel as usize * MAX_TIERS + usize::from(tier.0))
            .and_then(OnceLock::get)
        {
            add_minutes(&mut out, ring, oldest, newest);
        }
        out
    }

    /// A contact of `channel` reached its queue's maximum wait.
    pub fn channel_timed_out(&self, channel: Channel, tier: TierId) {
        if let Some(c) = self.channel_cell(channel, tier) {
            c.timed_out.fetch_add(1, Relaxed);
        }
    }

    /// A channel and tier's contacts over all queues since start.
    pub fn channel_counts(&self, channel: Channel, tier: TierId) -> Counts {
        self.channel_cell(channel, tier)
            .map_or_else(Counts::default, Cell::counts)
    }
}

impl Cell {
    fn answer(&self, waited: Duration, standard: Duration) {
        self.answered.fetch_add(1, Relaxed);
        self.answer_wait_ms.fetch_add(
            u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            Relaxed,
        );
        if waited <= standard {
            self.answered_in_standard.fetch_add(1, Relaxed);
        }
    }

    fn abandon(&self, waited: Duration, standard: Duration) {
        self.abandoned.fetch_add(1, Relaxed);
        if waited > standard {
            self.abandoned_after_standard.fetch_add(1, Relaxed);
        }
    }

    fn counts(&self) -> Counts {
        Counts {
            offered: self.offered.load(Relaxed),
            answered: self.answered.load(Relaxed),
            answered_in_standard: self.answered_in_standard.load(Relaxed),
            answer_wait: Duration::from_millis(self.answer_wait_ms.load(Relaxed)),
            abandoned: self.abandoned.load(Relaxed),
            abandoned_after_standard: self.abandoned_after_standard.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
        }
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
            s.offered(q, t, Millis(0));
        }
        s.answered(q, t, Duration::from_secs(5), standard, Millis(0));
        s.answered(q, t, Duration::from_secs(15), standard, Millis(0));
        s.answered(q, t, Duration::from_secs(40), standard, Millis(0));
        s.abandoned(q, t, Duration::from_secs(3), standard, Millis(0));
        s.abandoned(q, t, Duration::from_secs(30), standard, Millis(0));
        let c = s.counts(q, t);
        assert_eq!((c.offered, c.answered, c.abandoned), (5, 3, 2));
        // 2 in standard of (3 answered + 1 late abandon).
        assert_eq!(c.service_level(), Some(0.5));
        assert_eq!(c.average_speed_of_answer(), Some(Duration::from_secs(20)));
        assert_eq!(s.counts(QueueId(0), t), Counts::default());
        assert_eq!(Counts::default().service_level(), None);
    }

    #[test]
    fn the_recent_window_slides_by_the_minute() {
        let s = Stats::new(2);
        let (t, other) = (TierId(0), TierId(1));
        let standard = Duration::from_secs(20);
        let minute = |m: u64| Millis(m * 60_000 + 30_000);
        let fast = Duration::from_secs(5);
        let slow = Duration::from_secs(90);
        // Minute 0: two answered in standard. Minute 10: one slow, one late abandon and
        // an early abandon. Another tier's call counts apart, in another queue too.
        s.answered(QueueId(0), t, fast, standard, minute(0));
        s.answered(QueueId(1), t, fast, standard, minute(0));
        s.answered(QueueId(0), t, slow, standard, minute(10));
        s.abandoned(QueueId(0), t, Duration::from_secs(40), standard, minute(10));
        s.abandoned(QueueId(0), t, Duration::from_secs(2), standard, minute(10));
        s.answered(QueueId(0), other, slow, standard, minute(10));
        let now = minute(10);
        let all = s.recent(t, Duration::from_secs(15 * 60), now);
        assert_eq!(
            (all.answered, all.answered_in_standard, all.abandoned),
            (3, 2, 2)
        );
        assert_eq!(all.abandoned_after_standard, 1);
        assert_eq!(all.service_level(), Some(0.5));
        assert_eq!(
            all.average_speed_of_answer(),
            Some(Duration::from_secs(100) / 3)
        );
        // Ten minutes back from minute 10 reaches minute 1 only: the early calls are out.
        let last = s.recent(t, Duration::from_secs(10 * 60), now);
        assert_eq!((last.answered, last.answered_in_standard), (1, 0));
        assert_eq!(last.service_level(), Some(0.0));
        // A day later the buckets have been passed by: nothing left in the window.
        let later = s.recent(t, RECENT_SPAN, minute(10 + 24 * 60));
        assert_eq!(later, Counts::default());
        // Writing a day later reuses minute 10's bucket without its old counts.
        s.answered(QueueId(0), t, fast, standard, minute(10 + 24 * 60));
        let reused = s.recent(t, Duration::from_secs(60), minute(10 + 24 * 60));
        assert_eq!((reused.answered, reused.abandoned), (1, 0));
        assert_eq!(s.recent(other, RECENT_SPAN, now).answered, 1);
        assert_eq!(s.recent(TierId(2), RECENT_SPAN, now), Counts::default());
    }

    #[test]
    fn a_channels_window_counts_its_own_contacts_against_its_own_standard() {
        let s = Stats::new(1);
        let t = TierId(0);
        let minute = |m: u64| Millis(m * 60_000 + 30_000);
        let (chat, email) = (Duration::from_secs(30), Duration::from_secs(4 * 3_600));
        // Chats: one in 10 s, one in 45 s (late), one abandoned after 40 s (late).
        s.channel_outcome(
            Channel::Chat,
            t,
            true,
            Duration::from_secs(10),
            chat,
            minute(0),
        );
        s.channel_outcome(
            Channel::Chat,
            t,
            true,
            Duration::from_secs(45),
            chat,
            minute(5),
        );
        s.channel_outcome(
            Channel::Chat,
            t,
            false,
            Duration::from_secs(40),
            chat,
            minute(5),
        );
        // An email answered in an hour meets its four-hour standard.
        let hour = Duration::from_secs(3_600);
        s.channel_outcome(Channel::Email, t, true, hour, email, minute(5));
        let now = minute(5);
        let chats = s.recent_channel(Channel::Chat, t, Duration::from_secs(15 * 60), now);
        assert_eq!(
            (chats.answered, chats.answered_in_standard, chats.abandoned),
            (2, 1, 1)
        );
        assert_eq!(chats.abandoned_after_standard, 1);
        assert_eq!(chats.service_level(), Some(1.0 / 3.0));
        let emails = s.recent_channel(Channel::Email, t, Duration::from_secs(15 * 60), now);
        assert_eq!((emails.answered, emails.answered_in_standard), (1, 1));
        assert_eq!(emails.average_speed_of_answer(), Some(hour));
        // Two minutes back reaches minute 4 only: the first chat is out.
        let last = s.recent_channel(Channel::Chat, t, Duration::from_secs(120), now);
        assert_eq!((last.answered, last.abandoned), (1, 1));
        assert_eq!(
            s.recent_channel(Channel::Social, t, RECENT_SPAN, now),
            Counts::default()
        );
        assert_eq!(
            s.recent_channel(Channel::Chat, TierId(1), RECENT_SPAN, now),
            Counts::default()
        );
    }

    #[test]
    fn one_queues_window_counts_its_own_calls_offered_included() {
        let s = Stats::new(2);
        let (q, other, t) = (QueueId(0), QueueId(1), TierId(0));
        let standard = Duration::from_secs(20);
        let minute = |m: u64| Millis(m * 60_000 + 30_000);
        for _ in 0..3 {
            s.offered(q, t, minute(0));
        }
        s.offered(q, t, minute(5));
        s.offered(other, t, minute(5));
        s.answered(q, t, Duration::from_secs(5), standard, minute(5));
        s.abandoned(other, t, Duration::from_secs(50), standard, minute(5));
        let now = minute(5);
        let mine = s.recent_in(q, t, Millis(0), now);
        assert_eq!((mine.offered, mine.answered, mine.abandoned), (4, 1, 0));
        assert_eq!(mine.service_level(), Some(1.0));
        // From minute 1 on, minute 0's offers are out.
        assert_eq!(s.recent_in(q, t, minute(1), now).offered, 1);
        let theirs = s.recent_in(other, t, minute(5), now);
        assert_eq!((theirs.offered, theirs.abandoned), (1, 1));
        assert_eq!(theirs.service_level(), Some(0.0));
        // The tier over all queues adds both.
        let all = s.recent(t, Duration::from_secs(10 * 60), now);
        assert_eq!((all.offered, all.answered, all.abandoned), (5, 1, 1));
        // A day on, minute 5's slot is reused without its old offers.
        s.offered(q, t, minute(5 + 24 * 60));
        let later = s.recent_in(q, t, Millis(0), minute(5 + 24 * 60));
        assert_eq!(later.offered, 1);
    }
}
