//! Collects the dependencies and findings of one parse, enforcing the entry limit.

use mlvet_core::{Finding, Location, SourceRef};

use crate::{
    Dependency, DependencyEdge, Inventory, MAX_EDGES, MAX_ENTRIES, MAX_NAME_BYTES, MAX_SPEC_BYTES,
    MAX_VERSION_BYTES, ManifestKind, Origin, names, rules,
};

pub(crate) struct Sink {
    pub display: String,
    pub kind: ManifestKind,
    pub dependencies: Vec<Dependency>,
    pub findings: Vec<Finding>,
    pub fully_parsed: bool,
    /// `from → to` edges by normalised name, where the file records them.
    pub edges: Vec<DependencyEdge>,
    /// Normalised names of the project's own requirements, where the file records them.
    pub direct: Vec<String>,
    truncated: bool,
    parse_errors: usize,
}

/// Parse-error findings kept per file; the rest are summarised in one finding.
const MAX_PARSE_FINDINGS: usize = 200;

impl Sink {
    pub fn new(display: &str, kind: ManifestKind) -> Self {
        Sink {
            display: display.to_string(),
            kind,
            dependencies: Vec::new(),
            findings: Vec::new(),
            fully_parsed: true,
            edges: Vec::new(),
            direct: Vec::new(),
            truncated: false,
            parse_errors: 0,
        }
    }

    pub fn origin(&self) -> Origin {
        self.kind.origin()
    }

    /// Whether another entry may still be added.
    pub fn has_room(&self) -> bool {
        !self.truncated
    }

    /// A source reference in the file this sink is for.
    pub fn source(&self, line: Option<u32>) -> SourceRef {
        SourceRef {
            file: self.display.clone(),
            line,
        }
    }

    pub fn location(&self, file: &str, line: Option<u32>) -> Location {
        let mut location = Location::file(file);
        location.line = line;
        location
    }

    /// A PyPI dependency skeleton: name normalised, everything else empty.
    pub fn pypi(&self, name: &str, line: Option<u32>) -> Dependency {
        Dependency {
            ecosystem: "PyPI".to_string(),
            name: name.to_string(),
            normalized_name: names::normalize_pypi_name(name),
            version: None,
            requirement: None,
            markers: None,
            extras: Vec::new(),
            source: self.source(line),
            origin: self.origin(),
            direct_url: None,
            purl: None,
        }
    }

    pub fn push(&mut self, dependency: Dependency) {
        if let Some(problem) = over_long_field(&dependency) {
            // Refused, not truncated: a cut name or version would name another package.
            self.parse_error(dependency.source.line, problem);
            return;
        }
        if self.dependencies.len() >= MAX_ENTRIES {
            if !self.truncated {
                self.truncated = true;
                self.fully_parsed = false;
                let location = self.location(&dependency.source.file, dependency.source.line);
                self.findings.push(
                    Finding::new(
                        &rules::dependency_inventory_truncated::RULE,
                        location,
                        format!("more than {MAX_ENTRIES} dependency entries; the rest were not inventoried"),
                    )
                    .evidence("limit", MAX_ENTRIES.to_string()),
                );
            }
            return;
        }
        if self.dependencies.len() == self.dependencies.capacity() {
            // Double as `Vec` would, but never past the limit: at 100,000 entries of 256 bytes,
            // the slack of a plain doubling (to 131,072) alone is ~8 MB of the memory budget.
            let room = MAX_ENTRIES - self.dependencies.len();
            self.dependencies
                .reserve_exact(self.dependencies.capacity().clamp(4, room.max(1)));
        }
        self.dependencies.push(dependency);
    }

    /// Records that PyPI package `from` depends on `to` (names as written; normalised here).
    /// Edges past [`MAX_EDGES`] are dropped with one truncation finding: the dependency records
    /// themselves are complete, only the graph is cut.
    pub fn pypi_edge(&mut self, from: &str, to: &str, line: Option<u32>) {
        if from.len() > MAX_NAME_BYTES || to.len() > MAX_NAME_BYTES || to.trim().is_empty() {
            return;
        }
        if self.edges.len() >= MAX_EDGES {
            if self.edges.len() == MAX_EDGES {
                self.truncated(line, format!("more than {MAX_EDGES} dependency edges; the rest of the graph was not recorded"));
                // One past the limit marks the finding as reported; it is removed in `finish`.
                self.edges.push(DependencyEdge::default());
            }
            return;
        }
        self.edges.push(DependencyEdge {
            from: names::normalize_pypi_name(from),
            to: names::normalize_pypi_name(to),
        });
    }

