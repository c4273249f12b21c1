//! Request context for the frontend API and OFREP, mapped onto the one
//! Unleash [`Context`] the engine reads (spec 2.4 and 3). Every entry point
//! funnels through [`ContextBuilder`] so the three shapes agree on what a
//! known field is and how values are stringified.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};
use thiserror::Error;
use unleash_yggdrasil::Context;

/// Top-level context fields by their Unleash names; any other name is a
/// property (spec 3).
const FIELDS: [&str; 6] = [
    "userId",
    "sessionId",
    "remoteAddress",
    "environment",
    "appName",
    "currentTime",
];

/// What the transport knows that the request may leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDefaults {
    /// Becomes `remoteAddress` unless the request sets one.
    pub caller_ip: Option<IpAddr>,
    /// Becomes `sessionId` unless the request sets one. The frontend API uses
    /// a fresh random value (spec 2.4); randomness stays with the caller.
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContextError {
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("`context` must be a JSON object")]
    NotAnObject,
}

/// Frontend `GET` query pairs: `userId=..&properties[plan]=pro&tier=gold`.
/// Unknown keys become properties; a repeated key keeps its last value.
pub fn frontend_context_from_query(
    pairs: &[(String, String)],
    defaults: &RequestDefaults,
) -> Context {
    let mut builder = ContextBuilder::default();
    for (key, value) in pairs {
        match property_key(key) {
            Some(name) => builder.property(name, value.clone()),
            None => builder.top_level(key, value.clone()),
        }
    }
    builder.finish(defaults)
}

/// Frontend `POST` body `{"context": {...}}`. Also accepts the context
/// object itself at the top level, as Unleash does. An empty body is an
/// empty context.
pub fn frontend_context_from_body(
    body: &[u8],
    defaults: &RequestDefaults,
) -> Result<Context, ContextError> {
    let mut object = parse_object(body)?;
    let context = match object.remove("context") {
        Some(Value::Object(context)) => context,
        Some(_) => return Err(ContextError::NotAnObject),
        None => object,
    };
    let mut builder = ContextBuilder::default();
    builder.object(context);
    Ok(builder.finish(defaults))
}

/// OFREP body `{"context": {"targetingKey": "..", ...attributes}}`.
/// `targetingKey` becomes userId (a blank key counts as none); attributes
/// named like a context field fill that field; the rest are properties. A
/// nested `properties` object is merged in, so Unleash-shaped contexts work
/// too. `{}` and an empty body are an empty context (spec 1.1). No transport
/// defaults: an OFREP caller is usually a server, whose IP and session say
/// nothing about the user being evaluated.
pub fn ofrep_context_from_body(body: &[u8]) -> Result<Context, ContextError> {
    let mut object = parse_object(body)?;
    let mut context = match object.remove("context") {
        Some(Value::Object(context)) => context,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ContextError::NotAnObject),
    };
    let mut builder = ContextBuilder::default();
    if let Some(key) = context.remove("targetingKey").and_then(scalar) {
        if !key.trim().is_empty() {
            builder.top_level("userId", key);
        }
    }
    builder.object(context);
    Ok(builder.finish(&RequestDefaults::default()))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ContextError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ContextError::NotAnObject),
        Err(error) => Err(ContextError::NotJson(error.to_string())),
    }
}

/// `properties[plan]` -> `plan`.
fn property_key(key: &str) -> Option<&str> {
    key.strip_prefix("properties[")?.strip_suffix(']')
}

