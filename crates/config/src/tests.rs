use std::path::Path;

use switchboard_core::{Directory, plan::Target};

use super::*;

const FILE: &str = "config/switchboard.toml";

/// The shipped config with one edit, as an ops engineer would make it.
fn edited(from: &str, to: &str) -> String {
    assert!(
        DEFAULT_CONFIG.contains(from),
        "fixture text not in the shipped config: {from}"
    );
    DEFAULT_CONFIG.replacen(from, to, 1)
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new(FILE)) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(e @ ConfigError::Invalid { .. }) => e.lines(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// `file:line:column` of the first occurrence of `needle` in `text`.
fn at(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{FILE}:{line}:{col}")
}

#[test]
fn every_shipped_config_file_loads_without_errors_or_warnings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut tomls = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config =
                load(&path).unwrap_or_else(|e| panic!("{}: {:#?}", path.display(), e.lines()));
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            let customers = config
                .settings
                .customers
                .expect("the shipped config names its customers");
            let dir = Directory::new();
            let report = customers::import_file(&customers, &config.plan, &dir).unwrap();
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
            assert!(report.imported >= 1_000, "{} customers", report.imported);
            tomls += 1;
        }
    }
    assert_eq!(tomls, 1);
}

#[test]
fn the_embedded_default_is_the_shipped_config() {
    let config = load_default().unwrap();
    let plan = &config.plan;
    let tiers: Vec<&str> = plan.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tiers, ["standard", "gold", "platinum", "concierge"]);
    for q in [
        "operator",
        "care",
        "support",
        "billing",
        "platinum_desk",
        "concierge",
    ] {
        assert!(plan.queues.iter().any(|x| x.name == q), "queue {q}");
    }
    let main = plan.line(plan.line_for("+18005550100".parse().unwrap()).unwrap());
    assert_eq!(main.name, "main");
    let platinum = plan.line(plan.line_for("+18005550199".parse().unwrap()).unwrap());
    assert!(platinum.admits.is_some() && platinum.others.is_some());
    let menu = plan.menus.iter().find(|m| m.name == "main").unwrap();
    let option_queue = |d: &str| match menu.options.iter().find(|o| o.digits == d).unwrap().target {
        Target::Queue(q) => plan.queue(q).name.as_str(),
        Target::Menu(_) => "a menu",
    };
    assert_eq!(
        ["0", "1", "2", "3"].map(option_queue),
        ["operator", "care", "support", "billing"]
    );
    assert_eq!(config.settings.listen.to_string(), "127.0.0.1:50051");
    let dir = Directory::new();
    let report = customers::import(DEFAULT_CUSTOMERS.as_bytes(), plan, &dir).unwrap();
    assert!(report.rejected.is_empty() && report.imported >= 1_000);
}

#[test]
fn unknown_queue_is_reported_with_position_path_and_suggestion() {
    let text = edited(
        "then = { queue = \"platinum_desk\" }",
        "then = { queue = \"platnum_desk\" }",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].then.queue: unknown queue \"platnum_desk\" (did you mean \"platinum_desk\"?)",
            at(&text, "\"platnum_desk\"")
        )]
    );
}

#[test]
fn unknown_key_is_reported_with_its_path_and_the_keys_allowed() {
    let text = edited("then = { queue = \"care\" }", "then = { queu = \"care\" }");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(&format!(
            "{}: rules[5].then.queu: unknown key \"queu\" (did you mean \"queue\"?)",
            at(&text, "queu =")
        )),
        "{errs:?}"
    );
}

#[test]
fn wrong_value_type_names_the_field() {
    let text = edited("base_priority = 20", "base_priority = \"high\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(&format!(
            "{}: tiers[1].base_priority: ",
            at(&text, "\"high\"")
        )),
        "{errs:?}"
    );
    assert!(
        errs[0].ends_with("invalid type: string \"high\", expected a whole number"),
        "{errs:?}"
    );
}

#[test]
fn toml_syntax_errors_carry_line_and_column() {
    let text = edited("[queues.billing]", "[queues.billing");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    let line = at(&text, "[queues.billing")
        .split(':')
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(errs[0].starts_with(&format!("{FILE}:{line}:")), "{errs:?}");
}

#[test]
fn every_error_is_reported_at_once() {
    let text = edited("default_country = \"US\"", "default_country = \"USA\"");
    let text = text.replacen("repeat_window = \"7d\"", "repeat_window = \"7 days\"", 1);
    let text = text.replacen(
        "admit_tiers = [\"platinum\", \"concierge\"]",
        "admit_tiers = [\"platinum\", \"concierg\"]",
        1,
    );
    let text = text.replacen(
        "then = { menu = \"quick\" }",
        "then = { menu = \"quick\", queue = \"support\" }",
        1,
    );
    let text = text.replacen("caller.tier == \"platinum\"", "caller.tier == 5", 1);
    let errs = errors(&text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert!(errs[0].starts_with(&format!(
        "{}: directory.default_country: unsupported country \"USA\"",
        at(&text, "\"USA\"")
    )));
    assert_eq!(
        errs[1],
        format!(
            "{}: learning.repeat_window: \"7 days\": unknown unit \"days\" (use ms, s, m, h or d)",
            at(&text, "\"7 days\"")
        )
    );
    assert_eq!(
        errs[2],
        format!(
            "{}: lines.platinum.admit_tiers[1]: unknown tier \"concierg\" (did you mean \"concierge\"?)",
            at(&text, "\"concierg\"")
        )
    );
    assert_eq!(
        errs[3],
        format!(
            "{}: rules[3].when: cannot compare caller.tier (a tier) with 5 (a number)",
            at(&text, "caller.tier == 5")
        )
    );
    assert_eq!(
        errs[4],
        format!(
            "{}: rules[7].then: set either menu or queue, not both",
            at(&text, "\"quick\", queue")
        )
    );
}

#[test]
fn invalid_line_number_is_refused() {
    let text = edited("number = \"+18005550199\"", "number = \"1-800-PLATINUM\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: lines.platinum.number: \"1-800-PLATINUM\" is not a valid number: letters in number",
            at(&text, "\"1-800-PLATINUM\"")
        )]
    );
    let text = edited("number = \"+18005550199\"", "number = \"+1 800 555 0100\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: lines.platinum.number: +18005550100 is also the number of line \"main\"",
            at(&text, "\"+1 800 555 0100\"")
        )]
    );
}

