//! The web app through the real router on a loopback listener: sign-in, sessions, CSRF, every
//! page × role, uploads and triage from the forms, escaping, SQL metacharacters, and the
//! counts the portfolio shares with the API. SQLite, and PostgreSQL when configured.

mod common;

use common::{Server, backends, import_advisories};
use mlvet_store::Role;

const PASSWORD: &str = "correct horse battery";
const REQUIREMENTS: &[u8] = b"torch==1.12.0\njinja2==2.10\nrequests==2.31.0\n";

struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    text: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of cookie `name` set by this response.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|pair| pair.trim().split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    /// The first hidden CSRF token of the page.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.text.find(marker).expect("a csrf field") + marker.len();
        let end = self.text[start..].find('"').expect("end of value");
        self.text[start..start + end].to_string()
    }
}

/// A browser-like client without redirects or a cookie jar: cookies are explicit.
struct Web {
    server: Server,
    agent: ureq::Agent,
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

impl Web {
    fn start(
        postgres: Option<&str>,
        configure: impl FnOnce(&mut mlvet_server::ServerConfig),
    ) -> Web {
        let server = Server::start(postgres, |config| {
            config.insecure_cookies = true;
            configure(config);
        });
        import_advisories(server.data.path());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Web { server, agent }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server.base));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header("Content-Type", content_type);
                bytes
            }
            None => Vec::new(),
        };
        let mut response = self
            .agent
            .run(request.body(bytes).expect("request"))
            .expect("the server answers");
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        Page {
            status: response.status().as_u16(),
            headers,
            text: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        self.send("GET", path, cookie, None, &[])
    }

    fn post(&self, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, cookie, fields, &[])
    }

    fn post_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            cookie,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
            headers,
        )
    }

    fn multipart(&self, path: &str, cookie: Option<&str>, parts: &[Part<'_>]) -> Page {
        let boundary = "----mlvet-test-boundary-7d1f";
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text(name, value) => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                        )
                        .as_bytes(),
                    );
                }
                Part::File(name, filename, bytes) => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                    body.extend_from_slice(b"\r\n");
                }
            }
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            "POST",
            path,
            cookie,
            Some((&format!("multipart/form-data; boundary={boundary}"), body)),
            &[],
        )
    }

    fn user(&self, email: &str, team: &str, role: Role) {
        self.server
            .app
            .store
            .create_user(email, team, role, PASSWORD)
            .expect("user");
    }

    /// Signs in through the form; returns the `Cookie` header of the session.
    fn login(&self, email: &str, planted: Option<&str>) -> String {
        let form = self.get("/login", planted);
        assert_eq!(form.status, 200, "{}", form.text);
        let token = form.cookie("mlvet_login_csrf").expect("login csrf cookie");
        assert_eq!(form.csrf(), token);
        let mut cookie = format!("mlvet_login_csrf={token}");
        if let Some(planted) = planted {
            cookie = format!("{planted}; {cookie}");
        }
        let answer = self.post(
            "/login",
            Some(&cookie),
            &[
                ("csrf", &token),
                ("email", email),
                ("password", PASSWORD),
                ("next", "/projects"),
            ],
        );
        assert_eq!(answer.status, 303, "{}", answer.text);
        let session = answer.cookie("mlvet_session").expect("session cookie");
        format!("mlvet_session={session}")
    }
}

fn assert_security_headers(page: &Page) {
    assert_eq!(
        page.header("content-security-policy"),
        Some(mlvet_server::web::CSP)
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));
}

#[test]
fn login_sets_a_new_strict_session_and_logout_ends_it() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |config| {
            config.insecure_cookies = false
        });
        web.user("ana@example.com", "red", Role::Member);

        let root = web.get("/", None);
        assert_eq!(root.status, 303);
        assert_eq!(root.header("location"), Some("/login"));
        let form = web.get("/login", None);
        assert_security_headers(&form);
        assert!(form.text.contains("<form id=\"login\""), "{}", form.text);
        for needle in [
            "name=\"email\"",
            "name=\"password\"",
            "<html lang=\"en\"",
            "name=\"viewport\"",
        ] {
            assert!(form.text.contains(needle), "{needle}");
        }

        // Wrong password: no session.
        let token = form.cookie("mlvet_login_csrf").expect("cookie");
        let wrong = web.post(
            "/login",
            Some(&format!("mlvet_login_csrf={token}")),
            &[
                ("csrf", &token),
                ("email", "ana@example.com"),
                ("password", "wrong password!"),
            ],
        );
        assert_eq!(wrong.status, 401);
        assert!(wrong.cookie("mlvet_session").is_none());

        // A session id planted before login is not the one after (no fixation).
        let planted = "mlvet_session=attackerchosenvalue0000000000000000000000000";
        let form = web.get("/login", Some(planted));
        let token = form.cookie("mlvet_login_csrf").expect("cookie");
        let answer = web.post(
            "/login",
            Some(&format!("{planted}; mlvet_login_csrf={token}")),
            &[
                ("csrf", &token),
                ("email", "ana@example.com"),
                ("password", PASSWORD),
            ],
        );
        assert_eq!(answer.status, 303, "{}", answer.text);
        assert_eq!(answer.header("location"), Some("/projects"));
        let set = answer
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("mlvet_session="))
            .expect("session cookie")
            .to_string();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
            assert!(set.contains(attribute), "{set} lacks {attribute}");
        }
        let session = answer.cookie("mlvet_session").expect("session");
        assert_ne!(format!("mlvet_session={session}"), planted);
        assert!(session.len() >= 40);
        let cookie = format!("mlvet_session={session}");
        assert_eq!(web.get("/projects", Some(planted)).status, 303);
        let projects = web.get("/projects", Some(&cookie));
        assert_eq!(projects.status, 200, "{}", projects.text);
        assert_eq!(projects.header("cache-control"), Some("no-store"));
        assert_security_headers(&projects);
        for needle in [
            "<nav",
            "href=\"/scan\"",
            "href=\"/projects\"",
            "href=\"/advisories\"",
            "id=\"logout\"",
            "<main",
            "<h1>Projects</h1>",
        ] {
            assert!(projects.text.contains(needle), "{needle}");
        }

        // Logout needs the token; then the session is gone.
        assert_eq!(
            web.post("/logout", Some(&cookie), &[("csrf", "nope")])
                .status,
            403
        );
        let csrf = projects.csrf();
        let out = web.post("/logout", Some(&cookie), &[("csrf", &csrf)]);
        assert_eq!(out.status, 303);
        assert_eq!(web.get("/projects", Some(&cookie)).status, 303);
    }
}

