//! GitHub Actions workflows and composite actions: triggers, permissions, `env`, jobs, `runs-on`
//! (strings, lists, `group`/`labels`, `${{ matrix.* }}` resolved from the job's matrix), steps
//! (`uses`, `with`, `run` parsed as shell with file lines, `env`, `shell`), and the `secrets.*`
//! each job can read. `${{ }}` expressions are kept as text; nothing is evaluated.

use crate::shell::{self, Script};
use crate::yaml::{self, Node, YamlError};

/// A name/value pair with the line of its key (`env:` entries, `with:` inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub event: String,
    pub line: u32,
}

/// A `permissions:` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Permissions {
    /// Not written: the repository's default token permissions apply.
    #[default]
    Unset,
    ReadAll,
    WriteAll,
    /// `{}` or scope → `read|write|none`.
    Scopes(Vec<(String, String)>),
}

impl Permissions {
    fn from_node(node: Option<&Node>) -> Permissions {
        let Some(node) = node else {
            return Permissions::Unset;
        };
        match (node.as_str(), node.as_map()) {
            (Some("read-all"), _) => Permissions::ReadAll,
            (Some("write-all"), _) => Permissions::WriteAll,
            (_, Some(entries)) => Permissions::Scopes(
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                    .collect(),
            ),
            _ => Permissions::Unset,
        }
    }

    /// `id-token: write` (cloud OIDC credentials obtainable).
    pub fn id_token_write(&self) -> bool {
        match self {
            Permissions::WriteAll => true,
            Permissions::Scopes(scopes) => scopes
                .iter()
                .any(|(scope, level)| scope == "id-token" && level == "write"),
            _ => false,
        }
    }

