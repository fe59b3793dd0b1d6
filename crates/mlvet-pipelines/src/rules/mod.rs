//! The rules over pipeline files. Each lives in its own file with its documentation; the ids
//! whose documentation another crate owns (`index-confusion`, `artifact-ref-mutable`) are emitted
//! here without a `RuleMeta`.

pub mod artifact_ref_mutable;
pub mod ci_artifact_poisoning;
pub mod ci_pr_self_hosted_runner;
pub mod ci_untrusted_code_with_secrets;
pub mod container_unverified_fetch;
pub mod index_confusion;
pub mod install_without_hashes;
pub mod remote_code_flag;

use mlvet_core::{Finding, RuleMeta};

use crate::facts::Facts;

/// Every rule this crate documents, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &ci_artifact_poisoning::RULE,
        &ci_pr_self_hosted_runner::RULE,
        &ci_untrusted_code_with_secrets::RULE,
        &container_unverified_fetch::RULE,
        &install_without_hashes::RULE,
        &remote_code_flag::RULE,
    ]
}

/// Runs every rule on one file.
pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(install_without_hashes::check(facts));
    findings.extend(index_confusion::check(facts));
    findings.extend(remote_code_flag::check(facts));
    findings.extend(artifact_ref_mutable::check(facts));
    findings.extend(container_unverified_fetch::check(facts));
    findings.extend(ci_untrusted_code_with_secrets::check(facts));
    findings.extend(ci_pr_self_hosted_runner::check(facts));
    findings.extend(ci_artifact_poisoning::check(facts));
    findings
}
