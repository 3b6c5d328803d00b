//! Between the API's messages and the core's types. Incoming values are checked here and
//! refused with the field named; outgoing values resolve ids to configured names.

use std::collections::HashMap;

use switchboard_core::{
    Customer, Millis, Preference, Profile, RoutePlan, TierId,
    acd::{Agent, AgentProfile, AgentState},
    behaviour::Learned,
    capacity::{LANES, Lane, Limits, MAX_PER_LANE},
    plan::AgentStandard,
    router::{Action, Channel, Decision, Placement, PreferenceSource, describe_reason},
    scorecard::Figures,
    text::longer_than,
};
use switchboard_proto::v1 as pb;

use crate::error::{ApiError, shown};

pub(crate) fn channel(value: i32) -> Result<Channel, ApiError> {
    match pb::Channel::try_from(value) {
        Ok(pb::Channel::Unspecified | pb::Channel::Voice) => Ok(Channel::Voice),
        Ok(pb::Channel::Video) => Ok(Channel::Video),
        Ok(pb::Channel::Chat) => Ok(Channel::Chat),
        Ok(pb::Channel::Email) => Ok(Channel::Email),
        Ok(pb::Channel::Callback) => Ok(Channel::Callback),
        Ok(pb::Channel::Social) => Ok(Channel::Social),
        Err(_) => Err(ApiError::invalid(
            "channel",
            format!("unknown value {value}"),
        )),
    }
}

pub(crate) fn channel_to(c: Channel) -> pb::Channel {
    match c {
        Channel::Voice => pb::Channel::Voice,
        Channel::Video => pb::Channel::Video,
        Channel::Chat => pb::Channel::Chat,
        Channel::Email => pb::Channel::Email,
        Channel::Callback => pb::Channel::Callback,
        Channel::Social => pb::Channel::Social,
    }
}

pub(crate) fn preference_from(value: i32, field: &str) -> Result<Preference, ApiError> {
    match pb::Preference::try_from(value) {
        Ok(pb::Preference::Unspecified | pb::Preference::None) => Ok(Preference::None),
        Ok(pb::Preference::AlwaysOperator) => Ok(Preference::AlwaysOperator),
        Ok(pb::Preference::GetItDone) => Ok(Preference::GetItDone),
        Ok(pb::Preference::FriendlyChat) => Ok(Preference::FriendlyChat),
        Err(_) => Err(ApiError::invalid(field, format!("unknown value {value}"))),
    }
}

pub(crate) fn preference_to(p: Preference) -> pb::Preference {
    match p {
        Preference::None => pb::Preference::None,
        Preference::AlwaysOperator => pb::Preference::AlwaysOperator,
        Preference::GetItDone => pb::Preference::GetItDone,
        Preference::FriendlyChat => pb::Preference::FriendlyChat,
    }
}

pub(crate) fn source_to(s: PreferenceSource) -> pb::PreferenceSource {
    match s {
        PreferenceSource::None => pb::PreferenceSource::None,
        PreferenceSource::Explicit => pb::PreferenceSource::Explicit,
        PreferenceSource::LearnedZeroOut => pb::PreferenceSource::LearnedZeroOut,
        PreferenceSource::LearnedChoice => pb::PreferenceSource::LearnedChoice,
    }
}

