//! A strict reader of the Prometheus text format (0.0.4), for scrapes in tests: it fails on
//! anything a Prometheus server would refuse or misread (a family split in two, a sample
//! before its TYPE, a repeated series, a bad escape, a histogram whose buckets are not
//! cumulative or whose `+Inf` bucket differs from its count), and gives the samples back.

use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses `text`, panicking with the line at fault.
    pub fn parse(text: &str) -> Scrape {
        assert!(
            text.ends_with('\n'),
            "the last line must end with a line feed"
        );
        let mut scrape = Scrape::default();
        let mut helps = HashSet::new();
        let mut closed: HashSet<String> = HashSet::new();
        let mut current: Option<String> = None;
        let mut series = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let at = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (word, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
                let tail = parts.next().unwrap_or("");
                match word {
                    "HELP" | "TYPE" => {
                        assert!(is_metric_name(name), "{}", at("bad metric name"));
                        if current.as_deref() != Some(name) {
                            if let Some(c) = current.take() {
                                closed.insert(c);
                            }
                            assert!(!closed.contains(name), "{}", at("family split in two"));
                            current = Some(name.to_string());
                        }
                        if word == "HELP" {
                            assert!(helps.insert(name.to_string()), "{}", at("second HELP"));
                            check_help(tail).unwrap_or_else(|e| panic!("{}", at(&e)));
                        } else {
                            assert!(
                                ["counter", "gauge", "histogram", "summary", "untyped"]
                                    .contains(&tail),
                                "{}",
                                at("unknown type")
                            );
                            let before = scrape.types.insert(name.to_string(), tail.into());
                            assert!(before.is_none(), "{}", at("second TYPE"));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let sample = parse_sample(line).unwrap_or_else(|e| panic!("{}", at(&e)));
            let family = scrape.family_of(&sample.name);
            let described = scrape.types.contains_key(&family) || helps.contains(&family);
            if current.as_deref() != Some(family.as_str()) && !described {
                // An untyped family without HELP or TYPE lines opens its group here.
                if let Some(c) = current.take() {
                    closed.insert(c);
                }
                assert!(!closed.contains(&family), "{}", at("family split in two"));
                current = Some(family.clone());
            }
            assert_eq!(
                current.as_deref(),
                Some(family.as_str()),
                "{}",
                at("a sample outside its family's group (or before its TYPE)")
            );
            let key = format!("{}{:?}", sample.name, sample.labels);
            assert!(series.insert(key), "{}", at("the same series twice"));
            scrape.samples.push(sample);
        }
        scrape.check_histograms();
        scrape
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` belong to
    /// the histogram.
    fn family_of(&self, name: &str) -> String {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if self.types.get(base).is_some_and(|t| t == "histogram") {
                    return base.to_string();
                }
            }
        }
        name.to_string()
    }

    fn check_histograms(&self) {
        for (name, kind) in &self.types {
            if kind != "histogram" {
                continue;
            }
            let mut buckets: Vec<(f64, f64)> = self
                .samples
                .iter()
                .filter(|s| s.name == format!("{name}_bucket"))
                .map(|s| (parse_value(&s.labels["le"]).unwrap(), s.value))
                .collect();
            assert!(!buckets.is_empty(), "{name} has no buckets");
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in buckets.windows(2) {
                assert!(pair[0].1 <= pair[1].1, "{name}: buckets not cumulative");
            }
            let (le, inf) = *buckets.last().unwrap();
            assert_eq!(le, f64::INFINITY, "{name}: no +Inf bucket");
            let count = self.value(&format!("{name}_count"), &[]);
            assert_eq!(Some(inf), count, "{name}: +Inf bucket differs from _count");
            assert!(
                self.value(&format!("{name}_sum"), &[]).is_some(),
                "{name}_sum"
            );
        }
    }

    /// The value of the series `name` whose labels include `labels`; None when there is none,
    /// a panic when more than one matches.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().map(|s| s.value)
    }

    /// As [`Scrape::value`], when the series must be there.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no series {name} {labels:?} in the scrape"))
    }

    /// Every value a label takes in the family `name`.
    pub fn label_values(&self, name: &str, label: &str) -> HashSet<String> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    !s.starts_with("__")
        && c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// HELP text may hold `\\` and `\n` escapes only.
fn check_help(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
            return Err("a bad escape in HELP".into());
        }
    }
    Ok(())
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse().map_err(|_| format!("not a float: {v:?}")),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err("bad metric name".into());
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let mut consumed = None;
        loop {
            // A label name up to `=`, or the closing brace.
            let mut label = String::new();
            loop {
                let (i, c) = chars.next().ok_or("unclosed labels")?;
                match c {
                    '}' if label.is_empty() => {
                        consumed = Some(i + 1);
                        break;
                    }
                    '=' => break,
                    c => label.push(c),
                }
            }
            if consumed.is_some() {
                break;
            }
            if !is_label_name(&label) {
                return Err(format!("bad label name {label:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("a label value must be quoted".into());
            }
            let mut value = String::new();
            loop {
                let (_, c) = chars.next().ok_or("unclosed label value")?;
                match c {
                    '"' => break,
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape \\{other:?}")),
                    },
                    c => value.push(c),
                }
            }
            if labels.insert(label.clone(), value).is_some() {
                return Err(format!("label {label} twice"));
            }
            match chars.next().map(|(_, c)| c) {
                Some(',') => continue,
                Some('}') => {
                    consumed = chars.peek().map(|(i, _)| *i).or(Some(after.len()));
                    break;
                }
                _ => return Err("expected , or } after a label".into()),
            }
        }
        rest = &after[consumed.unwrap()..];
    }
    let mut fields = rest.split_whitespace();
    let value = parse_value(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| "a bad timestamp")?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[test]
fn the_reader_takes_the_documented_example_and_refuses_broken_text() {
    let ok = "# HELP http_requests_total The total number of HTTP requests.\n\
              # TYPE http_requests_total counter\n\
              http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
              http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
              msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
              # TYPE h histogram\n\
              h_bucket{le=\"0.05\"} 1\n\
              h_bucket{le=\"+Inf\"} 2\n\
              h_sum 3.5\n\
              h_count 2\n";
    let s = Scrape::parse(ok);
    assert_eq!(s.get("http_requests_total", &[("code", "400")]), 3.0);
    assert_eq!(
        s.samples[2].labels["error"],
        "Cannot find file:\n\"FILE.TXT\""
    );
    for broken in [
        "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na 2\n",
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n",
        "# TYPE a gauge\na{x=\"\\q\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE a gauge\na 1",
    ] {
        let failed = std::panic::catch_unwind(|| Scrape::parse(broken)).is_err();
        assert!(failed, "accepted: {broken:?}");
    }
}
