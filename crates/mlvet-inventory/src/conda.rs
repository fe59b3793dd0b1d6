//! conda: `environment.yml` (conda match specs plus a nested `pip:` list), conda-lock files and
//! installed `conda-meta/*.json` records.
//!
//! conda package names are not PyPI names. Each conda package is classified:
//! 1. names in [`CONDA_TO_PYPI`] are Python packages published on PyPI under another name
//!    (`pytorch` → `torch`);
//! 2. installed records whose files include a `site-packages/<name>-<version>.dist-info` take
//!    the PyPI name from it; records or lock entries that depend on `python` are Python packages;
//! 3. names known to be native libraries, compilers, runtimes or metapackages (`python` itself,
//!    `cudatoolkit`, `openssl`, `lib*`, ...) get ecosystem `conda` and are not matched against PyPI;
//! 4. anything else is assumed to be the PyPI package of the same name (true for the large
//!    majority of conda-forge Python packages).

use std::collections::BTreeSet;
use std::path::Path;

use crate::sink::Sink;
use crate::text::{ForwardLineSearch, LineIndex};
use crate::{Dependency, json, names, requirements};

/// conda package name → PyPI project name, where they differ (ML stack first). Sources: the
/// conda-forge and defaults recipes' `test: imports` / PyPI sources of these packages.
pub const CONDA_TO_PYPI: &[(&str, &str)] = &[
    ("pytorch", "torch"),
    ("pytorch-cpu", "torch"),
    ("pytorch-gpu", "torch"),
    ("pytorch-nightly", "torch"),
    ("libtorch", "torch"),
    ("py-xgboost", "xgboost"),
    ("py-xgboost-cpu", "xgboost"),
    ("py-xgboost-gpu", "xgboost"),
    ("lightgbm", "lightgbm"),
    ("py-lightgbm", "lightgbm"),
    ("tensorflow-base", "tensorflow"),
    ("tensorflow-cpu", "tensorflow-cpu"),
    ("tensorflow-gpu", "tensorflow-gpu"),
    ("tensorflow-estimator", "tensorflow-estimator"),
    ("keras-base", "keras"),
    ("jaxlib", "jaxlib"),
    ("py-opencv", "opencv-python"),
    ("opencv-python-headless", "opencv-python-headless"),
    ("matplotlib-base", "matplotlib"),
    ("numpy-base", "numpy"),
    ("pytables", "tables"),
    ("msgpack-python", "msgpack"),
    ("pyqt", "PyQt5"),
    ("ray-core", "ray"),
    ("ray-default", "ray"),
    ("ray-data", "ray"),
    ("ray-train", "ray"),
    ("ray-tune", "ray"),
    ("ray-serve", "ray"),
    ("ray-rllib", "ray"),
    ("ray-all", "ray"),
    ("sentencepiece-python", "sentencepiece"),
    ("faiss", "faiss-cpu"),
    ("faiss-cpu", "faiss-cpu"),
    ("faiss-gpu", "faiss-gpu"),
    ("onnxruntime-gpu", "onnxruntime-gpu"),
    ("pyarrow-core", "pyarrow"),
    ("pyarrow-all", "pyarrow"),
    ("huggingface_hub", "huggingface-hub"),
    ("pytorch-lightning", "pytorch-lightning"),
    ("lightning", "lightning"),
    ("transformers", "transformers"),
    ("tokenizers", "tokenizers"),
    ("safetensors", "safetensors"),
    ("accelerate", "accelerate"),
    ("datasets", "datasets"),
    ("diffusers", "diffusers"),
    ("scikit-learn", "scikit-learn"),
    ("scikit-image", "scikit-image"),
    ("pillow", "pillow"),
    ("protobuf", "protobuf"),
    ("grpcio", "grpcio"),
    ("pyyaml", "PyYAML"),
    ("typing_extensions", "typing-extensions"),
    ("typing-extensions", "typing-extensions"),
    ("importlib-metadata", "importlib-metadata"),
    ("importlib_metadata", "importlib-metadata"),
    ("mkl-service", "mkl-service"),
    ("mkl_fft", "mkl-fft"),
    ("mkl_random", "mkl-random"),
    ("python-dateutil", "python-dateutil"),
    ("pip", "pip"),
    ("setuptools", "setuptools"),
    ("wheel", "wheel"),
    ("certifi", "certifi"),
];