#[test]
fn anonymous_visitors_go_to_login_and_next_never_leaves_the_site() {
    let web = Web::start(None, |_| {});
    web.user("ana@example.com", "red", Role::Viewer);
    let page = web.get("/advisories?q=torch&page=1", None);
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location"),
        Some("/login?next=/advisories%3Fq%3Dtorch%26page%3D1")
    );
    let form = web.get("/login?next=/advisories%3Fq%3Dtorch", None);
    assert!(
        form.text.contains("value=\"/advisories?q=torch\""),
        "{}",
        form.text
    );

    for (next, expected) in [
        ("/advisories?q=torch", "/advisories?q=torch"),
        ("//evil.example/", "/projects"),
        ("https://evil.example/", "/projects"),
        ("/\\evil.example", "/projects"),
        ("javascript:alert(1)", "/projects"),
    ] {
        let form = web.get("/login", None);
        let token = form.cookie("mlvet_login_csrf").expect("cookie");
        let answer = web.post(
            "/login",
            Some(&format!("mlvet_login_csrf={token}")),
            &[
                ("csrf", &token),
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ],
        );
        assert_eq!(answer.status, 303, "{next}");
        assert_eq!(answer.header("location"), Some(expected), "{next}");
    }
}

#[test]
fn posts_without_the_session_token_or_from_another_site_change_nothing() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |_| {});
        web.user("ana@example.com", "red", Role::Member);
        let cookie = web.login("ana@example.com", None);
        let csrf = web.get("/projects", Some(&cookie)).csrf();

        assert_eq!(
            web.post("/projects", Some(&cookie), &[("name", "a")])
                .status,
            403
        );
        assert_eq!(
            web.post(
                "/projects",
                Some(&cookie),
                &[("name", "b"), ("csrf", "wrong")]
            )
            .status,
            403
        );
        let cross = web.post_with(
            "/projects",
            Some(&cookie),
            &[("name", "c"), ("csrf", &csrf)],
            &[("Origin", "https://evil.example")],
        );
        assert_eq!(cross.status, 403);
        assert!(cross.text.contains("<main"), "an HTML error page");
        let fetch_site = web.post_with(
            "/projects",
            Some(&cookie),
            &[("name", "d"), ("csrf", &csrf)],
            &[("Sec-Fetch-Site", "cross-site")],
        );
        assert_eq!(fetch_site.status, 403);
        // The login form: its token must match its cookie.
        let form = web.get("/login", None);
        let token = form.cookie("mlvet_login_csrf").expect("cookie");
        let forged = web.post(
            "/login",
            Some("mlvet_login_csrf=other"),
            &[
                ("csrf", &token),
                ("email", "ana@example.com"),
                ("password", PASSWORD),
            ],
        );
        assert_eq!(forged.status, 403);
        let team = web.server.app.store.ensure_team("red").expect("team");
        assert!(
            web.server
                .app
                .store
                .projects(team.id)
                .expect("projects")
                .is_empty()
        );

        let origin = web.server.base.clone();
        let ok = web.post_with(
            "/projects",
            Some(&cookie),
            &[("name", "e"), ("csrf", &csrf)],
            &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        );
        assert_eq!(ok.status, 303, "{}", ok.text);
        assert_eq!(
            web.server
                .app
                .store
                .projects(team.id)
                .expect("projects")
                .len(),
            1
        );
    }
}

