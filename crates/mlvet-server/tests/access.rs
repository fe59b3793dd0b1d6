//! Every route × every role, table-driven: no token and a bad token get 401, a role too weak
//! 403, the roles allowed the route's success status, and another team's admin 404 on
//! everything that names a project, job or finding. The table must list exactly the server's
//! routes: a new route fails this test until its access is written down here.

mod common;

use common::{Server, backends, import_advisories};
use mlvet_store::Role;
use serde_json::json;

/// What the route's `{id}` names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    None,
    Project,
    Job,
    Finding,
    Advisory,
    Webhook,
    Delivery,
    /// A tracked Hub model of the project (a fresh one per call: untracking consumes it).
    HubModel,
    HubScan,
}

/// (method, path, weakest role allowed (None: public), success status, target)
const TABLE: &[(&str, &str, Option<Role>, u16, Target)] = &[
    ("GET", "/healthz", None, 200, Target::None),
    ("GET", "/readyz", None, 200, Target::None),
    ("GET", "/api/v1/openapi.json", None, 200, Target::None),
    (
        "GET",
        "/api/v1/projects",
        Some(Role::Viewer),
        200,
        Target::None,
    ),
    (
        "POST",
        "/api/v1/projects",
        Some(Role::Member),
        201,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/projects/{id}",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "PUT",
        "/api/v1/projects/{id}/inventory",
        Some(Role::Member),
        202,
        Target::Project,
    ),
    (
        "GET",
        "/api/v1/projects/{id}/findings",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "GET",
        "/api/v1/projects/{id}/packages",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "GET",
        "/api/v1/projects/{id}/uploads",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "GET",
        "/api/v1/jobs/{id}",
        Some(Role::Viewer),
        200,
        Target::Job,
    ),
    (
        "GET",
        "/api/v1/findings/{id}",
        Some(Role::Viewer),
        200,
        Target::Finding,
    ),
    (
        "PATCH",
        "/api/v1/findings/{id}",
        Some(Role::Member),
        200,
        Target::Finding,
    ),
    (
        "POST",
        "/api/v1/scan",
        Some(Role::Viewer),
        200,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/advisories",
        Some(Role::Viewer),
        200,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/advisories/{id}",
        Some(Role::Viewer),
        200,
        Target::Advisory,
    ),
    (
        "GET",
        "/api/v1/projects/{id}/events",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "POST",
        "/api/v1/webhooks",
        Some(Role::Admin),
        201,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/webhooks",
        Some(Role::Admin),
        200,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}",
        Some(Role::Admin),
        200,
        Target::Webhook,
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/deliveries",
        Some(Role::Admin),
        200,
        Target::Webhook,
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
        Some(Role::Admin),
        202,
        Target::Delivery,
    ),
    (
        "POST",
        "/api/v1/projects/{id}/hub-models",
        Some(Role::Member),
        201,
        Target::Project,
    ),
    (
        "GET",
        "/api/v1/projects/{id}/hub-models",
        Some(Role::Viewer),
        200,
        Target::Project,
    ),
    (
        "DELETE",
        "/api/v1/projects/{id}/hub-models/{model_id}",
        Some(Role::Member),
        204,
        Target::HubModel,
    ),
    (
        "POST",
        "/api/v1/hub/scans",
        Some(Role::Member),
        202,
        Target::None,
    ),
    (
        "GET",
        "/api/v1/hub/scans/{id}",
        Some(Role::Viewer),
        200,
        Target::HubScan,
    ),
    // Last: it deletes the webhook the rows above use.
    (
        "DELETE",
        "/api/v1/webhooks/{id}",
        Some(Role::Admin),
        204,
        Target::Webhook,
    ),
];

