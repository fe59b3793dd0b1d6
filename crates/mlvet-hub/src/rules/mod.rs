//! Rules of remote Hub scans, one file each.

pub mod hub_integrity_mismatch;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    vec![&hub_integrity_mismatch::RULE]
}
