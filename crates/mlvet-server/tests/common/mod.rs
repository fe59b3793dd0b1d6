//! A real server on a loopback port per test, driven over HTTP. The store is SQLite, or
//! PostgreSQL (a schema of its own per server) when `MLVET_TEST_POSTGRES` names a server.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mlvet_server::{Limits, ServerConfig};
use mlvet_store::Role;
use serde_json::Value;

pub struct Server {
    pub base: String,
    pub app: std::sync::Arc<mlvet_server::App>,
    pub data: tempfile::TempDir,
    running: Option<mlvet_server::Running>,
    runtime: tokio::runtime::Runtime,
    agent: ureq::Agent,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The repository's `../shared` (peer corpora, real advisories).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The backends to run a test on: SQLite always, PostgreSQL when configured.
#[allow(clippy::print_stderr)]
pub fn backends() -> Vec<Option<String>> {
    let mut out = vec![None];
    match std::env::var("MLVET_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => out.push(Some(url)),
        _ => eprintln!("MLVET_TEST_POSTGRES is not set: the PostgreSQL runs are SKIPPED"),
    }
    out
}

/// Imports the real PYSEC records of torch and jinja2 into the data directory.
pub fn import_advisories(data_dir: &Path) {
    let mut db = mlvet_db::Database::open_or_create(data_dir).expect("advisory db");
    for package in ["torch", "jinja2"] {
        let dir = shared()
            .join("advisories/pypa-advisory-database/vulns")
            .join(package);
        db.import_path(&dir, &mlvet_db::NoProgress).expect("import");
    }
}

impl Server {
    pub fn start(postgres: Option<&str>, configure: impl FnOnce(&mut ServerConfig)) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::for_data_dir(data.path());
        config.limits = Limits {
            rate_per_minute: 100_000,
            ..Limits::default()
        };
        if let Some(url) = postgres {
            let schema = format!("t_{}", mlvet_store::secrets::random_alnum(12));
            // Create the schema, then point the server's connections at it.
            mlvet_store::Store::open(&mlvet_store::Location::Postgres {
                url: url.to_string(),
                schema: Some(schema.clone()),
            })
            .expect("MLVET_TEST_POSTGRES is set but PostgreSQL cannot be opened");
            let separator = if url.contains('?') { '&' } else { '?' };
            config.database = Some(format!(
                "{url}{separator}options=-c%20search_path%3D{schema}"
            ));
        }
        configure(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = runtime
            .block_on(mlvet_server::start(config))
            .expect("server starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            // A fresh connection per request: a response sent before the request body was read
            // (401, 413) closes its connection, which a pooled client would reuse.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Server {
            base: format!("http://{}", running.addr),
            app: running.app.clone(),
            data,
            running: Some(running),
            runtime,
            agent,
        }
    }

    pub fn token(&self, team: &str, role: Role) -> String {
        self.app
            .store
            .create_token(team, role, "test", None)
            .expect("token")
            .token
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.try_call(method, path, token, body, headers)
            .expect("the server answers")
    }

    /// Asserts a body too large for the server is refused: `413`, or the connection closed
    /// by the server after answering `413` while the client was still sending.
    pub fn assert_too_large(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) {
        match self.try_call(method, path, Some(token), Some(body), headers) {
            Ok(answer) => {
                assert_eq!(answer.status, 413, "{}", answer.text);
                assert_eq!(
                    answer.header("content-type"),
                    Some("application/problem+json")
                );
            }
            Err(ureq::Error::Io(e)) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            ),
            Err(other) => panic!("{other}"),
        }
    }

    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, ureq::Error> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .expect("request");
        let mut response = self.agent.run(request)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let text = response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
            text,
        })
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None, &[])
    }

    pub fn json(&self, method: &str, path: &str, token: &str, body: &Value) -> Answer {
        self.call(
            method,
            path,
            Some(token),
            Some(body.to_string().as_bytes()),
            &[("Content-Type", "application/json")],
        )
    }

    pub fn create_project(&self, token: &str, name: &str) -> i64 {
        let answer = self.json(
            "POST",
            "/api/v1/projects",
            token,
            &serde_json::json!({"name": name}),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.body["id"].as_i64().expect("id")
    }

    /// Uploads and waits for the job; returns the job.
    pub fn upload(&self, token: &str, project: i64, filename: &str, body: &[u8]) -> Value {
        let answer = self.call(
            "PUT",
            &format!("/api/v1/projects/{project}/inventory?filename={filename}&wait=60"),
            Some(token),
            Some(body),
            &[],
        );
        assert_eq!(answer.status, 202, "{}", answer.text);
        answer.body["job"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.stop());
        }
    }
}
