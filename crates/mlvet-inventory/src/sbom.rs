//! SBOMs: CycloneDX (JSON and XML, spec 1.2–1.7, components nested recursively) and SPDX 2.2/2.3
//! (JSON and tag-value). Packages are identified by their package URL; a library, framework or
//! application without one is recorded with an unknown (empty) ecosystem and reported.

use std::collections::BTreeSet;

use mlvet_core::Finding;
use quick_xml::events::Event;

use crate::purl::Purl;
use crate::sink::Sink;
use crate::text::{LineCursor, LineIndex};
use crate::{MAX_NESTING, json, names, rules};

/// Individual `dependency-unidentified-component` findings per file; the rest are summarised.
const MAX_UNIDENTIFIED_FINDINGS: usize = 100;

/// One SBOM package, whatever the format.
#[derive(Debug, Default)]
struct Component {
    name: Option<String>,
    version: Option<String>,
    purl: Option<String>,
    /// CycloneDX `type` / SPDX `primaryPackagePurpose`, lowercased.
    kind: Option<String>,
    line: Option<u32>,
}

/// Turns SBOM components into dependencies, counting the ones that cannot be identified.
struct Emitter {
    unidentified: usize,
}

impl Emitter {
    fn new() -> Self {
        Emitter { unidentified: 0 }
    }

    fn emit(&mut self, component: Component, sink: &mut Sink) {
        let purl_text = component
            .purl
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let parsed = purl_text.and_then(Purl::parse);
        if let (Some(text), None) = (purl_text, &parsed) {
            sink.parse_error(component.line, format!("invalid package URL `{text}`"));
        }
        if let Some(purl) = parsed {
            let (ecosystem, name) = purl.ecosystem_and_name();
            let mut dependency = sink.pypi(&name, component.line);
            if ecosystem == "conda" {
                // conda purls name conda packages: map Python ones to PyPI like the conda parsers.
                if let Some(pypi) = crate::conda::conda_to_pypi_name(&name) {
                    dependency.normalized_name = names::normalize_pypi_name(&pypi);
                } else {
                    dependency.ecosystem = ecosystem;
                    dependency.normalized_name = names::normalize_for("conda", &name);
                }
            } else {
                dependency.normalized_name = names::normalize_for(&ecosystem, &name);
                dependency.ecosystem = ecosystem;
            }
            dependency.version = purl
                .version
                .clone()
                .or(component.version.clone())
                .filter(|v| !v.is_empty());
            if dependency.version.is_none() {
                dependency.requirement = Some(String::new());
            }
            dependency.purl = purl_text.map(str::to_string);
            sink.push(dependency);
            return;
        }
        let is_package = component
            .kind
            .as_deref()
            .is_none_or(|k| matches!(k, "library" | "framework" | "application"));
        let Some(name) = component
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            if is_package {
                sink.parse_error(
                    component.line,
                    "SBOM component without a name or package URL",
                );
            }
            return;
        };
        if !is_package {
            return; // Files, data sets, models, containers, OS images: not packages to match.
        }
        let mut dependency = sink.pypi(name, component.line);
        dependency.ecosystem = String::new();
        dependency.normalized_name = name.to_string();
        dependency.version = component.version.clone().filter(|v| !v.is_empty());
        if dependency.version.is_none() {
            dependency.requirement = Some(String::new());
        }
        sink.push(dependency);
        self.unidentified += 1;
        if self.unidentified <= MAX_UNIDENTIFIED_FINDINGS {
            let location = sink.location(&sink.display.clone(), component.line);
            let version = component.version.as_deref().unwrap_or("?");
            sink.findings.push(
                Finding::new(
                    &rules::dependency_unidentified_component::RULE,
                    location,
                    format!("component `{name}` {version} has no package URL; its ecosystem is unknown and it was not matched"),
                )
                .evidence("component", name),
            );
        }
    }

    fn finish(self, sink: &mut Sink) {
        if self.unidentified > MAX_UNIDENTIFIED_FINDINGS {
            let location = sink.location(&sink.display.clone(), None);
            sink.findings.push(Finding::new(
                &rules::dependency_unidentified_component::RULE,
                location,
                format!(
                    "{} further components without a package URL were not reported individually",
                    self.unidentified - MAX_UNIDENTIFIED_FINDINGS
                ),
            ));
        }
    }
}

