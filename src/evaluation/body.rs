//! Serialised `/api/client/features` bodies (spec 2.2): the current shape with
//! a top-level segment list, and the shape for clients older than
//! Unleash-Client-Spec 4.2.0, which do not know segments.

use std::collections::HashMap;

use std::sync::OnceLock;

use serde_json::Value;
use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, Operator, Segment, Strategy,
};

use super::etag;

/// Old clients cannot follow a dangling segment reference; a strategy that
/// names an unknown segment is off (spec 3), and `IN []` is false in every SDK.
const UNKNOWN_SEGMENT_CONTEXT: &str = "switchyard.unknownSegment";

/// One environment's `/api/client/features` body in pieces: each feature's and segment's JSON,
/// serialised once per change. Full bodies, narrowed bodies, stream hydrations and stream diffs
/// are all assembled from (or compared on) these pieces, never re-parsed.
#[derive(Debug, Default)]
pub(super) struct Wire {
    version: u32,
    /// Sorted by name (the state is normalised).
    features: Vec<Piece>,
    /// Sorted by id; None when the body has no `segments` key (the legacy shape).
    segments: Option<Vec<Piece>>,
}

/// A feature (keyed by name) or a segment (keyed by id) as JSON.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Piece {
    pub key: String,
    pub json: String,
}

