//! Every route of the service in one table: the router is built from it, the OpenAPI document
//! is generated from it, and the route × role test checks it covers every route. A route that
//! is not in [`ROUTES`] cannot be served.

use mlvet_store::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health checks, the OpenAPI document).
    Public,
    /// A token of at least this role.
    Role(Role),
    /// A token of at least viewer; anonymous too when the server runs with `--public-scan`.
    PublicScan,
}

/// The handlers, one per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Healthz,
    Readyz,
    OpenApi,
    ListProjects,
    CreateProject,
    GetProject,
    PutInventory,
    ListFindings,
    ListPackages,
    ListUploads,
    GetJob,
    GetFinding,
    PatchFinding,
    Scan,
    ListAdvisories,
    GetAdvisory,
    ProjectEvents,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    DeleteWebhook,
    ListDeliveries,
    ReplayDelivery,
    TrackHubModel,
    ListHubModels,
    UntrackHubModel,
    CreateHubScan,
    GetHubScan,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// The OpenAPI path template (`{id}`).
    pub path: &'static str,
    pub handler: Handler,
    pub access: Access,
    pub summary: &'static str,
    /// Every status the route can answer (the OpenAPI `responses`).
    pub statuses: &'static [u16],
    /// The route takes a JSON body, a raw file body, or nothing.
    pub body: Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Json(&'static str),
    File,
}

/// Statuses every authenticated route can answer besides its own.
const AUTH: [u16; 4] = [401, 403, 429, 503];

pub const API: &str = "/api/v1";

