//! Recognises Python package installs on a command line: `pip install`, `pip3 install`,
//! `python -m pip install`, `uv pip install|sync`, `uv sync`, and reads their options.

use crate::shell::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    Pip,
    Uv,
}

impl Installer {
    pub fn name(self) -> &'static str {
        match self {
            Installer::Pip => "pip",
            Installer::Uv => "uv",
        }
    }
}

/// What the command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `pip install`, `uv pip install`.
    Install,
    /// `uv pip sync` (installs exactly a requirements file).
    PipSync,
    /// `uv sync` (the project's `uv.lock`).
    ProjectSync,
}

#[derive(Debug, Clone)]
pub struct Install<'a> {
    pub installer: Installer,
    pub action: Action,
    /// The words after the subcommand.
    pub args: &'a [String],
}

/// pip options that take a value (so their value is not a requirement).
const PIP_VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--no-binary",
    "--only-binary",
    "--config-settings",
    "-C",
    "--global-option",
    "--log",
    "--cache-dir",
    "--proxy",
    "--retries",
    "--timeout",
    "--cert",
    "--client-cert",
    "--python",
    "-p",
    "--index-strategy",
    "--index",
    "--default-index",
    "--extra",
    "--group",
    "--keyring-provider",
    "--resolution",
    "--prerelease",
    "--exclude-newer",
    "--uploaded-prior-to",
    "--report",
    "--hash",
    "--override",
    "--build-constraint",
    "--torch-backend",
    "--link-mode",
    "--python-platform",
    "--directory",
    "--project",
    "--package",
];

impl Install<'_> {
    /// Requirement arguments (package names, paths, URLs), options and their values left out.
    pub fn targets(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut iter = self.args.iter();
        while let Some(arg) = iter.next() {
            if arg.starts_with('-') {
                if PIP_VALUE_OPTIONS.contains(&arg.as_str()) {
                    iter.next();
                }
                continue;
            }
            out.push(arg.as_str());
        }
        out
    }

    /// Whether flag `name` is present (as `--name` or `--name=…`).
    pub fn has_flag(&self, names: &[&str]) -> bool {
        self.args.iter().any(|arg| {
            names
                .iter()
                .any(|n| arg == n || arg.strip_prefix(n).is_some_and(|r| r.starts_with('=')))
        })
    }
}

fn is_python(program: &str) -> bool {
    program == "python"
        || program == "py"
        || program
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn is_pip(program: &str) -> bool {
    program == "pip"
        || program
            .strip_prefix("pip")
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The first argument that is not an option, and the words after it.
fn subcommand(args: &[String]) -> Option<(&str, &[String])> {
    let position = args.iter().position(|a| !a.starts_with('-'))?;
    Some((args[position].as_str(), &args[position + 1..]))
}

/// The install this command performs, if it is one.
pub fn install_of(command: &Command) -> Option<Install<'_>> {
    let program = command.program();
    let args = command.args();
    // `python -m pip …`, `python3 -m uv pip …`.
    let (program, args): (&str, &[String]) = if is_python(program) {
        let position = args.iter().position(|a| a == "-m")?;
        let module = args.get(position + 1)?;
        (module.as_str(), &args[position + 2..])
    } else {
        (program, args)
    };
    if is_pip(program) {
        let (sub, rest) = subcommand(args)?;
        return (sub == "install").then_some(Install {
            installer: Installer::Pip,
            action: Action::Install,
            args: rest,
        });
    }
    if program == "uv" {
        let (sub, rest) = subcommand(args)?;
        return match sub {
            "pip" => {
                let (sub, rest) = subcommand(rest)?;
                match sub {
                    "install" => Some(Install {
                        installer: Installer::Uv,
                        action: Action::Install,
                        args: rest,
                    }),
                    "sync" => Some(Install {
                        installer: Installer::Uv,
                        action: Action::PipSync,
                        args: rest,
                    }),
                    _ => None,
                }
            }
            "sync" => Some(Install {
                installer: Installer::Uv,
                action: Action::ProjectSync,
                args: rest,
            }),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell;

    fn install(text: &str) -> Option<(Installer, Action, Vec<String>)> {
        let script = shell::parse(text, 1);
        let command = script.commands.last()?;
        install_of(command).map(|i| {
            (
                i.installer,
                i.action,
                i.targets().into_iter().map(str::to_string).collect(),
            )
        })
    }

    #[test]
    fn recognises_the_installers() {
        assert_eq!(
            install("python3 -m pip install --no-cache-dir -r req.txt torch==2.1"),
            Some((
                Installer::Pip,
                Action::Install,
                vec!["torch==2.1".to_string()]
            ))
        );
        assert_eq!(
            install("pip3.11 --quiet install -e ."),
            Some((Installer::Pip, Action::Install, vec![]))
        );
        assert_eq!(
            install("uv pip install --system vllm"),
            Some((Installer::Uv, Action::Install, vec!["vllm".to_string()]))
        );
        assert_eq!(
            install("uv sync --locked").map(|i| i.1),
            Some(Action::ProjectSync)
        );
        assert_eq!(install("pip download x"), None);
        assert_eq!(install("pipx install x"), None);
    }
}