/// Exact conda names that are not Python packages (interpreters, native libraries, toolchains,
/// CUDA, metapackages).
const NON_PYTHON: &[&str] = &[
    "python",
    "python_abi",
    "pypy",
    "pypy3.9",
    "pypy3.10",
    "cudatoolkit",
    "cuda",
    "cudnn",
    "nccl",
    "cutensor",
    "magma",
    "magma-cuda",
    "pytorch-cuda",
    "pytorch-mutex",
    "cpuonly",
    "openssl",
    "zlib",
    "xz",
    "bzip2",
    "zstd",
    "lz4-c",
    "sqlite",
    "tk",
    "ncurses",
    "readline",
    "ca-certificates",
    "tzdata",
    "mkl",
    "mkl-include",
    "mkl-devel",
    "intel-openmp",
    "llvm-openmp",
    "openblas",
    "blas",
    "blas-devel",
    "ffmpeg",
    "git",
    "nodejs",
    "cmake",
    "make",
    "ninja",
    "icu",
    "expat",
    "gmp",
    "mpfr",
    "mpc",
    "pcre",
    "pcre2",
    "jpeg",
    "freetype",
    "fontconfig",
    "pixman",
    "cairo",
    "harfbuzz",
    "glib",
    "gettext",
    "krb5",
    "c-ares",
    "keyutils",
    "yaml",
    "yaml-cpp",
    "hdf5",
    "arrow-cpp",
    "re2",
    "abseil-cpp",
    "snappy",
    "gflags",
    "glog",
    "lerc",
    "giflib",
    "jasper",
    "nettle",
    "gnutls",
    "openh264",
    "x264",
    "x265",
    "lame",
    "tbb",
    "tbb-devel",
    "eigen",
    "boost",
    "boost-cpp",
    "orc",
    "utf8proc",
    "grpc-cpp",
    "libprotobuf",
    "sleef",
    "onednn",
    "mkl-dnn",
    "nvidia",
    "cuda-toolkit",
    "cuda-runtime",
    "cuda-libraries",
    "cuda-nvcc",
    "cuda-version",
    "gcc",
    "gxx",
    "gfortran",
    "binutils",
    "ld_impl_linux-64",
    "sysroot_linux-64",
    "kernel-headers_linux-64",
    "perl",
    "curl",
    "openjpeg",
    "libgcc",
    "libstdcxx",
    "libgomp",
    "ucx",
    "nsight-compute",
    "fmt",
    "spdlog",
    "gstreamer",
    "qt",
    "qt-main",
    "dbus",
    "pthread-stubs",
    "krb5",
    "lzo",
    "graphite2",
    "xorg-libx11",
    "mesalib",
    "llvmlite-deps",
];

/// Name prefixes of non-Python conda packages.
const NON_PYTHON_PREFIXES: &[&str] = &[
    "lib",
    "_",
    "cuda-",
    "r-",
    "xorg-",
    "font",
    "perl-",
    "aws-c-",
    "aws-checksums",
    "aws-sdk-cpp",
    "gcc_",
    "gxx_",
    "nvidia-",
    "ocl-",
    "vc",
    "vs20",
    "ucrt",
];

/// Non-Python despite a `lib` prefix? No: these `lib*` names are Python packages.
const PYTHON_DESPITE_PREFIX: &[&str] = &[
    "librosa",
    "libclang",
    "libcst",
    "liblinear",
    "libsass",
    "vcrpy",
    "vcversioner",
];

/// The PyPI name of a conda package when it is a Python package, `None` for native/conda-only
/// packages. Uses the table and the name heuristics only (no package metadata).
pub fn conda_to_pypi_name(conda_name: &str) -> Option<String> {
    classify(conda_name, Evidence::Unknown)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Unknown,
    Python,
    NotPython,
}

