//! Samples as their senders wrote them, read leniently: every field is taken as whatever JSON it
//! holds, so that the rules in [`sample`](super::sample), not the reader, decide what is wrong
//! and say why, one sample at a time. Reading fails only on text that is not JSON, so one
//! malformed metric or sample costs nothing else in the report.
//!
//! Text is borrowed from the request body wherever JSON allows (no escapes): an SDK fleet posts
//! thousands of reports a second, and an allocation per field was a third of their cost. For the
//! same reason a report's samples are read into slots that are reset and reused, never moved:
//! a sample's raw form is half a kilobyte, and copying it around was a tenth of a report's cost.

pub use crate::json::Scalar;
use crate::json::{Next, Reader, Result};
use smallvec::SmallVec;
use std::borrow::Cow;

/// A sample: a service's (`name`, `type`, `environment`, `appName`, `at` and the value fields)
/// or one inside an SDK's impact metric (labels and the value fields).
#[derive(Debug, Default)]
pub struct RawSample<'a> {
    /// False when the sample was not a JSON object at all.
    pub object: bool,
    pub name: Scalar<'a>,
    pub kind: Scalar<'a>,
    pub environment: Scalar<'a>,
    pub app_name: Scalar<'a>,
    pub labels: Labels<'a>,
    pub value: Scalar<'a>,
    pub count: Scalar<'a>,
    pub sum: Scalar<'a>,
    /// Read only when `buckets` was an array (see [`RawSample::buckets`]).
    buckets: Vec<RawBucket<'a>>,
    buckets_listed: bool,
    pub at: Scalar<'a>,
}

/// `labels`: absent (or null), an object of names to values, or something else.
#[derive(Debug, Default)]
pub struct Labels<'a> {
    pub shape: LabelShape,
    /// When `shape` is `Map`: sorted by name, each name once (the last written kept).
    pub pairs: LabelPairs<'a>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum LabelShape {
    #[default]
    Absent,
    Map,
    Wrong,
}

/// A label set's pairs: inline up to four, as most are (an allocation per sample was a tenth of
/// a report's cost).
pub type LabelPairs<'a> = SmallVec<[(Cow<'a, str>, Scalar<'a>); 4]>;

/// A histogram bucket; both fields `Null` when it was not an object.
#[derive(Debug, Default)]
pub struct RawBucket<'a> {
    pub le: Scalar<'a>,
    pub count: Scalar<'a>,
}

/// An SDK's impact metric: `{"name", "help", "type", "samples": [...]}`.
#[derive(Debug, Default)]
pub struct RawMetric<'a> {
    pub object: bool,
    pub name: Scalar<'a>,
    pub kind: Scalar<'a>,
    /// The first `len` hold this metric's samples; the rest wait for the next metric read here.
    slots: Vec<RawSample<'a>>,
    len: usize,
}

/// A service's post: `{"samples": [...]}`; None unless `samples` is an array.
#[derive(Debug, Default)]
pub struct RawBatch<'a> {
    pub samples: Option<Vec<RawSample<'a>>>,
}

