//! The folder-level pass after the walk: Hugging Face model folders (remote code in
//! `config.json`, Python files beside the weights, pickle weights beside safetensors), where the
//! files came from (the hub cache layout and `local_dir` download metadata), and the model facts
//! `config.json` gives the weights.
//!
//! ## What counts as a model folder
//! A folder is a model folder when (1) its `config.json` declares `model_type` or
//! `architectures` (a transformers model), or (2) it lies inside a hub cache snapshot
//! (`models--org--name/snapshots/<commit>/`), or (3) it holds model weights (`*.safetensors`,
//! `pytorch_model*.bin`, `*.pt`, `*.pth`, `*.ckpt`, `*.gguf`, `*.onnx`, `*.h5`, `*.msgpack`...)
//! and no Python packaging (`setup.py`, `pyproject.toml`, `setup.cfg`, `__init__.py`). Rule (3)
//! keeps source checkouts quiet: a package folder with a test checkpoint is code, not a model.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use mlvet_core::{ArtifactOrigin, ArtifactReport, Location};

use crate::WalkedFile;
use crate::rules::{hf_model_folder_python, hf_pickle_beside_safetensors, hf_remote_code};

/// Largest JSON config read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// Largest `local_dir` download metadata file read.
const MAX_DOWNLOAD_METADATA_BYTES: u64 = 4096;
/// Folders above a file searched for `.cache/huggingface/download`.
const MAX_LOCAL_DIR_DEPTH: usize = 32;
/// `auto_map` / `custom_pipelines` entries reported per config.
const MAX_ENTRIES: usize = 256;

/// Report formats that load through an unpickler.
const PICKLE_FORMATS: &[&str] = &[
    "pickle",
    "joblib",
    "pytorch-zip",
    "pytorch-legacy",
    "pytorch-tar",
    "torchscript",
];

/// Configs whose `auto_map` transformers follows with `trust_remote_code=True`.
pub const REMOTE_CODE_CONFIGS: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
];

/// Where a file sits in a hub cache, from its path components.
pub fn hub_origin(path: &Path) -> Option<ArtifactOrigin> {
    let components: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (index, component) in components.iter().enumerate().rev() {
        let Some((kind, rest)) = component.split_once("--") else {
            continue;
        };
        let repo_type = match kind {
            "models" => "model",
            "datasets" => "dataset",
            "spaces" => "space",
            _ => continue,
        };
        if rest.is_empty() {
            continue;
        }
        // huggingface_hub: `repo_id.replace("/", "--")`; ids never contain `--`.
        let repo_id = rest.replace("--", "/");
        let origin = |revision: Option<String>, path_in_repo: Option<String>| ArtifactOrigin {
            hub: "huggingface".to_string(),
            repo_type: repo_type.to_string(),
            repo_id: repo_id.clone(),
            revision,
            path_in_repo,
        };
        match components.get(index + 1).map(String::as_str) {
            Some("snapshots") => {
                let revision = components.get(index + 2)?;
                let inner = components.get(index + 3..)?;
                if inner.is_empty() {
                    return None;
                }
                let revision = is_commit(revision).then(|| revision.clone());
                return Some(origin(revision, Some(inner.join("/"))));
            }
            Some("blobs") => return Some(origin(None, None)),
            _ => continue,
        }
    }
    None
}

fn is_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a file inside the scanned tree is inside a hub cache snapshot.
fn in_snapshot(path: &Path) -> bool {
    hub_origin(path).is_some_and(|o| o.path_in_repo.is_some())
}

/// `local_dir` downloads: `<local_dir>/.cache/huggingface/download/<path>.metadata`, whose first
/// line is the commit. The repository itself is not recorded there: `repo_id` stays empty and
/// `repo_type` is `unknown`.
fn local_dir_origin(
    absolute: &Path,
    roots: &mut BTreeMap<PathBuf, Option<PathBuf>>,
) -> Option<ArtifactOrigin> {
    // Most files are in no `local_dir`: find (once per folder) the nearest folder above that
    // has `.cache/huggingface/download` before looking for the file's own metadata.
    let folder = absolute.parent()?;
    let root = roots
        .entry(folder.to_path_buf())
        .or_insert_with(|| {
            folder
                .ancestors()
                .take(MAX_LOCAL_DIR_DEPTH)
                .find(|a| a.join(".cache/huggingface/download").is_dir())
                .map(Path::to_path_buf)
        })
        .clone()?;
    let mut relative: Vec<String> = Vec::new();
    let mut current = absolute;
    for _ in 0..MAX_LOCAL_DIR_DEPTH {
        if !current.starts_with(&root) {
            return None;
        }
        let name = current.file_name()?.to_string_lossy().into_owned();
        relative.insert(0, name);
        current = current.parent()?;
        let mut metadata = current.join(".cache").join("huggingface").join("download");
        for part in &relative[..relative.len() - 1] {
            metadata.push(part);
        }
        metadata.push(format!("{}.metadata", relative.last()?));
        if let Some(text) = read_small(&metadata, MAX_DOWNLOAD_METADATA_BYTES) {
            let text = String::from_utf8_lossy(&text);
            let commit = text.lines().next().unwrap_or("").trim().to_string();
            return Some(ArtifactOrigin {
                hub: "huggingface".to_string(),
                repo_type: "unknown".to_string(),
                repo_id: String::new(),
                revision: is_commit(&commit).then_some(commit),
                path_in_repo: Some(relative.join("/")),
            });
        }
    }
    None
}