fn classify(conda_name: &str, evidence: Evidence) -> Option<String> {
    let lower = conda_name.trim().to_ascii_lowercase();
    if let Some((_, pypi)) = CONDA_TO_PYPI.iter().find(|(conda, _)| *conda == lower) {
        return Some((*pypi).to_string());
    }
    match evidence {
        Evidence::Python => return Some(conda_name.trim().to_string()),
        Evidence::NotPython => return None,
        Evidence::Unknown => {}
    }
    let native = NON_PYTHON.contains(&lower.as_str())
        || (NON_PYTHON_PREFIXES.iter().any(|p| lower.starts_with(p))
            && !PYTHON_DESPITE_PREFIX.contains(&lower.as_str()));
    (!native).then(|| conda_name.trim().to_string())
}

/// A conda package as a dependency: PyPI when it is a Python package, ecosystem `conda` otherwise.
fn conda_dependency(
    sink: &Sink,
    conda_name: &str,
    evidence: Evidence,
    line: Option<u32>,
) -> Dependency {
    match classify(conda_name, evidence) {
        Some(pypi_name) => {
            let mut dependency = sink.pypi(conda_name, line);
            dependency.normalized_name = names::normalize_pypi_name(&pypi_name);
            dependency
        }
        None => {
            let mut dependency = sink.pypi(conda_name, line);
            dependency.ecosystem = "conda".to_string();
            dependency.normalized_name = names::normalize_for("conda", conda_name);
            dependency
        }
    }
}

/// A parsed conda match spec.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MatchSpec {
    pub name: String,
    pub version: Option<String>,
    pub requirement: Option<String>,
}

/// Parses `[channel::]name[ version[ build]]`, `name=version[=build]`, `name==version`,
/// `name>=1,<2`, `name[version='>=1']`. `=X` and a bare `X` are conda "fuzzy" matches (`X.*`)
/// unless a build string pins them; `==X` or a build string is an exact pin.
pub(crate) fn parse_match_spec(text: &str) -> Result<MatchSpec, String> {
    let text = text.trim();
    let text = text.rsplit_once("::").map_or(text, |(_, rest)| rest).trim();
    let name_end = text
        .find([' ', '=', '<', '>', '!', '~', '['])
        .unwrap_or(text.len());
    let name = text.get(..name_end).unwrap_or("").trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
    {
        return Err(format!("`{text}` is not a conda match spec"));
    }
    let rest = text.get(name_end..).unwrap_or("").trim();
    let (version_part, build) = if let Some(brackets) = rest.strip_prefix('[') {
        let inner = brackets.strip_suffix(']').ok_or("unterminated `[`")?;
        (
            bracket_value(inner, "version").unwrap_or_default(),
            bracket_value(inner, "build"),
        )
    } else if let Some(exact) = rest.strip_prefix("==") {
        let (version, _build) = split_build(exact, '=');
        return Ok(pinned(name, version, true));
    } else if let Some(fuzzy) = rest.strip_prefix('=') {
        let (version, build) = split_build(fuzzy, '=');
        (version.to_string(), build.map(str::to_string))
    } else {
        let (version, build) = split_build(rest, ' ');
        (version.to_string(), build.map(str::to_string))
    };
    let version_part = version_part.trim();
    if version_part.is_empty() || version_part == "*" {
        return Ok(MatchSpec {
            name: name.to_string(),
            version: None,
            requirement: Some(String::new()),
        });
    }
    if version_part.starts_with(['<', '>', '!', '~', '=']) || version_part.contains([',', '|']) {
        return Ok(MatchSpec {
            name: name.to_string(),
            version: None,
            requirement: Some(version_part.to_string()),
        });
    }
    Ok(pinned(name, version_part, build.is_some()))
}

fn split_build(text: &str, separator: char) -> (&str, Option<&str>) {
    match text.trim().split_once(separator) {
        Some((version, build)) if !build.trim().is_empty() => (version.trim(), Some(build.trim())),
        Some((version, _)) => (version.trim(), None),
        None => (text.trim(), None),
    }
}

/// `version` exact when `exact`, else conda's fuzzy `version.*`.
fn pinned(name: &str, version: &str, exact: bool) -> MatchSpec {
    let version = version.trim();
    if exact && !version.contains('*') {
        return MatchSpec {
            name: name.to_string(),
            version: Some(version.to_string()),
            requirement: None,
        };
    }
    let requirement = if version.ends_with('*') {
        format!("=={version}")
    } else {
        format!("=={version}.*")
    };
    MatchSpec {
        name: name.to_string(),
        version: None,
        requirement: Some(requirement),
    }
}

