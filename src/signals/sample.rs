//! Reading one sample: from a service's post (`POST .../signals`) or an SDK's impact metric,
//! into a [`SampleRef`] or the sentence saying why it is refused. The rules are written once,
//! over the lenient [`raw`](super::raw) reading both ways in share. Pure: the caller says which
//! environments exist and what time it is.

use super::histogram::{Bucket, Histogram};
use super::raw::{LabelShape, Labels, RawMetric, RawSample, Scalar};
use super::{Kind, Sample, SampleValue, EARLIEST, LATEST};
use crate::clock::stamp;
use chrono::{DateTime, Utc};
use smallvec::SmallVec;
use std::borrow::Cow;

/// Longest metric name and label name.
pub const MAX_NAME: usize = 100;
/// Longest label value and application name.
pub const MAX_VALUE: usize = 200;
/// Labels a sample may carry (after the automatic ones are taken off).
pub const MAX_LABELS: usize = 10;
/// Histogram buckets, `+Inf` included.
pub const MAX_BUCKETS: usize = 40;
/// The largest counter increment or histogram count one sample may carry.
pub const MAX_COUNT: i64 = 1_000_000_000_000;

/// Labels SDKs add to every impact metric; they are the series' own environment and
/// application, so they are not kept twice.
const AUTOMATIC_LABELS: [&str; 2] = ["appName", "environment"];

/// What an accepted sample measured, its text still in the request it came in: the SDK path
/// sums it into its point without copying a name. The environment, application and time are
/// the report's.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement<'a> {
    pub name: Cow<'a, str>,
    /// Sorted by name, each name once: the order and meaning of the stored label set.
    pub labels: SampleLabels<'a>,
    pub value: SampleValue,
}

/// A sample's labels, name and text: inline up to four, as most label sets are.
pub type SampleLabels<'a> = SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>;

impl Measurement<'_> {
    pub fn to_sample(&self, environment_id: i64, app_name: &str, at: DateTime<Utc>) -> Sample {
        Sample {
            environment_id,
            app_name: app_name.to_owned(),
            name: self.name.clone().into_owned(),
            labels: self
                .labels
                .iter()
                .map(|(k, v)| (k.clone().into_owned(), v.clone().into_owned()))
                .collect(),
            at,
            value: self.value.clone(),
        }
    }
}

/// A service's sample, `{"name","type","environment","appName"?,"labels"?,"value"?,"count"?,
/// "sum"?,"buckets"?,"at"?}`. `environment` maps an environment key to its id.
pub fn from_service(
    raw: &RawSample,
    environment: impl Fn(&str) -> Option<i64>,
    now: DateTime<Utc>,
) -> Result<Sample, String> {
    if !raw.object {
        return Err("a sample must be a JSON object".into());
    }
    let name = metric_name(&raw.name)?;
    let kind = match raw.kind.as_str() {
        Some(t) => Kind::parse(t).ok_or_else(|| {
            format!("unknown type {t:?}: a sample is a counter, gauge or histogram")
        })?,
        None => return Err("type is required: counter, gauge or histogram".into()),
    };
    let env_key = raw
        .environment
        .as_str()
        .ok_or("environment is required (an environment key of this project)")?;
    let environment_id =
        environment(env_key).ok_or_else(|| format!("unknown environment {env_key:?}"))?;
    let app_name = match &raw.app_name {
        Scalar::Null => "",
        Scalar::Text(a) if a.chars().count() <= MAX_VALUE => a.trim(),
        _ => {
            return Err(format!(
                "appName must be text of at most {MAX_VALUE} characters"
            ))
        }
    };
    let labels = labels(&raw.labels)?;
    let at = time(&raw.at, now)?;
    let value = value(kind, raw)?;
    let measured = Measurement {
        name,
        labels,
        value,
    };
    Ok(measured.to_sample(environment_id, app_name, at))
}

/// An SDK report's application name as its samples carry it: trimmed and cut to
/// [`MAX_VALUE`] characters (an SDK cannot act on a refusal, so it is not refused).
pub fn sdk_app_name(app_name: &str) -> &str {
    let app = app_name.trim();
    match app.char_indices().nth(MAX_VALUE) {
        Some((cut, _)) => &app[..cut],
        None => app,
    }
}

