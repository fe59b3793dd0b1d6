use mlvet_core::{
    Confidence, Finding, InventoryPackage, Location, PackageRef, RuleMeta, Severity, Verdict,
};
use mlvet_inventory::normalize_pypi_name;

pub static RULE: RuleMeta = RuleMeta {
    id: "possible-typosquat",
    category: "dependency",
    summary: "A dependency's name is one edit away from a well-known ML package",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Compares every PyPI dependency of the inventory (PEP 503-normalised) with mlvet's curated list of
ML packages (`docs/ml-packages.md`) plus the data-science basics (`numpy`, `pandas`, `scipy`,
`matplotlib`, `requests`...). A name that is not itself on the list and is one edit away from a
listed name of at least five characters — one character inserted, deleted or replaced, two
adjacent characters swapped, or separators dropped or moved (`scikitlearn`, `hugging-facehub`) —
is reported. Legitimate siblings that happen to be that close (`torchx`, `dataset`, `wand`,
`scapy`, ...) are on an allow-list.

`dependency-malicious-package` (OSV `MAL-` records) is the authoritative signal for known
malware; this rule is a review prompt for names nobody has reported yet.

## Why is this bad?
Typosquats of data-science packages (`numipy`, `mateplotlib`, `openvc`, `pysprak`) were removed
from PyPI after their `setup.py` exfiltrated host data; LLM-hallucinated names (`huggingface-cli`)
have been registered and downloaded tens of thousands of times. A one-letter slip in a
requirements file installs the attacker's code.

## Example
```text
trasnformers==4.40.0   # transformers
```

## Remediation
Check the name against the project you meant (its repository, its maintainers, its download
history); fix the typo, remove the package, and if it was installed, treat the machine as
compromised.

## References
- [PyPI removes data-science typosquats (pypi/warehouse#3948)](https://github.com/pypi/warehouse/issues/3948)
- [GuardDog typosquatting heuristic](https://github.com/DataDog/guarddog)
"#,
};

/// Well-known data-science and infrastructure names typosquatted alongside the ML list.
const EXTRA_TARGETS: &[&str] = &[
    "numpy",
    "pandas",
    "scipy",
    "matplotlib",
    "requests",
    "pillow",
    "opencv-python",
    "pyspark",
    "seaborn",
    "plotly",
    "sympy",
    "pytorch-lightning",
    "lightning",
    "tensorboard",
    "sentencepiece",
    "pyyaml",
    "protobuf",
    "setuptools",
    "urllib3",
    "cryptography",
    "boto3",
    "jupyter",
    "notebook",
    "ipython",
    "sentence-transformers",
    "open-clip-torch",
    "pytorch-triton",
    "triton",
    "huggingface-hub",
    "torchaudio",
    "torchvision",
    "tf-keras",
    "tensorflow-gpu",
];

/// Names one edit away from a target that are legitimate, separate projects.
const ALLOWED_SIBLINGS: &[&str] = &[
    "torchx",
    "torcs",
    "dataset",
    "wand",
    "scapy",
    "panda",
    "tokenizer",
    "transformer",
    "diffuser",
    "openapi",
    "pandas2",
    "numpy2",
    "keras2",
    "scipy2",
    "tensorflow2",
    "pytorch",
    "onnx2",
    "jaxlib",
    "xformer",
    "pillow2",
    "request",
    "notebooks",
    "tritonclient",
    "triton3",
    "lightning2",
    "evaluator",
    "mlflows",
    "datasette",
    "spacy",
    "fastapi",
    "pyspark2",
    "pyyml",
    "plotnine",
    "seaborn2",
    "rapids",
    "optimum",
    "setuptools-scm",
    "boto",
    "boto2",
    "peft",
    "accelerated",
    "numba",
    "ipython2",
    "jupyterlab",
    "gradio-client",
    "vllm",
];

/// Shortest target name compared (shorter names have too many legitimate neighbours).
const MIN_TARGET_LEN: usize = 5;

/// The comparison targets, with their separator-free forms, built once.
struct Targets {
    names: std::collections::HashSet<&'static str>,
    /// (name, name without `-`) of every target long enough to compare.
    compared: Vec<(&'static str, String)>,
}

static TARGETS: std::sync::LazyLock<Targets> = std::sync::LazyLock::new(|| {
    let all: Vec<&'static str> = mlvet_osv::ml::ml_packages()
        .iter()
        .map(|p| p.name)
        .chain(EXTRA_TARGETS.iter().copied())
        .collect();
    Targets {
        names: all.iter().copied().collect(),
        compared: all
            .iter()
            .filter(|t| t.len() >= MIN_TARGET_LEN)
            .map(|t| (*t, t.replace('-', "")))
            .collect(),
    }
});

/// The well-known name `name` (normalised) is one edit from, if any. Linear in the number of
/// targets with no allocation per comparison: inventories of 300,000 packages stay cheap.
pub fn nearest_target(name: &str) -> Option<&'static str> {
    let targets = &*TARGETS;
    if !name.is_ascii() || ALLOWED_SIBLINGS.contains(&name) || targets.names.contains(name) {
        return None;
    }
    let stripped = name.replace('-', "");
    targets
        .compared
        .iter()
        .find(|(target, target_stripped)| {
            (target.len().abs_diff(name.len()) <= 1 && one_edit(name.as_bytes(), target.as_bytes()))
                || (*target_stripped == stripped && *target != name)
        })
        .map(|(target, _)| *target)
}

/// Levenshtein distance exactly 1, or one adjacent transposition (optimal string alignment).
fn one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return false;
    }
    if a.len() == b.len() {
        let mut diffs = (0..a.len()).filter(|&i| a[i] != b[i]);
        let (Some(i), second, third) = (diffs.next(), diffs.next(), diffs.next()) else {
            return false;
        };
        return match (second, third) {
            (None, _) => true,
            (Some(j), None) => j == i + 1 && a[i] == b[j] && a[j] == b[i],
            _ => false,
        };
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    if long.len() != short.len() + 1 {
        return false;
    }
    let first = (0..short.len())
        .find(|&i| long[i] != short[i])
        .unwrap_or(short.len());
    long[first + 1..] == short[first..]
}

/// Findings for the inventory's PyPI packages (one per distinct name and file).
pub fn check(packages: &[InventoryPackage]) -> Vec<Finding> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for package in packages {
        if !package.ecosystem.eq_ignore_ascii_case("pypi") {
            continue;
        }
        let normalized = normalize_pypi_name(&package.name);
        let Some(target) = nearest_target(&normalized) else {
            continue;
        };
        if !seen.insert((package.source.file.clone(), normalized.clone())) {
            continue;
        }
        let mut location = Location::file(&package.source.file);
        if let Some(line) = package.source.line {
            location = location.with_line(line);
        }
        out.push(
            Finding::new(
                &RULE,
                location,
                format!(
                    "`{}` is one edit away from the well-known package `{target}`: check that it \
                     is the package you meant",
                    package.name
                ),
            )
            .confidence(Confidence::Medium)
            .evidence("package", package.name.clone())
            .evidence("similar to", target)
            .remediation(format!(
                "if you meant `{target}`, fix the name; if `{}` was installed, remove it and \
                 treat the machine as compromised",
                package.name
            ))
            .package(PackageRef {
                ecosystem: package.ecosystem.clone(),
                name: package.name.clone(),
                version: package.version.clone(),
                requirement: package.requirement.clone(),
                markers: package.markers.clone(),
                source: package.source.clone(),
                ml: package.ml,
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits() {
        assert_eq!(nearest_target("trasnformers"), Some("transformers"));
        assert_eq!(nearest_target("numipy"), Some("numpy"));
        assert_eq!(
            nearest_target("pytorch-lightnin"),
            Some("pytorch-lightning")
        );
        assert_eq!(nearest_target("huggingfacehub"), Some("huggingface-hub"));
        assert_eq!(nearest_target("transformers"), None);
        assert_eq!(nearest_target("torchx"), None);
        assert_eq!(nearest_target("dataset"), None);
        assert_eq!(nearest_target("flask"), None);
        assert_eq!(nearest_target("torch"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(name in "[a-z0-9-]{0,30}") {
            let _ = nearest_target(&name);
        }
    }
}
