//! Samples as their senders wrote them, read leniently: every field is taken as whatever JSON it
//! holds, so that the rules in [`sample`](super::sample), not the reader, decide what is wrong
//! and say why, one sample at a time. Reading fails only on text that is not JSON, so one
//! malformed metric or sample costs nothing else in the report.
//!
//! Text is borrowed from the request body wherever JSON allows (no escapes): an SDK fleet posts
//! thousands of reports a second, and an allocation per field was a third of their cost.

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
    /// None unless `buckets` is an array.
    pub buckets: Option<Vec<RawBucket<'a>>>,
    pub at: Scalar<'a>,
}

/// `labels`: absent (or null), an object of names to values (sorted by name, each name once),
/// or something else.
// Inline on purpose: boxing the pairs would be the allocation per sample this avoids.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Default)]
pub enum Labels<'a> {
    #[default]
    None,
    Map(LabelPairs<'a>),
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
    /// Empty unless `samples` is an array; an SDK sends one sample per label set, mostly one.
    pub samples: SmallVec<[RawSample<'a>; 1]>,
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

    /// Reads into a default sample where it lies: a sample is half a kilobyte, and moving each
    /// one out of its reader and into its list was a tenth of a report's cost.
    fn read_into(&mut self, r: &mut Reader<'a>) -> Result<()> {
        let s = self;
        s.object = r.fields(|r, key| {
            match &*key {
                "name" => s.name = r.scalar()?,
                "type" => s.kind = r.scalar()?,
                "environment" => s.environment = r.scalar()?,
                "appName" => s.app_name = r.scalar()?,
                "labels" => s.labels = Labels::read(r)?,
                "value" => s.value = r.scalar()?,
                "count" => s.count = r.scalar()?,
                "sum" => s.sum = r.scalar()?,
                "buckets" => s.buckets = r.list(RawBucket::read)?,
                "at" => s.at = r.scalar()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl<'a> Labels<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Labels<'a>> {
        match r.peek()? {
            Next::Null => {
                r.null()?;
                return Ok(Labels::None);
            }
            Next::Object => {}
            _ => {
                r.skip()?;
                return Ok(Labels::Wrong);
            }
        }
        let mut out = LabelPairs::new();
        r.object(|r, key| {
            out.push((key, r.scalar()?));
            Ok(())
        })?;
        // Sorted by name with the last of a repeated name kept, as a JSON object reads and as a
        // label set is stored. Stable, so repeats keep their order.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.reverse();
        out.dedup_by(|later, kept| later.0 == kept.0);
        out.reverse();
        Ok(Labels::Map(out))
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

    /// Reads over this metric, the buffer of its samples kept: one buffer serves a report.
    pub fn read_into(&mut self, r: &mut Reader<'a>) -> Result<()> {
        let m = self;
        m.name = Scalar::Null;
        m.kind = Scalar::Null;
        m.samples.clear();
        m.object = r.fields(|r, key| {
            match &*key {
                "name" => m.name = r.scalar()?,
                "type" => m.kind = r.scalar()?,
                "samples" => {
                    m.samples.clear();
                    r.items(|r| {
                        m.samples.push(RawSample::default());
                        let last = m.samples.len() - 1;
                        m.samples[last].read_into(r)
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
        assert_eq!(m.samples.len(), 4);
        let Labels::Map(labels) = &m.samples[0].labels else {
            panic!("labels")
        };
        // Sorted by name, the last of a repeated name kept.
        assert_eq!(labels.len(), 3);
        assert_eq!(labels[0].1, Scalar::UInt(501));
        assert_eq!(labels[1].1, Scalar::Text(Cow::Owned("a\"b".into())));
        assert!(matches!(
            labels[2],
            (Cow::Borrowed("route"), Scalar::Text(Cow::Borrowed(_)))
        ));
        assert!(!m.samples[1].object);
        assert!(matches!(m.samples[2].labels, Labels::Wrong));
        assert!(m.samples[2].buckets.is_none());
        let buckets = m.samples[3].buckets.as_ref().unwrap();
        assert_eq!(buckets.len(), 3);
        assert!(buckets[1].le.is_null(), "a bucket that is not an object");
        assert!(!metrics[1].object);
        assert!(metrics[2].object && metrics[2].samples.is_empty());
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
