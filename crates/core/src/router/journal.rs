//! Calls in progress as they can be written down and put back after a restart.
//!
//! An image names everything (queues, menus, rules, lines, tiers) instead of using the
//! plan's indexes, so it survives a restart whose config was edited meanwhile: a name the
//! new plan no longer has is mapped the way a reload would map it (a removed queue's calls
//! go where its calls go) or dropped from lists.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};

use super::{Action, CallState, Channel, Decision, DigitTrail, MatchedRules, Placement, Reason};
use crate::{
    acd::{AcdError, Assignment, Located, WaitKey, WaitingCall},
    clock::Millis,
    customer::{Preference, TierId},
    number::E164,
    plan::{MenuId, QueueId, RoutePlan, RuleId},
};

/// How a call ended, for its call detail record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An agent took it and it ended.
    Completed,
    /// The caller hung up before an agent answered.
    Abandoned,
    /// The queue's maximum wait sent it to voicemail.
    Voicemail,
    /// The switch never reported its end; forgotten after `calls.forget_after` (or
    /// silent at a menu past `calls.menu_timeout`).
    Expired,
    /// The caller hung up at a menu, before reaching a queue.
    AbandonedInMenu,
    /// The customer answered none of the callbacks tried (`calls.callback_attempts`).
    CallbackUnanswered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Abandoned => "abandoned",
            Outcome::Voicemail => "voicemail",
            Outcome::Expired => "expired",
            Outcome::AbandonedInMenu => "abandoned_in_menu",
            Outcome::CallbackUnanswered => "callback_unanswered",
        }
    }
}

/// What happened to a call after its first decision, for its call detail record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallRecord {
    /// When an agent was connected, and who.
    pub answered: Option<Millis>,
    pub agent: Option<String>,
    pub ended: Option<Millis>,
    pub outcome: Option<Outcome>,
    /// The agent's wrap-up code and whether the matter was resolved.
    pub disposition: Option<String>,
    pub resolved: Option<bool>,
    /// Survey answers: satisfaction 1 to 5, likelihood to recommend 0 to 10.
    pub satisfaction: Option<u8>,
    pub recommend: Option<u8>,
    pub transfers: u8,
    /// A retention offer made on the call: accepted (a customer save) or declined.
    pub retention: Option<bool>,
    /// When the customer's callback is (or was last) scheduled for, and how many times
    /// they did not answer one.
    pub callback_due: Option<Millis>,
    pub callbacks_unanswered: u8,
}

