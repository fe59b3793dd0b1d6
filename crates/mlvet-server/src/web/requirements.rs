//! Which direct requirement brings each finding's package into a project: the project page
//! groups findings by it.
//!
//! - A manifest (requirements, `pyproject.toml`, a conda environment) lists what the project
//!   asks for: each of its packages is a direct requirement.
//! - A lockfile that records its graph (`uv.lock`, `poetry.lock`, `pylock.toml`: the stored
//!   `depends_on`) gives the path: its roots (packages nothing in the file depends on, and any
//!   package a manifest of the project names) are direct requirements, and a package is
//!   reached from the nearest root, breadth first.
//!   Where the lockfile records the project's own requirements (`uv.lock`, `pylock.toml`: the
//!   stored `direct`), those are direct requirements too, even with a parent in the file.
//! - Anything else (graph-less lockfiles, SBOMs, installed metadata) says nothing about who
//!   brings a package: it is direct only where a manifest names it, and otherwise its origin is
//!   unknown.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use mlvet_store::StoredPackage;

/// Formats that list what a project asks for (every entry is direct).
const MANIFEST_FORMATS: [&str; 3] = ["requirements", "pyproject", "conda-environment"];

/// Most packages visited when walking one package's parents (a lockfile holds at most the
/// inventory's entry limit; this bounds the work per finding regardless).
const MAX_WALK: usize = 20_000;

/// How a package reaches the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Through the direct requirement `root` (normalised name), along `path` (names as the
    /// file writes them, from the root to the package; one element when it is the root),
    /// recorded in `file`.
    Direct {
        root: String,
        path: Vec<String>,
        file: String,
    },
    /// The package is in `file`, which does not say what brings it.
    Unknown { file: String },
}

impl Origin {
    fn rank(&self) -> (u8, usize) {
        match self {
            Origin::Direct { path, .. } => (0, path.len()),
            Origin::Unknown { .. } => (1, 0),
        }
    }
}

/// One source file's packages: display names and, for graph files, parents by child.
struct SourceGraph {
    file: String,
    format: String,
    display: HashMap<String, String>,
    parents: Option<HashMap<String, BTreeSet<String>>>,
}

/// The project's inventory, indexed for [`Requirements::origins`].
pub struct Requirements {
    sources: Vec<SourceGraph>,
    /// Normalised names some manifest of the project lists.
    direct: BTreeSet<String>,
}

pub fn normalize(name: &str) -> String {
    mlvet_inventory::normalize_pypi_name(name)
}

impl Requirements {
    /// `formats`: each source file's artefact format (from the store's `sources`).
    pub fn new(packages: &[StoredPackage], formats: &HashMap<String, String>) -> Requirements {
        let mut by_file: BTreeMap<&str, Vec<&StoredPackage>> = BTreeMap::new();
        for package in packages {
            by_file.entry(&package.source).or_default().push(package);
        }
        let mut direct = BTreeSet::new();
        let mut sources = Vec::new();
        for (file, members) in by_file {
            let format = formats.get(file).cloned().unwrap_or_default();
            let manifest = MANIFEST_FORMATS.contains(&format.as_str());
            let mut display = HashMap::new();
            let mut parents: Option<HashMap<String, BTreeSet<String>>> = None;
            for stored in &members {
                let name = normalize(&stored.package.name);
                // A manifest's entries, and what a lockfile says the project itself requires.
                if manifest || stored.package.direct {
                    direct.insert(name.clone());
                }
                if let Some(children) = &stored.package.depends_on {
                    let map = parents.get_or_insert_with(HashMap::new);
                    map.entry(name.clone()).or_default();
                    for child in children {
                        map.entry(child.clone()).or_default().insert(name.clone());
                    }
                }
                display.insert(name, stored.package.name.clone());
            }
            sources.push(SourceGraph {
                file: file.to_string(),
                format,
                display,
                parents,
            });
        }
        Requirements { sources, direct }
    }

    /// Every way the package `name` reaches the project, best first: direct requirements
    /// before unknown origins, shorter paths first.
    pub fn origins(&self, name: &str) -> Vec<Origin> {
        let key = normalize(name);
        let mut out: Vec<Origin> = self
            .sources
            .iter()
            .filter(|source| source.display.contains_key(&key))
            .map(|source| self.origin_in(source, &key))
            .collect();
        out.sort_by(|a, b| {
            a.rank()
                .cmp(&b.rank())
                .then_with(|| root_of(a).cmp(root_of(b)))
        });
        out
    }