/// A decision as the switch sees it: names, prompts and options; nothing of the caller's
/// profile.
/// A decision in API terms. `plan` is the one the decision was made under; queue names
/// come from `current`, which knows every queue id (a reload may have sent the call to a
/// queue its own plan does not have).
pub(crate) fn decision(
    plan: &RoutePlan,
    current: &RoutePlan,
    call_id: &str,
    d: &Decision,
    response_within: Option<std::time::Duration>,
) -> pb::Decision {
    let action = match d.action {
        Action::PlayMenu { menu, attempt } => {
            let m = plan.menu(menu);
            pb::decision::Action::PlayMenu(pb::PlayMenu {
                menu: m.name.clone(),
                prompt: m.prompt.clone(),
                options: m
                    .options
                    .iter()
                    .map(|o| pb::MenuOption {
                        digits: o.digits.clone(),
                        intent: o.intent.clone().unwrap_or_default(),
                        label: o.label.clone(),
                    })
                    .collect(),
                attempt: u32::from(attempt),
            })
        }
        Action::Enqueue { queue, priority } => pb::decision::Action::Enqueue(pb::Enqueue {
            queue: current.queue(queue).name.clone(),
            priority,
            position: match d.placement {
                Placement::Waiting { position, .. } => Some(position),
                Placement::Assigned => Some(0),
                Placement::NotQueued | Placement::Closed => None,
            },
            estimated_wait: match d.placement {
                Placement::Waiting { estimated_wait, .. } => {
                    estimated_wait.and_then(|w| prost_types::Duration::try_from(w).ok())
                }
                Placement::Assigned => Some(prost_types::Duration::default()),
                Placement::NotQueued | Placement::Closed => None,
            },
            callback_offered: matches!(
                d.placement,
                Placement::Waiting {
                    callback_offered: true,
                    ..
                }
            ),
            closed: d.placement == Placement::Closed,
            response_within: response_within.and_then(|w| prost_types::Duration::try_from(w).ok()),
        }),
    };
    let redirect = d.redirected_from.map(|from| {
        let from_line = plan.line(from);
        let admitted: Vec<&str> = plan
            .tiers
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                from_line
                    .admits
                    .is_some_and(|a| a.contains(TierId(*i as u8)))
            })
            .map(|(_, t)| t.name.as_str())
            .collect();
        pb::LineRedirect {
            from_line: from_line.name.clone(),
            to_line: plan.line(d.line).name.clone(),
            prompt: from_line
                .others
                .as_ref()
                .map(|o| o.prompt.clone())
                .unwrap_or_default(),
            reason: format!(
                "line {} is for {} callers",
                from_line.name,
                admitted.join(" and ")
            ),
        }
    });
    pb::Decision {
        call_id: call_id.to_owned(),
        action: Some(action),
        reason: describe_reason(plan, d.reason),
        matched_rules: d
            .matched
            .iter()
            .map(|r| plan.rule(r).name.clone())
            .collect(),
        line: plan.line(d.line).name.clone(),
        redirect,
        menu_skipped: d.menu_skipped,
        tags: labels(plan, d, |t| &t.tags),
    }
}

/// The tags (or offers, or notes) of a decision's matching rules, each once, in order.
pub(crate) fn labels(
    plan: &RoutePlan,
    d: &Decision,
    pick: impl Fn(&switchboard_core::plan::Then) -> &Vec<std::sync::Arc<str>>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in d.matched.iter() {
        for label in pick(&plan.rule(r).then) {
            if !out.iter().any(|o| **o == **label) {
                out.push(label.to_string());
            }
        }
    }
    out
}

/// A customer from the API, checked field by field. Numbers are normalized with the
/// plan's default country.
pub(crate) fn customer_from(plan: &RoutePlan, c: pb::Customer) -> Result<Customer, ApiError> {
    let mut numbers = Vec::with_capacity(c.phone_numbers.len());
    for (i, raw) in c.phone_numbers.iter().enumerate() {
        let field = format!("customer.phone_numbers[{i}]");
        if longer_than(raw, switchboard_core::router::MAX_NUMBER_TEXT) {
            return Err(ApiError::invalid(field, "longer than 64 characters"));
        }
        let n = plan.numbers.normalize(raw).map_err(|e| {
            ApiError::invalid(field, format!("{} is not a valid number ({e})", shown(raw)))
        })?;
        numbers.push(n);
    }
    let tier = if c.tier.is_empty() {
        TierId(0)
    } else {
        plan.tier_by_name(&c.tier).ok_or_else(|| {
            let names: Vec<&str> = plan.tiers.iter().map(|t| t.name.as_str()).collect();
            ApiError::invalid(
                "customer.tier",
                format!(
                    "unknown tier {} (tiers: {})",
                    shown(&c.tier),
                    names.join(", ")
                ),
            )
        })?
    };
    let influence = u8::try_from(c.influence).map_err(|_| {
        ApiError::invalid(
            "customer.influence",
            format!("must be 0 to 100 (got {})", c.influence),
        )
    })?;
    let customer = Profile {
        id: c.customer_id.into(),
        name: c.name.into(),
        numbers: numbers.into(),
        tier,
        preference: preference_from(c.preference, "customer.preference")?,
        language: c.language.into(),
        lifetime_value: c.lifetime_value,
        influence,
        tags: c.tags.into_iter().map(String::into_boxed_str).collect(),
        attributes: c
            .attributes
            .into_iter()
            .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
            .collect(),
        preferred_agent: (!c.preferred_agent.is_empty())
            .then(|| c.preferred_agent.into_boxed_str()),
        contacts: contacts(&c.emails, &c.social_handles)?,
        preferred_channel: match c.preferred_channel {
            0 => None,
            v => Some(channel(v).map_err(|e| match e {
                ApiError::InvalidArgument { problem, .. } => {
                    ApiError::invalid("customer.preferred_channel", problem)
                }
                other => other,
            })?),
        },
    };
    customer
        .validated()
        .map(Customer::from)
        .map_err(|e| ApiError::invalid(format!("customer.{}", e.field), e.problem))
}

