//! OpenSSF model signing (the `model-signing` reference tool's format), verified and signed
//! without the reference tool: Sigstore bundle → DSSE envelope → in-toto statement → manifest of
//! per-file (or per-shard) digests.
//!
//! Verification order, as the reference does it: bundle media type; the key (the `hint` must
//! name the supplied key) or the certificate path to a trusted root; the ECDSA signature over
//! the DSSE pre-authentication encoding (and, for model_signing v0.2 signatures, the encoding that
//! release produced by mistake); the statement (types, one subject, root digest); then the model
//! hashed as the signature's `serialization` says, compared item by item.

pub mod bundle;
pub mod certs;
#[cfg(feature = "sigstore")]
pub mod keyless;
pub mod keys;
pub mod model;
pub mod statement;

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;

pub use bundle::{Bundle, Material};
pub use keys::{PrivateKey, PublicKey};
pub use model::ManifestDiff;
pub use statement::{Method, Serialization, SignedManifest};

#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    #[error("invalid signature bundle: {0}")]
    Bundle(String),
    #[error("invalid key: {0}")]
    Key(String),
    #[error("certificate validation failed: {0}")]
    Certificate(String),
    #[error("key mismatch: {0}")]
    KeyMismatch(String),
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    #[error("invalid signed statement: {0}")]
    Statement(String),
    #[error("cannot hash the model: {0}")]
    Model(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Unsupported(String),
}

impl OmsError {
    /// Whether the failure is the signature's (untrusted, forged, malformed) rather than the
    /// machine's (unreadable files).
    pub fn is_verification_failure(&self) -> bool {
        !matches!(self, OmsError::Io(_))
    }
}

/// What the verifier trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// `--key PUB.pem`.
    PublicKey(PublicKey),
    /// `--cert-chain CA.pem`: the trusted certificates.
    Certificates(Vec<certs::Cert>),
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Extra relative paths to leave out (the reference's `--ignore-paths`), on top of the
    /// signature's own `ignore_paths`.
    pub ignore_paths: Vec<String>,
    /// Leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (the reference's default).
    pub ignore_git_paths: bool,
    /// Hash only the files the signature names; extra files are not reported.
    pub ignore_unsigned_files: bool,
}

/// A verified signature and how the model compares with it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `key` or `certificate`.
    pub method: &'static str,
    /// The signing key's hint, or the certificate subjects from the signing certificate up.
    pub signer: Vec<String>,
    pub manifest: SignedManifest,
    /// Items hashed on disk.
    pub items_checked: usize,
    pub diff: ManifestDiff,
    /// Whether the signature only verified with model_signing v0.2's encoding.
    pub legacy_encoding: bool,
}

/// Verifies `signature` (the bytes of a `model.sig`) for `model` against `trust`.
pub fn verify(
    model: &Path,
    signature: &[u8],
    trust: &Trust,
    options: &VerifyOptions,
) -> Result<Verified, OmsError> {
    let bundle = Bundle::parse(signature)?;
    let (key, signer) = signing_key(&bundle, trust)?;
    let legacy_encoding = check_signature(&bundle, &key)?;
    if bundle.payload_type != bundle::INTOTO_PAYLOAD_TYPE {
        return Err(OmsError::Statement(format!(
            "payload type {:?} is not {}",
            bundle.payload_type,
            bundle::INTOTO_PAYLOAD_TYPE
        )));
    }
    let manifest = SignedManifest::from_payload(&bundle.payload)?;
    let mut ignore: BTreeSet<String> = manifest
        .serialization
        .ignore_paths
        .iter()
        .cloned()
        .collect();
    ignore.extend(options.ignore_paths.iter().cloned());
    if options.ignore_git_paths {
        ignore.extend(
            statement::DEFAULT_IGNORE_PATHS
                .iter()
                .map(|p| (*p).to_string()),
        );
    }
    let signed_names: BTreeSet<String> = manifest.items.keys().cloned().collect();
    let only = options.ignore_unsigned_files.then_some(&signed_names);
    let actual = model::hash_model(model, &manifest.serialization, &ignore, only)?;
    let diff = model::compare(&manifest.items, &actual);
    Ok(Verified {
        method: bundle.material.method(),
        signer,
        items_checked: actual.len(),
        manifest,
        diff,
        legacy_encoding,
    })
}

