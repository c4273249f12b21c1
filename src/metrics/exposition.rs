//! The Prometheus text exposition format, version 0.0.4, written by hand (it is a few rules):
//!
//! - lines end with `\n`, the last one too;
//! - each metric family comes as one uninterrupted group, its `# HELP` and `# TYPE` lines first,
//!   with one `# TYPE` (counter, gauge, histogram) per name;
//! - in HELP text a backslash and a line feed are escaped (`\\`, `\n`); in label values the
//!   double quote too (`\"`);
//! - a histogram `x` is `x_bucket{le="..."}` lines with cumulative counts, ending with
//!   `le="+Inf"` (equal to `x_count`), then `x_sum` and `x_count`;
//! - values are Go floats: integers as digits, and `+Inf`, `-Inf`, `NaN`.
//!
//! Names and label names are ours (constants), so they are checked in debug builds only.

use std::fmt::Write as _;

/// The `Content-Type` of a scrape's answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample's value: counters stay exact integers past 2^53.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Uint(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Uint(v as u64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Uint(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// What a histogram holds at one moment: for each upper bound, the observations at or below
/// it (cumulative), and the sum and count of all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramValues {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

/// A scrape's text, written family by family.
#[derive(Default)]
pub struct Exposition {
    out: String,
    /// The family being written: samples must carry its name.
    current: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a family: its HELP and TYPE lines. Its samples follow, before the next family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(is_metric_name(name), "metric name {name:?}");
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self.current = name.to_string();
        self
    }

    /// One sample of the open family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) -> &mut Self {
        let name = std::mem::take(&mut self.current);
        self.line(&name, labels, None, value.into());
        self.current = name;
        self
    }

    /// A whole histogram family with one series.
    pub fn histogram(&mut self, name: &str, help: &str, h: &HistogramValues) -> &mut Self {
        self.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        for (le, count) in &h.buckets {
            let le = format_float(*le);
            self.line(&bucket, &[], Some(&le), Value::Uint(*count));
        }
        self.line(&bucket, &[], Some("+Inf"), Value::Uint(h.count));
        self.line(&format!("{name}_sum"), &[], None, Value::Float(h.sum));
        self.line(&format!("{name}_count"), &[], None, Value::Uint(h.count));
        self
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn line(&mut self, name: &str, labels: &[(&str, &str)], le: Option<&str>, value: Value) {
        self.out.push_str(name);
        if !labels.is_empty() || le.is_some() {
            self.out.push('{');
            let le = le.map(|v| ("le", v));
            for (i, (k, v)) in labels.iter().copied().chain(le).enumerate() {
                debug_assert!(is_label_name(k), "label name {k:?}");
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label_value(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value {
            Value::Int(v) => write!(self.out, "{v}"),
            Value::Uint(v) => write!(self.out, "{v}"),
            Value::Float(v) => write!(self.out, "{}", format_float(v)),
        }
        .ok();
        self.out.push('\n');
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
}

/// A float as Go's `ParseFloat` reads it.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    !s.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_with_help_and_type_first_and_values_escaped() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "Requests.\nBy path \\ class.")
            .sample(&[("path", "C:\\dir \"a\"\nb"), ("class", "2xx")], 3u64)
            .sample(&[], u64::MAX);
        e.family("g", Kind::Gauge, "A gauge.")
            .sample(&[], -2i64)
            .sample(&[("k", "v")], 0.25)
            .sample(&[("k", "inf")], f64::INFINITY)
            .sample(&[("k", "nan")], f64::NAN);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP x_total Requests.\\nBy path \\\\ class.\n\
             # TYPE x_total counter\n\
             x_total{path=\"C:\\\\dir \\\"a\\\"\\nb\",class=\"2xx\"} 3\n\
             x_total 18446744073709551615\n\
             # HELP g A gauge.\n\
             # TYPE g gauge\n\
             g -2\n\
             g{k=\"v\"} 0.25\n\
             g{k=\"inf\"} +Inf\n\
             g{k=\"nan\"} NaN\n"
        );
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_ending_in_inf_then_sum_and_count() {
        let mut e = Exposition::new();
        let h = HistogramValues {
            buckets: vec![(0.005, 1), (0.5, 3), (10.0, 4)],
            sum: 12.75,
            count: 5,
        };
        e.histogram("d_seconds", "Durations.", &h);
        assert_eq!(
            e.finish(),
            "# HELP d_seconds Durations.\n\
             # TYPE d_seconds histogram\n\
             d_seconds_bucket{le=\"0.005\"} 1\n\
             d_seconds_bucket{le=\"0.5\"} 3\n\
             d_seconds_bucket{le=\"10\"} 4\n\
             d_seconds_bucket{le=\"+Inf\"} 5\n\
             d_seconds_sum 12.75\n\
             d_seconds_count 5\n"
        );
    }

    #[test]
    fn names_follow_the_prometheus_rules() {
        assert!(is_metric_name("switchyard_http_responses_total"));
        assert!(is_metric_name("a:b"));
        assert!(!is_metric_name("1abc"));
        assert!(!is_metric_name("a-b"));
        assert!(is_label_name("class"));
        assert!(!is_label_name("__name"));
        assert!(!is_label_name("a:b"));
    }
}
