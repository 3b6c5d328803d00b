//! The config file as written: serde structs that mirror the TOML one to one, refuse
//! unknown keys, and keep the position of every value validation may complain about.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;

/// The whole config, from one file or merged from the files of a config directory.
#[derive(Debug)]
pub(crate) struct RawConfig {
    pub(crate) server: RawServer,
    pub(crate) store: RawStore,
    pub(crate) security: Option<S<RawSecurity>>,
    pub(crate) sip: Option<S<crate::sip::RawSip>>,
    pub(crate) directory: S<RawDirectory>,
    pub(crate) learning: RawLearning,
    pub(crate) calls: RawCalls,
    pub(crate) coaching: RawCoaching,
    pub(crate) capacity: crate::capacity::RawCapacity,
    pub(crate) tiers: S<Vec<S<RawTier>>>,
    pub(crate) lines: S<BTreeMap<String, S<RawLine>>>,
    pub(crate) menus: BTreeMap<String, S<RawMenu>>,
    pub(crate) queues: S<BTreeMap<String, S<RawQueue>>>,
    pub(crate) calendars: BTreeMap<String, S<RawCalendar>>,
    pub(crate) rules: Vec<S<RawRule>>,
}

/// One file of the config: every section optional, so a directory may split them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPart {
    pub(crate) server: Option<S<RawServer>>,
    pub(crate) store: Option<S<RawStore>>,
    pub(crate) security: Option<S<RawSecurity>>,
    pub(crate) sip: Option<S<crate::sip::RawSip>>,
    pub(crate) directory: Option<S<RawDirectory>>,
    pub(crate) learning: Option<S<RawLearning>>,
    pub(crate) calls: Option<S<RawCalls>>,
    pub(crate) coaching: Option<S<RawCoaching>>,
    pub(crate) capacity: Option<S<crate::capacity::RawCapacity>>,
    pub(crate) tiers: Option<S<Vec<S<RawTier>>>>,
    pub(crate) lines: Option<S<BTreeMap<String, S<RawLine>>>>,
    pub(crate) menus: Option<BTreeMap<String, S<RawMenu>>>,
    pub(crate) queues: Option<S<BTreeMap<String, S<RawQueue>>>>,
    pub(crate) calendars: Option<BTreeMap<String, S<RawCalendar>>>,
    #[serde(default)]
    pub(crate) rules: Vec<S<RawRule>>,
}

/// Business hours: `hours = { mon-fri = "08:00-20:00", sat = "09:00-13:00" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    pub(crate) time_zone: S<String>,
    pub(crate) hours: S<BTreeMap<String, S<String>>>,
    #[serde(default)]
    pub(crate) holidays: Vec<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) listen: Option<S<String>>,
    pub(crate) metrics_listen: Option<S<String>>,
    pub(crate) service_level_window: Option<S<String>>,
    pub(crate) reload_on_change: Option<bool>,
    pub(crate) log_caller_numbers: Option<bool>,
    pub(crate) shutdown_grace: Option<S<String>>,
    pub(crate) max_connections: Option<S<i64>>,
    pub(crate) idle_timeout: Option<S<String>>,
    pub(crate) keepalive: Option<S<String>>,
    pub(crate) max_message_size: Option<S<String>>,
    pub(crate) max_header_list_size: Option<S<String>>,
    pub(crate) max_streams_per_connection: Option<S<i64>>,
    pub(crate) max_requests_per_connection: Option<S<i64>>,
    pub(crate) max_pending_resets: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) enabled: Option<bool>,
    pub(crate) path: Option<S<String>>,
    pub(crate) url: Option<S<String>>,
    pub(crate) tls_ca: Option<S<String>>,
    pub(crate) pool_size: Option<S<i64>>,
    pub(crate) domain: Option<S<String>>,
    pub(crate) lease: Option<S<String>>,
    pub(crate) advertise: Option<S<String>>,
    pub(crate) commit_delay: Option<S<String>>,
    pub(crate) keep_call_records: Option<S<String>>,
    pub(crate) on_failure: Option<S<String>>,
    pub(crate) max_pending: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecurity {
    pub(crate) insecure: Option<bool>,
    pub(crate) tls_cert: Option<S<String>>,
    pub(crate) tls_key: Option<S<String>>,
    pub(crate) client_ca: Option<S<String>>,
    pub(crate) client_crl: Option<S<String>>,
    pub(crate) tokens: Option<S<String>>,
    pub(crate) metrics_tls: Option<bool>,
    pub(crate) reflection: Option<S<String>>,
    pub(crate) rate_limit: Option<S<i64>>,
    #[serde(default)]
    pub(crate) clients: Vec<S<RawClient>>,
}

