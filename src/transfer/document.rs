//! The shape of an export document. Versioned, so later formats can still read old files.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const FORMAT: &str = "switchyard/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub project: ProjectDoc,
    pub environments: Vec<EnvironmentDoc>,
    #[serde(default)]
    pub segments: Vec<SegmentDoc>,
    #[serde(default)]
    pub flags: Vec<FlagDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectDoc {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub key_pattern: Option<String>,
    #[serde(default)]
    pub key_example: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentDoc {
    pub key: String,
    pub name: String,
    pub protected: bool,
    pub required_approvals: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentDoc {
    /// The id strategies in this document use; not kept on import.
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub constraints: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlagDoc {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "type")]
    pub flag_type: String,
    pub value_type: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub links: Vec<LinkDoc>,
    #[serde(default)]
    pub impression_data: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub dependencies: Vec<DependencyDoc>,
    /// By environment key.
    pub environments: BTreeMap<String, TargetingDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDoc {
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyDoc {
    pub feature: String,
    pub enabled: bool,
    #[serde(default)]
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetingDoc {
    pub enabled: bool,
    pub strategies: Value,
    pub variants: Value,
}