/// Waits for the job page to show an end state.
fn wait_for_job(web: &Web, cookie: &str, location: &str) -> Page {
    for _ in 0..600 {
        let page = web.get(location, Some(cookie));
        assert_eq!(page.status, 200, "{}", page.text);
        if !page.text.contains("http-equiv=\"refresh\"") {
            return page;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the job did not end");
}

#[test]
fn upload_from_the_form_then_triage_from_the_form() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |_| {});
        web.user("ana@example.com", "red", Role::Member);
        web.user("vic@example.com", "red", Role::Viewer);
        let cookie = web.login("ana@example.com", None);
        let csrf = web.get("/projects", Some(&cookie)).csrf();
        let created = web.post(
            "/projects",
            Some(&cookie),
            &[("name", "ml-api"), ("csrf", &csrf)],
        );
        assert_eq!(created.status, 303);
        let project_path = created.header("location").expect("location").to_string();
        let project: i64 = project_path
            .rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .expect("id");

        let page = web.get(&project_path, Some(&cookie));
        assert!(page.text.contains("id=\"upload\""), "{}", page.text);
        // Without the token nothing is queued.
        let refused = web.multipart(
            &format!("/projects/{project}/uploads"),
            Some(&cookie),
            &[Part::File("file", "requirements.txt", REQUIREMENTS)],
        );
        assert_eq!(refused.status, 403);
        let uploaded = web.multipart(
            &format!("/projects/{project}/uploads"),
            Some(&cookie),
            &[
                Part::Text("csrf", &csrf),
                Part::File("file", "requirements.txt", REQUIREMENTS),
            ],
        );
        assert_eq!(uploaded.status, 303, "{}", uploaded.text);
        let job = wait_for_job(&web, &cookie, uploaded.header("location").expect("job"));
        assert!(
            job.text.contains("data-state=\"succeeded\""),
            "{}",
            job.text
        );

        let page = web.get(&project_path, Some(&cookie));
        for needle in [
            "id=\"inventory\"",
            "id=\"findings\"",
            "id=\"uploads\"",
            "data-rule=\"dependency-vulnerable\"",
            "href=\"/advisories/PYSEC-2022-43015\"",
            "1.13.1",
            "class=\"triage\"",
            "name=\"triage\"",
            "type=\"date\"",
        ] {
            assert!(page.text.contains(needle), "{needle} missing");
        }
        let api_token = web.server.token("red", Role::Viewer);
        let findings = web
            .server
            .get(&format!("/api/v1/projects/{project}/findings"), &api_token);
        let torch = findings.body["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["advisory"]["id"] == "PYSEC-2022-43015")
            .expect("torch finding")
            .clone();
        let id = torch["id"].as_i64().expect("id");
        assert!(page.text.contains(&format!("data-id=\"{id}\"")));
        // Each finding's triage controls name it (accessible names), none is a bare "Triage".
        let action = format!("action=\"/findings/{id}/triage\"");
        let form_start = page.text.find(&action).expect("torch triage form");
        let form = &page.text[form_start..];
        let form = &form[..form.find("</form>").expect("form end")];
        let subject = "PYSEC-2022-43015 in torch";
        for needle in [
            format!("aria-label=\"Triage {subject}\""),
            format!("Triage<span class=\"visually-hidden\"> {subject}</span></label>"),
            format!("Reason<span class=\"visually-hidden\"> for {subject}</span></label>"),
            format!(
                "<button type=\"submit\">Triage<span class=\"visually-hidden\"> {subject}</span></button>"
            ),
        ] {
            assert!(form.contains(&needle), "{needle} missing from {form}");
        }
        assert!(!page.text.contains(">Triage</button>"), "{}", page.text);
        assert!(!page.text.contains(">Triage</label>"), "{}", page.text);

        // A viewer sees no forms and is refused.
        let viewer = web.login("vic@example.com", None);
        let viewer_page = web.get(&project_path, Some(&viewer));
        assert_eq!(viewer_page.status, 200);
        assert!(!viewer_page.text.contains("class=\"triage\""));
        assert!(!viewer_page.text.contains("id=\"upload\""));
        let viewer_csrf = viewer_page.csrf();
        let denied = web.post(
            &format!("/findings/{id}/triage"),
            Some(&viewer),
            &[
                ("csrf", &viewer_csrf),
                ("triage", "accepted_risk"),
                ("reason", "x"),
            ],
        );
        assert_eq!(denied.status, 403);

        let reason = "'; DROP TABLE findings; -- <script>alert(1)</script>";
        let triaged = web.post(
            &format!("/findings/{id}/triage"),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("triage", "not_affected"),
                ("reason", reason),
                ("expires", "2099-01-31"),
            ],
        );
        assert_eq!(triaged.status, 303, "{}", triaged.text);
        let finding = web
            .server
            .get(&format!("/api/v1/findings/{id}"), &api_token);
        assert_eq!(finding.body["state"], "suppressed", "{}", finding.text);
        assert_eq!(finding.body["triage"]["reason"], reason);
        assert_eq!(finding.body["triage"]["expires"], "2099-01-31");
        assert_eq!(finding.body["audit"][0]["by"], "user:ana@example.com");
        let page = web.get(&project_path, Some(&cookie));
        assert!(!page.text.contains("<script>alert(1)"));
        assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

        // The portfolio's numbers are the API's.
        let api = web
            .server
            .get(&format!("/api/v1/projects/{project}"), &api_token);
        let list = web.get("/projects", Some(&cookie));
        let row_start = list.text.find("class=\"project\"").expect("row");
        let row =
            &list.text[row_start..row_start + list.text[row_start..].find("</tr>").expect("end")];
        for severity in ["critical", "high", "medium", "low", "info"] {
            let expected = &api.body["findings"]["by_severity"][severity];
            assert!(
                row.contains(&format!("data-severity=\"{severity}\">{expected}</td>")),
                "{severity}: {row}"
            );
        }
        for state in ["open", "suppressed"] {
            let expected = &api.body["findings"]["by_state"][state];
            assert!(
                row.contains(&format!("data-state=\"{state}\">{expected}</td>")),
                "{state}: {row}"
            );
        }
        assert_eq!(api.body["findings"]["by_state"]["suppressed"], 1);
        let project_page = web.get(&project_path, Some(&cookie));
        let suppressed = &api.body["findings"]["by_state"]["suppressed"];
        assert!(project_page.text.contains(&format!(
            "suppressed: <span class=\"n\">{suppressed}</span>"
        )));
    }
}

#[test]
fn hostile_text_is_escaped_and_sql_metacharacters_are_data() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |_| {});
        web.user("ana@example.com", "red", Role::Member);
        let cookie = web.login("ana@example.com", None);
        let csrf = web.get("/projects", Some(&cookie)).csrf();
        for name in [
            "<script>alert('x')</script>",
            "'; DROP TABLE projects; --",
            "\" onmouseover=\"x",
        ] {
            let created = web.post(
                "/projects",
                Some(&cookie),
                &[("name", name), ("csrf", &csrf)],
            );
            assert_eq!(created.status, 303, "{name}");
            let page = web.get(created.header("location").expect("location"), Some(&cookie));
            if name.contains(['<', '"']) {
                assert!(!page.text.contains(name), "{name} unescaped");
            }
        }
        let list = web.get("/projects", Some(&cookie));
        assert_eq!(list.text.matches("class=\"project\"").count(), 3);
        assert!(
            list.text
                .contains("&lt;script&gt;alert('x')&lt;/script&gt;")
        );
        assert!(list.text.contains("'; DROP TABLE projects; --"));

        for query in [
            "q=%27%20OR%20%271%27%3D%271",
            "package=torch%27%3B--",
            "q=%3Cscript%3E",
            "since=2020-01-01&severity=critical",
            "severity=&since=&q=&package=",
        ] {
            let page = web.get(&format!("/advisories?{query}"), Some(&cookie));
            assert_eq!(page.status, 200, "{query}: {}", page.text);
            assert!(!page.text.contains("<script>"), "{query}");
        }
        let bad = web.get("/advisories?since=yesterday", Some(&cookie));
        assert_eq!(bad.status, 400);
        assert!(bad.text.contains("<main"));
    }
}

