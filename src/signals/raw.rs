//! Samples as their senders wrote them, read leniently: every field is taken as whatever JSON it
//! holds, so that the rules in [`sample`](super::sample), not the parser, decide what is wrong
//! and say why, one sample at a time. Reading never fails on well-formed JSON, so one malformed
//! metric or sample costs nothing else in the report.
//!
//! Text is borrowed from the request body wherever JSON allows (no escapes): an SDK fleet posts
//! thousands of reports a second, and an allocation per field was a third of their cost.

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// One field's value as far as the rules care; `Null` also stands for a missing field.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Scalar<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(Cow<'a, str>),
    /// An array or an object, where one value was wanted.
    Nested,
}

impl<'a> Scalar<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }
}

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
#[derive(Debug, Default)]
pub enum Labels<'a> {
    #[default]
    None,
    Map(Vec<(Cow<'a, str>, Scalar<'a>)>),
    Wrong,
}

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
    /// Empty unless `samples` is an array.
    pub samples: Vec<RawSample<'a>>,
}

/// A report's `impactMetrics`: empty unless it is an array.
#[derive(Debug, Default)]
pub struct RawMetrics<'a>(pub Vec<RawMetric<'a>>);

/// A service's post: `{"samples": [...]}`; None unless `samples` is an array.
#[derive(Debug, Default)]
pub struct RawBatch<'a> {
    pub samples: Option<Vec<RawSample<'a>>>,
}

/// Text that borrows from the input when it can.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Visitor methods that read the JSON shapes named (`scalars` stands for booleans, numbers and
/// text) as `$value`, consuming what they skip: the shapes a visitor does not want, read as a
/// value the rules then refuse with their reason.
macro_rules! shapes_read_as {
    ($value:expr; $($shape:ident),*) => { $(shapes_read_as!(@$shape $value);)* };
    (@scalars $v:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> { Ok($v) }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> { Ok($v) }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> { Ok($v) }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> { Ok($v) }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> { Ok($v) }
    };
    (@unit $v:expr) => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> { Ok($v) }
    };
    (@seq $v:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($v)
        }
    };
    (@map $v:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($v)
        }
    };
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            shapes_read_as!(Scalar::Nested; seq, map);
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Labels<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("labels")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Labels::None)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(Cow<str>, Scalar)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(Text(k)) = map.next_key::<Text>()? {
                    out.push((k, map.next_value::<Scalar>()?));
                }
                // Sorted by name with the last of a repeated name kept, as a JSON object reads
                // and as a label set is stored.
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out.reverse();
                out.dedup_by(|later, kept| later.0 == kept.0);
                out.reverse();
                Ok(Labels::Map(out))
            }
            shapes_read_as!(Labels::Wrong; scalars, seq);
        }
        d.deserialize_any(V)
    }
}

/// A list whose items are read leniently; anything but an array reads as None.
struct List<T>(Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(List(Some(out)))
            }
            shapes_read_as!(List(None); scalars, unit, map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The fields any sample or metric may carry; others are skipped.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Name,
    Type,
    Environment,
    AppName,
    Labels,
    Value,
    Count,
    Sum,
    Buckets,
    At,
    Le,
    Samples,
    #[serde(other)]
    Other,
}

/// A struct read from a JSON object field by field: anything but an object reads as the
/// default, an object as [`object`](Fields::object) with the fields it names that the struct
/// takes; the others are skipped.
trait Fields<'de>: Default {
    /// An object naming none of the fields.
    fn object() -> Self {
        Self::default()
    }

    /// Reads `field`'s value from `map` if the struct takes that field; false if it does not.
    fn field<A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<bool, A::Error>;
}