impl Wire {
    /// The pieces of a normalised state (no `query`, no `meta`).
    pub fn of(state: &ClientFeatures) -> Result<Self, serde_json::Error> {
        let features = state
            .features
            .iter()
            .map(|feature| {
                let json = if feature_has_unknown_operator(feature) {
                    fixed_json(feature)?
                } else {
                    serde_json::to_string(feature)?
                };
                Ok(Piece {
                    key: feature.name.clone(),
                    json,
                })
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let segments = state
            .segments
            .as_ref()
            .map(|segments| {
                segments
                    .iter()
                    .map(|segment| {
                        let json = if segment.constraints.iter().any(is_unknown) {
                            fixed_json(segment)?
                        } else {
                            serde_json::to_string(segment)?
                        };
                        Ok(Piece {
                            key: segment.id.to_string(),
                            json,
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()
            })
            .transpose()?;
        Ok(Self {
            version: state.version,
            features,
            segments,
        })
    }

    pub fn features(&self) -> &[Piece] {
        &self.features
    }

    pub fn segments(&self) -> &[Piece] {
        self.segments.as_deref().unwrap_or_default()
    }

    /// The body with the features `keep` accepts.
    pub fn body(&self, keep: impl Fn(&str) -> bool) -> Vec<u8> {
        let size = self
            .features
            .iter()
            .map(|p| p.json.len() + 1)
            .sum::<usize>()
            + self
                .segments()
                .iter()
                .map(|p| p.json.len() + 1)
                .sum::<usize>()
            + 64;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(format!("{{\"version\":{},\"features\":", self.version).as_bytes());
        join(&mut out, self.features.iter().filter(|p| keep(&p.key)));
        if let Some(segments) = &self.segments {
            out.extend_from_slice(b",\"segments\":");
            join(&mut out, segments.iter());
        }
        out.push(b'}');
        out
    }
}

/// Appends `[a,b,...]`.
pub(super) fn join<'a>(out: &mut Vec<u8>, pieces: impl Iterator<Item = &'a Piece>) {
    out.push(b'[');
    for (i, piece) in pieces.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(piece.json.as_bytes());
    }
    out.push(b']');
}

/// A body ready to send, with the ETag that names it. Its gzip form is compressed at most once
/// per change, by the first request that asks for it (or by [`ServedBody::warm`]), never per
/// request.
#[derive(Debug)]
pub(super) struct ServedBody {
    /// Shared, so sending the body never copies it.
    pub bytes: bytes::Bytes,
    pub etag: String,
    gzip: OnceLock<bytes::Bytes>,
}

impl ServedBody {
    pub fn new(bytes: Vec<u8>) -> Self {
        let etag = etag::of_bytes(&bytes);
        Self {
            bytes: bytes.into(),
            etag,
            gzip: OnceLock::new(),
        }
    }

    pub fn gzip(&self) -> &bytes::Bytes {
        self.gzip.get_or_init(|| gzip(&self.bytes).into())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The shape for clients older than Unleash-Client-Spec 4.2.0: segments inlined.
pub(super) fn legacy_wire(state: &ClientFeatures) -> Result<Wire, serde_json::Error> {
    Wire::of(&inline_segments(state))
}

fn is_unknown(constraint: &Constraint) -> bool {
    matches!(constraint.operator, Operator::Unknown(_))
}

fn feature_has_unknown_operator(feature: &ClientFeature) -> bool {
    feature
        .strategies
        .iter()
        .flatten()
        .flat_map(|strategy| strategy.constraints.iter().flatten())
        .any(is_unknown)
}

/// unleash-types would write an unknown operator as `{"UNKNOWN":"OP"}`, which SDKs cannot read;
/// the rare item that has one goes through a `Value` to be written as the plain string.
fn fixed_json(item: &impl serde::Serialize) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(item)?;
    for strategy in array_items(value.get_mut("strategies")) {
        array_items(strategy.get_mut("constraints")).for_each(fix_operator);
    }
    array_items(value.get_mut("constraints")).for_each(fix_operator);
    serde_json::to_string(&value)
}

fn array_items(value: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    value
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|items| items.iter_mut())
}

fn fix_operator(constraint: &mut Value) {
    let Some(operator) = constraint.get_mut("operator") else {
        return;
    };
    let name = match operator {
        Value::Object(tagged) => tagged.values().next().and_then(Value::as_str),
        _ => None,
    };
    if let Some(name) = name.map(str::to_owned) {
        *operator = Value::String(name);
    }
}

/// Copies each segment's constraints into the strategies that use it and
/// drops all segment references (what Unleash does for pre-4.2.0 clients).
fn inline_segments(state: &ClientFeatures) -> ClientFeatures {
    let segments: HashMap<i32, &Segment> = state
        .segments
        .iter()
        .flatten()
        .map(|segment| (segment.id, segment))
        .collect();
    let mut legacy = state.clone();
    for feature in &mut legacy.features {
        for strategy in feature.strategies.iter_mut().flatten() {
            inline_strategy_segments(strategy, &segments);
        }
    }
    legacy.segments = None;
    legacy
}

fn inline_strategy_segments(strategy: &mut Strategy, segments: &HashMap<i32, &Segment>) {
    let Some(ids) = strategy.segments.take() else {
        return;
    };
    let constraints = strategy.constraints.get_or_insert_with(Vec::new);
    for id in ids {
        match segments.get(&id) {
            Some(segment) => constraints.extend(segment.constraints.iter().cloned()),
            None => constraints.push(never_matches()),
        }
    }
}

fn never_matches() -> Constraint {
    Constraint {
        context_name: UNKNOWN_SEGMENT_CONTEXT.to_owned(),
        operator: Operator::In,
        case_insensitive: false,
        inverted: false,
        values: Some(Vec::new()),
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(value: Value) -> ClientFeatures {
        serde_json::from_value(value).expect("valid state")
    }

    fn body_json(wire: Wire) -> Value {
        serde_json::from_slice(&wire.body(|_| true)).expect("body is JSON")
    }

    fn current_body(state: &ClientFeatures) -> Result<Wire, serde_json::Error> {
        Wire::of(state)
    }

    fn segmented() -> ClientFeatures {
        state(json!({"version": 2,
            "features": [{"name": "f", "enabled": true, "strategies": [{
                "name": "default", "segments": [1, 9],
                "constraints": [{"contextName": "a", "operator": "IN", "values": ["x"]}]}]}],
            "segments": [{"id": 1, "constraints": [
                {"contextName": "plan", "operator": "IN", "values": ["beta"]}]}]}))
    }

    #[test]
    fn current_body_keeps_segments_and_drops_null_query() {
        let body = body_json(current_body(&segmented()).unwrap());
        assert_eq!(body["segments"][0]["id"], 1);
        assert_eq!(
            body["features"][0]["strategies"][0]["segments"],
            json!([1, 9])
        );
        assert!(body.get("query").is_none());
    }

    #[test]
    fn legacy_body_inlines_segment_constraints() {
        let body = body_json(legacy_wire(&segmented()).unwrap());
        assert!(body.get("segments").is_none());
        let strategy = &body["features"][0]["strategies"][0];
        assert!(strategy.get("segments").is_none());
        let names: Vec<_> = strategy["constraints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contextName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "plan", UNKNOWN_SEGMENT_CONTEXT]);
        assert_eq!(strategy["constraints"][2]["values"], json!([]));
    }

    #[test]
    fn unknown_operators_are_served_as_plain_strings() {
        let state = state(
            json!({"version": 2, "features": [{"name": "f", "enabled": true,
            "strategies": [{"name": "default", "constraints": [
                {"contextName": "a", "operator": "NOT_A_VALID_OPERATOR", "values": ["x"]}]}]}]}),
        );
        let body = body_json(current_body(&state).unwrap());
        let operator = &body["features"][0]["strategies"][0]["constraints"][0]["operator"];
        assert_eq!(operator, "NOT_A_VALID_OPERATOR");
    }

    #[test]
    fn equal_states_give_equal_bytes_and_etags() {
        let served = |wire: Wire| ServedBody::new(wire.body(|_| true));
        let a = served(current_body(&segmented()).unwrap());
        let b = served(current_body(&segmented()).unwrap());
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, served(legacy_wire(&segmented()).unwrap()).etag);
    }

    #[test]
    fn gzip_is_the_body_compressed() {
        use std::io::Read;
        let body = ServedBody::new(current_body(&segmented()).unwrap().body(|_| true));
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body.gzip()[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body.bytes);
    }
}
