//! The in-toto statement inside the envelope, and the manifest it signs: one digest per file (or
//! per shard of a file), the hashing settings (`serialization`), and the root digest bound as
//! the statement's only subject.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::Digest as _;

use super::OmsError;
use crate::hashing::{HashAlgorithm, hex, unhex};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_V1: &str = "https://model_signing/signature/v1.0";
/// model_signing v0.2: one subject per file, SHA-256.
pub const PREDICATE_V01: &str = "https://model_signing/Digests/v0.1";
/// Most resources accepted in one manifest.
pub const MAX_RESOURCES: usize = 1_000_000;
/// The ignore paths the reference tool adds by default.
pub const DEFAULT_IGNORE_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// How the model was cut into hashed items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One digest per file.
    Files,
    /// One digest per `shard_size` bytes of each file; items are named `path:start:end`.
    Shards { shard_size: u64 },
}

/// `predicate.serialization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    pub method: Method,
    pub hash: HashAlgorithm,
    pub allow_symlinks: bool,
    /// Relative paths left out when the model was signed.
    pub ignore_paths: Vec<String>,
}

impl Default for Serialization {
    fn default() -> Self {
        Serialization {
            method: Method::Files,
            hash: HashAlgorithm::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
        }
    }
}

/// The signed manifest: item name → hex digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    pub predicate_type: String,
    pub subject_name: String,
    pub serialization: Serialization,
    pub items: BTreeMap<String, String>,
    /// The subject digest (root digest for v1.0; absent for v0.1).
    pub root_digest: Option<String>,
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, OmsError> {
    value
        .get(name)
        .ok_or_else(|| OmsError::Statement(format!("missing `{name}`")))
}

fn string<'a>(value: &'a Value, name: &str) -> Result<&'a str, OmsError> {
    field(value, name)?
        .as_str()
        .ok_or_else(|| OmsError::Statement(format!("`{name}` is not a string")))
}

fn lower_hex(text: &str, what: &str) -> Result<String, OmsError> {
    if unhex(text).is_none() || text.is_empty() {
        return Err(OmsError::Statement(format!("{what} is not hex")));
    }
    Ok(text.to_ascii_lowercase())
}

impl SignedManifest {
    /// Parses and checks the statement: statement type, predicate type, exactly one subject
    /// whose digest is the root digest of the resources (v1.0).
    pub fn from_payload(payload: &[u8]) -> Result<Self, OmsError> {
        let statement: Value = serde_json::from_slice(payload)
            .map_err(|e| OmsError::Statement(format!("the payload is not JSON: {e}")))?;
        let kind = string(&statement, "_type")?;
        if kind != STATEMENT_TYPE {
            return Err(OmsError::Statement(format!(
                "statement type {kind:?} is not {STATEMENT_TYPE}"
            )));
        }
        let subjects = field(&statement, "subject")?
            .as_array()
            .ok_or_else(|| OmsError::Statement("`subject` is not a list".to_string()))?;
        let predicate_type = string(&statement, "predicateType")?;
        match predicate_type {
            PREDICATE_V1 => Self::v1(&statement, subjects),
            PREDICATE_V01 => Self::v01(subjects),
            other => Err(OmsError::Statement(format!(
                "predicate type {other:?} is not a model signature ({PREDICATE_V1})"
            ))),
        }
    }

    fn v01(subjects: &[Value]) -> Result<Self, OmsError> {
        if subjects.len() > MAX_RESOURCES {
            return Err(OmsError::Statement("too many subjects".to_string()));
        }
        let mut items = BTreeMap::new();
        for subject in subjects {
            let name = string(subject, "name")?;
            let digest = field(subject, "digest")?;
            let sha = string(digest, "sha256")?;
            if items
                .insert(name.to_string(), lower_hex(sha, "a subject digest")?)
                .is_some()
            {
                return Err(OmsError::Statement(format!("{name:?} is listed twice")));
            }
        }
        Ok(SignedManifest {
            predicate_type: PREDICATE_V01.to_string(),
            subject_name: String::new(),
            serialization: Serialization::default(),
            items,
            root_digest: None,
        })
    }