    /// Records that the project itself requires PyPI package `name` (as written; normalised
    /// here). Bounded like the edges: past [`MAX_EDGES`] names the rest are dropped.
    pub fn project_requirement(&mut self, name: &str) {
        if name.len() > MAX_NAME_BYTES || name.trim().is_empty() || self.direct.len() >= MAX_EDGES {
            return;
        }
        self.direct.push(names::normalize_pypi_name(name));
    }

    /// A parse problem in this sink's file.
    pub fn parse_error(&mut self, line: Option<u32>, message: impl Into<String>) {
        let file = self.display.clone();
        self.parse_error_in(&file, line, message);
    }

    /// A parse problem in `file` (an included requirements file).
    pub fn parse_error_in(&mut self, file: &str, line: Option<u32>, message: impl Into<String>) {
        self.fully_parsed = false;
        self.parse_errors += 1;
        if self.parse_errors > MAX_PARSE_FINDINGS {
            return;
        }
        let location = self.location(file, line);
        self.findings.push(Finding::new(
            &rules::dependency_parse_error::RULE,
            location,
            bounded_message(message.into()),
        ));
    }

    /// The limit on nesting (JSON/XML depth, component nesting) was hit.
    pub fn truncated(&mut self, line: Option<u32>, message: impl Into<String>) {
        self.fully_parsed = false;
        let location = self.location(&self.display.clone(), line);
        self.findings.push(Finding::new(
            &rules::dependency_inventory_truncated::RULE,
            location,
            message.into(),
        ));
    }

    pub fn finish(mut self) -> Inventory {
        if self.parse_errors > MAX_PARSE_FINDINGS {
            let location = self.location(&self.display.clone(), None);
            self.findings.push(Finding::new(
                &rules::dependency_parse_error::RULE,
                location,
                format!(
                    "{} further parse errors were not reported individually",
                    self.parse_errors - MAX_PARSE_FINDINGS
                ),
            ));
        }
        // Unstable is exact here (ties are broken by the full `Ord`, so equal elements are
        // identical) and sorts in place: a stable sort's scratch buffer is n/2 entries, 25 MB at
        // the 100,000-entry limit.
        self.dependencies.sort_unstable_by(|a, b| {
            a.source
                .cmp(&b.source)
                .then_with(|| a.normalized_name.cmp(&b.normalized_name))
                .then_with(|| a.cmp(b))
        });
        self.dependencies.dedup();
        self.findings.sort_by(mlvet_core::Finding::report_order);
        self.edges.retain(|edge| !edge.from.is_empty());
        self.edges.sort_unstable();
        self.edges.dedup();
        self.direct.sort_unstable();
        self.direct.dedup();
        Inventory {
            direct: self.direct,
            kind: self.kind,
            edges: self.edges,
            dependencies: self.dependencies,
            findings: self.findings,
            fully_parsed: self.fully_parsed,
        }
    }
}

/// Longest parse-error message kept (characters): messages quote the input they are about, and
/// a hostile file must not turn one finding into megabytes of report.
const MAX_MESSAGE_CHARS: usize = 512;

fn bounded_message(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", message.get(..end).unwrap_or_default()),
        None => message,
    }
}

/// Why a dependency is refused for an over-long field, if it is (see [`MAX_NAME_BYTES`]).
fn over_long_field(dependency: &Dependency) -> Option<String> {
    let specs = [
        ("requirement", dependency.requirement.as_deref()),
        ("markers", dependency.markers.as_deref()),
        ("URL", dependency.direct_url.as_deref()),
        ("package URL", dependency.purl.as_deref()),
    ];
    let fields = [
        ("name", Some(dependency.name.as_str()), MAX_NAME_BYTES),
        ("version", dependency.version.as_deref(), MAX_VERSION_BYTES),
    ]
    .into_iter()
    .chain(
        specs
            .into_iter()
            .map(|(field, value)| (field, value, MAX_SPEC_BYTES)),
    )
    .chain(
        dependency
            .extras
            .iter()
            .map(|extra| ("extra", Some(extra.as_str()), MAX_NAME_BYTES)),
    );
    for (field, value, limit) in fields {
        let Some(value) = value.filter(|v| v.len() > limit) else {
            continue;
        };
        return Some(format!(
            "package {field} of {} bytes (`{}…`) is over the {limit}-byte limit; the entry was not inventoried",
            value.len(),
            value.chars().take(40).collect::<String>()
        ));
    }
    None
}
