//! The outline an Unleash state file must have before anything is imported from it. Lenient
//! deserialisation would read `{"version": 1}` (or `"features": {}`) as an empty state and
//! report "0 flags" imported, which hides a wrong file; these checks name what is wrong instead.
//! Pure: it only looks at the parsed JSON.

use serde_json::Value;

/// Checks that `state` is `{"features": [...], "segments"?: [...]}` (or Unleash's delta shape
/// `{"events": [...]}`) with a named object for every feature. The error is one sentence.
pub fn check_unleash_state(state: &Value) -> Result<(), String> {
    let Some(object) = state.as_object() else {
        return Err(format!(
            "the file is not a JSON object but {}: an Unleash state is {{\"version\": .., \"features\": [..]}}",
            kind(state)
        ));
    };
    if let Some(events) = object.get("events") {
        let events = events.as_array().ok_or_else(|| {
            format!(
                "\"events\" is not an array but {}: a delta file lists its events",
                kind(events)
            )
        })?;
        if events.is_empty() {
            return Err("\"events\" is an empty array: the file describes no state".into());
        }
        if let Some(i) = events.iter().position(|e| !e.is_object()) {
            return Err(format!("event {} is not an object", i + 1));
        }
        return Ok(());
    }
    let features = match object.get("features") {
        None => {
            return Err(
                "the file has no \"features\" array: it is not an Unleash client-API state \
                 (give an empty array to import no flags)"
                    .into(),
            )
        }
        Some(Value::Array(features)) => features,
        Some(other) => {
            return Err(format!(
                "\"features\" is not an array but {}: list the flags in an array",
                kind(other)
            ))
        }
    };
    for (i, f) in features.iter().enumerate() {
        let n = i + 1;
        let Some(f) = f.as_object() else {
            return Err(format!("feature {n} is not an object but {}", kind(f)));
        };
        match f.get("name") {
            Some(Value::String(name)) if !name.is_empty() => {}
            Some(Value::String(_)) => return Err(format!("feature {n} has an empty name")),
            _ => return Err(format!("feature {n} has no name")),
        }
    }
    match object.get("segments") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(segments)) => {
            match segments
                .iter()
                .position(|s| !s.get("id").is_some_and(Value::is_i64))
            {
                Some(i) => Err(format!("segment {} has no numeric id", i + 1)),
                None => Ok(()),
            }
        }
        Some(other) => Err(format!("\"segments\" is not an array but {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_of_the_right_shape_pass() {
        for ok in [
            json!({"version": 1, "features": []}),
            json!({"features": [{"name": "a"}], "segments": [{"id": 1}]}),
            json!({"features": [{"name": "a"}], "segments": null}),
            json!({"events": [{"type": "hydration", "features": []}]}),
        ] {
            assert_eq!(check_unleash_state(&ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_wrong_shape_is_named() {
        for (bad, says) in [
            (json!({"version": 1}), "no \"features\" array"),
            (
                json!({"features": {}}),
                "\"features\" is not an array but an object",
            ),
            (json!([]), "not a JSON object but an array"),
            (json!({"features": [1]}), "feature 1 is not an object"),
            (
                json!({"features": [{"name": ""}]}),
                "feature 1 has an empty name",
            ),
            (
                json!({"features": [{"name": "a"}, {}]}),
                "feature 2 has no name",
            ),
            (
                json!({"features": [], "segments": 1}),
                "\"segments\" is not an array",
            ),
            (
                json!({"features": [], "segments": [{}]}),
                "segment 1 has no numeric id",
            ),
            (json!({"events": []}), "empty array"),
            (json!({"events": [3]}), "event 1 is not an object"),
        ] {
            let e = check_unleash_state(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