    /// Any scope granted `write`, or unset (the default token may be read-write).
    pub fn may_write(&self) -> bool {
        match self {
            Permissions::Unset | Permissions::WriteAll => true,
            Permissions::ReadAll => false,
            // `id-token: write` mints OIDC tokens; it grants no write access to the repository.
            Permissions::Scopes(scopes) => scopes
                .iter()
                .any(|(scope, level)| level == "write" && scope != "id-token"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 0-based position in the job.
    pub index: usize,
    pub line: u32,
    pub name: Option<String>,
    pub uses: Option<String>,
    pub with: Vec<Entry>,
    /// The `run:` text and the line its content starts on.
    pub run: Option<(String, u32)>,
    /// The `run:` script parsed as shell (absent for `shell: pwsh`/`python`/`cmd`).
    pub script: Option<Script>,
    pub env: Vec<Entry>,
}

impl Step {
    /// The `with:` input `name`.
    pub fn input(&self, name: &str) -> Option<&Entry> {
        self.with.iter().find(|e| e.name == name)
    }

    /// The action name without its ref: `actions/checkout@v4` → `actions/checkout`.
    pub fn action(&self) -> Option<&str> {
        let uses = self.uses.as_deref()?;
        Some(uses.split('@').next().unwrap_or(uses))
    }
}

/// A label of `runs-on`, with the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub text: String,
    pub line: u32,
    /// Resolved from `${{ matrix.* }}`.
    pub from_matrix: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub line: u32,
    /// `runs-on` labels (and `labels:` of the map form), matrix references resolved.
    pub runs_on: Vec<Label>,
    /// `runs-on: { group: NAME }`.
    pub runner_group: Option<Label>,
    /// `runs-on` is an expression mlvet cannot resolve.
    pub runs_on_unresolved: Option<Label>,
    pub permissions: Permissions,
    pub env: Vec<Entry>,
    pub steps: Vec<Step>,
    /// A reusable-workflow call (`jobs.<id>.uses`).
    pub uses: Option<String>,
    pub secrets_inherit: bool,
    /// Every `secrets.NAME` the job's definition mentions (sorted, deduplicated).
    pub secrets: Vec<String>,
    pub if_condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workflow {
    /// True for a composite `action.yml` (its steps form one job named `action`).
    pub is_action: bool,
    pub triggers: Vec<Trigger>,
    pub permissions: Permissions,
    pub env: Vec<Entry>,
    /// `secrets.NAME` mentioned at workflow level (`env:`).
    pub secrets: Vec<String>,
    pub jobs: Vec<Job>,
}

impl Workflow {
    pub fn has_trigger(&self, event: &str) -> bool {
        self.triggers.iter().any(|t| t.event == event)
    }

    pub fn trigger(&self, event: &str) -> Option<&Trigger> {
        self.triggers.iter().find(|t| t.event == event)
    }

    /// Parses a workflow (or, with `is_action`, a composite action).
    pub fn parse(text: &str, is_action: bool) -> Result<Workflow, YamlError> {
        let documents = yaml::parse_documents(text)?;
        let Some(root) = documents.into_iter().next() else {
            return Ok(Workflow {
                is_action,
                ..Workflow::default()
            });
        };
        let mut workflow = Workflow {
            is_action,
            ..Workflow::default()
        };
        if is_action {
            if let Some(steps) = root.get("runs").and_then(|r| r.get("steps")) {
                let line = root.key("runs").map_or(1, |k| k.line);
                workflow.jobs.push(Job {
                    id: "action".to_string(),
                    line,
                    runs_on: Vec::new(),
                    runner_group: None,
                    runs_on_unresolved: None,
                    permissions: Permissions::Unset,
                    env: Vec::new(),
                    steps: parse_steps(steps),
                    uses: None,
                    secrets_inherit: false,
                    secrets: secret_names(steps),
                    if_condition: None,
                });
            }
            return Ok(workflow);
        }
        if let Some(on) = root.get("on").or_else(|| root.get("true")) {
            workflow.triggers = parse_triggers(on);
        }
        workflow.permissions = Permissions::from_node(root.get("permissions"));
        workflow.env = entries(root.get("env"));
        if let Some(env) = root.get("env") {
            workflow.secrets = secret_names(env);
        }
        if let Some(jobs) = root.get("jobs").and_then(Node::as_map) {
            for (key, job) in jobs {
                let Some(id) = key.as_str() else { continue };
                workflow.jobs.push(parse_job(id, key.line, job));
            }
        }
        Ok(workflow)
    }
}

fn parse_triggers(on: &Node) -> Vec<Trigger> {
    if let Some(event) = on.as_str() {
        return vec![Trigger {
            event: event.to_string(),
            line: on.line,
        }];
    }
    if let Some(items) = on.as_seq() {
        return items
            .iter()
            .filter_map(|item| {
                Some(Trigger {
                    event: item.as_str()?.to_string(),
                    line: item.line,
                })
            })
            .collect();
    }
    on.as_map()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|(k, _)| {
                    Some(Trigger {
                        event: k.as_str()?.to_string(),
                        line: k.line,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_job(id: &str, line: u32, job: &Node) -> Job {
    let mut parsed = Job {
        id: id.to_string(),
        line,
        runs_on: Vec::new(),
        runner_group: None,
        runs_on_unresolved: None,
        permissions: Permissions::from_node(job.get("permissions")),
        env: entries(job.get("env")),
        steps: job.get("steps").map(parse_steps).unwrap_or_default(),
        uses: job.get("uses").and_then(Node::as_str).map(str::to_string),
        secrets_inherit: job.get("secrets").and_then(Node::as_str) == Some("inherit"),
        secrets: secret_names(job),
        if_condition: job.get("if").and_then(Node::as_str).map(str::to_string),
    };
    if let Some(runs_on) = job.get("runs-on") {
        let matrix = job.get("strategy").and_then(|s| s.get("matrix"));
        let mut labels: Vec<&Node> = Vec::new();
        match &runs_on.value {
            yaml::Value::Scalar(_) => labels.push(runs_on),
            yaml::Value::Seq(items) => labels.extend(items.iter()),
            yaml::Value::Map(_) => {
                if let Some(group) = runs_on.get("group") {
                    parsed.runner_group = group.as_str().map(|text| Label {
                        text: text.to_string(),
                        line: group.line,
                        from_matrix: false,
                    });
                }
                match runs_on.get("labels") {
                    Some(node) if node.as_seq().is_some() => {
                        labels.extend(node.as_seq().unwrap_or_default().iter())
                    }
                    Some(node) => labels.push(node),
                    None => {}
                }
            }
        }
        for node in labels {
            let Some(text) = node.as_str() else { continue };
            match matrix_reference(text) {
                Some(key) => {
                    let values = matrix.map(|m| matrix_values(m, key)).unwrap_or_default();
                    if values.is_empty() {
                        parsed.runs_on_unresolved = Some(Label {
                            text: text.to_string(),
                            line: node.line,
                            from_matrix: false,
                        });
                    }
                    for value in values {
                        parsed.runs_on.push(Label {
                            text: value,
                            line: node.line,
                            from_matrix: true,
                        });
                    }
                }
                None if text.contains("${{") => {
                    parsed.runs_on_unresolved = Some(Label {
                        text: text.to_string(),
                        line: node.line,
                        from_matrix: false,
                    });
                }
                None => parsed.runs_on.push(Label {
                    text: text.to_string(),
                    line: node.line,
                    from_matrix: false,
                }),
            }
        }
    }
    parsed
}

/// `${{ matrix.os }}` → `os`.
fn matrix_reference(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let key = inner.strip_prefix("matrix.")?;
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        .then_some(key)
}

/// Every scalar value the matrix gives `key` (its list, and `include` entries).
fn matrix_values(matrix: &Node, key: &str) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(node) = matrix.get(key) {
        match &node.value {
            yaml::Value::Scalar(s) => values.push(s.clone()),
            yaml::Value::Seq(items) => {
                for item in items {
                    match &item.value {
                        yaml::Value::Scalar(s) => values.push(s.clone()),
                        // A list of labels for one matrix entry.
                        yaml::Value::Seq(labels) => values
                            .extend(labels.iter().filter_map(|l| l.as_str().map(str::to_string))),
                        yaml::Value::Map(_) => {}
                    }
                }
            }
            yaml::Value::Map(_) => {}
        }
    }
    if let Some(include) = matrix.get("include").and_then(Node::as_seq) {
        for entry in include {
            if let Some(value) = entry.get(key) {
                match &value.value {
                    yaml::Value::Scalar(s) => values.push(s.clone()),
                    yaml::Value::Seq(labels) => {
                        values.extend(labels.iter().filter_map(|l| l.as_str().map(str::to_string)))
                    }
                    yaml::Value::Map(_) => {}
                }
            }
        }
    }
    values.sort();
    values.dedup();
    values
}

fn parse_steps(steps: &Node) -> Vec<Step> {
    let Some(items) = steps.as_seq() else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let run = node.get("run").and_then(|run| {
                run.as_str()
                    .map(|text| (text.to_string(), run.content_line()))
            });
            let shell_name = node.get("shell").and_then(Node::as_str).unwrap_or("bash");
            let is_posix_shell = ["bash", "sh"]
                .iter()
                .any(|s| shell_name == *s || shell_name.starts_with(&format!("{s} ")));
            let script = match &run {
                Some((text, line)) if is_posix_shell => Some(shell::parse(text, *line)),
                _ => None,
            };
            Step {
                index,
                line: node.line,
                name: node.get("name").and_then(Node::as_str).map(str::to_string),
                uses: node.get("uses").and_then(Node::as_str).map(str::to_string),
                with: entries(node.get("with")),
                run,
                script,
                env: entries(node.get("env")),
            }
        })
        .collect()
}

fn entries(node: Option<&Node>) -> Vec<Entry> {
    node.and_then(Node::as_map)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| {
                    Some(Entry {
                        name: k.as_str()?.to_string(),
                        value: v.as_str().unwrap_or_default().to_string(),
                        line: k.line,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every `secrets.NAME` / `secrets['NAME']` mentioned in the scalars under `node`.
pub fn secret_names(node: &Node) -> Vec<String> {
    let mut names = Vec::new();
    for scalar in node.scalars() {
        let Some(text) = scalar.as_str() else {
            continue;
        };
        names.extend(secret_refs(text));
    }
    names.sort();
    names.dedup();
    names
}

/// `secrets.NAME` references in one string.
pub fn secret_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("secrets") {
        let after = &rest[pos + "secrets".len()..];
        let preceded_ok = rest[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        let name: String = if let Some(dotted) = after.strip_prefix('.') {
            dotted
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        } else if let Some(indexed) = after
            .strip_prefix("['")
            .or_else(|| after.strip_prefix("[\""))
        {
            indexed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        } else {
            String::new()
        };
        if preceded_ok && !name.is_empty() {
            out.push(name);
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = r#"name: eval
on:
  pull_request_target:
    types: [opened]
  workflow_dispatch:
permissions:
  contents: read
  id-token: write
env:
  HF_TOKEN: ${{ secrets.HF_TOKEN }}
jobs:
  eval:
    runs-on: ${{ matrix.runner }}
    strategy:
      matrix:
        runner: [ubuntu-latest, linux.g5.4xlarge.nvidia.gpu]
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - name: Install
        run: |
          pip install -e .
          pytest -x
        env:
          WANDB_API_KEY: ${{ secrets['WANDB_API_KEY'] }}
"#;

    #[test]
    fn parses_triggers_jobs_steps_and_lines() {
        let workflow = Workflow::parse(WORKFLOW, false).expect("parses");
        let events: Vec<(&str, u32)> = workflow
            .triggers
            .iter()
            .map(|t| (t.event.as_str(), t.line))
            .collect();
        assert_eq!(
            events,
            vec![("pull_request_target", 3), ("workflow_dispatch", 5)]
        );
        assert!(workflow.permissions.id_token_write());
        assert_eq!(workflow.secrets, vec!["HF_TOKEN"]);
        let job = &workflow.jobs[0];
        assert_eq!((job.id.as_str(), job.line), ("eval", 12));
        let labels: Vec<&str> = job.runs_on.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(labels, vec!["linux.g5.4xlarge.nvidia.gpu", "ubuntu-latest"]);
        assert_eq!(job.steps[0].action(), Some("actions/checkout"));
        assert_eq!(
            job.steps[0].input("ref").map(|e| e.value.as_str()),
            Some("${{ github.event.pull_request.head.sha }}")
        );
        let script = job.steps[1].script.as_ref().expect("script");
        let lines: Vec<u32> = script.commands.iter().map(|c| c.line).collect();
        assert_eq!(lines, vec![23, 24]);
        assert_eq!(job.secrets, vec!["WANDB_API_KEY"]);
    }

    #[test]
    fn composite_actions_are_one_job() {
        let workflow = Workflow::parse(
            "name: a\nruns:\n  using: composite\n  steps:\n    - run: pip install x\n      shell: bash\n",
            true,
        )
        .expect("parses");
        assert_eq!(workflow.jobs.len(), 1);
        assert_eq!(
            workflow.jobs[0].steps[0]
                .script
                .as_ref()
                .map(|s| s.commands[0].line),
            Some(5)
        );
    }
}