fn bracket_value(inner: &str, key: &str) -> Option<String> {
    inner.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches(['"', '\'']).to_string())
    })
}

fn yaml_error(sink: &mut Sink, error: &serde_yaml::Error) {
    let line = error.location().and_then(|l| u32::try_from(l.line()).ok());
    sink.parse_error(line, format!("invalid YAML: {error}"));
}

/// `environment.yml`. `file` (path and scan root) lets `-r` lines in the `pip:` list be followed.
pub(crate) fn parse_environment(content: &str, file: Option<(&Path, &Path)>, sink: &mut Sink) {
    let document: serde_yaml::Value = match serde_yaml::from_str(content) {
        Ok(document) => document,
        Err(error) => return yaml_error(sink, &error),
    };
    let Some(dependencies) = document.get("dependencies") else {
        return;
    };
    let Some(items) = dependencies.as_sequence() else {
        sink.parse_error(None, "`dependencies` is not a list");
        return;
    };
    let mut search = ForwardLineSearch::new(content);
    let mut pip_lines: Vec<(u32, String)> = Vec::new();
    for item in items {
        match item {
            serde_yaml::Value::String(spec) => {
                let line = search.find(|l| list_item_is(l, spec));
                conda_spec(spec, line, sink);
            }
            serde_yaml::Value::Mapping(mapping) => {
                let Some(pip) = mapping.get("pip").and_then(|p| p.as_sequence()) else {
                    continue;
                };
                search.find(|l| {
                    l.trim_start()
                        .trim_start_matches('-')
                        .trim_start()
                        .starts_with("pip:")
                });
                for entry in pip {
                    let Some(text) = entry.as_str() else { continue };
                    let line = search.find(|l| list_item_is(l, text)).unwrap_or(0);
                    pip_lines.push((line, text.to_string()));
                }
            }
            serde_yaml::Value::Number(number) => {
                sink.parse_error(None, format!("`{number}` is not a conda match spec"))
            }
            _ => {}
        }
    }
    pip_section(&pip_lines, file, sink);
}

/// Whether a YAML line is the list item `- text` (quoted or not).
fn list_item_is(line: &str, text: &str) -> bool {
    let Some(item) = line.trim_start().strip_prefix('-') else {
        return false;
    };
    let item = item.split(" #").next().unwrap_or(item).trim();
    let unquoted = item.trim_matches(['"', '\'']);
    unquoted == text.trim()
}

fn conda_spec(spec: &str, line: Option<u32>, sink: &mut Sink) {
    match parse_match_spec(spec) {
        Ok(parsed) => {
            let mut dependency = conda_dependency(sink, &parsed.name, Evidence::Unknown, line);
            dependency.version = parsed.version;
            dependency.requirement = parsed.requirement;
            sink.push(dependency);
        }
        Err(error) => sink.parse_error(line, error),
    }
}

/// The `pip:` entries are requirements-file lines: rebuild them at their own line numbers and let
/// the requirements parser read them (includes relative to the environment file).
fn pip_section(pip_lines: &[(u32, String)], file: Option<(&Path, &Path)>, sink: &mut Sink) {
    if pip_lines.is_empty() {
        return;
    }
    let last = pip_lines.iter().map(|(line, _)| *line).max().unwrap_or(0) as usize;
    let mut synthetic = vec![String::new(); last.saturating_add(1)];
    let mut unplaced = Vec::new();
    for (line, text) in pip_lines {
        // Continuations are meaningless inside YAML items; keep each entry on its own line.
        let text = text.trim_end_matches('\\').to_string();
        match synthetic.get_mut((*line as usize).wrapping_sub(1)) {
            Some(slot) if *line > 0 && slot.is_empty() => *slot = text,
            _ => unplaced.push(text),
        }
    }
    synthetic.extend(unplaced);
    let content = synthetic.join("\n");
    match file {
        Some((path, root)) => {
            let display = sink.display.clone();
            requirements::parse_with_includes(&content, path, &display, root, sink);
        }
        None => requirements::parse_without_includes(&content, sink),
    }
}

