//! Keyless Sigstore signatures (the reference's default `sigstore` method): a short-lived Fulcio
//! certificate for an OIDC identity, a Rekor transparency-log entry and timestamps. Verified
//! offline against the Sigstore public-good trust root embedded in `sigstore-trust-root` (or a
//! trusted-root JSON the caller supplies): certificate chain to Fulcio, SCT, log entry
//! (inclusion proof, checkpoint or SET), timestamps, identity and issuer, and the DSSE signature
//! whose in-toto subject must be the manifest's root digest. The manifest is then compared with
//! the model like any other signature.

use std::collections::BTreeSet;
use std::path::Path;

use sigstore_trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_types::Sha256Hash;
use sigstore_verify::VerificationPolicy;

use super::{
    Bundle, Material, OmsError, SignedManifest, Verified, VerifyOptions, model, statement,
};

/// Who must have signed.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// The certificate's subject alternative name (an e-mail address or a workflow URI).
    pub identity: String,
    /// The OIDC issuer that vouched for it.
    pub issuer: String,
    /// A `trusted_root.json` to use instead of the embedded public-good root.
    pub trusted_root_json: Option<String>,
}

pub fn verify(
    model_path: &Path,
    signature: &[u8],
    policy: &KeylessPolicy,
    options: &VerifyOptions,
) -> Result<Verified, OmsError> {
    let parsed = Bundle::parse(signature)?;
    if !matches!(parsed.material, Material::Keyless { .. }) {
        return Err(OmsError::Unsupported(format!(
            "the signature was made with the {} method; --identity/--issuer verify keyless signatures",
            parsed.material.method()
        )));
    }
    if parsed.payload_type != super::bundle::INTOTO_PAYLOAD_TYPE {
        return Err(OmsError::Statement(format!(
            "payload type {:?} is not {}",
            parsed.payload_type,
            super::bundle::INTOTO_PAYLOAD_TYPE
        )));
    }
    let manifest = SignedManifest::from_payload(&parsed.payload)?;
    let root_digest = manifest.root_digest.clone().ok_or_else(|| {
        OmsError::Statement("a keyless signature needs a v1.0 manifest".to_string())
    })?;
    let text = std::str::from_utf8(signature)
        .map_err(|_| OmsError::Bundle("the bundle is not UTF-8".to_string()))?;
    let bundle =
        sigstore_types::Bundle::from_json(text).map_err(|e| OmsError::Bundle(e.to_string()))?;
    let root = match &policy.trusted_root_json {
        Some(json) => TrustedRoot::from_json(json),
        None => TrustedRoot::from_embedded(SigstoreInstance::PublicGood),
    }
    .map_err(|e| OmsError::Certificate(format!("trust root: {e}")))?;
    let digest = Sha256Hash::from_hex(&root_digest)
        .map_err(|e| OmsError::Statement(format!("root digest: {e}")))?;
    let sigstore_policy = VerificationPolicy::any_identity()
        .require_identity(policy.identity.as_str())
        .require_issuer(policy.issuer.as_str());
    sigstore_verify::verify(digest, &bundle, &sigstore_policy, &root)
        .map_err(|e| OmsError::BadSignature(e.to_string()))?;

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
    let actual = model::hash_model(model_path, &manifest.serialization, &ignore, only)?;
    let diff = model::compare(&manifest.items, &actual);
    Ok(Verified {
        method: "sigstore",
        signer: vec![format!("{} ({})", policy.identity, policy.issuer)],
        items_checked: actual.len(),
        manifest,
        diff,
        legacy_encoding: false,
    })
}
