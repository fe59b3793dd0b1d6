//! Which project analysis reads a file, by its name and place (these formats are named by
//! convention: the installers and DVC find them by name too).

use std::path::Path;

/// What a project file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A pip requirements or constraints file (option lines: indexes, hashes).
    Requirements,
    /// `pip.conf` / `pip.ini`.
    PipConf,
    /// `pyproject.toml` (`[tool.uv]`, `[tool.poetry]`, `[tool.pdm]`).
    Pyproject,
    /// `uv.toml`.
    UvToml,
    Pipfile,
    PipfileLock,
    UvLock,
    PoetryLock,
    /// A transformers config whose `auto_map` transformers follows.
    HfConfig,
    /// diffusers `model_index.json`.
    ModelIndex,
    /// PEFT `adapter_config.json`.
    AdapterConfig,
    /// A DVC `.dvc` file.
    DvcFile,
    /// `dvc.lock`.
    DvcLock,
    /// `dvc.yaml`.
    DvcYaml,
    /// `.dvc/config` (and `config.local`).
    DvcConfig,
    /// An object in a DVC cache (named by its md5).
    DvcCacheObject,
    /// `.lfsconfig`.
    LfsConfig,
    /// An object in `.git/lfs/objects` (named by its sha256).
    LfsObject,
    /// `MLproject`.
    MlProject,
    /// Any other text file that may carry tokens or registry references.
    Text,
}

impl FileKind {
    /// The artefact `format` of a file this crate reports on first.
    pub fn format(self) -> &'static str {
        match self {
            FileKind::Requirements => "requirements",
            FileKind::PipConf => "pip-conf",
            FileKind::Pyproject => "pyproject",
            FileKind::UvToml => "uv-toml",
            FileKind::Pipfile => "pipfile",
            FileKind::PipfileLock => "pipfile-lock",
            FileKind::UvLock => "uv-lock",
            FileKind::PoetryLock => "poetry-lock",
            FileKind::HfConfig => "hf-config",
            FileKind::ModelIndex => "diffusers-model-index",
            FileKind::AdapterConfig => "peft-adapter-config",
            FileKind::DvcFile => "dvc",
            FileKind::DvcLock => "dvc-lock",
            FileKind::DvcYaml => "dvc-yaml",
            FileKind::DvcConfig => "dvc-config",
            FileKind::DvcCacheObject => "dvc-cache-object",
            FileKind::LfsConfig => "lfsconfig",
            FileKind::LfsObject => "lfs-object",
            FileKind::MlProject => "mlproject",
            FileKind::Text => "text",
        }
    }
}

/// Transformers configs that carry `auto_map`.
const HF_CONFIGS: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
];

/// Extensions of text files searched for tokens and registry references.
const TEXT_EXTENSIONS: &[&str] = &[
    "py",
    "ipynb",
    "sh",
    "bash",
    "zsh",
    "env",
    "yml",
    "yaml",
    "json",
    "toml",
    "cfg",
    "ini",
    "conf",
    "txt",
    "in",
    "md",
    "rst",
    "js",
    "ts",
    "r",
    "dockerfile",
    "properties",
    "tf",
    "tfvars",
    "mk",
];

/// Classifies `path` (its file name and the folders above it). `None`: not a project file.
pub fn classify(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    let components: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    let parent = components.len().checked_sub(2).map(|i| components[i]);
    // Content-addressed stores first: their files are named by hash, not by convention.
    if let Some(i) = components.iter().position(|c| *c == ".git") {
        let rest = &components[i + 1..];
        if rest.len() == 5 && rest[0] == "lfs" && rest[1] == "objects" {
            return Some(FileKind::LfsObject);
        }
        // Nothing else under .git is a project file (packed objects, hooks, config).
        return None;
    }
    if let Some(i) = components.iter().position(|c| *c == ".dvc") {
        let rest = &components[i + 1..];
        if rest.first() == Some(&"cache") {
            return Some(FileKind::DvcCacheObject);
        }
        if rest == ["config"] || rest == ["config.local"] {
            return Some(FileKind::DvcConfig);
        }
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let kind = match lower.as_str() {
        "pip.conf" | "pip.ini" => FileKind::PipConf,
        "pyproject.toml" => FileKind::Pyproject,
        "uv.toml" => FileKind::UvToml,
        "pipfile" => FileKind::Pipfile,
        "pipfile.lock" => FileKind::PipfileLock,
        "uv.lock" => FileKind::UvLock,
        "poetry.lock" => FileKind::PoetryLock,
        "model_index.json" => FileKind::ModelIndex,
        "adapter_config.json" => FileKind::AdapterConfig,
        "dvc.lock" => FileKind::DvcLock,
        "dvc.yaml" | "dvc.yml" => FileKind::DvcYaml,
        ".lfsconfig" => FileKind::LfsConfig,
        "mlproject" => FileKind::MlProject,
        _ if HF_CONFIGS.contains(&lower.as_str()) => FileKind::HfConfig,
        _ if lower.ends_with(".dvc") => FileKind::DvcFile,
        _ if is_requirements(&lower, parent) => FileKind::Requirements,
        _ if is_text(&lower) => FileKind::Text,
        _ => return None,
    };
    Some(kind)
}

fn is_requirements(lower: &str, parent: Option<&str>) -> bool {
    let text_like = lower.ends_with(".txt") || lower.ends_with(".in");
    text_like
        && (lower.contains("requirement")
            || lower.contains("constraint")
            || parent.is_some_and(|p| p.eq_ignore_ascii_case("requirements")))
}

fn is_text(lower: &str) -> bool {
    if lower == ".env" || lower.starts_with(".env.") || lower.starts_with("dockerfile") {
        return true;
    }
    if matches!(
        lower,
        "makefile" | "procfile" | ".netrc" | ".pypirc" | ".npmrc"
    ) {
        return true;
    }
    lower
        .rsplit_once('.')
        .is_some_and(|(_, ext)| TEXT_EXTENSIONS.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decide() {
        let kind = |p: &str| classify(Path::new(p));
        assert_eq!(
            kind("repo/requirements-dev.txt"),
            Some(FileKind::Requirements)
        );
        assert_eq!(
            kind("repo/requirements/base.in"),
            Some(FileKind::Requirements)
        );
        assert_eq!(kind("repo/notes.txt"), Some(FileKind::Text));
        assert_eq!(kind("repo/.dvc/config"), Some(FileKind::DvcConfig));
        assert_eq!(
            kind("repo/.dvc/cache/files/md5/ab/cdef"),
            Some(FileKind::DvcCacheObject)
        );
        assert_eq!(kind("repo/.dvc/tmp/x"), None);
        assert_eq!(
            kind("repo/.git/lfs/objects/ab/cd/abcd"),
            Some(FileKind::LfsObject)
        );
        assert_eq!(kind("repo/.git/config"), None);
        assert_eq!(kind("repo/data.csv.dvc"), Some(FileKind::DvcFile));
        assert_eq!(kind("repo/Dockerfile.gpu"), Some(FileKind::Text));
        assert_eq!(kind("repo/.env.local"), Some(FileKind::Text));
        assert_eq!(kind("repo/model.safetensors"), None);
        assert_eq!(kind("m/tokenizer_config.json"), Some(FileKind::HfConfig));
    }
}