fn read_small(path: &Path, cap: u64) -> Option<Vec<u8>> {
    let file = mlvet_core::fs::open_regular(path).ok()?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= cap).then_some(bytes)
}

fn file_name(display: &str) -> &str {
    display.rsplit(['/', '\\']).next().unwrap_or(display)
}

fn folder_of(display: &str) -> &str {
    display.rsplit_once(['/', '\\']).map_or("", |(dir, _)| dir)
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_weights(name: &str) -> bool {
    let ext = extension(name);
    matches!(
        ext.as_str(),
        "safetensors"
            | "pt"
            | "pth"
            | "ckpt"
            | "gguf"
            | "onnx"
            | "h5"
            | "keras"
            | "msgpack"
            | "tflite"
            | "pkl"
            | "joblib"
            | "nemo"
    ) || (ext == "bin" && (name.starts_with("pytorch_model") || name.contains("model")))
}

fn is_pickle_weights(name: &str) -> bool {
    matches!(extension(name).as_str(), "pt" | "pth" | "ckpt" | "pkl")
        || (extension(name) == "bin" && name.starts_with("pytorch_model"))
}

/// One folder of the walk.
#[derive(Default)]
struct Folder {
    /// display -> walked file
    files: BTreeMap<String, WalkedFile>,
}

impl Folder {
    fn has(&self, name: &str) -> bool {
        self.files.keys().any(|d| file_name(d) == name)
    }

    fn get(&self, name: &str) -> Option<&WalkedFile> {
        self.files
            .iter()
            .find(|(d, _)| file_name(d) == name)
            .map(|(_, f)| f)
    }
}

/// A parsed transformers config: what makes a model folder, and the facts for the weights.
struct Config {
    transformers_model: bool,
    facts: Vec<(&'static str, String)>,
}

fn parse_config(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .filter(serde_json::Value::is_object)
}

fn read_config(file: &WalkedFile) -> Option<serde_json::Value> {
    parse_config(&read_small(&file.path, MAX_CONFIG_BYTES)?)
}

fn config_facts(config: &serde_json::Value) -> Config {
    let text = |key: &str| {
        config
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(|s| s.chars().take(128).collect::<String>())
    };
    let architectures: Vec<String> = config
        .get("architectures")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .take(16)
                .map(|s| s.chars().take(128).collect())
                .collect()
        })
        .unwrap_or_default();
    let model_type = text("model_type");
    let mut facts = Vec::new();
    if !architectures.is_empty() {
        facts.push(("architecture", architectures.join(",")));
    }
    if let Some(model_type) = &model_type {
        facts.push(("model_type", model_type.clone()));
    }
    // transformers 5 writes `dtype`; earlier versions `torch_dtype`.
    if let Some(dtype) = text("torch_dtype").or_else(|| text("dtype")) {
        facts.push(("torch_dtype", dtype));
    }
    if let Some(version) = text("transformers_version") {
        facts.push(("framework", "transformers".to_string()));
        facts.push(("framework_version", version));
    }
    Config {
        transformers_model: !architectures.is_empty() || model_type.is_some(),
        facts,
    }
}

/// One code reference of an `auto_map` or `custom_pipelines` entry.
struct CodeRef {
    key: String,
    reference: String,
    /// `org/repo` when the code lives in another repository.
    repository: Option<String>,
    module_file: String,
}

fn code_ref(key: String, reference: &str) -> Option<CodeRef> {
    let reference: String = reference.chars().take(512).collect();
    let (repository, target) = match reference.split_once("--") {
        Some((repo, target)) => (Some(repo.to_string()), target.to_string()),
        None => (None, reference.clone()),
    };
    let (module, _class) = target.rsplit_once('.')?;
    Some(CodeRef {
        key,
        module_file: format!("{}.py", module.replace('.', "/")),
        reference,
        repository,
    })
}