/// A decision by names. Fields marked `default` may be missing from images written by
/// earlier versions (as JSON, which left out empty lists, `None` and `false`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionImage {
    pub action: ActionImage,
    pub reason: ReasonImage,
    #[serde(default)]
    pub matched: Vec<String>,
    pub line: String,
    #[serde(default)]
    pub redirected_from: Option<String>,
    #[serde(default)]
    pub menu_skipped: bool,
    pub placement: PlacementImage,
    #[serde(default)]
    pub offer_callback: bool,
    #[serde(default)]
    pub prefer_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionImage {
    Menu { menu: String, attempt: u8 },
    Enqueue { queue: String, priority: i32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonImage {
    Rule(String),
    LineEntry,
    MenuOption { menu: String, option: u8 },
    InvalidInput(String),
    MenuFallback(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementImage {
    NotQueued,
    Waiting {
        position: u32,
        estimated_wait_ms: Option<u64>,
        callback_offered: bool,
    },
    Assigned,
    Closed,
}

/// A waiting call's own fields (its id and switch are the call's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitImage {
    pub priority: i32,
    pub arrived: Millis,
    pub preference: Preference,
    pub callback: bool,
    pub tier: String,
    pub max_wait_met: bool,
}

/// Where the call stands in the distributor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceImage {
    Waiting {
        queue: String,
        neg_key: i64,
        seq: u64,
        aging_per_minute: i64,
        call: WaitImage,
    },
    Promised {
        queue: String,
        agent: String,
        until: Millis,
        call: WaitImage,
    },
    Held {
        queue: String,
        agent: String,
        connected: bool,
        since: Millis,
        call: WaitImage,
    },
    /// A callback scheduled for `due`.
    Scheduled {
        queue: String,
        due: Millis,
        call: WaitImage,
    },
}

/// A call in progress, by names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallImage {
    /// The call's key in the store: unique, and rising with arrival time, so new rows
    /// go at the end of the store's tables.
    pub key: u64,
    pub call_id: String,
    pub switch_id: String,
    /// The caller's number (E.164 digits), when it was usable.
    pub number: Option<u64>,
    pub channel: Channel,
    pub created: Millis,
    pub tier: String,
    pub preference: Preference,
    pub priority: i32,
    pub offer_callback: bool,
    pub first_prompt_pending: bool,
    pub outcome_counted: bool,
    pub last_agent: Option<String>,
    /// Menu answers so far, comma-separated.
    #[serde(default)]
    pub digits: String,
    pub first: DecisionImage,
    /// The latest decision; `None` while it is still the first.
    #[serde(default)]
    pub current: Option<DecisionImage>,
    /// The queue the call entered last, and when.
    #[serde(default)]
    pub queued: Option<(String, Millis)>,
    #[serde(default)]
    pub place: Option<PlaceImage>,
    #[serde(default)]
    pub record: CallRecord,
}

/// What putting calls back did.
#[derive(Debug, Default)]
pub struct Restored {
    pub calls: usize,
    /// Calls offered to an agent when the process stopped, offered again: the switch gets
    /// them when it reconnects.
    pub pending: Vec<Assignment>,
    /// What could not be put back as it was, and what was done instead.
    pub notes: Vec<String>,
    /// Calls put back otherwise than their image says (moved, re-keyed): their images are
    /// to be written again.
    pub changed: Vec<Arc<str>>,
}

fn decision_image(plan: &RoutePlan, current: &RoutePlan, d: &Decision) -> DecisionImage {
    let menu = |m: MenuId| plan.menu(m).name.clone();
    DecisionImage {
        action: match d.action {
            Action::PlayMenu { menu: m, attempt } => ActionImage::Menu {
                menu: menu(m),
                attempt,
            },
            Action::Enqueue { queue, priority } => ActionImage::Enqueue {
                queue: current.queue(queue).name.clone(),
                priority,
            },
        },
        reason: match d.reason {
            Reason::Rule(r) => ReasonImage::Rule(plan.rule(r).name.clone()),
            Reason::LineEntry => ReasonImage::LineEntry,
            Reason::MenuOption { menu: m, option } => ReasonImage::MenuOption {
                menu: menu(m),
                option,
            },
            Reason::InvalidInput(m) => ReasonImage::InvalidInput(menu(m)),
            Reason::MenuFallback(m) => ReasonImage::MenuFallback(menu(m)),
        },
        matched: d
            .matched
            .iter()
            .map(|r| plan.rule(r).name.clone())
            .collect(),
        line: plan.line(d.line).name.clone(),
        redirected_from: d.redirected_from.map(|l| plan.line(l).name.clone()),
        menu_skipped: d.menu_skipped,
        placement: match d.placement {
            Placement::NotQueued => PlacementImage::NotQueued,
            Placement::Assigned => PlacementImage::Assigned,
            Placement::Closed => PlacementImage::Closed,
            Placement::Waiting {
                position,
                estimated_wait,
                callback_offered,
            } => PlacementImage::Waiting {
                position,
                estimated_wait_ms: estimated_wait
                    .map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
                callback_offered,
            },
        },
        offer_callback: d.offer_callback,
        prefer_agent: d.prefer_agent.map(|r| plan.rule(r).name.clone()),
    }
}

/// Names back to the ids of `plan`. A queue or menu the plan no longer has is a reason
/// to give up on the decision (the caller puts the call where such calls go).
struct Names<'a> {
    plan: &'a RoutePlan,
}

