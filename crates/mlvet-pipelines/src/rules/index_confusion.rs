//! `index-confusion` on command lines and in environment settings. The rule's documentation
//! (`RuleMeta`) lives with the configuration-file checks in the registries crate; this file emits
//! the same public id for Dockerfiles, shell scripts, CI steps, container commands and notebooks.

use mlvet_core::{Confidence, Finding, Severity};

use crate::facts::{Facts, external_finding, option_value, option_values};
use crate::installer::{self, Installer};

pub const ID: &str = "index-confusion";

const PIP_SEMANTICS: &str = "pip pools every index and installs the highest version found on any of them, so a public upload of an internal name with a higher version wins (the PyTorch-nightly `torchtriton` compromise, Dec 2022)";
const UV_SEMANTICS: &str = "uv takes each package from the first index that has it, consulting extra indexes before the default one";

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (_, command) in facts.commands() {
        let location = facts.at(command.line);
        // `pip config set global.extra-index-url URL` writes the same setting to pip.conf.
        if matches!(command.program(), "pip" | "pip3")
            && command.args().first().is_some_and(|a| a == "config")
            && command
                .args()
                .iter()
                .any(|a| a.ends_with("extra-index-url"))
        {
            findings.push(
                external_finding(
                    ID,
                    Severity::High,
                    location.clone(),
                    format!(
                        "`pip config set …extra-index-url` in {} adds an extra index to pip's configuration: {PIP_SEMANTICS}",
                        facts.kind.command_site()
                    ),
                )
                .evidence("installer", "pip")
                .evidence("command", command.display())
                .remediation(REMEDIATION),
            );
            continue;
        }
        let Some(install) = installer::install_of(command) else {
            continue;
        };
        let extras = option_values(install.args, &["--extra-index-url"]);
        let strategy = option_value(install.args, &["--index-strategy"])
            .map(str::to_string)
            .or_else(|| {
                command
                    .assignments
                    .iter()
                    .find(|(n, _)| n == "UV_INDEX_STRATEGY")
                    .map(|(_, v)| v.clone())
            });
        let hashed = install.has_flag(&["--require-hashes"]);
        match install.installer {
            Installer::Pip => {
                if extras.is_empty() {
                    continue;
                }
                let (severity, note) = if hashed {
                    (
                        Severity::Medium,
                        " (hash checking limits the damage to versions whose hashes were locked)",
                    )
                } else {
                    (Severity::High, "")
                };
                let mut finding = external_finding(
                    ID,
                    severity,
                    location,
                    format!(
                        "pip install with --extra-index-url in {}: {PIP_SEMANTICS}{note}",
                        facts.kind.command_site()
                    ),
                )
                .evidence("installer", "pip")
                .evidence("command", command.display())
                .remediation(REMEDIATION);
                for extra in extras {
                    finding = finding.evidence("extra-index-url", redact(extra));
                }
                findings.push(finding);
            }
            Installer::Uv => {
                if let Some(strategy) = strategy.filter(|s| s.starts_with("unsafe-")) {
                    findings.push(
                        external_finding(
                            ID,
                            Severity::High,
                            location,
                            format!(
                                "uv with index strategy `{strategy}` in {}: uv then considers every index for every package, like pip, so a public upload can shadow an internal name",
                                facts.kind.command_site()
                            ),
                        )
                        .evidence("installer", "uv")
                        .evidence("command", command.display())
                        .remediation(REMEDIATION),
                    );
                    continue;
                }
                if extras.is_empty() {
                    continue;
                }
                let has_default =
                    option_value(install.args, &["--index-url", "-i", "--default-index"]).is_some();
                let (severity, confidence, detail) = if has_default {
                    (
                        Severity::High,
                        Confidence::High,
                        "--extra-index-url is searched before --index-url, so a name present on the extra index is taken from it even when the --index-url index has it",
                    )
                } else {
                    (
                        Severity::Low,
                        Confidence::Low,
                        "safe only while the extra index is the internal one and holds every internal name; an internal name missing from it (404) falls through to the default index",
                    )
                };
                let mut finding = external_finding(
                    ID,
                    severity,
                    location,
                    format!(
                        "uv pip install with --extra-index-url in {}: {UV_SEMANTICS}; {detail}",
                        facts.kind.command_site()
                    ),
                )
                .confidence(confidence)
                .evidence("installer", "uv")
                .evidence("command", command.display())
                .remediation(REMEDIATION);
                for extra in extras {
                    finding = finding.evidence("extra-index-url", redact(extra));
                }
                findings.push(finding);
            }
        }
    }
    for setting in facts.all_env() {
        let location = facts.at(setting.line);
        let (severity, confidence, message) = match setting.name.as_str() {
            "PIP_EXTRA_INDEX_URL" if setting.value.trim().is_empty() && setting.how == "ARG" => (
                Severity::Medium,
                Confidence::Low,
                format!(
                    "build argument PIP_EXTRA_INDEX_URL declared in {}: when the build passes it, every pip install in the image uses an extra index; {PIP_SEMANTICS}",
                    facts.kind.describe()
                ),
            ),
            "PIP_EXTRA_INDEX_URL" if !setting.value.trim().is_empty() => (
                Severity::High,
                Confidence::High,
                format!(
                    "PIP_EXTRA_INDEX_URL set ({}) in {}: every pip install that follows uses the extra index; {PIP_SEMANTICS}",
                    setting.how,
                    facts.kind.describe()
                ),
            ),
            "UV_INDEX_STRATEGY"
                if setting
                    .value
                    .trim()
                    .trim_matches(['"', '\''])
                    .starts_with("unsafe-") =>
            {
                (
                    Severity::High,
                    Confidence::High,
                    format!(
                        "UV_INDEX_STRATEGY={} ({}) in {}: uv then considers every index for every package, like pip, so a public upload can shadow an internal name",
                        setting.value.trim(),
                        setting.how,
                        facts.kind.describe()
                    ),
                )
            }
            "UV_EXTRA_INDEX_URL" if !setting.value.trim().is_empty() => (
                Severity::Low,
                Confidence::Low,
                format!(
                    "UV_EXTRA_INDEX_URL set ({}) in {}: {UV_SEMANTICS}; safe only while the extra index is the internal one and holds every internal name",
                    setting.how,
                    facts.kind.describe()
                ),
            ),
            _ => continue,
        };
        findings.push(
            external_finding(ID, severity, location, message)
                .confidence(confidence)
                .evidence(
                    "installer",
                    if setting.name.starts_with("PIP_") {
                        "pip"
                    } else {
                        "uv"
                    },
                )
                .evidence("variable", setting.name.clone())
                .evidence("value", redact(&setting.value))
                .remediation(REMEDIATION),
        );
    }
    findings
}

const REMEDIATION: &str = "Use a single index (an internal proxy of the public index) with `--index-url`, or bind internal packages to their index (uv `[tool.uv.sources]` with an `explicit = true` index), and install from a lock with hashes.";

/// Index URLs may embed credentials (`https://user:token@host/simple`): never echo them.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
