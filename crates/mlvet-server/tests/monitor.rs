//! Monitoring end to end, through the front door (issue 12): the HTTP API, the real import of
//! mlvet-db into the server's data directory (what `mlvet db import` runs), and a loopback
//! receiver that verifies every Standard Webhooks signature with mlvet-webhooks' verifier. On
//! SQLite, and on PostgreSQL when `MLVET_TEST_POSTGRES` is set.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, backends, import_advisories};
use mlvet_store::Role;
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    hook: String,
    id: String,
    verified: bool,
    body: Value,
    answered: u16,
    /// When the request arrived.
    at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    secrets: HashMap<String, mlvet_webhooks::Secret>,
    received: Vec<Received>,
    /// webhook-ids the `flaky` hook already failed once.
    failed_once: Vec<String>,
}

/// A tiny axum server on loopback: `/hook/ok` answers 200, `/hook/flaky` 503 on the first
/// attempt of each message then 200, `/hook/gone` 410, `/hook/slow` sleeps 4 s.
struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = Arc::clone(&state);
        let addr = runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/hook/{name}",
                axum::routing::post(
                    move |axum::extract::Path(name): axum::extract::Path<String>,
                          headers: axum::http::HeaderMap,
                          body: axum::body::Bytes| {
                        let state = Arc::clone(&shared);
                        async move { receive(state, name, headers, body).await }
                    },
                ),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            addr
        });
        Receiver {
            addr,
            state,
            _runtime: runtime,
        }
    }

    fn url(&self, hook: &str) -> String {
        format!("http://{}/hook/{hook}", self.addr)
    }

    fn trust(&self, hook: &str, secret: &str) {
        let secret = mlvet_webhooks::Secret::parse(secret).expect("whsec_ secret");
        self.lock().secrets.insert(hook.to_string(), secret);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReceiverState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn received(&self, hook: &str) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.hook == hook)
            .cloned()
            .collect()
    }

    /// Waits until `hook` received a message for which `wanted` holds; returns it.
    fn wait_for(
        &self,
        hook: &str,
        within: Duration,
        wanted: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.received(hook).into_iter().find(|r| wanted(r)) {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn receive(
    state: Arc<Mutex<ReceiverState>>,
    name: String,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if name == "slow" {
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let verified = state.secrets.get(&name).is_some_and(|secret| {
        mlvet_webhooks::verify(secret, &id, &timestamp, &signature, &body, now, 300).is_ok()
    });
    let answered = match name.as_str() {
        "gone" => 410,
        "flaky" if !state.failed_once.contains(&id) => {
            state.failed_once.push(id.clone());
            503
        }
        _ => 200,
    };
    state.received.push(Received {
        hook: name,
        id,
        verified,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        answered,
        at: Instant::now(),
    });
    axum::http::StatusCode::from_u16(answered).unwrap_or(axum::http::StatusCode::OK)
}

/// An OSV record for a package of the test's inventory.
fn record(id: &str, package: &str, modified: &str, severity: &str, withdrawn: bool) -> Vec<u8> {
    let mut record = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "published": "2026-01-01T00:00:00Z",
        "summary": format!("{package} mishandles hostile input"),
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0.0"}]}],
        }],
        "database_specific": {"severity": severity},
    });
    if withdrawn {
        record["withdrawn"] = json!(modified);
    }
    record.to_string().into_bytes()
}

/// `mlvet db import` of one record into the server's data directory; returns the generation.
fn import(server: &Server, name: &str, bytes: &[u8]) -> u64 {
    let mut db = mlvet_db::Database::open_or_create(server.data.path()).expect("advisory db");
    let stats = db
        .import_bytes(name, bytes, &mlvet_db::NoProgress)
        .expect("import");
    stats.generation.expect("the import changed the database")
}

fn start(postgres: Option<&str>) -> Server {
    Server::start(postgres, |config| {
        config.monitor.allow_private_webhooks = true;
        config.monitor.webhook_timeout = Duration::from_secs(1);
        config.monitor.poll = Duration::from_millis(200);
    })
}

fn create_hook(
    server: &Server,
    token: &str,
    receiver: &Receiver,
    hook: &str,
    filters: Value,
) -> i64 {
    let mut body = json!({"url": receiver.url(hook), "events": ["*"]});
    if let (Value::Object(body), Value::Object(filters)) = (&mut body, filters) {
        body.extend(filters);
    }
    let answer = server.json("POST", "/api/v1/webhooks", token, &body);
    assert_eq!(answer.status, 201, "{}", answer.text);
    let secret = answer.body["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.trust(hook, secret);
    // Never shown again.
    let id = answer.body["id"].as_i64().expect("id");
    let again = server.get(&format!("/api/v1/webhooks/{id}"), token);
    assert_eq!(again.status, 200);
    assert!(again.body.get("secret").is_none(), "{}", again.text);
    assert!(!again.text.contains(secret));
    id
}

fn finding_event<'a>(
    received: &'a [Received],
    event_type: &str,
    advisory: &str,
) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| {
            r.body["type"] == event_type && r.body["data"]["finding"]["advisory"]["id"] == advisory
        })
        .collect()
}