impl Names<'_> {
    fn queue(&self, name: &str) -> Option<QueueId> {
        // A retired queue keeps its slot and name; the ACD sends its calls on.
        self.plan
            .queues
            .iter()
            .position(|q| q.name == name)
            .map(|i| QueueId(i as u16))
    }

    fn menu(&self, name: &str) -> Option<MenuId> {
        self.plan
            .menus
            .iter()
            .position(|m| m.name == name)
            .map(|i| MenuId(i as u16))
    }

    fn rule(&self, name: &str) -> Option<RuleId> {
        self.plan
            .rules
            .iter()
            .position(|r| r.name == name)
            .map(|i| RuleId(i as u16))
    }

    fn line(&self, name: &str) -> Option<crate::plan::LineId> {
        self.plan
            .lines
            .iter()
            .position(|l| l.name == name)
            .map(|i| crate::plan::LineId(i as u16))
    }

    fn decision(&self, d: &DecisionImage) -> Result<Decision, String> {
        let menu = |name: &str| self.menu(name).ok_or(format!("menu {name} is gone"));
        let action = match &d.action {
            ActionImage::Menu { menu: m, attempt } => Action::PlayMenu {
                menu: menu(m)?,
                attempt: *attempt,
            },
            // A removed queue's calls go to the fallback queue, as on a reload.
            ActionImage::Enqueue { queue, priority } => Action::Enqueue {
                queue: self
                    .queue(queue)
                    .or(self.plan.fallback_queue)
                    .ok_or(format!(
                        "queue {queue} is gone (and no calls.fallback_queue is set)"
                    ))?,
                priority: *priority,
            },
        };
        let reason = match &d.reason {
            ReasonImage::Rule(r) => self.rule(r).map_or(Reason::LineEntry, Reason::Rule),
            ReasonImage::LineEntry => Reason::LineEntry,
            ReasonImage::MenuOption { menu: m, option } => Reason::MenuOption {
                menu: menu(m)?,
                option: *option,
            },
            ReasonImage::InvalidInput(m) => Reason::InvalidInput(menu(m)?),
            ReasonImage::MenuFallback(m) => Reason::MenuFallback(menu(m)?),
        };
        let mut matched = MatchedRules::default();
        for r in d.matched.iter().filter_map(|r| self.rule(r)) {
            matched.push(r);
        }
        Ok(Decision {
            action,
            reason,
            matched,
            line: self.line(&d.line).unwrap_or(self.plan.default_line),
            redirected_from: d.redirected_from.as_deref().and_then(|l| self.line(l)),
            menu_skipped: d.menu_skipped,
            placement: match d.placement {
                PlacementImage::NotQueued => Placement::NotQueued,
                PlacementImage::Assigned => Placement::Assigned,
                PlacementImage::Closed => Placement::Closed,
                PlacementImage::Waiting {
                    position,
                    estimated_wait_ms,
                    callback_offered,
                } => Placement::Waiting {
                    position,
                    estimated_wait: estimated_wait_ms.map(Duration::from_millis),
                    callback_offered,
                },
            },
            offer_callback: d.offer_callback,
            prefer_agent: d.prefer_agent.as_deref().and_then(|r| self.rule(r)),
        })
    }

    fn tier(&self, name: &str) -> TierId {
        self.plan.tier_by_name(name).unwrap_or_default()
    }

    fn waiting_call(&self, image: &CallImage, w: &WaitImage) -> WaitingCall {
        WaitingCall {
            call_id: Arc::from(image.call_id.as_str()),
            switch_id: Arc::from(image.switch_id.as_str()),
            priority: w.priority,
            arrived: w.arrived,
            preference: w.preference,
            callback: w.callback,
            tier: self.tier(&w.tier),
            max_wait_met: w.max_wait_met,
            channel: image.channel,
        }
    }
}

fn wait_image(plan: &RoutePlan, c: &WaitingCall) -> WaitImage {
    WaitImage {
        priority: c.priority,
        arrived: c.arrived,
        preference: c.preference,
        callback: c.callback,
        tier: plan.tier(c.tier).name.clone(),
        max_wait_met: c.max_wait_met,
    }
}

impl super::Router {
    /// A call in progress, by names, for the journal; `None` once forgotten.
    pub fn call_image(&self, call_id: &str) -> Option<CallImage> {
        let state = self.calls.get(call_id)?;
        let current = self.plan.load();
        Some(self.image_of(call_id, &state, &current))
    }

