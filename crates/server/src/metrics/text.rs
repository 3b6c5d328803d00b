//! The exposition formats: OpenMetrics as the library writes it, and the Prometheus text
//! format (0.0.4) made from it for scrapers that do not ask for OpenMetrics.
//!
//! The two differ where this matters: OpenMetrics names a counter family without its
//! `_total` suffix in `# HELP` and `# TYPE` (its samples carry it), has `info` families
//! and `# UNIT` lines, and ends with `# EOF`; the text format names the `_total` series,
//! has no `info` type (an info family is a gauge of its `_info` series) and no `# UNIT`.

use std::collections::HashMap;

/// Whether an `Accept` header asks for OpenMetrics.
pub(crate) fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut fields = part.split(';');
            let media = fields.next().unwrap_or("").trim();
            // A type the client gave quality 0 is one it refuses.
            let refused = fields.any(|f| {
                f.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// `openmetrics` in the Prometheus text format.
pub(crate) fn to_text(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();
    let renamed = |name: &str| -> String {
        match types.get(name) {
            Some(&"counter") => format!("{name}_total"),
            Some(&"info") => format!("{name}_info"),
            _ => name.to_owned(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let kind = if kind == "info" { "gauge" } else { kind };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_info_families_are_named_by_their_series_in_the_text_format() {
        let open = "# HELP x_calls Calls.\n# TYPE x_calls counter\nx_calls_total{q=\"a\"} 3\n\
                    # HELP x_build Build.\n# TYPE x_build info\nx_build_info{version=\"1\"} 1\n\
                    # HELP x_wait Wait.\n# TYPE x_wait histogram\n# UNIT x_wait seconds\n\
                    x_wait_bucket{le=\"+Inf\"} 0\nx_wait_sum 0\nx_wait_count 0\n# EOF\n";
        assert_eq!(
            to_text(open),
            "# HELP x_calls_total Calls.\n# TYPE x_calls_total counter\nx_calls_total{q=\"a\"} 3\n\
             # HELP x_build_info Build.\n# TYPE x_build_info gauge\nx_build_info{version=\"1\"} 1\n\
             # HELP x_wait Wait.\n# TYPE x_wait histogram\n\
             x_wait_bucket{le=\"+Inf\"} 0\nx_wait_sum 0\nx_wait_count 0\n"
        );
    }

    #[test]
    fn openmetrics_is_served_only_to_scrapers_that_ask_for_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(wants_openmetrics(Some("Application/OpenMetrics-Text")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text;q=0, text/plain"
        )));
    }
}