#[test]
fn advisories_pages_list_filter_and_show_affected_projects() {
    let web = Web::start(None, |_| {});
    web.user("ana@example.com", "red", Role::Member);
    let cookie = web.login("ana@example.com", None);
    let token = web.server.token("red", Role::Member);
    let project = web.server.create_project(&token, "ml-api");
    let job = web
        .server
        .upload(&token, project, "requirements.txt", REQUIREMENTS);
    assert_eq!(job["state"], "succeeded");

    let all = web.get("/advisories", Some(&cookie));
    assert_eq!(all.status, 200);
    assert!(all.text.contains("id=\"advisory-filter\""));
    let api = web.server.get("/api/v1/advisories", &token);
    let first = api.body["advisories"][0]["id"]
        .as_str()
        .expect("an advisory");
    let rows = all.text.matches("class=\"advisory\"").count();
    assert_eq!(rows, api.body["advisories"].as_array().expect("list").len());
    assert!(
        all.text.find(first) < all.text.find("</tbody>"),
        "newest first as the API"
    );

    let filtered = web.get("/advisories?q=CVE-2022-45907", Some(&cookie));
    assert_eq!(
        filtered.text.matches("class=\"advisory\"").count(),
        1,
        "{}",
        filtered.text
    );
    assert!(filtered.text.contains("PYSEC-2022-43015"));

    let detail = web.get("/advisories/PYSEC-2022-43015", Some(&cookie));
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert!(detail.text.contains("id=\"affected-projects\""));
    assert!(
        detail
            .text
            .contains(&format!("href=\"/projects/{project}\""))
    );
    assert!(detail.text.contains("CVE-2022-45907"));
    assert!(detail.text.contains("1.13.1"));
    assert!(detail.text.contains("rel=\"noopener noreferrer\""));
    assert_eq!(web.get("/advisories/NOPE-1", Some(&cookie)).status, 404);
}

#[test]
fn the_scan_page_reports_pasted_requirements_and_files_worst_first() {
    let web = Web::start(None, |_| {});
    web.user("ana@example.com", "red", Role::Viewer);
    let cookie = web.login("ana@example.com", None);
    let form = web.get("/scan", Some(&cookie));
    for needle in [
        "id=\"scan\"",
        "enctype=\"multipart/form-data\"",
        "name=\"files\"",
        "multiple",
        "name=\"requirements\"",
        "name=\"hub\"",
    ] {
        assert!(form.text.contains(needle), "{needle}");
    }
    let csrf = form.csrf();
    let report = web.multipart(
        "/scan",
        Some(&cookie),
        &[
            Part::Text("csrf", &csrf),
            Part::File("files", "requirements.txt", b"jinja2==2.10\n"),
            Part::Text("requirements", "torch==1.12.0\n"),
            Part::Text("hub", ""),
        ],
    );
    assert_eq!(report.status, 200, "{}", report.text);
    assert!(report.text.contains("id=\"report\""));
    let severities: Vec<&str> = report
        .text
        .match_indices("class=\"finding\" data-rule=\"")
        .map(|(at, _)| {
            let rest = &report.text[at..];
            let start = rest.find("data-severity=\"").expect("severity") + 15;
            &rest[start..start + rest[start..].find('"').expect("end")]
        })
        .collect();
    assert!(severities.len() >= 2, "{}", report.text);
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    assert!(
        severities.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{severities:?}"
    );
    assert!(
        report
            .text
            .contains("href=\"/advisories/PYSEC-2022-43015\"")
    );
    assert!(report.text.contains("torch"));
    assert!(report.text.contains("jinja2"));

    let without_token = web.multipart(
        "/scan",
        Some(&cookie),
        &[Part::Text("requirements", "torch==1.12.0\n")],
    );
    assert_eq!(without_token.status, 403);
    let bad_hub = web.multipart(
        "/scan",
        Some(&cookie),
        &[Part::Text("csrf", &csrf), Part::Text("hub", "../../etc")],
    );
    assert_eq!(bad_hub.status, 400);
    assert_eq!(
        web.get("/scan", None).status,
        303,
        "login required without --public-scan"
    );
}

#[test]
fn public_scan_lets_anonymous_visitors_scan_within_the_rate() {
    let web = Web::start(None, |config| {
        config.public_scan = true;
        config.limits.public_scan_per_minute = 2;
    });
    assert_eq!(web.get("/scan", None).status, 200);
    for _ in 0..2 {
        let ok = web.multipart(
            "/scan",
            None,
            &[Part::Text("requirements", "torch==1.12.0\n")],
        );
        assert_eq!(ok.status, 200, "{}", ok.text);
    }
    let limited = web.multipart(
        "/scan",
        None,
        &[Part::Text("requirements", "torch==1.12.0\n")],
    );
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    assert!(limited.text.contains("<main"));
    assert_eq!(
        web.get("/projects", None).status,
        303,
        "only the scan is public"
    );
}

#[test]
fn the_stylesheet_is_versioned_and_cached_and_errors_are_pages() {
    let web = Web::start(None, |_| {});
    let login = web.get("/login", None);
    let start = login.text.find("href=\"/static/").expect("stylesheet link") + 6;
    let href = &login.text[start..start + login.text[start..].find('"').expect("end")];
    let css = web.get(href, None);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.text.contains("prefers-color-scheme: dark"));
    assert_eq!(
        web.get("/static/app-0000000000000000.css", None).status,
        404
    );
    let missing = web.get("/no/such/page", None);
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("<main"));
    assert_security_headers(&missing);
    let api_missing = web.get("/api/v1/nope", None);
    assert_eq!(
        api_missing.header("content-type"),
        Some("application/problem+json")
    );
}

/// Who visits in the page × role test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Viewer,
    Member,
    Admin,
    OtherTeam,
}

