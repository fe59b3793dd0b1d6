use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pth-startup-code",
    category: "python-startup",
    summary: "A .pth file in a site directory runs code at every Python start",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reads every `*.pth` file directly inside a `site-packages` or `dist-packages` directory the way
Python's `site` module does: each line that starts with `import ` or `import<TAB>` is executed when
any Python interpreter of that environment starts; other lines are path entries or comments. Lines
are split on every separator any Python version uses (3.13's `str.splitlines` also splits on `\v`,
`\f`, `\x1c`-`\x1e`, `\x85`, U+2028/2029), so a line hidden after such a byte in a comment is seen.

The hooks well-known tools install are recognised by their exact text or template and not reported:
setuptools (`distutils-precedence.pth`, `*-nspkg.pth` namespace packages, `easy-install.pth`,
`__editable__.*.pth` finders), virtualenv (`import _virtualenv`), pywin32, coverage
(`a1_coverage.pth`) and pytest-cov (`pytest-cov.pth`). Any other executed line is reported:

- **malicious** (critical) when it spawns processes (`subprocess`, `os.system`, `pty`, `ctypes`...),
  opens connections (`socket`, `urllib`, `requests`...) or executes decoded content (`exec`/`eval`/
  `compile`/`__import__` together with `base64`, `codecs`, `zlib`, `marshal`, `bytes.fromhex`...);
- **suspicious** (high) when it builds code dynamically (`exec`, `eval`, `__import__`...);
- **suspicious** (medium) otherwise: it imports a module at every start.

## Why is this bad?
A `.pth` hook runs in every Python process of the environment, whether or not the package that
installed it is ever imported: training jobs, notebooks, CI, the scanner's own Python tools. It is
the persistence mechanism of choice for malicious packages: the compromised `litellm` 1.82.8 release
(OSV `MAL-2026-2144`) installed `litellm_init.pth`, which ran a base64-encoded credential stealer
at every interpreter start (BerriAI/litellm issue #24512).

## Example
`litellm_init.pth`:
`import os, subprocess, sys; subprocess.Popen([sys.executable, "-c", "import base64; exec(base64.b64decode('...'))"])`

## Remediation
Find the package that installed the file (`pip show -f`, the `RECORD` files), remove both, rotate
the credentials the environment could reach, and rebuild the environment from a hash-pinned lock.

## References
- Python documentation, `site` module: "Lines starting with `import` are executed"
- OSV `MAL-2026-2144` (litellm), BerriAI/litellm issue #24512
- <https://docs.python.org/3/library/site.html>
- <https://osv.dev/vulnerability/MAL-2026-2144>
"#,
};

pub fn finding(location: Location, message: String, line: &str) -> Finding {
    Finding::new(&RULE, location, message)
        .evidence("line", line)
        .remediation(
            "Remove the .pth file and the package that installed it; rebuild the environment from a locked, hash-checked source.",
        )
}
