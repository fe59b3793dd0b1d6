//! `container-unverified-fetch`: images and files fetched without integrity checks.

use std::collections::{BTreeMap, BTreeSet};

use mlvet_core::{Confidence, Finding, RuleMeta, Severity, Verdict};

use crate::dockerfile::Dockerfile;
use crate::facts::{Facts, SourceKind, option_value};
use crate::shell::{Command, Script};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-unverified-fetch",
    category: "pipeline",
    summary: "Base image, script or model weights fetched without a digest or checksum; ENV LD_PRELOAD in an image",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports what a build or pipeline fetches without verifying it:
- Dockerfile `FROM` without an `@sha256:` digest (build arguments in `FROM` resolved from their
  defaults; `scratch` and earlier stages skipped), and Kubernetes and Compose `image`s likewise.
  High when the image has no tag or `:latest`.
- `curl … | sh` (or `wget -O- … | bash`, `| python`, `| sudo sh`) and `sh -c "$(curl …)"`: a
  script downloaded and run unseen, in Dockerfiles, shell scripts, CI steps and notebooks.
- `ADD <url>` without `--checksum=sha256:…` (Dockerfile syntax 1.6 and later verify it).
- model weights or archives (`.bin`, `.pt`, `.pth`, `.ckpt`, `.safetensors`, `.gguf`, `.onnx`,
  `.h5`, `.pkl`, `.joblib`, `.tar.gz`, `.zip`…) downloaded with `curl`/`wget` and never checked
  with `sha256sum -c` (or `sha512sum`/`shasum -a 256 -c`, or a checksum tool run on that file)
  later in the same file.
- `ENV LD_PRELOAD=…` in a Dockerfile: the exact shape of the NVIDIA Container Toolkit escape
  CVE-2025-23266 ("NVIDIAScape"), where the image's environment reached a privileged hook on the
  GPU host. Memory allocators (`libjemalloc`, `libtcmalloc`, `libmimalloc`) are reported as info.

## Why is this bad?
Tags and URLs are mutable: the bytes behind `nvidia/cuda:12.4.1-runtime` or a release URL can change
between two builds without any change to the repository. For pickle-based weights, the bytes are
code. A downloaded script piped into a shell runs whatever the server (or anyone between) sends.

## Example
```dockerfile
FROM pytorch/pytorch                                  # high: no tag
RUN curl -fsSL https://example.invalid/install.sh | sh
ADD https://example.invalid/model.safetensors /models/
```

## Remediation
Pin images by digest (`FROM image:tag@sha256:…`), use `ADD --checksum=sha256:… <url>`, verify
downloads (`echo "<sha256>  model.pt" | sha256sum -c -`) before use, and download installers to a
file, verify them, then run them.

## References
- https://docs.docker.com/reference/dockerfile/#add---checksum
- https://github.com/ossf/scorecard/blob/main/docs/checks.md#pinned-dependencies
- https://www.wiz.io/blog/nvidia-ai-vulnerability-cve-2025-23266-nvidiascape
"#,
};

const WEIGHT_EXTENSIONS: &[&str] = &[
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".safetensors",
    ".gguf",
    ".ggml",
    ".onnx",
    ".h5",
    ".hdf5",
    ".keras",
    ".pkl",
    ".pickle",
    ".joblib",
    ".npy",
    ".npz",
    ".pb",
    ".tflite",
    ".mar",
    ".msgpack",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".zip",
    ".whl",
    ".model",
];

const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ash", "ksh", "python", "python3", "perl", "ruby", "node",
];

const CHECKSUM_TOOLS: &[&str] = &[
    "sha256sum",
    "sha512sum",
    "sha384sum",
    "sha1sum",
    "shasum",
    "b2sum",
    "md5sum",
    "cksum",
    "openssl",
    "gpg",
    "cosign",
];

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(dockerfile) = &facts.dockerfile {
        findings.extend(base_images(facts, dockerfile));
        findings.extend(remote_adds(facts, dockerfile));
        findings.extend(ld_preload(facts, dockerfile));
    }
    findings.extend(manifest_images(facts));
    for script in &facts.scripts {
        findings.extend(piped_downloads(facts, script));
    }
    findings.extend(unverified_weights(facts));
    findings
}