    fn v1(statement: &Value, subjects: &[Value]) -> Result<Self, OmsError> {
        let [subject] = subjects else {
            return Err(OmsError::Statement(format!(
                "expected exactly one subject, found {}",
                subjects.len()
            )));
        };
        let subject_name = subject
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let root = lower_hex(
            string(field(subject, "digest")?, "sha256")?,
            "the subject digest",
        )?;
        let predicate = field(statement, "predicate")?;
        let serialization = parse_serialization(field(predicate, "serialization")?)?;
        let resources = field(predicate, "resources")?
            .as_array()
            .ok_or_else(|| OmsError::Statement("`resources` is not a list".to_string()))?;
        if resources.len() > MAX_RESOURCES {
            return Err(OmsError::Statement("too many resources".to_string()));
        }
        let mut items = BTreeMap::new();
        let mut concatenated = Vec::with_capacity(resources.len() * 32);
        for resource in resources {
            let name = string(resource, "name")?;
            let digest = lower_hex(string(resource, "digest")?, "a resource digest")?;
            let algorithm = string(resource, "algorithm")?;
            let expected = match serialization.method {
                Method::Files => serialization.hash.name().to_string(),
                Method::Shards { shard_size } => {
                    format!("{}-sharded-{shard_size}", serialization.hash.name())
                }
            };
            if algorithm != expected && algorithm != serialization.hash.name() {
                return Err(OmsError::Statement(format!(
                    "resource {name:?} uses algorithm {algorithm:?}, not the manifest's {expected:?}"
                )));
            }
            concatenated.extend(unhex(&digest).unwrap_or_default());
            if items.insert(name.to_string(), digest).is_some() {
                return Err(OmsError::Statement(format!("{name:?} is listed twice")));
            }
        }
        if hex(&sha2::Sha256::digest(&concatenated)) != root {
            return Err(OmsError::Statement(
                "manifest is inconsistent: the subject digest is not the root digest of the resources"
                    .to_string(),
            ));
        }
        Ok(SignedManifest {
            predicate_type: PREDICATE_V1.to_string(),
            subject_name,
            serialization,
            items,
            root_digest: Some(root),
        })
    }
}

fn parse_serialization(value: &Value) -> Result<Serialization, OmsError> {
    let hash_name = string(value, "hash_type")?;
    let hash = HashAlgorithm::from_name(hash_name)
        .ok_or_else(|| OmsError::Statement(format!("unsupported hash type {hash_name:?}")))?;
    let method = match string(value, "method")? {
        "files" => Method::Files,
        "shards" => {
            // Written by protobuf's Struct, so a JSON number that may be a float (`1024.0`).
            let size = field(value, "shard_size")?;
            let shard_size = size
                .as_u64()
                .or_else(|| {
                    size.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                        .map(|f| f as u64)
                })
                .filter(|s| *s > 0)
                .ok_or_else(|| OmsError::Statement("invalid `shard_size`".to_string()))?;
            Method::Shards { shard_size }
        }
        other => {
            return Err(OmsError::Statement(format!(
                "unsupported serialization method {other:?}"
            )));
        }
    };
    let allow_symlinks = value
        .get("allow_symlinks")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ignore_paths = match value.get("ignore_paths") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(paths)) => paths
            .iter()
            .map(|p| {
                p.as_str().map(str::to_string).ok_or_else(|| {
                    OmsError::Statement("an ignore path is not a string".to_string())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(OmsError::Statement(
                "`ignore_paths` is not a list".to_string(),
            ));
        }
    };
    Ok(Serialization {
        method,
        hash,
        allow_symlinks,
        ignore_paths,
    })
}

/// Orders item names the way the reference signer sorts them: by path components (so `a/b`
/// comes before `a.txt`), shards by (path components, start, end) with the offsets compared as
/// numbers.
pub fn reference_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(name: &str) -> (Vec<&str>, u64, u64) {
        let mut parts = name.rsplitn(3, ':');
        let (end, start, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(path), Some(start), Some(end)) = (path, start, end)
            && let (Ok(start), Ok(end)) = (start.parse(), end.parse())
        {
            return (path.split('/').collect(), start, end);
        }
        (name.split('/').collect(), 0, 0)
    }
    key(a).cmp(&key(b))
}

