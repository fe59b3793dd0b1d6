//! `mlvet sign MODEL --key PRIV.pem [--signature model.sig]`: an OpenSSF model signature (key
//! method, v1.0 manifest) that the reference `model-signing` tool verifies.

use anyhow::Context;
use mlvet_provenance::hashing::HashAlgorithm;
use mlvet_provenance::oms::{self, Method, Serialization, SignOptions};

use crate::UsageError;
use crate::cli::SignArgs;

pub fn run(args: &SignArgs) -> anyhow::Result<u8> {
    let key_bytes =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let key = oms::PrivateKey::from_pem_bytes(&key_bytes)
        .map_err(|e| UsageError(format!("{}: {e}", args.key.display())))?;
    let hash = HashAlgorithm::from_name(&args.hash_type).ok_or_else(|| {
        UsageError(format!(
            "unknown --hash-type {:?} (sha256, blake2b or blake3)",
            args.hash_type
        ))
    })?;
    let method = match args.shard_size {
        None => Method::Files,
        Some(0) => return Err(UsageError("--shard-size must be positive".to_string()).into()),
        Some(shard_size) => Method::Shards { shard_size },
    };
    let mut ignore_paths = crate::verify::relative_ignores(&args.model, &args.ignore_paths);
    if !args.no_ignore_git_paths {
        ignore_paths.extend(
            oms::statement::DEFAULT_IGNORE_PATHS
                .iter()
                .map(|p| (*p).to_string()),
        );
    }
    // The signature file itself, when it is written inside the model folder.
    if let (Ok(model), Some(parent)) = (args.model.canonicalize(), args.signature.parent()) {
        let parent = if parent.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            parent
        };
        if let Ok(parent) = parent.canonicalize()
            && let Ok(relative) = parent.strip_prefix(&model)
            && let Some(name) = args.signature.file_name()
        {
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            parts.push(name.to_string_lossy().into_owned());
            ignore_paths.push(parts.join("/"));
        }
    }
    ignore_paths.sort();
    ignore_paths.dedup();
    let subject_name = args
        .model
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| args.model.display().to_string());
    let options = SignOptions {
        serialization: Serialization {
            method,
            hash,
            allow_symlinks: args.allow_symlinks,
            ignore_paths,
        },
        subject_name,
    };
    let bundle = oms::sign(&args.model, &key, &options)
        .map_err(|e| anyhow::anyhow!("cannot sign {}: {e}", args.model.display()))?;
    std::fs::write(&args.signature, bundle)
        .with_context(|| format!("cannot write {}", args.signature.display()))?;
    crate::write_output(
        None,
        &format!(
            "Signed {} with {} key {}: {}\n",
            args.model.display(),
            key.public_key().curve().name(),
            key.public_key().hint(),
            args.signature.display()
        ),
    )?;
    Ok(crate::exit::CLEAN)
}