fn base_images(facts: &Facts<'_>, dockerfile: &Dockerfile) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut global_args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: BTreeSet<String> = BTreeSet::new();
    let mut seen_from = false;
    for instruction in &dockerfile.instructions {
        match instruction.keyword.as_str() {
            "ARG" if !seen_from => {
                for setting in Dockerfile::settings(instruction) {
                    if let Some(value) = setting.value {
                        global_args.insert(setting.name, value);
                    }
                }
            }
            "FROM" => {
                seen_from = true;
                let words: Vec<&str> = instruction.args.split_whitespace().collect();
                let Some(written) = words.first() else {
                    continue;
                };
                let (image, unresolved) = substitute(written, &global_args);
                let lower = image.to_ascii_lowercase();
                let earlier_stage = stages.contains(&lower);
                let alias = alias_of(&words);
                if !alias.is_empty() {
                    stages.insert(alias);
                }
                if lower == "scratch" || earlier_stage {
                    continue;
                }
                if image.contains("@sha256:") {
                    continue;
                }
                let (severity, what) = match tag_of(&image) {
                    None => (Severity::High, "has no tag (implicitly :latest)"),
                    Some("latest") => (Severity::High, "uses the :latest tag"),
                    Some(_) => (Severity::Medium, "is pinned by tag only"),
                };
                let mut finding = Finding::new(
                    &RULE,
                    facts.at(instruction.line),
                    format!("base image `{image}` {what}, not by digest: its content can change between builds"),
                )
                .severity(severity)
                .evidence("image", image.clone())
                .remediation("Pin the image by digest: `FROM image:tag@sha256:<digest>` (let Dependabot or Renovate update it).");
                if unresolved {
                    finding = finding.confidence(Confidence::Low).evidence(
                        "note",
                        format!("`{written}` uses a build argument without a default"),
                    );
                }
                findings.push(finding);
            }
            _ => {}
        }
    }
    findings
}

/// Container images of Kubernetes manifests, held to the same rule as `FROM`.
fn manifest_images(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for manifest in &facts.manifests {
        for container in &manifest.containers {
            let Some((image, line)) = &container.image else {
                continue;
            };
            if image.contains("@sha256:") || image.contains("{{") {
                continue;
            }
            let (severity, what) = match tag_of(image) {
                None => (Severity::High, "has no tag (implicitly :latest)"),
                Some("latest") => (Severity::High, "uses the :latest tag"),
                Some(_) => (Severity::Medium, "is pinned by tag only"),
            };
            findings.push(
                Finding::new(
                    &RULE,
                    facts.at(*line),
                    format!(
                        "container image `{image}` of {} `{}` {what}, not by digest: each node may pull different content",
                        manifest.kind,
                        container.name.as_deref().unwrap_or("?")
                    ),
                )
                .severity(severity)
                .evidence("image", image.clone())
                .remediation("Reference the image by digest: `image: name:tag@sha256:<digest>`."),
            );
        }
    }
    findings
}