/// Every `auto_map` and `custom_pipelines` code reference of a config.
fn code_refs(config: &serde_json::Value) -> Vec<CodeRef> {
    let mut refs = Vec::new();
    if let Some(map) = config
        .get("auto_map")
        .and_then(serde_json::Value::as_object)
    {
        for (key, value) in map.iter().take(MAX_ENTRIES) {
            match value {
                serde_json::Value::String(s) => refs.extend(code_ref(format!("auto_map.{key}"), s)),
                // AutoTokenizer: [slow, fast], either may be null.
                serde_json::Value::Array(items) => {
                    for item in items.iter().take(4).filter_map(serde_json::Value::as_str) {
                        refs.extend(code_ref(format!("auto_map.{key}"), item));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(map) = config
        .get("custom_pipelines")
        .and_then(serde_json::Value::as_object)
    {
        for (task, spec) in map.iter().take(MAX_ENTRIES) {
            if let Some(implementation) = spec.get("impl").and_then(serde_json::Value::as_str) {
                refs.extend(code_ref(
                    format!("custom_pipelines.{task}.impl"),
                    implementation,
                ));
            }
        }
    }
    refs
}

/// The folder pass. `files` are every walked file, `reports` the artefacts scanned from them;
/// findings, origins and facts are added to `reports` (new artefacts for configs and Python
/// files that have findings).
pub fn apply(files: &[WalkedFile], reports: &mut Vec<ArtifactReport>) {
    let mut folders: BTreeMap<String, Folder> = BTreeMap::new();
    for file in files {
        folders
            .entry(folder_of(&file.display).to_string())
            .or_default()
            .files
            .insert(file.display.clone(), file.clone());
    }
    let mut index: BTreeMap<String, usize> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.clone(), i))
        .collect();
    let mut new_reports: Vec<ArtifactReport> = Vec::new();
    let add = |reports: &mut Vec<ArtifactReport>,
               new_reports: &mut Vec<ArtifactReport>,
               index: &mut BTreeMap<String, usize>,
               file: &WalkedFile,
               format: &str,
               finding: mlvet_core::Finding| {
        if let Some(report) = index.get(&file.display).and_then(|&i| reports.get_mut(i)) {
            report.findings.push(finding);
            report.findings.sort_by(mlvet_core::Finding::report_order);
            report.refresh_verdict();
            return;
        }
        if let Some(report) = new_reports.iter_mut().find(|r| r.path == file.display) {
            report.findings.push(finding);
            report.findings.sort_by(mlvet_core::Finding::report_order);
            report.refresh_verdict();
            return;
        }
        new_reports.push(ArtifactReport::new(
            file.display.clone(),
            format.to_string(),
            file.size,
            true,
            vec![finding],
        ));
    };

    for (dir, folder) in &folders {
        let config = folder.get("config.json").and_then(read_config);
        let facts = config.as_ref().map(config_facts);
        let snapshot = folder.files.values().any(|f| in_snapshot(&f.path));
        let packaging = ["setup.py", "pyproject.toml", "setup.cfg", "__init__.py"]
            .iter()
            .any(|n| folder.has(n));
        let has_weights = folder.files.keys().any(|d| is_weights(file_name(d)));
        let transformers_model = facts.as_ref().is_some_and(|c| c.transformers_model);
        let model_folder = transformers_model || snapshot || (has_weights && !packaging);
        if !model_folder {
            continue;
        }
        // Remote code named by the configs.
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        for name in REMOTE_CODE_CONFIGS {
            let Some(file) = folder.get(name) else {
                continue;
            };
            let parsed = if *name == "config.json" {
                config.clone()
            } else {
                read_config(file)
            };
            let Some(parsed) = parsed else { continue };
            for code in code_refs(&parsed) {
                let present = folder.has(file_name(&code.module_file));
                // Code from another repository (`org/repo--module.Class`) is reported by
                // `hf-cross-repo-code` (mlvet-registries), for every config, with the pinning
                // consequence; reporting it here too would count one entry twice.
                if code.repository.is_some() {
                    continue;
                }
                let finding = hf_remote_code::finding(
                    Location::file(&file.display),
                    format!(
                        "`{}` = `{}`: with trust_remote_code=True, transformers runs `{}`{}",
                        code.key,
                        code.reference,
                        code.module_file,
                        if present {
                            " from this folder"
                        } else {
                            " (not in this folder)"
                        }
                    ),
                    false,
                )
                .evidence("entry", code.key.clone())
                .evidence("class", code.reference.clone())
                .evidence("python file", code.module_file.clone());
                referenced.insert(code.module_file.clone());
                add(
                    reports,
                    &mut new_reports,
                    &mut index,
                    file,
                    "hf-config",
                    finding,
                );
            }
        }
        // Python beside the weights.
        for (display, file) in &folder.files {
            let name = file_name(display);
            if extension(name) != "py" {
                continue;
            }
            let why = if referenced.contains(name) {
                "named by auto_map: runs on load with trust_remote_code=True"
            } else {
                "imported by transformers with trust_remote_code=True and by custom loaders"
            };
            let finding = hf_model_folder_python::finding(
                Location::file(display),
                format!("Python file in a model folder ({why})"),
            )
            .evidence("folder", dir.clone());
            add(
                reports,
                &mut new_reports,
                &mut index,
                file,
                "python",
                finding,
            );
        }
        // Pickle weights beside safetensors weights.
        let safetensors: Vec<&str> = folder
            .files
            .keys()
            .map(|d| file_name(d))
            .filter(|n| extension(n) == "safetensors")
            .collect();
        if let Some(first) = safetensors.first() {
            for (display, file) in &folder.files {
                let carries_pickle = index
                    .get(display)
                    .and_then(|&i| reports.get(i))
                    .is_some_and(|r| PICKLE_FORMATS.contains(&r.format.as_str()));
                if is_pickle_weights(file_name(display)) && carries_pickle {
                    let finding =
                        hf_pickle_beside_safetensors::finding(Location::file(display), first);
                    add(
                        reports,
                        &mut new_reports,
                        &mut index,
                        file,
                        "unknown",
                        finding,
                    );
                }
            }
        }
        // Facts from config.json onto the weights of the folder.
        if let Some(facts) = &facts {
            for report in reports.iter_mut() {
                if folder_of(&report.path) == dir && is_weights(file_name(&report.path)) {
                    for (key, value) in &facts.facts {
                        report
                            .metadata
                            .entry((*key).to_string())
                            .or_insert_with(|| value.clone());
                    }
                }
            }
        }
    }
    reports.extend(new_reports);
    // Origins.
    let by_display: BTreeMap<&str, &WalkedFile> =
        files.iter().map(|f| (f.display.as_str(), f)).collect();
    let mut local_dir_roots = BTreeMap::new();
    for report in reports.iter_mut() {
        if report.origin.is_some() {
            continue;
        }
        let path = by_display
            .get(report.path.as_str())
            .map_or_else(|| PathBuf::from(&report.path), |f| f.path.clone());
        let absolute = absolute_path(&path);
        if let Some(origin) =
            hub_origin(&absolute).or_else(|| local_dir_origin(&absolute, &mut local_dir_roots))
        {
            report.origin = Some(origin);
        }
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
}

/// The file's path with its folder made absolute and resolved (the file itself is not resolved:
/// a snapshot entry is a symlink to a blob, and the snapshot path is what names it).
fn absolute_path(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = match parent {
        Some(p) => std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
        None => std::env::current_dir().unwrap_or_default(),
    };
    match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_cache_paths_give_the_origin() {
        let origin = hub_origin(Path::new(
            "/c/hub/models--org--name/snapshots/0123456789abcdef0123456789abcdef01234567/sub/model.safetensors",
        ))
        .expect("origin");
        assert_eq!(origin.repo_type, "model");
        assert_eq!(origin.repo_id, "org/name");
        assert_eq!(
            origin.revision.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            origin.path_in_repo.as_deref(),
            Some("sub/model.safetensors")
        );
        let gpt2 = hub_origin(Path::new("/c/datasets--gpt2/snapshots/main/x")).expect("origin");
        assert_eq!(
            (gpt2.repo_type.as_str(), gpt2.repo_id.as_str()),
            ("dataset", "gpt2")
        );
        assert_eq!(gpt2.revision, None);
        assert!(hub_origin(Path::new("/c/models--a--b/refs/main")).is_none());
        assert!(hub_origin(Path::new("/src/my--project/file")).is_none());
    }

    #[test]
    fn auto_map_references_are_parsed() {
        let config = serde_json::json!({
            "auto_map": {
                "AutoConfig": "configuration_x.XConfig",
                "AutoModel": "other/repo--modeling_x.XModel",
                "AutoTokenizer": ["tokenization_x.XTokenizer", null]
            },
            "custom_pipelines": {"my-task": {"impl": "pipe.MyPipeline", "pt": ["AutoModel"]}}
        });
        let refs = code_refs(&config);
        let files: Vec<&str> = refs.iter().map(|r| r.module_file.as_str()).collect();
        assert_eq!(
            files,
            vec![
                "configuration_x.py",
                "modeling_x.py",
                "tokenization_x.py",
                "pipe.py"
            ]
        );
        assert_eq!(refs[1].repository.as_deref(), Some("other/repo"));
    }
}
