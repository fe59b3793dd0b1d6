//! The rules the inventory emits. Each lives in its own file with its documentation.

pub mod dependency_include_outside_root;
pub mod dependency_include_unresolved;
pub mod dependency_inventory_truncated;
pub mod dependency_parse_error;
pub mod dependency_unidentified_component;

use mlvet_core::RuleMeta;

/// Every rule this crate can emit, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &dependency_include_outside_root::RULE,
        &dependency_include_unresolved::RULE,
        &dependency_inventory_truncated::RULE,
        &dependency_parse_error::RULE,
        &dependency_unidentified_component::RULE,
    ]
}