#[test]
fn every_page_answers_every_role_as_its_access_says() {
    // Webhooks to a closed loopback port: deliveries exist and fail, nothing leaves the host.
    let web = Web::start(None, |config| {
        config.monitor.allow_private_webhooks = true;
    });
    web.user("viewer@example.com", "red", Role::Viewer);
    web.user("member@example.com", "red", Role::Member);
    web.user("admin@example.com", "red", Role::Admin);
    web.user("other@example.com", "blue", Role::Admin);
    let token = web.server.token("red", Role::Member);
    let admin_token = web.server.token("red", Role::Admin);
    let hook = |path: &str| {
        let answer = web.server.json(
            "POST",
            "/api/v1/webhooks",
            &admin_token,
            &serde_json::json!({"url": format!("http://127.0.0.1:9/{path}"), "events": ["*"]}),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.body["id"].as_i64().expect("webhook")
    };
    let webhook = hook("kept");
    let doomed = hook("deleted");
    let project = web.server.create_project(&token, "ml-api");
    let job = web
        .server
        .upload(&token, project, "requirements.txt", REQUIREMENTS);
    let job_id = job["id"].as_i64().expect("job");
    let delivery = web
        .server
        .get(
            &format!("/api/v1/webhooks/{webhook}/deliveries"),
            &admin_token,
        )
        .body["deliveries"][0]["id"]
        .as_i64()
        .expect("a delivery");
    // A bulk Hub scan of no repository: its page, without asking any Hub.
    let bulk = web
        .server
        .app
        .store
        .enqueue_bulk_scan(
            project,
            "hub scan of 0 repositories",
            "{\"repos\":[]}",
            &[],
            "test",
        )
        .expect("bulk scan")
        .id;
    let findings = web
        .server
        .get(&format!("/api/v1/projects/{project}/findings"), &token);
    let finding = findings.body["findings"][0]["id"]
        .as_i64()
        .expect("a finding");
    let stylesheet = {
        let login = web.get("/login", None);
        let start = login.text.find("href=\"/static/").expect("link") + 6;
        login.text[start..start + login.text[start..].find('"').expect("end")].to_string()
    };

    let sessions: Vec<(Who, Option<String>)> = vec![
        (Who::Anonymous, None),
        (Who::Viewer, Some(web.login("viewer@example.com", None))),
        (Who::Member, Some(web.login("member@example.com", None))),
        (Who::Admin, Some(web.login("admin@example.com", None))),
        (Who::OtherTeam, Some(web.login("other@example.com", None))),
    ];
    use Who::*;
    // (method, template, concrete path, expected status per visitor in `sessions` order)
    let expectations: Vec<(&str, &str, String, [u16; 5])> = vec![
        ("GET", "/", "/".into(), [303, 303, 303, 303, 303]),
        ("GET", "/login", "/login".into(), [200; 5]),
        ("POST", "/login", "/login".into(), [403; 5]),
        (
            "POST",
            "/logout",
            "/logout".into(),
            [303, 403, 403, 403, 403],
        ),
        ("GET", "/scan", "/scan".into(), [303, 200, 200, 200, 200]),
        ("POST", "/scan", "/scan".into(), [303, 200, 200, 200, 200]),
        (
            "GET",
            "/advisories",
            "/advisories".into(),
            [303, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/advisories/{id}",
            "/advisories/PYSEC-2022-43015".into(),
            [303, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/projects",
            "/projects".into(),
            [303, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/projects",
            "/projects".into(),
            [303, 403, 303, 303, 303],
        ),
        (
            "GET",
            "/projects/{id}",
            format!("/projects/{project}"),
            [303, 200, 200, 200, 404],
        ),
        (
            "POST",
            "/projects/{id}/uploads",
            format!("/projects/{project}/uploads"),
            [303, 403, 303, 303, 404],
        ),
        (
            "POST",
            "/findings/{id}/triage",
            format!("/findings/{finding}/triage"),
            [303, 403, 303, 303, 404],
        ),
        (
            "GET",
            "/jobs/{id}",
            format!("/jobs/{job_id}"),
            [303, 200, 200, 200, 404],
        ),
        (
            "GET",
            "/hub/scans/{id}",
            format!("/hub/scans/{bulk}"),
            [303, 200, 200, 200, 404],
        ),
        ("GET", "/static/{file}", stylesheet, [200; 5]),
        (
            "GET",
            "/projects/{id}/activity",
            format!("/projects/{project}/activity"),
            [303, 200, 200, 200, 404],
        ),
        (
            "GET",
            "/webhooks",
            "/webhooks".into(),
            [303, 403, 403, 200, 200],
        ),
        (
            "POST",
            "/webhooks",
            "/webhooks".into(),
            [303, 403, 403, 201, 201],
        ),
        (
            "GET",
            "/webhooks/{id}",
            format!("/webhooks/{webhook}"),
            [303, 403, 403, 200, 404],
        ),
        (
            "POST",
            "/webhooks/{id}/deliveries/{delivery_id}/replay",
            format!("/webhooks/{webhook}/deliveries/{delivery}/replay"),
            [303, 403, 403, 303, 404],
        ),
        (
            "POST",
            "/webhooks/{id}/delete",
            format!("/webhooks/{doomed}/delete"),
            [303, 403, 403, 303, 404],
        ),
    ];
    for page in mlvet_server::web::PAGES {
        assert!(
            expectations
                .iter()
                .any(|(m, p, _, _)| *m == page.method && *p == page.path),
            "{} {} has no row in the page × role table",
            page.method,
            page.path
        );
    }
    assert_eq!(expectations.len(), mlvet_server::web::PAGES.len());
    for (method, template, path, statuses) in &expectations {
        for ((who, cookie), expected) in sessions.iter().zip(statuses) {
            let cookie = cookie.as_deref();
            let csrf = cookie
                .map(|c| web.get("/projects", Some(c)).csrf())
                .unwrap_or_default();
            let answer = match (*method, *template) {
                ("GET", _) => web.get(path, cookie),
                // Logging in again and out are checked elsewhere; here without a token.
                ("POST", "/login") | ("POST", "/logout") => {
                    web.post(path, cookie, &[("csrf", "x")])
                }
                ("POST", "/projects") => web.post(
                    path,
                    cookie,
                    &[("csrf", &csrf), ("name", &format!("p-{who:?}"))],
                ),
                ("POST", "/findings/{id}/triage") => web.post(
                    path,
                    cookie,
                    &[
                        ("csrf", &csrf),
                        ("triage", "fix_planned"),
                        ("reason", "tracked"),
                    ],
                ),
                ("POST", "/webhooks") => web.post(
                    path,
                    cookie,
                    &[
                        ("csrf", &csrf),
                        ("url", "http://127.0.0.1:9/table"),
                        ("event.finding.created", "on"),
                    ],
                ),
                ("POST", "/webhooks/{id}/delete")
                | ("POST", "/webhooks/{id}/deliveries/{delivery_id}/replay") => {
                    web.post(path, cookie, &[("csrf", &csrf)])
                }
                ("POST", "/scan") => web.multipart(
                    path,
                    cookie,
                    &[
                        Part::Text("csrf", &csrf),
                        Part::Text("requirements", "torch==1.12.0\n"),
                    ],
                ),
                ("POST", _) => web.multipart(
                    path,
                    cookie,
                    &[
                        Part::Text("csrf", &csrf),
                        Part::File("file", "requirements.txt", REQUIREMENTS),
                    ],
                ),
                _ => unreachable!(),
            };
            assert_eq!(
                answer.status, *expected,
                "{method} {path} as {who:?}: {}",
                answer.text
            );
            if answer.status == 303 && *who == Anonymous && *template != "/" {
                assert!(
                    answer
                        .header("location")
                        .is_some_and(|l| l.starts_with("/login?next=")),
                    "{method} {path}"
                );
            }
            if answer.status != 303 && !template.starts_with("/static") {
                assert_security_headers(&answer);
                assert!(answer.text.contains("<main"), "{method} {path} as {who:?}");
            }
        }
    }
}

/// A uv.lock whose graph brings jinja2 (vulnerable) through flask, and markupsafe through
/// jinja2; torch (vulnerable) is another root.
const UV_LOCK: &[u8] = br#"version = 1
requires-python = ">=3.10"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "flask" }, { name = "torch" }]

[[package]]
name = "flask"
version = "2.0.0"
source = { registry = "https://index.invalid/simple" }
dependencies = [{ name = "jinja2" }]

[[package]]
name = "jinja2"
version = "2.10"
source = { registry = "https://index.invalid/simple" }
dependencies = [{ name = "markupsafe" }]

[[package]]
name = "markupsafe"
version = "2.0.1"
source = { registry = "https://index.invalid/simple" }

[[package]]
name = "torch"
version = "1.12.0"
source = { registry = "https://index.invalid/simple" }
"#;

/// A Pipfile.lock: no graph, so nothing says what brings its packages.
const PIPFILE_LOCK: &[u8] =
    br#"{"_meta": {}, "default": {"torch": {"version": "==1.12.0"}, "jinja2": {"version": "==2.10"}}, "develop": {}}"#;

/// The `data-group` of the `<section>` holding finding `id`.
fn group_of_finding(page: &Page, id: i64) -> String {
    let at = page
        .text
        .find(&format!("id=\"finding-{id}\""))
        .unwrap_or_else(|| panic!("finding {id} missing: {}", page.text));
    let marker = "data-group=\"";
    let start = page.text[..at].rfind(marker).expect("a group") + marker.len();
    let end = page.text[start..].find('"').expect("end");
    page.text[start..start + end].to_string()
}

fn finding_ids(web: &Web, token: &str, project: i64, package: &str) -> Vec<i64> {
    web.server
        .get(&format!("/api/v1/projects/{project}/findings"), token)
        .body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["package"]["name"].as_str().map(str::to_lowercase) == Some(package.into()))
        .filter_map(|f| f["id"].as_i64())
        .collect()
}

#[test]
fn findings_are_grouped_by_the_direct_requirement_that_brings_them() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |_| {});
        web.user("vic@example.com", "red", Role::Viewer);
        let cookie = web.login("vic@example.com", None);
        let token = web.server.token("red", Role::Member);
        let project = web.server.create_project(&token, "graph");
        let job = web.server.upload(&token, project, "uv.lock", UV_LOCK);
        assert_eq!(job["state"], "succeeded", "{job}");
        let path = format!("/projects/{project}");

        let page = web.get(&path, Some(&cookie));
        assert_eq!(page.status, 200);
        let jinja = finding_ids(&web, &token, project, "jinja2");
        let torch = finding_ids(&web, &token, project, "torch");
        assert!(!jinja.is_empty() && !torch.is_empty());
        for id in &jinja {
            assert_eq!(group_of_finding(&page, *id), "requirement:flask");
        }
        for id in &torch {
            assert_eq!(group_of_finding(&page, *id), "requirement:torch");
        }
        assert!(page.text.contains("flask → jinja2"), "the path is shown");

        // The project itself requires jinja2 too (its own uv.lock entry says so, no manifest
        // does): jinja2 is a direct requirement, grouped under itself, though flask needs it.
        let both = std::str::from_utf8(UV_LOCK).expect("utf-8").replace(
            "dependencies = [{ name = \"flask\" }, { name = \"torch\" }]",
            "dependencies = [{ name = \"flask\" }, { name = \"jinja2\" }, { name = \"torch\" }]",
        );
        assert_ne!(both.as_bytes(), UV_LOCK);
        let job = web
            .server
            .upload(&token, project, "uv.lock", both.as_bytes());
        assert_eq!(job["state"], "succeeded", "{job}");
        let direct_page = web.get(&path, Some(&cookie));
        for id in finding_ids(&web, &token, project, "jinja2") {
            assert_eq!(group_of_finding(&direct_page, id), "requirement:jinja2");
        }
        assert!(!direct_page.text.contains("flask → jinja2"));
        let job = web.server.upload(&token, project, "uv.lock", UV_LOCK);
        assert_eq!(job["state"], "succeeded", "{job}");
        // Worst first: the group holding the worst open finding comes first.
        assert!(page.text.contains("direct requirement"));

        // A lockfile without a graph: torch is of unknown origin there, but the uv.lock
        // graph still says torch is a root, which wins.
        let job = web
            .server
            .upload(&token, project, "Pipfile.lock", PIPFILE_LOCK);
        assert_eq!(job["state"], "succeeded", "{job}");
        let page = web.get(&path, Some(&cookie));
        for id in &torch {
            assert_eq!(group_of_finding(&page, *id), "requirement:torch");
        }
        assert!(page.text.contains("Also brought in"));
        // Without the graph, nothing says what brings torch.
        let job = web
            .server
            .upload(&token, project, "uv.lock", b"version = 1\n");
        assert_eq!(job["state"], "succeeded", "{job}");
        let page = web.get(&path, Some(&cookie));
        for id in &torch {
            assert_eq!(group_of_finding(&page, *id), "unknown");
        }
        assert!(page.text.contains("transitive (origin unknown)"));

        // A manifest naming jinja2 makes it a direct requirement.
        let job = web
            .server
            .upload(&token, project, "requirements.txt", b"jinja2==2.10\n");
        assert_eq!(job["state"], "succeeded", "{job}");
        let page = web.get(&path, Some(&cookie));
        for id in finding_ids(&web, &token, project, "jinja2") {
            assert_eq!(group_of_finding(&page, id), "requirement:jinja2");
        }
        assert!(page.text.contains("href=\"/projects/"));
        assert!(
            page.text
                .contains(&format!("href=\"/projects/{project}/activity\""))
        );
    }
}

