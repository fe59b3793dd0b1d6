//! Provenance end to end: `mlvet lock` / `lock --check` on folders and Hugging Face cache
//! layouts, `mlvet verify` on every OpenSSF model-signing fixture (as the reference tool
//! verifies them), tampered copies, and `mlvet sign` → `mlvet verify` round trips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::Digest as _;

const PROVENANCE_MISMATCH: i32 = 4;
const SIGNATURE_INVALID: i32 = 5;

fn fixtures() -> PathBuf {
    common::repo_root().join("../shared/corpus/model-signing")
}

fn keys() -> PathBuf {
    fixtures().join("keys/certificate")
}

fn run(args: &[&str]) -> Output {
    let data = tempfile::tempdir().expect("tempdir");
    common::mlvet(data.path(), args)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A minimal valid safetensors file with one F32 tensor.
fn safetensors(value: f32) -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&value.to_le_bytes());
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn git_blob_sha1(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("blob");
    std::fs::write(&path, bytes).expect("write");
    mlvet_provenance::hubcache::git_blob_sha1(&path).expect("hash")
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A project folder: a model, a tokenizer, a dataset, a README (not an artefact) and a hub
/// cache snapshot whose files link to content-addressed blobs.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("models/local")).expect("mkdir");
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    std::fs::write(
        root.join("models/local/model.safetensors"),
        safetensors(1.0),
    )
    .expect("write");
    std::fs::write(
        root.join("models/local/tokenizer.json"),
        br#"{"model":{"vocab":{}}}"#,
    )
    .expect("write");
    std::fs::write(root.join("data/train.parquet"), b"PAR1 not really PAR1").expect("write");
    std::fs::write(root.join("README.md"), b"# project\n").expect("write");
    let repo = root.join("hub/models--org--name");
    let blobs = repo.join("blobs");
    let snapshot = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&blobs).expect("mkdir");
    std::fs::create_dir_all(&snapshot).expect("mkdir");
    let weights = safetensors(2.0);
    let config = br#"{"model_type":"bert","architectures":["BertModel"]}"#.to_vec();
    let weights_blob = sha256_hex(&weights);
    let config_blob = git_blob_sha1(&config);
    std::fs::write(blobs.join(&weights_blob), &weights).expect("write");
    std::fs::write(blobs.join(&config_blob), &config).expect("write");
    link(
        &format!("../../blobs/{weights_blob}"),
        &snapshot.join("model.safetensors"),
    );
    link(
        &format!("../../blobs/{config_blob}"),
        &snapshot.join("config.json"),
    );
    dir
}

#[cfg(unix)]
fn link(target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).expect("symlink");
}

#[cfg(not(unix))]
fn link(target: &str, at: &Path) {
    let source = at.parent().expect("parent").join(target);
    std::fs::copy(source, at).expect("copy");
}