/// Streams the top-level members `select` picks from an SBOM (see [`json::stream`]), reporting a
/// document that is not an object or not valid JSON. Pieces before a syntax error are kept.
fn stream_json_document(
    content: &str,
    lines: &mut LineCursor<'_>,
    sink: &mut Sink,
    select: impl Fn(&str) -> json::Take,
    mut each: impl FnMut(&str, json::Streamed, &mut LineCursor<'_>, &mut Sink),
) -> bool {
    let streamed = json::stream(content, select, |key, piece| each(key, piece, lines, sink));
    match streamed {
        Ok(true) => true,
        Ok(false) => {
            sink.parse_error(Some(1), "the SBOM is not a JSON object");
            false
        }
        Err(error) => {
            sink.parse_error(
                Some(lines.line(error.offset)),
                format!("invalid JSON: {}", error.message),
            );
            false
        }
    }
}

/// CycloneDX JSON: top-level `components` are streamed one at a time, each with its nested
/// components; everything else (`dependencies`, `services`...) is validated and skipped.
pub(crate) fn parse_cyclonedx_json(content: &str, sink: &mut Sink) {
    let mut lines = LineCursor::new(content);
    let mut emitter = Emitter::new();
    stream_json_document(
        content,
        &mut lines,
        sink,
        |key| {
            if key == "components" {
                json::Take::Elements
            } else {
                json::Take::Skip
            }
        },
        |_, piece, lines, sink| {
            if let json::Streamed::Element(component) = piece {
                cyclonedx_components(std::slice::from_ref(&component), lines, &mut emitter, sink);
            }
        },
    );
    emitter.finish(sink);
}

fn cyclonedx_components(
    top: &[json::Node],
    lines: &mut LineCursor<'_>,
    emitter: &mut Emitter,
    sink: &mut Sink,
) {
    let mut stack: Vec<&json::Node> = top.iter().rev().collect();
    while let Some(node) = stack.pop() {
        if !sink.has_room() {
            return;
        }
        let line = node
            .get("name")
            .or_else(|| node.get("purl"))
            .map_or(lines.line(node.offset), |n| lines.line(n.offset));
        if !node.is_object() {
            sink.parse_error(Some(line), "CycloneDX component is not an object");
            continue;
        }
        emitter.emit(
            Component {
                name: node.str_at("name").map(str::to_string),
                version: node.str_at("version").map(str::to_string),
                purl: node.str_at("purl").map(str::to_string),
                kind: node.str_at("type").map(str::to_ascii_lowercase),
                line: Some(line),
            },
            sink,
        );
        if let Some(children) = node.get("components") {
            stack.extend(children.as_array().iter().rev());
        }
    }
}

pub(crate) fn parse_cyclonedx_xml(content: &str, sink: &mut Sink) {
    let lines = LineIndex::new(content);
    let mut reader = quick_xml::Reader::from_str(content);
    let mut path: Vec<String> = Vec::new();
    // Components being read, with the element depth at which each started.
    let mut open: Vec<(usize, Component)> = Vec::new();
    let mut field: Option<String> = None;
    let mut emitter = Emitter::new();
    loop {
        let position = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                sink.parse_error(Some(lines.line(at)), format!("invalid XML: {error}"));
                break;
            }
        };
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.len() >= MAX_NESTING {
                    sink.truncated(
                        Some(lines.line(position)),
                        format!(
                            "XML nested deeper than {MAX_NESTING} levels; the rest was not read"
                        ),
                    );
                    break;
                }
                let in_metadata = path.iter().any(|p| p == "metadata");
                if name == "component"
                    && !in_metadata
                    && path.last().is_some_and(|p| p == "components")
                {
                    let kind = start
                        .try_get_attribute("type")
                        .ok()
                        .flatten()
                        .map(|a| String::from_utf8_lossy(&a.value).to_ascii_lowercase());
                    open.push((
                        path.len() + 1,
                        Component {
                            kind,
                            line: Some(lines.line(position)),
                            ..Component::default()
                        },
                    ));
                }
                path.push(name.clone());
                // A direct child of the innermost open component is one of its fields.
                field = match open.last() {
                    Some((depth, _))
                        if path.len() == depth + 1
                            && matches!(name.as_str(), "name" | "version" | "purl") =>
                    {
                        Some(name)
                    }
                    _ => None,
                };
            }
            Event::Empty(_) => {}
            Event::Text(text) => {
                if let (Some(field), Some((_, component))) = (&field, open.last_mut()) {
                    let value = text
                        .xml_content()
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    append_field(component, field, &value);
                }
            }
            Event::CData(data) => {
                if let (Some(field), Some((_, component))) = (&field, open.last_mut()) {
                    append_field(component, field, &String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                if let (Some(field), Some((_, component))) = (&field, open.last_mut()) {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => predefined_entity(&String::from_utf8_lossy(&reference))
                            .map(str::to_string),
                    };
                    if let Some(resolved) = resolved {
                        append_field(component, field, &resolved);
                    }
                }
            }
            Event::End(_) => {
                if open.last().is_some_and(|(depth, _)| *depth == path.len())
                    && let Some((_, component)) = open.pop()
                {
                    emitter.emit(component, sink);
                }
                path.pop();
                field = None;
            }
            Event::Eof => break,
            _ => {}
        }
        if !sink.has_room() {
            break;
        }
    }
    emitter.finish(sink);
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