/// The `data-type` of every event on an activity page, in order.
fn event_types(page: &Page) -> Vec<String> {
    page.text
        .split("class=\"event\"")
        .skip(1)
        .filter_map(|item| {
            let start = item.find("data-type=\"")? + "data-type=\"".len();
            Some(item[start..start + item[start..].find('"')?].to_string())
        })
        .collect()
}

#[test]
fn the_activity_feed_shows_the_projects_events_newest_first_and_paged() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |_| {});
        web.user("vic@example.com", "red", Role::Viewer);
        let cookie = web.login("vic@example.com", None);
        let token = web.server.token("red", Role::Member);
        let project = web.server.create_project(&token, "feed");
        let path = format!("/projects/{project}/activity");
        let empty = web.get(&path, Some(&cookie));
        assert_eq!(empty.status, 200);
        assert!(empty.text.contains("id=\"no-events\""));

        web.server
            .upload(&token, project, "requirements.txt", REQUIREMENTS);
        // torch leaves: its findings are resolved.
        web.server
            .upload(&token, project, "requirements.txt", b"jinja2==2.10\n");
        // A file mlvet does not read: the upload fails, and says why.
        let failed = web
            .server
            .upload(&token, project, "notes.md", b"# <b>not an inventory</b>\n");
        assert_eq!(failed["state"], "failed", "{failed}");
        let api = web.server.get(
            &format!("/api/v1/projects/{project}/events?limit=500"),
            &token,
        );
        let expected: Vec<String> = api.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(expected.len() >= 4, "{}", api.text);

        let page = web.get(&path, Some(&cookie));
        assert_eq!(page.status, 200);
        assert_eq!(event_types(&page), expected, "newest first, as the API");
        assert_eq!(expected[0], "inventory.failed");
        assert_eq!(expected[1], "inventory.processed");
        assert!(
            page.text.contains("notes.md"),
            "the failure's reason is shown"
        );
        assert!(expected.iter().any(|t| t == "finding.resolved"));
        assert!(expected.iter().any(|t| t == "finding.created"));
        assert!(page.text.contains("data-cause=\"inventory\""));
        assert!(page.text.contains("href=\"/advisories/PYSEC-2022-43015\""));

        // Paged two at a time: the pages concatenate to the whole feed.
        let mut seen = Vec::new();
        let mut next = format!("{path}?limit=2");
        for _ in 0..100 {
            let page = web.get(&next, Some(&cookie));
            assert_eq!(page.status, 200, "{}", page.text);
            let types = event_types(&page);
            assert!(types.len() <= 2);
            seen.extend(types);
            let marker = "rel=\"next\" href=\"";
            match page.text.find(marker) {
                Some(at) => {
                    let start = at + marker.len();
                    let end = page.text[start..].find('"').expect("end");
                    next = page.text[start..start + end].replace("&amp;", "&");
                }
                None => break,
            }
        }
        assert_eq!(seen, expected);
        for bad in ["?before=x", "?limit=0", "?limit=1000"] {
            assert_eq!(web.get(&format!("{path}{bad}"), Some(&cookie)).status, 400);
        }
        // Another team's project is not found.
        web.user("bob@example.com", "blue", Role::Admin);
        let other = web.login("bob@example.com", None);
        assert_eq!(web.get(&path, Some(&other)).status, 404);
    }
}

