//! Kubernetes manifests (and custom resources shaped like them: KServe, Kubeflow, Argo...): every
//! container-like mapping (one with an `image`) in every document, with its `command`/`args` as
//! one exec-form command line and its literal `env` entries, each with its line.

use crate::shell::{self, Script};
use crate::workflow::Entry;
use crate::yaml::{self, Node, Value, YamlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: Option<String>,
    pub image: Option<(String, u32)>,
    /// `command` + `args` as one command (the script of `sh -c` read too), when present.
    pub script: Option<Script>,
    pub env: Vec<Entry>,
    pub line: u32,
}

/// `apiVersion`/`kind` of a document, for the report's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub kind: String,
    pub containers: Vec<Container>,
}

/// True when some document of the text looks like a Kubernetes object (`apiVersion` and `kind`
/// at the top level of a line-start mapping).
pub fn looks_like_manifest(prefix: &str) -> bool {
    let mut api = false;
    let mut kind = false;
    for line in prefix.lines() {
        api |= line.starts_with("apiVersion:");
        kind |= line.starts_with("kind:");
    }
    api && kind
}

/// Parses every document of a manifest file.
pub fn parse(text: &str) -> Result<Vec<Manifest>, YamlError> {
    let documents = yaml::parse_documents(text)?;
    Ok(documents
        .iter()
        .filter(|doc| doc.get("kind").is_some())
        .map(|doc| Manifest {
            kind: doc
                .get("kind")
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_string(),
            containers: containers(doc),
        })
        .collect())
}

fn containers(doc: &Node) -> Vec<Container> {
    let mut out = Vec::new();
    let mut stack = vec![doc];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items.iter().rev()),
            Value::Map(entries) => {
                if node.get("image").and_then(Node::as_str).is_some()
                    || node.get("command").is_some_and(|c| c.as_seq().is_some())
                {
                    out.push(container(node));
                }
                for (_, value) in entries.iter().rev() {
                    stack.push(value);
                }
            }
        }
    }
    out
}

fn container(node: &Node) -> Container {
    let mut words: Vec<(String, u32)> = Vec::new();
    for key in ["command", "args"] {
        if let Some(items) = node.get(key).and_then(Node::as_seq) {
            for item in items {
                if let Some(text) = item.as_str() {
                    words.push((text.to_string(), item.content_line()));
                }
            }
        }
    }
    let script = script_of(&words);
    let env = node
        .get("env")
        .and_then(Node::as_seq)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let name = item.get("name")?;
                    Some(Entry {
                        name: name.as_str()?.to_string(),
                        value: item
                            .get("value")
                            .and_then(Node::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        line: name.line,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Container {
        name: node.get("name").and_then(Node::as_str).map(str::to_string),
        image: node
            .get("image")
            .and_then(|i| Some((i.as_str()?.to_string(), i.line))),
        script,
        env,
        line: node.line,
    }
}

/// The container's command line: `sh -c SCRIPT` is read as a script starting on the line of
/// SCRIPT; anything else as one command on the line of its first word.
fn script_of(words: &[(String, u32)]) -> Option<Script> {
    let (first, first_line) = words.first()?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if matches!(program, "sh" | "bash" | "dash" | "ash" | "zsh")
        && let Some(position) = words
            .iter()
            .position(|(w, _)| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))
        && let Some((script, line)) = words.get(position + 1)
    {
        return Some(shell::parse(script, *line));
    }
    let text = words
        .iter()
        .map(|(w, _)| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    Some(shell::parse(&text, *first_line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_containers_in_workload_templates() {
        let text = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: vllm
spec:
  template:
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:latest
          command: ["vllm", "serve"]
          args:
            - meta-llama/Llama-3.1-8B-Instruct
            - --trust-remote-code
          env:
            - name: HF_DATASETS_TRUST_REMOTE_CODE
              value: "1"
---
apiVersion: v1
kind: ConfigMap
data: {a: b}
"#;
        assert!(looks_like_manifest(text));
        let manifests = parse(text).expect("parses");
        assert_eq!(manifests.len(), 2);
        let container = &manifests[0].containers[0];
        assert_eq!(container.image.as_ref().map(|i| i.1), Some(10));
        let script = container.script.as_ref().expect("script");
        assert_eq!(script.commands[0].argv.len(), 4);
        assert_eq!(script.commands[0].line, 11);
        assert_eq!(container.env[0].line, 16);
    }
}
