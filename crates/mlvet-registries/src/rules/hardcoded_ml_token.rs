use std::sync::LazyLock;

use mlvet_core::{Confidence, Finding, Location, RuleMeta, Severity, Verdict};
use regex::Regex;

use crate::text::{credentials_span, is_variable, line_of};

pub static RULE: RuleMeta = RuleMeta {
    id: "hardcoded-ml-token",
    category: "secret",
    summary: "A Hugging Face, W&B or model-API token, or an index URL with credentials, is written into the project",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Searches code, notebooks (sources and saved outputs), Dockerfiles (`ENV`/`ARG`), `.env` files,
CI workflows, configuration and requirements files for tokens shaped like real ones:

- Hugging Face user and organisation tokens (`hf_` / `api_org_` + 34 letters);
- OpenAI (`sk-proj-…`, `sk-svcacct-…`, `sk-admin-…`, legacy `sk-…T3BlbkFJ…`), Anthropic
  (`sk-ant-api03-…`, `sk-ant-admin01-…`), Replicate (`r8_…`), Groq (`gsk_…`), Google AI
  (`AIza…`) keys;
- W&B API keys (40 hex, or `local-` + 40 hex) assigned to `WANDB_API_KEY` or passed to
  `wandb.login(key=…)`;
- high-entropy literals assigned to well-known ML secret names (`HF_TOKEN`, `OPENAI_API_KEY`,
  `KAGGLE_KEY`, `COMET_API_KEY`, `NEPTUNE_API_TOKEN`, ...);
- URLs with an embedded password or token (`https://user:token@index/simple`).

Placeholders (`hf_xxx…`, `your-token-here`, `<token>`, `${HF_TOKEN}`, low-entropy strings) are
ignored. The evidence shows only the first characters and the length: mlvet never prints a token.

## Why is this bad?
In 2023 Lasso Security found 1,681 valid Hugging Face and GitHub tokens in public code, 655 with
write access to organisations such as Meta-Llama, BigScience and EleutherAI: enough to replace
models that thousands of pipelines download. A token in a Docker layer, a notebook output or a
workflow file is readable by everyone who can read the repository or the image.

## Example
```dockerfile
ENV HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh
```

## Remediation
Revoke the token now (it must be considered leaked, also from history), then pass secrets at run
time: CI secrets, `RUN --mount=type=secret`, environment variables from a secret manager, and
`huggingface-cli login` on the machine rather than in code.

## References
- [Lasso Security: 1,500+ Hugging Face API tokens exposed](https://www.lasso.security/blog/1500-huggingface-api-tokens-were-exposed-leaving-millions-of-meta-llama-bloom-and-pythia-users-for-grabs)
- [Hugging Face: user access tokens](https://huggingface.co/docs/hub/security-tokens)
- [gitleaks rules](https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml)
"#,
};

/// One token shape.
struct Shape {
    what: &'static str,
    regex: Regex,
    /// Capture group holding the secret.
    group: usize,
}

fn shape(what: &'static str, pattern: &str, group: usize) -> Option<Shape> {
    Regex::new(pattern)
        .ok()
        .map(|regex| Shape { what, regex, group })
}

static SHAPES: LazyLock<Vec<Shape>> = LazyLock::new(|| {
    [
        shape("Hugging Face token", r"\b(hf_[A-Za-z]{34})\b", 1),
        shape("Hugging Face organisation token", r"\b(api_org_[A-Za-z]{34})\b", 1),
        shape("OpenAI API key", r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200})", 1),
        shape("OpenAI API key", r"\b(sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b", 1),
        shape("Anthropic API key", r"\b(sk-ant-(?:api03|admin01)-[A-Za-z0-9_\-]{80,120})", 1),
        shape("Replicate API token", r"\b(r8_[A-Za-z0-9]{37})\b", 1),
        shape("Groq API key", r"\b(gsk_[A-Za-z0-9]{52})\b", 1),
        shape("Google AI API key", r"\b(AIza[0-9A-Za-z_\-]{35})\b", 1),
        shape(
            "W&B API key",
            r#"(?i)WANDB_API_KEY["']?\s*[:=]\s*["']?((?:local-)?[0-9a-f]{40})\b"#,
            1,
        ),
        shape(
            "W&B API key",
            r#"wandb\.login\([^)]{0,200}key\s*=\s*["']((?:local-)?[0-9a-f]{40})["']"#,
            1,
        ),
        shape(
            "ML service secret",
            r#"(?i)\b(?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACE_TOKEN|HF_API_TOKEN|OPENAI_API_KEY|ANTHROPIC_API_KEY|COHERE_API_KEY|MISTRAL_API_KEY|REPLICATE_API_TOKEN|KAGGLE_KEY|COMET_API_KEY|NEPTUNE_API_TOKEN|MLFLOW_TRACKING_PASSWORD|TOGETHER_API_KEY)["']?\s*[:=]\s*["']?([A-Za-z0-9_\-.]{24,200})"#,
            1,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

static URL_CREDENTIALS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>@/]+@[^\s"'<>]+"#).ok());

/// Most findings reported per file (a dump of keys is one problem, not thousands).
const MAX_PER_FILE: usize = 50;

/// Shows a secret without revealing it: its first characters and its length.
pub fn redact(secret: &str) -> String {
    let shown: String = secret.chars().take(6).collect();
    format!("{shown}… ({} chars)", secret.chars().count())
}

/// Tokens in one text file.
pub fn check(display: &str, text: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for shape in SHAPES.iter() {
        for captures in shape.regex.captures_iter(text) {
            if out.len() >= MAX_PER_FILE {
                return out;
            }
            let Some(secret) = captures.get(shape.group) else {
                continue;
            };
            // The specific shapes run first; the generic assignment must not report them again.
            if seen
                .iter()
                .any(|&(s, e)| secret.start() < e && s < secret.end())
            {
                continue;
            }
            if is_placeholder(secret.as_str()) {
                continue;
            }
            seen.push((secret.start(), secret.end()));
            let generic = shape.what == "ML service secret";
            let mut finding = Finding::new(
                &RULE,
                Location::file(display).with_line(line_of(text, secret.start())),
                format!(
                    "{} written into the file: {}",
                    shape.what,
                    redact(secret.as_str())
                ),
            )
            .evidence("kind", shape.what)
            .evidence("token", redact(secret.as_str()))
            .remediation(
                "revoke the token now (treat it as leaked, history included) and pass it at run \
                 time from a secret store",
            );
            if generic {
                finding = finding.confidence(Confidence::Medium);
            }
            out.push(finding);
        }
    }
    if let Some(regex) = URL_CREDENTIALS.as_ref() {
        for url in regex.find_iter(text) {
            if out.len() >= MAX_PER_FILE {
                break;
            }
            let Some((start, end)) = credentials_span(url.as_str()) else {
                continue;
            };
            let userinfo = &url.as_str()[start..end - 1];
            let Some((user, password)) = userinfo.split_once(':') else {
                continue;
            };
            if password.is_empty() || is_variable(password) || is_placeholder(password) {
                continue;
            }
            // Tokens used as the whole password are often short-ish but never trivially low entropy.
            if password.len() < 8 || entropy(password) < 2.5 {
                continue;
            }
            let shown = format!(
                "{}{user}:{}@{}",
                &url.as_str()[..start],
                redact(password),
                &url.as_str()[end..]
            );
            out.push(
                Finding::new(
                    &RULE,
                    Location::file(display).with_line(line_of(text, url.start())),
                    format!("URL with embedded credentials: {shown}"),
                )
                .evidence("kind", "URL credentials")
                .evidence("token", redact(password))
                .remediation(
                    "revoke the credential and configure it outside the repository (keyring, \
                     netrc, environment variables referenced as ${VAR})",
                ),
            );
        }
    }
    out
}

/// Documentation placeholders and low-entropy strings.
fn is_placeholder(secret: &str) -> bool {
    let lower = secret.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "xxxx",
        "your",
        "example",
        "placeholder",
        "dummy",
        "fake",
        "redacted",
        "changeme",
        "token_here",
        "tokenhere",
        "insert",
        "sample",
        "replace",
        "secret_here",
        "mytoken",
        "abcdefghij",
        "0123456789",
        "1234567890",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if secret.starts_with('<')
        || secret.contains("...")
        || secret.contains('*')
        || is_variable(secret)
    {
        return true;
    }
    // Long runs of one character (`hf_aaaaaaaa…`).
    let bytes = secret.as_bytes();
    let mut run = 1;
    for window in bytes.windows(2) {
        run = if window[0] == window[1] { run + 1 } else { 1 };
        if run >= 6 {
            return true;
        }
    }
    let body = secret
        .split_once(['_', '-'])
        .map_or(secret, |(_, rest)| rest);
    entropy(body) < 3.0
}

/// Shannon entropy in bits per character.
fn entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    let mut total = 0usize;
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HF: &str = "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";

    #[test]
    fn real_shapes_are_found_and_redacted() {
        let text = format!("import os\nTOKEN = \"{HF}\"\n");
        let findings = check("a.py", &text);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].location.line, Some(2));
        assert!(!findings[0].message.contains(HF));
        assert!(findings[0].evidence.iter().all(|e| !e.value.contains(HF)));
    }

    #[test]
    fn placeholders_are_ignored() {
        for text in [
            "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "HF_TOKEN=${HF_TOKEN}",
            "token = \"hf_YOURTOKENHEREYOURTOKENHEREYOURTOKE\"",
            "OPENAI_API_KEY=<your-key>",
            "--extra-index-url https://${USER}:${PASSWORD}@pkgs.example.invalid/simple",
        ] {
            assert!(check("x", text).is_empty(), "{text}");
        }
    }

    #[test]
    fn url_credentials() {
        let text = "--extra-index-url https://ci:Zx9q2LmP7vR4tK8w@pkgs.example.invalid/simple\n";
        let findings = check("requirements.txt", text);
        assert_eq!(findings.len(), 1);
        assert!(!findings[0].message.contains("Zx9q2LmP7vR4tK8w"));
    }

    #[test]
    fn wandb_keys() {
        let text = "WANDB_API_KEY=3f9a1c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39\n";
        assert_eq!(check(".env", text).len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,400}") {
            let _ = check("x", &text);
        }
    }
}