/// Context values are strings; numbers and booleans are written out the way
/// JSON writes them, `null` counts as missing (spec 3) and nested values are
/// dropped because no constraint can compare them.
fn scalar(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[derive(Default)]
struct ContextBuilder {
    fields: HashMap<&'static str, String>,
    properties: HashMap<String, String>,
}

impl ContextBuilder {
    /// A top-level key: a known field (first value wins, so `targetingKey`
    /// beats a `userId` attribute) or else a property.
    fn top_level(&mut self, key: &str, value: String) {
        match FIELDS.iter().find(|field| **field == key) {
            Some(field) => {
                self.fields.entry(field).or_insert(value);
            }
            None => self.property(key, value),
        }
    }

    fn property(&mut self, key: &str, value: String) {
        self.properties.insert(key.to_owned(), value);
    }

    fn object(&mut self, mut object: Map<String, Value>) {
        let nested = object.remove("properties");
        for (key, value) in object {
            if let Some(value) = scalar(value) {
                self.top_level(&key, value);
            }
        }
        if let Some(Value::Object(properties)) = nested {
            for (key, value) in properties {
                if let Some(value) = scalar(value) {
                    self.property(&key, value);
                }
            }
        }
    }

    /// A property named like an unset field fills that field, as yggdrasil's
    /// own context parser does; then the transport defaults apply.
    fn finish(mut self, defaults: &RequestDefaults) -> Context {
        for field in FIELDS {
            if !self.fields.contains_key(field) {
                if let Some(value) = self.properties.remove(field) {
                    self.fields.insert(field, value);
                }
            }
        }
        let mut take = |name: &str| self.fields.remove(name);
        Context {
            user_id: take("userId"),
            session_id: take("sessionId").or_else(|| defaults.session_id.clone()),
            environment: take("environment"),
            app_name: take("appName"),
            current_time: take("currentTime"),
            remote_address: take("remoteAddress")
                .or_else(|| defaults.caller_ip.map(|ip| ip.to_string())),
            properties: Some(self.properties),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn props(ctx: &Context) -> BTreeMap<String, String> {
        ctx.properties
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    fn map(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_fills_fields_and_properties() {
        let query = pairs(&[
            ("appName", "web"),
            ("userId", "u1"),
            ("properties[plan]", "pro"),
            ("tier", "gold"),
            ("environment", "prod"),
        ]);
        let ctx = frontend_context_from_query(&query, &RequestDefaults::default());
        assert_eq!(ctx.app_name.as_deref(), Some("web"));
        assert_eq!(ctx.user_id.as_deref(), Some("u1"));
        assert_eq!(ctx.environment.as_deref(), Some("prod"));
        assert_eq!(props(&ctx), map(&[("plan", "pro"), ("tier", "gold")]));
    }

    #[test]
    fn defaults_fill_only_missing_fields() {
        let defaults = RequestDefaults {
            caller_ip: Some("10.1.2.3".parse().unwrap()),
            session_id: Some("s-random".into()),
        };
        let ctx = frontend_context_from_query(&[], &defaults);
        assert_eq!(ctx.remote_address.as_deref(), Some("10.1.2.3"));
        assert_eq!(ctx.session_id.as_deref(), Some("s-random"));
        let given = pairs(&[("remoteAddress", "1.1.1.1"), ("sessionId", "mine")]);
        let ctx = frontend_context_from_query(&given, &defaults);
        assert_eq!(ctx.remote_address.as_deref(), Some("1.1.1.1"));
        assert_eq!(ctx.session_id.as_deref(), Some("mine"));
    }

    #[test]
    fn post_body_moves_unknown_keys_into_properties() {
        let body = json!({"context": {"userId": 42, "beta": true, "plan": "pro",
            "properties": {"region": "eu", "skip": null, "deep": {"a": 1}}}});
        let ctx =
            frontend_context_from_body(body.to_string().as_bytes(), &RequestDefaults::default())
                .unwrap();
        assert_eq!(ctx.user_id.as_deref(), Some("42"));
        assert_eq!(
            props(&ctx),
            map(&[("beta", "true"), ("plan", "pro"), ("region", "eu")])
        );
    }

    #[test]
    fn post_body_accepts_flat_and_empty_contexts() {
        let flat =
            frontend_context_from_body(br#"{"userId":"u"}"#, &RequestDefaults::default()).unwrap();
        assert_eq!(flat.user_id.as_deref(), Some("u"));
        let empty = frontend_context_from_body(b"", &RequestDefaults::default()).unwrap();
        assert_eq!(empty.user_id, None);
    }

    #[test]
    fn bad_bodies_are_reported() {
        let defaults = RequestDefaults::default();
        assert!(matches!(
            frontend_context_from_body(b"{", &defaults),
            Err(ContextError::NotJson(_))
        ));
        assert_eq!(
            frontend_context_from_body(b"[]", &defaults).unwrap_err(),
            ContextError::NotAnObject
        );
        assert_eq!(
            ofrep_context_from_body(br#"{"context":"x"}"#).unwrap_err(),
            ContextError::NotAnObject
        );
    }

    #[test]
    fn ofrep_maps_targeting_key_and_attributes() {
        let body = json!({"context": {"targetingKey": "k1", "userId": "ignored", "appName": "api",
            "currentTime": "2024-01-01T00:00:00Z", "plan": "pro", "seats": 12, "ratio": 1.5,
            "properties": {"region": "eu"}}});
        let ctx = ofrep_context_from_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(ctx.user_id.as_deref(), Some("k1"));
        assert_eq!(ctx.app_name.as_deref(), Some("api"));
        assert_eq!(ctx.current_time.as_deref(), Some("2024-01-01T00:00:00Z"));
        let expected = map(&[
            ("plan", "pro"),
            ("seats", "12"),
            ("ratio", "1.5"),
            ("region", "eu"),
        ]);
        assert_eq!(props(&ctx), expected);
    }

    #[test]
    fn ofrep_tolerates_missing_or_blank_keys() {
        for body in [
            &b"{}"[..],
            b"",
            br#"{"context":{}}"#,
            br#"{"context":{"targetingKey":" "}}"#,
        ] {
            let ctx = ofrep_context_from_body(body).unwrap();
            assert_eq!(ctx.user_id, None, "{}", String::from_utf8_lossy(body));
        }
        let by_attribute = ofrep_context_from_body(br#"{"context":{"userId":"u"}}"#).unwrap();
        assert_eq!(by_attribute.user_id.as_deref(), Some("u"));
    }

    #[test]
    fn properties_named_like_fields_fill_unset_fields() {
        let body =
            br#"{"context":{"properties":{"userId":"p","sessionId":"s"},"sessionId":"top"}}"#;
        let ctx = frontend_context_from_body(body, &RequestDefaults::default()).unwrap();
        assert_eq!(ctx.user_id.as_deref(), Some("p"));
        assert_eq!(ctx.session_id.as_deref(), Some("top"));
        assert_eq!(props(&ctx), map(&[("sessionId", "s")]));
    }
}
