//! Variant payloads as typed values: what OFREP hands out for string,
//! number and JSON flags, and what validation insists payloads parse as.

use serde_json::Value;
use unleash_types::client_features::Payload;

use super::ValueType;

/// Numbers keep their written form: `3` is an integer, `3.0` a float (Python
/// rejects a JSON `1` for a float flag, spec 1.2).
pub(super) fn payload_value(value_type: ValueType, payload: &Payload) -> Result<Value, String> {
    let text = payload.value.as_str();
    match value_type {
        ValueType::Boolean | ValueType::String => Ok(Value::String(text.to_owned())),
        ValueType::Number => parse_number(text).map(Value::Number),
        ValueType::Json => {
            serde_json::from_str(text).map_err(|e| format!("payload is not JSON: {e}"))
        }
    }
}

/// A JSON number literal, nothing else: no `NaN`, `inf`, `+1` or `0x10`.
pub(super) fn parse_number(text: &str) -> Result<serde_json::Number, String> {
    let not_a_number = || format!("payload '{text}' is not a number");
    if text.is_empty() || text != text.trim() {
        return Err(not_a_number());
    }
    serde_json::from_str(text).map_err(|_| not_a_number())
}