impl<'a> RawSample<'a> {
    pub fn read(r: &mut Reader<'a>) -> Result<RawSample<'a>> {
        let mut s = RawSample::default();
        s.read_into(r)?;
        Ok(s)
    }

    /// `buckets`, when it was an array.
    pub fn buckets(&self) -> Option<&[RawBucket<'a>]> {
        self.buckets_listed.then_some(&self.buckets[..])
    }

    /// Back to an absent sample, its buffers kept.
    fn reset(&mut self) {
        self.object = false;
        for field in [
            &mut self.name,
            &mut self.kind,
            &mut self.environment,
            &mut self.app_name,
            &mut self.value,
            &mut self.count,
            &mut self.sum,
            &mut self.at,
        ] {
            *field = Scalar::Null;
        }
        self.labels.shape = LabelShape::Absent;
        self.labels.pairs.clear();
        self.buckets.clear();
        self.buckets_listed = false;
    }

    /// Reads into a reset sample where it lies.
    fn read_into(&mut self, r: &mut Reader<'a>) -> Result<()> {
        let s = self;
        s.object = r.fields(|r, key| {
            match &*key {
                "name" => s.name = r.scalar()?,
                "type" => s.kind = r.scalar()?,
                "environment" => s.environment = r.scalar()?,
                "appName" => s.app_name = r.scalar()?,
                "labels" => s.labels.read(r)?,
                "value" => s.value = r.scalar()?,
                "count" => s.count = r.scalar()?,
                "sum" => s.sum = r.scalar()?,
                "buckets" => {
                    s.buckets.clear();
                    s.buckets_listed = r.items(|r| {
                        s.buckets.push(RawBucket::read(r)?);
                        Ok(())
                    })?;
                }
                "at" => s.at = r.scalar()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl<'a> Labels<'a> {
    fn read(&mut self, r: &mut Reader<'a>) -> Result<()> {
        self.pairs.clear();
        self.shape = match r.peek()? {
            Next::Null => {
                r.null()?;
                LabelShape::Absent
            }
            Next::Object => {
                let pairs = &mut self.pairs;
                r.object(|r, key| {
                    pairs.push((key, r.scalar()?));
                    Ok(())
                })?;
                LabelShape::Map
            }
            _ => {
                r.skip()?;
                LabelShape::Wrong
            }
        };
        // Sorted by name with the last of a repeated name kept, as a JSON object reads and as a
        // label set is stored. Stable, so repeats keep their order; they are rare, so only a
        // set that has them is reversed to keep the last.
        let pairs = &mut self.pairs;
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
                pairs.reverse();
                pairs.dedup_by(|later, kept| later.0 == kept.0);
                pairs.reverse();
            }
        }
        Ok(())
    }
}

impl<'a> RawBucket<'a> {
    fn read(r: &mut Reader<'a>) -> Result<RawBucket<'a>> {
        let mut b = RawBucket::default();
        r.fields(|r, key| {
            match &*key {
                "le" => b.le = r.scalar()?,
                "count" => b.count = r.scalar()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(b)
    }
}

impl<'a> RawMetric<'a> {
    pub fn read(r: &mut Reader<'a>) -> Result<RawMetric<'a>> {
        let mut m = RawMetric::default();
        m.read_into(r)?;
        Ok(m)
    }

    /// This metric's samples (none unless `samples` was an array).
    pub fn samples(&self) -> &[RawSample<'a>] {
        &self.slots[..self.len]
    }

    /// Reads over this metric, the slots of the last one's samples reused: one buffer serves a
    /// report.
    pub fn read_into(&mut self, r: &mut Reader<'a>) -> Result<()> {
        let m = self;
        m.name = Scalar::Null;
        m.kind = Scalar::Null;
        m.len = 0;
        m.object = r.fields(|r, key| {
            match &*key {
                "name" => m.name = r.scalar()?,
                "type" => m.kind = r.scalar()?,
                "samples" => {
                    m.len = 0;
                    r.items(|r| {
                        if m.len == m.slots.len() {
                            m.slots.push(RawSample::default());
                        }
                        let slot = &mut m.slots[m.len];
                        slot.reset();
                        slot.read_into(r)?;
                        m.len += 1;
                        Ok(())
                    })?;
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl<'a> RawBatch<'a> {
    /// A service's whole post; Err only when `text` is not JSON.
    pub fn read(text: &'a str) -> Result<RawBatch<'a>> {
        Reader::read_all(text, |r| {
            let mut batch = RawBatch::default();
            r.fields(|r, key| {
                match &*key {
                    "samples" => batch.samples = r.list(RawSample::read)?,
                    _ => r.skip()?,
                }
                Ok(())
            })?;
            Ok(batch)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_borrowed_from_the_body_and_odd_shapes_read_as_defaults() {
        let body = r#"[{"name":"m","type":"counter","help":"x","samples":[
            {"labels":{"route":"/pay","code":500,"esc":"a\"b","code":501},"value":3},
            "not a sample",
            {"labels":[1],"value":"NaN","buckets":{"le":1}},
            {"count":2,"sum":1.5,"buckets":[{"le":1,"count":1},7,{"le":"+Inf","count":2}]}]},
            17, {"samples":{"no":"list"}}]"#;
        let metrics = Reader::read_all(body, |r| r.list(RawMetric::read))
            .unwrap()
            .unwrap();
        assert_eq!(metrics.len(), 3);
        let m = &metrics[0];
        assert!(matches!(m.name, Scalar::Text(Cow::Borrowed("m"))));
        let samples = m.samples();
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].labels.shape, LabelShape::Map);
        let labels = &samples[0].labels.pairs;
        // Sorted by name, the last of a repeated name kept.
        assert_eq!(labels.len(), 3);
        assert_eq!(labels[0].1, Scalar::UInt(501));
        assert_eq!(labels[1].1, Scalar::Text(Cow::Owned("a\"b".into())));
        assert!(matches!(
            labels[2],
            (Cow::Borrowed("route"), Scalar::Text(Cow::Borrowed(_)))
        ));
        assert!(!samples[1].object);
        assert_eq!(samples[2].labels.shape, LabelShape::Wrong);
        assert!(samples[2].buckets().is_none());
        let buckets = samples[3].buckets().unwrap();
        assert_eq!(buckets.len(), 3);
        assert!(buckets[1].le.is_null(), "a bucket that is not an object");
        assert!(!metrics[1].object);
        assert!(metrics[2].object && metrics[2].samples().is_empty());
    }

    #[test]
    fn a_metric_read_over_another_keeps_nothing_of_it() {
        let body = r#"[
            {"name":"a","type":"histogram","samples":[
                {"labels":{"x":"1","y":"2"},"count":1,"sum":1,"buckets":[{"le":1,"count":1}]},
                {"labels":{"z":"3"},"value":4,"at":"2030-01-01T00:00:00Z"}]},
            {"samples":[{"value":5}]}]"#;
        let mut metric = RawMetric::default();
        let mut seen = Vec::new();
        Reader::read_all(body, |r| {
            r.items(|r| {
                metric.read_into(r)?;
                seen.push(format!(
                    "{:?}",
                    (&metric.name, &metric.kind, metric.samples())
                ));
                Ok(())
            })
        })
        .unwrap();
        let fresh = Reader::read_all(r#"{"samples":[{"value":5}]}"#, RawMetric::read).unwrap();
        assert_eq!(
            seen[1],
            format!("{:?}", (&fresh.name, &fresh.kind, fresh.samples()))
        );
        assert_eq!(metric.samples()[0].labels.shape, LabelShape::Absent);
        assert!(metric.samples()[0].buckets().is_none());
    }

    #[test]
    fn a_batch_reads_its_samples_and_only_text_that_is_not_json_fails() {
        let batch = RawBatch::read(
            r#"{"samples": [{"name": "m", "type": "gauge", "value": 1.5}], "x": 1}"#,
        )
        .unwrap();
        let s = &batch.samples.unwrap()[0];
        assert_eq!(s.value, Scalar::Float(1.5));
        assert_eq!(s.kind.as_str(), Some("gauge"));
        assert!(RawBatch::read("{\"samples\": 3}")
            .unwrap()
            .samples
            .is_none());
        assert!(RawBatch::read("[1, 2]").unwrap().samples.is_none());
        assert!(RawBatch::read("{\"samples\": [}").is_err());
    }
}
