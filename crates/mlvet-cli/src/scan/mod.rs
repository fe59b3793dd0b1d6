//! `mlvet scan`: walk the inputs, send every file to the analysis that reads it the way its real
//! loader would, match the dependency inventory against the advisory database, render, exit.
//!
//! The orchestration lives in `mlvet-engine` (shared with `mlvet serve`); this module turns the
//! flags into an engine request, renders the report and picks the exit code.

mod epoch;
pub mod upload;

use std::io::IsTerminal;

use mlvet_core::{RuleMeta, ScanReport};
use mlvet_engine::{ConfigChoice, ScanSettings, SettingsInput};

use crate::UsageError;
use crate::cli::{ScanArgs, ScanFormat};

/// Rules reported by the scan orchestration itself (not by one analysis).
pub fn rules() -> Vec<&'static RuleMeta> {
    mlvet_engine::rules()
}

/// The engine's settings for these flags (configuration merged in). Problems with the
/// configuration or a VEX document are usage errors (exit code 2).
pub fn resolve_settings(args: &ScanArgs) -> anyhow::Result<ScanSettings> {
    let input = SettingsInput {
        config: if args.config.no_config {
            ConfigChoice::None
        } else if let Some(path) = &args.config.config {
            ConfigChoice::File(path.clone())
        } else {
            ConfigChoice::Discover
        },
        fail_on: args.fail_on.map(crate::cli::FailOn::threshold),
        python_version: args.python_version.clone(),
        platform: args.platform.clone(),
        exclude: args.config.exclude.clone(),
        vex: args.config.vex.clone(),
    };
    mlvet_engine::settings::resolve(&input, &crate::rules::all_rules())
        .map_err(|e| anyhow::Error::new(UsageError(e.0)))
}

pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let settings = resolve_settings(args)?;
    let report = build_report(args, &settings)?;
    if let Some(url) = &args.upload {
        // The local report is still rendered below; the upload adds the server's findings link.
        upload::run(args, url, &report)?;
    }
    let meta = mlvet_report::RunMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: args.paths.iter().map(|p| p.display().to_string()).collect(),
        fail_on: settings.fail_on,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    };
    let text = match args.format {
        ScanFormat::Json => {
            // Streamed: the report of a large inventory is never held in memory as one string.
            crate::write_output_with(args.output.as_deref(), |out| {
                mlvet_report::write_json(&report, &meta, out)
            })?;
            return Ok(crate::exit::code_for(&report, settings.fail_on));
        }
        ScanFormat::Sarif => {
            let rules = crate::rules::all_rules();
            mlvet_report::render_sarif(
                &report,
                &meta,
                &mlvet_report::SarifOptions { rules: &rules },
            )
        }
        ScanFormat::Cyclonedx => {
            let options = mlvet_report::CycloneDxOptions {
                timestamp: epoch::source_date_epoch()?,
            };
            mlvet_report::render_cyclonedx(&report, &meta, &options)
        }
        ScanFormat::Markdown => mlvet_report::render_markdown(&report, &meta),
        ScanFormat::Terminal => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let opts = mlvet_report::TerminalOptions {
                color,
                verbose: args.verbose,
                quiet: args.quiet,
                width: None,
            };
            mlvet_report::render_terminal(&report, &meta, &opts)
        }
    };
    crate::write_output(args.output.as_deref(), &text)?;
    Ok(crate::exit::code_for(&report, settings.fail_on))
}

/// Whether this scan hashes model files.
fn hash_wanted(args: &ScanArgs) -> bool {
    args.hash || args.format == ScanFormat::Cyclonedx
}

/// Runs the engine for these flags, with a progress bar on a terminal.
pub fn build_report(args: &ScanArgs, settings: &ScanSettings) -> anyhow::Result<ScanReport> {
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let progress = BarObserver {
        visible: show_progress,
        bar: std::sync::OnceLock::new(),
    };
    let request = mlvet_engine::ScanRequest {
        paths: &args.paths,
        settings,
        policy_file: args.policy.as_deref(),
        hash_models: hash_wanted(args),
        inventory: !args.no_deps,
        data_dir: args.data_dir.as_deref(),
        hub: mlvet_engine::hub::HubRequest {
            token_file: args.hf_token_file.as_deref(),
            max_file_bytes: args.hf_max_file_bytes,
        },
    };
    Ok(mlvet_engine::build_report(&request, &progress)?)
}

/// The engine's progress drawn as the CLI's progress bar.
struct BarObserver {
    visible: bool,
    bar: std::sync::OnceLock<crate::progress::ScanProgress>,
}

impl mlvet_engine::ScanObserver for BarObserver {
    fn begin(&self, files: &[mlvet_formats::WalkedFile]) {
        let _ = self
            .bar
            .set(crate::progress::ScanProgress::new(files, self.visible));
    }
    fn start(&self, display: &str) {
        if let Some(bar) = self.bar.get() {
            bar.start(display);
        }
    }
    fn done(&self, size: u64) {
        if let Some(bar) = self.bar.get() {
            bar.done(size);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish();
        }
    }
}