fn signing_key(bundle: &Bundle, trust: &Trust) -> Result<(PublicKey, Vec<String>), OmsError> {
    match (&bundle.material, trust) {
        (Material::PublicKey { hint, embedded_pem }, Trust::PublicKey(key)) => {
            if let Some(hint) = hint {
                let full = key.hint();
                let hint = hint.to_ascii_lowercase();
                // v1.1.0 wrote the first 40 hex digits, later releases all 64.
                if hint.len() < 40 || !full.starts_with(&hint) {
                    return Err(OmsError::KeyMismatch(format!(
                        "the signature names key {hint}, the supplied key is {full}"
                    )));
                }
            } else if let Some(pem) = embedded_pem {
                // Older bundles embed the key. The supplied key is what is trusted; a different
                // embedded key means the signature was made for another key.
                if let Ok(embedded) = PublicKey::from_file_bytes(pem)
                    && embedded.spki_der() != key.spki_der()
                {
                    return Err(OmsError::KeyMismatch(
                        "the key embedded in the signature is not the supplied key".to_string(),
                    ));
                }
            }
            Ok((key.clone(), vec![format!("key {}", key.hint())]))
        }
        (Material::CertificateChain(chain), Trust::Certificates(trusted)) => {
            let chain: Vec<certs::Cert> = chain
                .iter()
                .map(|der| certs::Cert::from_der(der))
                .collect::<Result<_, _>>()?;
            certs::verify_chain(&chain, trusted)
        }
        (Material::Keyless { .. }, _) => Err(OmsError::Unsupported(
            "this is a keyless Sigstore signature (Fulcio certificate and Rekor entries): verify it with --identity and --issuer".to_string(),
        )),
        (material, Trust::PublicKey(_)) => Err(OmsError::Unsupported(format!(
            "the signature was made with the {} method; --key verifies key-method signatures",
            material.method()
        ))),
        (material, Trust::Certificates(_)) => Err(OmsError::Unsupported(format!(
            "the signature was made with the {} method; --cert-chain verifies certificate-method signatures",
            material.method()
        ))),
    }
}

/// Checks the envelope signature; `Ok(true)` when only the v0.2 encoding verified.
fn check_signature(bundle: &Bundle, key: &PublicKey) -> Result<bool, OmsError> {
    let message = bundle::pae(&bundle.payload_type, &bundle.payload);
    if key.verify(&message, &bundle.signature) {
        return Ok(false);
    }
    let legacy = bundle::pae_compat(&bundle.payload_type, &bundle.payload);
    if key.verify(&legacy, &bundle.signature)
        || key.verify_with(keys::PrehashAlgorithm::Sha256, &legacy, &bundle.signature)
    {
        return Ok(true);
    }
    Err(OmsError::BadSignature(format!(
        "the ECDSA {} signature over the DSSE envelope is not valid for this key",
        key.curve().name()
    )))
}

#[derive(Debug, Clone)]
pub struct SignOptions {
    pub serialization: Serialization,
    /// `subject[0].name` (the reference uses the model folder's name).
    pub subject_name: String,
}

/// Signs `model` with `key` (key method); returns the bundle JSON the reference tool writes.
pub fn sign(model: &Path, key: &PrivateKey, options: &SignOptions) -> Result<String, OmsError> {
    let ignore: BTreeSet<String> = options.serialization.ignore_paths.iter().cloned().collect();
    let items = model::hash_model(model, &options.serialization, &ignore, None)?;
    let statement =
        statement::build_statement(&options.subject_name, &options.serialization, &items);
    let payload = serde_json::to_vec(&statement).map_err(|e| OmsError::Io(e.to_string()))?;
    let signature = key.sign(&bundle::pae(bundle::INTOTO_PAYLOAD_TYPE, &payload));
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = serde_json::json!({
        "mediaType": bundle::BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key.public_key().hint()},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": b64.encode(&payload),
            "payloadType": bundle::INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": b64.encode(&signature), "keyid": ""}],
        },
    });
    serde_json::to_string_pretty(&bundle).map_err(|e| OmsError::Io(e.to_string()))
}
