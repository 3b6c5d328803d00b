//! Calls and agents to journal in tests: a live source the writer reads, a waiting call
//! and an agent as the router would describe them. For the store's tests on either
//! backend; not part of its interface.

use std::{collections::HashMap, sync::Mutex};

use switchboard_core::{
    Millis, Preference,
    acd::{AgentImage, AgentProfile, AgentState},
    router::{
        ActionImage, CallImage, CallRecord, Channel, DecisionImage, PlaceImage, PlacementImage,
        ReasonImage, WaitImage,
    },
};

use crate::{
    journal::LiveSource,
    writer::{Change, Writer},
};

/// What the writer reads: calls and agents as they are now.
#[derive(Debug, Default)]
pub struct Source {
    pub calls: Mutex<HashMap<String, CallImage>>,
    pub agents: Mutex<HashMap<String, AgentImage>>,
}

impl LiveSource for Source {
    fn call(&self, id: &str) -> Option<CallImage> {
        self.calls.lock().unwrap().get(id).cloned()
    }
    fn agent(&self, id: &str) -> Option<AgentImage> {
        self.agents.lock().unwrap().get(id).cloned()
    }
    fn calls_in_progress(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl Source {
    /// The call as it is now.
    pub fn set(&self, c: &CallImage) {
        self.calls
            .lock()
            .unwrap()
            .insert(c.call_id.clone(), c.clone());
    }
}

/// The call changed: the source holds it as it is now, and the writer is told.
pub fn change(writer: &Writer, source: &Source, c: &CallImage) {
    source.set(c);
    writer.send(Change::Call(c.call_id.as_str().into()));
}

pub fn waiting(id: &str, arrived: u64, seq: u64) -> CallImage {
    let decision = DecisionImage {
        action: ActionImage::Enqueue {
            queue: "support".into(),
            priority: 20,
        },
        reason: ReasonImage::Rule("gold-billing".into()),
        matched: vec!["repeat-callers-first".into(), "gold-billing".into()],
        line: "main".into(),
        redirected_from: None,
        menu_skipped: false,
        placement: PlacementImage::Waiting {
            position: 1,
            estimated_wait_ms: Some(90_000),
            callback_offered: false,
        },
        offer_callback: false,
        prefer_agent: None,
    };
    let call = WaitImage {
        priority: 20,
        arrived: Millis(arrived),
        preference: Preference::GetItDone,
        callback: false,
        tier: "gold".into(),
        max_wait_met: false,
    };
    CallImage {
        key: arrived << 20,
        call_id: id.into(),
        switch_id: "sbc-1".into(),
        number: Some(12_125_550_102),
        channel: Channel::Voice,
        created: Millis(arrived - 5_000),
        tier: "gold".into(),
        preference: Preference::GetItDone,
        priority: 20,
        offer_callback: false,
        first_prompt_pending: false,
        outcome_counted: false,
        last_agent: None,
        digits: "3,1".into(),
        first: decision,
        current: None,
        queued: Some(("support".into(), Millis(arrived))),
        place: Some(PlaceImage::Waiting {
            queue: "support".into(),
            neg_key: -1_200_000,
            seq,
            aging_per_minute: 10,
            call,
        }),
        record: CallRecord::default(),
    }
}

pub fn agent(id: &str) -> AgentImage {
    AgentImage {
        profile: AgentProfile {
            id: id.into(),
            endpoint: format!("sip:{id}@pbx"),
            skills: vec![("billing".into(), 7)],
            tags: vec!["rapport".into()],
            capacity: Default::default(),
        },
        state: AgentState::NotReady,
        since: Millis(1_000),
        reason: Some("training".into()),
        logged_in: Millis(500),
        busy_ms: 42_000,
        missed: 1,
        wrap_up_until: Millis(0),
    }
}
