//! `mlvet rules`: every rule any analysis can report, from one registry.

use mlvet_core::RuleMeta;

/// Every rule of every analysis, sorted by id. `docs/rules.md` is generated from this list.
pub fn all_rules() -> Vec<&'static RuleMeta> {
    let mut rules: Vec<&'static RuleMeta> = Vec::new();
    rules.extend(mlvet_pickle::rules());
    rules.extend(mlvet_formats::rules());
    rules.extend(mlvet_keras::rules());
    rules.extend(mlvet_graphs::rules());
    rules.extend(mlvet_safetensors::rules());
    rules.extend(mlvet_inventory::rules());
    rules.extend(mlvet_osv::rules());
    rules.extend(mlvet_hub::rules());
    rules.extend(mlvet_pipelines::rules());
    rules.extend(mlvet_registries::rules());
    rules.extend(mlvet_python::rules());
    rules.extend(crate::scan::rules());
    rules.sort_by_key(|rule| rule.id);
    rules
}

pub fn run(args: &crate::cli::RulesArgs) -> anyhow::Result<u8> {
    if args.markdown {
        crate::write_output(None, &mlvet_core::render_rules_markdown(&all_rules()))?;
        return Ok(crate::exit::CLEAN);
    }
    let mut text = String::new();
    for rule in all_rules() {
        text.push_str(&format!(
            "{:<36} {:<10} {:<9} {}\n",
            rule.id, rule.verdict, rule.default_severity, rule.summary
        ));
    }
    crate::write_output(None, &text)?;
    Ok(crate::exit::CLEAN)
}
