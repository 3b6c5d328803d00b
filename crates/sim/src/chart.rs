//! The service level of each tier over the day as an SVG chart: one line per tier by
//! interval, its standard as a dashed line of the same colour, labelled in text (not by
//! colour alone), and axes in hours and percent. Plain SVG 1.1, written here: no fonts
//! or scripts to fetch, viewable in any browser.

use std::fmt::Write;

use crate::Figures;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Colours told apart by most readers, including the colour blind (Okabe-Ito).
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart of a run's figures; `title` heads it.
pub fn chart(f: &Figures, title: &str) -> String {
    let intervals = f.tiers.first().map_or(0, |t| t.intervals.len()).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: f64| LEFT + plot_w * i / intervals as f64;
    let y = |level: f64| TOP + plot_h * (1.0 - level);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="14">
<title>{}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="18">{}</text>
"#,
        escape(title),
        escape(title)
    );
    // Grid and axes: every 20% and every hour.
    for p in (0..=100).step_by(20) {
        let yy = y(f64::from(p) / 100.0);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{p}%</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            yy + 5.0
        );
    }
    let per_hour = (3_600.0 / f.interval_s).max(1.0);
    let hours = (intervals as f64 / per_hour).ceil() as usize;
    let step = hours.div_ceil(12).max(1);
    for h in (0..=hours).step_by(step) {
        let xx = x(h as f64 * per_hour);
        if xx > LEFT + plot_w + 0.5 {
            break;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{h}h</text>"##,
            TOP + plot_h,
            TOP + plot_h + 20.0
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">hours into the day (service level per {} min interval)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0,
        f.interval_s / 60.0
    );
    let mut legend = 0;
    for (t, tier) in f.tiers.iter().enumerate() {
        if tier.all.offered == 0 {
            continue;
        }
        let colour = COLOURS[t % COLOURS.len()];
        let standard = y(f64::from(tier.standard_percent) / 100.0);
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{standard:.1}" x2="{:.1}" y2="{standard:.1}" stroke="{colour}" stroke-dasharray="6 4" stroke-width="1.5"/>"#,
            LEFT + plot_w
        );
        // One line per run of intervals with calls; gaps where there were none.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, slot) in tier.intervals.iter().enumerate() {
            match slot.service_level {
                Some(level) => runs
                    .last_mut()
                    .expect("one run at least")
                    .push((x(i as f64 + 0.5), y(level))),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let points: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{}"/>"#,
                points.join(" ")
            );
        }
        let ly = TOP + 20.0 + 44.0 * f64::from(legend);
        let lx = LEFT + plot_w + 16.0;
        let overall = tier
            .all
            .service_level
            .map_or_else(|| "-".to_owned(), |l| format!("{:.1}%", l * 100.0));
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2.5"/><text x="{:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" font-size="12">{overall} in all; standard {}% (dashed)</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 5.0,
            escape(&tier.tier),
            lx,
            ly + 22.0,
            tier.standard_percent
        );
        legend += 1;
    }
    s.push_str("</svg>\n");
    s
}
