//! Docker Compose files: every service's `image`, `command`/`entrypoint` (string: shell form;
//! list: exec form) and `environment` (map or `KEY=value` list), each with its line, as the same
//! [`Container`] view the Kubernetes reader gives.

use crate::kubernetes::{Container, Manifest};
use crate::shell;
use crate::workflow::Entry;
use crate::yaml::{self, Node, Value, YamlError};

/// A Compose file by its name: `compose.yaml`, `docker-compose.yml`, `docker-compose.gpu.yml`...
pub fn is_compose_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".yml")
        .or_else(|| lower.strip_suffix(".yaml"));
    stem.is_some_and(|stem| {
        stem == "compose"
            || stem == "docker-compose"
            || stem.starts_with("docker-compose.")
            || stem.starts_with("compose.")
            || stem.ends_with(".compose")
    })
}

/// Parses a Compose file into one [`Manifest`] of kind `compose` holding every service.
pub fn parse(text: &str) -> Result<Vec<Manifest>, YamlError> {
    let documents = yaml::parse_documents(text)?;
    let mut containers = Vec::new();
    for doc in &documents {
        let Some(services) = doc.get("services").and_then(Node::as_map) else {
            continue;
        };
        for (name, service) in services {
            containers.push(service_container(name, service));
        }
    }
    Ok(vec![Manifest {
        kind: "compose".to_string(),
        containers,
    }])
}

fn service_container(name: &Node, service: &Node) -> Container {
    let mut scripts = Vec::new();
    for key in ["entrypoint", "command"] {
        let Some(node) = service.get(key) else {
            continue;
        };
        match &node.value {
            Value::Scalar(text) => scripts.push(shell::parse(text, node.content_line())),
            Value::Seq(items) => {
                let words: Vec<String> = items
                    .iter()
                    .filter_map(|i| {
                        i.as_str()
                            .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
                    })
                    .collect();
                scripts.push(shell::parse(&words.join(" "), node.line));
            }
            Value::Map(_) => {}
        }
    }
    let script = scripts.into_iter().reduce(|mut a, b| {
        a.truncated |= b.truncated;
        a.commands.extend(b.commands);
        a
    });
    let mut env = Vec::new();
    if let Some(environment) = service.get("environment") {
        match &environment.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    if let Some(name) = key.as_str() {
                        env.push(Entry {
                            name: name.to_string(),
                            value: value.as_str().unwrap_or_default().to_string(),
                            line: key.line,
                        });
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    if let Some(text) = item.as_str() {
                        let (name, value) = text.split_once('=').unwrap_or((text, ""));
                        env.push(Entry {
                            name: name.to_string(),
                            value: value.to_string(),
                            line: item.line,
                        });
                    }
                }
            }
            Value::Scalar(_) => {}
        }
    }
    Container {
        name: name.as_str().map(str::to_string),
        image: service
            .get("image")
            .and_then(|i| Some((i.as_str()?.to_string(), i.line))),
        script,
        env,
        line: name.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_commands_and_environment() {
        let text = r#"services:
  vllm:
    image: vllm/vllm-openai
    command: --model acme/m --trust-remote-code
    environment:
      - HF_DATASETS_TRUST_REMOTE_CODE=1
  worker:
    image: acme/worker:1.0@sha256:abc
    command: ["python", "-m", "worker"]
    environment:
      PIP_EXTRA_INDEX_URL: https://pkgs.internal.invalid/simple
"#;
        assert!(is_compose_name("docker-compose.gpu.yml"));
        assert!(is_compose_name("compose.yaml"));
        assert!(!is_compose_name("values.yaml"));
        let manifests = parse(text).expect("parses");
        let containers = &manifests[0].containers;
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0].image.as_ref().map(|i| i.1), Some(3));
        assert_eq!(containers[0].env[0].line, 6);
        assert_eq!(containers[1].env[0].line, 11);
        let script = containers[0].script.as_ref().expect("script");
        assert_eq!(script.commands[0].line, 4);
    }
}