    fn origin_in(&self, source: &SourceGraph, key: &str) -> Origin {
        let shown = |name: &str| {
            source
                .display
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.to_string())
        };
        let direct_here = |file: &str| Origin::Direct {
            root: key.to_string(),
            path: vec![shown(key)],
            file: file.to_string(),
        };
        if MANIFEST_FORMATS.contains(&source.format.as_str()) || self.direct.contains(key) {
            return direct_here(&source.file);
        }
        let Some(parents) = &source.parents else {
            return Origin::Unknown {
                file: source.file.clone(),
            };
        };
        let is_root = |name: &str| {
            self.direct.contains(name) || parents.get(name).is_none_or(BTreeSet::is_empty)
        };
        // Breadth first up the parents: the first root met is the nearest (ties by name, as
        // the parent sets are ordered).
        let mut came_from: HashMap<&str, &str> = HashMap::new();
        let mut queue: VecDeque<&str> = VecDeque::from([key]);
        came_from.insert(key, key);
        while let Some(current) = queue.pop_front() {
            if is_root(current) {
                let mut path = vec![shown(current)];
                let mut step = current;
                while step != key {
                    step = came_from.get(step).copied().unwrap_or(key);
                    path.push(shown(step));
                }
                return Origin::Direct {
                    root: current.to_string(),
                    path,
                    file: source.file.clone(),
                };
            }
            for parent in parents.get(current).into_iter().flatten() {
                if came_from.len() >= MAX_WALK {
                    break;
                }
                if !came_from.contains_key(parent.as_str()) {
                    came_from.insert(parent, current);
                    queue.push_back(parent);
                }
            }
        }
        // Only cycles above it: nothing says which direct requirement brings it.
        Origin::Unknown {
            file: source.file.clone(),
        }
    }

    /// The display name of direct requirement `root` (as the first file listing it writes it).
    pub fn display(&self, root: &str) -> String {
        self.sources
            .iter()
            .find_map(|s| s.display.get(root).cloned())
            .unwrap_or_else(|| root.to_string())
    }
}

fn root_of(origin: &Origin) -> &str {
    match origin {
        Origin::Direct { root, .. } => root,
        Origin::Unknown { file } => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_store::PackageRecord;

    fn package(file: &str, name: &str, depends_on: Option<&[&str]>) -> StoredPackage {
        StoredPackage {
            source: file.to_string(),
            package: PackageRecord {
                ecosystem: "PyPI".into(),
                name: name.into(),
                version: Some("1.0".into()),
                requirement: None,
                purl: None,
                ml: false,
                line: None,
                depends_on: depends_on.map(|d| d.iter().map(|s| s.to_string()).collect()),
                direct: false,
            },
        }
    }

    fn formats(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_lockfile_graph_gives_the_nearest_root_and_its_path() {
        let packages = vec![
            package("uv.lock", "Torch", Some(&["jinja2", "filelock"])),
            package("uv.lock", "Jinja2", Some(&["markupsafe"])),
            package("uv.lock", "MarkupSafe", Some(&[])),
            package("uv.lock", "filelock", Some(&[])),
            package("uv.lock", "flask", Some(&["jinja2", "markupsafe"])),
        ];
        let requirements = Requirements::new(&packages, &formats(&[("uv.lock", "uv-lock")]));
        assert_eq!(
            requirements.origins("markupsafe")[0],
            Origin::Direct {
                root: "flask".into(),
                path: vec!["flask".into(), "MarkupSafe".into()],
                file: "uv.lock".into()
            }
        );
        assert_eq!(
            requirements.origins("jinja2"),
            vec![Origin::Direct {
                root: "flask".into(),
                path: vec!["flask".into(), "Jinja2".into()],
                file: "uv.lock".into()
            }]
        );
        assert!(
            matches!(&requirements.origins("torch")[0], Origin::Direct { path, .. } if path.len() == 1)
        );
    }

    #[test]
    fn manifests_make_direct_requirements_and_other_files_know_nothing() {
        let packages = vec![
            package("requirements.txt", "jinja2", None),
            package("Pipfile.lock", "jinja2", None),
            package("Pipfile.lock", "markupsafe", None),
            package("uv.lock", "torch", Some(&["jinja2"])),
            package("uv.lock", "jinja2", Some(&[])),
        ];
        let requirements = Requirements::new(
            &packages,
            &formats(&[
                ("requirements.txt", "requirements"),
                ("Pipfile.lock", "pipfile-lock"),
                ("uv.lock", "uv-lock"),
            ]),
        );
        // Named by a manifest: direct everywhere, even where a lockfile has a parent for it.
        for origin in requirements.origins("jinja2") {
            assert!(
                matches!(&origin, Origin::Direct { root, path, .. } if root == "jinja2" && path.len() == 1),
                "{origin:?}"
            );
        }
        assert_eq!(
            requirements.origins("markupsafe"),
            vec![Origin::Unknown {
                file: "Pipfile.lock".into()
            }]
        );
        assert!(requirements.origins("numpy").is_empty());
    }

    #[test]
    fn cycles_without_a_root_are_of_unknown_origin() {
        let packages = vec![
            package("poetry.lock", "a", Some(&["b"])),
            package("poetry.lock", "b", Some(&["a"])),
        ];
        let requirements =
            Requirements::new(&packages, &formats(&[("poetry.lock", "poetry-lock")]));
        assert_eq!(
            requirements.origins("a"),
            vec![Origin::Unknown {
                file: "poetry.lock".into()
            }]
        );
    }
}
