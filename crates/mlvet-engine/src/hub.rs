//! `mlvet scan hf://ORG/NAME[@REVISION][/PATH]`: Hub targets scanned by range reads
//! (`mlvet-hub`); their artefacts join the report like local ones.

use std::path::{Path, PathBuf};

use mlvet_core::{ScanError, ScanReport};
use mlvet_formats::ScanOptions;
use mlvet_hub::{HubClient, HubConfig, HubScanOptions};

use crate::EngineError;

/// How Hub targets are read.
#[derive(Debug, Clone, Copy)]
pub struct HubRequest<'a> {
    /// A file holding the Hugging Face token (default: `$HF_TOKEN`).
    pub token_file: Option<&'a Path>,
    /// Bytes read at most from one remote file; a file needing more is not fully inspected.
    pub max_file_bytes: u64,
}

impl Default for HubRequest<'_> {
    fn default() -> Self {
        HubRequest {
            token_file: None,
            max_file_bytes: HubScanOptions::default().file_budget,
        }
    }
}

/// Splits the inputs into Hub targets (as typed) and local paths.
pub fn split_inputs(inputs: &[PathBuf]) -> (Vec<String>, Vec<PathBuf>) {
    let endpoint =
        std::env::var("HF_ENDPOINT").unwrap_or_else(|_| mlvet_hub::DEFAULT_ENDPOINT.to_string());
    let endpoint = endpoint.trim_end_matches('/');
    let mut hub = Vec::new();
    let mut local = Vec::new();
    for input in inputs {
        match input.to_str() {
            Some(text) if mlvet_hub::is_hub_target(text, endpoint) => hub.push(text.to_string()),
            _ => local.push(input.clone()),
        }
    }
    (hub, local)
}

/// Scans every Hub target into `report`: a target that cannot be scanned at all (gated, missing,
/// rate limited...) is a scan error, never an empty clean result.
pub fn scan_into(
    targets: &[String],
    request: &HubRequest<'_>,
    options: &ScanOptions,
    report: &mut ScanReport,
) -> Result<(), EngineError> {
    if targets.is_empty() {
        return Ok(());
    }
    let config = HubConfig::from_env(request.token_file)
        .map_err(|e| EngineError::HubConfig(e.to_string()))?;
    let endpoint = config.endpoint.clone();
    let client = HubClient::new(config);
    let hub_options = HubScanOptions {
        scan: options.clone(),
        file_budget: request.max_file_bytes,
        ..HubScanOptions::default()
    };
    for input in targets {
        let target = match mlvet_hub::parse_target(input, &endpoint) {
            Ok(target) => target,
            Err(error) => {
                report.errors.push(ScanError {
                    path: input.clone(),
                    message: error.to_string(),
                });
                continue;
            }
        };
        match mlvet_hub::scan_target(&client, &target, &hub_options) {
            Ok(scan) => {
                report.artifacts.extend(scan.artifacts);
                report.errors.extend(scan.errors);
            }
            Err(error) => report.errors.push(ScanError {
                path: input.clone(),
                message: error.to_string(),
            }),
        }
    }
    Ok(())
}
