//! The OpenAPI 3.1 document, generated from [`crate::routes::ROUTES`] so that it lists every
//! route and every status each can answer.

use serde_json::{Value, json};

use crate::routes::{Access, Body, ROUTES};

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Response")
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for part in path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "api" && *p != "v1")
    {
        let part = part.trim_matches(|c| c == '{' || c == '}');
        let mut chars = part.chars().filter(|c| c.is_ascii_alphanumeric());
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// An upload name as the server accepts it: components of plain characters separated by `/`.
/// (Stricter than the server: a component may not start with a dot here, which rules out `.`
/// and `..` without look-ahead; 63 characters of at most 4 bytes fit a 255-byte file name.)
const FILENAME_PATTERN: &str = "^[^/\\\\.\\u0000-\\u001f\\u007f-\\u009f][^/\\\\\\u0000-\\u001f\\u007f-\\u009f]{0,62}(/[^/\\\\.\\u0000-\\u001f\\u007f-\\u009f][^/\\\\\\u0000-\\u001f\\u007f-\\u009f]{0,62}){0,7}$";

/// A name typed by a person: no control characters and something besides white space.
const NAME_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

fn query_parameters(path: &str, method: &str) -> Vec<Value> {
    let string = |name: &str, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string", "maxLength": 500}});
    match (method, path) {
        ("PUT", "/api/v1/projects/{id}/inventory") => vec![
            json!({"name": "filename", "in": "query", "required": true,
                   "description": "The file's name (decides how it is read), optionally with folders: `requirements.txt`, `svc/uv.lock`. Replaces the inventory uploaded under the same name.",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 512, "pattern": FILENAME_PATTERN}}),
            json!({"name": "wait", "in": "query", "required": false,
                   "description": "Answer when the job ends, or after this many seconds.",
                   "schema": {"type": "integer", "minimum": 0, "maximum": 3600}}),
        ],
        ("POST", "/api/v1/scan") => {
            vec![json!({"name": "filename", "in": "query", "required": true,
            "description": "The file's name (decides how it is read).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 512, "pattern": FILENAME_PATTERN}})]
        }
        ("GET", "/api/v1/projects/{id}/findings") => {
            vec![json!({"name": "state", "in": "query", "required": false,
            "schema": {"type": "string", "enum": ["open", "resolved", "suppressed"]}})]
        }
        ("GET", "/api/v1/advisories") => vec![
            json!({"name": "ml", "in": "query", "required": false, "description": "Only advisories affecting mlvet's curated ML packages (default true; false needs `package`).", "schema": {"type": "boolean"}}),
            string("package", "Only this package's advisories."),
            string(
                "q",
                "Free text: ids and aliases (CVE, GHSA, PYSEC), words of the summary and details.",
            ),
            json!({"name": "severity", "in": "query", "required": false, "schema": {"type": "string", "enum": ["critical", "high", "medium", "low"]}}),
            json!({"name": "since", "in": "query", "required": false, "description": "Only advisories published on or after this date.", "schema": {"type": "string", "format": "date"}}),
            json!({"name": "page", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100000}}),
        ],
        _ => Vec::new(),
    }
}

fn request_body(body: Body) -> Option<Value> {
    match body {
        Body::None => None,
        Body::Json(schema) => Some(json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
        })),
        Body::File => Some(json!({
            "required": true,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}}
        })),
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let mut responses = serde_json::Map::new();
        for status in route.statuses {
            let response = if *status >= 400 {
                let mut r = json!({
                    "description": reason(*status),
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                });
                if *status == 429 {
                    r["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}});
                }
                r
            } else {
                let mut r = json!({"description": reason(*status), "content": {"application/json": {"schema": {"type": "object"}}}});
                if *status == 202 {
                    r["headers"] = json!({"Location": {"schema": {"type": "string"}, "description": "The job to poll."}});
                }
                r
            };
            responses.insert(status.to_string(), response);
        }
        let mut parameters = Vec::new();
        for name in ["id", "delivery_id", "model_id"] {
            if route.path.contains(&format!("{{{name}}}")) {
                parameters.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200}}));
            }
        }
        parameters.extend(query_parameters(route.path, route.method));
        let mut operation = json!({
            "operationId": operation_id(route.method, route.path),
            "summary": route.summary,
            "parameters": parameters,
            "responses": responses,
        });
        match route.access {
            Access::Public => operation["security"] = json!([]),
            Access::Role(role) => {
                operation["security"] = json!([{"bearer": []}]);
                operation["x-mlvet-role"] = json!(role.as_str());
            }
            Access::PublicScan => {
                operation["security"] = json!([{"bearer": []}, {}]);
                operation["x-mlvet-role"] = json!("viewer (anonymous with --public-scan)");
            }
        }
        if let Some(body) = request_body(route.body) {
            operation["requestBody"] = body;
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mlvet serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Upload lockfiles, SBOMs and model files, keep each project's inventory and findings, triage them, browse advisories affecting ML libraries. Errors are RFC 9457 problem details."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token `mlvet_<public id>_<secret>` (`mlvet admin token create`)."}},
            "schemas": {
                "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}}},
                "ProjectCreate": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN}}},
                "HubModelTrack": {"type": "object", "required": ["repo"], "properties": {
                    "repo": {"type": "string", "minLength": 3, "maxLength": 400, "description": "org/name, org/name@revision, datasets/org/name or hf://…"},
                    "revision": {"type": "string", "minLength": 1, "maxLength": 200, "description": "A branch, tag or commit (default main)"}}},
                "HubScanCreate": {"type": "object", "required": ["project"], "properties": {
                    "project": {"type": "integer", "description": "The project the scan job belongs to"},
                    "repos": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string", "maxLength": 400}},
                    "organization": {"type": "string", "minLength": 1, "maxLength": 96}},
                    "oneOf": [{"required": ["repos"]}, {"required": ["organization"]}]},
                "Triage": {"type": "object", "required": ["triage", "reason"], "properties": {
                    "triage": {"type": "string", "enum": mlvet_store::TRIAGE_VALUES},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "\\S"},
                    "expires": {"type": ["string", "null"], "format": "date"}}}
            }
        }
    })
}
