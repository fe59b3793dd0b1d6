#![no_main]
//! Fuzzes the provenance parsers: model-signing bundles (Sigstore bundle, DSSE envelope), the
//! in-toto statement and manifest, key and certificate PEM, and mlvet.lock.

use libfuzzer_sys::fuzz_target;
use mlvet_provenance::lockfile::Lockfile;
use mlvet_provenance::oms::{Bundle, PublicKey, SignedManifest, certs};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::parse(data) {
        let _ = SignedManifest::from_payload(&bundle.payload);
    }
    if let Ok(manifest) = SignedManifest::from_payload(data) {
        // Every accepted v1.0 manifest carries its root digest.
        assert!(manifest.root_digest.is_some() || manifest.predicate_type.ends_with("v0.1"));
    }
    let _ = PublicKey::from_file_bytes(data);
    let _ = certs::certificates_from_pem(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(lock) = Lockfile::from_toml(text)
    {
        // Whatever parses writes back and parses to the same lock.
        let again = Lockfile::from_toml(&lock.to_toml().expect("serialise")).expect("reparse");
        assert_eq!(again.artifacts.len(), lock.artifacts.len());
    }
});