fn append_field(component: &mut Component, field: &str, value: &str) {
    let slot = match field {
        "name" => &mut component.name,
        "version" => &mut component.version,
        "purl" => &mut component.purl,
        _ => return,
    };
    slot.get_or_insert_with(String::new).push_str(value);
}

/// SPDX JSON, streamed in two passes: the ids the document describes (`documentDescribes` and
/// `DESCRIBES` relationships, which may come after the packages), then the packages one at a
/// time. Only the described ids are kept between the passes.
pub(crate) fn parse_spdx_json(content: &str, sink: &mut Sink) {
    let mut lines = LineCursor::new(content);
    let mut described: BTreeSet<String> = BTreeSet::new();
    let readable = stream_json_document(
        content,
        &mut lines,
        sink,
        |key| match key {
            "documentDescribes" => json::Take::Whole,
            "relationships" => json::Take::Elements,
            _ => json::Take::Skip,
        },
        |_, piece, _, _| match piece {
            json::Streamed::Whole(ids) => described.extend(
                ids.as_array()
                    .iter()
                    .filter_map(json::Node::as_str)
                    .map(str::to_string),
            ),
            json::Streamed::Element(relationship) => {
                if relationship.str_at("relationshipType") == Some("DESCRIBES")
                    && relationship.str_at("spdxElementId") == Some("SPDXRef-DOCUMENT")
                    && let Some(target) = relationship.str_at("relatedSpdxElement")
                {
                    described.insert(target.to_string());
                }
            }
            json::Streamed::Member(..) => {}
        },
    );
    if !readable {
        return;
    }
    let mut lines = LineCursor::new(content);
    let mut emitter = Emitter::new();
    stream_json_document(
        content,
        &mut lines,
        sink,
        |key| {
            if key == "packages" {
                json::Take::Elements
            } else {
                json::Take::Skip
            }
        },
        |_, piece, lines, sink| {
            if let json::Streamed::Element(package) = piece
                && sink.has_room()
            {
                spdx_package(&package, &described, lines, &mut emitter, sink);
            }
        },
    );
    emitter.finish(sink);
}