    pub(super) fn image_of(
        &self,
        call_id: &str,
        state: &CallState,
        current: &RoutePlan,
    ) -> CallImage {
        let own = &state.plan;
        // Queue ids mean the same in every plan of this process, and the current plan
        // knows them all (a reload only adds queues).
        let queue_name = |q: QueueId| current.queue(q).name.clone();
        let place = self.acd.locate(call_id).map(|l| match l {
            Located::Waiting {
                queue,
                key,
                call,
                aging_per_minute,
            } => {
                let (neg_key, seq) = key.parts();
                PlaceImage::Waiting {
                    queue: queue_name(queue),
                    neg_key,
                    seq,
                    aging_per_minute,
                    call: wait_image(current, &call),
                }
            }
            Located::Scheduled { queue, due, call } => PlaceImage::Scheduled {
                queue: queue_name(queue),
                due,
                call: wait_image(current, &call),
            },
            Located::Promised {
                agent,
                queue,
                until,
                call,
            } => PlaceImage::Promised {
                queue: queue_name(queue),
                agent: agent.into(),
                until,
                call: wait_image(current, &call),
            },
            Located::Held {
                agent,
                queue,
                call,
                connected,
                since,
            } => PlaceImage::Held {
                queue: queue_name(queue),
                connected,
                since,
                agent: agent.profile.id.clone(),
                call: wait_image(current, &call),
            },
        });
        // Decisions refer to the call's own plan, except their queue: placing a call may
        // have redirected it to a queue only the current plan names.
        let decision = |d: &Decision| decision_image(own, current, d);
        CallImage {
            key: state.key,
            call_id: call_id.to_owned(),
            switch_id: state.switch_id.to_string(),
            number: state.number.map(E164::as_u64),
            channel: state.channel,
            created: state.created(),
            tier: own.tier(state.tier).name.clone(),
            preference: state.preference,
            priority: state.priority,
            offer_callback: state.offer_callback,
            first_prompt_pending: state.first_prompt_pending,
            outcome_counted: state.outcome_counted,
            last_agent: state.last_agent.as_deref().map(|a| a.to_string()),
            digits: state
                .digits
                .as_deref()
                .map_or(String::new(), |d| d.as_str().to_owned()),
            first: decision(&state.first()),
            current: state.first.is_some().then(|| decision(&state.current)),
            queued: state.queued.map(|(q, t)| (queue_name(q), t)),
            place,
            record: state.record.as_deref().cloned().unwrap_or_default(),
        }
    }

    /// Notes what happened to a call, for its call detail record.
    /// The names of a call's tier and of the queue it entered (if it did), under the
    /// plan it was routed by: what statistics of the call are labelled with.
    pub fn tier_and_queue(&self, call_id: &str) -> Option<(String, Option<String>)> {
        let state = self.calls.get(call_id)?;
        let tier = state.plan.tier(state.tier).name.clone();
        let queue = state.queued.map(|(q, _)| state.plan.queue(q).name.clone());
        Some((tier, queue))
    }

    pub fn record(&self, call_id: &str, f: impl FnOnce(&mut CallRecord)) {
        if let Some(mut state) = self.calls.get_mut(call_id) {
            f(state.record.get_or_insert_with(Box::default));
        }
    }