#[test]
fn lock_pins_models_tokenizers_datasets_and_hub_origins() {
    let dir = project();
    let root = dir.path();
    let out = run(&["lock", s(root)]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let lock = std::fs::read_to_string(root.join("mlvet.lock")).expect("lockfile");
    let parsed = mlvet_provenance::lockfile::Lockfile::from_toml(&lock).expect("valid lockfile");
    let find = |path: &str| {
        parsed
            .artifacts
            .iter()
            .find(|a| a.path == path)
            .unwrap_or_else(|| panic!("{path} not locked:\n{lock}"))
    };
    let model = find("models/local/model.safetensors");
    assert_eq!(model.kind, "model");
    assert_eq!(model.format, "safetensors");
    assert_eq!(model.verdict, "safe");
    assert_eq!(model.sha256, sha256_hex(&safetensors(1.0)));
    assert_eq!(model.size, safetensors(1.0).len() as u64);
    assert_eq!(find("models/local/tokenizer.json").kind, "tokenizer");
    assert_eq!(find("data/train.parquet").kind, "dataset");
    let hub = find(&format!(
        "hub/models--org--name/snapshots/{COMMIT}/model.safetensors"
    ));
    let origin = hub.origin.as_ref().expect("hub origin");
    assert_eq!(origin.repo_id, "org/name");
    assert_eq!(origin.revision.as_deref(), Some(COMMIT));
    assert_eq!(origin.path_in_repo.as_deref(), Some("model.safetensors"));
    find(&format!(
        "hub/models--org--name/snapshots/{COMMIT}/config.json"
    ));
    assert!(
        !lock.contains("README.md"),
        "documentation is not an artefact:\n{lock}"
    );

    // Deterministic: locking again writes the same bytes.
    let again = run(&["lock", s(root)]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(root.join("mlvet.lock")).expect("lockfile"),
        lock
    );

    let check = run(&["lock", "--check", s(root)]);
    assert_eq!(code(&check), 0, "{}", text(&check));
}

#[test]
fn lock_check_names_every_modified_missing_and_new_artefact() {
    let dir = project();
    let root = dir.path();
    assert_eq!(code(&run(&["lock", s(root)])), 0);
    std::fs::write(
        root.join("models/local/tokenizer.json"),
        br#"{"model":{"vocab":{"x":1}}}"#,
    )
    .expect("write");
    std::fs::remove_file(root.join("data/train.parquet")).expect("remove");
    std::fs::write(
        root.join("models/local/extra.safetensors"),
        safetensors(3.0),
    )
    .expect("write");
    let out = run(&["lock", "--check", s(root)]);
    assert_eq!(code(&out), PROVENANCE_MISMATCH, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("modified  models/local/tokenizer.json"),
        "{stdout}"
    );
    assert!(stdout.contains("missing   data/train.parquet"), "{stdout}");
    assert!(
        stdout.contains("new       models/local/extra.safetensors"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("model.safetensors  ("),
        "unchanged files are not named: {stdout}"
    );

    let json = run(&["lock", "--check", "--format", "json", s(root)]);
    assert_eq!(code(&json), PROVENANCE_MISMATCH);
    let value = common::json_report(&json);
    assert_eq!(value["clean"], false);
    assert_eq!(value["modified"][0]["path"], "models/local/tokenizer.json");
    assert_eq!(value["missing"][0], "data/train.parquet");
    assert_eq!(value["new"][0], "models/local/extra.safetensors");
}

#[test]
fn hub_cache_blobs_are_checked_against_their_content_address() {
    let dir = project();
    let root = dir.path();
    assert_eq!(code(&run(&["lock", s(root)])), 0);
    // Tamper with the weights blob in place: the lock and the blob name both disagree.
    let blobs = root.join("hub/models--org--name/blobs");
    let weights_blob = blobs.join(sha256_hex(&safetensors(2.0)));
    std::fs::write(&weights_blob, safetensors(9.0)).expect("write");
    let out = run(&["lock", "--check", s(root)]);
    assert_eq!(code(&out), PROVENANCE_MISMATCH, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shown = format!("hub/models--org--name/snapshots/{COMMIT}/model.safetensors");
    assert!(stdout.contains(&format!("corrupt   {shown}")), "{stdout}");
    assert!(stdout.contains(&format!("modified  {shown}")), "{stdout}");

    // Without any lockfile: `mlvet lock` refuses to pin a blob that fails its content address.
    std::fs::remove_file(root.join("mlvet.lock")).expect("remove");
    let out = run(&["lock", s(root)]);
    assert_eq!(code(&out), PROVENANCE_MISMATCH, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("corrupt   {shown}")));
    assert!(!root.join("mlvet.lock").exists());
}

#[test]
fn lock_check_without_a_lockfile_is_a_usage_error() {
    let dir = project();
    let out = run(&["lock", "--check", s(dir.path())]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("mlvet lock"));
}

/// How the reference tool verifies each fixture (the fixture README's table): the model path
/// (a single file for two of them), the trust flags, and extra ignore paths.
fn fixture_invocation(name: &str) -> (PathBuf, Vec<String>) {
    let folder = fixtures().join(name);
    let model = if name == "v0.3.1-elliptic-key" || name == "v1.0.0-elliptic-key" {
        folder.join("signme-1")
    } else {
        folder.clone()
    };
    let mut args = vec![
        "--signature".to_string(),
        folder.join("model.sig").display().to_string(),
    ];
    if name.ends_with("elliptic-key") {
        args.push("--key".into());
        args.push(keys().join("signing-key-pub.pem").display().to_string());
    } else {
        args.push("--cert-chain".into());
        args.push(keys().join("ca-cert.pem").display().to_string());
    }
    // From v1.0.1 on, `ignore-me` was left out at signing time (recorded in the signature from
    // v1.1.0 on; v1.0.1 needs it on the command line, as with the reference tool).
    if folder.join("ignore-me").exists() {
        args.push("--ignore-paths".into());
        args.push(folder.join("ignore-me").display().to_string());
    }
    (model, args)
}

const KEY_AND_CERTIFICATE_FIXTURES: &[&str] = &[
    "v0.2.0-certificate",
    "v0.3.1-certificate",
    "v0.3.1-elliptic-key",
    "v1.0.0-certificate",
    "v1.0.0-elliptic-key",
    "v1.0.1-certificate",
    "v1.0.1-elliptic-key",
    "v1.1.0-certificate",
    "v1.1.0-elliptic-key",
];

#[test]
fn every_key_and_certificate_fixture_verifies() {
    // Every fixture folder is accounted for: key and certificate ones here, keyless below.
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('v'))
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = KEY_AND_CERTIFICATE_FIXTURES
        .iter()
        .map(|s| s.to_string())
        .collect();
    known.extend(KEYLESS_FIXTURES.iter().map(|s| s.to_string()));
    known.sort();
    assert_eq!(on_disk, known);

    for name in KEY_AND_CERTIFICATE_FIXTURES {
        let (model, extra) = fixture_invocation(name);
        let mut args = vec!["verify".to_string(), model.display().to_string()];
        args.extend(extra);
        args.push("--format".into());
        args.push("json".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&refs);
        assert_eq!(code(&out), 0, "{name}: {}", text(&out));
        let value = common::json_report(&out);
        assert_eq!(value["verified"], true, "{name}");
        assert!(value["items_checked"].as_u64().unwrap_or(0) >= 1, "{name}");
    }
}

const KEYLESS_FIXTURES: &[&str] = &[
    "v0.3.1-sigstore",
    "v1.0.0-sigstore",
    "v1.0.1-sigstore",
    "v1.1.0-sigstore",
];

#[cfg(not(feature = "sigstore"))]
#[test]
fn keyless_fixtures_are_refused_with_a_clear_reason_not_reported_verified() {
    for name in KEYLESS_FIXTURES {
        let folder = fixtures().join(name);
        let out = run(&[
            "verify",
            s(&folder),
            "--signature",
            s(&folder.join("model.sig")),
            "--identity",
            "stefanb@us.ibm.com",
            "--issuer",
            "https://sigstore.verify.ibm.com/oauth2",
        ]);
        assert_eq!(code(&out), 2, "{name}: {}", text(&out));
        assert!(text(&out).contains("keyless"), "{name}: {}", text(&out));
        // A keyless bundle given a key is a failed verification, never a pass.
        let out = run(&[
            "verify",
            s(&folder),
            "--signature",
            s(&folder.join("model.sig")),
            "--key",
            s(&keys().join("signing-key-pub.pem")),
        ]);
        assert_eq!(code(&out), SIGNATURE_INVALID, "{name}: {}", text(&out));
    }
}

/// Copies a fixture folder (files only) into a fresh temporary folder.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(fixtures().join(name)).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

#[test]
fn tampered_fixture_copies_fail_naming_the_file() {
    for (name, trust) in [
        (
            "v1.1.0-elliptic-key",
            vec![
                "--key".to_string(),
                keys().join("signing-key-pub.pem").display().to_string(),
            ],
        ),
        (
            "v1.1.0-certificate",
            vec![
                "--cert-chain".to_string(),
                keys().join("ca-cert.pem").display().to_string(),
            ],
        ),
    ] {
        let copy = copy_fixture(name);
        let root = copy.path();
        let signature = root.join("model.sig");
        let verify = |extra: &[&str]| {
            let mut args = vec!["verify", s(root), "--signature", s(&signature)];
            args.extend(trust.iter().map(String::as_str));
            args.extend(extra);
            run(&args)
        };
        assert_eq!(code(&verify(&[])), 0, "{name}: the untouched copy verifies");

        let mut content = std::fs::read(root.join("signme-2")).expect("read");
        content.push(b'!');
        std::fs::write(root.join("signme-2"), &content).expect("write");
        let out = verify(&[]);
        assert_eq!(code(&out), SIGNATURE_INVALID, "{name}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(stdout.contains("modified  signme-2"), "{name}: {stdout}");
        assert!(!stdout.contains("signme-1  ("), "{name}: {stdout}");

        std::fs::remove_file(root.join("signme-2")).expect("remove");
        std::fs::write(root.join("added.bin"), b"new").expect("write");
        let out = verify(&["--format", "json"]);
        assert_eq!(code(&out), SIGNATURE_INVALID, "{name}: {}", text(&out));
        let value = common::json_report(&out);
        assert_eq!(value["signature_valid"], true);
        assert_eq!(value["missing"][0], "signme-2", "{name}");
        assert_eq!(value["extra"][0], "added.bin", "{name}");
        // `ignore-me` is in the signature's ignore paths: changing it changes nothing.
        std::fs::write(root.join("ignore-me"), b"anything").expect("write");
        let value = common::json_report(&verify(&["--format", "json"]));
        assert_eq!(value["extra"].as_array().map(Vec::len), Some(1), "{name}");
    }
}

#[test]
fn a_forged_statement_or_the_wrong_trust_fails() {
    let copy = copy_fixture("v1.1.0-elliptic-key");
    let root = copy.path();
    // Re-encode the payload with a different digest: the signature no longer covers it.
    let sig: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("model.sig")).expect("read"))
            .expect("json");
    let payload = sig["dsseEnvelope"]["payload"]
        .as_str()
        .expect("payload")
        .to_string();
    let mut forged = sig.clone();
    forged["dsseEnvelope"]["payload"] = serde_json::Value::String(payload.replacen('A', "B", 1));
    std::fs::write(root.join("forged.sig"), forged.to_string()).expect("write");
    let out = run(&[
        "verify",
        s(root),
        "--signature",
        s(&root.join("forged.sig")),
        "--key",
        s(&keys().join("signing-key-pub.pem")),
        "--ignore-paths",
        "forged.sig",
    ]);
    assert_eq!(code(&out), SIGNATURE_INVALID, "{}", text(&out));

    // A key-method signature checked against a certificate root, and the other way round.
    let out = run(&[
        "verify",
        s(root),
        "--signature",
        s(&root.join("model.sig")),
        "--cert-chain",
        s(&keys().join("ca-cert.pem")),
    ]);
    assert_eq!(code(&out), SIGNATURE_INVALID, "{}", text(&out));
    let cert = fixtures().join("v1.1.0-certificate");
    let out = run(&[
        "verify",
        s(&cert),
        "--signature",
        s(&cert.join("model.sig")),
        "--key",
        s(&keys().join("signing-key-pub.pem")),
    ]);
    assert_eq!(code(&out), SIGNATURE_INVALID, "{}", text(&out));
    // The chain must reach a trusted self-signed root: the intermediate alone is not trusted.
    let out = run(&[
        "verify",
        s(&cert),
        "--signature",
        s(&cert.join("model.sig")),
        "--cert-chain",
        s(&keys().join("int-ca-cert.pem")),
    ]);
    assert_eq!(code(&out), SIGNATURE_INVALID, "{}", text(&out));
}