#[test]
fn the_table_lists_every_route_of_the_server() {
    let mut served: Vec<(&str, &str)> = mlvet_server::routes::ROUTES
        .iter()
        .map(|r| (r.method, r.path))
        .collect();
    let mut table: Vec<(&str, &str)> = TABLE.iter().map(|(m, p, ..)| (*m, *p)).collect();
    served.sort_unstable();
    table.sort_unstable();
    assert_eq!(
        served, table,
        "every route needs a row in TABLE (and no row without a route)"
    );
    for route in mlvet_server::routes::ROUTES {
        let row = TABLE
            .iter()
            .find(|(m, p, ..)| *m == route.method && *p == route.path)
            .expect("row");
        let declared = match route.access {
            mlvet_server::routes::Access::Public => None,
            mlvet_server::routes::Access::Role(role) => Some(role),
            mlvet_server::routes::Access::PublicScan => Some(Role::Viewer),
        };
        assert_eq!(
            row.2, declared,
            "{} {}: the table and the server disagree",
            route.method, route.path
        );
    }
}

fn request_body(
    method: &str,
    path: &str,
    counter: usize,
    project: i64,
) -> (String, Option<Vec<u8>>) {
    match (method, path) {
        ("POST", "/api/v1/projects/{id}/hub-models") => (
            String::new(),
            Some(
                json!({"repo": format!("org/model{counter}")})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        ("POST", "/api/v1/hub/scans") => (
            String::new(),
            Some(
                json!({"project": project, "repos": ["org/model"]})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        ("POST", "/api/v1/projects") => (
            String::new(),
            Some(
                json!({"name": format!("p{counter}")})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        ("PUT", _) => (
            "?filename=requirements.txt&wait=30".to_string(),
            Some(b"torch==1.12.0\n".to_vec()),
        ),
        ("PATCH", _) => (
            String::new(),
            Some(
                json!({"triage": "fix_planned", "reason": "tracked"})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        ("POST", "/api/v1/webhooks") => (
            String::new(),
            Some(
                json!({"url": "http://127.0.0.1:9/hook", "events": ["inventory.processed"]})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        ("POST", "/api/v1/scan") => (
            "?filename=requirements.txt".to_string(),
            Some(b"torch==1.12.0\n".to_vec()),
        ),
        _ => (String::new(), None),
    }
}

#[test]
fn every_route_by_every_role() {
    for postgres in backends() {
        // Deliveries go to the discard port on loopback: refused at once, nothing leaves.
        // Hub jobs ask a loopback Hub with no repository: they fail at once, nothing leaves.
        let hub = mlvet_hub::mock::MockHub::start(Vec::new(), Default::default()).expect("mock");
        let endpoint = hub.endpoint();
        let server = Server::start(postgres.as_deref(), |config| {
            config.hub.endpoint = endpoint;
            config.monitor.allow_private_webhooks = true;
            // Every route is called with bad tokens: more than the default allows a minute.
            config.limits.auth_failures_per_minute = 100_000;
        });
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let project = server.create_project(&admin, "red-project");
        let hook = server.json(
            "POST",
            "/api/v1/webhooks",
            &admin,
            &json!({"url": "http://127.0.0.1:9/hook", "events": ["inventory.processed"]}),
        );
        assert_eq!(hook.status, 201, "{}", hook.text);
        let webhook = hook.body["id"].as_i64().expect("webhook id");
        let job = server.upload(&admin, project, "requirements.txt", b"torch==1.12.0\n");
        let deliveries = server.get(&format!("/api/v1/webhooks/{webhook}/deliveries"), &admin);
        let delivery = deliveries.body["deliveries"][0]["id"]
            .as_i64()
            .expect("a delivery of inventory.processed");
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
        let finding = findings.body["findings"][0]["id"]
            .as_i64()
            .expect("a finding");
        let bulk = server.json(
            "POST",
            "/api/v1/hub/scans",
            &admin,
            &json!({"project": project, "repos": ["org/model"]}),
        );
        assert_eq!(bulk.status, 202, "{}", bulk.text);
        let bulk = bulk.body["scan"]["id"].as_i64().expect("scan id");
        let fresh_model = |counter: usize| {
            let answer = server.json(
                "POST",
                &format!("/api/v1/projects/{project}/hub-models"),
                &admin,
                &json!({"repo": format!("org/untrack{counter}")}),
            );
            assert_eq!(answer.status, 201, "{}", answer.text);
            answer.body["id"].as_i64().expect("model id")
        };
        let tokens = [
            (Role::Viewer, server.token("red", Role::Viewer)),
            (Role::Member, server.token("red", Role::Member)),
            (Role::Admin, admin.clone()),
        ];
        let other_team_admin = server.token("blue", Role::Admin);
        let mut counter = 0;
        for (method, template, weakest, success, target) in TABLE {
            let id = match target {
                Target::None => String::new(),
                Target::Project | Target::HubModel => project.to_string(),
                Target::HubScan => bulk.to_string(),
                Target::Job => job["id"].to_string(),
                Target::Finding => finding.to_string(),
                Target::Advisory => "PYSEC-2022-43015".to_string(),
                Target::Webhook | Target::Delivery => webhook.to_string(),
            };
            let path = template
                .replace("{id}", &id)
                .replace("{delivery_id}", &delivery.to_string());
            let mut call = |token: Option<&str>| {
                counter += 1;
                let (query, body) = request_body(method, template, counter, project);
                let path = if *target == Target::HubModel {
                    path.replace("{model_id}", &fresh_model(counter).to_string())
                } else {
                    path.clone()
                };
                server.call(
                    method,
                    &format!("{path}{query}"),
                    token,
                    body.as_deref(),
                    &[],
                )
            };
            let label = format!("{method} {template}");
            match weakest {
                None => assert_eq!(call(None).status, *success, "{label} anonymous"),
                Some(weakest) => {
                    assert_eq!(call(None).status, 401, "{label} without a token");
                    assert_eq!(
                        call(Some("mlvet_nobody12345_secretsecret")).status,
                        401,
                        "{label} bad token"
                    );
                    assert_eq!(
                        call(Some("Basic abc")).status,
                        401,
                        "{label} malformed token"
                    );
                    for (role, token) in &tokens {
                        let answer = call(Some(token.as_str()));
                        let expected = if role >= weakest { *success } else { 403 };
                        assert_eq!(
                            answer.status, expected,
                            "{label} as {role}: {}",
                            answer.text
                        );
                        if expected >= 400 {
                            assert_eq!(
                                answer.header("content-type"),
                                Some("application/problem+json"),
                                "{label}"
                            );
                        }
                    }
                    if matches!(
                        target,
                        Target::Project
                            | Target::Job
                            | Target::Finding
                            | Target::Webhook
                            | Target::Delivery
                            | Target::HubModel
                            | Target::HubScan
                    ) {
                        let answer = call(Some(other_team_admin.as_str()));
                        assert_eq!(
                            answer.status, 404,
                            "{label} from another team: {}",
                            answer.text
                        );
                        // And an id that does not exist at all answers the same.
                        let missing = template
                            .replace("{id}", "999999")
                            .replace("{delivery_id}", "999999")
                            .replace("{model_id}", "999999");
                        counter += 1;
                        let (query, body) = request_body(method, template, counter, project);
                        let answer = server.call(
                            method,
                            &format!("{missing}{query}"),
                            Some(admin.as_str()),
                            body.as_deref(),
                            &[],
                        );
                        assert_eq!(answer.status, 404, "{label} missing id");
                        let answer = server.call(
                            method,
                            &format!(
                                "{}{query}",
                                template
                                    .replace("{id}", "1%27%20OR%201%3D1")
                                    .replace("{delivery_id}", "1%27%20OR%201%3D1")
                                    .replace("{model_id}", "1%27%20OR%201%3D1")
                            ),
                            Some(admin.as_str()),
                            body.as_deref(),
                            &[],
                        );
                        assert_eq!(answer.status, 404, "{label} hostile id");
                    }
                }
            }
        }
        // Another team's finding cannot be triaged, and was not touched by the attempt.
        let after = server.get(&format!("/api/v1/findings/{finding}"), &admin);
        assert!(
            after.body["audit"]
                .as_array()
                .expect("audit")
                .iter()
                .all(|a| a["by"].as_str().is_some_and(|b| !b.is_empty()))
        );
        assert_eq!(
            server.get("/api/v1/projects", &other_team_admin).body["projects"],
            json!([])
        );
        assert_eq!(
            server.get("/api/v1/webhooks", &other_team_admin).body["webhooks"],
            json!([])
        );
    }
}