#[test]
fn line_rules_are_checked() {
    let text = edited(
        "others = { line = \"main\", prompt = \"platinum-line-members-only\" }\n",
        "",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: lines.platinum.admit_tiers: a line that admits only some tiers needs `others` (where the rest go)",
            at(&text, "[\"platinum\", \"concierge\"]")
        )]
    );
    let text = edited("default = true\n", "");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .ends_with("lines: mark one line `default = true`: calls to other numbers follow it"),
        "{errs:?}"
    );
    let text = edited(
        "others = { line = \"main\"",
        "others = { line = \"platinum\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: lines.platinum.others.line: a line cannot send callers to itself",
            at(&text, "\"platinum\", prompt")
        )]
    );
}

#[test]
fn menu_mistakes_are_each_named() {
    let text = edited(
        "{ digits = \"3\", intent = \"billing\"",
        "{ digits = \"2\", intent = \"billing\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: menus.main.options[3].digits: \"2\" is already an option of this menu",
            at(&text, "\"2\", intent = \"billing\"")
        )]
    );
    let text = edited("remember = \"friendly_chat\"", "remember = \"friendly\"");
    let errs = errors(&text);
    assert_eq!(
        errs,
        [format!(
            "{}: menus.main.options[1].remember: \"friendly\" is not a preference to remember (always_operator, get_it_done or friendly_chat)",
            at(&text, "\"friendly\"")
        )]
    );
    let text = edited(
        "digits = \"0\", intent = \"agent\", label = \"a person\"",
        "digits = \"0a\", intent = \"agent\", label = \"a person\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: menus.main.options[0].digits: \"0a\" must be 1 to 4 of 0-9, * and #",
            at(&text, "\"0a\"")
        )]
    );
}

#[test]
fn rule_mistakes_are_each_named() {
    let text = edited(
        "caller.preference == \"friendly_chat\"",
        "caller.preference == \"friendly-chat\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[5].when: unknown preference \"friendly-chat\" (expected none, always_operator, get_it_done or friendly_chat) (did you mean \"friendly_chat\"?)",
            at(&text, "\"friendly-chat\"'")
        )]
    );
    let text = edited(
        "then = { offers = [\"extended-warranty\"], continue = true }",
        "then = { continue = true }",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[1].then: the rule does nothing: set menu, queue, skills, priority, raise_priority, offer_callback, prefer_agent, tags, offers or notes",
            at(&text, "{ continue = true }")
        )]
    );
    let text = edited("name = \"platinum-desk\"", "name = \"concierge\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].name: rule \"concierge\" is already defined at rules[2]",
            at(&text, "\"concierge\"\nwhen = 'caller.tier == \"platinum\"'")
        )]
    );
    let text = edited("name = \"platinum-desk\"", "name = \"Platinum Desk\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].name: name \"Platinum Desk\" must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
            at(&text, "\"Platinum Desk\"")
        )]
    );
}

#[test]
fn a_rule_after_one_that_always_stops_is_a_warning() {
    let text = edited("when = 'caller.tier == \"concierge\"'\n", "");
    let config = parse(&text, Path::new(FILE)).unwrap();
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 5, "{warnings:#?}");
    assert!(
        warnings[0].contains(
            "warning: rules[3]: rule \"platinum-desk\" is never reached: every call it matches is taken first by \"concierge\""
        ),
        "{warnings:#?}"
    );
}

#[test]
fn out_of_range_numbers_and_bad_addresses_are_refused() {
    let text = edited("zero_out_threshold = 3", "zero_out_threshold = 6");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: learning.zero_out_threshold: 6 is out of range (1 to 5)",
            at(&text, "6\n")
        )]
    );
    let text = edited("listen = \"127.0.0.1:50051\"", "listen = \"localhost\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: server.listen: \"localhost\" is not an address with a port, e.g. \"127.0.0.1:50051\"",
            at(&text, "\"localhost\"")
        )]
    );
    let text = edited(
        "metrics_listen = \"127.0.0.1:9464\"",
        "metrics_listen = \"9464\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: server.metrics_listen: \"9464\" is not an address with a port, e.g. \"127.0.0.1:9464\", or \"off\"",
            at(&text, "\"9464\"")
        )]
    );
    let text = edited(
        "standard = { answer_percent = 90, within",
        "standard = { answer_percent = 190, within",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: tiers[2].standard.answer_percent: 190 is out of range (1 to 100)",
            at(&text, "190")
        )]
    );
}

