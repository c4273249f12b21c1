//! A daily count as a line with a dot per recorded day, broken where a day was not recorded
//! (a gap is unknown, not zero), as SVG markup; and the same line as a small sparkline.

use super::{compact, escaped, nice_ceiling, round1};
use chrono::NaiveDate;
use std::fmt::Write;

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 22.0;

/// One day of the window: its count, or None when nothing was recorded.
pub struct DayValue {
    pub day: NaiveDate,
    pub value: Option<i64>,
}

/// The points' coordinates in a `width` × `height` box under `top` (None for gaps).
fn points(
    days: &[DayValue],
    left: f64,
    width: f64,
    top_y: f64,
    height: f64,
    top: i64,
) -> Vec<Option<(f64, f64)>> {
    let step = width / (days.len().max(2) - 1) as f64;
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            d.value.map(|v| {
                (
                    round1(left + i as f64 * step),
                    round1(top_y + height - v as f64 * height / top as f64),
                )
            })
        })
        .collect()
}

/// `M x y L x y …`, a new `M` after every gap.
fn path(points: &[Option<(f64, f64)>]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p {
            Some((x, y)) => {
                let _ = write!(d, "{}{x} {y} ", if pen_down { "L" } else { "M" });
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d.trim_end().to_string()
}

/// The chart of `days` (oldest first, one entry per day of the window).
pub fn daily_line(days: &[DayValue], what: &str, description: &str) -> String {
    let label = escaped(description);
    let what = escaped(what);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    let top = nice_ceiling(days.iter().filter_map(|d| d.value).max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    for (value, y) in [(top, TOP), (top / 2, TOP + plot_h / 2.0), (0, base)] {
        let class = if value == 0 { "axis" } else { "grid-line" };
        let _ = write!(
            svg,
            r#"<line class="{class}" x1="{LEFT}" x2="{x2}" y1="{y}" y2="{y}"/><text x="{tx}" y="{ty}" text-anchor="end">{v}</text>"#,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            v = compact(value),
        );
    }
    let pts = points(days, LEFT, plot_w, TOP, plot_h, top);
    let _ = write!(svg, r#"<path class="series" d="{}"/>"#, path(&pts));
    for (d, p) in days.iter().zip(&pts) {
        if let (Some((x, y)), Some(v)) = (p, d.value) {
            let _ = write!(
                svg,
                r#"<circle class="dot" cx="{x}" cy="{y}" r="2.5"><title>{}: {v} {what}</title></circle>"#,
                d.day.format("%a %b %-d")
            );
        }
    }
    // The first, middle and last days name the axis.
    let n = days.len();
    for i in [0, n / 2, n.saturating_sub(1)] {
        let Some(d) = days.get(i) else { continue };
        let x = LEFT + plot_w * i as f64 / (n.max(2) - 1) as f64;
        let anchor = match i {
            0 => "start",
            _ if i + 1 == n => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{ty}" text-anchor="{anchor}">{l}</text>"#,
            x = round1(x),
            ty = HEIGHT - 6.0,
            l = d.day.format("%b %-d"),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A small line without axes, for an overview card.
pub fn sparkline(days: &[DayValue], description: &str) -> String {
    const W: f64 = 160.0;
    const H: f64 = 32.0;
    let label = escaped(description);
    let top = nice_ceiling(days.iter().filter_map(|d| d.value).max().unwrap_or(0));
    let pts = points(days, 2.0, W - 4.0, 3.0, H - 6.0, top);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{label}"><title>{label}</title><line class="axis" x1="2" x2="{x2}" y1="{H3}" y2="{H3}"/><path class="series" d="{d}"/>"#,
        x2 = W - 2.0,
        H3 = H - 3.0,
        d = path(&pts),
    );
    if let Some((x, y)) = pts.iter().rev().flatten().next() {
        let _ = write!(svg, r#"<circle class="dot" cx="{x}" cy="{y}" r="2.5"/>"#);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(values: &[Option<i64>]) -> Vec<DayValue> {
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| DayValue {
                day: first + chrono::Duration::days(i as i64),
                value: *v,
            })
            .collect()
    }

    #[test]
    fn a_gap_breaks_the_line_and_has_no_dot() {
        let svg = daily_line(&days(&[Some(1), Some(2), None, Some(2)]), "stale", "x");
        let d = svg.split(r#"<path class="series" d=""#).nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<title>Mon Mar 2: 2 stale</title>"), "{svg}");
        assert!(svg.contains(">Mar 1</text>") && svg.contains(">Mar 4</text>"));
    }

    #[test]
    fn nothing_recorded_draws_only_the_axes() {
        let svg = daily_line(&days(&[None, None]), "stale", "x");
        assert!(svg.contains(r#"d="""#));
        assert_eq!(svg.matches("<circle").count(), 0);
        let spark = sparkline(&days(&[None, Some(3)]), "<b>");
        assert!(spark.contains("<circle") && !spark.contains("<b>") && !spark.contains("style="));
    }
}
