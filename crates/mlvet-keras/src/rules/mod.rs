//! Every rule this crate emits, one file each: the rule's documentation and its finding builder.

pub mod keras_config_malformed;
pub mod keras_custom_object;
pub mod keras_embedded_torch_module;
pub mod keras_lambda_layer;
pub mod keras_unsafe_deserialization;
pub mod keras_untrusted_callable;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &keras_config_malformed::RULE,
        &keras_custom_object::RULE,
        &keras_embedded_torch_module::RULE,
        &keras_lambda_layer::RULE,
        &keras_unsafe_deserialization::RULE,
        &keras_untrusted_callable::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}
