//! `mlvet advisories`: what the local database knows, newest first.

use anyhow::Context;
use mlvet_db::Database;
use mlvet_osv::AdvisorySource;

use crate::cli::{AdvisoriesArgs, OutputFormat};

pub fn run(args: &AdvisoriesArgs) -> anyhow::Result<u8> {
    let dir = crate::db::data_dir(&args.data)?;
    let Some(db) = Database::open(&dir)
        .with_context(|| format!("cannot open the database in {}", dir.display()))?
    else {
        anyhow::bail!(
            "no advisory database in {}: run `mlvet db update` or `mlvet db import PATH`",
            dir.display()
        );
    };
    let mut advisories = if args.ml {
        db.ml_advisories(args.package.as_deref())?
    } else if let Some(package) = &args.package {
        let name = mlvet_osv::normalize_package_name("PyPI", package);
        let mut found = db.advisories_for("PyPI", &name)?;
        found.sort_by(newest_first);
        found
    } else {
        anyhow::bail!(
            "name what to list: --ml (advisories affecting ML libraries) and/or --package NAME"
        );
    };
    if let Some(limit) = args.limit {
        advisories.truncate(limit);
    }
    let text = match args.format {
        OutputFormat::Json => advisories_json(&advisories)?,
        OutputFormat::Terminal => render_table(&advisories),
    };
    crate::write_output(None, &text)?;
    Ok(crate::exit::CLEAN)
}

fn newest_first(a: &mlvet_osv::Advisory, b: &mlvet_osv::Advisory) -> std::cmp::Ordering {
    let key = |adv: &mlvet_osv::Advisory| {
        adv.published
            .clone()
            .or_else(|| adv.modified.clone())
            .unwrap_or_default()
    };
    key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
}

/// One line per advisory. Every field comes from an advisory record, i.e. from whoever published
/// it or served the export: each is sanitised before it reaches the terminal.
fn render_table(advisories: &[mlvet_osv::Advisory]) -> String {
    use crate::db::clean;
    let mut out = String::new();
    for adv in advisories {
        let published = adv.published.as_deref().unwrap_or("-");
        let date = published.get(..10).unwrap_or(published);
        let packages: Vec<String> = adv
            .affected
            .iter()
            .map(|a| clean(&a.package.name).into_owned())
            .collect();
        let aliases = if adv.aliases.is_empty() {
            String::new()
        } else {
            let aliases: Vec<String> = adv.aliases.iter().map(|a| clean(a).into_owned()).collect();
            format!(" ({})", aliases.join(", "))
        };
        let summary = adv.summary.as_deref().unwrap_or("");
        out.push_str(&format!(
            "{}  {}{aliases}  [{}]  {}\n",
            clean(date),
            clean(&adv.id),
            packages.join(", "),
            clean(summary)
        ));
    }
    out.push_str(&format!("{} advisories\n", advisories.len()));
    out
}

/// The advisories as a JSON array of OSV records (mlvet's canonical JSON of each).
fn advisories_json(advisories: &[mlvet_osv::Advisory]) -> anyhow::Result<String> {
    let records = advisories
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .context("cannot serialise advisories")?;
    Ok(format!("{:#}\n", serde_json::Value::Array(records)))
}