#[test]
fn channel_standards_are_read_per_tier_and_mistakes_named() {
    use std::time::Duration;
    use switchboard_core::channel::Channel;
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    let gold = config.plan.tier(switchboard_core::TierId(1));
    assert_eq!(
        gold.standard_for(Channel::Voice).within,
        Duration::from_secs(30)
    );
    assert_eq!(
        gold.standard_for(Channel::Callback).within,
        Duration::from_secs(30)
    );
    assert_eq!(
        gold.standard_for(Channel::Chat).within,
        Duration::from_secs(60)
    );
    assert_eq!(
        gold.standard_for(Channel::Email).within,
        Duration::from_secs(8 * 3600)
    );
    assert_eq!(gold.standard_for(Channel::Social).percent, 90);
    for (from, to, expected) in [
        (
            "channel_standards.chat = { answer_percent = 90, within = \"2m\" }",
            "channel_standards.voice = { answer_percent = 90, within = \"2m\" }",
            "tiers[0].channel_standards.voice: voice is the tier's own `standard`",
        ),
        (
            "channel_standards.chat = { answer_percent = 90, within = \"2m\" }",
            "channel_standards.chats = { answer_percent = 90, within = \"2m\" }",
            "tiers[0].channel_standards.chats: unknown channel \"chats\" (did you mean \"chat\"?)",
        ),
        (
            "channel_standards.chat = { answer_percent = 90, within = \"2m\" }",
            "channel_standards.chat = { answer_percent = 90, within = \"soon\" }",
            "tiers[0].channel_standards.chat.within",
        ),
    ] {
        let found = errors(&edited(from, to));
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "{to}: expected {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn queue_policies_are_read_from_the_shipped_config() {
    use switchboard_core::plan::Strategy;
    let plan = load_default().unwrap().plan;
    let q = |name: &str| plan.queues.iter().find(|q| q.name == name).unwrap().clone();
    let desk = q("platinum_desk");
    assert_eq!(
        desk.skills,
        [("general".to_owned(), 5), ("platinum".to_owned(), 1)]
    );
    assert_eq!(
        (desk.strategy, desk.aging_per_minute),
        (Strategy::MostSkilled, 20)
    );
    let operator = q("operator");
    assert_eq!(
        (operator.strategy, operator.aging_per_minute),
        (Strategy::LongestIdle, 10)
    );
    let secs = |name: &str| q(name).wrap_up.as_secs();
    assert_eq!(
        (secs("operator"), secs("care"), secs("concierge")),
        (15, 30, 60)
    );
}

#[test]
fn queue_policy_mistakes_are_each_named() {
    let text = edited("skills = { technical = 3 }", "skills = { technical = 11 }");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.skills.technical: 11 is out of range (1 to 10)",
            at(&text, "11 }")
        )]
    );
    let text = edited(
        "strategy = \"most_skilled\"\naging_per_minute = 20",
        "strategy = \"most_skiled\"\naging_per_minute = 20",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.platinum_desk.strategy: unknown strategy \"most_skiled\" (expected longest_idle, most_skilled, round_robin or least_occupied) (did you mean \"most_skilled\"?)",
            at(&text, "\"most_skiled\"")
        )]
    );
    let text = edited("wrap_up = \"30s\"", "wrap_up = \"30\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.care.wrap_up: \"30\": missing unit after 30 (use ms, s, m, h or d)",
            at(&text, "\"30\"")
        )]
    );
    let text = edited("aging_per_minute = 30", "aging_per_minute = -1");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.concierge.aging_per_minute: -1 is out of range (0 to 100000)",
            at(&text, "-1")
        )]
    );
    let text = edited(
        "skills = { concierge = 1 }",
        "skills = { \"Concierge Desk\" = 1 }",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.concierge.skills.Concierge Desk: name \"Concierge Desk\" must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
            at(&text, "1 }\naging_per_minute = 30")
        )]
    );
}

#[test]
fn offer_lease_settings_are_checked() {
    let config = load_default().unwrap();
    assert_eq!(
        config.settings.offer_timeout,
        std::time::Duration::from_secs(20)
    );
    let text = edited(
        "after_offer_timeout = \"not_ready\"",
        "after_offer_timeout = \"notready\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: calls.after_offer_timeout: \"notready\" is not a state an agent can be put in (not_ready or available) (did you mean \"not_ready\"?)",
            at(&text, "\"notready\"")
        )]
    );
    let text = edited("offer_timeout = \"20s\"", "offer_timeout = \"0s\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: calls.offer_timeout: \"0s\" is shorter than the minimum 1s",
            at(&text, "\"0s\"\nafter_offer_timeout")
        )]
    );
}

#[test]
fn same_agent_time_is_read_and_checked() {
    let config = load_default().unwrap();
    assert_eq!(
        config.plan.learning.same_agent_for,
        std::time::Duration::from_secs(20)
    );
    let text = edited(
        "same_agent_for = \"20s\"",
        "same_agent_for = \"20 seconds\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: learning.same_agent_for: \"20 seconds\": unknown unit \"seconds\" (use ms, s, m, h or d)",
            at(&text, "\"20 seconds\"")
        )]
    );
}

#[test]
fn wait_estimate_settings_are_read_and_checked() {
    let plan = load_default().unwrap().plan;
    let support = plan.queues.iter().find(|q| q.name == "support").unwrap();
    assert_eq!(support.handle_time.as_secs(), 360);
    assert_eq!(support.callback_after.map(|d| d.as_secs()), Some(240));
    let operator = plan.queues.iter().find(|q| q.name == "operator").unwrap();
    assert_eq!(
        (operator.handle_time.as_secs(), operator.callback_after),
        (180, None)
    );
    let text = edited("handle_time = \"6m\"", "handle_time = \"6 min\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.handle_time: \"6 min\": unknown unit \"min\" (use ms, s, m, h or d)",
            at(&text, "\"6 min\"")
        )]
    );
    let text = edited("callback_after = \"4m\"", "callback_after = \"4w\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.callback_after: \"4w\": unknown unit \"w\" (use ms, s, m, h or d)",
            at(&text, "\"4w\"")
        )]
    );
}

#[test]
fn max_wait_policies_are_read_and_each_mistake_named() {
    use switchboard_core::plan::MaxWaitAction;
    let plan = load_default().unwrap().plan;
    let q = |name: &str| {
        plan.queues
            .iter()
            .find(|q| q.name == name)
            .unwrap()
            .max_wait
    };
    let operator = plan
        .queues
        .iter()
        .position(|q| q.name == "operator")
        .unwrap();
    let support = q("support").unwrap();
    assert_eq!(
        (support.0.as_secs(), support.1),
        (
            1_200,
            MaxWaitAction::Overflow(switchboard_core::plan::QueueId(operator as u16))
        )
    );
    assert_eq!(q("care").map(|m| m.1), Some(MaxWaitAction::Callback));
    assert_eq!(q("billing").map(|m| m.1), Some(MaxWaitAction::Voicemail));
    assert_eq!(q("operator"), None);

    let text = edited("overflow_to = \"operator\"", "overflow_to = \"operater\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow_to: unknown queue \"operater\" (did you mean \"operator\"?)",
            at(&text, "\"operater\"")
        )]
    );
    let text = edited("overflow_to = \"operator\"", "overflow_to = \"support\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow_to: a queue cannot overflow to itself",
            at(&text, "\"support\"\n")
        )]
    );
    let text = edited(
        "max_wait_action = \"voicemail\"",
        "max_wait_action = \"voice_mail\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.billing.max_wait_action: unknown action \"voice_mail\" (expected overflow, callback or voicemail) (did you mean \"voicemail\"?)",
            at(&text, "\"voice_mail\"")
        )]
    );
    let text = edited("max_wait_action = \"callback\"\n", "");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.care.max_wait_action: required with max_wait: overflow, callback or voicemail",
            at(&text, "\"10m\"")
        )]
    );
    let text = edited("max_wait = \"15m\"\n", "");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.billing.max_wait: required with max_wait_action",
            at(&text, "\"voicemail\"\n")
        )]
    );
}