/// The samples of one SDK impact metric (`{"name","help","type","samples":[...]}`); Err when the
/// metric itself is unreadable. Each sample is read on its own: one bad sample must not cost the
/// others.
pub fn from_impact_metric<'r, 'a: 'r>(
    metric: &'r RawMetric<'a>,
) -> Result<impl Iterator<Item = Result<Measurement<'a>, String>> + use<'r, 'a>, String> {
    if !metric.object {
        return Err("an impact metric must be a JSON object".into());
    }
    let name = metric_name(&metric.name)?;
    let t = metric.kind.as_str().unwrap_or("");
    let kind = Kind::parse(t).ok_or_else(|| format!("unknown type {t:?}"))?;
    Ok(metric.samples().iter().map(move |s| {
        if !s.object {
            return Err("a sample must be a JSON object".into());
        }
        Ok(Measurement {
            name: name.clone(),
            labels: labels(&s.labels)?,
            value: value(kind, s)?,
        })
    }))
}

fn value(kind: Kind, raw: &RawSample) -> Result<SampleValue, String> {
    Ok(match kind {
        Kind::Counter => SampleValue::Counter(counter(&raw.value)?),
        Kind::Gauge => SampleValue::Gauge(finite(&raw.value, "value")?),
        Kind::Histogram => SampleValue::Histogram(histogram(raw)?),
    })
}

/// Letters, digits, `_ . : -`, starting with a letter or `_`: names that read well in a guard
/// and in a Prometheus export.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() <= MAX_NAME
        && b.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| NAME_BYTES[*c as usize])
}

/// The bytes a name may hold: one lookup per byte, as every sample's labels are checked.
static NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-');
        b += 1;
    }
    t
};

fn metric_name<'a>(raw: &Scalar<'a>) -> Result<Cow<'a, str>, String> {
    match raw {
        Scalar::Text(n) if valid_name(n) => Ok(n.clone()),
        Scalar::Text(n) => Err(format!(
            "name {n:?} is not a metric name: up to {MAX_NAME} letters, digits, _ . : or -, \
             starting with a letter or _"
        )),
        _ => Err("name is required".into()),
    }
}

/// The label set without the automatic labels, each checked in name order.
fn labels<'a>(raw: &Labels<'a>) -> Result<SampleLabels<'a>, String> {
    let pairs = match raw.shape {
        LabelShape::Absent => return Ok(SmallVec::new()),
        LabelShape::Map => &raw.pairs,
        LabelShape::Wrong => return Err("labels must be an object of names to text".into()),
    };
    let mut out = SmallVec::with_capacity(pairs.len());
    for (key, v) in pairs {
        let k = key.as_ref();
        if AUTOMATIC_LABELS.contains(&k) {
            continue;
        }
        if !valid_name(k) {
            return Err(format!("label name {k:?} is not a name"));
        }
        let v: Cow<str> = match v {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(n) => Cow::Owned(n.to_string()),
            Scalar::UInt(n) => Cow::Owned(n.to_string()),
            Scalar::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => Cow::Owned(n.to_string()),
                None => return Err(format!("label {k} must be text")),
            },
            Scalar::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Scalar::Null | Scalar::Nested => return Err(format!("label {k} must be text")),
        };
        if v.len() > MAX_VALUE && v.chars().count() > MAX_VALUE {
            return Err(format!("label {k} is longer than {MAX_VALUE} characters"));
        }
        out.push((key.clone(), v));
    }
    if out.len() > MAX_LABELS {
        return Err(format!("more than {MAX_LABELS} labels"));
    }
    Ok(out)
}

