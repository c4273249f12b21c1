//! Builders shared by the module's tests.

use std::collections::HashMap;

use serde_json::Value;
use unleash_yggdrasil::Context;

use crate::evaluation::{
    frontend_context_from_body, CompiledEnvironment, RequestDefaults, ValueType,
};

/// An environment at revision 1 where every flag is a boolean.
pub(crate) fn environment(state: Value) -> CompiledEnvironment {
    typed_environment(state, &[])
}

pub(crate) fn typed_environment(state: Value, types: &[(&str, ValueType)]) -> CompiledEnvironment {
    let types: HashMap<String, ValueType> =
        types.iter().map(|(k, t)| (k.to_string(), *t)).collect();
    let state = serde_json::from_value(state).expect("test state is a valid ClientFeatures");
    CompiledEnvironment::build(state, &types, 1).expect("test state builds")
}

/// A context from its Unleash JSON shape, without transport defaults.
pub(crate) fn context(value: Value) -> Context {
    let body = serde_json::to_vec(&value).expect("serialisable");
    frontend_context_from_body(&body, &RequestDefaults::default()).expect("test context parses")
}
