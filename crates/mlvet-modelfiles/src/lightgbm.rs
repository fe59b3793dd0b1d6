//! LightGBM text models (`Booster.save_model`): header, `Tree=<n>` blocks, `end of trees`,
//! feature importances, parameters and the trailing `pandas_categorical:` JSON line, validated
//! line by line the way `GBDT::LoadModelFromString` reads them.

use mlvet_core::Location;

use crate::Analysis;
use crate::rules::model_structure_invalid;

/// Longest line accepted (a `feature_names=` line of a very wide model is long, not unbounded).
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Trees accepted in one model.
const MAX_TREES: usize = 10_000_000;

/// `tree\nversion=v...`: what every LightGBM model file starts with.
pub fn looks_like_model(prefix: &[u8]) -> bool {
    let rest = prefix
        .strip_prefix(b"tree\n")
        .or_else(|| prefix.strip_prefix(b"tree\r\n"));
    rest.is_some_and(|r| r.starts_with(b"version=v"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LightGbmError {
    pub line: usize,
    pub message: String,
}

/// Facts read from a validated model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFacts {
    pub version: String,
    pub objective: Option<String>,
    pub num_class: i64,
    pub num_features: i64,
    pub trees: usize,
    pub pandas_categorical: bool,
}

struct Lines<'a> {
    text: &'a [u8],
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        self.pos += end + 1;
        self.number += 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

fn err(line: usize, message: impl Into<String>) -> LightGbmError {
    LightGbmError {
        line,
        message: message.into(),
    }
}

fn key_value(line: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    text.split_once('=')
}

fn count_items(value: &str) -> usize {
    value.split(' ').filter(|s| !s.is_empty()).count()
}

/// Validates a whole model file.
pub fn parse(bytes: &[u8]) -> Result<ModelFacts, LightGbmError> {
    let mut lines = Lines {
        text: bytes,
        pos: 0,
        number: 0,
    };
    if lines.next() != Some(b"tree".as_slice()) {
        return Err(err(1, "does not start with `tree`"));
    }
    let mut facts = ModelFacts::default();
    let mut header_keys = 0usize;
    let mut tree_sizes = None;
    // Header: key=value lines up to the first blank line.
    loop {
        let line = lines
            .next()
            .ok_or_else(|| err(lines.number, "truncated header"))?;
        if line.len() > MAX_LINE {
            return Err(err(lines.number, "line too long"));
        }
        if line.is_empty() {
            break;
        }
        let (key, value) =
            key_value(line).ok_or_else(|| err(lines.number, "header line is not `key=value`"))?;
        header_keys += 1;
        let int = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| err(lines.number, format!("`{key}` is not an integer")))
        };
        match key {
            "version" => facts.version = value.to_string(),
            "num_class" => facts.num_class = int(value)?,
            "max_feature_idx" => facts.num_features = int(value)? + 1,
            "objective" => facts.objective = Some(value.to_string()),
            "tree_sizes" => tree_sizes = Some(count_items(value)),
            _ => {}
        }
    }
    if facts.version.is_empty() || header_keys < 3 || facts.num_class < 1 || facts.num_features < 1
    {
        return Err(err(
            lines.number,
            "header lacks version, num_class or max_feature_idx",
        ));
    }
    // Trees, then `end of trees`.
    loop {
        let line = lines
            .next()
            .ok_or_else(|| err(lines.number, "no `end of trees`"))?;
        if line.is_empty() {
            continue;
        }
        if line == b"end of trees" {
            break;
        }
        let Some(("Tree", index)) = key_value(line) else {
            return Err(err(lines.number, "expected `Tree=<n>` or `end of trees`"));
        };
        if index.parse::<usize>().ok() != Some(facts.trees) {
            return Err(err(
                lines.number,
                format!("tree `{index}` out of order (expected {})", facts.trees),
            ));
        }
        parse_tree(&mut lines)?;
        facts.trees += 1;
        if facts.trees > MAX_TREES {
            return Err(err(lines.number, "too many trees"));
        }
    }
    if let Some(sizes) = tree_sizes
        && sizes != facts.trees
    {
        return Err(err(
            lines.number,
            format!("tree_sizes lists {sizes} trees, {} present", facts.trees),
        ));
    }
    // Trailer: importances, parameters, pandas_categorical (JSON, read by Python's json.loads).
    while let Some(line) = lines.next() {
        if let Some(json) = line.strip_prefix(b"pandas_categorical:") {
            crate::tree::parse_json(json)
                .map_err(|e| err(lines.number, format!("pandas_categorical is not JSON: {e}")))?;
            facts.pandas_categorical = json != b"null";
            let rest = &bytes[lines.pos.min(bytes.len())..];
            if rest.iter().any(|b| !b.is_ascii_whitespace()) {
                return Err(err(lines.number + 1, "content after pandas_categorical"));
            }
            return Ok(facts);
        }
        if line.len() > MAX_LINE {
            return Err(err(lines.number, "line too long"));
        }
    }
    // Models written by `model_to_string` without the Python trailer are still loadable.
    Ok(facts)
}

