//! One file per rule, each with its documentation (`pub static RULE`).

use mlvet_core::RuleMeta;

pub mod artifact_ref_mutable;
pub mod artifact_source_policy;
pub mod data_hash_mismatch;
pub mod hardcoded_ml_token;
pub mod hf_cross_repo_code;
pub mod index_confusion;
pub mod lock_index_mismatch;
pub mod possible_typosquat;

/// Every rule of this crate.
pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &artifact_ref_mutable::RULE,
        &artifact_source_policy::RULE,
        &data_hash_mismatch::RULE,
        &hardcoded_ml_token::RULE,
        &hf_cross_repo_code::RULE,
        &index_confusion::RULE,
        &lock_index_mismatch::RULE,
        &possible_typosquat::RULE,
    ]
}