#[test]
fn the_no_answer_count_is_read_and_checked() {
    assert_eq!(
        load_default().unwrap().settings.no_answers_before_not_ready,
        1
    );
    let text = edited(
        "no_answers_before_not_ready = 1",
        "no_answers_before_not_ready = 0",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: calls.no_answers_before_not_ready: 0 is out of range (1 to 10)",
            at(&text, "0\n")
        )]
    );
}

#[test]
fn overflow_steps_are_read_and_each_mistake_named() {
    let plan = load_default().unwrap().plan;
    let support = plan.queues.iter().find(|q| q.name == "support").unwrap();
    let desk = plan
        .queues
        .iter()
        .position(|q| q.name == "platinum_desk")
        .unwrap() as u16;
    let steps: Vec<(u64, Option<u8>, Vec<u16>)> = support
        .overflow
        .iter()
        .map(|s| {
            (
                s.after.as_secs(),
                s.min_proficiency,
                s.also.iter().map(|q| q.0).collect(),
            )
        })
        .collect();
    assert_eq!(steps, [(120, Some(1), vec![]), (300, None, vec![desk])]);

    let text = edited("{ after = \"5m\", also", "{ after = \"1m\", also");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow[1].after: each step must come later than the one before",
            at(&text, "\"1m\"")
        )]
    );
    let text = edited("also = [\"platinum_desk\"]", "also = [\"platinum_dsk\"]");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow[1].also[0]: unknown queue \"platinum_dsk\" (did you mean \"platinum_desk\"?)",
            at(&text, "\"platinum_dsk\"")
        )]
    );
    let text = edited(
        "{ after = \"2m\", min_proficiency = 1 }",
        "{ after = \"2m\" }",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow[0]: the step widens nothing: set min_proficiency or also",
            at(&text, "{ after = \"2m\" }")
        )]
    );
    let text = edited("min_proficiency = 1 }", "min_proficiency = 0 }");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.support.overflow[0].min_proficiency: 0 is out of range (1 to 10)",
            at(&text, "0 }")
        )]
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = load(Path::new("/nonexistent/switchboard.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/switchboard.toml: "),
        "{err}"
    );
}

mod customer_csv {
    use super::*;

    fn import(csv: &str) -> (ImportReport, Directory) {
        let plan = load_default().unwrap().plan;
        let dir = Directory::new();
        let report = customers::import(csv.as_bytes(), &plan, &dir).unwrap();
        (report, dir)
    }

    use customers::ImportReport;

    #[test]
    fn bad_rows_are_reported_by_line_and_skipped_while_good_rows_load() {
        let csv = "customer_id,name,phone_numbers,tier,preference\n\
                   A1,Good One,+12125550150,gold,none\n\
                   A2,Short Number,+1 212 55,gold,none\n\
                   A3,Vanity,1-800-FLOWERS,standard,none\n\
                   A4,Typo Tier,+12125550151,platnum,none\n\
                   A5,Bad Preference,+12125550152,gold,chatty\n\
                   A6,Too,Many,Fields,Here,Now\n\
                   A7,Taken Number,+12125550150,gold,none\n\
                   A8,Good Two,(212) 555-0153,,\n";
        let (report, dir) = import(csv);
        assert_eq!(report.imported, 2);
        let rejected: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(
            rejected,
            [
                "line 3: phone_numbers: \"+1 212 55\" is not a valid number (not a valid North American number)",
                "line 4: phone_numbers: \"1-800-FLOWERS\" is not a valid number (letters in number)",
                "line 5: tier: unknown tier \"platnum\" (did you mean \"platinum\"?)",
                "line 6: preference: unknown preference \"chatty\" (expected none, always_operator, get_it_done or friendly_chat)",
                "line 7: 6 fields where the header has 5",
                "line 8: phone number +12125550150 belongs to customer A1",
            ]
        );
        assert_eq!(
            dir.get("A8").unwrap().numbers[0].to_string(),
            "+12125550153"
        );
        assert!(dir.get("A7").is_none());
    }

    #[test]
    fn field_limits_and_formats_are_reported() {
        let csv = format!(
            "customer_id,phone_numbers,lifetime_value,influence,attributes,tags\n\
             B1,+12125550160,lots,,,\n\
             B2,+12125550161,-5,,,\n\
             B3,+12125550162,,101,,\n\
             B4,+12125550163,,,device_purchased,\n\
             B5,+12125550164,,,,{}\n\
             ,+12125550165,,,,\n",
            "t".repeat(65)
        );
        let (report, _) = import(&csv);
        assert_eq!(report.imported, 0);
        let rejected: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(
            rejected,
            [
                "line 2: lifetime_value: \"lots\" is not a number",
                "line 3: lifetime_value: must be a finite amount not below 0 (got -5)",
                "line 4: influence: \"101\" is not a whole number from 0 to 100",
                "line 5: attributes: \"device_purchased\" is not key=value",
                "line 6: tags: longer than 64 characters (65)",
                "line 7: customer_id: must not be empty",
            ]
        );
    }

    #[test]
    fn a_bad_header_refuses_the_file() {
        let plan = load_default().unwrap().plan;
        let dir = Directory::new();
        let err =
            customers::import("customer_id,phone,tier\n".as_bytes(), &plan, &dir).unwrap_err();
        assert_eq!(err.to_string(), "header: unknown column \"phone\"");
        let err = customers::import("customer_id,name\n".as_bytes(), &plan, &dir).unwrap_err();
        assert_eq!(err.to_string(), "header: missing column \"phone_numbers\"");
        let err = customers::import("customer_id,phone_number,tier\n".as_bytes(), &plan, &dir)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "header: unknown column \"phone_number\" (did you mean \"phone_numbers\"?)"
        );
    }
}