pub static ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthz",
        handler: Handler::Healthz,
        access: Access::Public,
        summary: "Liveness: the process answers",
        statuses: &[200],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/readyz",
        handler: Handler::Readyz,
        access: Access::Public,
        summary: "Readiness: the store answers and its schema is current",
        statuses: &[200, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        handler: Handler::OpenApi,
        access: Access::Public,
        summary: "This OpenAPI 3.1 document",
        statuses: &[200],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/projects",
        handler: Handler::ListProjects,
        access: Access::Role(Role::Viewer),
        summary: "The team's projects with their finding counts",
        statuses: &[200, 401, 403, 429, 503],
        body: Body::None,
    },
    Route {
        method: "POST",
        path: "/api/v1/projects",
        handler: Handler::CreateProject,
        access: Access::Role(Role::Member),
        summary: "Create a project",
        statuses: &[201, 400, 401, 403, 409, 413, 415, 429, 503],
        body: Body::Json("ProjectCreate"),
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}",
        handler: Handler::GetProject,
        access: Access::Role(Role::Viewer),
        summary: "A project: counts by severity, verdict and state, sources, last upload",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "PUT",
        path: "/api/v1/projects/{id}/inventory",
        handler: Handler::PutInventory,
        access: Access::Role(Role::Member),
        summary: "Upload a manifest, lockfile, SBOM or model file (raw body; gzip or zstd Content-Encoding accepted); replaces the inventory of that filename",
        statuses: &[202, 400, 401, 403, 404, 413, 415, 429, 503],
        body: Body::File,
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}/findings",
        handler: Handler::ListFindings,
        access: Access::Role(Role::Viewer),
        summary: "The project's findings (JSON report fields plus id, state, first_seen, triage)",
        statuses: &[200, 400, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}/packages",
        handler: Handler::ListPackages,
        access: Access::Role(Role::Viewer),
        summary: "The project's stored inventory",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}/uploads",
        handler: Handler::ListUploads,
        access: Access::Role(Role::Viewer),
        summary: "The project's upload history (jobs), newest first",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/jobs/{id}",
        handler: Handler::GetJob,
        access: Access::Role(Role::Viewer),
        summary: "An upload's job: queued, running, succeeded or failed (with the error)",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/findings/{id}",
        handler: Handler::GetFinding,
        access: Access::Role(Role::Viewer),
        summary: "A finding with its triage history",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/findings/{id}",
        handler: Handler::PatchFinding,
        access: Access::Role(Role::Member),
        summary: "Triage a finding: suppressed until the expiry date, audited",
        statuses: &[200, 400, 401, 403, 404, 413, 415, 429, 503],
        body: Body::Json("Triage"),
    },
    Route {
        method: "POST",
        path: "/api/v1/scan",
        handler: Handler::Scan,
        access: Access::PublicScan,
        summary: "Scan one file and answer the JSON report (nothing stored)",
        statuses: &[200, 400, 401, 403, 413, 415, 429, 503],
        body: Body::File,
    },
    Route {
        method: "GET",
        path: "/api/v1/advisories",
        handler: Handler::ListAdvisories,
        access: Access::Role(Role::Viewer),
        summary: "Advisories (by default those affecting ML libraries), newest first, filtered and paged",
        statuses: &[200, 400, 401, 403, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/advisories/{id}",
        handler: Handler::GetAdvisory,
        access: Access::Role(Role::Viewer),
        summary: "One advisory (OSV record) with the caller's affected projects",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}/events",
        handler: Handler::ProjectEvents,
        access: Access::Role(Role::Viewer),
        summary: "The project's activity feed: finding.created/updated/resolved/retracted, inventory.processed/failed events, newest first (`limit`, `before`)",
        statuses: &[200, 400, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "POST",
        path: "/api/v1/webhooks",
        handler: Handler::CreateWebhook,
        access: Access::Role(Role::Admin),
        summary: "Create a webhook endpoint (Standard Webhooks signatures); the answer carries its `secret` (whsec_…), shown only once; `404` when `projects` names a project the team does not have",
        statuses: &[201, 400, 401, 403, 404, 409, 413, 415, 429, 503],
        body: Body::Json("WebhookCreate"),
    },
    Route {
        method: "GET",
        path: "/api/v1/webhooks",
        handler: Handler::ListWebhooks,
        access: Access::Role(Role::Admin),
        summary: "The team's webhook endpoints (never their secrets)",
        statuses: &[200, 401, 403, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/webhooks/{id}",
        handler: Handler::GetWebhook,
        access: Access::Role(Role::Admin),
        summary: "A webhook endpoint: its filters, and whether (and why) it is disabled",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "GET",
        path: "/api/v1/webhooks/{id}/deliveries",
        handler: Handler::ListDeliveries,
        access: Access::Role(Role::Admin),
        summary: "The endpoint's delivery log, newest first: state, attempts, last status, error and response excerpt",
        statuses: &[200, 400, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "POST",
        path: "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
        handler: Handler::ReplayDelivery,
        access: Access::Role(Role::Admin),
        summary: "Send a delivery again now (same webhook-id, fresh retry schedule)",
        statuses: &[202, 401, 403, 404, 409, 429, 503],
        body: Body::None,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/webhooks/{id}",
        handler: Handler::DeleteWebhook,
        access: Access::Role(Role::Admin),
        summary: "Delete a webhook endpoint and its delivery log",
        statuses: &[204, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "POST",
        path: "/api/v1/projects/{id}/hub-models",
        handler: Handler::TrackHubModel,
        access: Access::Role(Role::Member),
        summary: "Track a Hugging Face Hub model (`repo`: org/name[@revision], `revision`): scanned now, re-scanned when its revision moves or mlvet's rules change; its findings are the project's under the source `hf://org/name[@revision]`",
        statuses: &[201, 400, 401, 403, 404, 409, 413, 415, 429, 503],
        body: Body::Json("HubModelTrack"),
    },
    Route {
        method: "GET",
        path: "/api/v1/projects/{id}/hub-models",
        handler: Handler::ListHubModels,
        access: Access::Role(Role::Viewer),
        summary: "The project's tracked Hub models with their last scanned commit, verdict and error",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/projects/{id}/hub-models/{model_id}",
        handler: Handler::UntrackHubModel,
        access: Access::Role(Role::Member),
        summary: "Stop tracking a Hub model: its source and the findings only it reported resolve",
        statuses: &[204, 401, 403, 404, 429, 503],
        body: Body::None,
    },
    Route {
        method: "POST",
        path: "/api/v1/hub/scans",
        handler: Handler::CreateHubScan,
        access: Access::Role(Role::Member),
        summary: "Scan many Hub repositories as a job (`repos` or `organization`, in `project`): a verdict per repository, one rate budget per token",
        statuses: &[202, 400, 401, 403, 404, 413, 415, 429, 503],
        body: Body::Json("HubScanCreate"),
    },
    Route {
        method: "GET",
        path: "/api/v1/hub/scans/{id}",
        handler: Handler::GetHubScan,
        access: Access::Role(Role::Viewer),
        summary: "A bulk Hub scan's progress: done/total and each repository's state, commit, verdict and errors",
        statuses: &[200, 401, 403, 404, 429, 503],
        body: Body::None,
    },
];

/// Statuses an authenticated route must document.
pub fn required_statuses(route: &Route) -> Vec<u16> {
    match route.access {
        Access::Public => Vec::new(),
        Access::Role(_) | Access::PublicScan => AUTH.to_vec(),
    }
}

/// The axum path of an OpenAPI template (axum 0.8 uses the same `{id}` syntax).
pub fn axum_path(route: &Route) -> &'static str {
    route.path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_documents_the_statuses_its_access_implies() {
        for route in ROUTES {
            for status in required_statuses(route) {
                assert!(
                    route.statuses.contains(&status),
                    "{} {} must document {status}",
                    route.method,
                    route.path
                );
            }
            if route.body != Body::None {
                assert!(route.statuses.contains(&413) && route.statuses.contains(&415));
            }
        }
    }
}