/// conda-lock files (`conda-lock.yml`): `package:` entries with `manager: conda|pip`. The same
/// package locked for several platforms is recorded once (first line).
pub(crate) fn parse_conda_lock(content: &str, sink: &mut Sink) {
    let document: serde_yaml::Value = match serde_yaml::from_str(content) {
        Ok(document) => document,
        Err(error) => return yaml_error(sink, &error),
    };
    let Some(packages) = document.get("package").and_then(|p| p.as_sequence()) else {
        sink.parse_error(None, "conda-lock file without a `package` list");
        return;
    };
    let mut search = ForwardLineSearch::new(content);
    let mut seen = BTreeSet::new();
    for package in packages {
        let Some(name) = package.get("name").and_then(yaml_scalar) else {
            sink.parse_error(None, "conda-lock package without a `name`");
            continue;
        };
        let line = search.find(|l| yaml_key_is(l, "name", &name));
        let version = package.get("version").and_then(yaml_scalar);
        let manager = package
            .get("manager")
            .and_then(|m| m.as_str())
            .unwrap_or("conda")
            .to_string();
        if !seen.insert((manager.clone(), name.clone(), version.clone())) {
            continue;
        }
        let mut dependency = if manager == "pip" {
            sink.pypi(&name, line)
        } else {
            let depends_on_python = package
                .get("dependencies")
                .and_then(|d| d.as_mapping())
                .is_some_and(|d| d.keys().any(|k| k.as_str() == Some("python")));
            let evidence = if depends_on_python {
                Evidence::Python
            } else {
                Evidence::Unknown
            };
            conda_dependency(sink, &name, evidence, line)
        };
        dependency.version = version;
        dependency.direct_url = package
            .get("url")
            .and_then(|u| u.as_str())
            .filter(|_| manager == "pip")
            .and_then(|u| {
                // Index downloads are not direct references; VCS and local ones are.
                (u.starts_with("git+") || u.starts_with("file:")).then(|| u.to_string())
            });
        if dependency.version.is_none() && dependency.direct_url.is_none() {
            dependency.requirement = Some(String::new());
        }
        sink.push(dependency);
    }
}