/// `[[security.clients]]`: a client certificate's name and what it may do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    pub(crate) name: S<String>,
    pub(crate) role: S<String>,
    #[serde(default)]
    pub(crate) switches: Vec<S<String>>,
    #[serde(default)]
    pub(crate) agents: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirectory {
    pub(crate) default_country: S<String>,
    pub(crate) customers: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLearning {
    pub(crate) zero_out_window: Option<S<i64>>,
    pub(crate) zero_out_threshold: Option<S<i64>>,
    pub(crate) repeat_window: Option<S<String>>,
    pub(crate) same_agent_for: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalls {
    pub(crate) forget_after: Option<S<String>>,
    pub(crate) menu_timeout: Option<S<String>>,
    pub(crate) offer_timeout: Option<S<String>>,
    pub(crate) after_offer_timeout: Option<S<String>>,
    pub(crate) no_answers_before_not_ready: Option<S<i64>>,
    pub(crate) fallback_queue: Option<S<String>>,
    pub(crate) callback_attempts: Option<S<i64>>,
    pub(crate) callback_retry_after: Option<S<String>>,
    pub(crate) callback_horizon: Option<S<String>>,
}

/// The standard agents' own figures are held to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoaching {
    pub(crate) handle_time: Option<S<String>>,
    pub(crate) first_contact_resolution_percent: Option<S<i64>>,
    pub(crate) satisfied_percent: Option<S<i64>>,
    pub(crate) min_calls: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    pub(crate) name: S<String>,
    pub(crate) base_priority: S<i64>,
    pub(crate) standard: S<RawStandard>,
    /// Standards of channels other than voice, by channel name.
    #[serde(default)]
    pub(crate) channel_standards: BTreeMap<String, S<RawStandard>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStandard {
    pub(crate) answer_percent: S<i64>,
    pub(crate) within: S<String>,
}

/// Exactly one of `menu` or `queue`: where something leads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub(crate) menu: Option<S<String>>,
    pub(crate) queue: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLine {
    pub(crate) number: S<String>,
    pub(crate) menu: Option<S<String>>,
    pub(crate) queue: Option<S<String>>,
    #[serde(default)]
    pub(crate) default: bool,
    pub(crate) admit_tiers: Option<S<Vec<S<String>>>>,
    pub(crate) others: Option<S<RawRedirect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedirect {
    pub(crate) line: S<String>,
    pub(crate) prompt: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMenu {
    pub(crate) prompt: S<String>,
    pub(crate) attempts: Option<S<i64>>,
    pub(crate) fallback: S<RawTarget>,
    pub(crate) options: S<Vec<S<RawOption>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOption {
    pub(crate) digits: S<String>,
    pub(crate) label: Option<S<String>>,
    pub(crate) intent: Option<S<String>>,
    pub(crate) menu: Option<S<String>>,
    pub(crate) queue: Option<S<String>>,
    pub(crate) remember: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    /// Skill name = minimum proficiency.
    #[serde(default)]
    pub(crate) skills: BTreeMap<String, S<i64>>,
    pub(crate) strategy: Option<S<String>>,
    pub(crate) aging_per_minute: Option<S<i64>>,
    pub(crate) wrap_up: Option<S<String>>,
    pub(crate) handle_time: Option<S<String>>,
    pub(crate) callback_after: Option<S<String>>,
    pub(crate) max_wait: Option<S<String>>,
    pub(crate) max_wait_action: Option<S<String>>,
    pub(crate) overflow_to: Option<S<String>>,
    pub(crate) when_closed: Option<S<String>>,
    #[serde(default)]
    pub(crate) overflow: Vec<S<RawOverflowStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverflowStep {
    pub(crate) after: S<String>,
    pub(crate) min_proficiency: Option<S<i64>>,
    pub(crate) also: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: S<String>,
    /// A condition in the rule language; absent matches every call.
    pub(crate) when: Option<S<String>>,
    pub(crate) then: S<RawThen>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThen {
    pub(crate) menu: Option<S<String>>,
    pub(crate) queue: Option<S<String>>,
    pub(crate) priority: Option<S<i64>>,
    pub(crate) raise_priority: Option<S<i64>>,
    /// Skills the call needs on top of its queue's: `{ spanish = 5 }`.
    pub(crate) skills: Option<S<BTreeMap<String, S<i64>>>>,
    #[serde(default)]
    pub(crate) offer_callback: bool,
    pub(crate) prefer_agent: Option<S<String>>,
    #[serde(default)]
    pub(crate) tags: Vec<S<String>>,
    #[serde(default)]
    pub(crate) offers: Vec<S<String>>,
    #[serde(default)]
    pub(crate) notes: Vec<S<String>>,
    #[serde(default, rename = "continue")]
    pub(crate) continue_: bool,
}