#[test]
fn rules_that_can_never_match_or_are_always_taken_first_are_warnings() {
    let text = edited(
        "[[rules]]\nname = \"concierge\"",
        "[[rules]]\nname = \"impossible\"\nwhen = 'caller.tier == \"gold\" and not caller.known'\nthen = { queue = \"care\" }\n\n[[rules]]\nname = \"gold-or-better\"\nwhen = 'caller.tier >= \"gold\" or caller.lifetime_value > 100000'\nthen = { queue = \"care\" }\n\n[[rules]]\nname = \"concierge\"",
    );
    let config = parse(&text, Path::new(FILE)).unwrap();
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{}: warning: rules[2]: rule \"impossible\" can never match: its condition is false for every call",
                at(&text, "[[rules]]\nname = \"impossible\"")
            ),
            format!(
                "{}: warning: rules[4]: rule \"concierge\" is never reached: every call it matches is taken first by \"gold-or-better\"",
                at(&text, "[[rules]]\nname = \"concierge\"")
            ),
            format!(
                "{}: warning: rules[5]: rule \"platinum-desk\" is never reached: every call it matches is taken first by \"gold-or-better\"",
                at(&text, "[[rules]]\nname = \"platinum-desk\"")
            ),
        ]
    );
}

#[test]
fn a_condition_error_points_inside_the_string_at_the_mistake() {
    let text = edited(
        "when = 'caller.tier == \"platinum\"'",
        "when = 'caller.tier == \"platinum\" and caller.lifetime_valu > 10'",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].when: unknown field caller.lifetime_valu (did you mean \"caller.lifetime_value\"?)",
            at(&text, "caller.lifetime_valu ")
        )]
    );
    // Multi-line literal strings keep columns too.
    let text = edited(
        "when = 'caller.tier == \"platinum\"'",
        "when = '''\ncaller.tier == \"platinum\" and\n  open(\"weekend\")'''",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].when: unknown calendar \"weekend\"",
            at(&text, "\"weekend\"")
        )]
    );
    // With escapes the text differs from the file, so the error points at the value.
    let text = edited(
        "when = 'caller.tier == \"platinum\"'",
        "when = \"caller.tier == \\\"platnum\\\"\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[3].when: unknown tier \"platnum\" (did you mean \"platinum\"?)",
            at(&text, "\"caller.tier == \\\"platnum")
        )]
    );
}

#[test]
fn rule_actions_are_read_and_checked() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    let plan = &config.plan;
    let warranty = plan
        .rules
        .iter()
        .find(|r| r.name == "warranty-offer")
        .unwrap();
    assert_eq!(
        warranty
            .then
            .offers
            .iter()
            .map(|o| &**o)
            .collect::<Vec<_>>(),
        ["extended-warranty"]
    );
    assert!(warranty.then.continue_);
    let busy = plan
        .rules
        .iter()
        .find(|r| r.name == "get-it-done-busy")
        .unwrap();
    assert!(busy.then.offer_callback);
    let text = edited(
        "then = { offers = [\"extended-warranty\"], continue = true }",
        "then = { offers = [\"\"], prefer_agent = \"\", continue = true }",
    );
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: rules[1].then.prefer_agent: must not be empty",
                at(&text, "\"\", continue")
            ),
            format!(
                "{}: rules[1].then.offers[0]: must not be empty",
                at(&text, "\"\"], prefer")
            ),
        ]
    );
}

#[test]
fn calendars_are_read_and_each_mistake_named() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    let cal = &config.plan.calendars[0];
    assert_eq!(cal.name, "support_hours");
    assert_eq!(cal.hours[0], [(8 * 60, 20 * 60)]);
    assert_eq!(cal.hours[5], [(9 * 60, 13 * 60)]);
    assert!(cal.hours[6].is_empty());
    assert_eq!(cal.holidays.len(), 2);
    let text = edited(
        "time_zone = \"America/New_York\"",
        "time_zone = \"America/Gotham\"",
    );
    let text = text.replacen("sat = \"09:00-13:00\"", "sat = \"13:00-09:00\"", 1);
    let text = text.replacen("mon-fri =", "mon-fry =", 1);
    let text = text.replacen("\"2027-01-01\"", "\"2027-13-01\"", 1);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: calendars.support_hours.time_zone: unknown time zone \"America/Gotham\" (use an IANA name such as \"America/New_York\" or \"UTC\")",
                at(&text, "\"America/Gotham\"")
            ),
            format!(
                "{}: calendars.support_hours.hours.mon-fry: \"mon-fry\" is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun, or e.g. mon-fri)",
                at(&text, "\"08:00-20:00\"")
            ),
            format!(
                "{}: calendars.support_hours.hours.sat: \"13:00-09:00\" is not opening hours like \"08:00-20:00\" (start before end, 24:00 for midnight), or \"closed\"",
                at(&text, "\"13:00-09:00\"")
            ),
            format!(
                "{}: calendars.support_hours.holidays[1]: \"2027-13-01\" is not a date like \"2026-12-25\"",
                at(&text, "\"2027-13-01\"")
            ),
        ]
    );
}

#[test]
fn the_fallback_queue_must_exist() {
    let text = edited(
        "fallback_queue = \"operator\"",
        "fallback_queue = \"operater\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: calls.fallback_queue: unknown queue \"operater\" (did you mean \"operator\"?)",
            at(&text, "\"operater\"")
        )]
    );
}

