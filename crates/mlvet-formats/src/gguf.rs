//! GGUF files: the header parsed by `mlvet-gguf` (tensor data never read), structural problems
//! reported, every chat template analysed, model-card facts recorded.

use mlvet_core::Location;
use mlvet_gguf::{GgufError, Value};

use crate::engine::{ReadSeek, Scan};
use crate::rules::gguf_malformed;
use crate::templates;

/// Anomalies reported one by one; more are summarised in one finding.
const MAX_REPORTED_ANOMALIES: usize = 20;

/// Whether a metadata key holds a chat template llama.cpp and llama-cpp-python would render.
pub(crate) fn is_chat_template_key(key: &str) -> bool {
    key == "tokenizer.chat_template" || key.starts_with("tokenizer.chat_template.")
}

pub(crate) fn scan_gguf(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    size: u64,
    loc: &Location,
) -> &'static str {
    let file = match mlvet_gguf::parse(src, size, &mlvet_gguf::Limits::default()) {
        Ok(file) => file,
        Err(err) => {
            scan.incomplete(gguf_malformed::finding(loc.clone(), err.to_string()));
            return "gguf";
        }
    };
    if let Some(err) = &file.error {
        let at = match err {
            GgufError::Truncated { offset, .. }
            | GgufError::TooLarge { offset, .. }
            | GgufError::UnknownValueType { offset, .. }
            | GgufError::Invalid { offset, .. }
            | GgufError::Io { offset, .. } => loc.clone().with_offset(*offset),
            _ => loc.clone(),
        };
        scan.incomplete(gguf_malformed::finding(
            at,
            format!("{err} (metadata after this point was not inspected)"),
        ));
    }
    for anomaly in file.anomalies.iter().take(MAX_REPORTED_ANOMALIES) {
        scan.findings.push(gguf_malformed::finding(
            loc.clone().with_offset(anomaly.offset),
            anomaly.message.clone(),
        ));
    }
    if file.anomalies.len() > MAX_REPORTED_ANOMALIES {
        scan.findings.push(gguf_malformed::finding(
            loc.clone(),
            format!(
                "{} more structural problems",
                file.anomalies.len() - MAX_REPORTED_ANOMALIES
            ),
        ));
    }
    for (key, value, _) in &file.metadata {
        if !is_chat_template_key(key) {
            continue;
        }
        let template_loc = loc.member(key.clone());
        let check = match value {
            Value::String(source) => templates::check(&template_loc, key, source),
            Value::LongString { len } => templates::unusable(
                &template_loc,
                key,
                &format!("{len} bytes, more than the template size mlvet inspects"),
            ),
            _ => templates::unusable(&template_loc, key, "the value is not a string"),
        };
        scan.fully_inspected &= check.inspected;
        scan.findings.extend(check.findings);
    }
    scan.metadata.extend(file.facts());
    "gguf"
}