fn matched_generation(server: &Server, token: &str, project: i64) -> u64 {
    server
        .get(&format!("/api/v1/projects/{project}"), token)
        .body["monitor"]["matched_generation"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn advisories_and_uploads_notify_through_signed_webhooks() {
    for postgres in backends() {
        let receiver = Receiver::start();
        let server = start(postgres.as_deref());
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let project = server.create_project(&admin, "service");
        let other = server.create_project(&admin, "elsewhere");
        create_hook(&server, &admin, &receiver, "ok", json!({}));
        // Only high and above, only the other project: receives none of the below.
        create_hook(
            &server,
            &admin,
            &receiver,
            "filtered",
            json!({"min_severity": "high", "projects": [other], "events": ["finding.created"]}),
        );

        // 1. An upload: inventory.processed and finding.created (cause inventory).
        let lock = "torch==1.12.0\nmlvet-demo-lib==1.0.0\nmlvet-quiet-lib==2.0.0\n";
        let job = server.upload(&admin, project, "requirements.txt", lock.as_bytes());
        assert_eq!(job["state"], "succeeded", "{job:#}");
        let processed = receiver
            .wait_for("ok", Duration::from_secs(10), |r| {
                r.body["type"] == "inventory.processed"
            })
            .expect("inventory.processed delivered");
        assert_eq!(
            processed.body["data"]["project"],
            json!({"id": project, "name": "service"})
        );
        assert_eq!(processed.body["data"]["inventory"]["packages"], 3);
        let created = receiver
            .wait_for("ok", Duration::from_secs(10), |r| {
                r.body["type"] == "finding.created"
                    && r.body["data"]["finding"]["advisory"]["id"] == "PYSEC-2022-43015"
            })
            .expect("finding.created for torch");
        assert_eq!(created.body["data"]["cause"], "inventory");
        // The finding is exactly what the API shows.
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
        let shown = findings.body["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == created.body["data"]["finding"]["id"])
            .expect("the event's finding is listed")
            .clone();
        assert_eq!(created.body["data"]["finding"], shown);
        assert_eq!(shown["state"], "open");
        assert_eq!(shown["package"]["name"], "torch");

        // 2. A new advisory hitting the inventory: finding.created (cause advisory) in < 5 s.
        let started = Instant::now();
        import(
            &server,
            "MLVET-TEST-0001.json",
            &record(
                "MLVET-TEST-0001",
                "mlvet-demo-lib",
                "2026-01-01T00:00:00Z",
                "MODERATE",
                false,
            ),
        );
        let created = receiver
            .wait_for("ok", Duration::from_secs(5), |r| {
                r.body["type"] == "finding.created"
                    && r.body["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0001"
            })
            .expect("finding.created for the new advisory within 5 s");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(created.body["data"]["cause"], "advisory");
        assert_eq!(created.body["data"]["finding"]["severity"], "medium");
        assert_eq!(
            created.body["data"]["finding"]["package"]["source"]["file"],
            "requirements.txt"
        );
        assert_eq!(
            created.body["data"]["finding"]["rule"],
            "dependency-vulnerable"
        );
        receiver
            .wait_for("ok", Duration::from_secs(5), |r| {
                r.body["type"] == "advisories.updated"
                    && r.body["data"]["advisories"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|c| c["id"] == "MLVET-TEST-0001"))
            })
            .unwrap_or_else(|| {
                let seen: Vec<Value> = receiver
                    .received("ok")
                    .iter()
                    .map(|r| json!([r.body["type"], r.body["data"]["added"]]))
                    .collect();
                panic!("one advisories.updated summary: {seen:?}")
            });

        // 3. Another one, triaged: its later change never notifies.
        import(
            &server,
            "MLVET-TEST-0002.json",
            &record(
                "MLVET-TEST-0002",
                "mlvet-quiet-lib",
                "2026-01-01T00:00:00Z",
                "LOW",
                false,
            ),
        );
        let quiet = receiver
            .wait_for("ok", Duration::from_secs(5), |r| {
                r.body["type"] == "finding.created"
                    && r.body["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0002"
            })
            .expect("finding.created for the second advisory");
        let quiet_id = quiet.body["data"]["finding"]["id"].as_i64().expect("id");
        let triaged = server.json(
            "PATCH",
            &format!("/api/v1/findings/{quiet_id}"),
            &admin,
            &json!({"triage": "accepted_risk", "reason": "not reachable"}),
        );
        assert_eq!(triaged.status, 200, "{}", triaged.text);
        let generation = import(
            &server,
            "MLVET-TEST-0002.json",
            &record(
                "MLVET-TEST-0002",
                "mlvet-quiet-lib",
                "2026-01-02T00:00:00Z",
                "CRITICAL",
                false,
            ),
        );

        // 4. The first one's severity changes: finding.updated.
        import(
            &server,
            "MLVET-TEST-0001.json",
            &record(
                "MLVET-TEST-0001",
                "mlvet-demo-lib",
                "2026-01-02T00:00:00Z",
                "CRITICAL",
                false,
            ),
        );
        let updated = receiver
            .wait_for("ok", Duration::from_secs(5), |r| {
                r.body["type"] == "finding.updated"
                    && r.body["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0001"
            })
            .expect("finding.updated");
        assert_eq!(
            updated.body["data"]["changes"]["severity"],
            json!({"from": "medium", "to": "critical"})
        );
        assert_eq!(updated.body["data"]["finding"]["severity"], "critical");
        assert!(matched_generation(&server, &admin, project) >= generation);
        assert!(
            finding_event(
                &receiver.received("ok"),
                "finding.updated",
                "MLVET-TEST-0002"
            )
            .is_empty(),
            "a triaged finding never notifies"
        );
        // It was updated all the same, quietly.
        let quiet_now = server.get(&format!("/api/v1/findings/{quiet_id}"), &admin);
        assert_eq!(quiet_now.body["severity"], "critical");
        assert_eq!(quiet_now.body["state"], "suppressed");

        // 5. Withdrawn: finding.retracted.
        import(
            &server,
            "MLVET-TEST-0001.json",
            &record(
                "MLVET-TEST-0001",
                "mlvet-demo-lib",
                "2026-01-03T00:00:00Z",
                "CRITICAL",
                true,
            ),
        );
        let retracted = receiver
            .wait_for("ok", Duration::from_secs(5), |r| {
                r.body["type"] == "finding.retracted"
                    && r.body["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0001"
            })
            .expect("finding.retracted");
        assert_eq!(retracted.body["data"]["finding"]["state"], "retracted");
        let listed = server.get(
            &format!("/api/v1/projects/{project}/findings?state=retracted"),
            &admin,
        );
        assert_eq!(
            listed.body["findings"].as_array().map(Vec::len),
            Some(1),
            "{}",
            listed.text
        );

        // 6. An upload without torch: finding.resolved.
        let lock = "mlvet-demo-lib==1.0.0\nmlvet-quiet-lib==2.0.0\n";
        server.upload(&admin, project, "requirements.txt", lock.as_bytes());
        let resolved = receiver
            .wait_for("ok", Duration::from_secs(10), |r| {
                r.body["type"] == "finding.resolved"
                    && r.body["data"]["finding"]["advisory"]["id"] == "PYSEC-2022-43015"
            })
            .expect("finding.resolved");
        assert_eq!(resolved.body["data"]["cause"], "inventory");

        // 7. An upload that cannot be read: inventory.failed.
        server.upload(&admin, project, "notes.txt", b"hello");
        receiver
            .wait_for("ok", Duration::from_secs(10), |r| {
                r.body["type"] == "inventory.failed"
            })
            .expect("inventory.failed");

        // Every delivery was signed with the endpoint's secret; each event delivered once.
        let all = receiver.received("ok");
        assert!(all.iter().all(|r| r.verified), "unverified deliveries");
        let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "an event was delivered twice");
        for kind in [
            "finding.created",
            "finding.updated",
            "finding.retracted",
            "finding.resolved",
        ] {
            for event in all.iter().filter(|r| r.body["type"] == kind) {
                assert_eq!(event.body["data"]["project"]["id"], project, "{kind}");
                assert!(event.body["data"]["finding"]["id"].is_i64(), "{kind}");
            }
        }
        // The filtered endpoint got nothing: wrong project, and nothing else matched.
        assert!(receiver.received("filtered").is_empty());

        // The activity feed lists the same events, newest first.
        let feed = server.get(&format!("/api/v1/projects/{project}/events"), &admin);
        assert_eq!(feed.status, 200, "{}", feed.text);
        let types: Vec<&str> = feed.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(types.first(), Some(&"inventory.failed"), "{types:?}");
        for kind in [
            "inventory.processed",
            "finding.created",
            "finding.updated",
            "finding.retracted",
            "finding.resolved",
        ] {
            assert!(types.contains(&kind), "{kind} in {types:?}");
        }
        let delivered = feed.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "finding.updated")
            .count();
        assert_eq!(
            delivered, 1,
            "exactly one finding.updated (the triaged one is silent)"
        );
        // Another team sees neither the feed nor the webhooks.
        let blue = server.token("blue", Role::Admin);
        assert_eq!(
            server
                .get(&format!("/api/v1/projects/{project}/events"), &blue)
                .status,
            404
        );
        assert_eq!(
            server.get("/api/v1/webhooks", &blue).body["webhooks"],
            json!([])
        );
    }
}

#[test]
fn failing_gone_and_slow_receivers() {
    for postgres in backends() {
        let receiver = Receiver::start();
        let server = start(postgres.as_deref());
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let project = server.create_project(&admin, "service");
        let events = json!({"events": ["inventory.processed"]});
        let flaky = create_hook(&server, &admin, &receiver, "flaky", events.clone());
        let gone = create_hook(&server, &admin, &receiver, "gone", events.clone());
        let slow = create_hook(&server, &admin, &receiver, "slow", events.clone());
        create_hook(&server, &admin, &receiver, "ok", events.clone());
        let started = Instant::now();
        server.upload(&admin, project, "requirements.txt", b"torch==1.12.0\n");

        // A slow receiver does not hold up the others.
        receiver
            .wait_for("ok", Duration::from_secs(3), |_| true)
            .expect("the healthy endpoint is served while the slow one hangs");
        assert!(started.elapsed() < Duration::from_secs(4));

        // Fails, then recovers: the retry carries the same webhook-id.
        let first = receiver
            .wait_for("flaky", Duration::from_secs(5), |r| r.answered == 503)
            .expect("first attempt");
        let second = receiver
            .wait_for("flaky", Duration::from_secs(15), |r| r.answered == 200)
            .expect("the retry after the failure");
        assert_eq!(first.id, second.id, "webhook-id is stable across retries");
        assert_eq!(first.body, second.body, "the same body on every attempt");
        wait_until(Duration::from_secs(5), || {
            server
                .get(&format!("/api/v1/webhooks/{flaky}/deliveries"), &admin)
                .body["deliveries"][0]["state"]
                == "delivered"
        });
        let log = server.get(&format!("/api/v1/webhooks/{flaky}/deliveries"), &admin);
        let delivery = &log.body["deliveries"][0];
        assert_eq!(delivery["attempts"], 2, "{}", log.text);
        assert_eq!(delivery["last_status"], 200, "{}", log.text);

        // 410 disables the endpoint, visibly.
        receiver
            .wait_for("gone", Duration::from_secs(5), |_| true)
            .expect("one attempt");
        wait_until(Duration::from_secs(5), || {
            server.get(&format!("/api/v1/webhooks/{gone}"), &admin).body["disabled"] == true
        });
        let hook = server.get(&format!("/api/v1/webhooks/{gone}"), &admin);
        assert!(
            hook.body["disabled_reason"]
                .as_str()
                .is_some_and(|r| r.contains("410")),
            "{}",
            hook.text
        );
        let log = server.get(&format!("/api/v1/webhooks/{gone}/deliveries"), &admin);
        assert_eq!(log.body["deliveries"][0]["state"], "failed");
        assert_eq!(log.body["deliveries"][0]["last_status"], 410);
        let replay_id = log.body["deliveries"][0]["id"].as_i64().expect("id");
        let replay = server.call(
            "POST",
            &format!("/api/v1/webhooks/{gone}/deliveries/{replay_id}/replay"),
            Some(&admin),
            None,
            &[],
        );
        assert_eq!(replay.status, 409, "a disabled endpoint is not replayed");

        // The slow one timed out (bounded by the client timeout) and is retried later.
        wait_until(Duration::from_secs(5), || {
            server
                .get(&format!("/api/v1/webhooks/{slow}/deliveries"), &admin)
                .body["deliveries"][0]["attempts"]
                == 1
        });
        let log = server.get(&format!("/api/v1/webhooks/{slow}/deliveries"), &admin);
        assert_eq!(
            log.body["deliveries"][0]["state"], "pending",
            "{}",
            log.text
        );
        assert!(
            log.body["deliveries"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("timed out")),
            "{}",
            log.text
        );

        // Replay of a delivered message: the same webhook-id again.
        let log = server.get(&format!("/api/v1/webhooks/{flaky}/deliveries"), &admin);
        let id = log.body["deliveries"][0]["id"].as_i64().expect("id");
        let replay = server.call(
            "POST",
            &format!("/api/v1/webhooks/{flaky}/deliveries/{id}/replay"),
            Some(&admin),
            None,
            &[],
        );
        assert_eq!(replay.status, 202, "{}", replay.text);
        let count = |r: &Receiver| {
            r.received("flaky")
                .iter()
                .filter(|x| x.id == first.id)
                .count()
        };
        wait_until(Duration::from_secs(5), || count(&receiver) == 3);
        assert!(receiver.received("flaky").iter().all(|r| r.verified));
    }
}

/// The per-endpoint limits are the service's settings: at 1 request per second, one at a time,
/// six events to one endpoint arrive at least ~1 s apart (the defaults would send them at
/// once), all of them signed and none lost.
#[test]
fn a_low_endpoint_rate_is_honoured() {
    for postgres in backends() {
        let receiver = Receiver::start();
        let server = Server::start(postgres.as_deref(), |config| {
            config.monitor.allow_private_webhooks = true;
            config.monitor.webhook_timeout = Duration::from_secs(1);
            config.monitor.poll = Duration::from_millis(200);
            config.monitor.webhook_max_in_flight = 1;
            config.monitor.webhook_rate_per_second = 1;
            config.monitor.webhook_burst = 1;
        });
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let events = json!({"events": ["inventory.processed"]});
        create_hook(&server, &admin, &receiver, "ok", events);
        for n in 0..6 {
            let project = server.create_project(&admin, &format!("p{n}"));
            server.upload(&admin, project, "requirements.txt", b"torch==1.12.0\n");
        }
        wait_until(Duration::from_secs(20), || {
            receiver.received("ok").len() >= 6
        });
        let mut times: Vec<Instant> = receiver.received("ok").iter().map(|r| r.at).collect();
        times.sort();
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_millis(800), "sent {gap:?} apart");
        }
        assert_eq!(times.len(), 6, "each event once");
        assert!(receiver.received("ok").iter().all(|r| r.verified));
    }
}

fn wait_until(within: Duration, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn private_destinations_are_refused_without_the_flag() {
    for postgres in backends() {
        let receiver = Receiver::start();
        let server = Server::start(postgres.as_deref(), |_| {});
        let admin = server.token("red", Role::Admin);
        for url in [
            receiver.url("ok"),
            "http://localhost:9/x".to_string(),
            "http://169.254.169.254/latest".to_string(),
        ] {
            let answer = server.json(
                "POST",
                "/api/v1/webhooks",
                &admin,
                &json!({"url": url, "events": ["*"]}),
            );
            assert_eq!(answer.status, 400, "{url}: {}", answer.text);
            assert!(
                answer.text.contains("allow-private-webhooks"),
                "{}",
                answer.text
            );
        }
        // Bad subscriptions are refused too.
        for body in [
            json!({"url": "ftp://hooks.example.com/", "events": ["*"]}),
            json!({"url": "https://hooks.example.com/", "events": ["finding.deleted"]}),
            json!({"url": "https://hooks.example.com/", "events": []}),
            json!({"url": "https://hooks.example.com/", "events": ["*"], "min_severity": "urgent"}),
        ] {
            let answer = server.json("POST", "/api/v1/webhooks", &admin, &body);
            assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        }
        // A project the team does not have is not found, as everywhere in the API.
        let body =
            json!({"url": "https://hooks.example.com/", "events": ["*"], "projects": [424242]});
        let answer = server.json("POST", "/api/v1/webhooks", &admin, &body);
        assert_eq!(answer.status, 404, "{body}: {}", answer.text);
        // A name that resolves to loopback is refused when the attempt is made: written to the
        // store directly (the API would refuse the literal address), it fails, never delivered.
        let team = server.app.store.ensure_team("red").expect("team");
        let secret = mlvet_webhooks::Secret::generate().expect("secret").expose();
        let hook = server
            .app
            .store
            .create_webhook(&mlvet_store::monitor::NewWebhook {
                team_id: team.id,
                url: &receiver.url("ok"),
                events: r#"["inventory.processed"]"#,
                min_severity: None,
                projects: None,
                secret: &secret,
                created_by: "test",
            })
            .expect("webhook");
        let project = server.create_project(&admin, "p");
        server.upload(&admin, project, "requirements.txt", b"numpy==1.26.0\n");
        wait_until(Duration::from_secs(10), || {
            server
                .get(&format!("/api/v1/webhooks/{}/deliveries", hook.id), &admin)
                .body["deliveries"][0]["state"]
                == "failed"
        });
        let log = server.get(&format!("/api/v1/webhooks/{}/deliveries", hook.id), &admin);
        assert!(
            log.body["deliveries"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("refused") || e.contains("loopback")),
            "{}",
            log.text
        );
        assert!(
            receiver.received("ok").is_empty(),
            "nothing reached the private address"
        );
    }
}

/// A loopback OSV export (`<base>/PyPI/all.zip`, `modified_id.csv`, `<ID>.json`) whose content
/// the test changes.
struct Export {
    addr: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Export {
    fn start() -> Export {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (served, logged) = (Arc::clone(&files), Arc::clone(&requests));
        let addr = runtime.block_on(async move {
            let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let (files, requests) = (Arc::clone(&served), Arc::clone(&logged));
                async move {
                    let path = uri.path().to_string();
                    requests
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(path.clone());
                    match files.lock().unwrap_or_else(|e| e.into_inner()).get(&path) {
                        Some(bytes) => (axum::http::StatusCode::OK, bytes.clone()),
                        None => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                    }
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            addr
        });
        Export {
            addr,
            files,
            requests,
            _runtime: runtime,
        }
    }

    fn serve(&self, path: &str, bytes: Vec<u8>) {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), bytes);
    }
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, contents) in entries {
            writer.start_file(*name, options).expect("zip entry");
            writer.write_all(contents).expect("zip write");
        }
        writer.finish().expect("zip finish");
    }
    buffer.into_inner()
}

#[test]
fn the_scheduled_update_reaches_webhooks() {
    for postgres in backends() {
        let export = Export::start();
        let old = record(
            "MLVET-TEST-0010",
            "mlvet-other-lib",
            "2026-01-01T00:00:00Z",
            "LOW",
            false,
        );
        export.serve("/PyPI/all.zip", zip_of(&[("MLVET-TEST-0010.json", &old)]));
        export.serve(
            "/PyPI/modified_id.csv",
            b"2026-01-01T00:00:00Z,MLVET-TEST-0010\n".to_vec(),
        );
        let receiver = Receiver::start();
        let base = format!("http://{}", export.addr);
        let server = Server::start(postgres.as_deref(), |config| {
            config.monitor.allow_private_webhooks = true;
            config.monitor.poll = Duration::from_millis(200);
            config.monitor.update_every = Some(Duration::from_secs(1));
            config.monitor.osv_url = Some(base);
        });
        let admin = server.token("red", Role::Admin);
        let project = server.create_project(&admin, "service");
        create_hook(
            &server,
            &admin,
            &receiver,
            "ok",
            json!({"events": ["finding.created"]}),
        );
        // The first update runs one interval after start: a full sync of all.zip.
        wait_until(Duration::from_secs(10), || {
            mlvet_db::Database::open(server.data.path())
                .ok()
                .flatten()
                .is_some_and(|db| db.current_generation().unwrap_or(0) >= 1)
        });
        server.upload(
            &admin,
            project,
            "requirements.txt",
            b"mlvet-demo-lib==1.0.0\n",
        );
        assert!(receiver.received("ok").is_empty());
        // Upstream publishes a new advisory: the next scheduled update fetches it (only it),
        // and the watcher notifies.
        let new = record(
            "MLVET-TEST-0011",
            "mlvet-demo-lib",
            "2026-02-01T00:00:00Z",
            "HIGH",
            false,
        );
        export.serve("/PyPI/MLVET-TEST-0011.json", new);
        export.serve(
            "/PyPI/modified_id.csv",
            b"2026-02-01T00:00:00Z,MLVET-TEST-0011\n2026-01-01T00:00:00Z,MLVET-TEST-0010\n"
                .to_vec(),
        );
        let created = receiver
            .wait_for("ok", Duration::from_secs(10), |r| {
                r.body["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0011"
            })
            .expect("the scheduled update's advisory is notified");
        assert_eq!(created.body["data"]["cause"], "advisory");
        assert!(created.verified);
        let requests = export
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        assert_eq!(
            requests.first().map(String::as_str),
            Some("/PyPI/all.zip"),
            "{requests:?}"
        );
        assert!(
            requests.iter().any(|r| r == "/PyPI/MLVET-TEST-0011.json"),
            "{requests:?}"
        );
    }
}

/// The finding events of a project must follow the lifecycle: `created` only when the finding
/// is new or closed, `updated`/`resolved`/`retracted` only while it is open. An upload racing
/// a delta (or two processes claiming the same range) would break it by emitting twice.
fn check_lifecycle(events: &[mlvet_store::monitor::EventRecord]) {
    let mut open: HashMap<i64, bool> = HashMap::new();
    for event in events {
        let data: Value = serde_json::from_str(&event.data).expect("event data");
        let Some(id) = data["finding"]["id"].as_i64() else {
            continue;
        };
        let was_open = open.get(&id).copied().unwrap_or(false);
        match event.event_type.as_str() {
            "finding.created" => {
                assert!(!was_open, "finding {id} created twice: {events:#?}");
                open.insert(id, true);
            }
            "finding.updated" => assert!(was_open, "finding {id} updated while closed"),
            "finding.resolved" | "finding.retracted" => {
                assert!(was_open, "finding {id} closed twice");
                open.insert(id, false);
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn uploads_racing_deltas_and_two_watchers_never_emit_twice() {
    for postgres in backends() {
        let server = start(postgres.as_deref());
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let project = server.create_project(&admin, "raced");
        // A second "process": its own store connection and watcher on the same data.
        let location = match &server.app.config.database {
            Some(url) => mlvet_store::Location::Postgres {
                url: url.clone(),
                schema: None,
            },
            None => {
                mlvet_store::Location::Sqlite(server.data.path().join(mlvet_store::SQLITE_FILE))
            }
        };
        let other = mlvet_store::Store::open(&location).expect("second store");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::scope(|scope| {
            let data_dir = server.data.path();
            let watcher = scope.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    mlvet_server::monitor::watch_once(&other, data_dir, "other-process")
                        .expect("second watcher");
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let importer = scope.spawn(|| {
                for round in 0..8u32 {
                    let modified = format!("2026-01-{:02}T00:00:00Z", round + 1);
                    let severity = ["MODERATE", "HIGH", "CRITICAL", "LOW"][round as usize % 4];
                    import(
                        &server,
                        "MLVET-TEST-0100.json",
                        &record(
                            "MLVET-TEST-0100",
                            "mlvet-demo-lib",
                            &modified,
                            severity,
                            round % 3 == 2,
                        ),
                    );
                    std::thread::sleep(Duration::from_millis(35));
                }
            });
            for round in 0..8 {
                let lock = if round % 2 == 0 {
                    "mlvet-demo-lib==1.0.0\ntorch==1.12.0\n"
                } else {
                    "torch==1.12.0\n"
                };
                let job = server.upload(&admin, project, "requirements.txt", lock.as_bytes());
                assert_eq!(job["state"], "succeeded", "{job:#}");
            }
            importer.join().expect("importer");
            // Quiescent: both watchers caught up with the last generation.
            let last = mlvet_db::Database::open(data_dir)
                .expect("db")
                .expect("db")
                .current_generation()
                .expect("generation");
            wait_until(Duration::from_secs(10), || {
                matched_generation(&server, &admin, project) >= last
            });
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            watcher.join().expect("watcher");
        });
        let team = server.app.store.ensure_team("red").expect("team");
        let events = server
            .app
            .store
            .team_events(team.id, 0, 10_000)
            .expect("events");
        let project_events: Vec<_> = events
            .iter()
            .filter(|e| e.project_id == Some(project) && e.event_type.starts_with("finding."))
            .cloned()
            .collect();
        assert!(!project_events.is_empty());
        check_lifecycle(&project_events);
        // Each generation range was summarised once, whichever process claimed it.
        let mut ranges: Vec<(i64, i64)> = events
            .iter()
            .filter(|e| e.event_type == "advisories.updated")
            .map(|e| {
                let data: Value = serde_json::from_str(&e.data).expect("data");
                (
                    data["from_generation"].as_i64().expect("from"),
                    data["generation"].as_i64().expect("to"),
                )
            })
            .collect();
        let count = ranges.len();
        ranges.sort_unstable();
        ranges.dedup();
        assert_eq!(ranges.len(), count, "a range was processed twice");
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "ranges are contiguous: {ranges:?}");
        }
        // The final state agrees with a fresh match: the last upload has no mlvet-demo-lib, so
        // its finding is closed, and torch's is open. Which closed state depends on the
        // interleaving: a withdrawal that landed while the package was still present retracts
        // it, and a later re-publication cannot reopen a package the inventory no longer has.
        let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
        for finding in findings.body["findings"].as_array().expect("findings") {
            let state = finding["state"].as_str().unwrap_or_default();
            if finding["package"]["name"] == "torch" {
                assert_eq!(state, "open", "{finding:#}");
            } else {
                assert!(
                    state == "resolved" || state == "retracted",
                    "a package the inventory no longer has must be closed: {finding:#}"
                );
            }
        }
    }
}

/// Uploads reuse the matches of earlier uploads while the advisory database is unchanged (the
/// process's match cache); a new generation must be seen by the very next upload, added and
/// withdrawn alike.
#[test]
fn uploads_after_an_import_see_the_new_generation_not_a_cached_match() {
    for postgres in backends() {
        let server = start(postgres.as_deref());
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let lock = b"mlvet-cache-lib==1.0.0\ntorch==1.12.0\n";
        let advisories = |project: i64| -> Vec<String> {
            let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
            let mut ids: Vec<String> = findings.body["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|f| f["state"] == "open")
                .filter_map(|f| f["advisory"]["id"].as_str().map(str::to_string))
                .collect();
            ids.sort();
            ids
        };
        let upload = |name: &str| -> i64 {
            let project = server.create_project(&admin, name);
            let job = server.upload(&admin, project, "requirements.txt", lock);
            assert_eq!(job["state"], "succeeded", "{job:#}");
            project
        };
        let first = upload("before");
        assert!(advisories(first).contains(&"PYSEC-2022-43015".to_string()));
        assert!(!advisories(first).iter().any(|id| id == "MLVET-TEST-CACHE"));

        let cache_record = |withdrawn| {
            record(
                "MLVET-TEST-CACHE",
                "mlvet-cache-lib",
                if withdrawn {
                    "2026-02-01T00:00:00Z"
                } else {
                    "2026-01-01T00:00:00Z"
                },
                "HIGH",
                withdrawn,
            )
        };
        import(&server, "MLVET-TEST-CACHE.json", &cache_record(false));
        let second = upload("after-import");
        assert!(
            advisories(second).contains(&"MLVET-TEST-CACHE".to_string()),
            "{:?}",
            advisories(second)
        );

        import(
            &server,
            "MLVET-TEST-CACHE-withdrawn.json",
            &cache_record(true),
        );
        let third = upload("after-withdrawal");
        assert!(
            !advisories(third).iter().any(|id| id == "MLVET-TEST-CACHE"),
            "{:?}",
            advisories(third)
        );
        // The unchanged advisory is still matched from the same inventory.
        assert!(advisories(third).contains(&"PYSEC-2022-43015".to_string()));
    }
}

/// A delta that reaches more projects than one transaction reconciles: the batches (side by
/// side on PostgreSQL) give every affected project its finding and exactly one
/// `finding.created`, none to the projects on a fixed version, one summary for the range.
#[test]
fn a_delta_fanned_out_in_many_batches_notifies_every_project_once() {
    const AFFECTED: usize = 57;
    const FIXED: usize = 6;
    for postgres in backends() {
        let server = start(postgres.as_deref());
        import_advisories(server.data.path());
        let admin = server.token("red", Role::Admin);
        let mut affected = Vec::new();
        let mut fixed = Vec::new();
        for index in 0..AFFECTED + FIXED {
            let project = server.create_project(&admin, &format!("fleet-{index:02}"));
            let version = if index < AFFECTED { "1.0.0" } else { "9.5.0" };
            let lock = format!("mlvet-fanout-lib=={version}\ntorch==1.12.0\n");
            let job = server.upload(&admin, project, "requirements.txt", lock.as_bytes());
            assert_eq!(job["state"], "succeeded", "{job:#}");
            if index < AFFECTED {
                affected.push(project);
            } else {
                fixed.push(project);
            }
        }
        let generation = import(
            &server,
            "MLVET-TEST-FANOUT.json",
            &record(
                "MLVET-TEST-FANOUT",
                "mlvet-fanout-lib",
                "2026-03-01T00:00:00Z",
                "HIGH",
                false,
            ),
        );
        wait_until(Duration::from_secs(30), || {
            affected
                .iter()
                .chain(&fixed)
                .all(|p| matched_generation(&server, &admin, *p) >= generation)
        });
        let team = server.app.store.ensure_team("red").expect("team");
        let events = server
            .app
            .store
            .team_events(team.id, 0, 100_000)
            .expect("events");
        let created: Vec<i64> = events
            .iter()
            .filter(|e| e.event_type == "finding.created")
            .filter(|e| e.data.contains("MLVET-TEST-FANOUT"))
            .filter_map(|e| e.project_id)
            .collect();
        let mut sorted = created.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), created.len(), "a project was notified twice");
        assert_eq!(sorted, affected);
        for project in &affected {
            let findings = server.get(&format!("/api/v1/projects/{project}/findings"), &admin);
            assert!(
                findings.text.contains("MLVET-TEST-FANOUT"),
                "project {project}: {}",
                findings.text
            );
        }
        let summaries: Vec<Value> = events
            .iter()
            .filter(|e| e.event_type == "advisories.updated")
            .map(|e| serde_json::from_str(&e.data).expect("data"))
            .filter(|data: &Value| data["generation"] == json!(generation))
            .collect();
        assert_eq!(summaries.len(), 1, "{summaries:?}");
        assert_eq!(summaries[0]["projects_affected"], json!(AFFECTED));
    }
}
