//! The frontend API answer (`/api/frontend`, spec 2.4): every flag that is on
//! for the context, with the variant the browser SDK exposes.

use serde::Serialize;
use unleash_types::client_features::Payload;
use unleash_yggdrasil::{Context, ExtendedVariantDef};

use super::compiled::CompiledEnvironment;
use super::etag;

/// Borrows flag names from the [`CompiledEnvironment`] that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrontendResponse<'a> {
    pub toggles: Vec<FrontendToggle<'a>>,
    /// This answer as served, serialised once; not part of the JSON.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Quoted ETag of `body`; not part of the JSON.
    #[serde(skip)]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendToggle<'a> {
    pub name: &'a str,
    pub enabled: bool,
    pub impression_data: bool,
    pub variant: FrontendVariant,
}

/// Field names as the SDKs read them: `feature_enabled` really is snake case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrontendVariant {
    pub name: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    pub feature_enabled: bool,
}

impl From<ExtendedVariantDef> for FrontendVariant {
    fn from(variant: ExtendedVariantDef) -> Self {
        Self {
            name: variant.name,
            enabled: variant.enabled,
            payload: variant.payload,
            feature_enabled: variant.feature_enabled,
        }
    }
}

impl CompiledEnvironment {
    /// Flags that are on for `ctx`, sorted by name. A flag without a variant
    /// carries yggdrasil's `{"name":"disabled","enabled":false}`.
    pub fn frontend_toggles(&self, ctx: &Context) -> FrontendResponse<'_> {
        let toggles: Vec<FrontendToggle> = self
            .flags
            .iter()
            .filter(|(_, facts)| facts.enabled_in_env)
            .filter_map(|(name, facts)| {
                let verdict = self.verdict(name, facts, ctx);
                verdict.enabled.then(|| FrontendToggle {
                    name,
                    enabled: true,
                    impression_data: verdict.impression_data,
                    variant: verdict.variant.into(),
                })
            })
            .collect();
        let mut response = FrontendResponse {
            toggles,
            body: Vec::new(),
            etag: String::new(),
        };
        // Cannot fail: plain structs of strings, bools and string-keyed maps.
        response.body = serde_json::to_vec(&response).unwrap_or_default();
        response.etag = etag::of_answer(b"frontend", self.revision(), &response.body);
        response
    }
}

#[cfg(test)]
mod tests {
    use crate::evaluation::tests::support::{context, environment};
    use serde_json::json;

    #[test]
    fn lists_only_enabled_flags_in_the_documented_shape() {
        let env = environment(json!({"version": 2, "features": [
            {"name": "off", "enabled": false},
            {"name": "plain", "enabled": true, "impressionData": true},
            {"name": "colour", "enabled": true, "variants": [
                {"name": "blue", "weight": 1000, "payload": {"type": "string", "value": "b"}}]},
            {"name": "users", "enabled": true, "strategies": [
                {"name": "userWithId", "parameters": {"userIds": "7"}}]}]}));
        let response = env.frontend_toggles(&context(json!({})));
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"toggles": [
            {"name": "colour", "enabled": true, "impressionData": false, "variant":
                {"name": "blue", "enabled": true, "payload": {"type": "string", "value": "b"},
                 "feature_enabled": true}},
            {"name": "plain", "enabled": true, "impressionData": true, "variant":
                {"name": "disabled", "enabled": false, "feature_enabled": true}}]})
        );
        let for_user = env.frontend_toggles(&context(json!({"userId": "7"})));
        assert_eq!(for_user.toggles.len(), 3);
        assert_ne!(for_user.etag, response.etag);
    }

    #[test]
    fn etag_is_stable_for_the_same_context_and_revision() {
        let state = json!({"version": 2, "features": [{"name": "a", "enabled": true}]});
        let env = environment(state);
        let ctx = context(json!({"userId": "1"}));
        assert_eq!(
            env.frontend_toggles(&ctx).etag,
            env.frontend_toggles(&ctx).etag
        );
    }
}
