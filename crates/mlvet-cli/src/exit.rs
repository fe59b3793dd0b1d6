//! Exit codes: documented public API (README "Exit codes"). Never renumber.

/// Nothing reached `--fail-on` and every input was scanned.
pub const CLEAN: u8 = 0;
/// At least one finding reached `--fail-on`.
pub const FINDINGS: u8 = 1;
/// The command line was wrong (clap's own code for usage errors).
pub const USAGE: u8 = 2;
/// An input could not be scanned, or mlvet itself failed (I/O, database, network).
/// Wins over `FINDINGS` (see [`code_for`]); never hidden by `--fail-on never`.
pub const ERROR: u8 = 3;
/// `mlvet lock --check`: an artefact is modified, missing or new against the lockfile, or a
/// Hugging Face cache blob does not match its content address (also `mlvet lock`, which then
/// refuses to write the lock).
pub const PROVENANCE_MISMATCH: u8 = 4;
/// `mlvet verify`: the signature is invalid or untrusted, or the model differs from what it signs.
pub const SIGNATURE_INVALID: u8 = 5;

/// The exit code of a finished scan. Scan errors win over findings: an incomplete scan is reported
/// as such (the findings are still in the report), and never ends in `CLEAN`.
pub fn code_for(report: &mlvet_core::ScanReport, fail_on: Option<mlvet_core::Severity>) -> u8 {
    match mlvet_report::exit_status(report, fail_on) {
        mlvet_report::ExitStatus::Clean => CLEAN,
        mlvet_report::ExitStatus::FindingsAtOrAboveThreshold => FINDINGS,
        mlvet_report::ExitStatus::ScanErrors => ERROR,
    }
}