fn parse_tree(lines: &mut Lines<'_>) -> Result<(), LightGbmError> {
    let start = lines.number;
    let mut num_leaves: Option<usize> = None;
    let mut arrays: Vec<(String, usize)> = Vec::new();
    loop {
        let Some(line) = lines.next() else {
            return Err(err(lines.number, "truncated tree"));
        };
        if line.is_empty() {
            break;
        }
        if line.len() > MAX_LINE {
            return Err(err(lines.number, "line too long"));
        }
        let (key, value) =
            key_value(line).ok_or_else(|| err(lines.number, "tree line is not `key=value`"))?;
        if key == "num_leaves" {
            num_leaves = Some(
                value
                    .trim()
                    .parse()
                    .map_err(|_| err(lines.number, "num_leaves is not an integer"))?,
            );
        } else {
            arrays.push((key.to_string(), count_items(value)));
        }
    }
    let leaves = num_leaves.ok_or_else(|| err(start, "tree without num_leaves"))?;
    if leaves == 0 {
        return Err(err(start, "tree with 0 leaves"));
    }
    let expect = |name: &str, n: usize| -> Result<(), LightGbmError> {
        match arrays.iter().find(|(k, _)| k == name) {
            Some((_, len)) if *len == n => Ok(()),
            Some((_, len)) => Err(err(
                start,
                format!("`{name}` has {len} entries, expected {n}"),
            )),
            None => Err(err(start, format!("tree without `{name}`"))),
        }
    };
    expect("leaf_value", leaves)?;
    if leaves > 1 {
        for name in [
            "split_feature",
            "threshold",
            "left_child",
            "right_child",
            "decision_type",
        ] {
            expect(name, leaves - 1)?;
        }
    }
    Ok(())
}

pub fn analyze(bytes: &[u8], location: &Location) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "lightgbm");
    match parse(bytes) {
        Ok(facts) => {
            analysis.fact("format_version", &facts.version);
            analysis.fact("trees", facts.trees);
            analysis.fact("classes", facts.num_class);
            analysis.fact("features", facts.num_features);
            if let Some(objective) = &facts.objective {
                analysis.fact("objective", objective);
            }
        }
        Err(e) => analysis.incomplete(model_structure_invalid::finding(
            location.clone(),
            "lightgbm",
            e,
        )),
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=3\nobjective=binary sigmoid:1\ntree_sizes=10\n\nTree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=50\nthreshold=0.48\ndecision_type=2\nleft_child=-1\nright_child=-2\nleaf_value=0.08 0.49\nshrinkage=1\n\n\nend of trees\n\nfeature_importances:\nColumn_0=2\n\nparameters:\n[boosting: gbdt]\nend of parameters\n\npandas_categorical:null\n";

    #[test]
    fn a_real_shaped_model_validates() {
        assert!(looks_like_model(MODEL.as_bytes()));
        let facts = parse(MODEL.as_bytes()).expect("valid");
        assert_eq!(facts.trees, 1);
        assert_eq!(facts.num_features, 4);
        assert_eq!(facts.objective.as_deref(), Some("binary sigmoid:1"));
    }

    #[test]
    fn inconsistent_trees_are_refused() {
        let broken = MODEL.replace("leaf_value=0.08 0.49", "leaf_value=0.08");
        assert!(parse(broken.as_bytes()).is_err());
        let truncated = &MODEL[..MODEL.find("end of trees").unwrap_or(0)];
        assert!(parse(truncated.as_bytes()).is_err());
        let bad_json = MODEL.replace("pandas_categorical:null", "pandas_categorical:[[\"a\"");
        assert!(parse(bad_json.as_bytes()).is_err());
    }
}
