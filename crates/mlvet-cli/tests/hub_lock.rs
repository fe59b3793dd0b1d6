//! `mlvet lock` of Hugging Face downloads (cache layout, `local_dir`) and `lock --check --hub`
//! end to end against the loopback Hub mock: a verified pin, a branch that moved, a file that
//! differs from the Hub's record, a commit that no longer exists, and no request without --hub.

mod common;

use std::path::Path;
use std::process::Output;

use mlvet_hub::mock::{Behaviour, MockFile, MockHub, MockRepo};
use serde_json::Value;

fn run(mock: &MockHub, args: &[&str]) -> Output {
    let data = tempfile::tempdir().expect("tempdir");
    std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(common::repo_root())
        .env("MLVET_DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .env("HF_ENDPOINT", mock.endpoint())
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .output()
        .expect("run mlvet")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn files() -> Vec<MockFile> {
    let model =
        std::fs::read(common::repo_root().join("tests/fixtures/models/safe/torch_state_dict.pt"))
            .expect("fixture");
    vec![
        MockFile::new(
            "config.json",
            br#"{"model_type": "bert", "architectures": ["BertModel"]}"#.to_vec(),
            false,
        ),
        MockFile::new("pytorch_model.bin", model, true),
    ]
}

/// A hub cache (`models--org--model/{blobs,snapshots,refs}`) holding `commit` of `repo`, as
/// huggingface_hub lays it out: blobs named by LFS sha256 or git blob id, snapshot links.
fn write_cache(root: &Path, repo: &MockRepo, commit: &str) {
    let dir = root.join(format!("models--{}", repo.id.replace('/', "--")));
    std::fs::create_dir_all(dir.join("blobs")).expect("mkdir");
    std::fs::create_dir_all(dir.join("refs")).expect("mkdir");
    std::fs::write(dir.join("refs/main"), commit).expect("ref");
    for file in &repo.commits[commit] {
        let name = if file.lfs {
            &file.sha256
        } else {
            &file.blob_id
        };
        let bytes = file.content.slice(0, file.content.len());
        std::fs::write(dir.join("blobs").join(name), bytes).expect("blob");
        let link = dir.join("snapshots").join(commit).join(&file.path);
        std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(format!("../../blobs/{name}"), &link).expect("link");
    }
}

/// A `local_dir` download of `commit`: the files, and `.cache/huggingface/download/<path>.metadata`
/// (commit, etag, timestamp).
fn write_local_dir(root: &Path, repo: &MockRepo, commit: &str) {
    for file in &repo.commits[commit] {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, file.content.slice(0, file.content.len())).expect("file");
        let etag = if file.lfs {
            &file.sha256
        } else {
            &file.blob_id
        };
        let metadata = root
            .join(".cache/huggingface/download")
            .join(format!("{}.metadata", file.path));
        std::fs::create_dir_all(metadata.parent().expect("parent")).expect("mkdir");
        std::fs::write(metadata, format!("{commit}\n{etag}\n1700000000.0\n")).expect("metadata");
    }
}

fn lock(mock: &MockHub, folder: &Path, extra: &[&str]) {
    let folder = folder.to_str().expect("utf-8");
    let mut args = vec!["lock", folder];
    args.extend_from_slice(extra);
    let output = run(mock, &args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

fn check_hub(mock: &MockHub, folder: &Path, extra: &[&str]) -> (Output, Value) {
    let folder = folder.to_str().expect("utf-8");
    let mut args = vec!["lock", "--check", "--hub", "--format", "json", folder];
    args.extend_from_slice(extra);
    let output = run(mock, &args);
    let value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));
    (output, value)
}

fn hub_file<'a>(report: &'a Value, in_repo: &str) -> &'a Value {
    report["hub"]["files"]
        .as_array()
        .expect("hub files")
        .iter()
        .find(|f| {
            f["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/{in_repo}")))
        })
        .unwrap_or_else(|| panic!("no {in_repo} in {report:#}"))
}

