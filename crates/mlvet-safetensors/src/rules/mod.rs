//! Every rule this crate emits, one file each: the rule's documentation and its finding builder.

pub mod safetensors_header_ambiguity;
pub mod safetensors_invalid_header;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &safetensors_header_ambiguity::RULE,
        &safetensors_invalid_header::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}
