//! What the simulator's tests share: a plan with one line straight to one queue, and
//! Erlang C.

/// A config of `tiers` (their `[[tiers]]` tables) and one line straight to one queue `q`
/// (skill general 1, no wrap-up, 3 minutes' handle time, and `queue_extra`), whose repeat
/// callers are not kept for their last agent (that makes them wait while others are
/// free); compiled in a folder of its own named after `name`, with an empty customers file.
pub(crate) fn one_queue_plan(
    name: &str,
    tiers: &str,
    queue_extra: &str,
) -> switchboard_core::RoutePlan {
    let config = format!(
        r#"
[learning]
same_agent_for = "0s"

{tiers}

[directory]
default_country = "US"
customers = "none.csv"

[lines.main]
number = "+18005550100"
queue = "q"
default = true

[queues.q]
skills = {{ general = 1 }}
wrap_up = "0s"
handle_time = "3m"
{queue_extra}
"#
    );
    let dir = std::env::temp_dir().join(format!("switchboard-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("none.csv"),
        "customer_id,name,phone_numbers,tier\n",
    )
    .unwrap();
    switchboard_config::parse(&config, &dir.join("switchboard.toml"))
        .unwrap()
        .plan
}

/// One tier, standard: 80% in 20 s (the Erlang and staffing tests' tier).
#[allow(dead_code)]
pub(crate) const ONE_TIER: &str = r#"
[[tiers]]
name = "standard"
base_priority = 0
standard = { answer_percent = 80, within = "20s" }
"#;

/// Erlang C for `n` agents and `a` Erlangs: the probability a call waits (the known
/// answer of the Erlang and staffing tests; the others leave it unused).
#[allow(dead_code)]
pub(crate) fn erlang_c(n: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    f64::from(n) * b / (f64::from(n) - a * (1.0 - b))
}

/// A steady day on a [`one_queue_plan`]: `intervals` intervals of `interval` with
/// `per_interval` calls each from `callers` (e.g. `{ standard = 1 }`), 3-minute
/// exponential handle times, one group of `agents` agents with `shift` (e.g. `to =
/// "30h"`, so they stay until every call is answered), and `more` scenario text.
#[allow(dead_code, clippy::too_many_arguments)]
pub(crate) fn steady_day(
    plan: &switchboard_core::RoutePlan,
    seed: u64,
    interval: &str,
    intervals: usize,
    per_interval: f64,
    callers: &str,
    agents: u32,
    shift: &str,
    more: &str,
) -> switchboard_sim::Scenario {
    let text = format!(
        r#"
seed = {seed}
interval = "{interval}"
customers_per_tier = 50000
handle_time = {{ default = {{ exponential = "3m" }} }}

[[arrivals]]
line = "+18005550100"
per_interval = [{}]
callers = {callers}

[[agents]]
name = "a"
count = {agents}
skills = {{ general = 5 }}
{shift}
{more}
"#,
        vec![per_interval.to_string(); intervals].join(", "),
    );
    switchboard_sim::Scenario::parse(&text, plan).unwrap()
}