#[test]
fn sign_then_verify_round_trips_and_catches_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("tiny-model");
    std::fs::create_dir_all(model.join("a")).expect("mkdir");
    std::fs::create_dir_all(model.join(".git")).expect("mkdir");
    std::fs::write(model.join("a/b"), b"nested").expect("write");
    std::fs::write(model.join("a.txt"), b"text").expect("write");
    std::fs::write(model.join("model.safetensors"), safetensors(4.0)).expect("write");
    std::fs::write(model.join("empty"), b"").expect("write");
    std::fs::write(model.join(".git/HEAD"), b"ref").expect("write");
    let key = keys().join("signing-key.pem");
    let public = keys().join("signing-key-pub.pem");
    for extra in [
        vec![],
        vec!["--hash-type", "blake3"],
        vec!["--hash-type", "blake2b"],
        vec!["--shard-size", "4"],
    ] {
        let signature = model.join("model.sig");
        let mut args = vec![
            "sign",
            s(&model),
            "--key",
            s(&key),
            "--signature",
            s(&signature),
        ];
        args.extend(extra.iter().copied());
        let out = run(&args);
        assert_eq!(code(&out), 0, "{extra:?}: {}", text(&out));
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&signature).expect("read")).expect("json");
        assert_eq!(
            bundle["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let out = run(&["verify", s(&model), "--key", s(&public)]);
        assert_eq!(code(&out), 0, "{extra:?}: {}", text(&out));
        // The git folder is ignored by default, at signing and verification alike.
        std::fs::write(model.join(".git/HEAD"), b"changed").expect("write");
        assert_eq!(code(&run(&["verify", s(&model), "--key", s(&public)])), 0);
    }
    std::fs::write(model.join("a/b"), b"NESTED").expect("write");
    let out = run(&["verify", s(&model), "--key", s(&public)]);
    assert_eq!(code(&out), SIGNATURE_INVALID);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("a/b:0:4"),
        "{}",
        text(&out)
    );
}

