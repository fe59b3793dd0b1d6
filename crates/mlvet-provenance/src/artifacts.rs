//! Files the format analyses do not read but a lock must pin: tokenizers (their vocabularies
//! decide what the model sees) and datasets. Recognised by name, as the libraries that load them
//! find them.

/// `(kind, format)` for a file the scan does not analyse, by its name; `None` when it is not an
/// artefact (source code, documentation...).
pub fn classify(file_name: &str) -> Option<(&'static str, &'static str)> {
    let lower = file_name.to_ascii_lowercase();
    let tokenizer = match lower.as_str() {
        "tokenizer.json" => Some("tokenizer-json"),
        "tokenizer_config.json" => Some("hf-tokenizer-config"),
        "special_tokens_map.json" | "added_tokens.json" => Some("tokenizer-tokens"),
        "vocab.json" | "vocab.txt" | "merges.txt" => Some("tokenizer-vocabulary"),
        "tokenizer.model" | "spiece.model" | "sentencepiece.bpe.model" => Some("sentencepiece"),
        _ if lower.ends_with(".tiktoken") => Some("tiktoken"),
        _ => None,
    };
    if let Some(format) = tokenizer {
        return Some(("tokenizer", format));
    }
    let config = matches!(
        lower.as_str(),
        "config.json"
            | "generation_config.json"
            | "preprocessor_config.json"
            | "processor_config.json"
            | "image_processor_config.json"
            | "feature_extractor_config.json"
            | "chat_template.jinja"
            | "chat_template.json"
    );
    if config {
        return Some(("config", "model-config"));
    }
    let extension = lower.rsplit_once('.').map(|(_, e)| e)?;
    let dataset = match extension {
        "parquet" => "parquet",
        "arrow" => "arrow",
        "feather" => "feather",
        "orc" => "orc",
        "avro" => "avro",
        "tfrecord" | "tfrecords" => "tfrecord",
        "csv" => "csv",
        "tsv" => "tsv",
        "jsonl" | "ndjson" => "jsonl",
        "lance" => "lance",
        "zarr" => "zarr",
        "webdataset" => "webdataset",
        _ => return None,
    };
    Some(("dataset", dataset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizers_datasets_and_configs_are_recognised() {
        assert_eq!(
            classify("tokenizer.json"),
            Some(("tokenizer", "tokenizer-json"))
        );
        assert_eq!(
            classify("train-00000-of-00002.parquet"),
            Some(("dataset", "parquet"))
        );
        assert_eq!(classify("config.json"), Some(("config", "model-config")));
        assert_eq!(classify("train.py"), None);
        assert_eq!(classify("README.md"), None);
    }
}
