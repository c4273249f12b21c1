//! One SDK metrics report as posted (`POST /api/client/metrics`, `/api/frontend/client/metrics`),
//! read with the pull reader: reports arrive thousands of times a second.

use crate::json::{self, Next, Reader, Scalar};
use crate::signals::ingest::ImpactMetrics;
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct ReportBody<'a> {
    pub app_name: Option<String>,
    pub instance_id: Option<String>,
    pub sdk_version: Option<String>,
    pub bucket: Option<Bucket>,
    /// Unleash impact metrics (counters, gauges, histograms) for `crate::signals`, their text
    /// borrowed from the request; a malformed metric or sample costs only itself.
    pub impact_metrics: ImpactMetrics<'a>,
}

#[derive(Debug, Default)]
pub struct Bucket {
    pub start: Option<DateTime<Utc>>,
    pub toggles: HashMap<String, ToggleCount>,
}

#[derive(Debug, Default)]
pub struct ToggleCount {
    pub yes: i64,
    pub no: i64,
    pub variants: HashMap<String, i64>,
}

impl<'a> ReportBody<'a> {
    /// Reads a posted report, or says why it cannot be read. Fields it does not know are
    /// skipped; one it knows holding the wrong type refuses the report, except inside
    /// `impactMetrics`, whose samples are judged one by one.
    pub fn read(body: &'a [u8]) -> Result<ReportBody<'a>, String> {
        // UTF-8 checked once for the whole body, not again for each of its strings.
        let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        let mut wrong = Wrong(None);
        let mut report = ReportBody::default();
        Reader::read_all(text, |r| {
            r.object(|r, key| {
                match &*key {
                    "appName" => report.app_name = wrong.text(r, "appName")?,
                    "instanceId" => report.instance_id = wrong.text(r, "instanceId")?,
                    "sdkVersion" => report.sdk_version = wrong.text(r, "sdkVersion")?,
                    "bucket" => report.bucket = wrong.bucket(r)?,
                    "impactMetrics" => report.impact_metrics = ImpactMetrics::read(r)?,
                    _ => r.skip()?,
                }
                Ok(())
            })
        })
        .map_err(|e| e.to_string())?;
        match wrong.0 {
            Some(why) => Err(why),
            None => Ok(report),
        }
    }

    /// The report as the usage writer keeps it, once its impact metrics have been read.
    pub fn without_metrics(self) -> ReportBody<'static> {
        ReportBody {
            app_name: self.app_name,
            instance_id: self.instance_id,
            sdk_version: self.sdk_version,
            bucket: self.bucket,
            impact_metrics: ImpactMetrics::default(),
        }
    }
}

/// The first field found holding the wrong type; the reader skips such values and goes on, so
/// that text which is not JSON is still told apart from JSON of the wrong shape.
struct Wrong(Option<String>);

impl Wrong {
    fn note(&mut self, why: impl FnOnce() -> String) {
        if self.0.is_none() {
            self.0 = Some(why());
        }
    }

    /// Text or null.
    fn text(&mut self, r: &mut Reader, field: &str) -> json::Result<Option<String>> {
        match r.scalar()? {
            Scalar::Null => Ok(None),
            Scalar::Text(t) => Ok(Some(t.into_owned())),
            _ => {
                self.note(|| format!("{field} must be text"));
                Ok(None)
            }
        }
    }

    /// A whole number that fits an i64.
    fn count(&mut self, r: &mut Reader, field: impl FnOnce() -> String) -> json::Result<i64> {
        match r.scalar()? {
            Scalar::Int(n) => Ok(n),
            Scalar::UInt(n) if n <= i64::MAX as u64 => Ok(n as i64),
            _ => {
                self.note(|| format!("{} must be a whole number", field()));
                Ok(0)
            }
        }
    }

    /// An RFC 3339 time or null.
    fn time(&mut self, r: &mut Reader) -> json::Result<Option<DateTime<Utc>>> {
        match r.scalar()? {
            Scalar::Null => Ok(None),
            Scalar::Text(t) => match t.parse::<DateTime<Utc>>() {
                Ok(at) => Ok(Some(at)),
                Err(e) => {
                    self.note(|| format!("bucket.start {t:?} is not an RFC 3339 time: {e}"));
                    Ok(None)
                }
            },
            _ => {
                self.note(|| "bucket.start must be an RFC 3339 time".into());
                Ok(None)
            }
        }
    }

