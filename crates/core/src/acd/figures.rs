//! Figures read from the live state: queue snapshots, members, handle times, staffing and
//! estimated waits (for rules, statistics and the floor).

use super::*;

impl Acd {
    /// The calls waiting in a queue (kept-for-an-agent ones included) and its agents by
    /// state, for statistics.
    pub fn snapshot(&self, queue: QueueId) -> Option<QueueSnapshot> {
        let q = self.queue(queue).ok()?;
        let mut waiting: Vec<(TierId, Millis)> = Vec::new();
        for lane in Lane::ALL {
            waiting.extend(
                q.list(lane)
                    .glance_all()
                    .iter()
                    .map(|c| (c.tier, c.arrived)),
            );
        }
        for list in self.promised.iter() {
            waiting.extend(
                list.iter()
                    .filter(|p| p.queue == queue)
                    .map(|p| (p.call.tier, p.call.arrived)),
            );
        }
        let mut agents = Vec::new();
        for a in q.members.read().unwrap_or_else(|e| e.into_inner()).iter() {
            agents.push(a.state());
        }
        Some(QueueSnapshot { waiting, agents })
    }

    /// The logged-in agents whose skills qualify for the queue.
    pub fn members(&self, queue: QueueId) -> Vec<Arc<Agent>> {
        self.queue(queue).map_or_else(
            |_| Vec::new(),
            |q| q.members.read().unwrap_or_else(|e| e.into_inner()).clone(),
        )
    }

    /// The queue's average handle time (talk plus wrap-up) over recent calls.
    pub fn average_handle_time(&self, queue: QueueId) -> Option<std::time::Duration> {
        let q = self.queue(queue).ok()?;
        Some(std::time::Duration::from_millis(q.handle_ms.load(SeqCst)))
    }

    /// Agents who will take the queue's calls: logged in and not stepped away.
    pub fn staffed(&self, queue: QueueId) -> usize {
        let Ok(q) = self.queue(queue) else {
            return 0;
        };
        self.counted(q, &q.staffed_at, |_| 1)
    }

    /// Units of `lane` the queue's staffed members may hold at once: each member's
    /// limit (voice: 1 for an agent who takes calls), or the cap of a mix that lane is in
    /// when lower (three chats each, for a floor of chat 3).
    pub fn staffed_units(&self, queue: QueueId, lane: Lane) -> usize {
        let Ok(q) = self.queue(queue) else {
            return 0;
        };
        self.counted(q, q.lane_figures(lane).1, |a| {
            let rules = a.rules.load();
            let cap = rules
                .mixes
                .iter()
                .filter(|(set, _)| set.contains(lane))
                .map(|(_, total)| *total)
                .min()
                .unwrap_or(u8::MAX);
            usize::from(a.limits().get(lane).min(cap))
        })
    }

    /// The sum of `each` over the queue's staffed members, kept in `cache` until the
    /// staffing changes.
    fn counted(&self, q: &QueueState, cache: &AtomicU64, each: impl Fn(&Agent) -> usize) -> usize {
        // Read the version first: a count made after this read reflects every change
        // up to it (a change bumps the version after it is made).
        let version = self.staffing.load(SeqCst);
        let cached = cache.load(SeqCst);
        if cached >> STAFFED_BITS == version {
            return (cached & ((1 << STAFFED_BITS) - 1)) as usize;
        }
        let count: usize = q
            .members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|a| a.state().staffed())
            .map(|a| each(a))
            .sum();
        let fresh = version << STAFFED_BITS | (count as u64).min((1 << STAFFED_BITS) - 1);
        // Never replace a count of a later version with this one.
        let _ = cache.fetch_update(SeqCst, SeqCst, |old| {
            (old >> STAFFED_BITS < version).then_some(fresh)
        });
        count
    }

    /// Estimated wait for a call at `position` (1-based): `position x AHT / N` with N
    /// the staffed agents who take calls. Why this method: with N agents busy, one frees up about every
    /// AHT/N (their remaining times are spread over a handle time), and the call needs
    /// `position` of those; it needs only live counts, reacts at once to staffing, and
    /// errs long rather than short when agents are idle. `None` when nobody is staffed:
    /// no honest estimate exists.
    pub fn estimated_wait(&self, queue: QueueId, position: usize) -> Option<std::time::Duration> {
        self.estimated_wait_in(queue, Lane::Voice, position)
    }

    /// [`Acd::estimated_wait`] for work of `lane` at `position` in that lane: N is the
    /// units of the lane the staffed members may hold at once and the handle time the
    /// lane's own (an agent holding three chats frees one about three times as often as
    /// a chat's handle time).
    pub fn estimated_wait_in(
        &self,
        queue: QueueId,
        lane: Lane,
        position: usize,
    ) -> Option<std::time::Duration> {
        let units = self.staffed_units(queue, lane);
        if units == 0 {
            return None;
        }
        let q = self.queue(queue).ok()?;
        let aht = std::time::Duration::from_millis(q.lane_figures(lane).0.load(SeqCst));
        Some(
            aht * u32::try_from(position).unwrap_or(u32::MAX)
                / u32::try_from(units).unwrap_or(u32::MAX),
        )
    }
}
