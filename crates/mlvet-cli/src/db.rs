//! `mlvet db update|import|status`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use mlvet_db::{Database, ImportStats, Status, UpdateConfig};

use crate::cli::{DataDirArg, DbCommand, OutputFormat};
use crate::progress::BarProgress;

/// Text from advisory records, imported files and archive members, made safe to print: a record
/// must not be able to rewrite the user's terminal (see `mlvet_report`'s sanitiser).
pub(crate) fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    mlvet_report::text_internals::sanitize(text)
}

pub fn run(command: DbCommand) -> anyhow::Result<u8> {
    match command {
        DbCommand::Update(args) => {
            let dir = data_dir(&args.data)?;
            let mut db = Database::open_or_create(&dir)
                .with_context(|| format!("cannot open the database in {}", dir.display()))?;
            let url = args
                .url
                .clone()
                .unwrap_or_else(|| mlvet_db::DEFAULT_OSV_URL.to_string());
            let mut config = UpdateConfig::new(url);
            config.ecosystems = args.ecosystems.clone();
            let progress = BarProgress::new(!args.quiet && std::io::stderr().is_terminal());
            let stats = db
                .update(&config, &progress)
                .context("advisory update failed")?;
            crate::write_output(None, &update_summary(&stats))?;
        }
        DbCommand::Import(args) => {
            let dir = data_dir(&args.data)?;
            let mut db = Database::open_or_create(&dir)
                .with_context(|| format!("cannot open the database in {}", dir.display()))?;
            let progress = BarProgress::new(!args.quiet && std::io::stderr().is_terminal());
            for path in &args.paths {
                let stats = db
                    .import_path(path, &progress)
                    .with_context(|| format!("cannot import {}", path.display()))?;
                crate::write_output(
                    None,
                    &format!(
                        "{}: {}\n",
                        clean(&path.display().to_string()),
                        import_summary(&stats)
                    ),
                )?;
            }
        }
        DbCommand::Status(args) => {
            let dir = data_dir(&args.data)?;
            let Some(db) = Database::open(&dir)
                .with_context(|| format!("cannot open the database in {}", dir.display()))?
            else {
                anyhow::bail!(
                    "no advisory database in {}: run `mlvet db update` or `mlvet db import PATH`",
                    dir.display()
                );
            };
            let status = db.status()?;
            let text = match args.format {
                OutputFormat::Json => format!("{:#}\n", status_json(&status)),
                OutputFormat::Terminal => status_text(&status),
            };
            crate::write_output(None, &text)?;
        }
        DbCommand::Generations(args) => crate::db_generations::generations(&args)?,
        DbCommand::Diff(args) => crate::db_generations::diff(&args)?,
    }
    Ok(crate::exit::CLEAN)
}

pub fn data_dir(arg: &DataDirArg) -> anyhow::Result<PathBuf> {
    match &arg.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => Database::data_dir().context("cannot locate mlvet's data directory"),
    }
}

fn import_summary(stats: &ImportStats) -> String {
    let mut text = format!(
        "{} records read: {} new, {} updated, {} unchanged ({} withdrawn); {} other files ignored",
        stats.records,
        stats.inserted,
        stats.updated,
        stats.unchanged,
        stats.withdrawn,
        stats.ignored
    );
    if stats.removed > 0 {
        text.push_str(&format!(
            "; {} removed (no longer in the export)",
            stats.removed
        ));
    }
    if let Some(generation) = stats.generation {
        text.push_str(&format!("; advisory generation {generation}"));
    }
    if stats.failed > 0 {
        text.push_str(&format!("; {} could not be read:", stats.failed));
        for failure in &stats.failures {
            text.push_str(&format!(
                "\n  {}: {}",
                clean(&failure.origin),
                clean(&failure.message)
            ));
        }
    }
    text
}

fn update_summary(stats: &mlvet_db::UpdateStats) -> String {
    let mut text = String::new();
    for eco in &stats.ecosystems {
        text.push_str(&format!(
            "{}: {} sync, {} downloaded; {}\n",
            clean(&eco.ecosystem),
            eco.method.as_str(),
            human_bytes(eco.downloaded_bytes),
            import_summary(&eco.import)
        ));
        if eco.missing > 0 {
            text.push_str(&format!(
                "  {} listed records were not served yet; they are retried next time\n",
                eco.missing
            ));
        }
    }
    text
}

fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn status_text(status: &Status) -> String {
    let mut text = format!("database: {}\n", clean(&status.path.display().to_string()));
    text.push_str(&format!(
        "records:  {} ({} withdrawn)\n",
        status.records, status.withdrawn
    ));
    let age = status
        .age
        .map(|age| format!(" ({} days ago)", age.as_secs() / 86_400))
        .unwrap_or_default();
    text.push_str(&format!(
        "updated:  {}{age}\n",
        status.updated.as_deref().unwrap_or("never")
    ));
    if status.stale {
        text.push_str(&format!(
            "STALE:    older than {} days or empty: run `mlvet db update`\n",
            status.stale_after.as_secs() / 86_400
        ));
    }
    text.push_str("ecosystems:\n");
    for eco in &status.ecosystems {
        let synced = match (&eco.synced_at, &eco.sync_method) {
            (Some(at), Some(method)) => {
                format!("  (last {} sync {})", clean(method), clean(at))
            }
            _ => String::new(),
        };
        text.push_str(&format!(
            "  {:<12} {:>7} records{synced}\n",
            clean(&eco.ecosystem),
            eco.records
        ));
    }
    text.push_str("sources:\n");
    for source in &status.sources {
        text.push_str(&format!(
            "  {} {} ({} records, {})\n",
            clean(&source.kind),
            clean(&source.source),
            source.records,
            clean(&source.updated)
        ));
    }
    text
}

fn status_json(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "path": status.path.display().to_string(),
        "schema_version": status.schema_version,
        "records": status.records,
        "withdrawn": status.withdrawn,
        "updated": status.updated,
        "age_seconds": status.age.map(|age| age.as_secs()),
        "stale": status.stale,
        "stale_after_seconds": status.stale_after.as_secs(),
        "ecosystems": status.ecosystems.iter().map(|eco| serde_json::json!({
            "ecosystem": eco.ecosystem,
            "records": eco.records,
            "synced_from": eco.synced_from,
            "synced_at": eco.synced_at,
            "sync_method": eco.sync_method,
            "newest_modified": eco.newest_modified,
        })).collect::<Vec<_>>(),
        "sources": status.sources.iter().map(|source| serde_json::json!({
            "source": source.source,
            "kind": source.kind,
            "updated": source.updated,
            "records": source.records,
        })).collect::<Vec<_>>(),
    })
}
