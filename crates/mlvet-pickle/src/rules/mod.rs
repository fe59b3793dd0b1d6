//! One file per rule: its `RuleMeta` and documentation. The simulator builds the findings.

pub mod container_staged_pickle;
pub mod pickle_budget_exceeded;
pub mod pickle_dangerous_callable;
pub mod pickle_dynamic_call;
pub mod pickle_extension_code;
pub mod pickle_frame_overrun;
pub mod pickle_global_mutation;
pub mod pickle_non_literal_global;
pub mod pickle_parse_error;
pub mod pickle_structural_anomaly;
pub mod pickle_trailing_data;
pub mod pickle_unknown_callable;

use mlvet_core::RuleMeta;

/// Every rule of the pickle analysis, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &pickle_dangerous_callable::RULE,
        &pickle_unknown_callable::RULE,
        &pickle_non_literal_global::RULE,
        &pickle_parse_error::RULE,
        &pickle_budget_exceeded::RULE,
        &pickle_extension_code::RULE,
        &pickle_trailing_data::RULE,
        &pickle_frame_overrun::RULE,
        &pickle_global_mutation::RULE,
        &pickle_dynamic_call::RULE,
        &pickle_structural_anomaly::RULE,
        &container_staged_pickle::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}

/// Evidence shared by the callable rules: how it was referenced and whether/how it was called.
pub(crate) fn reference_evidence(
    mut finding: mlvet_core::Finding,
    reference: &crate::vm::Reference,
) -> mlvet_core::Finding {
    finding = finding
        .evidence("opcode", reference.opcode)
        .evidence("protocol", reference.protocol.to_string());
    if let Some((module, name)) = reference.written_as.as_deref() {
        let why = if crate::compat::vendored(module).is_some() {
            "a vendored copy, judged as the package it copies"
        } else {
            "renamed by _compat_pickle"
        };
        finding = finding.evidence("written as", format!("{module}.{name} ({why})"));
    }
    if reference.name.contains('.') {
        let note = if reference.protocol >= 4 {
            "dotted name: find_class walks the attributes"
        } else {
            "dotted name: attribute walk (CPython ≤ 3.13 resolves it only from protocol 4 on)"
        };
        finding = finding.evidence("attribute walk", note);
    }
    finding = finding.evidence(
        "called",
        if reference.called {
            "yes"
        } else {
            "no (referenced only; importing already runs module code)"
        },
    );
    for call in &reference.calls {
        finding = finding.evidence("call", call.clone());
    }
    if reference.build_state {
        finding = finding.evidence(
            "state",
            "an instance received state through BUILD (__setstate__ or __dict__ update)",
        );
    }
    finding
}
