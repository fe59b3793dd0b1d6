//! Every rule this crate emits, one file each: the rule's documentation and its finding builder.

pub mod container_archive_path_escape;
pub mod container_executable_model;
pub mod container_extension_mismatch;
pub mod container_malformed;
pub mod container_nesting_too_deep;
pub mod container_polyglot;
pub mod container_resource_limit;
pub mod container_side_file;
pub mod container_staged_pickle;
pub mod container_tar_special_member;
pub mod container_torchscript_code;
pub mod container_uninspectable_member;
pub mod container_unrecognized_model_file;
pub mod container_zip_anomaly;
pub mod gguf_malformed;
pub mod hdf5_malformed;
pub mod hf_model_folder_python;
pub mod hf_pickle_beside_safetensors;
pub mod hf_remote_code;
pub mod pth_startup_code;
pub mod template_sandbox_escape;
pub mod template_suspicious_access;
pub mod template_unparseable;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &container_archive_path_escape::RULE,
        &container_extension_mismatch::RULE,
        &container_malformed::RULE,
        &container_nesting_too_deep::RULE,
        &container_resource_limit::RULE,
        &container_side_file::RULE,
        &container_tar_special_member::RULE,
        &container_torchscript_code::RULE,
        &container_uninspectable_member::RULE,
        &container_unrecognized_model_file::RULE,
        &container_zip_anomaly::RULE,
        &hdf5_malformed::RULE,
        &gguf_malformed::RULE,
        &template_sandbox_escape::RULE,
        &template_suspicious_access::RULE,
        &template_unparseable::RULE,
        &container_executable_model::RULE,
        &container_polyglot::RULE,
        &hf_model_folder_python::RULE,
        &hf_pickle_beside_safetensors::RULE,
        &hf_remote_code::RULE,
        &pth_startup_code::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}