fn spdx_package(
    package: &json::Node,
    described: &BTreeSet<String>,
    lines: &mut LineCursor<'_>,
    emitter: &mut Emitter,
    sink: &mut Sink,
) {
    let line = package
        .get("name")
        .map_or(lines.line(package.offset), |n| lines.line(n.offset));
    let purl = package.get("externalRefs").and_then(|refs| {
        refs.as_array().iter().find_map(|r| {
            let is_purl = r
                .str_at("referenceType")
                .is_some_and(|t| t.eq_ignore_ascii_case("purl"));
            is_purl
                .then(|| r.str_at("referenceLocator").map(str::to_string))
                .flatten()
        })
    });
    let id = package.str_at("SPDXID").unwrap_or_default();
    if purl.is_none() && described.contains(id) {
        return; // The document's subject (the scanned project or image), not a dependency.
    }
    emitter.emit(
        Component {
            name: package.str_at("name").map(str::to_string),
            version: package.str_at("versionInfo").map(str::to_string),
            purl,
            kind: package.str_at("primaryPackagePurpose").map(spdx_purpose),
            line: Some(line),
        },
        sink,
    );
}

/// SPDX `primaryPackagePurpose` in CycloneDX `type` vocabulary (`LIBRARY` → `library`...).
fn spdx_purpose(purpose: &str) -> String {
    purpose.to_ascii_lowercase().replace('_', "-")
}

pub(crate) fn parse_spdx_tag_value(content: &str, sink: &mut Sink) {
    let mut packages: Vec<(Option<String>, Component)> = Vec::new();
    let mut described = BTreeSet::new();
    let mut in_text = false;
    for (index, line) in content.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if in_text {
            in_text = !line.contains("</text>");
            continue;
        }
        let Some((tag, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.contains("<text>") && !value.contains("</text>") {
            in_text = true;
        }
        match tag.trim() {
            "PackageName" => packages.push((
                None,
                Component {
                    name: Some(value.to_string()),
                    line: Some(number),
                    ..Component::default()
                },
            )),
            "FileName" | "SnippetSPDXID" | "LicenseID" => {
                packages.push((None, Component::default()))
            }
            "SPDXID" => {
                if let Some((id, _)) = packages
                    .last_mut()
                    .filter(|(id, c)| id.is_none() && c.name.is_some())
                {
                    *id = Some(value.to_string());
                }
            }
            "PackageVersion" => set_last(&mut packages, |c| c.version = Some(value.to_string())),
            "PrimaryPackagePurpose" => {
                set_last(&mut packages, |c| c.kind = Some(spdx_purpose(value)))
            }
            "ExternalRef" => {
                let mut parts = value.split_whitespace();
                let (_category, kind, locator) = (parts.next(), parts.next(), parts.next());
                if kind.is_some_and(|k| k.eq_ignore_ascii_case("purl"))
                    && let Some(locator) = locator
                {
                    set_last(&mut packages, |c| {
                        c.purl.get_or_insert_with(|| locator.to_string());
                    });
                }
            }
            "Relationship" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                if let [subject, "DESCRIBES", target] = parts.as_slice()
                    && *subject == "SPDXRef-DOCUMENT"
                {
                    described.insert((*target).to_string());
                }
            }
            "DocumentDescribes" => described.extend(value.split(',').map(|s| s.trim().to_string())),
            _ => {}
        }
    }
    let mut emitter = Emitter::new();
    for (id, component) in packages {
        if component.name.is_none() {
            continue; // A file, snippet or licence section.
        }
        if component.purl.is_none() && id.is_some_and(|id| described.contains(&id)) {
            continue;
        }
        emitter.emit(component, sink);
        if !sink.has_room() {
            break;
        }
    }
    emitter.finish(sink);
}

/// Applies `update` to the package being read, if the current section is a package.
fn set_last(packages: &mut [(Option<String>, Component)], update: impl FnOnce(&mut Component)) {
    if let Some((_, component)) = packages.last_mut().filter(|(_, c)| c.name.is_some()) {
        update(component);
    }
}