#[test]
fn sign_writes_the_reference_statement_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("m");
    std::fs::create_dir_all(model.join("a")).expect("mkdir");
    std::fs::write(model.join("a/b"), b"1").expect("write");
    std::fs::write(model.join("a.txt"), b"2").expect("write");
    let signature = dir.path().join("m.sig");
    let out = run(&[
        "sign",
        s(&model),
        "--key",
        s(&keys().join("signing-key.pem")),
        "--signature",
        s(&signature),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&signature).expect("read")).expect("json");
    let payload = mlvet_provenance::oms::Bundle::parse(&std::fs::read(&signature).expect("read"))
        .expect("bundle")
        .payload;
    let statement: serde_json::Value = serde_json::from_slice(&payload).expect("statement");
    assert_eq!(
        statement["predicateType"],
        "https://model_signing/signature/v1.0"
    );
    assert_eq!(statement["subject"][0]["name"], "m");
    let names: Vec<&str> = statement["predicate"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    // Sorted by path components, as the reference sorts them (not byte order).
    assert_eq!(names, vec!["a/b", "a.txt"]);
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"]
            .as_str()
            .map(str::len),
        Some(64)
    );
}

/// With the `sigstore` feature: every keyless fixture verifies offline against the embedded
/// public-good trust root, for the identity and issuer the reference is given, and nothing else.
#[cfg(feature = "sigstore")]
#[test]
fn keyless_fixtures_verify_offline_for_the_right_identity_only() {
    for name in KEYLESS_FIXTURES {
        let folder = fixtures().join(name);
        let verify = |model: &Path, identity: &str| {
            let mut args = vec![
                "verify".to_string(),
                model.display().to_string(),
                "--signature".into(),
                folder.join("model.sig").display().to_string(),
                "--identity".into(),
                identity.to_string(),
                "--issuer".into(),
                "https://sigstore.verify.ibm.com/oauth2".into(),
            ];
            if folder.join("ignore-me").exists() {
                args.push("--ignore-paths".into());
                args.push("ignore-me".into());
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&refs)
        };
        let out = verify(&folder, "stefanb@us.ibm.com");
        assert_eq!(code(&out), 0, "{name}: {}", text(&out));
        let out = verify(&folder, "mallory@example.com");
        assert_eq!(code(&out), SIGNATURE_INVALID, "{name}: {}", text(&out));
        let copy = copy_fixture(name);
        std::fs::write(copy.path().join("signme-1"), b"tampered").expect("write");
        let out = verify(copy.path(), "stefanb@us.ibm.com");
        assert_eq!(code(&out), SIGNATURE_INVALID, "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("modified  signme-1"),
            "{name}: {}",
            text(&out)
        );
    }
}
