//! `mlvet verify MODEL --signature model.sig (--key PUB.pem | --cert-chain CA.pem)`: checks an
//! OpenSSF model signature and names every file that differs from it, is missing or is extra.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mlvet_provenance::oms::{self, OmsError, Trust, VerifyOptions};

use crate::UsageError;
use crate::cli::{OutputFormat, VerifyArgs};
use crate::lock::shown;

pub fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let signature_path = args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature(&args.model));
    let signature = read_bounded(&signature_path, oms::bundle::MAX_SIGNATURE_BYTES)?;
    #[cfg(feature = "sigstore")]
    if let (Some(identity), Some(issuer)) = (&args.identity, &args.issuer) {
        return run_keyless(args, &signature_path, &signature, identity, issuer);
    }
    let trust = trust(args)?;
    let mut ignore_paths = relative_ignores(&args.model, &args.ignore_paths);
    if let Some(relative) = inside(&args.model, &signature_path) {
        ignore_paths.push(relative);
    }
    let options = VerifyOptions {
        ignore_paths,
        ignore_git_paths: !args.no_ignore_git_paths,
        ignore_unsigned_files: args.ignore_unsigned_files,
    };
    let result = oms::verify(&args.model, &signature, &trust, &options);
    let (text, code) = match result {
        Ok(verified) => render_verified(args.format, &args.model, &verified)?,
        Err(OmsError::Io(message)) => {
            anyhow::bail!("cannot verify {}: {message}", args.model.display())
        }
        Err(err) => render_failure(args.format, &args.model, &err)?,
    };
    crate::write_output(None, &text)?;
    Ok(code)
}

#[cfg(feature = "sigstore")]
fn run_keyless(
    args: &VerifyArgs,
    signature_path: &Path,
    signature: &[u8],
    identity: &str,
    issuer: &str,
) -> anyhow::Result<u8> {
    let mut ignore_paths = relative_ignores(&args.model, &args.ignore_paths);
    if let Some(relative) = inside(&args.model, signature_path) {
        ignore_paths.push(relative);
    }
    let options = VerifyOptions {
        ignore_paths,
        ignore_git_paths: !args.no_ignore_git_paths,
        ignore_unsigned_files: args.ignore_unsigned_files,
    };
    let trusted_root_json = match &args.trusted_root {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let policy = oms::keyless::KeylessPolicy {
        identity: identity.to_string(),
        issuer: issuer.to_string(),
        trusted_root_json,
    };
    let (text, code) = match oms::keyless::verify(&args.model, signature, &policy, &options) {
        Ok(verified) => render_verified(args.format, &args.model, &verified)?,
        Err(OmsError::Io(message)) => {
            anyhow::bail!("cannot verify {}: {message}", args.model.display())
        }
        Err(err) => render_failure(args.format, &args.model, &err)?,
    };
    crate::write_output(None, &text)?;
    Ok(code)
}

/// `MODEL/model.sig` for a folder, `MODEL.sig` beside a single file.
fn default_signature(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.sig")
    } else {
        let mut name = model.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }
}

fn trust(args: &VerifyArgs) -> anyhow::Result<Trust> {
    if args.identity.is_some() || args.issuer.is_some() {
        return Err(UsageError(
            "keyless Sigstore verification (--identity/--issuer) is not in this build: build \
             mlvet with `--features sigstore` (Sigstore trust root, Rekor and Fulcio checks); \
             key and certificate signatures verify with --key or --cert-chain"
                .to_string(),
        )
        .into());
    }
    if let Some(key) = &args.key {
        let bytes = read_bounded(key, oms::keys::MAX_KEY_FILE_BYTES)?;
        let key = oms::PublicKey::from_file_bytes(&bytes)
            .map_err(|e| UsageError(format!("{}: {e}", key.display())))?;
        return Ok(Trust::PublicKey(key));
    }
    if !args.cert_chain.is_empty() {
        let mut trusted = Vec::new();
        for path in &args.cert_chain {
            let bytes = read_bounded(path, oms::keys::MAX_KEY_FILE_BYTES)?;
            trusted.extend(
                oms::certs::certificates_from_pem(&bytes)
                    .map_err(|e| UsageError(format!("{}: {e}", path.display())))?,
            );
        }
        return Ok(Trust::Certificates(trusted));
    }
    Err(UsageError("say what to trust: --key PUB.pem or --cert-chain CA.pem".to_string()).into())
}