/// A customer's email addresses and social handles from the API, each in its one
/// spelling; a bad one is refused naming its field and index.
fn contacts(emails: &[String], handles: &[String]) -> Result<Box<[Box<str>]>, ApiError> {
    use switchboard_core::address;
    let mut out = Vec::with_capacity(emails.len() + handles.len());
    for (i, raw) in emails.iter().enumerate() {
        out.push(address::email(raw).map_err(|e| {
            ApiError::invalid(
                format!("customer.emails[{i}]"),
                format!("{}: {e}", shown(raw)),
            )
        })?);
    }
    for (i, raw) in handles.iter().enumerate() {
        out.push(address::handle(raw).map_err(|e| {
            ApiError::invalid(
                format!("customer.social_handles[{i}]"),
                format!("{}: {e}", shown(raw)),
            )
        })?);
    }
    Ok(out.into())
}

pub(crate) fn customer_to(plan: &RoutePlan, c: &Customer) -> pb::Customer {
    pb::Customer {
        customer_id: c.id().to_string(),
        name: c.name().to_string(),
        phone_numbers: c.numbers.iter().map(ToString::to_string).collect(),
        tier: plan.tier(c.tier).name.clone(),
        preference: preference_to(c.preference).into(),
        language: c.language().to_string(),
        lifetime_value: c.lifetime_value,
        influence: u32::from(c.influence),
        tags: c.tags().map(str::to_owned).collect(),
        attributes: c
            .attributes()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        preferred_agent: c.preferred_agent().unwrap_or_default().to_owned(),
        emails: c.emails().map(str::to_owned).collect(),
        social_handles: c.social_handles().map(str::to_owned).collect(),
        preferred_channel: c
            .preferred_channel
            .map_or(pb::Channel::Unspecified, channel_to)
            .into(),
    }
}

pub(crate) fn learned_to(plan: &RoutePlan, l: &Learned) -> pb::LearnedBehaviour {
    let window = plan.learning.zero_out.window;
    pb::LearnedBehaviour {
        observed_calls: u32::from(l.observed(window)),
        zero_outs: u32::from(l.zero_outs(window)),
        chosen_preference: l
            .chosen
            .map_or(pb::Preference::Unspecified, preference_to)
            .into(),
        last_call: l.last_call.map(|t| prost_types::Timestamp {
            seconds: i64::try_from(t.0 / 1_000).unwrap_or(i64::MAX),
            nanos: i32::try_from((t.0 % 1_000) * 1_000_000).unwrap_or(0),
        }),
    }
}

/// An assignment as the switch receives it, with the caller's context for the agent's
/// screen (this goes to the agent, not the caller).
pub(crate) fn assignment(
    router: &switchboard_core::Router,
    a: &switchboard_core::acd::Assignment,
    now: switchboard_core::Millis,
) -> pb::Assignment {
    let plan = router.plan();
    let (offers, notes) = match router.first_decision(&a.call.call_id) {
        Some((p, d)) => (labels(&p, &d, |t| &t.offers), labels(&p, &d, |t| &t.notes)),
        None => (vec![], vec![]),
    };
    let known = router.customer_of(&a.call.call_id);
    let customer = (known.is_some() || !offers.is_empty() || !notes.is_empty()).then(|| {
        let mut context = pb::CustomerContext {
            offers,
            notes,
            ..Default::default()
        };
        if let Some(c) = known {
            context.customer_id = c.id().to_string();
            context.name = c.name().to_string();
            context.tier = plan.tier(c.tier).name.clone();
            context.preference = preference_to(c.preference).into();
            context.last_contact = router
                .last_contact_of(&a.call.call_id)
                .map(|c| c.describe(now))
                .unwrap_or_default();
        }
        context
    });
    pb::Assignment {
        call_id: a.call.call_id.to_string(),
        kind: if a.call.callback {
            pb::AssignmentKind::Callback
        } else {
            pb::AssignmentKind::Call
        }
        .into(),
        agent_id: a.agent.profile.id.clone(),
        agent_endpoint: a.agent.profile.endpoint.clone(),
        queue: plan.queue(a.queue).name.clone(),
        waited: prost_types::Duration::try_from(now.since(a.call.arrived)).ok(),
        customer,
        channel: channel_to(a.call.channel).into(),
    }
}

