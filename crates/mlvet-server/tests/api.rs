//! The `/api/v1` contract end to end over real HTTP on loopback: upload → job → findings,
//! packages, triage, one-off scans, advisories, errors, limits. Each test runs on SQLite and,
//! when `MLVET_TEST_POSTGRES` is set, on PostgreSQL too.

mod common;

use common::{Server, backends, import_advisories};
use mlvet_store::Role;
use serde_json::{Value, json};

const REQUIREMENTS: &[u8] = b"torch==1.12.0\njinja2==2.10\nrequests>=2\n";

fn finding_for<'a>(findings: &'a Value, advisory: &str) -> &'a Value {
    findings["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["advisory"]["id"] == advisory)
        .unwrap_or_else(|| panic!("no finding for {advisory}: {findings:#}"))
}

#[test]
fn upload_to_findings_triage_and_replacement() {
    for postgres in backends() {
        let server = Server::start(postgres.as_deref(), |_| {});
        import_advisories(server.data.path());
        let member = server.token("red", Role::Member);
        let project = server.create_project(&member, "ml-api");

        let job = server.upload(&member, project, "requirements.txt", REQUIREMENTS);
        assert_eq!(job["state"], "succeeded", "{job:#}");
        let job_again = server.get(&format!("/api/v1/jobs/{}", job["id"]), &member);
        assert_eq!(job_again.body["job"]["state"], "succeeded");

        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        assert_eq!(findings.status, 200, "{}", findings.text);
        let torch = finding_for(&findings.body, "PYSEC-2022-43015");
        // The JSON report's fields, plus the service's.
        assert_eq!(torch["rule"], "dependency-vulnerable");
        assert_eq!(torch["package"]["name"], "torch");
        assert_eq!(torch["package"]["version"], "1.12.0");
        assert_eq!(torch["package"]["ml"], true);
        assert_eq!(torch["path"], "requirements.txt");
        assert_eq!(torch["advisory"]["fixed"], "1.13.1");
        for field in [
            "severity",
            "confidence",
            "verdict",
            "message",
            "evidence",
            "members",
        ] {
            assert!(torch.get(field).is_some(), "{field} missing: {torch:#}");
        }
        assert!(torch["id"].is_i64());
        assert_eq!(torch["state"], "open");
        assert!(torch["first_seen"].is_string());
        assert!(torch["triage"].is_null());
        let jinja = finding_for(&findings.body, "PYSEC-2019-217");
        assert_eq!(jinja["state"], "open");

        let packages = server.get(&format!("/api/v1/projects/{project}/packages"), &member);
        let names: Vec<&str> = packages.body["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| p["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["jinja2", "requests", "torch"]);
        let torch_package = &packages.body["packages"][2];
        assert_eq!(torch_package["ml"], true);
        assert_eq!(torch_package["source"]["file"], "requirements.txt");
        assert_eq!(torch_package["ecosystem"], "PyPI");

        // A second source; then requirements.txt again without jinja2.
        let job = server.upload(&member, project, "svc/requirements.txt", b"jinja2==2.10\n");
        assert_eq!(job["state"], "succeeded");
        let job = server.upload(&member, project, "requirements.txt", b"torch==1.12.1\n");
        assert_eq!(job["state"], "succeeded");
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        let torch_again = finding_for(&findings.body, "PYSEC-2022-43015");
        assert_eq!(
            torch_again["id"], torch["id"],
            "same (package, advisory), same finding"
        );
        assert_eq!(torch_again["first_seen"], torch["first_seen"]);
        assert_eq!(torch_again["package"]["version"], "1.12.1");
        // jinja2 is still required by the other source.
        assert_eq!(
            finding_for(&findings.body, "PYSEC-2019-217")["state"],
            "open"
        );
        let job = server.upload(&member, project, "svc/requirements.txt", b"jinja2==3.1.4\n");
        assert_eq!(job["state"], "succeeded");
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        assert_eq!(
            finding_for(&findings.body, "PYSEC-2019-217")["state"],
            "resolved"
        );
        let open = server.get(
            &format!("/api/v1/projects/{project}/findings?state=open"),
            &member,
        );
        assert!(
            open.body["findings"]
                .as_array()
                .expect("list")
                .iter()
                .all(|f| f["state"] == "open")
        );
        let packages = server.get(&format!("/api/v1/projects/{project}/packages"), &member);
        assert_eq!(
            packages.body["packages"]
                .as_array()
                .expect("packages")
                .len(),
            2
        );

        // Triage: suppressed until the expiry, audited; counts follow.
        let id = torch["id"].as_i64().expect("id");
        let patched = server.json(
            "PATCH",
            &format!("/api/v1/findings/{id}"),
            &member,
            &json!({"triage": "accepted_risk", "reason": "only loads our own checkpoints", "expires": "2999-12-31"}),
        );
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.body["state"], "suppressed");
        assert_eq!(patched.body["triage"]["triage"], "accepted_risk");
        assert_eq!(patched.body["triage"]["expires"], "2999-12-31");
        assert!(
            patched.body["triage"]["by"]
                .as_str()
                .expect("by")
                .starts_with("token:")
        );
        assert_eq!(patched.body["audit"].as_array().expect("audit").len(), 1);
        assert_eq!(patched.body["audit"][0]["previous_state"], "open");

        let page = server.get(&format!("/api/v1/projects/{project}"), &member);
        assert_eq!(page.status, 200);
        assert_eq!(page.body["findings"]["by_state"]["suppressed"], 1);
        // The counts are those of the findings list.
        let all = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        for state in ["open", "resolved", "suppressed"] {
            let listed = all.body["findings"]
                .as_array()
                .expect("list")
                .iter()
                .filter(|f| f["state"] == state)
                .count();
            assert_eq!(page.body["findings"]["by_state"][state], listed, "{state}");
        }
        assert!(
            page.body["findings"]["by_state"]["resolved"]
                .as_u64()
                .expect("count")
                >= 2
        );
        assert_eq!(page.body["last_upload"]["state"], "succeeded");
        assert_eq!(page.body["sources"].as_array().expect("sources").len(), 2);
        let list = server.get("/api/v1/projects", &member);
        assert_eq!(
            list.body["projects"][0]["findings"], page.body["findings"],
            "the list and the page agree"
        );
        let uploads = server.get(&format!("/api/v1/projects/{project}/uploads"), &member);
        assert_eq!(
            uploads.body["uploads"].as_array().expect("uploads").len(),
            4
        );
    }
}

