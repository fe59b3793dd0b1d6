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
/// A Hub repository as the API takes it; `hub_api::matches_repo_pattern` is the same rule.
pub(crate) const HUB_REPO_PATTERN: &str = "^(hf://)?((models|datasets|spaces)/)?[A-Za-z0-9_-][A-Za-z0-9._-]{0,95}/[A-Za-z0-9_-][A-Za-z0-9._-]{0,95}(@[A-Za-z0-9._-]{1,200})?$";
/// A revision given apart from the repository: git ref characters without `..`.
pub(crate) const HUB_REVISION_PATTERN: &str = "^\\.?([A-Za-z0-9_/-]+\\.)*[A-Za-z0-9_/-]*$";
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
            "schema": {"type": "string", "enum": FINDING_STATES}})]
        }
        ("GET", "/api/v1/projects/{id}/events") => {
            cursor_parameters("The `seq` of the last event of the previous page (`next_before`).")
        }
        ("GET", "/api/v1/webhooks/{id}/deliveries") => {
            cursor_parameters("The `id` of the last delivery of the previous page (`next_before`).")
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

/// Every state a stored finding can be in (`retracted`: the advisory no longer matches).
const FINDING_STATES: [&str; 4] = ["open", "resolved", "suppressed", "retracted"];

/// Largest page of the cursor-paged lists (events, deliveries).
pub const MAX_PAGE: i64 = 500;

/// `limit` and `before` of the lists paged newest first by a cursor.
fn cursor_parameters(before: &str) -> Vec<Value> {
    vec![
        json!({"name": "limit", "in": "query", "required": false, "description": "Items per page (default 100).",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}),
        json!({"name": "before", "in": "query", "required": false, "description": before,
               "schema": {"type": "integer", "minimum": 1}}),
    ]
}

/// The schema of a route's success answer, where the document names one.
fn success_schema(method: &str, path: &str) -> Option<&'static str> {
    Some(match (method, path) {
        ("GET", "/api/v1/projects/{id}/findings") => "FindingList",
        ("GET", "/api/v1/findings/{id}") | ("PATCH", "/api/v1/findings/{id}") => "Finding",
        ("GET", "/api/v1/projects/{id}/events") => "EventList",
        ("POST", "/api/v1/webhooks") => "WebhookCreated",
        ("GET", "/api/v1/webhooks") => "WebhookList",
        ("GET", "/api/v1/webhooks/{id}") => "Webhook",
        ("GET", "/api/v1/webhooks/{id}/deliveries") => "DeliveryList",
        ("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay") => "DeliveryReplayed",
        _ => return None,
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The monitoring schemas: webhooks, deliveries, events, and findings with their states.
fn monitoring_schemas() -> Value {
    let nullable = |kind: &str| json!({"type": [kind, "null"]});
    let event_types: Vec<&str> = mlvet_monitor::event::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    let mut subscribable = event_types.clone();
    subscribable.push("*");
    let severities: Vec<&str> = mlvet_core::Severity::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    json!({
        "WebhookCreate": {"type": "object", "required": ["url", "events"], "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": 2000, "format": "uri", "pattern": "^https?://"},
            "events": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string", "enum": subscribable}},
            "min_severity": {"type": ["string", "null"], "enum": severities.iter().map(|s| json!(s)).chain([Value::Null]).collect::<Vec<_>>()},
            "projects": {"type": ["array", "null"], "maxItems": 1000, "items": {"type": "integer", "minimum": 1}}}},
        "Webhook": {"type": "object", "required": ["id", "url", "events", "disabled", "created", "created_by"], "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "min_severity": nullable("string"),
            "projects": {"type": ["array", "null"], "items": {"type": "integer"}},
            "disabled": {"type": "boolean"},
            "disabled_at": nullable("string"),
            "disabled_reason": nullable("string"),
            "created": {"type": "string"},
            "created_by": {"type": "string"}}},
        "WebhookCreated": {"allOf": [schema_ref("Webhook"), {"type": "object", "required": ["secret"], "properties": {
            "secret": {"type": "string", "pattern": "^whsec_", "description": "The signing secret, shown only in this answer."}}}]},
        "WebhookList": {"type": "object", "required": ["webhooks"], "properties": {
            "webhooks": {"type": "array", "items": schema_ref("Webhook")}}},
        "Delivery": {"type": "object", "required": ["id", "webhook", "event", "state", "attempts", "created"], "properties": {
            "id": {"type": "integer"},
            "webhook": {"type": "integer"},
            "event": {"type": "object", "required": ["id", "type"], "properties": {
                "id": {"type": "string", "description": "The `webhook-id` header of every attempt."},
                "type": {"type": "string", "enum": event_types},
                "project": nullable("integer"),
                "created": {"type": "string"}}},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": {"type": ["string", "null"], "description": "When the next retry is due (pending deliveries)."},
            "last_attempt_at": nullable("string"),
            "last_status": {"type": ["integer", "null"], "description": "The HTTP status of the last answer."},
            "last_error": nullable("string"),
            "response_excerpt": nullable("string"),
            "delivered_at": nullable("string"),
            "created": {"type": "string"}}},
        "DeliveryList": {"type": "object", "required": ["deliveries", "next_before"], "properties": {
            "deliveries": {"type": "array", "items": schema_ref("Delivery")},
            "next_before": {"type": ["integer", "null"], "description": "`before` of the next (older) page; null on the last page."}}},
        "DeliveryReplayed": {"type": "object", "required": ["delivery"], "properties": {"delivery": schema_ref("Delivery")}},
        "Event": {"type": "object", "required": ["id", "seq", "type", "created", "data"], "properties": {
            "id": {"type": "string"},
            "seq": {"type": "integer"},
            "type": {"type": "string", "enum": event_types},
            "project": nullable("integer"),
            "severity": nullable("string"),
            "generation": nullable("integer"),
            "created": {"type": "string"},
            "data": {"type": ["object", "null"], "description": "The webhook body's `data`: `project`, and `finding` (as `GET /projects/{id}/findings` returns it) with `cause`, `changes`, `reopened` where they apply."}}},
        "EventList": {"type": "object", "required": ["events", "next_before"], "properties": {
            "events": {"type": "array", "items": schema_ref("Event")},
            "next_before": {"type": ["integer", "null"], "description": "`before` of the next (older) page; null on the last page."}}},
        "Finding": {"type": "object", "required": ["id", "rule", "severity", "state", "first_seen"], "properties": {
            "id": {"type": "integer"},
            "project": {"type": "integer"},
            "rule": {"type": "string"},
            "severity": {"type": "string", "enum": severities},
            "state": {"type": "string", "enum": FINDING_STATES},
            "source": {"type": "string"},
            "first_seen": {"type": "string"},
            "last_seen": {"type": "string"},
            "resolved_at": nullable("string"),
            "package": {"type": ["object", "null"]},
            "advisory": {"type": ["object", "null"]},
            "triage": {"type": ["object", "null"], "properties": {
                "triage": {"type": "string", "enum": mlvet_store::TRIAGE_VALUES},
                "reason": {"type": "string"},
                "expires": nullable("string"),
                "by": {"type": "string"},
                "at": {"type": "string"}}}}},
        "FindingList": {"type": "object", "required": ["findings"], "properties": {
            "findings": {"type": "array", "items": schema_ref("Finding")}}},
    })
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
                let schema = success_schema(route.method, route.path)
                    .map_or_else(|| json!({"type": "object"}), schema_ref);
                let mut r = json!({"description": reason(*status), "content": {"application/json": {"schema": schema}}});
                if *status == 204 {
                    r = json!({"description": reason(*status)});
                }
                if *status == 202 {
                    r["headers"] = json!({"Location": {"schema": {"type": "string"}, "description": "The job to poll."}});
                }
                r
            };
            responses.insert(status.to_string(), response);
        }
        let mut parameters = Vec::new();
        for (name, description) in [
            ("id", None),
            (
                "delivery_id",
                Some("A delivery's `id` (from the delivery log)."),
            ),
            ("model_id", Some("A tracked Hub model's `id`.")),
        ] {
            if route.path.contains(&format!("{{{name}}}")) {
                let mut parameter = json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200}});
                if let Some(description) = description {
                    parameter["description"] = json!(description);
                }
                parameters.push(parameter);
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
            "schemas": schemas(),
        }
    })
}

