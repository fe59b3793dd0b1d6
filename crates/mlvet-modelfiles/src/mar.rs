//! TorchServe model archives (`torch-model-archiver`): a zip with `MAR-INF/MANIFEST.json`
//! naming the handler, the model file and the serialized weights. The handler and every Python
//! file run when TorchServe loads the model; this module reads the manifest and names them.

use mlvet_core::Location;
use serde::Deserialize;

use crate::Analysis;
use crate::rules::{model_structure_invalid, torchserve_handler_code};

/// The member every `.mar` has.
pub const MANIFEST_MEMBER: &str = "MAR-INF/MANIFEST.json";
/// Largest manifest read (real ones are a few hundred bytes).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// TorchServe's built-in handlers (`ts/torch_handler/*`), named by module.
const BUILTIN_HANDLERS: [&str; 6] = [
    "image_classifier",
    "image_segmenter",
    "object_detector",
    "text_classifier",
    "vision_handler",
    "base_handler",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSection {
    #[serde(default)]
    pub model_name: Option<String>,
    #[serde(default)]
    pub model_version: Option<String>,
    #[serde(default)]
    pub serialized_file: Option<String>,
    #[serde(default)]
    pub handler: Option<String>,
    #[serde(default)]
    pub model_file: Option<String>,
    #[serde(default)]
    pub requirements_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub archiver_version: Option<String>,
    pub model: ModelSection,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MANIFEST.json: {0}")]
pub struct ManifestError(String);

pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, ManifestError> {
    // serde_json bounds nesting (128 levels); the manifest is small and read whole.
    serde_json::from_slice(bytes).map_err(|e| ManifestError(e.to_string()))
}

/// Whether the handler names one of TorchServe's own modules (no code shipped for it).
pub fn is_builtin_handler(handler: &str) -> bool {
    let module = handler.split(':').next().unwrap_or(handler);
    BUILTIN_HANDLERS.contains(&module)
}

/// Analyses a manifest and the member names of the archive.
pub fn analyze(manifest: &[u8], members: &[String], location: &Location) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "torchserve");
    let manifest = match parse_manifest(manifest) {
        Ok(m) => m,
        Err(e) => {
            analysis.incomplete(model_structure_invalid::finding(
                location.clone(),
                "torchserve-mar",
                e,
            ));
            return analysis;
        }
    };
    let model = &manifest.model;
    if let Some(name) = &model.model_name {
        analysis.fact("name", name);
    }
    if let Some(version) = &model.model_version {
        analysis.fact("model_version", version);
    }
    if let Some(v) = &manifest.archiver_version {
        analysis.fact("archiver_version", v);
    }
    if let Some(file) = &model.serialized_file {
        analysis.fact("serialized_file", file);
    }
    let handler = model.handler.clone().unwrap_or_default();
    analysis.fact("handler", &handler);
    let code_files: Vec<String> = members
        .iter()
        .filter(|m| m.ends_with(".py") || m.ends_with(".pyc") || m.ends_with(".so"))
        .cloned()
        .collect();
    let requirements = model.requirements_file.is_some()
        || members
            .iter()
            .any(|m| m.rsplit('/').next() == Some("requirements.txt"));
    let handler_shipped = !handler.is_empty() && !is_builtin_handler(&handler);
    if handler_shipped || !code_files.is_empty() || requirements {
        analysis.findings.push(torchserve_handler_code::finding(
            location.clone(),
            if handler.is_empty() {
                "(none)"
            } else {
                &handler
            },
            &code_files,
            requirements,
        ));
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"createdOn":"01/01/2026 00:00:00","runtime":"python","model":{"modelName":"m","serializedFile":"model.pt","handler":"handler.py","modelVersion":"1.0"},"archiverVersion":"0.12.0"}"#;

    #[test]
    fn shipped_handlers_are_reported() {
        let members = vec![
            "model.pt".to_string(),
            "handler.py".to_string(),
            MANIFEST_MEMBER.to_string(),
        ];
        let a = analyze(MANIFEST.as_bytes(), &members, &Location::file("m.mar"));
        assert_eq!(a.findings.len(), 1);
        assert_eq!(a.findings[0].rule, "torchserve-handler-code");
        assert_eq!(a.metadata.get("name").map(String::as_str), Some("m"));
    }

    #[test]
    fn builtin_handlers_without_code_are_clean() {
        let manifest = MANIFEST.replace("handler.py", "image_classifier");
        let a = analyze(
            manifest.as_bytes(),
            &["model.pt".to_string()],
            &Location::file("m.mar"),
        );
        assert!(a.findings.is_empty());
        assert!(a.fully_inspected);
    }

    #[test]
    fn a_broken_manifest_is_not_safe() {
        let a = analyze(b"{", &[], &Location::file("m.mar"));
        assert!(!a.fully_inspected);
    }
}
