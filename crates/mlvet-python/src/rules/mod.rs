//! The risky-loading rules, one file each. Every rule looks at the calls (and environment writes)
//! of one analysed file and returns hits; `check` turns them into findings with positions and
//! applies inline suppressions.

use mlvet_core::{Confidence, RuleMeta, Severity};
use uv_pep440::Version;

use crate::analysis::{Call, Literal, SourceAnalysis};
use crate::position::Position;

pub mod code_unanalysable;
pub mod dataset_script_exec;
mod hub;
pub mod keras_unsafe_deserialization;
pub mod langchain_dangerous_deserialization;
pub mod mlflow_load_model;
pub mod numpy_allow_pickle;
pub mod pickle_load;
pub(crate) mod remote_code_flag;
pub mod torch_hub_load;
pub mod torch_load;
pub mod trust_remote_code;
pub mod unpinned_hub_download;
pub mod yaml_unsafe_load;

/// Every rule this crate defines (`remote-code-flag`, which it also emits, is defined by the
/// pipelines analysis).
pub fn rules() -> Vec<&'static RuleMeta> {
    vec![
        &code_unanalysable::RULE,
        &dataset_script_exec::RULE,
        &keras_unsafe_deserialization::RULE,
        &langchain_dangerous_deserialization::RULE,
        &mlflow_load_model::RULE,
        &numpy_allow_pickle::RULE,
        &pickle_load::RULE,
        &torch_hub_load::RULE,
        &torch_load::RULE,
        &trust_remote_code::RULE,
        &unpinned_hub_download::RULE,
        &yaml_unsafe_load::RULE,
    ]
}

/// What the rest of the scan knows that changes a verdict: the versions of the libraries the
/// project uses (from its lockfiles, manifests or installed metadata). When several records name
/// one library, the lowest exact version is kept: the risk of the oldest one applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub torch: Option<Version>,
    pub datasets: Option<Version>,
}

impl Context {
    /// Records one `name==version` from the inventory (PEP 503 normalised name).
    pub fn observe(&mut self, normalized_name: &str, version: &str) {
        let slot = match normalized_name {
            "torch" => &mut self.torch,
            "datasets" => &mut self.datasets,
            _ => return,
        };
        let Ok(version) = version.parse::<Version>() else {
            return;
        };
        if slot.as_ref().is_none_or(|known| version < *known) {
            *slot = Some(version);
        }
    }
}

/// One rule firing at one place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    pub rule: &'static RuleMeta,
    pub severity: Severity,
    pub confidence: Confidence,
    pub message: String,
    pub evidence: Vec<(String, String)>,
    pub remediation: String,
    pub position: Position,
    pub end_line: u32,
}

impl Hit {
    pub(crate) fn at_call(rule: &'static RuleMeta, call: &Call, message: String) -> Self {
        Hit {
            rule,
            severity: rule.default_severity,
            confidence: Confidence::High,
            message,
            evidence: vec![("call".to_string(), call.name.clone())],
            remediation: String::new(),
            position: call.position,
            end_line: call.end_line,
        }
    }

    pub(crate) fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub(crate) fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    pub(crate) fn evidence(mut self, label: &str, value: impl Into<String>) -> Self {
        self.evidence.push((label.to_string(), value.into()));
        self
    }

    pub(crate) fn remediation(mut self, text: impl Into<String>) -> Self {
        self.remediation = text.into();
        self
    }
}

/// Runs every rule over one file's analysis.
pub(crate) fn run(analysis: &SourceAnalysis, context: &Context) -> Vec<Hit> {
    let mut hits = Vec::new();
    for call in &analysis.calls {
        torch_load::check(call, context, &mut hits);
        torch_hub_load::check(call, &mut hits);
        pickle_load::check(call, &mut hits);
        numpy_allow_pickle::check(call, &mut hits);
        keras_unsafe_deserialization::check(call, &mut hits);
        yaml_unsafe_load::check(call, &mut hits);
        langchain_dangerous_deserialization::check(call, &mut hits);
        trust_remote_code::check(call, analysis, &mut hits);
        unpinned_hub_download::check(call, analysis, &mut hits);
        mlflow_load_model::check(call, &mut hits);
    }
    dataset_script_exec::check(analysis, context, &mut hits);
    remote_code_flag::check(analysis, &mut hits);
    hits
}

/// The callee matches one of `names` exactly (resolved through imports).
pub(crate) fn named(call: &Call, names: &[&str]) -> bool {
    names.contains(&call.name.as_str())
}

/// The keyword is given with a literal `True`.
pub(crate) fn keyword_true(call: &Call, name: &str) -> bool {
    call.keyword(name).is_some_and(Literal::is_true)
}

/// Whether a call may pass `name` through `**kwargs` (so its absence proves nothing).
pub(crate) fn may_hide(call: &Call) -> bool {
    call.star_kwargs
}
