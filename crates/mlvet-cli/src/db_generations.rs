//! `mlvet db generations` and `mlvet db diff [FROM] [TO]`: the advisory history that the monitor
//! re-matches from, shown to people (like grype's `db diff`) and to scripts (`--json`).

use anyhow::Context;
use mlvet_db::{ChangeKind, Database, Delta, Generation};

use crate::cli::{DbDiffArgs, DbGenerationsArgs, OutputFormat};
use crate::db::{clean, data_dir};

fn open(data: &crate::cli::DataDirArg) -> anyhow::Result<Database> {
    let dir = data_dir(data)?;
    Database::open(&dir)
        .with_context(|| format!("cannot open the database in {}", dir.display()))?
        .with_context(|| {
            format!(
                "no advisory database in {}: run `mlvet db update` or `mlvet db import PATH`",
                dir.display()
            )
        })
}

pub fn generations(args: &DbGenerationsArgs) -> anyhow::Result<()> {
    let db = open(&args.data)?;
    let generations = db.generations()?;
    let text = if args.json || args.format == OutputFormat::Json {
        format!("{:#}\n", serde_json::json!({ "generations": generations }))
    } else {
        generations_text(&generations)
    };
    crate::write_output(None, &text)
}

fn generations_text(generations: &[Generation]) -> String {
    if generations.is_empty() {
        return "no generation recorded yet (the database changes on the next import or update)\n"
            .to_string();
    }
    let mut text = format!(
        "{:>5}  {:<20}  {:<6}  {:>7} {:>8} {:>9} {:>7}  source\n",
        "gen", "created", "kind", "added", "modified", "withdrawn", "removed"
    );
    for g in generations {
        text.push_str(&format!(
            "{:>5}  {:<20}  {:<6}  {:>7} {:>8} {:>9} {:>7}  {}\n",
            g.id,
            g.created_at.get(..19).map_or(g.created_at.as_str(), |s| s),
            clean(&g.kind),
            g.added,
            g.modified,
            g.withdrawn,
            g.removed,
            clean(&g.source)
        ));
    }
    text
}

pub fn diff(args: &DbDiffArgs) -> anyhow::Result<()> {
    let db = open(&args.data)?;
    let current = db.current_generation()?;
    let to = args.to.unwrap_or(current);
    let from = args.from.unwrap_or(to.saturating_sub(1));
    if to > current {
        anyhow::bail!("generation {to} does not exist (the newest is {current})");
    }
    if from > to {
        anyhow::bail!("FROM ({from}) is after TO ({to})");
    }
    let delta = db.delta(from, to)?;
    let text = if args.json || args.format == OutputFormat::Json {
        format!("{:#}\n", diff_json(&delta))
    } else {
        diff_text(&delta)
    };
    crate::write_output(None, &text)
}

const KINDS: [ChangeKind; 4] = [
    ChangeKind::Added,
    ChangeKind::Modified,
    ChangeKind::Withdrawn,
    ChangeKind::Removed,
];

fn diff_json(delta: &Delta) -> serde_json::Value {
    let summary: serde_json::Map<String, serde_json::Value> = KINDS
        .iter()
        .map(|k| (k.as_str().to_string(), delta.count(*k).into()))
        .collect();
    let packages: Vec<serde_json::Value> = delta
        .by_package()
        .into_iter()
        .map(|(key, kinds)| {
            let mut entry = serde_json::json!({"ecosystem": key.ecosystem, "name": key.name});
            for kind in KINDS {
                entry[kind.as_str()] = kinds.get(&kind).cloned().unwrap_or_default().into();
            }
            entry
        })
        .collect();
    serde_json::json!({
        "from": delta.from,
        "to": delta.to,
        "summary": summary,
        "advisories": delta.changes,
        "packages": packages,
    })
}

fn diff_text(delta: &Delta) -> String {
    let mut text = format!(
        "generations {} → {}: {} added, {} modified, {} withdrawn, {} removed\n",
        delta.from,
        delta.to,
        delta.count(ChangeKind::Added),
        delta.count(ChangeKind::Modified),
        delta.count(ChangeKind::Withdrawn),
        delta.count(ChangeKind::Removed)
    );
    if delta.changes.is_empty() {
        return text;
    }
    text.push_str("\nadvisories:\n");
    for change in &delta.changes {
        let keys = |packages: &[mlvet_db::PackageKey]| {
            packages
                .iter()
                .map(|k| format!("{}/{}", clean(&k.ecosystem), clean(&k.name)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (old, new) = (keys(&change.old.packages), keys(&change.new.packages));
        let packages = if old == new || old.is_empty() {
            new
        } else if new.is_empty() {
            old
        } else {
            format!("{old} → {new}")
        };
        text.push_str(&format!(
            "  {:<9}  {}  {}\n",
            change.change.as_str(),
            clean(&change.id),
            packages
        ));
    }
    text.push_str("\npackages:\n");
    for (key, kinds) in delta.by_package() {
        let parts: Vec<String> = KINDS
            .iter()
            .filter_map(|k| {
                kinds
                    .get(k)
                    .map(|ids| format!("{} {}", ids.len(), k.as_str()))
            })
            .collect();
        text.push_str(&format!(
            "  {}/{}: {}\n",
            clean(&key.ecosystem),
            clean(&key.name),
            parts.join(", ")
        ));
    }
    text
}
