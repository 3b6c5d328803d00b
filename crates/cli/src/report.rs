//! `switchboard report`: asks a running server for its standards report and prints, per
//! tier, the published standard beside what was delivered, met or missed.

use std::{process::ExitCode, time::Duration};

use switchboard_proto::v1::{
    self as pb, GetAgentStatsRequest, GetStandardsReportRequest, admin_client::AdminClient,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    connect: crate::client::Connect,
    /// How far back from now, e.g. "1h", "24h", "7d" (over 24h needs the server's store).
    #[arg(long, default_value = "24h", value_parser = window)]
    window: Duration,
    /// Exit 3 when a tier missed its standard (for scripts and alerts; 2 is a usage error).
    #[arg(long)]
    fail_on_miss: bool,
    /// Also list each agent's figures over the window against the coaching standard
    /// (from the server's call records), most points first.
    #[arg(long)]
    agents: bool,
}

fn window(text: &str) -> Result<Duration, String> {
    switchboard_config::duration::parse_duration(text).map_err(|e| e.to_string())
}

/// Exit code with --fail-on-miss when a standard was missed.
const EXIT_MISSED: u8 = 3;

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (report, agents) = runtime.block_on(async {
        let mut client = AdminClient::new(args.connect.channel().await?);
        let window = prost_types::Duration::try_from(args.window)
            .map_err(|_| anyhow::anyhow!("--window: too long"))?;
        let report = client
            .get_standards_report(GetStandardsReportRequest {
                window: Some(window),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
        let agents = if args.agents {
            let stats = client
                .get_agent_stats(GetAgentStatsRequest {
                    coaching_only: false,
                    window: Some(window),
                })
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
            Some(stats)
        } else {
            None
        };
        anyhow::Ok((report, agents))
    })?;
    print!("{}", render(&report));
    if let Some(agents) = &agents {
        print!("\n{}", render_agents(agents));
    }
    let missed = report
        .tiers
        .iter()
        .any(|t| t.verdict == i32::from(pb::Verdict::Missed));
    Ok(if missed && args.fail_on_miss {
        ExitCode::from(EXIT_MISSED)
    } else {
        ExitCode::SUCCESS
    })
}

fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map_or_else(
            || "?".to_owned(),
            |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

/// A duration in whole hours when it is some (an email's 4 h standard), else seconds.
fn seconds(d: Option<&prost_types::Duration>) -> String {
    match d {
        None => "-".to_owned(),
        Some(d) if d.seconds >= 3_600 && d.seconds % 3_600 == 0 => {
            format!("{}h", d.seconds / 3_600)
        }
        Some(d) => format!("{}s", d.seconds),
    }
}

/// The report as a table, one tier per line.
fn render(r: &pb::StandardsReport) -> String {
    let mut out = format!(
        "Service standards from {} to {} ({})\n\n",
        time(r.from.as_ref()),
        time(r.to.as_ref()),
        r.source
    );
    out.push_str(&format!(
        "{:<12} {:<14} {:>9} {:>9} {:>10} {:>9} {:>10} {:>6}  {}\n",
        "tier",
        "standard",
        "delivered",
        "answered",
        "in time",
        "abandoned",
        "late aband",
        "ASA",
        "result"
    ));
    for t in &r.tiers {
        out.push_str(&row(
            &t.tier,
            t.standard_percent,
            t.standard_within.as_ref(),
            [
                t.answered,
                t.answered_in_standard,
                t.abandoned,
                t.abandoned_after_standard,
            ],
            t.service_level,
            t.average_speed_of_answer.as_ref(),
            t.verdict,
        ));
        // Channel by channel, under the tier, unless voice is all there was.
        if t.channels.iter().any(|c| c.channel != "voice") {
            for c in &t.channels {
                out.push_str(&row(
                    &format!("  {}", c.channel),
                    c.standard_percent,
                    c.standard_within.as_ref(),
                    [
                        c.answered,
                        c.answered_in_standard,
                        c.abandoned,
                        c.abandoned_after_standard,
                    ],
                    c.service_level,
                    c.average_speed_of_answer.as_ref(),
                    c.verdict,
                ));
            }
        }
    }
    out
}

/// One line of the standards table: `counts` are answered, in time, abandoned and
/// abandoned late.
fn row(
    name: &str,
    percent: u32,
    within: Option<&prost_types::Duration>,
    counts: [u64; 4],
    level: Option<f64>,
    asa: Option<&prost_types::Duration>,
    verdict: i32,
) -> String {
    let standard = format!("{percent}% in {}", seconds(within));
    let delivered = level.map_or_else(|| "-".to_owned(), |l| format!("{:.1}%", l * 100.0));
    let result = match pb::Verdict::try_from(verdict) {
        Ok(pb::Verdict::Met) => "met",
        Ok(pb::Verdict::Missed) => "MISSED",
        _ => "no calls",
    };
    let [answered, in_time, abandoned, late] = counts;
    format!(
        "{name:<12} {standard:<14} {delivered:>9} {answered:>9} {in_time:>10} {abandoned:>9} {late:>10} {:>6}  {result}\n",
        seconds(asa),
    )
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |s| format!("{:.1}%", s * 100.0))
}

/// Agents' figures as a table, most points first, with the standard above it.
fn render_agents(r: &pb::GetAgentStatsResponse) -> String {
    let mut out = String::new();
    if let Some(s) = &r.standard {
        out.push_str(&format!(
            "Agents against the coaching standard: handle time at most {}, first-contact resolution at least {}%, satisfied at least {}%, judged from {} calls\n\n",
            seconds(s.handle_time.as_ref()),
            s.first_contact_resolution_percent,
            s.satisfied_percent,
            s.min_calls
        ));
    }
    out.push_str(&format!(
        "{:<16} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6}  {}\n",
        "agent", "calls", "AHT", "FCR", "CSAT", "saves", "points", "coaching"
    ));
    if r.agents.is_empty() {
        out.push_str("(no agent handled a call in the window)\n");
    }
    for a in &r.agents {
        let f = a.figures.clone().unwrap_or_default();
        let coaching = if f.coaching_needed {
            f.coaching_reasons.join("; ")
        } else {
            "-".to_owned()
        };
        out.push_str(&format!(
            "{:<16} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6}  {}\n",
            a.agent_id,
            f.calls_handled,
            seconds(f.average_handle_time.as_ref()),
            percent(f.first_contact_resolution),
            percent(f.satisfied),
            format!("{}/{}", f.customer_saves, f.retention_offers),
            f.points,
            coaching
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_each_tier() {
        let tier = |name: &str, level: Option<f64>, verdict: pb::Verdict| pb::TierReport {
            tier: name.to_owned(),
            standard_percent: 80,
            standard_within: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            answered: 10,
            answered_in_standard: 7,
            abandoned: 2,
            abandoned_after_standard: 1,
            service_level: level,
            average_speed_of_answer: Some(prost_types::Duration {
                seconds: 25,
                nanos: 0,
            }),
            verdict: verdict.into(),
            channels: Vec::new(),
        };
        let report = pb::StandardsReport {
            from: Some(prost_types::Timestamp {
                seconds: 1_790_000_000,
                nanos: 0,
            }),
            to: Some(prost_types::Timestamp {
                seconds: 1_790_086_400,
                nanos: 0,
            }),
            source: "call records".to_owned(),
            tiers: vec![
                tier("standard", Some(7.0 / 11.0), pb::Verdict::Missed),
                tier("gold", Some(0.9), pb::Verdict::Met),
                tier("platinum", None, pb::Verdict::NoCalls),
            ],
        };
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Service standards from 2026-09-21 14:13 UTC to 2026-09-22 14:13 UTC (call records)"
        );
        assert!(lines[3].starts_with("standard     80% in 60s"), "{text}");
        assert!(
            lines[3].contains("63.6%") && lines[3].ends_with("MISSED"),
            "{text}"
        );
        assert!(
            lines[4].contains("90.0%") && lines[4].ends_with("met"),
            "{text}"
        );
        assert!(lines[5].ends_with("no calls"), "{text}");
        assert_eq!(lines.len(), 6, "voice only: no channel rows\n{text}");
    }

    #[test]
    fn a_tier_with_contacts_beyond_voice_shows_each_channel_under_it() {
        let secs = |seconds| Some(prost_types::Duration { seconds, nanos: 0 });
        let channel = |name: &str, percent, within, answered, level, verdict: pb::Verdict| {
            pb::ChannelReport {
                channel: name.to_owned(),
                standard_percent: percent,
                standard_within: secs(within),
                answered,
                answered_in_standard: answered,
                service_level: level,
                average_speed_of_answer: secs(30),
                verdict: verdict.into(),
                ..Default::default()
            }
        };
        let report = pb::StandardsReport {
            source: "memory".to_owned(),
            tiers: vec![pb::TierReport {
                tier: "gold".to_owned(),
                standard_percent: 80,
                standard_within: secs(30),
                answered: 3,
                answered_in_standard: 2,
                service_level: Some(2.0 / 3.0),
                verdict: pb::Verdict::Missed.into(),
                channels: vec![
                    channel("voice", 80, 30, 2, Some(0.5), pb::Verdict::Missed),
                    channel("email", 95, 4 * 3_600, 1, Some(1.0), pb::Verdict::Met),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].starts_with("gold ") && lines[3].ends_with("MISSED"),
            "{text}"
        );
        assert!(lines[4].starts_with("  voice      80% in 30s"), "{text}");
        assert!(
            lines[4].contains("50.0%") && lines[4].ends_with("MISSED"),
            "{text}"
        );
        assert!(lines[5].starts_with("  email      95% in 4h"), "{text}");
        assert!(
            lines[5].contains("100.0%") && lines[5].ends_with("met"),
            "{text}"
        );
    }

    #[test]
    fn the_agents_table_names_each_shortfall() {
        let stats = pb::GetAgentStatsResponse {
            agents: vec![
                pb::AgentStats {
                    agent_id: "ann".into(),
                    figures: Some(pb::AgentFigures {
                        calls_handled: 12,
                        average_handle_time: Some(prost_types::Duration {
                            seconds: 240,
                            nanos: 0,
                        }),
                        first_contact_resolution: Some(0.75),
                        satisfied: Some(0.9),
                        retention_offers: 2,
                        customer_saves: 1,
                        points: 30,
                        ..Default::default()
                    }),
                },
                pb::AgentStats {
                    agent_id: "bo".into(),
                    figures: Some(pb::AgentFigures {
                        calls_handled: 10,
                        first_contact_resolution: Some(0.5),
                        points: 12,
                        coaching_needed: true,
                        coaching_reasons: vec![
                            "first-contact resolution 50.0% is under the standard 70%".into(),
                        ],
                        ..Default::default()
                    }),
                },
            ],
            standard: Some(pb::CoachingStandard {
                handle_time: Some(prost_types::Duration {
                    seconds: 480,
                    nanos: 0,
                }),
                first_contact_resolution_percent: 70,
                satisfied_percent: 80,
                min_calls: 10,
            }),
        };
        let text = render_agents(&stats);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Agents against the coaching standard: handle time at most 480s, first-contact resolution at least 70%, satisfied at least 80%, judged from 10 calls"
        );
        assert_eq!(
            lines[3],
            "ann                  12   240s   75.0%   90.0%    1/2     30  -"
        );
        assert!(
            lines[4].starts_with("bo                   10      -   50.0%       -")
                && lines[4].ends_with("  first-contact resolution 50.0% is under the standard 70%"),
            "{text}"
        );
    }
}
