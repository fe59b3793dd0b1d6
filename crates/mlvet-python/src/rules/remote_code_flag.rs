//! The Python side of `remote-code-flag`. The rule's documentation (`RuleMeta`) lives with the
//! pipelines analysis, which reports the same flag in shell lines, Dockerfiles and workflows;
//! this file only emits findings with that id.

use mlvet_core::{RuleMeta, Severity, Verdict};

use super::dataset_script_exec::trust_variable_set;
use super::{Hit, keyword_true, named};
use crate::analysis::SourceAnalysis;

/// Carries the id for the findings; deliberately not in [`super::rules`] (the registered
/// definition is the pipelines analysis's).
pub(crate) static RULE: RuleMeta = RuleMeta {
    id: "remote-code-flag",
    category: "pipeline",
    summary: "A flag that makes a loader run code from a remote repository",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: "",
};

pub(crate) fn check(analysis: &SourceAnalysis, hits: &mut Vec<Hit>) {
    for call in &analysis.calls {
        if named(call, &["torch.hub.load"]) && keyword_true(call, "trust_repo") {
            hits.push(
                Hit::at_call(
                    &RULE,
                    call,
                    format!(
                        "`{}` with trust_repo=True runs the repository's hubconf.py without asking",
                        call.written
                    ),
                )
                .evidence("flag", "trust_repo=True")
                .remediation(
                    "Drop trust_repo=True; vendor the model code or pin and review the repository.",
                ),
            );
        }
    }
    for env in &analysis.env_assignments {
        if env.variable == "HF_DATASETS_TRUST_REMOTE_CODE" && trust_variable_set(analysis) {
            hits.push(Hit {
                rule: &RULE,
                severity: RULE.default_severity,
                confidence: mlvet_core::Confidence::High,
                message: "HF_DATASETS_TRUST_REMOTE_CODE is set: datasets < 4.0 runs every Hub dataset's loading script".to_string(),
                evidence: vec![("variable".to_string(), env.variable.clone()), ("value".to_string(), env.value.display())],
                remediation: "Remove the variable; upgrade datasets to 4.0 or later.".to_string(),
                position: env.position,
                end_line: env.position.line,
            });
        }
    }
    for call in &analysis.calls {
        if matches!(call.name.as_str(), "os.environ.setdefault" | "os.putenv")
            && call.args.first().and_then(|a| a.as_str()) == Some("HF_DATASETS_TRUST_REMOTE_CODE")
            && trust_variable_set(analysis)
        {
            hits.push(
                Hit::at_call(
                    &RULE,
                    call,
                    "HF_DATASETS_TRUST_REMOTE_CODE is set: datasets < 4.0 runs every Hub dataset's loading script".to_string(),
                )
                .evidence("variable", "HF_DATASETS_TRUST_REMOTE_CODE")
                .remediation("Remove the variable; upgrade datasets to 4.0 or later."),
            );
        }
    }
}
