//! Between the API's messages and the core's types. Incoming values are checked here and
//! refused with the field named; outgoing values resolve ids to configured names.

use std::collections::HashMap;

use switchboard_core::{
    Customer, Preference, RoutePlan, TierId,
    behaviour::Learned,
    router::{Action, Channel, Decision, Placement, PreferenceSource, describe_reason},
};
use switchboard_proto::v1 as pb;

use crate::error::ApiError;

pub(crate) fn channel(value: i32) -> Result<Channel, ApiError> {
    match pb::Channel::try_from(value) {
        Ok(pb::Channel::Unspecified | pb::Channel::Voice) => Ok(Channel::Voice),
        Ok(pb::Channel::Video) => Ok(Channel::Video),
        Ok(pb::Channel::Chat) => Ok(Channel::Chat),
        Ok(pb::Channel::Email) => Ok(Channel::Email),
        Ok(pb::Channel::Callback) => Ok(Channel::Callback),
        Err(_) => Err(ApiError::invalid(
            "channel",
            format!("unknown value {value}"),
        )),
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
pub(crate) fn decision(plan: &RoutePlan, call_id: &str, d: &Decision) -> pb::Decision {
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
            queue: plan.queue(queue).name.clone(),
            priority,
            position: match d.placement {
                Placement::Waiting { position } => Some(position),
                Placement::Assigned => Some(0),
                Placement::NotQueued => None,
            },
            // The estimate and callback offers need handle times, which the ACD does not
            // measure yet; absent rather than invented.
            estimated_wait: None,
            callback_offered: false,
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
    }
}

/// A customer from the API, checked field by field. Numbers are normalized with the
/// plan's default country.
pub(crate) fn customer_from(plan: &RoutePlan, c: pb::Customer) -> Result<Customer, ApiError> {
    let mut numbers = Vec::with_capacity(c.phone_numbers.len());
    for (i, raw) in c.phone_numbers.iter().enumerate() {
        let field = format!("customer.phone_numbers[{i}]");
        if raw.len() > switchboard_core::router::MAX_NUMBER_TEXT {
            return Err(ApiError::invalid(field, "longer than 64 characters"));
        }
        let n = plan.numbers.normalize(raw).map_err(|e| {
            ApiError::invalid(field, format!("{raw:?} is not a valid number ({e})"))
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
                format!("unknown tier {:?} (tiers: {})", c.tier, names.join(", ")),
            )
        })?
    };
    let influence = u8::try_from(c.influence).map_err(|_| {
        ApiError::invalid(
            "customer.influence",
            format!("must be 0 to 100 (got {})", c.influence),
        )
    })?;
    let customer = Customer {
        id: c.customer_id,
        name: c.name,
        numbers,
        tier,
        preference: preference_from(c.preference, "customer.preference")?,
        language: c.language,
        lifetime_value: c.lifetime_value,
        influence,
        tags: c.tags,
        attributes: c.attributes.into_iter().collect(),
        preferred_agent: (!c.preferred_agent.is_empty()).then_some(c.preferred_agent),
    };
    customer
        .validated()
        .map_err(|e| ApiError::invalid(format!("customer.{}", e.field), e.problem))
}

pub(crate) fn customer_to(plan: &RoutePlan, c: &Customer) -> pb::Customer {
    pb::Customer {
        customer_id: c.id.clone(),
        name: c.name.clone(),
        phone_numbers: c.numbers.iter().map(ToString::to_string).collect(),
        tier: plan.tier(c.tier).name.clone(),
        preference: preference_to(c.preference).into(),
        language: c.language.clone(),
        lifetime_value: c.lifetime_value,
        influence: u32::from(c.influence),
        tags: c.tags.clone(),
        attributes: c.attributes.iter().cloned().collect::<HashMap<_, _>>(),
        preferred_agent: c.preferred_agent.clone().unwrap_or_default(),
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