/// A config directory: the shipped config split into three files.
fn split_config(dir: &Path) -> (String, String, String) {
    let text = DEFAULT_CONFIG;
    let queues_at = text.find("# Queues.").unwrap();
    let rules_at = text.find("# Business hours").unwrap();
    let base = text[..queues_at].to_owned();
    let queues = text[queues_at..rules_at].to_owned();
    let rules = text[rules_at..].to_owned();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("10-base.toml"), &base).unwrap();
    std::fs::write(dir.join("20-queues.toml"), &queues).unwrap();
    std::fs::write(dir.join("30-rules.toml"), &rules).unwrap();
    std::fs::write(dir.join("customers.csv"), DEFAULT_CUSTOMERS).unwrap();
    std::fs::write(dir.join("README.txt"), "not config").unwrap();
    (base, queues, rules)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_config_directory_is_its_files_in_name_order() {
    let dir = temp_dir("split");
    split_config(&dir);
    let split = load(&dir).unwrap();
    let whole = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert_eq!(split.plan.rules, whole.plan.rules);
    assert_eq!(split.plan.queues, whole.plan.queues);
    assert!(split.warnings.is_empty(), "{:?}", split.warnings);
    assert_eq!(split.settings.customers, Some(dir.join("customers.csv")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_in_a_config_directory_name_their_own_file() {
    let dir = temp_dir("errors");
    let (_, queues, rules) = split_config(&dir);
    std::fs::write(
        dir.join("20-queues.toml"),
        queues.replacen(
            "strategy = \"most_skilled\"",
            "strategy = \"most_skiled\"",
            1,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("30-rules.toml"),
        rules.replacen(
            "'caller.tier == \"concierge\"'",
            "'caller.tier == \"concierg\"'",
            1,
        ),
    )
    .unwrap();
    // The same queue defined in a second file is refused, naming the first.
    std::fs::write(
        dir.join("40-more.toml"),
        "[queues.care]\nskills = { general = 1 }\n",
    )
    .unwrap();
    let lines = match load(&dir) {
        Err(e @ ConfigError::Invalid { .. }) => e.lines(),
        other => panic!("{other:?}"),
    };
    let file = |n: &str| dir.join(n).display().to_string();
    let queues_text = std::fs::read_to_string(dir.join("20-queues.toml")).unwrap();
    let rules_text = std::fs::read_to_string(dir.join("30-rules.toml")).unwrap();
    let pos = |text: &str, needle: &str| {
        let at = at(text, needle);
        at.split_once(':').unwrap().1.to_owned()
    };
    assert_eq!(
        lines,
        [
            format!(
                "{}:1:1: queues.care: queues.care is already defined in {}:{}",
                file("40-more.toml"),
                file("20-queues.toml"),
                pos(&queues_text, "[queues.care]")
            ),
            format!(
                "{}:{}: queues.support.strategy: unknown strategy \"most_skiled\" (expected longest_idle, most_skilled, round_robin or least_occupied) (did you mean \"most_skilled\"?)",
                file("20-queues.toml"),
                pos(&queues_text, "\"most_skiled\"")
            ),
            format!(
                "{}:{}: rules[2].when: unknown tier \"concierg\" (did you mean \"concierge\"?)",
                file("30-rules.toml"),
                pos(&rules_text, "\"concierg\"")
            ),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_without_config_files_or_with_a_section_twice_is_refused() {
    let dir = temp_dir("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let e = load(&dir).unwrap_err().to_string();
    assert!(
        e.ends_with("a config directory needs 1 to 256 *.toml files (found 0)"),
        "{e}"
    );
    std::fs::write(
        dir.join("a.toml"),
        "[directory]\ndefault_country = \"US\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "[directory]\ndefault_country = \"GB\"\n",
    )
    .unwrap();
    let lines = load(&dir).unwrap_err().lines();
    assert_eq!(
        lines[0],
        format!(
            "{}:1:1: directory: [directory] is already set in {}:1:1",
            dir.join("b.toml").display(),
            dir.join("a.toml").display()
        )
    );
    assert!(
        lines[1].ends_with("tiers: missing section [tiers]"),
        "{lines:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_conditions_ops_teams_write_all_load() {
    for when in [
        r#"caller.tier in ["gold", "platinum"] and caller.lifetime_value > 5000"#,
        r#"caller.preference == "get_it_done" and queue("support").estimated_wait > 120"#,
        "caller.attr.device_purchased < days_ago(730)",
        r#"call.repeat_within("7d")"#,
        r#"line.name == "platinum" and not caller.tier >= "platinum""#,
        r#"open("support_hours")"#,
    ] {
        let text = format!(
            "{DEFAULT_CONFIG}\n[[rules]]\nname = \"example\"\nwhen = '{when}'\nthen = {{ tags = [\"x\"] }}\n"
        );
        if let Err(e) = parse(&text, Path::new(FILE)) {
            panic!("{when}: {:?}", e.lines());
        }
    }
}

const SPANISH_SUPPORT: &str = "
[[rules]]
name = \"spanish-support\"
when = 'caller.language == \"es\"'
then = { queue = \"support\", skills = { spanish = 5, technical = 4 } }
";

#[test]
fn a_rule_needing_extra_skills_routes_to_a_queue_made_for_them() {
    let text = edited(
        "[[rules]]\nname = \"concierge\"",
        &format!("{SPANISH_SUPPORT}\n[[rules]]\nname = \"concierge\""),
    );
    let plan = parse(&text, Path::new(FILE)).unwrap().plan;
    let support = plan.queue_by_name("support").unwrap();
    let skilled = plan
        .queue_by_name("support[spanish>=5,technical>=4]")
        .unwrap();
    let q = plan.queue(skilled);
    assert_eq!(q.part_of, Some(support));
    // The base queue's policy, with the skills added (technical raised from 3 to 4).
    assert_eq!(
        q.skills,
        [("technical".to_owned(), 4), ("spanish".to_owned(), 5)]
    );
    assert_eq!(q.strategy, plan.queue(support).strategy);
    assert_eq!(q.max_wait, plan.queue(support).max_wait);
    let rule = plan
        .rules
        .iter()
        .find(|r| r.name == "spanish-support")
        .unwrap();
    assert_eq!(rule.then.target, Some(Target::Queue(skilled)));
    // Conditions cannot name it.
    let text = text.replacen(
        "when = 'caller.language == \"es\"'",
        "when = 'queue(\"support[spanish>=5,technical>=4]\").waiting > 1'",
        1,
    );
    assert!(
        errors(&text)[0].contains("unknown queue"),
        "{:?}",
        errors(&text)
    );
}

#[test]
fn extra_skills_mistakes_are_each_named() {
    let text = edited(
        "then = { offers = [\"extended-warranty\"], continue = true }",
        "then = { skills = { spanish = 11, \"Bad Skill\" = 2 }, continue = true }",
    );
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: rules[1].then.skills.Bad Skill: name \"Bad Skill\" must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
                at(&text, "2 }")
            ),
            format!(
                "{}: rules[1].then.skills.spanish: 11 is out of range (1 to 10)",
                at(&text, "11,")
            ),
            format!(
                "{}: rules[1].then.skills: needs queue in the same rule: the skills are added to that queue's",
                at(&text, "{ spanish = 11")
            ),
        ]
    );
}

#[test]
fn new_keys_of_the_wrong_kind_are_refused_by_name() {
    let text = edited(
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\nreload_on_change = \"yes\"",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(&format!(
            "{}: server.reload_on_change: ",
            at(&text, "\"yes\"")
        )),
        "{errs:?}"
    );
    assert!(errs[0].contains("expected a boolean"), "{errs:?}");
    // Opening hours that overlap, a day given twice.
    let text = edited(
        "hours = { mon-fri = \"08:00-20:00\", sat = \"09:00-13:00\", sun = \"closed\" }",
        "hours = { mon-fri = \"08:00-12:00, 11:00-20:00\", fri = \"09:00-13:00\" }",
    );
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: calendars.support_hours.hours.mon-fri: opening hours overlap",
                at(&text, "\"08:00-12:00")
            ),
            format!(
                "{}: calendars.support_hours.hours.mon-fri: fri is given hours twice",
                at(&text, "\"08:00-12:00")
            ),
        ]
    );
    // Too many labels on one rule.
    let many: Vec<String> = (0..17).map(|i| format!("\"t{i}\"")).collect();
    let text = edited(
        "tags = [\"repeat\"]",
        &format!("tags = [{}]", many.join(", ")),
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: rules[0].then.tags: at most 16 per rule",
            at(&text, "\"t16\"")
        )]
    );
}

#[test]
fn a_postgresql_store_is_read_with_its_defaults_and_each_mistake_named() {
    use crate::store::{Postgres, StoreAt};
    let text = format!(
        "{DEFAULT_CONFIG}\n[store]\nurl = \"postgres://sb@db.example/switchboard\"\ntls_ca = \"ca.pem\"\n"
    );
    assert_eq!(
        parse(&text, Path::new(FILE)).unwrap().settings.store,
        Some(StoreAt::Postgres(Postgres {
            url: "postgres://sb@db.example/switchboard".into(),
            tls_ca: Some(Path::new("config").join("ca.pem")),
            pool_size: 4,
            domain: "default".into(),
            lease: std::time::Duration::from_secs(5),
            advertise: None,
        }))
    );
    let text = format!(
        "{DEFAULT_CONFIG}\n[store]\nurl = \"mysql://db\"\npath = \"x.db\"\npool_size = 0\n\
         domain = \"a b\"\nlease = \"10m\"\nadvertise = \"\"\n"
    );
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: store.path: give either store.path (an SQLite file) or store.url (PostgreSQL), not both",
                at(&text, "\"x.db\"")
            ),
            format!(
                "{}: store.url: must be a PostgreSQL URL, postgres://user@host:port/database (at most 1024 characters)",
                at(&text, "\"mysql://db\"")
            ),
            format!(
                "{}: store.pool_size: 0 is not between 1 and 64",
                at(&text, "0\ndomain")
            ),
            format!(
                "{}: store.domain: \"a b\" must be 1 to 64 letters, digits, '-', '_' or '.'",
                at(&text, "\"a b\"")
            ),
            format!(
                "{}: store.lease: \"10m\" is longer than the maximum 5m",
                at(&text, "\"10m\"\nadvertise")
            ),
            format!(
                "{}: store.advertise: must be the address clients reach this node's gRPC port at (at most 256 characters)",
                at(&text, "\"\"\n")
            ),
        ]
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\nlease = \"2s\"\n");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: store.lease: applies only to a PostgreSQL store (store.url)",
            at(&text, "\"2s\"")
        )]
    );
}