pub(crate) fn agent_state_to(s: AgentState) -> pb::AgentState {
    match s {
        AgentState::LoggedOut => pb::AgentState::LoggedOut,
        AgentState::Available => pb::AgentState::Available,
        AgentState::Reserved => pb::AgentState::Reserved,
        AgentState::OnCall => pb::AgentState::OnCall,
        AgentState::WrapUp => pb::AgentState::WrapUp,
        AgentState::NotReady => pb::AgentState::NotReady,
    }
}

/// A time from the API; before 1970 or out of range is refused.
pub(crate) fn millis_from(t: &prost_types::Timestamp) -> Result<Millis, String> {
    if t.seconds < 0 || !(0..1_000_000_000).contains(&t.nanos) {
        return Err("must be a valid time after 1970".into());
    }
    let ms = u64::try_from(t.seconds)
        .ok()
        .and_then(|s| s.checked_mul(1_000))
        .and_then(|ms| ms.checked_add(u64::try_from(t.nanos / 1_000_000).ok()?))
        .ok_or("out of range")?;
    Ok(Millis(ms))
}

pub(crate) fn timestamp(t: Millis) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: i64::try_from(t.0 / 1_000).unwrap_or(i64::MAX),
        nanos: i32::try_from((t.0 % 1_000) * 1_000_000).unwrap_or(0),
    }
}

/// An agent's figures as the API shows them, judged against `standard`.
pub(crate) fn figures_to(f: &Figures, standard: &AgentStandard) -> pb::AgentFigures {
    let shortfalls = f.shortfalls(standard);
    pb::AgentFigures {
        calls_handled: f.handled,
        average_handle_time: f
            .average_handle_time()
            .and_then(|d| prost_types::Duration::try_from(d).ok()),
        resolved: f.resolved,
        reopened: f.reopened,
        first_contact_resolution: f.first_contact_resolution(),
        surveys: f.surveys,
        average_satisfaction: f.average_satisfaction(),
        satisfied: f.satisfied_share(),
        retention_offers: f.retention_offers,
        customer_saves: f.saves,
        points: f.points,
        coaching_needed: !shortfalls.is_empty(),
        coaching_reasons: shortfalls.iter().map(ToString::to_string).collect(),
    }
}

pub(crate) fn agent_to(a: &Agent, figures: pb::AgentFigures) -> pb::Agent {
    let since = a.since().0;
    pb::Agent {
        agent_id: a.profile.id.clone(),
        state: agent_state_to(a.state()).into(),
        reason: a.reason().unwrap_or_default(),
        skills: a
            .profile
            .skills
            .iter()
            .map(|(name, p)| pb::Skill {
                name: name.clone(),
                proficiency: u32::from(*p),
            })
            .collect(),
        endpoint: a.profile.endpoint.clone(),
        style_tags: a.profile.tags.clone(),
        capacity: a
            .limits()
            .lanes()
            .map(|l| (l.as_str().to_owned(), u32::from(a.limits().get(l))))
            .collect(),
        state_since: Some(timestamp(Millis(since))),
        call_ids: a.calls().iter().map(|c| c.to_string()).collect(),
        figures: Some(figures),
    }
}

/// Checks an id-like field: 1 to `max` printable ASCII characters without spaces.
pub(crate) fn check_id(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if longer_than(value, max) {
        return Err(ApiError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Checks a config-style name (skills, style tags): a-z, 0-9, '_' and '-'.
pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{} must be 1 to {max} characters of a-z, 0-9, '_' and '-'",
                shown(value)
            ),
        ))
    }
}

