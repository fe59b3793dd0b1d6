use std::path::PathBuf;

/// Everything that can go wrong in the advisory database.
///
/// Network and HTTP failures are errors, never an empty result: a scan must not report "no
/// vulnerabilities" because the advisories could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("advisory database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot find a per-user data directory (no home directory?); set MLVET_DATA_DIR")]
    NoDataDir,

    #[error(
        "the advisory database at {path} has schema version {found}, newer than this mlvet \
         understands ({supported}); upgrade mlvet or remove the file"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "the advisory database at {path} has schema version {found}, older than this mlvet's \
         ({supported}); run `mlvet db update` or `mlvet db import PATH` to upgrade it"
    )]
    SchemaTooOld {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("{origin}: not a valid OSV record: {message}")]
    InvalidRecord { origin: String, message: String },

    #[error(
        "{path}: not an OSV record or export (expected .json, .yaml, .yml, .zip or a directory)"
    )]
    UnsupportedInput { path: PathBuf },

    #[error("{path}: invalid zip archive: {message}")]
    InvalidZip { path: String, message: String },

    #[error(
        "no advisory source URL configured: set MLVET_OSV_URL (or pass the URL on the command line) \
         to the base URL of an OSV export"
    )]
    NoSourceUrl,

    #[error(
        "refusing to download advisories over plain HTTP from {url}: use https:// (plain http is only allowed for loopback addresses)"
    )]
    InsecureUrl { url: String },

    #[error("invalid advisory source URL `{url}`: {message}")]
    BadUrl { url: String, message: String },

    #[error("could not download {url}: {message}. The advisory database was NOT updated")]
    Network { url: String, message: String },

    #[error(
        "could not download {url}: the server answered HTTP {status}. The advisory database was NOT updated"
    )]
    HttpStatus { url: String, status: u16 },

    #[error("{url}: download exceeds the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },

    #[error("{url}: malformed line {line}: {message}")]
    BadIndex {
        url: String,
        line: u64,
        message: String,
    },

    #[error("invalid ecosystem name `{0}`")]
    BadEcosystem(String),
}

impl DbError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DbError::Io {
            path: path.into(),
            source,
        }
    }
}
