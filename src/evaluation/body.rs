//! Serialised `/api/client/features` bodies (spec 2.2): the current shape with
//! a top-level segment list, and the shape for clients older than
//! Unleash-Client-Spec 4.2.0, which do not know segments.

use std::collections::HashMap;

use std::ops::Range;
use std::sync::OnceLock;

use serde_json::Value;
use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, Operator, Segment, Strategy,
};

use super::etag;

/// Old clients cannot follow a dangling segment reference; a strategy that
/// names an unknown segment is off (spec 3), and `IN []` is false in every SDK.
const UNKNOWN_SEGMENT_CONTEXT: &str = "switchyard.unknownSegment";

/// One environment's `/api/client/features` body, serialised once per change, with where each
/// feature's and segment's JSON lies in it. Narrowed bodies, stream hydrations and stream diffs
/// are assembled from (or compared on) those slices, never re-parsed, and the pieces cost no
/// memory beyond the body itself.
#[derive(Debug, Default)]
pub(super) struct Wire {
    bytes: bytes::Bytes,
    version: u32,
    /// Sorted by name (the state is normalised).
    features: Vec<Piece>,
    /// Sorted by id; None when the body has no `segments` key (the legacy shape).
    segments: Option<Vec<Piece>>,
}

/// A feature (keyed by name) or a segment (keyed by id), and where its JSON is in the body.
#[derive(Debug)]
struct Piece {
    key: String,
    range: Range<usize>,
}

impl Wire {
    /// The body of a normalised state (no `query`, no `meta`).
    pub fn of(state: &ClientFeatures) -> Result<Self, serde_json::Error> {
        let mut out = Vec::with_capacity(state.features.len() * 512 + 64);
        out.extend_from_slice(format!("{{\"version\":{},\"features\":[", state.version).as_bytes());
        let mut features = Vec::with_capacity(state.features.len());
        for (i, feature) in state.features.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let start = out.len();
            write_feature(&mut out, feature)?;
            let range = start..out.len();
            let key = feature.name.clone();
            features.push(Piece { key, range });
        }
        out.push(b']');
        let segments = match &state.segments {
            None => None,
            Some(list) => {
                out.extend_from_slice(b",\"segments\":[");
                let mut segments = Vec::with_capacity(list.len());
                for (i, segment) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let start = out.len();
                    if segment.constraints.iter().any(is_unknown) {
                        write_fixed(&mut out, segment)?;
                    } else {
                        serde_json::to_writer(&mut out, segment)?;
                    }
                    let range = start..out.len();
                    let key = segment.id.to_string();
                    segments.push(Piece { key, range });
                }
                out.push(b']');
                Some(segments)
            }
        };
        out.push(b'}');
        // Held until the next change: give back what the capacity guess overshot.
        out.shrink_to_fit();
        Ok(Self {
            bytes: out.into(),
            version: state.version,
            features,
            segments,
        })
    }

    /// This body with the features named in `changed` taken from `fresh` (sorted by name,
    /// normalised), or dropped where `fresh` has none; every other piece is copied as it is.
    pub fn patched(
        &self,
        fresh: &[ClientFeature],
        changed: &std::collections::HashSet<&str>,
    ) -> Result<Self, serde_json::Error> {
        let mut out = Vec::with_capacity(self.bytes.len() + fresh.len() * 1024);
        out.extend_from_slice(format!("{{\"version\":{},\"features\":[", self.version).as_bytes());
        let mut features = Vec::with_capacity(self.features.len() + fresh.len());
        let mut kept = self
            .features
            .iter()
            .filter(|piece| !changed.contains(piece.key.as_str()))
            .peekable();
        let mut fresh = fresh.iter().peekable();
        loop {
            let take_fresh = match (kept.peek(), fresh.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(piece), Some(feature)) => feature.name < piece.key,
            };
            if !features.is_empty() {
                out.push(b',');
            }
            let start = out.len();
            let key = if take_fresh {
                let feature = fresh.next().expect("peeked");
                write_feature(&mut out, feature)?;
                feature.name.clone()
            } else {
                let piece = kept.next().expect("peeked");
                out.extend_from_slice(&self.bytes[piece.range.clone()]);
                piece.key.clone()
            };
            let range = start..out.len();
            features.push(Piece { key, range });
        }
        out.push(b']');
        let segments = self.segments.as_ref().map(|list| {
            out.extend_from_slice(b",\"segments\":[");
            let base = out.len();
            let first = list.first().map_or(0, |p| p.range.start);
            let last = list.last().map_or(0, |p| p.range.end);
            out.extend_from_slice(&self.bytes[first..last]);
            out.push(b']');
            list.iter()
                .map(|p| Piece {
                    key: p.key.clone(),
                    range: p.range.start - first + base..p.range.end - first + base,
                })
                .collect()
        });
        out.push(b'}');
        out.shrink_to_fit();
        Ok(Self {
            bytes: out.into(),
            version: self.version,
            features,
            segments,
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The whole body.
    pub fn bytes(&self) -> &bytes::Bytes {
        &self.bytes
    }

    /// Each feature's name and JSON, sorted by name.
    pub fn features(&self) -> impl Iterator<Item = (&str, &str)> {
        self.features.iter().map(|piece| self.piece(piece))
    }

    /// Each segment's id and JSON, sorted by id.
    pub fn segments(&self) -> impl Iterator<Item = (&str, &str)> {
        self.segments
            .iter()
            .flatten()
            .map(|piece| self.piece(piece))
    }

    fn piece<'a>(&'a self, piece: &'a Piece) -> (&'a str, &'a str) {
        // serde_json writes UTF-8 and pieces end on its token boundaries.
        let json = std::str::from_utf8(&self.bytes[piece.range.clone()]).unwrap_or("null");
        (piece.key.as_str(), json)
    }

    /// The state this body serialises, read back from it. The engines keep only the flags they
    /// evaluate, so the body is the one whole copy of an environment's configuration.
    pub fn state(&self) -> Result<ClientFeatures, serde_json::Error> {
        serde_json::from_slice(&self.bytes)
    }

    /// One feature as served, read back from its piece of the body.
    pub fn feature(&self, name: &str) -> Option<ClientFeature> {
        let at = (self.features)
            .binary_search_by(|piece| piece.key.as_str().cmp(name))
            .ok()?;
        serde_json::from_str(self.piece(&self.features[at]).1).ok()
    }

    /// The body with only the features `keep` accepts.
    pub fn narrowed(&self, keep: impl Fn(&str) -> bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len());
        out.extend_from_slice(format!("{{\"version\":{},\"features\":", self.version).as_bytes());
        join(&mut out, self.features().filter(|(name, _)| keep(name)));
        if self.segments.is_some() {
            out.extend_from_slice(b",\"segments\":");
            join(&mut out, self.segments());
        }
        out.push(b'}');
        out
    }
}

