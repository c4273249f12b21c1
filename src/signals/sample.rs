//! Reading one sample: from a service's JSON (`POST .../signals`) or an SDK's impact metric,
//! into a [`Sample`] or the sentence saying why it is refused. Pure: the caller says which
//! environments exist and what time it is.

use super::histogram::{Bucket, Histogram};
use super::{Kind, Sample, SampleValue, EARLIEST, LATEST};
use crate::clock::stamp;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// A service's sample, `{"name","type","environment","appName"?,"labels"?,"value"?,"count"?,
/// "sum"?,"buckets"?,"at"?}`. `environment` maps an environment key to its id.
pub fn from_service(
    raw: &Value,
    environment: impl Fn(&str) -> Option<i64>,
    now: DateTime<Utc>,
) -> Result<Sample, String> {
    let Some(obj) = raw.as_object() else {
        return Err("a sample must be a JSON object".into());
    };
    let name = metric_name(obj.get("name"))?;
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some(t) => Kind::parse(t).ok_or_else(|| {
            format!("unknown type {t:?}: a sample is a counter, gauge or histogram")
        })?,
        None => return Err("type is required: counter, gauge or histogram".into()),
    };
    let env_key = obj
        .get("environment")
        .and_then(Value::as_str)
        .ok_or("environment is required (an environment key of this project)")?;
    let environment_id =
        environment(env_key).ok_or_else(|| format!("unknown environment {env_key:?}"))?;
    let app_name = match obj.get("appName") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(a)) if a.chars().count() <= MAX_VALUE => a.trim().to_string(),
        Some(_) => {
            return Err(format!(
                "appName must be text of at most {MAX_VALUE} characters"
            ))
        }
    };
    let labels = labels(obj.get("labels"))?;
    let at = time(obj.get("at"), now)?;
    let value = match kind {
        Kind::Counter => SampleValue::Counter(counter(obj.get("value"))?),
        Kind::Gauge => SampleValue::Gauge(finite(obj.get("value"), "value")?),
        Kind::Histogram => SampleValue::Histogram(histogram(obj)?),
    };
    Ok(Sample {
        environment_id,
        app_name,
        name,
        labels,
        at,
        value,
    })
}

/// The samples of one SDK impact metric (`{"name","help","type","samples":[...]}`), in the
/// token's environment and the SDK's application, at `now`. Refused samples are left out: an
/// SDK cannot act on a reason, and one bad sample must not cost the others.
pub fn from_impact_metric(
    metric: &Value,
    environment_id: i64,
    app_name: &str,
    now: DateTime<Utc>,
) -> Vec<Result<Sample, String>> {
    let Some(obj) = metric.as_object() else {
        return vec![Err("an impact metric must be a JSON object".into())];
    };
    let head = metric_name(obj.get("name")).and_then(|name| {
        let t = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let kind = Kind::parse(t).ok_or_else(|| format!("unknown type {t:?}"))?;
        Ok((name, kind))
    });
    let (name, kind) = match head {
        Ok(head) => head,
        Err(why) => return vec![Err(why)],
    };
    let samples = obj.get("samples").and_then(Value::as_array);
    samples
        .into_iter()
        .flatten()
        .map(|s| {
            let Some(s) = s.as_object() else {
                return Err("a sample must be a JSON object".into());
            };
            let value = match kind {
                Kind::Counter => SampleValue::Counter(counter(s.get("value"))?),
                Kind::Gauge => SampleValue::Gauge(finite(s.get("value"), "value")?),
                Kind::Histogram => SampleValue::Histogram(histogram(s)?),
            };
            Ok(Sample {
                environment_id,
                app_name: truncate(app_name.trim(), MAX_VALUE),
                name: name.clone(),
                labels: labels(s.get("labels"))?,
                at: now,
                value,
            })
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Letters, digits, `_ . : -`, starting with a letter or `_`: names that read well in a guard
/// and in a Prometheus export.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
        && name.len() <= MAX_NAME
}

fn metric_name(raw: Option<&Value>) -> Result<String, String> {
    match raw.and_then(Value::as_str) {
        Some(n) if valid_name(n) => Ok(n.to_string()),
        Some(n) => Err(format!(
            "name {n:?} is not a metric name: up to {MAX_NAME} letters, digits, _ . : or -, \
             starting with a letter or _"
        )),
        None => Err("name is required".into()),
    }
}

fn labels(raw: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let map = match raw {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err("labels must be an object of names to text".into()),
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if AUTOMATIC_LABELS.contains(&k.as_str()) {
            continue;
        }
        if !valid_name(k) {
            return Err(format!("label name {k:?} is not a name"));
        }
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("label {k} must be text")),
        };
        if v.chars().count() > MAX_VALUE {
            return Err(format!("label {k} is longer than {MAX_VALUE} characters"));
        }
        out.insert(k.clone(), v);
    }
    if out.len() > MAX_LABELS {
        return Err(format!("more than {MAX_LABELS} labels"));
    }
    Ok(out)
}

fn time(raw: Option<&Value>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = match raw {
        None | Some(Value::Null) => return Ok(now),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map_err(|_| format!("at {s:?} is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        Some(_) => return Err("at must be an RFC 3339 time".into()),
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
fn finite(raw: Option<&Value>, field: &str) -> Result<f64, String> {
    match raw {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{field} is not a finite number")),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Err(format!("{field} must be a number, not text")),
            _ => Err(format!("{field} is not a finite number ({s:?})")),
        },
        None | Some(Value::Null) => Err(format!("{field} is required")),
        Some(_) => Err(format!("{field} must be a number")),
    }
}

fn whole(raw: Option<&Value>, field: &str) -> Result<i64, String> {
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

fn counter(raw: Option<&Value>) -> Result<i64, String> {
    whole(raw, "value").map_err(|why| {
        if why.contains("negative") {
            format!("a counter only goes up: {why}; send the increment since the last sample")
        } else {
            why
        }
    })
}

fn histogram(obj: &Map<String, Value>) -> Result<Histogram, String> {
    let count = whole(obj.get("count"), "count")?;
    let sum = finite(obj.get("sum"), "sum")?;
    let raw = obj
        .get("buckets")
        .and_then(Value::as_array)
        .ok_or("buckets is required: [{\"le\", \"count\"}, ..., {\"le\": \"+Inf\", \"count\"}]")?;
    if raw.len() > MAX_BUCKETS {
        return Err(format!("more than {MAX_BUCKETS} buckets"));
    }
    let mut buckets = Vec::with_capacity(raw.len() + 1);
    for b in raw {
        let le = match b.get("le") {
            Some(Value::String(s)) if s == "+Inf" || s == "Infinity" => f64::INFINITY,
            other => finite(other, "a bucket's le")?,
        };
        buckets.push(Bucket {
            le,
            count: whole(b.get("count"), "a bucket's count")?,
        });
    }
    Histogram::new(count, sum, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2030-06-01T12:00:00Z".parse().unwrap()
    }

    fn env(key: &str) -> Option<i64> {
        (key == "production").then_some(7)
    }

    fn read(v: Value) -> Result<Sample, String> {
        from_service(&v, env, now())
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
        let out = from_impact_metric(&metric, 9, "my-app", now());
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
        assert!(from_impact_metric(&histogram, 9, "a", now())[0].is_ok());
    }
}
