//! gitignore-style path globs (`exclude`, and the `path` of an ignore), anchored at the directory
//! of the configuration file that declares them, the way `.gitignore` and ruff's `exclude` are.

use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A set of gitignore-style patterns rooted at a directory. A path matches when it, or any of its
/// parent directories, matches (a pattern `data/` excludes everything below `data`); a later
/// `!pattern` re-includes, as in `.gitignore`.
#[derive(Debug, Clone)]
pub struct PathGlobs {
    root: PathBuf,
    matcher: Gitignore,
    empty: bool,
}

impl PathGlobs {
    /// Compiles `patterns`, anchored at `root`. The error names the offending pattern.
    pub fn new(root: &Path, patterns: &[String]) -> Result<PathGlobs, String> {
        let root = absolute(root);
        let mut builder = GitignoreBuilder::new(&root);
        for pattern in patterns {
            if pattern.trim().is_empty() {
                return Err("empty pattern".to_string());
            }
            builder
                .add_line(None, pattern)
                .map_err(|e| format!("invalid pattern `{pattern}`: {e}"))?;
        }
        let matcher = builder
            .build()
            .map_err(|e| format!("invalid patterns: {e}"))?;
        Ok(PathGlobs {
            root,
            matcher,
            empty: patterns.is_empty(),
        })
    }

    /// A set that matches nothing.
    pub fn none() -> PathGlobs {
        PathGlobs {
            root: PathBuf::from("/"),
            matcher: Gitignore::empty(),
            empty: true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `path` (relative to the current directory, or absolute) or one of its parents
    /// matches. Paths are compared lexically (no file system access, symlinks not resolved):
    /// relative to the root when they lie under it; otherwise only patterns without a slash (a
    /// file or directory name at any depth) can match them.
    pub fn matches(&self, path: &Path, is_dir: bool) -> bool {
        if self.empty {
            return false;
        }
        let absolute = absolute(path);
        let relative: PathBuf = match absolute.strip_prefix(&self.root) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => absolute
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect(),
        };
        if relative.as_os_str().is_empty() {
            return false;
        }
        // The path itself, then each parent directory, nearest first: the first decision wins
        // (so `!keep.pkl` re-includes a file under an excluded-by-name pattern as git does).
        let mut current: Option<&Path> = Some(&relative);
        let mut dir = is_dir;
        while let Some(candidate) = current {
            if candidate.as_os_str().is_empty() {
                break;
            }
            let decision = self.matcher.matched(candidate, dir);
            if decision.is_ignore() {
                return true;
            }
            if decision.is_whitelist() {
                return false;
            }
            current = candidate.parent();
            dir = true;
        }
        false
    }
}

/// `path` made absolute against the current directory, lexically (`.` and `..` folded).
fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> PathGlobs {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        PathGlobs::new(Path::new("/project"), &patterns).expect("valid patterns")
    }

    #[test]
    fn directory_patterns_cover_everything_below() {
        let g = globs(&["data/"]);
        assert!(g.matches(Path::new("/project/data"), true));
        assert!(g.matches(Path::new("/project/data/x/y.pkl"), false));
        assert!(g.matches(Path::new("/project/sub/data/y.pkl"), false));
        assert!(!g.matches(Path::new("/project/database.pkl"), false));
    }

    #[test]
    fn anchored_patterns_only_match_from_the_root() {
        let g = globs(&["/models/*.ckpt", "**/cache/**"]);
        assert!(g.matches(Path::new("/project/models/a.ckpt"), false));
        assert!(!g.matches(Path::new("/project/x/models/a.ckpt"), false));
        assert!(g.matches(Path::new("/project/a/b/cache/c.bin"), false));
    }

    #[test]
    fn negation_re_includes() {
        let g = globs(&["*.pkl", "!keep.pkl"]);
        assert!(g.matches(Path::new("/project/a.pkl"), false));
        assert!(!g.matches(Path::new("/project/keep.pkl"), false));
    }

    #[test]
    fn paths_outside_the_root_match_name_patterns_only() {
        let g = globs(&["*.ckpt", "/top.pkl"]);
        assert!(g.matches(Path::new("/elsewhere/a.ckpt"), false));
        assert!(!g.matches(Path::new("/elsewhere/top.pkl"), false));
    }

    #[test]
    fn dot_dot_is_folded() {
        let g = globs(&["/data/"]);
        assert!(g.matches(Path::new("/project/x/../data/a.pkl"), false));
    }

    #[test]
    fn no_patterns_match_nothing() {
        assert!(!PathGlobs::none().matches(Path::new("/a"), false));
        assert!(!globs(&[]).matches(Path::new("/project/a"), false));
    }
}