#[test]
fn store_settings_are_read_and_each_mistake_named() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert_eq!(
        config.settings.store,
        Some(crate::store::StoreAt::File(
            Path::new("config").join("data/switchboard.db")
        ))
    );
    assert_eq!(
        config.settings.commit_delay,
        std::time::Duration::from_millis(50)
    );
    let off = format!("{DEFAULT_CONFIG}\n[store]\nenabled = false\n");
    assert_eq!(parse(&off, Path::new(FILE)).unwrap().settings.store, None);
    let text = format!("{DEFAULT_CONFIG}\n[store]\npath = \" \"\ncommit_delay = \"11s\"\n");
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: store.path: must not be empty (set enabled = false to keep nothing)",
                at(&text, "\" \"")
            ),
            format!(
                "{}: store.commit_delay: \"11s\" is longer than the most a change may wait, 10s",
                at(&text, "\"11s\"")
            ),
        ]
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\ncommit_delay = \"soon\"\n");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: store.commit_delay: \"soon\": expected a number before \"soon\"",
            at(&text, "\"soon\"")
        )]
    );
    assert_eq!(
        config.settings.keep_call_records,
        std::time::Duration::from_secs(90 * 86_400)
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\nkeep_call_records = \"30d\"\n");
    assert_eq!(
        parse(&text, Path::new(FILE))
            .unwrap()
            .settings
            .keep_call_records,
        std::time::Duration::from_secs(30 * 86_400)
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\nkeep_call_records = \"59m\"\n");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: store.keep_call_records: \"59m\" is shorter than the minimum 1h",
            at(&text, "\"59m\"")
        )]
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\nkeep_call_records = \"forever\"\n");
    assert_eq!(errors(&text).len(), 1, "{:?}", errors(&text));
    assert!(
        errors(&text)[0].contains("store.keep_call_records: \"forever\""),
        "{:?}",
        errors(&text)
    );
}

#[test]
fn the_metrics_port_is_its_own_and_can_be_turned_off() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert_eq!(
        config.settings.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    let text = edited(
        "metrics_listen = \"127.0.0.1:9464\"",
        "metrics_listen = \"off\"",
    );
    let config = parse(&text, Path::new(FILE)).unwrap();
    assert_eq!(config.settings.metrics_listen, None);
}