/// The `AS` alias of a `FROM` (so an image named like an earlier stage is still checked).
fn alias_of(words: &[&str]) -> String {
    match (words.get(1), words.get(2)) {
        (Some(kw), Some(alias)) if kw.eq_ignore_ascii_case("as") => alias.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// `${NAME}`, `$NAME` and `${NAME:-default}` replaced from build-argument defaults; the flag says
/// whether some reference stayed unresolved.
fn substitute(text: &str, args: &BTreeMap<String, String>) -> (String, bool) {
    let mut out = String::new();
    let mut unresolved = false;
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, default, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => {
                    let body = &inner[..end];
                    let (name, default) = match body.split_once(":-") {
                        Some((n, d)) => (n, Some(d)),
                        None => (body, None),
                    };
                    (name.to_string(), default.map(str::to_string), end + 2)
                }
                None => (String::new(), None, 0),
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let len = name.len();
            (name, None, len)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        match args.get(&name).cloned().or(default) {
            Some(value) => out.push_str(&value),
            None => {
                unresolved = true;
                out.push_str(&rest[pos..pos + 1 + consumed]);
            }
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    (out, unresolved)
}

/// The tag of `registry:port/name:tag`, if any.
fn tag_of(image: &str) -> Option<&str> {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, tag)| tag)
}

fn remote_adds(facts: &Facts<'_>, dockerfile: &Dockerfile) -> Vec<Finding> {
    let mut findings = Vec::new();
    for instruction in &dockerfile.instructions {
        if instruction.keyword != "ADD" || instruction.flag("checksum").is_some() {
            continue;
        }
        let sources: Vec<String> = match instruction.exec_form() {
            Some(words) => words,
            None => instruction
                .args
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        let count = sources.len().saturating_sub(1);
        for source in sources.iter().take(count) {
            if !(source.starts_with("http://") || source.starts_with("https://")) {
                continue;
            }
            // A git repository URL pins by ref, not by checksum; still report a moving one.
            findings.push(
                Finding::new(
                    &RULE,
                    facts.at(instruction.line),
                    format!("`ADD {source}` downloads into the image without --checksum: the build takes whatever the URL serves"),
                )
                .severity(if is_weights(source) { Severity::High } else { Severity::Medium })
                .evidence("url", source.clone())
                .remediation("Add `--checksum=sha256:<digest>` (Dockerfile syntax 1.6+), or download and verify in a RUN step."),
            );
        }
    }
    findings
}

fn ld_preload(facts: &Facts<'_>, dockerfile: &Dockerfile) -> Vec<Finding> {
    let mut findings = Vec::new();
    for instruction in &dockerfile.instructions {
        if instruction.keyword != "ENV" {
            continue;
        }
        for setting in Dockerfile::settings(instruction) {
            if setting.name != "LD_PRELOAD" {
                continue;
            }
            let value = setting.value.unwrap_or_default();
            let allocator = ["jemalloc", "tcmalloc", "mimalloc"]
                .iter()
                .any(|a| value.contains(a));
            let (severity, what) = if allocator {
                (Severity::Info, "preloads a memory allocator")
            } else {
                (
                    Severity::Medium,
                    "preloads a library into every process of the image",
                )
            };
            // An allocator preload is informational: it does not make the image suspicious.
            let verdict = if allocator {
                Verdict::Safe
            } else {
                RULE.verdict
            };
            findings.push(
                Finding::new(
                    &RULE,
                    facts.at(instruction.line),
                    format!("`ENV LD_PRELOAD={value}` {what}; on GPU hosts the image environment reached the NVIDIA Container Toolkit's privileged hook (CVE-2025-23266)"),
                )
                .severity(severity)
                .verdict(verdict)
                .evidence("LD_PRELOAD", value)
                .remediation("Do not set LD_PRELOAD in the image; load allocators explicitly in the entrypoint, and keep the NVIDIA Container Toolkit at 1.17.8 or later."),
            );
        }
    }
    findings
}

fn is_download(command: &Command) -> bool {
    matches!(
        command.program(),
        "curl" | "wget" | "aria2c" | "fetch" | "http" | "iwr"
    )
}

fn url_of(command: &Command) -> Option<&str> {
    command
        .args()
        .iter()
        .map(String::as_str)
        .find(|a| a.starts_with("http://") || a.starts_with("https://") || a.starts_with("ftp://"))
}

fn piped_downloads(facts: &Facts<'_>, script: &Script) -> Vec<Finding> {
    let mut findings = Vec::new();
    for command in &script.commands {
        if is_download(command) {
            let Some(runner) = script
                .downstream(command.pipeline, command.stage)
                .find(|c| INTERPRETERS.contains(&c.program()))
            else {
                continue;
            };
            findings.push(download_then_run(
                facts,
                command.line,
                runner.program(),
                url_of(command),
                command.display(),
            ));
            continue;
        }
        // `sh -c "$(curl …)"`, `bash <(curl …)` kept as one word.
        if INTERPRETERS.contains(&command.program())
            && command.args().iter().any(|a| {
                let t = a.trim_start();
                t.starts_with("$(curl")
                    || t.starts_with("$(wget")
                    || t.starts_with("`curl")
                    || t.starts_with("`wget")
            })
        {
            findings.push(download_then_run(
                facts,
                command.line,
                command.program(),
                None,
                command.display(),
            ));
        }
    }
    findings
}

fn download_then_run(
    facts: &Facts<'_>,
    line: u32,
    runner: &str,
    url: Option<&str>,
    shown: String,
) -> Finding {
    let mut finding = Finding::new(
        &RULE,
        facts.at(line),
        format!(
            "a download is piped into `{runner}` in {}: the script runs unseen and unverified",
            facts.kind.command_site()
        ),
    )
    .evidence("command", shown)
    .remediation(
        "Download to a file, verify it against a pinned checksum (`sha256sum -c`), then run it.",
    );
    if let Some(url) = url {
        finding = finding.evidence("url", url);
    }
    finding
}

fn is_weights(name: &str) -> bool {
    let name = name
        .split(['?', '#'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    WEIGHT_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// The file a download writes, and the URL.
fn download_target(command: &Command) -> Option<(String, String)> {
    let url = url_of(command)?.to_string();
    let args = command.args();
    let output = match command.program() {
        "curl" => option_value(args, &["-o", "--output"])
            .map(str::to_string)
            .or_else(|| {
                args.iter()
                    .any(|a| {
                        a == "-O"
                            || a == "--remote-name"
                            || (a.starts_with('-') && !a.starts_with("--") && a.contains('O'))
                    })
                    .then(|| url_basename(&url))
            }),
        "wget" => option_value(args, &["-O", "--output-document"])
            .map(str::to_string)
            .or_else(|| Some(url_basename(&url))),
        _ => option_value(args, &["-o", "--out"])
            .map(str::to_string)
            .or_else(|| Some(url_basename(&url))),
    };
    let output = output?;
    if output == "-" {
        return None;
    }
    Some((output, url))
}

fn url_basename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path).to_string()
}

fn unverified_weights(facts: &Facts<'_>) -> Vec<Finding> {
    let commands: Vec<&Command> = facts.commands().map(|(_, c)| c).collect();
    let mut findings = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        if !is_download(command) {
            continue;
        }
        let Some((output, url)) = download_target(command) else {
            continue;
        };
        if !is_weights(&output) && !is_weights(&url) {
            continue;
        }
        let file_name = output.rsplit('/').next().unwrap_or(&output).to_string();
        let verified = commands.iter().skip(index).any(|later| {
            CHECKSUM_TOOLS.contains(&later.program())
                && (later
                    .args()
                    .iter()
                    .any(|a| a == "-c" || a == "--check" || a.contains(&file_name))
                    || later.args().iter().any(|a| a.ends_with(&file_name)))
        });
        if verified {
            continue;
        }
        let kind_note = if facts.kind == SourceKind::Dockerfile {
            " into the image"
        } else {
            ""
        };
        findings.push(
            Finding::new(
                &RULE,
                facts.at(command.line),
                format!("model file `{file_name}` is downloaded{kind_note} and never checked against a checksum"),
            )
            .evidence("url", url)
            .evidence("output", output)
            .remediation("Verify it right after the download: `echo \"<sha256>  FILE\" | sha256sum -c -` (or use `ADD --checksum=`)."),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arguments_resolve_in_from() {
        let mut args = BTreeMap::new();
        args.insert("BASE".to_string(), "nvidia/cuda:12.4.1".to_string());
        assert_eq!(
            substitute("${BASE}", &args),
            ("nvidia/cuda:12.4.1".to_string(), false)
        );
        assert_eq!(
            substitute("img:${TAG:-1.0}", &args),
            ("img:1.0".to_string(), false)
        );
        assert!(substitute("$MISSING", &args).1);
        assert_eq!(tag_of("registry.invalid:5000/org/img"), None);
        assert_eq!(tag_of("registry.invalid:5000/org/img:2"), Some("2"));
    }
}