fn yaml_scalar(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a YAML line is `key: value` (optionally as a list item, quoted).
fn yaml_key_is(line: &str, key: &str, value: &str) -> bool {
    let line = line.trim_start().trim_start_matches('-').trim_start();
    let Some(rest) = line
        .strip_prefix(key)
        .and_then(|r| r.trim_start().strip_prefix(':'))
    else {
        return false;
    };
    rest.split(" #")
        .next()
        .unwrap_or(rest)
        .trim()
        .trim_matches(['"', '\''])
        == value
}

/// One installed conda package (`<prefix>/conda-meta/<name>-<version>-<build>.json`).
pub(crate) fn parse_conda_meta(content: &str, sink: &mut Sink) {
    let lines = LineIndex::new(content);
    let record = match json::parse(content) {
        Ok(record) => record,
        Err(error) => {
            sink.parse_error(
                Some(lines.line(error.offset)),
                format!("invalid JSON: {}", error.message),
            );
            return;
        }
    };
    let Some(name_node) = record.get("name") else {
        sink.parse_error(Some(1), "conda-meta record without a `name`");
        return;
    };
    let Some(name) = name_node.as_str() else {
        sink.parse_error(
            Some(lines.line(name_node.offset)),
            "conda-meta `name` is not a string",
        );
        return;
    };
    let line = Some(lines.line(name_node.offset));
    let files: Vec<&str> = record
        .get("files")
        .map(|f| f.as_array().iter().filter_map(json::Node::as_str).collect())
        .unwrap_or_default();
    let dist_info_name = files.iter().find_map(|f| dist_info_project(f));
    let depends_on_python = record.get("depends").is_some_and(|d| {
        d.as_array()
            .iter()
            .filter_map(json::Node::as_str)
            .any(|dep| {
                dep == "python" || dep.starts_with("python ") || dep.starts_with("python_abi")
            })
    });
    let evidence = if dist_info_name.is_some() || depends_on_python {
        Evidence::Python
    } else if !files.is_empty() {
        Evidence::NotPython
    } else {
        Evidence::Unknown
    };
    let mut dependency = conda_dependency(sink, name, evidence, line);
    if let Some(project) = dist_info_name.filter(|_| dependency.ecosystem == "PyPI")
        && !CONDA_TO_PYPI
            .iter()
            .any(|(conda, _)| conda.eq_ignore_ascii_case(name))
    {
        dependency.normalized_name = names::normalize_pypi_name(&project);
    }
    dependency.version = record.str_at("version").map(str::to_string);
    if dependency.version.is_none() {
        dependency.requirement = Some(String::new());
        sink.parse_error(
            line,
            format!("conda-meta record for `{name}` has no `version`"),
        );
    }
    sink.push(dependency);
}

/// `lib/python3.11/site-packages/torch-2.1.0.dist-info/METADATA` → `torch`.
fn dist_info_project(file: &str) -> Option<String> {
    let mut parts = file.split('/');
    parts.find(|p| *p == "site-packages")?;
    let directory = parts.next()?;
    let stem = directory
        .strip_suffix(".dist-info")
        .or_else(|| directory.strip_suffix(".egg-info"))?;
    let (project, _) = stem.split_once('-')?;
    (!project.is_empty()).then(|| project.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> MatchSpec {
        parse_match_spec(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn match_specs() {
        let exact = spec("pytorch::pytorch=2.1.0=py3.10_cuda11.8_cudnn8.7.0_0");
        assert_eq!(
            (exact.name.as_str(), exact.version.as_deref()),
            ("pytorch", Some("2.1.0"))
        );
        assert_eq!(spec("numpy==1.26.4").version.as_deref(), Some("1.26.4"));
        assert_eq!(spec("numpy=1.26").requirement.as_deref(), Some("==1.26.*"));
        assert_eq!(spec("numpy>=1.24").requirement.as_deref(), Some(">=1.24"));
        assert_eq!(
            spec("numpy >=1.24,<2").requirement.as_deref(),
            Some(">=1.24,<2")
        );
        assert_eq!(spec("python=3.10").requirement.as_deref(), Some("==3.10.*"));
        assert_eq!(
            spec("numpy 1.26.4 py311_0").version.as_deref(),
            Some("1.26.4")
        );
        assert_eq!(
            spec("numpy 1.26.*").requirement.as_deref(),
            Some("==1.26.*")
        );
        assert_eq!(spec("pip").requirement.as_deref(), Some(""));
        assert_eq!(
            spec("conda-forge::numpy[version='>=1.24']")
                .requirement
                .as_deref(),
            Some(">=1.24")
        );
        assert_eq!(
            spec("numpy[version='1.26.4', build=py311_0]")
                .version
                .as_deref(),
            Some("1.26.4")
        );
        assert!(parse_match_spec("").is_err());
        assert!(parse_match_spec("=1.0").is_err());
        assert!(parse_match_spec("numpy[version=1").is_err());
    }

    #[test]
    fn conda_names_map_to_pypi() {
        assert_eq!(conda_to_pypi_name("pytorch").as_deref(), Some("torch"));
        assert_eq!(conda_to_pypi_name("py-xgboost").as_deref(), Some("xgboost"));
        assert_eq!(conda_to_pypi_name("numpy").as_deref(), Some("numpy"));
        assert_eq!(conda_to_pypi_name("librosa").as_deref(), Some("librosa"));
        for native in [
            "python",
            "cudatoolkit",
            "openssl",
            "libgcc-ng",
            "_libgcc_mutex",
            "pytorch-cuda",
            "cuda-nvrtc",
        ] {
            assert_eq!(conda_to_pypi_name(native), None, "{native}");
        }
    }

    #[test]
    fn dist_info_names() {
        assert_eq!(
            dist_info_project("lib/python3.11/site-packages/torch-2.1.0.dist-info/METADATA")
                .as_deref(),
            Some("torch")
        );
        assert_eq!(
            dist_info_project("Lib/site-packages/PyYAML-6.0.1.dist-info/RECORD").as_deref(),
            Some("PyYAML")
        );
        assert_eq!(dist_info_project("bin/python3.11"), None);
    }
}
