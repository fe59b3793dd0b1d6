//! Finding the configuration the way ruff and uv do: from the current directory upwards, the
//! first directory holding `mlvet.toml`, `.mlvet.toml` or a `pyproject.toml` with a `[tool.mlvet]`
//! table wins. The search stops at the repository root (a directory containing `.git`) or the
//! file system root, so a checkout never picks up a stray file from above it.

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::settings::read_bounded;

/// File names tried in each directory, in this order.
pub const CONFIG_FILES: [&str; 3] = ["mlvet.toml", ".mlvet.toml", "pyproject.toml"];

/// How many directories are climbed at most (a guard against pathological paths).
const MAX_LEVELS: usize = 256;

/// The configuration file that applies to `start` (a directory), if any.
///
/// A `pyproject.toml` without `[tool.mlvet]` is skipped; one that is not valid TOML is an error
/// (its `[tool.mlvet]` could not be read, and ignoring it would silently drop the settings).
pub fn discover(start: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors().take(MAX_LEVELS) {
        for name in CONFIG_FILES {
            let candidate = dir.join(name);
            if !candidate.is_file() {
                continue;
            }
            if name != "pyproject.toml" || has_tool_mlvet(&candidate)? {
                return Ok(Some(candidate));
            }
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    Ok(None)
}

fn has_tool_mlvet(path: &Path) -> Result<bool, ConfigError> {
    let text = read_bounded(path)?;
    let document: toml::Table = toml::from_str(&text).map_err(|err| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| crate::error::line_column(&text, span.start));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    })?;
    Ok(document
        .get("tool")
        .and_then(toml::Value::as_table)
        .is_some_and(|tool| tool.contains_key("mlvet")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_file_wins_and_the_repository_root_bounds_the_search() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outer = tmp.path();
        let repo = outer.join("repo");
        let deep = repo.join("a/b");
        std::fs::create_dir_all(&deep).expect("dirs");
        std::fs::create_dir(repo.join(".git")).expect(".git");
        std::fs::write(outer.join("mlvet.toml"), "").expect("write");
        // Above the repository root: never found from inside it.
        assert_eq!(discover(&deep).expect("ok"), None);

        std::fs::write(repo.join("pyproject.toml"), "[project]\nname = \"x\"\n").expect("write");
        assert_eq!(discover(&deep).expect("ok"), None, "no [tool.mlvet]");

        std::fs::write(
            repo.join("pyproject.toml"),
            "[tool.mlvet]\nfail-on = \"low\"\n",
        )
        .expect("write");
        assert_eq!(
            discover(&deep).expect("ok"),
            Some(repo.join("pyproject.toml"))
        );

        std::fs::write(repo.join("mlvet.toml"), "").expect("write");
        assert_eq!(
            discover(&deep).expect("ok"),
            Some(repo.join("mlvet.toml")),
            "mlvet.toml first"
        );

        std::fs::write(repo.join("a/.mlvet.toml"), "").expect("write");
        assert_eq!(
            discover(&deep).expect("ok"),
            Some(repo.join("a/.mlvet.toml")),
            "nearest"
        );
    }

    #[test]
    fn a_broken_pyproject_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join(".git")).expect(".git");
        std::fs::write(tmp.path().join("pyproject.toml"), "[tool.mlvet\n").expect("write");
        let err = discover(tmp.path()).expect_err("broken");
        assert!(err.to_string().contains("pyproject.toml:1:"), "{err}");
    }
}
