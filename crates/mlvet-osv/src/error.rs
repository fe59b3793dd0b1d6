/// Errors of the OSV model and matcher.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error("advisory record is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("advisory record is not valid OSV JSON: {0}")]
    Json(String),
    #[error("advisory record is not valid OSV YAML: {0}")]
    Yaml(String),
    #[error("advisory record field `{field}` is {length} bytes, over the {limit}-byte limit")]
    FieldTooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
    #[error("advisory record has no id")]
    MissingId,
    #[error("ecosystem `{0}` has no version ordering mlvet can compare")]
    UnsupportedEcosystem(String),
    #[error("`{version}` is not a valid {scheme} version")]
    InvalidVersion {
        version: String,
        scheme: &'static str,
    },
    #[error("advisory source failed: {0}")]
    Source(String),
}