#[test]
fn a_cache_lock_pins_commit_branch_and_content_addresses_and_the_hub_confirms_it() {
    let repo = MockRepo::new("org/model", files());
    let commit = repo.head().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    write_cache(cache.path(), &repo, &commit);
    let lfs_sha = repo.commits[&commit][1].sha256.clone();
    let config_blob = repo.commits[&commit][0].blob_id.clone();
    let mock = MockHub::start(vec![repo], Behaviour::default()).expect("mock");

    lock(&mock, cache.path(), &[]);
    let lockfile = std::fs::read_to_string(cache.path().join("mlvet.lock")).expect("lock");
    assert!(lockfile.contains("repo_id = \"org/model\""), "{lockfile}");
    assert!(
        lockfile.contains(&format!("revision = \"{commit}\"")),
        "{lockfile}"
    );
    assert!(lockfile.contains("branch = \"main\""), "{lockfile}");
    assert!(
        lockfile.contains(&format!("lfs_sha256 = \"{lfs_sha}\"")),
        "{lockfile}"
    );
    assert!(
        lockfile.contains(&format!("git_blob_id = \"{config_blob}\"")),
        "{lockfile}"
    );
    assert!(mock.log().is_empty(), "writing a lock asks the Hub nothing");

    // Offline by default: a plain --check makes no request.
    let output = run(
        &mock,
        &["lock", "--check", cache.path().to_str().expect("utf-8")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(mock.log().is_empty(), "--check without --hub is offline");

    let (output, report) = check_hub(&mock, cache.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["hub"]["repos"][0]["moved"], false);
    assert_eq!(report["hub"]["repos"][0]["head"], commit.as_str());
    let model = hub_file(&report, "pytorch_model.bin");
    assert_eq!(model["status"], "verified");
    assert_eq!(model["hub"], format!("sha256:{lfs_sha}"));
    let config = hub_file(&report, "config.json");
    assert_eq!(config["status"], "verified");
    assert_eq!(config["hub"], format!("git-blob:{config_blob}"));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    assert_eq!(
        mock.log().iter().filter(|l| l.host == "cdn").count(),
        0,
        "nothing is downloaded"
    );

    // The terminal form says the same.
    let output = run(
        &mock,
        &[
            "lock",
            "--check",
            "--hub",
            cache.path().to_str().expect("utf-8"),
        ],
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("current   org/model: main still at"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "verified          hf://org/model@{commit}/pytorch_model.bin"
        )),
        "{shown}"
    );
}

#[test]
fn a_moved_branch_is_reported_with_what_changed_at_the_new_head() {
    let mut repo = MockRepo::new("org/model", files());
    let commit = repo.head().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    write_cache(cache.path(), &repo, &commit);
    let mut next = files();
    next[1] = MockFile::new("pytorch_model.bin", b"PK new weights".to_vec(), true);
    let new_head = repo.add_commit("main", next);
    repo.refs.insert("main".to_string(), commit.clone());
    let mock = MockHub::start(vec![repo], Behaviour::default()).expect("mock");
    lock(&mock, cache.path(), &[]);

    mock.update_repos(|repos| {
        repos[0].refs.insert("main".to_string(), new_head.clone());
    });
    let (output, report) = check_hub(&mock, cache.path(), &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "the local copy still matches its pin: {}",
        text(&output)
    );
    let moved = &report["hub"]["repos"][0];
    assert_eq!(moved["moved"], true);
    assert_eq!(moved["head"], new_head.as_str());
    assert_eq!(moved["revision"], commit.as_str());
    assert_eq!(hub_file(&report, "pytorch_model.bin")["status"], "verified");
    assert_eq!(
        hub_file(&report, "pytorch_model.bin")["upstream"],
        "changed"
    );
    assert_eq!(hub_file(&report, "config.json")["upstream"], "unchanged");
    let output = run(
        &mock,
        &[
            "lock",
            "--check",
            "--hub",
            cache.path().to_str().expect("utf-8"),
        ],
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains(&format!(
            "moved     org/model: main is now at {new_head} (locked {commit})"
        )),
        "{shown}"
    );
}

#[test]
fn a_local_dir_file_that_differs_from_the_hub_fails_with_4() {
    let repo = MockRepo::new("org/model", files());
    let commit = repo.head().to_string();
    let folder = tempfile::tempdir().expect("tempdir");
    write_local_dir(folder.path(), &repo, &commit);
    // Edited after the download and before the lock: the offline check cannot see it.
    std::fs::write(
        folder.path().join("config.json"),
        br#"{"model_type": "bert", "auto_map": {"AutoModel": "x.Y"}}"#,
    )
    .expect("edit");
    let mock = MockHub::start(vec![repo], Behaviour::default()).expect("mock");
    lock(&mock, folder.path(), &["--hf-repo", "org/model"]);
    let lockfile = std::fs::read_to_string(folder.path().join("mlvet.lock")).expect("lock");
    assert!(lockfile.contains("repo_id = \"org/model\""), "{lockfile}");
    let offline = run(
        &mock,
        &["lock", "--check", folder.path().to_str().expect("utf-8")],
    );
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline));

    let (output, report) = check_hub(&mock, folder.path(), &[]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    let config = hub_file(&report, "config.json");
    assert_eq!(config["status"], "modified");
    assert_ne!(config["hub"], config["local"]);
    assert_eq!(hub_file(&report, "pytorch_model.bin")["status"], "verified");
}

#[test]
fn a_commit_gone_from_the_hub_fails_with_4_and_an_unanswered_one_with_3() {
    let repo = MockRepo::new("org/model", files());
    let commit = repo.head().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    write_cache(cache.path(), &repo, &commit);
    let mock = MockHub::start(vec![repo], Behaviour::default()).expect("mock");
    lock(&mock, cache.path(), &[]);

    // A force-push: main points at a new commit and the old one is gone.
    mock.update_repos(|repos| {
        let repo = &mut repos[0];
        let head = repo.add_commit("main", files().into_iter().take(1).collect());
        repo.commits.remove(&commit);
        assert_ne!(head, commit);
    });
    let (output, report) = check_hub(&mock, cache.path(), &[]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert_eq!(
        hub_file(&report, "pytorch_model.bin")["status"],
        "revision-missing"
    );
    assert_eq!(
        hub_file(&report, "config.json")["status"],
        "revision-missing"
    );
    assert_eq!(report["hub"]["repos"][0]["moved"], true);
    assert_eq!(
        hub_file(&report, "pytorch_model.bin")["upstream"],
        "removed"
    );

    // A question the Hub does not answer (it refuses the token): an error (3), never a pass.
    let token = cache.path().join("token");
    std::fs::write(&token, "hf_not_a_known_token\n").expect("token");
    let (output, report) = check_hub(
        &mock,
        cache.path(),
        &["--hf-token-file", token.to_str().expect("utf-8")],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let model = hub_file(&report, "pytorch_model.bin");
    assert_eq!(model["status"], "error", "{report:#}");
    assert!(model["message"].is_string(), "{model:#}");
}