#[test]
fn admins_manage_webhooks_and_replay_deliveries_from_the_pages() {
    for postgres in backends() {
        let web = Web::start(postgres.as_deref(), |config| {
            config.monitor.allow_private_webhooks = true;
            config.monitor.webhook_timeout = std::time::Duration::from_secs(1);
        });
        web.user("ada@example.com", "red", Role::Admin);
        web.user("max@example.com", "red", Role::Member);
        let admin = web.login("ada@example.com", None);
        let member = web.login("max@example.com", None);
        let token = web.server.token("red", Role::Admin);

        // Members are neither linked to the pages nor let in.
        let projects = web.get("/projects", Some(&member));
        assert!(!projects.text.contains("href=\"/webhooks\""));
        assert_eq!(web.get("/webhooks", Some(&member)).status, 403);
        let member_csrf = projects.csrf();
        let refused = web.post(
            "/webhooks",
            Some(&member),
            &[
                ("csrf", &member_csrf),
                ("url", "http://127.0.0.1:9/x"),
                ("event.finding.created", "on"),
            ],
        );
        assert_eq!(refused.status, 403);

        let list = web.get("/webhooks", Some(&admin));
        assert_eq!(list.status, 200);
        assert!(
            list.text.contains("href=\"/webhooks\""),
            "admins see the link"
        );
        assert!(list.text.contains("id=\"new-webhook\""));
        let csrf = list.csrf();
        // Without the session's token nothing is created.
        let forged = web.post(
            "/webhooks",
            Some(&admin),
            &[
                ("csrf", "forged"),
                ("url", "http://127.0.0.1:9/x"),
                ("event.finding.created", "on"),
            ],
        );
        assert_eq!(forged.status, 403);
        let invalid = web.post(
            "/webhooks",
            Some(&admin),
            &[("csrf", &csrf), ("url", "http://127.0.0.1:9/x")],
        );
        assert_eq!(invalid.status, 400);
        assert!(invalid.text.contains("at least one event"));
        let bad_url = web.post(
            "/webhooks",
            Some(&admin),
            &[
                ("csrf", &csrf),
                ("url", "ftp://x.invalid/"),
                ("event.finding.created", "on"),
            ],
        );
        assert_eq!(bad_url.status, 400, "{}", bad_url.text);
        assert_eq!(
            web.server.get("/api/v1/webhooks", &token).body["webhooks"]
                .as_array()
                .map(Vec::len),
            Some(0)
        );

        // Port 9 on loopback refuses connections: every attempt fails and is retried.
        let created = web.post(
            "/webhooks",
            Some(&admin),
            &[
                ("csrf", &csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("event.finding.created", "on"),
                ("event.inventory.processed", "on"),
                ("min_severity", "low"),
            ],
        );
        assert_eq!(created.status, 201, "{}", created.text);
        let marker = "id=\"secret\">";
        let start = created.text.find(marker).expect("secret shown") + marker.len();
        let secret = &created.text[start..start + created.text[start..].find('<').expect("end")];
        assert!(secret.starts_with("whsec_"), "{secret}");
        let hooks = web.server.get("/api/v1/webhooks", &token);
        let hook = hooks.body["webhooks"][0]["id"].as_i64().expect("hook");
        assert_eq!(hooks.body["webhooks"][0]["min_severity"], "low");
        assert_eq!(
            hooks.body["webhooks"][0]["events"],
            serde_json::json!(["finding.created", "inventory.processed"])
        );
        // Shown once: never on the list again.
        let list = web.get("/webhooks", Some(&admin));
        assert!(!list.text.contains(secret));
        assert!(list.text.contains(&format!("href=\"/webhooks/{hook}\"")));

        let project = web.server.create_project(&token, "hooked");
        web.server
            .upload(&token, project, "requirements.txt", REQUIREMENTS);
        let log_path = format!("/webhooks/{hook}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let log = loop {
            let log = web
                .server
                .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &token);
            let tried = log.body["deliveries"].as_array().is_some_and(|d| {
                !d.is_empty() && d.iter().all(|d| d["attempts"].as_i64() >= Some(1))
            });
            if tried {
                break log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never attempted: {}",
                log.text
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let deliveries = log.body["deliveries"].as_array().expect("deliveries");
        let page = web.get(&log_path, Some(&admin));
        assert_eq!(page.status, 200);
        assert_eq!(
            page.text.matches("class=\"delivery\"").count(),
            deliveries.len()
        );
        let first = deliveries[0]["id"].as_i64().expect("id");
        assert!(page.text.contains(&format!("data-id=\"{first}\"")));
        assert!(page.text.contains("class=\"replay\""));
        assert!(
            page.text
                .contains("<dd class=\"events\">finding.created, inventory.processed</dd>")
        );
        assert!(page.text.contains("class=\"next\""));
        assert!(
            page.text.contains("class=\"error\""),
            "the attempt's error is shown"
        );

        // Replay: CSRF-protected, then pending again with a fresh schedule.
        let replay = format!("/webhooks/{hook}/deliveries/{first}/replay");
        let csrf = page.csrf();
        assert_eq!(
            web.post(&replay, Some(&admin), &[("csrf", "x")]).status,
            403
        );
        assert_eq!(
            web.post(&replay, Some(&member), &[("csrf", &member_csrf)])
                .status,
            403
        );
        let replayed = web.post(&replay, Some(&admin), &[("csrf", &csrf)]);
        assert_eq!(replayed.status, 303, "{}", replayed.text);
        assert_eq!(
            replayed.header("location"),
            Some(format!("/webhooks/{hook}#deliveries").as_str())
        );
        let missing = web.post(
            &format!("/webhooks/{hook}/deliveries/999999/replay"),
            Some(&admin),
            &[("csrf", &csrf)],
        );
        assert_eq!(missing.status, 404);

        // The log is paged like the API: one per page, newest first.
        let one = web.get(&format!("{log_path}?limit=1"), Some(&admin));
        assert_eq!(one.text.matches("class=\"delivery\"").count(), 1);
        if deliveries.len() > 1 {
            let second = deliveries[1]["id"].as_i64().expect("id");
            assert!(one.text.contains(&format!("?before={first}&amp;limit=1")));
            let next = web.get(&format!("{log_path}?before={first}&limit=1"), Some(&admin));
            assert!(next.text.contains(&format!("data-id=\"{second}\"")));
        }

        // Another team's admin finds nothing; the owner deletes.
        web.user("bob@example.com", "blue", Role::Admin);
        let other = web.login("bob@example.com", None);
        assert_eq!(web.get(&log_path, Some(&other)).status, 404);
        let other_csrf = web.get("/webhooks", Some(&other)).csrf();
        let delete = format!("/webhooks/{hook}/delete");
        assert_eq!(
            web.post(&delete, Some(&other), &[("csrf", &other_csrf)])
                .status,
            404
        );
        assert_eq!(
            web.post(&delete, Some(&admin), &[("csrf", "x")]).status,
            403
        );
        let deleted = web.post(&delete, Some(&admin), &[("csrf", &csrf)]);
        assert_eq!(deleted.status, 303);
        assert_eq!(
            web.server
                .get(&format!("/api/v1/webhooks/{hook}"), &token)
                .status,
            404
        );
        assert_eq!(web.get(&log_path, Some(&admin)).status, 404);
    }
}

#[test]
fn the_scan_page_reads_a_hub_model_through_the_service_cache() {
    let malicious = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models/malicious/reduce_os_system_p4.pkl"),
    )
    .expect("fixture");
    let repo = mlvet_hub::mock::MockRepo::new(
        "org/model",
        vec![mlvet_hub::mock::MockFile::new(
            "evil/model.pkl",
            malicious,
            true,
        )],
    );
    let commit = repo.head().to_string();
    let mock = mlvet_hub::mock::MockHub::start(vec![repo], Default::default()).expect("mock");
    let endpoint = mock.endpoint();
    let web = Web::start(None, move |config| config.hub.endpoint = endpoint);
    web.user("member@example.com", "red", Role::Member);
    let cookie = web.login("member@example.com", None);
    let scan = |id: &str| {
        let csrf = web.get("/scan", Some(&cookie)).csrf();
        web.multipart(
            "/scan",
            Some(&cookie),
            &[Part::Text("csrf", &csrf), Part::Text("hub", id)],
        )
    };
    let first = scan("org/model");
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        first.text.contains(&format!("hf://org/model@{commit}")),
        "the report names the pinned commit: {}",
        first.text
    );
    assert!(
        first.text.contains("data-severity=\"critical\""),
        "{}",
        first.text
    );
    let fetched = |mock: &mlvet_hub::mock::MockHub| {
        mock.log()
            .iter()
            .filter(|l| l.host == "cdn" || l.target.contains("/resolve/"))
            .count()
    };
    assert!(fetched(&mock) > 0);
    mock.clear_log();
    // `hf://` as the CLI takes it; the same commit comes from the store's read cache.
    let second = scan("hf://org/model@main");
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(second.text.contains("data-severity=\"critical\""));
    assert_eq!(fetched(&mock), 0, "a cached commit makes no file request");
}