fn read_bounded(path: &Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.len() > limit as u64 {
        anyhow::bail!("{} is larger than {limit} bytes", path.display());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `path` relative to the model folder, when it lies inside it.
fn inside(model: &Path, path: &Path) -> Option<String> {
    let model = model.canonicalize().ok()?;
    let path = path.canonicalize().ok()?;
    let relative = path.strip_prefix(&model).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    let joined = parts?.join("/");
    (!joined.is_empty()).then_some(joined)
}

/// `--ignore-paths` as the reference takes them: a path that exists (relative to the working
/// directory, or absolute) inside the model, or a path relative to the model folder.
pub(crate) fn relative_ignores(model: &Path, paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            inside(model, p).unwrap_or_else(|| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
        })
        .collect()
}

fn render_verified(
    format: OutputFormat,
    model: &Path,
    verified: &oms::Verified,
) -> anyhow::Result<(String, u8)> {
    let diff = &verified.diff;
    let clean = diff.is_clean();
    let code = if clean {
        crate::exit::CLEAN
    } else {
        crate::exit::SIGNATURE_INVALID
    };
    let hash = verified.manifest.serialization.hash.name();
    if format == OutputFormat::Json {
        let value = serde_json::json!({
            "model": model.display().to_string(),
            "verified": clean,
            "signature_valid": true,
            "method": verified.method,
            "signer": verified.signer,
            "predicate_type": verified.manifest.predicate_type,
            "root_digest": verified.manifest.root_digest,
            "hash_type": hash,
            "serialization": match verified.manifest.serialization.method {
                oms::Method::Files => "files",
                oms::Method::Shards { .. } => "shards",
            },
            "items_signed": verified.manifest.items.len(),
            "items_checked": verified.items_checked,
            "legacy_encoding": verified.legacy_encoding,
            "mismatched": diff.mismatched.iter().map(|(name, signed, actual)| serde_json::json!({
                "path": name, "signed": signed, "actual": actual,
            })).collect::<Vec<_>>(),
            "missing": diff.missing,
            "extra": diff.extra,
        });
        return Ok((serde_json::to_string_pretty(&value)? + "\n", code));
    }
    let mut out = format!(
        "Signature valid: {} method, signed by {}\n",
        verified.method,
        verified.signer.join(" <- ")
    );
    for (name, signed, actual) in &diff.mismatched {
        out.push_str(&format!(
            "modified  {}  (signed {hash} {signed}, now {actual})\n",
            shown(name)
        ));
    }
    for name in &diff.missing {
        out.push_str(&format!("missing   {}  (signed, not found)\n", shown(name)));
    }
    for name in &diff.extra {
        out.push_str(&format!(
            "extra     {}  (present, not signed)\n",
            shown(name)
        ));
    }
    if clean {
        out.push_str(&format!(
            "Verified: {} matches its signature ({} item(s), {hash})\n",
            model.display(),
            verified.items_checked
        ));
    } else {
        out.push_str(&format!(
            "FAILED: {} does not match its signature: {} modified, {} missing, {} extra\n",
            model.display(),
            diff.mismatched.len(),
            diff.missing.len(),
            diff.extra.len()
        ));
    }
    Ok((out, code))
}

fn render_failure(
    format: OutputFormat,
    model: &Path,
    err: &OmsError,
) -> anyhow::Result<(String, u8)> {
    let text = if format == OutputFormat::Json {
        serde_json::to_string_pretty(&serde_json::json!({
            "model": model.display().to_string(),
            "verified": false,
            "signature_valid": false,
            "error": err.to_string(),
        }))? + "\n"
    } else {
        format!(
            "FAILED: {}: {}\n",
            shown(&model.display().to_string()),
            shown(&err.to_string())
        )
    };
    Ok((text, crate::exit::SIGNATURE_INVALID))
}