#[test]
fn the_coaching_standard_and_the_service_level_window_are_read_and_checked() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    assert_eq!(
        config.settings.service_level_window,
        std::time::Duration::from_secs(30 * 60)
    );
    let coaching = config.plan.coaching;
    assert_eq!(coaching.handle_time, std::time::Duration::from_secs(480));
    assert_eq!(
        (
            coaching.first_contact_percent,
            coaching.satisfied_percent,
            coaching.min_calls
        ),
        (70, 80, 10)
    );
    let text = edited(
        "first_contact_resolution_percent = 70",
        "first_contact_resolution_percent = 170",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: coaching.first_contact_resolution_percent: 170 is out of range (0 to 100)",
            at(&text, "170")
        )]
    );
    let text = edited("min_calls = 10", "min_calls = 0");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: coaching.min_calls: 0 is out of range (1 to 100000)",
            at(&text, "0\n\n# What an agent may work")
        )]
    );
    let text = edited("handle_time = \"8m\"", "handle_time = \"soon\"");
    assert!(
        errors(&text)[0].contains("coaching.handle_time: \"soon\""),
        "{:?}",
        errors(&text)
    );
    let text = edited("satisfied_percent = 80", "satisfied = 80");
    assert!(
        errors(&text)[0].contains("coaching.satisfied: unknown key \"satisfied\""),
        "{:?}",
        errors(&text)
    );
    let text = edited(
        "service_level_window = \"30m\"",
        "service_level_window = \"2d\"",
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{}: server.service_level_window: \"2d\" is longer than the maximum 24h",
            at(&text, "\"2d\"")
        )]
    );
    let text = edited(
        "service_level_window = \"30m\"",
        "service_level_window = \"10s\"",
    );
    assert!(
        errors(&text)[0].contains("is shorter than the minimum"),
        "{:?}",
        errors(&text)
    );
    let text = edited("log_caller_numbers = false", "log_caller_numbers = \"yes\"");
    let refused = errors(&text);
    assert!(
        refused[0].starts_with(&format!(
            "{}: server.log_caller_numbers:",
            at(&text, "\"yes\"")
        )),
        "{refused:?}"
    );
    assert!(!config.settings.log_caller_numbers);
    // Without the section, the defaults hold.
    let start = DEFAULT_CONFIG.find("[coaching]").unwrap();
    let end = DEFAULT_CONFIG[start..].find("\n\n").unwrap() + start;
    let text = format!("{}{}", &DEFAULT_CONFIG[..start], &DEFAULT_CONFIG[end..]);
    let config = parse(&text, Path::new(FILE)).unwrap();
    assert_eq!(config.plan.coaching, Default::default());
}

#[test]
fn shutdown_connection_and_store_failure_settings_have_defaults_and_refuse_bad_values() {
    let config = parse(DEFAULT_CONFIG, Path::new(FILE)).unwrap();
    let limits = &config.settings.limits;
    assert_eq!(limits.shutdown_grace, std::time::Duration::from_secs(10));
    assert_eq!(limits.max_connections, 10_000);
    assert_eq!(limits.idle_timeout, std::time::Duration::from_secs(300));
    assert_eq!(limits.keepalive, std::time::Duration::from_secs(30));
    assert_eq!(limits.on_store_failure, StoreFailure::Route);
    assert_eq!(limits.max_pending, 256 << 20);
    assert_eq!(
        config.settings.menu_timeout,
        std::time::Duration::from_secs(600)
    );

    let set = |keys: &str| {
        edited(
            "listen = \"127.0.0.1:50051\"",
            &format!("listen = \"127.0.0.1:50051\"\n{keys}"),
        )
    };
    let text = set(
        "shutdown_grace = \"20m\"\nmax_connections = 0\nidle_timeout = \"500ms\"\nkeepalive = \"soon\"",
    );
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: server.shutdown_grace: \"20m\" is longer than the maximum 10m",
                at(&text, "\"20m\"")
            ),
            format!(
                "{}: server.max_connections: 0 is out of range (1 to 1000000)",
                at(&text, "0\nidle")
            ),
            format!(
                "{}: server.idle_timeout: \"500ms\" is shorter than the minimum 1s",
                at(&text, "\"500ms\"")
            ),
            format!(
                "{}: server.keepalive: \"soon\": expected a number before \"soon\"",
                at(&text, "\"soon\"")
            ),
        ]
    );
    let text =
        format!("{DEFAULT_CONFIG}\n[store]\non_failure = \"refuze\"\nmax_pending = \"2GB\"\n");
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: store.on_failure: \"refuze\" is not route or refuse (did you mean \"refuse\"?)",
                at(&text, "\"refuze\"")
            ),
            format!(
                "{}: store.max_pending: \"2GB\": unknown unit \"GB\" (use B, KiB, MiB or GiB)",
                at(&text, "\"2GB\"")
            ),
        ]
    );
    let text = format!("{DEFAULT_CONFIG}\n[store]\nmax_pending = \"1KiB\"\n");
    assert_eq!(
        errors(&text)[0],
        format!(
            "{}: store.max_pending: \"1KiB\" is out of range (64KiB to 1024GiB)",
            at(&text, "\"1KiB\"")
        )
    );
    let text = edited(
        "forget_after = \"4h\"",
        "forget_after = \"4h\"\nmenu_timeout = \"5s\"",
    );
    assert_eq!(
        errors(&text)[0],
        format!(
            "{}: calls.menu_timeout: \"5s\" is shorter than the minimum 30s",
            at(&text, "\"5s\"")
        )
    );
    let text =
        format!("{DEFAULT_CONFIG}\n[store]\non_failure = \"refuse\"\nmax_pending = \"1GiB\"\n");
    let limits = parse(&text, Path::new(FILE)).unwrap().settings.limits;
    assert_eq!(
        (limits.on_store_failure, limits.max_pending),
        (StoreFailure::Refuse, 1 << 30)
    );
}

#[test]
fn when_closed_names_voicemail_or_another_queue_and_each_mistake_is_named() {
    let closed = |value: &str| {
        edited(
            "[queues.billing]\n",
            &format!("[queues.billing]\nwhen_closed = {value}\n"),
        )
    };
    let plan = |text: &str| parse(text, Path::new(FILE)).unwrap().plan;
    let billing = |p: &RoutePlan| p.queue(p.queue_by_name("billing").unwrap()).when_closed;
    // Voicemail by default and when said.
    assert_eq!(billing(&plan(DEFAULT_CONFIG)), None);
    assert_eq!(billing(&plan(&closed("\"voicemail\""))), None);
    let to_operator = plan(&closed("\"operator\""));
    assert_eq!(billing(&to_operator), to_operator.queue_by_name("operator"));

    let text = closed("\"operater\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.billing.when_closed: unknown queue \"operater\" (did you mean \"operator\"?)",
            at(&text, "\"operater\"")
        )]
    );
    let text = closed("\"billing\"");
    assert_eq!(
        errors(&text),
        [format!(
            "{}: queues.billing.when_closed: a closed queue cannot send its calls to itself (use \"voicemail\" or another queue)",
            at(&text, "\"billing\"\n")
        )]
    );
}
