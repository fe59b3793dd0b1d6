//! The scan's hook into the Python analysis: `.py`/`.pyw` sources and `.ipynb` notebooks are
//! analysed in the parallel file pass, and their rules run once the whole inventory is known (the
//! torch and datasets versions decide some verdicts).

use std::io::Read;
use std::path::Path;

use mlvet_core::{ArtifactReport, Location, ScanError};
use mlvet_formats::WalkedFile;
use mlvet_inventory::Inventory;
use mlvet_python::{CodeFile, CodeKind, Context};

/// How much of a code file is read: one byte past the larger limit, so that the analysis sees
/// the file is over it without holding a huge file in memory.
const READ_LIMIT: u64 = (mlvet_python::notebook::MAX_NOTEBOOK_BYTES + 1) as u64;

/// Analyses `file` when it is Python source or a notebook (by extension, and only if its first
/// bytes are text: a binary file named `.py` goes to the format analyses instead).
pub(crate) fn analyze(file: &WalkedFile) -> Option<Result<CodeFile, ScanError>> {
    let kind = CodeKind::of_path(&file.path)?;
    let bytes = match read_limited(&file.path) {
        Ok(bytes) => bytes,
        Err(err) => {
            return Some(Err(ScanError {
                path: file.display.clone(),
                message: err.to_string(),
            }));
        }
    };
    let head = &bytes[..bytes.len().min(4096)];
    if head.contains(&0) {
        return None;
    }
    let mut analysed = mlvet_python::analyze_bytes(kind, &bytes);
    analysed.size = file.size;
    Some(Ok(analysed))
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    mlvet_formats::open_regular(path)?
        .take(READ_LIMIT)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The library versions the scan's own inventory shows (the lowest exact version of each).
pub(crate) fn context(inventories: &[(WalkedFile, Inventory)]) -> Context {
    let mut context = Context::default();
    for (_, inventory) in inventories {
        for dependency in &inventory.dependencies {
            if let Some(version) = &dependency.version
                && (dependency.ecosystem.is_empty() || dependency.ecosystem == "PyPI")
            {
                context.observe(&dependency.normalized_name, version);
            }
        }
    }
    context
}

/// Runs the code rules over every analysed file; a notebook's shell lines (`!pip install …`,
/// `%pip …`, `%%bash` cells) go through the pipeline analysis's command-line rules, as the same
/// commands in a shell script would.
pub(crate) fn reports(
    files: Vec<(WalkedFile, CodeFile)>,
    context: &Context,
    pipelines: &mlvet_pipelines::Settings,
) -> Vec<ArtifactReport> {
    files
        .into_iter()
        .map(|(walked, file)| {
            let mut report = mlvet_python::check(&file, &walked.display, context);
            let mut shell_findings = Vec::new();
            for line in &file.shell_lines {
                for mut finding in mlvet_pipelines::check_shell_text(
                    &line.command,
                    &walked.display,
                    line.line,
                    Some(&walked.path),
                    pipelines,
                ) {
                    finding.location = Location::file(walked.display.clone())
                        .member(format!("cell {}", u64::from(line.cell) + 1))
                        .with_line(line.line)
                        .with_column(line.column);
                    shell_findings.push(finding);
                }
            }
            if !shell_findings.is_empty() {
                report.findings.extend(shell_findings);
                report.findings.sort_by(mlvet_core::Finding::report_order);
                report.refresh_verdict();
            }
            report
        })
        .collect()
}
