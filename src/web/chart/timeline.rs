//! A flag's timeline: lines over time (evaluations, guard metrics), each scaled to its own
//! highest value (the legend says it), with every change of the flag marked as a vertical line
//! whose `<title>` says what happened. Pure: numbers in, SVG markup out; text from outside goes
//! through the HTML escaper; colours come from the stylesheet's `.chart` classes.

use super::{escaped, round1};
use chrono::{DateTime, Utc};
use std::fmt::Write;

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 12.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 22.0;

/// One line: its label and its points (time, value), oldest first.
pub struct Line {
    pub label: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// What the markers say: a switch, a strategy edit, a milestone, a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Change,
    Milestone,
    Rollback,
}

impl MarkKind {
    fn class(self) -> &'static str {
        match self {
            MarkKind::Change => "mark",
            MarkKind::Milestone => "mark mark-milestone",
            MarkKind::Rollback => "mark mark-rollback",
        }
    }
}

pub struct Mark {
    pub at: DateTime<Utc>,
    pub kind: MarkKind,
    pub label: String,
}

fn x_of(at: DateTime<Utc>, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    let span = (end - start).num_seconds().max(1) as f64;
    let t = ((at - start).num_seconds() as f64 / span).clamp(0.0, 1.0);
    round1(LEFT + t * (WIDTH - LEFT - RIGHT))
}

/// The chart of `lines` and `marks` between `start` and `end`.
pub fn chart(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    lines: &[Line],
    marks: &[Mark],
    description: &str,
) -> String {
    let label = escaped(description);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    let base = HEIGHT - BOTTOM;
    let plot_h = base - TOP;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{x2}" y1="{base}" y2="{base}"/>"#,
        x2 = WIDTH - RIGHT
    );
    for (i, line) in lines.iter().enumerate() {
        let top = line.points.iter().map(|p| p.1).fold(0.0f64, f64::max);
        let class = format!("series series-{}", i % 4);
        let lx = LEFT + i as f64 * 260.0;
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{lx}" y="6" width="10" height="10"/><text x="{tx}" y="15">{name} (top {top})</text>"#,
            tx = lx + 14.0,
            name = escaped(&line.label),
            top = short(top),
        );
        if line.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (j, (at, v)) in line.points.iter().enumerate() {
            let x = x_of(*at, start, end);
            let y = if top > 0.0 {
                round1(base - v / top * plot_h)
            } else {
                base
            };
            let _ = write!(d, "{}{x} {y} ", if j == 0 { "M" } else { "L" });
        }
        let _ = write!(
            svg,
            r#"<path class="{class} line" d="{}" fill="none"/>"#,
            d.trim_end()
        );
        // A path through one point draws nothing: a lone point (a first hour of evaluations,
        // say) is drawn as a dot.
        if let [(at, v)] = line.points[..] {
            let y = if top > 0.0 {
                round1(base - v / top * plot_h)
            } else {
                base
            };
            let _ = write!(
                svg,
                r#"<circle class="{class}" cx="{x}" cy="{y}" r="3.5"/>"#,
                x = x_of(at, start, end)
            );
        }
    }
    for m in marks {
        let x = x_of(m.at, start, end);
        let _ = write!(
            svg,
            r#"<g><title>{when}: {what}</title><line class="{class}" x1="{x}" x2="{x}" y1="{TOP}" y2="{base}"/><circle class="{class}" cx="{x}" cy="{TOP}" r="3"/></g>"#,
            when = m.at.format("%b %-d %H:%M"),
            what = escaped(&m.label),
            class = m.kind.class(),
        );
    }
    for (at, anchor) in [(start, "start"), (end, "end")] {
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{y}" text-anchor="{anchor}">{t}</text>"#,
            x = x_of(at, start, end),
            y = HEIGHT - 6.0,
            t = at.format("%b %-d %H:%M"),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn lines_and_marks_are_drawn_and_text_is_escaped() {
        let start: DateTime<Utc> = "2030-06-01T12:00:00Z".parse().unwrap();
        let end = start + TimeDelta::hours(1);
        let lines = [Line {
            label: "error ratio <x>".into(),
            points: vec![(start, 0.01), (start + TimeDelta::minutes(30), 0.05)],
        }];
        let marks = [Mark {
            at: start + TimeDelta::minutes(30),
            kind: MarkKind::Rollback,
            label: "Rolled back & off".into(),
        }];
        let svg = chart(start, end, &lines, &marks, "Timeline of checkout");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("error ratio &#60;x&#62; (top 0.05)"), "{svg}");
        assert!(svg.contains(r#"d="M12 180 L500 28""#), "{svg}");
        assert!(svg.contains("Jun 1 12:30: Rolled back &#38; off"), "{svg}");
        assert!(svg.contains("mark mark-rollback"));
        assert!(!svg.contains("<circle class=\"series"), "{svg}");
    }

    #[test]
    fn a_line_of_one_point_is_drawn_as_a_dot() {
        let start: DateTime<Utc> = "2030-06-01T12:00:00Z".parse().unwrap();
        let end = start + TimeDelta::hours(1);
        let lines = [Line {
            label: "evaluations per hour".into(),
            points: vec![(end, 910.0)],
        }];
        let svg = chart(start, end, &lines, &[], "Timeline");
        assert!(
            svg.contains(r#"<circle class="series series-0" cx="988" cy="28" r="3.5"/>"#),
            "{svg}"
        );
    }
}