fn schemas() -> Value {
    let mut schemas = json!({
                "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}}},
                "ProjectCreate": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN}}},
                "HubModelTrack": {"type": "object", "required": ["repo"], "properties": {
                    "repo": {"type": "string", "minLength": 3, "maxLength": 300, "pattern": HUB_REPO_PATTERN, "description": "org/name, org/name@revision, datasets/org/name or hf://…"},
                    "revision": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": HUB_REVISION_PATTERN, "description": "A branch, tag or commit (default main)"}}},
                "HubScanCreate": {"type": "object", "required": ["project"], "properties": {
                    "project": {"type": "integer", "minimum": 1, "maximum": 9_007_199_254_740_992_i64, "description": "The project the scan job belongs to"},
                    "repos": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "maxLength": 300, "pattern": HUB_REPO_PATTERN}},
                    "organization": {"type": "string", "minLength": 1, "maxLength": 96}},
                    "oneOf": [{"required": ["repos"]}, {"required": ["organization"]}]},
                "Triage": {"type": "object", "required": ["triage", "reason"], "properties": {
                    "triage": {"type": "string", "enum": mlvet_store::TRIAGE_VALUES},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "\\S"},
                    "expires": {"type": ["string", "null"], "format": "date"}}}
    });
    if let (Some(all), Value::Object(monitoring)) = (schemas.as_object_mut(), monitoring_schemas())
    {
        all.extend(monitoring);
    }
    schemas
}