    fn bucket(&mut self, r: &mut Reader) -> json::Result<Option<Bucket>> {
        let mut bucket = Bucket::default();
        let shape = object_or_null(r, |r, key| {
            match &*key {
                "start" => bucket.start = self.time(r)?,
                "toggles" => {
                    let shape = object_or_null(r, |r, flag| {
                        let count = self.toggle(r, &flag)?;
                        bucket.toggles.insert(flag.into_owned(), count);
                        Ok(())
                    })?;
                    if shape.is_none() {
                        self.note(|| "bucket.toggles must be an object".into());
                    }
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        match shape {
            Some(true) => Ok(Some(bucket)),
            Some(false) => Ok(None),
            None => {
                self.note(|| "bucket must be an object".into());
                Ok(None)
            }
        }
    }

    /// `{"yes", "no", "variants": {name: count}}`.
    fn toggle(&mut self, r: &mut Reader, flag: &str) -> json::Result<ToggleCount> {
        let mut count = ToggleCount::default();
        let shape = object_or_null(r, |r, key| {
            match &*key {
                "yes" => count.yes = self.count(r, || format!("{flag}'s yes"))?,
                "no" => count.no = self.count(r, || format!("{flag}'s no"))?,
                "variants" => {
                    let shape = object_or_null(r, |r, variant| {
                        let n = self.count(r, || format!("{flag}'s variant {variant}"))?;
                        count.variants.insert(variant.into_owned(), n);
                        Ok(())
                    })?;
                    if shape.is_none() {
                        self.note(|| format!("{flag}'s variants must be an object"));
                    }
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        if shape != Some(true) {
            self.note(|| format!("the counts of {flag} must be an object"));
        }
        Ok(count)
    }
}

/// Reads an object's fields with `field`: Some(true) for an object, Some(false) for null, None
/// for any other value (skipped).
fn object_or_null<'a>(
    r: &mut Reader<'a>,
    field: impl FnMut(&mut Reader<'a>, Cow<'a, str>) -> json::Result<()>,
) -> json::Result<Option<bool>> {
    match r.peek()? {
        Next::Object => r.object(field).map(|_| Some(true)),
        Next::Null => r.null().map(|_| Some(false)),
        _ => r.skip().map(|_| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report_and_refuses_a_known_field_of_the_wrong_type() {
        let body = br#"{"appName": "shop", "instanceId": "i-1", "extra": [1, {"x": 2}],
            "bucket": {"start": "2026-12-07T10:00:00.000Z", "stop": "x",
                "toggles": {"checkout": {"yes": 40, "no": 2, "variants": {"blue": 3}}}},
            "impactMetrics": [{"name": "m", "type": "counter", "samples": [{"value": 1}]},
                {"name": "bad name", "type": "counter", "samples": [{"value": 1}]},
                {"name": "n", "type": "counter", "samples": [{"value": -1}, {"value": 2}]}]}"#;
        let report = ReportBody::read(body).unwrap();
        assert_eq!(report.app_name.as_deref(), Some("shop"));
        assert_eq!(report.sdk_version, None);
        let bucket = report.bucket.as_ref().unwrap();
        assert_eq!(
            bucket.start.unwrap().to_rfc3339(),
            "2026-12-07T10:00:00+00:00"
        );
        let c = &bucket.toggles["checkout"];
        assert_eq!((c.yes, c.no, c.variants["blue"]), (40, 2, 3));
        let kept: Vec<&str> = report.impact_metrics.0.iter().map(|m| &*m.name).collect();
        assert_eq!(
            kept,
            ["m", "n"],
            "the bad metric and the negative counter are dropped"
        );

        for (body, why) in [
            (r#"{"appName": 5}"#, "appName must be text"),
            (r#"{"bucket": []}"#, "bucket must be an object"),
            (
                r#"{"bucket": {"start": "yesterday"}}"#,
                "bucket.start \"yesterday\"",
            ),
            (
                r#"{"bucket": {"toggles": {"f": {"yes": 1.5}}}}"#,
                "f's yes must be a whole number",
            ),
            (
                r#"{"bucket": {"toggles": {"f": {"variants": {"v": -1e3}}}}}"#,
                "f's variant v",
            ),
            (
                r#"{"bucket": {"toggles": {"f": 3}}}"#,
                "the counts of f must be an object",
            ),
            (r#"{"appName": "x""#, "the text ended"),
            (r#"{} {}"#, "trailing characters"),
        ] {
            let err = ReportBody::read(body.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
        assert!(ReportBody::read(b"{\"appName\": null, \"bucket\": null}").is_ok());
        assert!(ReportBody::read(b"\xff").is_err());
    }
}
