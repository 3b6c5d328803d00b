//! A large routing config, as a big contact center might run: hundreds of queues and a
//! thousand rules using every kind of condition. Deterministic, so benchmark figures
//! compare across runs.

use std::fmt::Write;

const STRATEGIES: [&str; 4] = [
    "longest_idle",
    "most_skilled",
    "round_robin",
    "least_occupied",
];

/// Skills the queues draw from (queue `i` needs `skill_{i % SKILLS}`).
pub const SKILLS: usize = 20;

/// Config text with `queues` queues (`q000`, ...) and `rules` rules. `aging` sets every
/// queue's aging rate, so two texts can differ in policy while keeping every name.
pub fn text(queues: usize, rules: usize, aging: u32) -> String {
    let mut t = String::with_capacity(200 * (queues + rules));
    t.push_str(
        "[directory]\ndefault_country = \"US\"\n\n[calls]\nfallback_queue = \"q000\"\n\n\
         [[tiers]]\nname = \"standard\"\nbase_priority = 0\nstandard = { answer_percent = 80, within = \"60s\" }\n\n\
         [[tiers]]\nname = \"gold\"\nbase_priority = 20\nstandard = { answer_percent = 85, within = \"30s\" }\n\n\
         [[tiers]]\nname = \"platinum\"\nbase_priority = 50\nstandard = { answer_percent = 90, within = \"20s\" }\n\n\
         [[tiers]]\nname = \"concierge\"\nbase_priority = 80\nstandard = { answer_percent = 95, within = \"10s\" }\n\n\
         [lines.main]\nnumber = \"+18005550100\"\nmenu = \"main\"\ndefault = true\n\n\
         [lines.platinum]\nnumber = \"+18005550199\"\nqueue = \"q001\"\n\n\
         [calendars.hours]\ntime_zone = \"America/Chicago\"\n\
         hours = { mon-fri = \"07:00-19:00\", sat = \"08:00-12:00\" }\nholidays = [\"2026-12-25\"]\n\n\
         [menus.main]\nprompt = \"main-menu\"\nfallback = { queue = \"q000\" }\noptions = [\n",
    );
    for d in 0..10.min(queues) {
        let _ = writeln!(t, "  {{ digits = \"{d}\", queue = \"q{d:03}\" }},");
    }
    t.push_str("]\n\n");
    for i in 0..queues {
        let _ = write!(
            t,
            "[queues.q{i:03}]\nskills = {{ skill_{} = {} }}\nstrategy = \"{}\"\naging_per_minute = {aging}\n",
            i % SKILLS,
            1 + i % 5,
            STRATEGIES[i % STRATEGIES.len()]
        );
        if i % 10 == 5 {
            let _ = write!(
                t,
                "max_wait = \"15m\"\nmax_wait_action = \"overflow\"\noverflow_to = \"q{:03}\"\n\
                 overflow = [{{ after = \"2m\", min_proficiency = 1 }}, {{ after = \"5m\", also = [\"q{:03}\"] }}]\n",
                (i + 1) % queues,
                (i + 2) % queues
            );
        }
        t.push('\n');
    }
    for i in 0..rules {
        let when = match i % 6 {
            0 => format!(
                "caller.tier >= \"gold\" and caller.lifetime_value > {}",
                i * 10
            ),
            1 => format!("caller.attr.segment == \"s{i}\" and call.channel == \"voice\""),
            2 => format!(
                "\"tag{i}\" in caller.tags or caller.influence > {}",
                50 + i % 50
            ),
            3 => format!(
                "queue(\"q{:03}\").estimated_wait > {} and open(\"hours\")",
                i % queues,
                60 + i
            ),
            4 => format!(
                "caller.preference in [\"get_it_done\", \"friendly_chat\"] and caller.attr.device_purchased < days_ago({})",
                365 + i
            ),
            _ => format!(
                "not caller.known and line.name == \"main\" and caller.zero_outs >= {}",
                1 + i % 3
            ),
        };
        let continues = if i % 2 == 0 { ", continue = true" } else { "" };
        let _ = write!(
            t,
            "[[rules]]\nname = \"r{i:04}\"\nwhen = '{when}'\n\
             then = {{ queue = \"q{:03}\", raise_priority = 1, tags = [\"t{}\"]{continues} }}\n\n",
            (i * 7) % queues,
            i % 50
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_large_config_is_valid_and_as_large_as_promised() {
        let text = super::text(200, 1_000, 10);
        let config = switchboard_config::parse(&text, Path::new("large.toml"))
            .unwrap_or_else(|e| panic!("{:#?}", &e.lines()[..e.lines().len().min(5)]));
        assert_eq!(config.plan.queues.len(), 200);
        assert_eq!(config.plan.rules.len(), 1_000);
        assert!(
            config.warnings.is_empty(),
            "{:?}",
            &config.warnings[..3.min(config.warnings.len())]
        );
    }
}