fn time(raw: &Scalar, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = match raw {
        Scalar::Null => return Ok(now),
        Scalar::Text(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|_| format!("at {s:?} is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        _ => return Err("at must be an RFC 3339 time".into()),
    };
    if at < now - EARLIEST || at > now + LATEST {
        return Err(format!(
            "at ({}) is too far from now: samples may be up to {} hours old and {} minutes ahead",
            stamp(at),
            EARLIEST.num_hours(),
            LATEST.num_minutes()
        ));
    }
    Ok(at)
}

/// A number, or the reason it is not a finite one. JSON has no NaN or infinity, so clients
/// that cannot help it send them as text.
fn finite(raw: &Scalar, field: &str) -> Result<f64, String> {
    let v = match raw {
        Scalar::Int(n) => *n as f64,
        Scalar::UInt(n) => *n as f64,
        Scalar::Float(x) => *x,
        Scalar::Text(s) => {
            return match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Err(format!("{field} must be a number, not text")),
                _ => Err(format!("{field} is not a finite number ({s:?})")),
            }
        }
        Scalar::Null => return Err(format!("{field} is required")),
        Scalar::Bool(_) | Scalar::Nested => return Err(format!("{field} must be a number")),
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{field} is not a finite number"))
    }
}

fn whole(raw: &Scalar, field: &str) -> Result<i64, String> {
    let v = finite(raw, field)?;
    if v < 0.0 {
        return Err(format!("{field} is negative ({v})"));
    }
    if v.fract() != 0.0 || v > MAX_COUNT as f64 {
        return Err(format!(
            "{field} must be a whole number from 0 to {MAX_COUNT}"
        ));
    }
    Ok(v as i64)
}

fn counter(raw: &Scalar) -> Result<i64, String> {
    whole(raw, "value").map_err(|why| {
        if why.contains("negative") {
            format!("a counter only goes up: {why}; send the increment since the last sample")
        } else {
            why
        }
    })
}

fn histogram(raw: &RawSample) -> Result<Histogram, String> {
    let count = whole(&raw.count, "count")?;
    let sum = finite(&raw.sum, "sum")?;
    let raw_buckets = raw
        .buckets()
        .ok_or("buckets is required: [{\"le\", \"count\"}, ..., {\"le\": \"+Inf\", \"count\"}]")?;
    if raw_buckets.len() > MAX_BUCKETS {
        return Err(format!("more than {MAX_BUCKETS} buckets"));
    }
    let mut buckets = Vec::with_capacity(raw_buckets.len() + 1);
    for b in raw_buckets {
        let le = match b.le.as_str() {
            Some("+Inf" | "Infinity") => f64::INFINITY,
            _ => finite(&b.le, "a bucket's le")?,
        };
        buckets.push(Bucket {
            le,
            count: whole(&b.count, "a bucket's count")?,
        });
    }
    Histogram::new(count, sum, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Reader;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn now() -> DateTime<Utc> {
        "2030-06-01T12:00:00Z".parse().unwrap()
    }

    fn env(key: &str) -> Option<i64> {
        (key == "production").then_some(7)
    }

    fn read(v: Value) -> Result<Sample, String> {
        let text = v.to_string();
        let raw = Reader::read_all(&text, RawSample::read).unwrap();
        from_service(&raw, env, now())
    }

    fn impact(metric: &Value, app: &str) -> Vec<Result<Sample, String>> {
        let text = metric.to_string();
        let raw = Reader::read_all(&text, RawMetric::read).unwrap();
        let out = match from_impact_metric(&raw) {
            Ok(samples) => samples
                .map(|s| s.map(|m| m.to_sample(9, app, now())))
                .collect(),
            Err(why) => vec![Err(why)],
        };
        out
    }

    #[test]
    fn good_samples_of_each_type_are_read() {
        let c = read(
            json!({"name": "http_requests", "type": "counter", "environment": "production",
            "appName": "shop", "labels": {"route": "/pay", "code": 500}, "value": 3}),
        )
        .unwrap();
        assert_eq!(c.environment_id, 7);
        assert_eq!(c.value, SampleValue::Counter(3));
        assert_eq!(c.labels["code"], "500");
        assert_eq!(c.at, now());
        let g = read(
            json!({"name": "queue_depth", "type": "gauge", "environment": "production",
            "value": -2.5, "at": "2030-06-01T11:30:00Z"}),
        )
        .unwrap();
        assert_eq!(g.value, SampleValue::Gauge(-2.5));
        assert_eq!(g.app_name, "");
        let h = read(
            json!({"name": "latency", "type": "histogram", "environment": "production",
            "count": 4, "sum": 1.5, "buckets": [{"le": 0.1, "count": 1}, {"le": 1, "count": 3}]}),
        )
        .unwrap();
        let SampleValue::Histogram(h) = h.value else {
            panic!()
        };
        assert_eq!(h.buckets.last().unwrap().le, f64::INFINITY, "+Inf is added");
        assert_eq!(h.buckets.last().unwrap().count, 4);
    }

    #[test]
    fn bad_samples_are_refused_with_a_reason() {
        let base = json!({"name": "m", "type": "counter", "environment": "production", "value": 1});
        let with = |k: &str, v: Value| {
            let mut s = base.clone();
            s[k] = v;
            read(s).unwrap_err()
        };
        assert!(with("value", json!(-1)).contains("only goes up"));
        assert!(with("value", json!("NaN")).contains("not a finite number"));
        assert!(with("value", json!("Infinity")).contains("not a finite number"));
        assert!(with("value", json!(1.5)).contains("whole number"));
        assert!(with("type", json!("summary")).contains("unknown type"));
        assert!(with("environment", json!("moon")).contains("unknown environment"));
        assert!(with("at", json!("2030-05-30T00:00:00Z")).contains("too far from now"));
        assert!(with("at", json!("2030-06-01T12:30:00Z")).contains("too far from now"));
        assert!(with("name", json!("9lives")).contains("not a metric name"));
        let gauge = |v: Value| {
            read(json!({"name": "g", "type": "gauge", "environment": "production", "value": v}))
        };
        assert!(gauge(json!("-Infinity")).is_err());
        assert!(gauge(json!(null)).is_err());
        let hist = |b: Value, count: i64| {
            read(
                json!({"name": "h", "type": "histogram", "environment": "production",
                "count": count, "sum": 1.0, "buckets": b}),
            )
        };
        assert!(hist(json!([{"le": 1, "count": 3}, {"le": 0.5, "count": 3}]), 3).is_err());
        assert!(hist(json!([{"le": 1, "count": 3}, {"le": 2, "count": 2}]), 3).is_err());
        assert!(hist(
            json!([{"le": 1, "count": 3}, {"le": "+Inf", "count": 4}]),
            3
        )
        .is_err());
        assert!(hist(
            json!([{"le": 1, "count": 3}, {"le": "+Inf", "count": 3}]),
            3
        )
        .is_ok());
    }

    #[test]
    fn impact_metrics_take_the_token_environment_and_drop_automatic_labels() {
        let metric = json!({"name": "purchases", "help": "", "type": "counter", "samples": [
            {"labels": {"appName": "my-app", "environment": "prod", "tier": "gold"}, "value": 42},
            {"labels": {}, "value": -3}]});
        let out = impact(&metric, "my-app");
        assert_eq!(out.len(), 2);
        let s = out[0].as_ref().unwrap();
        assert_eq!((s.environment_id, s.app_name.as_str()), (9, "my-app"));
        assert_eq!(
            s.labels,
            BTreeMap::from([("tier".to_string(), "gold".to_string())])
        );
        assert!(out[1].is_err());
        let histogram = json!({"name": "rt", "help": "", "type": "histogram", "samples": [
            {"labels": {}, "count": 2, "sum": 0.3, "buckets": [
                {"le": 0.1, "count": 1}, {"le": 1, "count": 2}, {"le": "+Inf", "count": 2}]}]});
        assert!(impact(&histogram, "a")[0].is_ok());
        assert!(impact(&json!(["not", "a metric"]), "a")[0].is_err());
    }

    #[test]
    fn labels_read_as_a_json_object_does_and_key_as_stored() {
        let s = read(
            json!({"name": "m", "type": "counter", "environment": "production",
            "value": 1, "labels": {"b": 2.5, "a": "x", "on": true}}),
        )
        .unwrap();
        assert_eq!(s.labels["b"], "2.5");
        assert_eq!(s.labels["on"], "true");
        // A repeated name keeps the last value sent, as a parsed JSON object would.
        let body = r#"{"name":"m","type":"counter","samples":[
            {"labels":{"z":"1","a":"first","a":"last","q":"say \"hi\"\n\u0001é/"},"value":1}]}"#;
        let raw = Reader::read_all(body, RawMetric::read).unwrap();
        let sample = from_impact_metric(&raw).unwrap().next().unwrap().unwrap();
        assert_eq!(sample.labels[0], ("a".into(), "last".into()));
        assert_eq!(sample.labels[2], ("z".into(), "1".into()));
        let key = crate::signals::labels_key(&sample.to_sample(1, "", now()).labels);
        assert!(key.contains(r#""q":"say \"hi\"\n\u0001é/""#), "{key}");
        let too_many: serde_json::Map<String, Value> =
            (0..11).map(|i| (format!("l{i}"), json!("v"))).collect();
        assert!(read(
            json!({"name": "m", "type": "counter", "environment": "production",
            "value": 1, "labels": too_many})
        )
        .unwrap_err()
        .contains("more than 10 labels"));
        assert_eq!(
            sdk_app_name(&format!("  {}  ", "é".repeat(300)))
                .chars()
                .count(),
            200
        );
    }
}