#[test]
fn failed_scans_say_why_and_leave_the_inventory_alone() {
    for postgres in backends() {
        let server = Server::start(postgres.as_deref(), |_| {});
        let member = server.token("red", Role::Member);
        let project = server.create_project(&member, "p");
        let job = server.upload(&member, project, "notes.txt", b"hello");
        assert_eq!(job["state"], "failed");
        assert!(
            job["error"].as_str().expect("error").contains("notes.txt"),
            "{job:#}"
        );
        let page = server.get(&format!("/api/v1/projects/{project}"), &member);
        assert_eq!(page.body["sources"].as_array().expect("sources").len(), 0);
        // A lockfile that does not parse is not "clean": the parse problem is a finding.
        let job = server.upload(&member, project, "poetry.lock", b"[[package]\nname = ");
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        match job["state"].as_str() {
            Some("failed") => assert!(job["error"].is_string()),
            Some("succeeded") => assert!(
                findings.body["findings"]
                    .as_array()
                    .expect("list")
                    .iter()
                    .any(|f| f["path"] == "poetry.lock"),
                "{:#}",
                findings.body
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn model_files_are_scanned_like_the_cli_does() {
    let server = Server::start(None, |_| {});
    let member = server.token("red", Role::Member);
    let project = server.create_project(&member, "models");
    // A protocol-2 pickle calling os.system("id"): GLOBAL, then a tuple, then REDUCE.
    let pickle = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
    let job = server.upload(&member, project, "model.pkl", &pickle[..]);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
    let list = findings.body["findings"].as_array().expect("findings");
    assert!(
        list.iter()
            .any(|f| f["verdict"] == "malicious" && f["path"] == "model.pkl"),
        "{findings:#?}",
        findings = findings.body
    );
    let page = server.get(&format!("/api/v1/projects/{project}"), &member);
    assert!(
        page.body["findings"]["by_verdict"]["malicious"]
            .as_u64()
            .expect("count")
            >= 1
    );
}

#[test]
fn one_off_scans_answer_the_cli_report() {
    let server = Server::start(None, |_| {});
    import_advisories(server.data.path());
    let viewer = server.token("red", Role::Viewer);
    let answer = server.call(
        "POST",
        "/api/v1/scan?filename=requirements.txt",
        Some(viewer.as_str()),
        Some(REQUIREMENTS),
        &[],
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.body["schema_version"].is_string(),
        "{:#}",
        answer.body
    );
    assert!(
        answer.body["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["advisory"]["id"] == "PYSEC-2022-43015")
    );
    assert_eq!(answer.body["summary"]["fail_on"], "high");
    assert!(answer.body["summary"]["status"].is_string());
    // Nothing stored.
    assert!(
        server.get("/api/v1/projects", &viewer).body["projects"]
            .as_array()
            .expect("list")
            .is_empty()
    );
    // Without a token: refused unless the server allows public scans.
    let anonymous = server.call(
        "POST",
        "/api/v1/scan?filename=requirements.txt",
        None,
        Some(REQUIREMENTS),
        &[],
    );
    assert_eq!(anonymous.status, 401);
    let unknown = server.call(
        "POST",
        "/api/v1/scan?filename=notes.txt",
        Some(viewer.as_str()),
        Some(&b"hello"[..]),
        &[],
    );
    assert_eq!(unknown.status, 200);
    assert!(
        unknown.body["warnings"][0]
            .as_str()
            .expect("warning")
            .contains("nothing was scanned")
    );
}

#[test]
fn public_scans_are_rate_limited_per_client() {
    let server = Server::start(None, |config| {
        config.public_scan = true;
        config.limits.public_scan_per_minute = 2;
    });
    for _ in 0..2 {
        let answer = server.call(
            "POST",
            "/api/v1/scan?filename=requirements.txt",
            None,
            Some(&b"torch==2.0.0\n"[..]),
            &[],
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let limited = server.call(
        "POST",
        "/api/v1/scan?filename=requirements.txt",
        None,
        Some(&b"torch==2.0.0\n"[..]),
        &[],
    );
    assert_eq!(limited.status, 429);
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(
        limited.header("content-type"),
        Some("application/problem+json")
    );
    // Other routes still need a token.
    assert_eq!(
        server
            .call("GET", "/api/v1/projects", None, None, &[])
            .status,
        401
    );
}

#[test]
fn tokens_are_rate_limited() {
    let server = Server::start(None, |config| config.limits.rate_per_minute = 3);
    let viewer = server.token("red", Role::Viewer);
    for _ in 0..3 {
        assert_eq!(server.get("/api/v1/projects", &viewer).status, 200);
    }
    let limited = server.get("/api/v1/projects", &viewer);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    // Another token has its own budget.
    let other = server.token("red", Role::Viewer);
    assert_eq!(server.get("/api/v1/projects", &other).status, 200);
}

#[test]
fn hostile_uploads_are_bounded() {
    let server = Server::start(None, |config| {
        config.limits.max_body_bytes = 64 * 1024;
        config.limits.max_decompressed_bytes = 1024 * 1024;
    });
    let member = server.token("red", Role::Member);
    let project = server.create_project(&member, "p");
    let path = format!("/api/v1/projects/{project}/inventory?filename=requirements.txt");

    // Too large as sent.
    let big = vec![b'#'; 65 * 1024];
    server.assert_too_large("PUT", &path, &member, &big, &[]);

    // A gzip bomb: 10 KiB on the wire, 10 MiB inflated.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![b'a'; 10 * 1024 * 1024]).expect("gzip");
    let bomb = encoder.finish().expect("gzip");
    assert!(bomb.len() < 64 * 1024);
    let answer = server.call(
        "PUT",
        &path,
        Some(member.as_str()),
        Some(&bomb[..]),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(answer.status, 413, "{}", answer.text);
    let zbomb = zstd::encode_all(&vec![0u8; 10 * 1024 * 1024][..], 19).expect("zstd");
    let answer = server.call(
        "PUT",
        &path,
        Some(member.as_str()),
        Some(&zbomb[..]),
        &[("Content-Encoding", "zstd")],
    );
    assert_eq!(answer.status, 413, "{}", answer.text);

    // Compressed bodies within budget are accepted.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, b"torch==2.0.0\n").expect("gzip");
    let gz = encoder.finish().expect("gzip");
    let answer = server.call(
        "PUT",
        &format!("{path}&wait=30"),
        Some(member.as_str()),
        Some(&gz[..]),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body["job"]["state"], "succeeded");
    let zst = zstd::encode_all(&b"numpy==1.26.0\n"[..], 3).expect("zstd");
    let answer = server.call(
        "PUT",
        &format!("/api/v1/projects/{project}/inventory?filename=other/requirements.txt&wait=30"),
        Some(member.as_str()),
        Some(&zst[..]),
        &[("Content-Encoding", "zstd")],
    );
    assert_eq!(answer.body["job"]["state"], "succeeded", "{}", answer.text);

    // Unknown encodings, broken compressed data, and hostile names.
    let answer = server.call(
        "PUT",
        &path,
        Some(member.as_str()),
        Some(&b"x"[..]),
        &[("Content-Encoding", "br")],
    );
    assert_eq!(answer.status, 415);
    let answer = server.call(
        "PUT",
        &path,
        Some(member.as_str()),
        Some(&b"not gzip"[..]),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(answer.status, 400);
    for name in [
        "..%2Fetc%2Fpasswd",
        "..",
        "a%2F..%2Fb",
        "%2Fetc%2Fpasswd",
        "a%5Cb",
        "x%00y",
        "",
    ] {
        let answer = server.call(
            "PUT",
            &format!("/api/v1/projects/{project}/inventory?filename={name}"),
            Some(member.as_str()),
            Some(&b"torch==2.0.0\n"[..]),
            &[],
        );
        assert_eq!(answer.status, 400, "{name}: {}", answer.text);
    }
    let answer = server.call(
        "PUT",
        &format!("/api/v1/projects/{project}/inventory"),
        Some(member.as_str()),
        Some(&b"x"[..]),
        &[],
    );
    assert_eq!(answer.status, 400);

    // Huge and malformed JSON bodies.
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(100 * 1024));
    server.assert_too_large("POST", "/api/v1/projects", &member, huge.as_bytes(), &[]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    server.assert_too_large("POST", "/api/v1/projects", &member, deep.as_bytes(), &[]);
    for bad in [
        &b"{"[..],
        b"[]",
        b"{\"name\": 3}",
        b"{\"name\": \"\"}",
        b"{\"name\": \"a\\u0000b\"}",
    ] {
        let answer = server.call(
            "POST",
            "/api/v1/projects",
            Some(member.as_str()),
            Some(bad),
            &[],
        );
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    // The server is still fine.
    assert_eq!(server.call("GET", "/healthz", None, None, &[]).status, 200);
}

#[test]
fn sql_metacharacters_are_data() {
    for postgres in backends() {
        let server = Server::start(postgres.as_deref(), |_| {});
        import_advisories(server.data.path());
        let member = server.token("red", Role::Member);
        let hostile = "x'); DROP TABLE projects; -- \" ` \\ % _ ;";
        let project = server.create_project(&member, hostile);
        let page = server.get(&format!("/api/v1/projects/{project}"), &member);
        assert_eq!(page.body["name"], hostile);
        let encoded = "a'%3B%20DROP%20TABLE%20sources%3B--%25_/requirements.txt";
        let answer = server.call(
            "PUT",
            &format!("/api/v1/projects/{project}/inventory?filename={encoded}&wait=30"),
            Some(member.as_str()),
            Some(&b"torch==1.12.0\n"[..]),
            &[],
        );
        assert_eq!(answer.body["job"]["state"], "succeeded", "{}", answer.text);
        assert_eq!(
            answer.body["job"]["filename"],
            "a'; DROP TABLE sources;--%_/requirements.txt"
        );
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &member);
        let finding = finding_for(&findings.body, "PYSEC-2022-43015");
        let id = finding["id"].as_i64().expect("id");
        let reason = "'; UPDATE findings SET state='open' WHERE '1'='1 <script>alert(1)</script>";
        let patched = server.json(
            "PATCH",
            &format!("/api/v1/findings/{id}"),
            &member,
            &json!({"triage": "not_affected", "reason": reason}),
        );
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.body["triage"]["reason"], reason);
        let advisories = server.get("/api/v1/advisories?q=%27%20OR%201%3D1%20--", &member);
        assert_eq!(advisories.status, 200);
        assert_eq!(advisories.body["total"], 0);
        assert_eq!(
            server.get("/api/v1/projects", &member).body["projects"]
                .as_array()
                .expect("list")
                .len(),
            1
        );
    }
}

#[test]
fn advisories_of_ml_libraries_with_affected_projects() {
    let server = Server::start(None, |_| {});
    let viewer = server.token("red", Role::Viewer);
    // No database yet: said plainly.
    let answer = server.get("/api/v1/advisories", &viewer);
    assert_eq!(answer.status, 503, "{}", answer.text);
    import_advisories(server.data.path());
    let answer = server.get("/api/v1/advisories?ml=true", &viewer);
    assert_eq!(answer.status, 200, "{}", answer.text);
    let ids: Vec<&str> = answer.body["advisories"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&"PYSEC-2022-43015"), "{ids:?}");
    assert!(
        !ids.iter().any(|id| id.starts_with("PYSEC-2019-217")),
        "jinja2 is not an ML library: {ids:?}"
    );
    let torch = &answer.body["advisories"][ids
        .iter()
        .position(|i| *i == "PYSEC-2022-43015")
        .expect("pos")];
    assert!(
        torch["fixed"]
            .as_array()
            .expect("fixed")
            .iter()
            .any(|f| f == "1.13.1")
    );
    assert_eq!(
        server
            .get("/api/v1/advisories?q=pysec-2022-43015", &viewer)
            .body["total"],
        1
    );
    assert_eq!(
        server
            .get(
                "/api/v1/advisories?package=torch&q=nothing-like-this",
                &viewer
            )
            .body["total"],
        0
    );
    assert_eq!(
        server
            .get("/api/v1/advisories?ml=false&package=jinja2", &viewer)
            .body["total"],
        5
    );
    assert_eq!(
        server
            .get("/api/v1/advisories?severity=urgent", &viewer)
            .status,
        400
    );
    assert_eq!(server.get("/api/v1/advisories?page=0", &viewer).status, 400);
    let beyond = server.get("/api/v1/advisories?ml=false", &viewer);
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.body["total"], 0);
    assert!(beyond.body["note"].is_string());
    assert_eq!(
        server
            .get("/api/v1/advisories?since=2022-1-1", &viewer)
            .status,
        400
    );
    assert_eq!(
        server
            .get("/api/v1/advisories?since=2022-11-01", &viewer)
            .body["total"],
        1
    );

    let member = server.token("red", Role::Member);
    let project = server.create_project(&member, "uses-torch");
    server.upload(&member, project, "requirements.txt", REQUIREMENTS);
    let detail = server.get("/api/v1/advisories/PYSEC-2022-43015", &viewer);
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(
        detail.body["affected_projects"],
        json!([{"id": project, "name": "uses-torch"}])
    );
    assert!(detail.body["affected"][0]["ranges"].is_array());
    assert!(detail.body["references"].is_array());
    // A non-ML advisory is found through the caller's findings.
    let jinja = server.get("/api/v1/advisories/PYSEC-2019-217", &viewer);
    assert_eq!(jinja.status, 200, "{}", jinja.text);
    // Another team sees the advisory, not the project.
    let blue = server.token("blue", Role::Viewer);
    let other = server.get("/api/v1/advisories/PYSEC-2022-43015", &blue);
    assert_eq!(other.body["affected_projects"], json!([]));
    assert_eq!(server.get("/api/v1/advisories/NOPE-1", &viewer).status, 404);

    // Any advisory of the database answers, by id or by any alias, for a team without findings:
    // jinja2 is not an ML library and no project of `blue` uses it.
    for alias in [
        "PYSEC-2019-217",
        "CVE-2019-10906",
        "GHSA-462w-v97r-4m45",
        "cve-2019-10906",
    ] {
        let found = server.get(&format!("/api/v1/advisories/{alias}"), &blue);
        assert_eq!(found.status, 200, "{alias}: {}", found.text);
        assert_eq!(found.body["id"], "PYSEC-2019-217", "{alias}");
        assert_eq!(found.body["affected_projects"], json!([]), "{alias}");
    }
    // By an alias, the caller's affected projects are those of the advisory.
    let by_cve = server.get("/api/v1/advisories/CVE-2022-45907", &viewer);
    assert_eq!(by_cve.status, 200, "{}", by_cve.text);
    assert_eq!(by_cve.body["id"], "PYSEC-2022-43015");
    assert_eq!(
        by_cve.body["affected_projects"],
        json!([{"id": project, "name": "uses-torch"}])
    );
    // Free-text search finds an advisory by an alias: in the ML view, and anywhere with ml=false.
    let ids_of = |answer: &common::Answer| -> Vec<String> {
        answer.body["advisories"]
            .as_array()
            .expect("list")
            .iter()
            .map(|a| a["id"].as_str().expect("id").to_string())
            .collect()
    };
    let ml = server.get("/api/v1/advisories?q=CVE-2022-45907", &viewer);
    assert_eq!(ids_of(&ml), vec!["PYSEC-2022-43015"]);
    let anywhere = server.get("/api/v1/advisories?ml=false&q=GHSA-462w-v97r-4m45", &viewer);
    assert_eq!(anywhere.status, 200, "{}", anywhere.text);
    assert_eq!(ids_of(&anywhere), vec!["PYSEC-2019-217"]);
    assert_eq!(anywhere.body["total"], 1);
    // The ML view stays the ML view; a package filter still filters.
    assert_eq!(
        server
            .get("/api/v1/advisories?q=CVE-2019-10906", &viewer)
            .body["total"],
        0
    );
    assert_eq!(
        server
            .get(
                "/api/v1/advisories?ml=false&package=torch&q=CVE-2019-10906",
                &viewer
            )
            .body["total"],
        0
    );
}

#[test]
fn health_readiness_and_problem_details() {
    for postgres in backends() {
        let server = Server::start(postgres.as_deref(), |_| {});
        assert_eq!(server.call("GET", "/healthz", None, None, &[]).status, 200);
        let ready = server.call("GET", "/readyz", None, None, &[]);
        assert_eq!(ready.status, 200);
        assert_eq!(
            ready.body["backend"],
            if postgres.is_some() {
                "postgres"
            } else {
                "sqlite"
            }
        );
        let missing = server.call("GET", "/api/v1/nothing-here", None, None, &[]);
        assert_eq!(missing.status, 404);
        assert_eq!(
            missing.header("content-type"),
            Some("application/problem+json")
        );
        let wrong_method = server.call("DELETE", "/api/v1/projects", None, None, &[]);
        assert_eq!(wrong_method.status, 405);
        let unauthorized = server.call("GET", "/api/v1/projects", None, None, &[]);
        assert_eq!(unauthorized.status, 401);
        assert!(unauthorized.header("www-authenticate").is_some());
        assert_eq!(unauthorized.body["title"], "Unauthorized");
    }
}

#[test]
fn openapi_lists_every_route_and_status() {
    let server = Server::start(None, |_| {});
    let answer = server.call("GET", "/api/v1/openapi.json", None, None, &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["openapi"], "3.1.0");
    for route in mlvet_server::routes::ROUTES {
        let operation = &answer.body["paths"][route.path][route.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} missing",
            route.method,
            route.path
        );
        for status in route.statuses {
            assert!(
                operation["responses"][status.to_string()].is_object(),
                "{} {} {status}",
                route.method,
                route.path
            );
        }
        // Every `{param}` of the path is a declared path parameter, and only those.
        let declared: Vec<&str> = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .collect();
        assert_eq!(declared, in_path, "{} {}", route.method, route.path);
    }
    // Nothing documented that the router does not serve.
    let documented: usize = answer.body["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, serde_json::Map::len))
        .sum();
    assert_eq!(documented, mlvet_server::routes::ROUTES.len());
    // Every documented operation is served by the router: a matched route answers with its
    // own statuses (401 without a token), never the fallback's 404 or 405.
    for (path, item) in answer.body["paths"].as_object().expect("paths") {
        let concrete = path.replace("{id}", "1").replace("{delivery_id}", "1");
        for (method, operation) in item.as_object().expect("operations") {
            let method = method.to_uppercase();
            let served = server.call(&method, &concrete, None, None, &[]);
            let documented = &operation["responses"][served.status.to_string()];
            assert!(
                documented.is_object(),
                "{method} {path} answered an undocumented {}: {}",
                served.status,
                served.text
            );
        }
    }
    // Every reference resolves.
    let text = answer.body.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').expect("end")];
        assert!(
            answer.body["components"]["schemas"][name].is_object(),
            "{name} is referenced but not defined"
        );
    }
}

#[test]
fn openapi_describes_webhooks_deliveries_events_and_finding_states() {
    let server = Server::start(None, |_| {});
    let doc = server
        .call("GET", "/api/v1/openapi.json", None, None, &[])
        .body;
    let schemas = &doc["components"]["schemas"];
    let create = &schemas["WebhookCreate"];
    assert_eq!(create["required"], serde_json::json!(["url", "events"]));
    assert!(
        create["properties"]["events"]["items"]["enum"]
            .as_array()
            .expect("event types")
            .contains(&serde_json::json!("finding.retracted"))
    );
    for name in [
        "Webhook",
        "WebhookCreated",
        "Delivery",
        "DeliveryList",
        "Event",
        "EventList",
        "Finding",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
    assert!(
        schemas["Finding"]["properties"]["state"]["enum"]
            .as_array()
            .expect("states")
            .contains(&serde_json::json!("retracted"))
    );
    let paths = &doc["paths"];
    let replay = &paths["/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay"]["post"];
    assert!(
        replay["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "delivery_id" && p["in"] == "path" && p["required"] == true)
    );
    for path in [
        "/api/v1/projects/{id}/events",
        "/api/v1/webhooks/{id}/deliveries",
    ] {
        let parameters = paths[path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let limit = parameters
            .iter()
            .find(|p| p["name"] == "limit")
            .expect("limit");
        assert_eq!(limit["schema"]["maximum"], 500, "{path}");
        assert!(parameters.iter().any(|p| p["name"] == "before"), "{path}");
    }
    assert_eq!(
        paths["/api/v1/webhooks"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookCreate"
    );
    assert_eq!(
        paths["/api/v1/webhooks"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/WebhookCreated"
    );
    assert_eq!(
        paths["/api/v1/projects/{id}/findings"]["get"]["parameters"][1]["schema"]["enum"][3],
        "retracted"
    );
}

/// schemathesis (seed 20261202) found `"projects": [315303.0]` refused with 400: JSON Schema
/// counts an integral float as an integer, so the documented body must be accepted.
#[test]
fn webhook_projects_accept_integers_written_as_floats() {
    let server = Server::start(None, |config| {
        config.monitor.allow_private_webhooks = true;
    });
    let admin = server.token("red", Role::Admin);
    let create = |projects: serde_json::Value| {
        server.json(
            "POST",
            "/api/v1/webhooks",
            &admin,
            &serde_json::json!({"url": "http://127.0.0.1:9/floats", "events": ["*"], "projects": projects}),
        )
    };
    let first = server.create_project(&admin, "floats-1");
    let second = server.create_project(&admin, "floats-2");
    #[allow(clippy::cast_precision_loss)]
    let as_float = first as f64;
    let accepted = create(serde_json::json!([as_float, second]));
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    assert_eq!(
        accepted.body["projects"],
        serde_json::json!([first, second])
    );
    for refused in [
        serde_json::json!([1.5]),
        serde_json::json!([1e300]),
        serde_json::json!(["x"]),
    ] {
        let answer = create(refused.clone());
        assert_eq!(answer.status, 400, "{refused}: {}", answer.text);
    }
}

#[test]
fn deliveries_and_events_are_paged_by_a_cursor() {
    for postgres in common::backends() {
        let server = Server::start(postgres.as_deref(), |config| {
            config.monitor.allow_private_webhooks = true;
        });
        common::import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let hook = server.json(
            "POST",
            "/api/v1/webhooks",
            &admin,
            &serde_json::json!({"url": "http://127.0.0.1:9/paged", "events": ["*"]}),
        );
        assert_eq!(hook.status, 201, "{}", hook.text);
        let hook = hook.body["id"].as_i64().expect("id");
        let project = server.create_project(&admin, "paged");
        server.upload(
            &admin,
            project,
            "requirements.txt",
            b"torch==1.12.0
jinja2==2.10
",
        );
        for (list, key, cursor) in [
            (
                format!("/api/v1/webhooks/{hook}/deliveries"),
                "deliveries",
                "id",
            ),
            (
                format!("/api/v1/projects/{project}/events"),
                "events",
                "seq",
            ),
        ] {
            // Deliveries keep coming (the monitor's `advisories.updated`): pages by cursor are
            // compared with one page of everything up to the first paged item.
            let mut paged = Vec::new();
            let mut next = format!("{list}?limit=2");
            loop {
                let page = server.get(&next, &admin);
                assert_eq!(page.status, 200, "{}", page.text);
                let items = page.body[key].as_array().expect("list");
                assert!(items.len() <= 2);
                paged.extend(items.iter().filter_map(|item| item[cursor].as_i64()));
                match page.body["next_before"].as_i64() {
                    Some(before) => next = format!("{list}?limit=2&before={before}"),
                    None => break,
                }
                assert!(paged.len() <= 1000, "{list} pages without end");
            }
            let newest = paged.first().copied().expect("a first page");
            let all = server.get(&format!("{list}?limit=500&before={}", newest + 1), &admin);
            assert_eq!(all.status, 200, "{}", all.text);
            let all: Vec<i64> = all.body[key]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|item| item[cursor].as_i64())
                .collect();
            assert!(all.len() >= 3, "{list}: {all:?}");
            assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first");
            assert_eq!(paged, all, "{list}");
            for bad in ["?limit=0", "?limit=501", "?before=x", "?before=0"] {
                assert_eq!(
                    server.get(&format!("{list}{bad}"), &admin).status,
                    400,
                    "{list}{bad}"
                );
            }
        }
    }
}

#[test]
fn waiting_is_bounded_and_jobs_can_be_polled() {
    let server = Server::start(None, |config| config.limits.workers = 1);
    let member = server.token("red", Role::Member);
    let project = server.create_project(&member, "p");
    let answer = server.call(
        "PUT",
        &format!("/api/v1/projects/{project}/inventory?filename=requirements.txt"),
        Some(member.as_str()),
        Some(&b"torch==2.0.0\n"[..]),
        &[],
    );
    assert_eq!(answer.status, 202);
    let location = answer.header("location").expect("Location").to_string();
    assert!(location.starts_with("/api/v1/jobs/"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = server.get(&location, &member);
        let state = job.body["job"]["state"]
            .as_str()
            .expect("state")
            .to_string();
        assert!(
            ["queued", "running", "succeeded"].contains(&state.as_str()),
            "{state}"
        );
        if state == "succeeded" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job never ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        server
            .call(
                "PUT",
                &format!("/api/v1/projects/{project}/inventory?filename=r.txt&wait=x"),
                Some(member.as_str()),
                Some(&b""[..]),
                &[]
            )
            .status,
        400
    );
}

/// Checks `answer` against the OpenAPI document's response schema of `method path` for its
/// status (a 2020-12 JSON Schema whose references point into the document).
fn assert_conforms(doc: &Value, method: &str, path: &str, answer: &common::Answer) {
    let schema = &doc["paths"][path][method.to_lowercase()]["responses"][answer.status.to_string()]
        ["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} answered an undocumented {}: {}",
        answer.status,
        answer.text
    );
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&answer.body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path}: {errors:#?}\n{}",
        answer.text
    );
}

#[test]
fn monitoring_and_finding_answers_conform_to_the_openapi_schemas() {
    for postgres in backends() {
        let server = Server::start(postgres.as_deref(), |config| {
            config.monitor.allow_private_webhooks = true;
        });
        import_advisories(server.data.path());
        let doc = server
            .call("GET", "/api/v1/openapi.json", None, None, &[])
            .body;
        let admin = server.token("red", Role::Admin);
        let created = server.json(
            "POST",
            "/api/v1/webhooks",
            &admin,
            &json!({"url": "http://127.0.0.1:9/schema", "events": ["*"], "min_severity": "low"}),
        );
        assert_conforms(&doc, "POST", "/api/v1/webhooks", &created);
        let hook = created.body["id"].as_i64().expect("id");
        let project = server.create_project(&admin, "schema");
        server.upload(&admin, project, "requirements.txt", REQUIREMENTS);
        let checks = [
            ("/api/v1/webhooks", "/api/v1/webhooks".to_string()),
            ("/api/v1/webhooks/{id}", format!("/api/v1/webhooks/{hook}")),
            (
                "/api/v1/webhooks/{id}/deliveries",
                format!("/api/v1/webhooks/{hook}/deliveries?limit=3"),
            ),
            (
                "/api/v1/projects/{id}/events",
                format!("/api/v1/projects/{project}/events?limit=3"),
            ),
            (
                "/api/v1/projects/{id}/findings",
                format!("/api/v1/projects/{project}/findings"),
            ),
        ];
        for (template, path) in &checks {
            assert_conforms(&doc, "GET", template, &server.get(path, &admin));
        }
        let deliveries = server.get(&format!("/api/v1/webhooks/{hook}/deliveries"), &admin);
        let delivery = deliveries.body["deliveries"][0]["id"]
            .as_i64()
            .expect("a delivery");
        let replayed = server.call(
            "POST",
            &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/replay"),
            Some(admin.as_str()),
            None,
            &[],
        );
        assert_eq!(replayed.status, 202, "{}", replayed.text);
        assert_conforms(
            &doc,
            "POST",
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
            &replayed,
        );
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
        let finding = findings.body["findings"][0]["id"]
            .as_i64()
            .expect("a finding");
        let path = format!("/api/v1/findings/{finding}");
        assert_conforms(
            &doc,
            "GET",
            "/api/v1/findings/{id}",
            &server.get(&path, &admin),
        );
        let triaged = server.json(
            "PATCH",
            &path,
            &admin,
            &json!({"triage": "fix_planned", "reason": "next sprint"}),
        );
        assert_conforms(&doc, "PATCH", "/api/v1/findings/{id}", &triaged);
    }
}
