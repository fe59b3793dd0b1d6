//! `mlvet`: the thin command-line edge. Parses arguments, runs one command, renders, exits.

mod admin;
mod advisories;
mod cli;
mod db;
mod db_generations;
mod exit;
mod lock;
mod lock_hub;
mod progress;
mod rules;
mod scan;
mod sign;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout and usage errors to stderr itself.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::CLEAN
            });
        }
    };
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Db(command) => db::run(command),
        Command::Advisories(args) => advisories::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::Lock(args) => lock::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Serve(args) => admin::serve(&args),
        Command::Worker(args) => admin::worker(&args),
        Command::Admin(command) => admin::run(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.downcast_ref::<UsageError>().is_some() => {
            let message = format!("{err:#}");
            let _ = writeln!(
                anstream::stderr(),
                "mlvet: error: {}",
                mlvet_report::text_internals::sanitize(&message)
            );
            ExitCode::from(exit::USAGE)
        }
        Err(err) => {
            let mut stderr = anstream::stderr();
            // Errors quote paths, archive members and record contents: sanitised like a report.
            let message = format!("{err:#}");
            let _ = writeln!(
                stderr,
                "mlvet: error: {}",
                mlvet_report::text_internals::sanitize(&message)
            );
            ExitCode::from(exit::ERROR)
        }
    }
}

/// A mistake in what the user asked for that clap cannot see: a configuration or VEX file that is
/// invalid or missing, conflicting settings. Exits with [`exit::USAGE`] (2), like a bad flag.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Like [`write_output`], for a renderer that writes into a buffered sink itself.
pub(crate) fn write_output_with(
    output: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut sink = std::io::BufWriter::with_capacity(1 << 16, file);
            write(&mut sink).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let stdout = anstream::stdout();
            let mut sink = std::io::BufWriter::with_capacity(1 << 16, stdout);
            write(&mut sink).context("cannot write to standard output")
        }
    }
}

/// Writes a rendered report to `--output` or standard output.
pub(crate) fn write_output(output: Option<&std::path::Path>, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut stdout = anstream::stdout();
            stdout
                .write_all(text.as_bytes())
                .context("cannot write to standard output")?;
            stdout.flush().context("cannot write to standard output")
        }
    }
}
