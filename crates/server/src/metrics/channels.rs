//! Contacts by channel and tier over all queues, each held to its tier's standard for its
//! channel: cumulative counters (from zero for every channel and tier) and the service
//! level since start beside that standard.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};
use switchboard_core::{RoutePlan, Router, TierId, channel::Channel};

use super::{CallCounters, Labels};

#[derive(Debug, Default)]
pub(super) struct Channels {
    counters: CallCounters,
    service_level: Family<Labels, Gauge<f64, AtomicU64>>,
    standard: Family<Labels, Gauge<f64, AtomicU64>>,
    standard_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
}

impl Channels {
    pub(super) fn register(&self, registry: &mut Registry) {
        let c = &self.counters;
        for (name, help, family) in [
            (
                "channel_contacts_offered",
                "Contacts that entered a queue, by channel and tier",
                &c.offered,
            ),
            (
                "channel_contacts_answered",
                "Contacts an agent answered, by channel and tier",
                &c.answered,
            ),
            (
                "channel_contacts_answered_in_standard",
                "Contacts answered within their tier's standard for the channel",
                &c.answered_in_standard,
            ),
            (
                "channel_contacts_abandoned",
                "Contacts whose customer left before an agent answered, by channel and tier",
                &c.abandoned,
            ),
            (
                "channel_contacts_abandoned_after_standard",
                "Contacts abandoned after their tier's standard time for the channel",
                &c.abandoned_after_standard,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "channel_service_level",
            "Share of contacts answered within their tier's standard for the channel since start (absent when none counts)",
            self.service_level.clone(),
        );
        registry.register(
            "channel_service_level_standard",
            "The tier's published standard for the channel: the share to answer within its time",
            self.standard.clone(),
        );
        registry.register(
            "channel_service_level_standard_seconds",
            "The tier's published standard for the channel: the time to answer within",
            self.standard_seconds.clone(),
        );
    }

    /// Brings every channel and tier's series up to the router's counts.
    pub(super) fn refresh(&self, router: &Router, plan: &RoutePlan) {
        self.service_level.clear();
        for channel in Channel::ALL {
            for (t, tier) in plan.tiers.iter().enumerate() {
                let labels = vec![
                    ("channel", channel.as_str().to_owned()),
                    ("tier", tier.name.clone()),
                ];
                let counts = router.channel_counts(channel, TierId(t as u8));
                self.counters.catch_up(&labels, &counts);
                let standard = tier.standard_for(channel);
                self.standard
                    .get_or_create(&labels)
                    .set(f64::from(standard.percent) / 100.0);
                self.standard_seconds
                    .get_or_create(&labels)
                    .set(standard.within.as_secs_f64());
                if let Some(level) = counts.service_level() {
                    self.service_level.get_or_create(&labels).set(level);
                }
            }
        }
    }
}