fn write_feature(out: &mut Vec<u8>, feature: &ClientFeature) -> Result<(), serde_json::Error> {
    if feature_has_unknown_operator(feature) {
        write_fixed(out, feature)
    } else {
        serde_json::to_writer(out, feature)
    }
}

/// Appends `[a,b,...]`.
fn join<'a>(out: &mut Vec<u8>, pieces: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push(b'[');
    for (i, (_, json)) in pieces.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(json.as_bytes());
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
    pub fn new(bytes: bytes::Bytes) -> Self {
        let etag = etag::of_bytes(&bytes);
        Self {
            bytes,
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
fn write_fixed(out: &mut Vec<u8>, item: &impl serde::Serialize) -> Result<(), serde_json::Error> {
    let mut value = serde_json::to_value(item)?;
    for strategy in array_items(value.get_mut("strategies")) {
        array_items(strategy.get_mut("constraints")).for_each(fix_operator);
    }
    array_items(value.get_mut("constraints")).for_each(fix_operator);
    serde_json::to_writer(out, &value)
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
        serde_json::from_slice(wire.bytes()).expect("body is JSON")
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
        let served = |wire: Wire| ServedBody::new(wire.bytes().clone());
        let a = served(current_body(&segmented()).unwrap());
        let b = served(current_body(&segmented()).unwrap());
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, served(legacy_wire(&segmented()).unwrap()).etag);
    }

    #[test]
    fn pieces_are_the_features_and_segments_as_served() {
        let wire = current_body(&segmented()).unwrap();
        let body = body_json(current_body(&segmented()).unwrap());
        let features: Vec<(&str, Value)> = wire
            .features()
            .map(|(name, json)| (name, serde_json::from_str(json).unwrap()))
            .collect();
        assert_eq!(features, [("f", body["features"][0].clone())]);
        let segments: Vec<(&str, Value)> = wire
            .segments()
            .map(|(id, json)| (id, serde_json::from_str(json).unwrap()))
            .collect();
        assert_eq!(segments, [("1", body["segments"][0].clone())]);
        let none: Value = serde_json::from_slice(&wire.narrowed(|_| false)).unwrap();
        assert_eq!(none["features"], json!([]));
        assert_eq!(none["segments"], body["segments"]);
    }

    #[test]
    fn gzip_is_the_body_compressed() {
        use std::io::Read;
        let body = ServedBody::new(current_body(&segmented()).unwrap().bytes().clone());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body.gzip()[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body.bytes);
    }
}
