//! Every rule this crate emits, one file each: the rule's documentation and its finding builder.

pub mod model_structure_invalid;
pub mod nemo_dangerous_target;
pub mod nemo_unknown_target;
pub mod skops_dangerous_type;
pub mod skops_untrusted_type;
pub mod torchserve_handler_code;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &model_structure_invalid::RULE,
        &nemo_dangerous_target::RULE,
        &nemo_unknown_target::RULE,
        &skops_dangerous_type::RULE,
        &skops_untrusted_type::RULE,
        &torchserve_handler_code::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}
