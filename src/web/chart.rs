//! A stacked bar chart of daily evaluations (yes below, no on top) as SVG markup, drawn on the
//! server so it reads without JavaScript and prints (shared/spec/ui.md, "Charts").
//!
//! Pure: numbers in, markup out. Every number is formatted here; the one piece of text that comes
//! from outside (the description) goes through askama's HTML escaper. Colours come from the
//! stylesheet's `.chart` classes (`.bar`, `.bar-2`, `.axis`, `.grid-line`): no `style=` (CSP).
//!
//! `months` draws two bars per month and `line` a daily count (and a sparkline) with the same
//! helpers.

pub mod line;
pub mod months;
pub mod timeline;

use crate::usage::DayCount;
use askama::filters::{escape, Html};
use chrono::NaiveDate;
use std::fmt::Write;

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 22.0;

/// The chart of `days` (oldest first); `description` becomes its `<title>` and `aria-label`.
pub fn daily_bars(days: &[DayCount], description: &str) -> String {
    let label = escaped(description);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    let top = nice_ceiling(days.iter().map(|d| d.yes + d.no).max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    legend(&mut svg);
    for (value, y) in [(top, TOP), (top / 2, TOP + plot_h / 2.0)] {
        let _ = write!(
            svg,
            r#"<line class="grid-line" x1="{LEFT}" x2="{x2}" y1="{y}" y2="{y}"/><text x="{tx}" y="{ty}" text-anchor="end">{v}</text>"#,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            v = compact(value),
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{x2}" y1="{base}" y2="{base}"/><text x="{tx}" y="{ty}" text-anchor="end">0</text>"#,
        x2 = WIDTH - RIGHT,
        tx = LEFT - 6.0,
        ty = base + 4.0,
    );
    let slot = plot_w / days.len().max(1) as f64;
    let bar_w = round1(slot * 0.7);
    let scale = plot_h / top as f64;
    for (i, d) in days.iter().enumerate() {
        let x = round1(LEFT + i as f64 * slot + (slot - bar_w) / 2.0);
        let yes_h = round1(d.yes as f64 * scale);
        let no_h = round1(d.no as f64 * scale);
        let _ = write!(
            svg,
            "<g><title>{}: {} yes, {} no</title>",
            day_label(&d.day, true),
            d.yes,
            d.no
        );
        if d.yes > 0 {
            let y = round1(base - yes_h);
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{x}" y="{y}" width="{bar_w}" height="{yes_h}"/>"#
            );
        }
        if d.no > 0 {
            let y = round1(base - yes_h - no_h);
            let _ = write!(
                svg,
                r#"<rect class="bar-2" x="{x}" y="{y}" width="{bar_w}" height="{no_h}"/>"#
            );
        }
        svg.push_str("</g>");
        // Every other day is labelled, the last (today) always.
        if (days.len() - 1 - i).is_multiple_of(2) {
            let _ = write!(
                svg,
                r#"<text x="{cx}" y="{ty}" text-anchor="middle">{l}</text>"#,
                cx = round1(x + bar_w / 2.0),
                ty = HEIGHT - 6.0,
                l = day_label(&d.day, false),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn legend(svg: &mut String) {
    let x = WIDTH - RIGHT - 96.0;
    let _ = write!(
        svg,
        r#"<rect class="bar" x="{x}" y="4" width="10" height="10"/><text x="{tx}" y="13">yes</text><rect class="bar-2" x="{x2}" y="4" width="10" height="10"/><text x="{tx2}" y="13">no</text>"#,
        tx = x + 14.0,
        x2 = x + 52.0,
        tx2 = x + 66.0,
    );
}

fn escaped(s: &str) -> String {
    match escape(s, Html) {
        Ok(safe) => safe.to_string(),
        Err(never) => match never {},
    }
}

/// "Nov 24" (or "Tue Nov 24" when `long`) from `YYYY-MM-DD`; anything else is shown as digits
/// and dashes only, so a malformed day cannot inject markup.
fn day_label(day: &str, long: bool) -> String {
    match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(d) if long => d.format("%a %b %-d").to_string(),
        Ok(d) => d.format("%b %-d").to_string(),
        Err(_) => day
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '-')
            .collect(),
    }
}

/// The smallest of 2, 4, 6, 8, 10 × 10ⁿ at or above `max`, so the half-way tick is whole.
pub fn nice_ceiling(max: i64) -> i64 {
    let mut magnitude = 1i64;
    loop {
        for step in [2, 4, 6, 8, 10] {
            let candidate = step * magnitude;
            if candidate >= max {
                return candidate;
            }
        }
        magnitude = magnitude.saturating_mul(10);
        if magnitude >= i64::MAX / 10 {
            return i64::MAX;
        }
    }
}

/// 950, 1.2k, 12k, 3.4M: axis labels stay short.
pub fn compact(n: i64) -> String {
    let f = n as f64;
    match n.abs() {
        0..=999 => n.to_string(),
        1_000..=9_999 => trim(format!("{:.1}k", f / 1e3)),
        10_000..=999_999 => format!("{:.0}k", f / 1e3),
        1_000_000..=9_999_999 => trim(format!("{:.1}M", f / 1e6)),
        10_000_000..=999_999_999 => format!("{:.0}M", f / 1e6),
        _ => trim(format!("{:.1}G", f / 1e9)),
    }
}

fn trim(s: String) -> String {
    s.replace(".0k", "k")
        .replace(".0M", "M")
        .replace(".0G", "G")
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: &str, yes: i64, no: i64) -> DayCount {
        DayCount {
            day: day.into(),
            yes,
            no,
        }
    }

    #[test]
    fn axis_tops_are_round_with_a_whole_half() {
        for (max, top) in [
            (0, 2),
            (1, 2),
            (3, 4),
            (7, 8),
            (10, 10),
            (11, 20),
            (150, 200),
            (201, 400),
            (5_001, 6_000),
        ] {
            assert_eq!(nice_ceiling(max), top, "{max}");
        }
    }

    #[test]
    fn big_numbers_are_compact() {
        for (n, s) in [
            (0, "0"),
            (950, "950"),
            (1_000, "1k"),
            (1_250, "1.2k"),
            (12_400, "12k"),
            (3_400_000, "3.4M"),
            (40_000_000, "40M"),
        ] {
            assert_eq!(compact(n), s);
        }
    }

    #[test]
    fn bars_stack_no_on_top_of_yes() {
        let svg = daily_bars(&[day("2026-11-23", 0, 0), day("2026-11-24", 6, 2)], "x");
        // Top of the axis is 8; the plot is 134 high, so yes is 6/8 and no 2/8 of it.
        assert!(svg.contains(r#"<rect class="bar" x="#), "{svg}");
        assert!(svg.contains(r#"height="100.5""#), "{svg}");
        assert!(svg.contains(r#"height="33.5""#), "{svg}");
        assert!(
            svg.contains("<title>Tue Nov 24: 6 yes, 2 no</title>"),
            "{svg}"
        );
        assert!(svg.contains(">Nov 24</text>"), "{svg}");
        // The empty day has its tooltip but no bar.
        assert_eq!(
            svg.matches("<rect class=\"bar\"").count(),
            2,
            "legend + one bar"
        );
    }

    #[test]
    fn text_is_escaped_and_no_style_attribute_is_used() {
        let svg = daily_bars(&[day("2026-11-24\"><script>", 1, 0)], "a <b> & \"c\"");
        assert!(
            svg.contains(r#"aria-label="a &#60;b&#62; &#38; &#34;c&#34;""#),
            "{svg}"
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_series_draws_just_the_axes() {
        let svg = daily_bars(&[], "nothing");
        assert!(svg.contains(r#"class="axis""#));
        assert_eq!(svg.matches("<g>").count(), 0);
    }
}
