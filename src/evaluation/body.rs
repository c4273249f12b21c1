//! Serialised `/api/client/features` bodies (spec 2.2): the current shape with
//! a top-level segment list, and the shape for clients older than
//! Unleash-Client-Spec 4.2.0, which do not know segments.

use std::collections::HashMap;

use serde_json::{Map, Value};
use unleash_types::client_features::{ClientFeatures, Constraint, Operator, Segment, Strategy};

use super::etag;

/// Old clients cannot follow a dangling segment reference; a strategy that
/// names an unknown segment is off (spec 3), and `IN []` is false in every SDK.
const UNKNOWN_SEGMENT_CONTEXT: &str = "switchyard.unknownSegment";

/// A body ready to send, with the ETag that names it and its gzip form, compressed once per
/// change rather than once per request.
#[derive(Debug, Clone)]
pub(super) struct ServedBody {
    /// Shared, so sending the body never copies it.
    pub bytes: bytes::Bytes,
    pub gzip: bytes::Bytes,
    pub etag: String,
}

impl ServedBody {
    fn new(bytes: Vec<u8>) -> Self {
        let etag = etag::of_bytes(&bytes);
        let gzip = gzip(&bytes).into();
        Self {
            bytes: bytes.into(),
            gzip,
            etag,
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A body for a narrowed request (`namePrefix`, `project`): built per request, not cached.
pub(super) fn narrowed_body(
    state: &ClientFeatures,
    keep: impl Fn(&str) -> bool,
    with_segments: bool,
) -> Result<(Vec<u8>, String), serde_json::Error> {
    let mut narrowed = state.clone();
    narrowed.features.retain(|f| keep(&f.name));
    let bytes = if with_segments {
        to_wire_bytes(&narrowed)?
    } else {
        to_wire_bytes(&inline_segments(&narrowed))?
    };
    let etag = etag::of_bytes(&bytes);
    Ok((bytes, etag))
}

pub(super) fn current_body(state: &ClientFeatures) -> Result<ServedBody, serde_json::Error> {
    Ok(ServedBody::new(to_wire_bytes(state)?))
}

pub(super) fn legacy_body(state: &ClientFeatures) -> Result<ServedBody, serde_json::Error> {
    Ok(ServedBody::new(to_wire_bytes(&inline_segments(state))?))
}

/// Serialises through a `Value` so the two serde quirks of unleash-types can be
/// fixed before the bytes exist: `ClientFeatures` always writes `"query":null`,
/// and an unknown operator would come out as `{"UNKNOWN":"OP"}`, which SDKs
/// cannot read. Map keys end up sorted, which keeps the bytes deterministic.
fn to_wire_bytes(state: &ClientFeatures) -> Result<Vec<u8>, serde_json::Error> {
    let mut value = serde_json::to_value(state)?;
    if let Value::Object(root) = &mut value {
        strip_null(root, "query");
        strip_null(root, "meta");
        fix_operators(root);
    }
    serde_json::to_vec(&value)
}

fn strip_null(object: &mut Map<String, Value>, key: &str) {
    if object.get(key).is_some_and(Value::is_null) {
        object.remove(key);
    }
}

fn fix_operators(root: &mut Map<String, Value>) {
    let strategies = array_items(root.get_mut("features"))
        .flat_map(|feature| array_items(feature.get_mut("strategies")));
    for strategy in strategies {
        array_items(strategy.get_mut("constraints")).for_each(fix_operator);
    }
    for segment in array_items(root.get_mut("segments")) {
        array_items(segment.get_mut("constraints")).for_each(fix_operator);
    }
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

    fn body_json(body: &ServedBody) -> Value {
        serde_json::from_slice(&body.bytes).expect("body is JSON")
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
        let body = body_json(&current_body(&segmented()).unwrap());
        assert_eq!(body["segments"][0]["id"], 1);
        assert_eq!(
            body["features"][0]["strategies"][0]["segments"],
            json!([1, 9])
        );
        assert!(body.get("query").is_none());
    }

    #[test]
    fn legacy_body_inlines_segment_constraints() {
        let body = body_json(&legacy_body(&segmented()).unwrap());
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
        let body = body_json(&current_body(&state).unwrap());
        let operator = &body["features"][0]["strategies"][0]["constraints"][0]["operator"];
        assert_eq!(operator, "NOT_A_VALID_OPERATOR");
    }

    #[test]
    fn equal_states_give_equal_bytes_and_etags() {
        let a = current_body(&segmented()).unwrap();
        let b = current_body(&segmented()).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, legacy_body(&segmented()).unwrap().etag);
    }
}