/// The visitor of every [`Fields`] struct.
struct Object<T>(PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for Object<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::object();
        while let Some(field) = map.next_key::<Field>()? {
            if !out.field(field, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
    shapes_read_as!(T::default(); scalars, unit, seq);
}

/// `Deserialize` for [`Fields`] structs (a blanket impl of a foreign trait is not allowed).
macro_rules! deserialize_as_object {
    ($($t:ident),*) => {$(
        impl<'de> Deserialize<'de> for $t<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Object(PhantomData))
            }
        }
    )*};
}

deserialize_as_object!(RawSample, RawBucket, RawMetric, RawBatch);

impl<'de> Fields<'de> for RawSample<'de> {
    fn object() -> Self {
        RawSample {
            object: true,
            ..RawSample::default()
        }
    }

    fn field<A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<bool, A::Error> {
        match field {
            Field::Name => self.name = map.next_value()?,
            Field::Type => self.kind = map.next_value()?,
            Field::Environment => self.environment = map.next_value()?,
            Field::AppName => self.app_name = map.next_value()?,
            Field::Labels => self.labels = map.next_value()?,
            Field::Value => self.value = map.next_value()?,
            Field::Count => self.count = map.next_value()?,
            Field::Sum => self.sum = map.next_value()?,
            Field::Buckets => self.buckets = map.next_value::<List<_>>()?.0,
            Field::At => self.at = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Fields<'de> for RawBucket<'de> {
    fn field<A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<bool, A::Error> {
        match field {
            Field::Le => self.le = map.next_value()?,
            Field::Count => self.count = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Fields<'de> for RawMetric<'de> {
    fn object() -> Self {
        RawMetric {
            object: true,
            ..RawMetric::default()
        }
    }

    fn field<A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<bool, A::Error> {
        match field {
            Field::Name => self.name = map.next_value()?,
            Field::Type => self.kind = map.next_value()?,
            Field::Samples => self.samples = map.next_value::<List<_>>()?.0.unwrap_or_default(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Fields<'de> for RawBatch<'de> {
    fn field<A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<bool, A::Error> {
        match field {
            Field::Samples => self.samples = map.next_value::<List<_>>()?.0,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Lives as long as `'a` but may be read from input that lives longer, as a field of a struct
/// deriving `Deserialize` with `#[serde(borrow)]` needs.
impl<'de: 'a, 'a> Deserialize<'de> for RawMetrics<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let metrics: Vec<RawMetric<'de>> = List::deserialize(d)?.0.unwrap_or_default();
        Ok(RawMetrics(metrics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_borrowed_from_the_body_and_odd_shapes_read_as_defaults() {
        let body = r#"[{"name":"m","type":"counter","help":"x","samples":[
            {"labels":{"route":"/pay","code":500,"esc":"a\"b"},"value":3},
            "not a sample",
            {"labels":[1],"value":"NaN","buckets":{"le":1}},
            {"count":2,"sum":1.5,"buckets":[{"le":1,"count":1},7,{"le":"+Inf","count":2}]}]},
            17, {"samples":{"no":"list"}}]"#;
        let RawMetrics(metrics) = serde_json::from_str(body).unwrap();
        assert_eq!(metrics.len(), 3);
        let m = &metrics[0];
        assert!(matches!(m.name, Scalar::Text(Cow::Borrowed("m"))));
        assert_eq!(m.samples.len(), 4);
        let Labels::Map(labels) = &m.samples[0].labels else {
            panic!("labels")
        };
        // Sorted by name.
        assert_eq!(labels[0].1, Scalar::UInt(500));
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
    fn reads_the_same_from_a_parsed_json_value() {
        let v =
            serde_json::json!({"samples": [{"name": "m", "type": "gauge", "value": 1.5}], "x": 1});
        let batch = RawBatch::deserialize(&v).unwrap();
        let s = &batch.samples.unwrap()[0];
        assert_eq!(s.value, Scalar::Float(1.5));
        assert_eq!(s.kind.as_str(), Some("gauge"));
        assert!(serde_json::from_str::<RawBatch>("{\"samples\": 3}")
            .unwrap()
            .samples
            .is_none());
    }
}