    /// Puts calls back as the journal recorded them, in the order given (oldest first is
    /// best: ties in a queue keep their recorded sequence anyway). Agents must be back
    /// first. A call already known is left as it is.
    pub fn restore_calls(&self, images: Vec<CallImage>, now: Millis) -> Restored {
        let plan = self.plan.load_full();
        let names = Names { plan: &plan };
        let mut out = Restored::default();
        for image in images {
            if self.calls.contains_key(image.call_id.as_str()) {
                continue;
            }
            let (first, current) = match (
                names.decision(&image.first),
                names.decision(image.current.as_ref().unwrap_or(&image.first)),
            ) {
                (Ok(f), Ok(c)) => (f, c),
                (Err(e), _) | (_, Err(e)) => {
                    out.notes.push(format!(
                        "call {}: not restored: {e} from the config",
                        image.call_id
                    ));
                    continue;
                }
            };
            let call_id: Arc<str> = Arc::from(image.call_id.as_str());
            let mut digits = None;
            if !image.digits.is_empty() {
                let mut trail = Box::new(DigitTrail::EMPTY);
                for d in image.digits.split(',') {
                    trail.push(d);
                }
                digits = Some(trail);
            }
            let queued = image
                .queued
                .as_ref()
                .and_then(|(q, t)| names.queue(q).map(|q| (self.acd.destination(q), *t)));
            let state = CallState {
                plan: Arc::clone(&plan),
                first: (first != current).then(|| Box::new(first)),
                current,
                number: image.number.and_then(E164::from_u64),
                priority: image.priority,
                preference: image.preference,
                last_agent: image.last_agent.as_deref().map(|a| Box::new(Arc::from(a))),
                offer_callback: image.offer_callback,
                tier: names.tier(&image.tier),
                queued,
                outcome_counted: image.outcome_counted,
                first_prompt_pending: image.first_prompt_pending,
                digits,
                channel: image.channel,
                // A call back at a menu gets the whole of `calls.menu_timeout` again.
                decided: now,
                key: image.key,
                switch_id: Arc::from(image.switch_id.as_str()),
                record: (image.record != CallRecord::default())
                    .then(|| Box::new(image.record.clone())),
            };
            let (began, at_menu) = (super::upkeep::began(&state), super::upkeep::at_menu(&state));
            self.calls.insert(Arc::clone(&call_id), Box::new(state));
            self.began.push(began, &call_id);
            if at_menu {
                self.at_menu.push(now, &call_id);
            }
            out.calls += 1;
            if let Some(place) = &image.place {
                self.restore_place(&names, &image, place, now, &mut out);
            }
            // Put back exactly as written, or somewhere else (another queue, a new key)?
            if self.call_image(&call_id).as_ref() != Some(&image) {
                out.changed.push(call_id);
            }
        }
        out
    }

    fn restore_place(
        &self,
        names: &Names<'_>,
        image: &CallImage,
        place: &PlaceImage,
        now: Millis,
        out: &mut Restored,
    ) {
        let (queue_name, w) = match place {
            PlaceImage::Waiting { queue, call, .. }
            | PlaceImage::Promised { queue, call, .. }
            | PlaceImage::Held { queue, call, .. }
            | PlaceImage::Scheduled { queue, call, .. } => (queue, call),
        };
        let call = names.waiting_call(image, w);
        let Some(queue) = names.queue(queue_name).or(names.plan.fallback_queue) else {
            out.notes.push(format!(
                "call {}: queue {queue_name} is gone and no calls.fallback_queue is set; not put back",
                image.call_id
            ));
            return;
        };
        let home = self.acd.destination(queue);
        let result: Result<(), AcdError> = match place {
            PlaceImage::Waiting {
                neg_key,
                seq,
                aging_per_minute,
                ..
            } if home == queue && names.queue(queue_name) == Some(queue) => {
                self.acd.restore_waiting(
                    queue,
                    WaitKey::from_parts(*neg_key, *seq),
                    *aging_per_minute,
                    call.clone(),
                )
            }
            PlaceImage::Promised { agent, until, .. } => self
                .acd
                .restore_promise(home, agent, *until, call.clone(), now)
                .map(|_| ()),
            // Due while the process was down: the next upkeep releases it.
            PlaceImage::Scheduled { due, .. } => self.acd.schedule(home, call.clone(), *due),
            PlaceImage::Held {
                agent,
                connected,
                since,
                ..
            } => match self
                .acd
                .restore_held(agent, home, call.clone(), *connected, *since)
            {
                Ok(a) => {
                    if !connected {
                        out.pending.push(a);
                    }
                    Ok(())
                }
                Err(e) => {
                    out.notes.push(format!(
                        "call {}: agent {agent} cannot take it back ({e}); it waits in its queue",
                        image.call_id
                    ));
                    self.acd.enqueue(home, call.clone(), now).map(|_| ())
                }
            },
            // Its queue was removed while the process was down: where its calls go now.
            PlaceImage::Waiting { .. } => self.acd.enqueue(home, call.clone(), now).map(|_| ()),
        };
        if let Err(e) = result {
            out.notes.push(format!(
                "call {}: not put back in its queue: {e}",
                image.call_id
            ));
        }
    }
}

/// Channels and preferences are written by name.
impl Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown channel {name:?}")))
    }
}