/// The v1.0 statement for a manifest, as the reference signer writes it.
pub fn build_statement(
    subject_name: &str,
    serialization: &Serialization,
    items: &BTreeMap<String, String>,
) -> Value {
    let mut names: Vec<&String> = items.keys().collect();
    names.sort_by(|a, b| reference_order(a, b));
    let algorithm = match serialization.method {
        Method::Files => serialization.hash.name().to_string(),
        Method::Shards { shard_size } => {
            format!("{}-sharded-{shard_size}", serialization.hash.name())
        }
    };
    let mut concatenated = Vec::new();
    let resources: Vec<Value> = names
        .iter()
        .map(|name| {
            let digest = items.get(*name).cloned().unwrap_or_default();
            concatenated.extend(unhex(&digest).unwrap_or_default());
            json!({"algorithm": algorithm, "digest": digest, "name": name})
        })
        .collect();
    let mut ser = serde_json::Map::new();
    ser.insert(
        "method".into(),
        json!(match serialization.method {
            Method::Files => "files",
            Method::Shards { .. } => "shards",
        }),
    );
    ser.insert("hash_type".into(), json!(serialization.hash.name()));
    ser.insert("allow_symlinks".into(), json!(serialization.allow_symlinks));
    if !serialization.ignore_paths.is_empty() {
        ser.insert("ignore_paths".into(), json!(serialization.ignore_paths));
    }
    if let Method::Shards { shard_size } = serialization.method {
        ser.insert("shard_size".into(), json!(shard_size));
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": subject_name,
            "digest": {"sha256": hex(&sha2::Sha256::digest(&concatenated))},
        }],
        "predicateType": PREDICATE_V1,
        "predicate": {
            "resources": resources,
            "serialization": Value::Object(ser),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_order_sorts_by_components_and_numeric_offsets() {
        let mut names = vec!["a.txt", "a/b", "m:10:20", "m:2:10", "m:0:2"];
        names.sort_by(|a, b| reference_order(a, b));
        assert_eq!(names, vec!["a/b", "a.txt", "m:0:2", "m:2:10", "m:10:20"]);
    }

    #[test]
    fn built_statements_parse_back() {
        let items: BTreeMap<String, String> = [
            ("a.txt".to_string(), "00".repeat(32)),
            ("a/b".to_string(), "11".repeat(32)),
        ]
        .into();
        let ser = Serialization {
            ignore_paths: vec![".git".into()],
            ..Serialization::default()
        };
        let statement = build_statement("model", &ser, &items);
        let parsed = SignedManifest::from_payload(statement.to_string().as_bytes()).expect("parse");
        assert_eq!(parsed.items, items);
        assert_eq!(parsed.serialization, ser);
        assert_eq!(parsed.subject_name, "model");
        // Tampering with a digest breaks the root digest.
        let tampered = statement
            .to_string()
            .replacen(&"11".repeat(32), &"22".repeat(32), 1);
        assert!(SignedManifest::from_payload(tampered.as_bytes()).is_err());
    }

    #[test]
    fn float_shard_sizes_are_accepted() {
        let payload = json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "m", "digest": {"sha256": hex(&sha2::Sha256::digest(b""))}}],
            "predicateType": PREDICATE_V1,
            "predicate": {"resources": [], "serialization": {
                "method": "shards", "hash_type": "sha256", "shard_size": 1024.0, "allow_symlinks": false}}
        });
        let parsed = SignedManifest::from_payload(payload.to_string().as_bytes()).expect("parse");
        assert_eq!(
            parsed.serialization.method,
            Method::Shards { shard_size: 1024 }
        );
    }

    proptest::proptest! {
        #[test]
        fn statement_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = SignedManifest::from_payload(&bytes);
        }
    }
}