/// The log-in part of a SetAgentState request, checked.
/// The profile a log-in states; `default_capacity` (the config's `[capacity]`) when it
/// names no capacity.
pub(crate) fn agent_profile(
    req: &pb::SetAgentStateRequest,
    default_capacity: Limits,
) -> Result<AgentProfile, ApiError> {
    if req.endpoint.is_empty() {
        return Err(ApiError::invalid(
            "endpoint",
            "required to log in (a SIP URI or extension)",
        ));
    }
    if req.endpoint.chars().count() > 256 || req.endpoint.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "endpoint",
            "at most 256 characters without control characters",
        ));
    }
    if req.skills.is_empty() {
        return Err(ApiError::invalid(
            "skills",
            "at least one skill is required to log in",
        ));
    }
    if req.skills.len() > 32 {
        return Err(ApiError::invalid("skills", "more than 32 skills"));
    }
    let mut skills: Vec<(String, u8)> = Vec::with_capacity(req.skills.len());
    for (i, s) in req.skills.iter().enumerate() {
        check_name(&format!("skills[{i}].name"), &s.name, 64)?;
        let p = u8::try_from(s.proficiency)
            .ok()
            .filter(|p| (1..=10).contains(p))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("skills[{i}].proficiency"),
                    format!("must be 1 to 10 (got {})", s.proficiency),
                )
            })?;
        if skills.iter().any(|(n, _)| *n == s.name) {
            return Err(ApiError::invalid(
                format!("skills[{i}].name"),
                format!("{} given twice", shown(&s.name)),
            ));
        }
        skills.push((s.name.clone(), p));
    }
    if req.style_tags.len() > 16 {
        return Err(ApiError::invalid("style_tags", "more than 16 tags"));
    }
    for (i, t) in req.style_tags.iter().enumerate() {
        check_name(&format!("style_tags[{i}]"), t, 32)?;
    }
    let capacity = capacity(&req.capacity, default_capacity)?;
    Ok(AgentProfile {
        id: req.agent_id.clone(),
        endpoint: req.endpoint.clone(),
        skills,
        tags: req.style_tags.clone(),
        capacity,
    })
}

/// A log-in's capacity per channel: exactly the lanes it names (others none), or the
/// config's default when it names none. Voice 0 or 1; the others 0 to 32.
fn capacity(asked: &HashMap<String, u32>, default: Limits) -> Result<Limits, ApiError> {
    if asked.is_empty() {
        return Ok(default);
    }
    let mut limits = [0u8; LANES];
    for (channel, n) in asked {
        let Some(lane) = Lane::parse(channel) else {
            let why = if matches!(channel.as_str(), "video" | "callback") {
                format!("{} counts as voice: give capacity.voice", shown(channel))
            } else {
                format!(
                    "unknown channel {}: one of voice, chat, email, social",
                    shown(channel)
                )
            };
            return Err(ApiError::invalid("capacity", why));
        };
        let max = if lane == Lane::Voice { 1 } else { MAX_PER_LANE };
        if *n > u32::from(max) {
            return Err(ApiError::invalid(
                format!("capacity.{channel}"),
                if lane == Lane::Voice {
                    format!("an agent takes one voice call at a time (got {n})")
                } else {
                    format!("at most {max} at a time (got {n})")
                },
            ));
        }
        limits[lane.index()] = *n as u8;
    }
    if limits.iter().all(|n| *n == 0) {
        return Err(ApiError::invalid(
            "capacity",
            "an agent must be able to take some work (every channel is 0)",
        ));
    }
    Ok(Limits(limits))
}

/// A message for the switch about a waiting call that needs no agent: offer a callback,
/// or send the caller to voicemail.
pub(crate) fn directive(
    router: &switchboard_core::Router,
    call: &switchboard_core::acd::WaitingCall,
    queue: switchboard_core::plan::QueueId,
    kind: pb::AssignmentKind,
    now: switchboard_core::Millis,
) -> pb::Assignment {
    let plan = router.plan();
    pb::Assignment {
        call_id: call.call_id.to_string(),
        kind: kind.into(),
        agent_id: String::new(),
        agent_endpoint: String::new(),
        queue: plan.queue(queue).name.clone(),
        waited: prost_types::Duration::try_from(now.since(call.arrived)).ok(),
        customer: None,
        channel: channel_to(call.channel).into(),
    }
}
