//! What the simulator's tests share: a plan from a small config of their own.

/// The plan of `config` (a config naming `customers = "none.csv"`), compiled in a folder
/// of its own named after `name`, with an empty customers file beside it.
pub(crate) fn plan_of(name: &str, config: &str) -> switchboard_core::RoutePlan {
    let dir = std::env::temp_dir().join(format!("switchboard-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("none.csv"),
        "customer_id,name,phone_numbers,tier\n",
    )
    .unwrap();
    switchboard_config::parse(config, &dir.join("switchboard.toml"))
        .unwrap()
        .plan
}
