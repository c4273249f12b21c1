//! Two bars per month side by side (flags created, flags archived), as SVG markup. Pure, like
//! the rest of `chart`: numbers in, markup out, text escaped, no `style=`.

use super::{compact, escaped, nice_ceiling, round1};
use chrono::NaiveDate;
use std::fmt::Write;

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 22.0;

/// One month: `YYYY-MM` and its two counts.
pub struct MonthPair {
    pub month: String,
    pub first: i64,
    pub second: i64,
}

/// The chart of `months` (oldest first); `names` label the two bars (legend and tooltips).
pub fn paired_bars(months: &[MonthPair], names: (&str, &str), description: &str) -> String {
    let label = escaped(description);
    let (a, b) = (escaped(names.0), escaped(names.1));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    let lx = WIDTH - RIGHT - 150.0;
    let _ = write!(
        svg,
        r#"<rect class="bar" x="{lx}" y="4" width="10" height="10"/><text x="{t1}" y="13">{a}</text><rect class="bar-2" x="{x2}" y="4" width="10" height="10"/><text x="{t2}" y="13">{b}</text>"#,
        t1 = lx + 14.0,
        x2 = lx + 80.0,
        t2 = lx + 94.0,
    );
    let top = nice_ceiling(
        months
            .iter()
            .map(|m| m.first.max(m.second))
            .max()
            .unwrap_or(0),
    );
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
    let slot = plot_w / months.len().max(1) as f64;
    let bar_w = round1(slot * 0.32);
    let scale = plot_h / top as f64;
    for (i, m) in months.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.16;
        let _ = write!(
            svg,
            "<g><title>{}: {} {a}, {} {b}</title>",
            month_label(&m.month, true),
            m.first,
            m.second
        );
        for (n, class, offset) in [(m.first, "bar", 0.0), (m.second, "bar-2", bar_w)] {
            if n > 0 {
                let h = round1(n as f64 * scale);
                let _ = write!(
                    svg,
                    r#"<rect class="{class}" x="{x}" y="{y}" width="{bar_w}" height="{h}"/>"#,
                    x = round1(x + offset),
                    y = round1(base - h),
                );
            }
        }
        svg.push_str("</g>");
        let _ = write!(
            svg,
            r#"<text x="{cx}" y="{ty}" text-anchor="middle">{l}</text>"#,
            cx = round1(x + bar_w),
            ty = HEIGHT - 6.0,
            l = month_label(&m.month, false),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// "Mar" (or "March 2026" when `long`) from `YYYY-MM`; anything else as digits and dashes.
pub fn month_label(month: &str, long: bool) -> String {
    match NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d") {
        Ok(d) if long => d.format("%B %Y").to_string(),
        Ok(d) => d.format("%b").to_string(),
        Err(_) => month
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '-')
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(month: &str, first: i64, second: i64) -> MonthPair {
        MonthPair {
            month: month.into(),
            first,
            second,
        }
    }

    #[test]
    fn each_month_has_its_two_bars_and_a_tooltip() {
        let svg = paired_bars(
            &[m("2026-01", 2, 0), m("2026-02", 1, 1)],
            ("created", "archived"),
            "x",
        );
        assert!(svg.contains("<title>January 2026: 2 created, 0 archived</title>"));
        assert!(svg.contains(">Feb</text>"));
        // Legend + three bars (an empty count draws none).
        assert_eq!(svg.matches("<rect ").count(), 2 + 3, "{svg}");
        // The top of the axis is 2: two created flags fill the plot (154 high).
        assert!(svg.contains(r#"height="154""#), "{svg}");
    }

    #[test]
    fn text_is_escaped() {
        let svg = paired_bars(&[m("<b>", 1, 1)], ("a&", "\"b"), "<i>");
        assert!(!svg.contains("<b>") && !svg.contains("<i>") && !svg.contains("style="));
        assert!(svg.contains("a&#38;"));
    }
}
