//! Deliveries against loopback receivers: signed headers, a receiver failing then recovering
//! (same webhook-id), 410, a slow receiver, redirects not followed, Retry-After, private
//! destinations refused without the allow flag, and the per-endpoint concurrency limit.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlvet_webhooks::limits::{EndpointLimits, Limiter};
use mlvet_webhooks::{
    Deliverer, DeliveryConfig, Envelope, Message, Outcome, RetryPolicy, Secret, verify,
};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the receiver answers: status, extra headers, delay before answering.
type Answer = (u16, Vec<(String, String)>, Duration);
type Script = Arc<Mutex<Vec<Answer>>>;

/// A loopback HTTP receiver answering from a script (the last entry repeats) and recording
/// requests; it also tracks how many requests it handles at once.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    max_concurrent: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(script: Vec<Answer>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let script: Script = Arc::new(Mutex::new(script));
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let max_concurrent = Arc::new(AtomicUsize::new(0));
        let current = Arc::new(AtomicUsize::new(0));
        let (s, r, m) = (script.clone(), received.clone(), max_concurrent.clone());
        // Serves this test's requests until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (s, r, m, current) = (s.clone(), r.clone(), m.clone(), current.clone());
                std::thread::spawn(move || {
                    let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    handle(stream, &s, &r);
                    current.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Receiver {
            url,
            received,
            max_concurrent,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

fn handle(mut stream: std::net::TcpStream, script: &Script, received: &Mutex<Vec<Received>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) <= 2 {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, extra, delay) = {
        let mut script = script.lock().expect("script");
        if script.len() > 1 {
            script.remove(0)
        } else {
            script[0].clone()
        }
    };
    received
        .lock()
        .expect("lock")
        .push(Received { headers, body });
    std::thread::sleep(delay);
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n");
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\nok");
    let _ = stream.write_all(head.as_bytes());
}

fn answer(status: u16) -> Answer {
    (status, Vec::new(), Duration::ZERO)
}

fn allowing() -> Deliverer {
    Deliverer::new(DeliveryConfig {
        timeout: Duration::from_secs(5),
        allow_private: true,
        ..DeliveryConfig::default()
    })
}

fn body() -> Vec<u8> {
    Envelope::new(
        "finding.created",
        1_700_000_000,
        serde_json::json!({"project": {"id": "p1", "name": "demo"}, "finding": {"id": "f1"}}),
    )
    .to_body()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn a_receiver_that_fails_then_recovers_gets_the_same_id_signed_each_time() {
    let receiver = Receiver::start(vec![answer(500), answer(503), answer(200)]);
    let deliverer = allowing();
    let secret = Secret::generate().expect("secret");
    let body = body();
    let policy = RetryPolicy::default();
    let mut attempts = Vec::new();
    // The worker loop, without sleeping out the schedule: attempt, decide, attempt again.
    loop {
        let message = Message {
            id: "msg_stable",
            timestamp: now(),
            body: &body,
        };
        let attempt = deliverer.deliver(&receiver.url, &secret, &message);
        attempts.push(attempt.clone());
        match attempt.outcome {
            Outcome::Retry => {
                assert!(
                    policy
                        .next_delay(attempts.len(), attempt.retry_after, 0.5)
                        .is_some()
                );
            }
            other => {
                assert_eq!(other, Outcome::Delivered);
                break;
            }
        }
        assert!(attempts.len() < 5, "bounded");
    }
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.headers["webhook-id"], "msg_stable");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.body, body);
        assert_eq!(
            verify(
                &secret,
                &request.headers["webhook-id"],
                &request.headers["webhook-timestamp"],
                &request.headers["webhook-signature"],
                &request.body,
                now(),
                300
            ),
            Ok(())
        );
    }
}

#[test]
fn gone_disables_and_retry_after_is_honoured() {
    let receiver = Receiver::start(vec![answer(410)]);
    let secret = Secret::generate().expect("secret");
    let body = body();
    let message = Message {
        id: "msg_1",
        timestamp: now(),
        body: &body,
    };
    let attempt = allowing().deliver(&receiver.url, &secret, &message);
    assert_eq!(
        (attempt.outcome, attempt.status),
        (Outcome::Disable, Some(410))
    );

    let throttled = Receiver::start(vec![(
        429,
        vec![("Retry-After".to_string(), "120".to_string())],
        Duration::ZERO,
    )]);
    let attempt = allowing().deliver(&throttled.url, &secret, &message);
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.retry_after, Some(Duration::from_secs(120)));
    let next = RetryPolicy::default().next_delay(1, attempt.retry_after, 0.5);
    assert_eq!(next, Some(Duration::from_secs(120)));
}

#[test]
fn a_slow_receiver_times_out_and_is_retried() {
    let receiver = Receiver::start(vec![(200, Vec::new(), Duration::from_secs(3))]);
    let deliverer = Deliverer::new(DeliveryConfig {
        timeout: Duration::from_millis(500),
        allow_private: true,
        ..DeliveryConfig::default()
    });
    let secret = Secret::generate().expect("secret");
    let body = body();
    let started = Instant::now();
    let attempt = deliverer.deliver(
        &receiver.url,
        &secret,
        &Message {
            id: "msg_slow",
            timestamp: now(),
            body: &body,
        },
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.status, None);
    assert!(
        attempt
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{attempt:?}"
    );
}

#[test]
fn redirects_are_not_followed() {
    let target = Receiver::start(vec![answer(200)]);
    let redirecting = Receiver::start(vec![(
        302,
        vec![("Location".to_string(), target.url.clone())],
        Duration::ZERO,
    )]);
    let secret = Secret::generate().expect("secret");
    let body = body();
    let attempt = allowing().deliver(
        &redirecting.url,
        &secret,
        &Message {
            id: "msg_r",
            timestamp: now(),
            body: &body,
        },
    );
    assert_eq!(
        (attempt.outcome, attempt.status),
        (Outcome::Retry, Some(302))
    );
    assert!(
        target.received().is_empty(),
        "the redirect target was never contacted"
    );
}

#[test]
fn private_destinations_are_refused_without_the_allow_flag() {
    let receiver = Receiver::start(vec![answer(200)]);
    let guarded = Deliverer::new(DeliveryConfig {
        timeout: Duration::from_secs(2),
        ..DeliveryConfig::default()
    });
    let secret = Secret::generate().expect("secret");
    let body = body();
    let message = Message {
        id: "msg_p",
        timestamp: now(),
        body: &body,
    };
    let port = receiver
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook");
    for url in [
        receiver.url.clone(),
        // A name resolving to loopback is judged by the address, not the name.
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/hook".to_string(),
        "http://[fd00:ec2::254]/".to_string(),
    ] {
        let attempt = guarded.deliver(&url, &secret, &message);
        assert_eq!(attempt.outcome, Outcome::Refused, "{url}: {attempt:?}");
        assert!(
            attempt.error.as_deref().is_some_and(|e| e.contains("SSRF")),
            "{url}: {attempt:?}"
        );
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    for url in [
        "ftp://example.com/x",
        "http://user:pw@example.com/",
        "nonsense",
    ] {
        assert_eq!(
            guarded.deliver(url, &secret, &message).outcome,
            Outcome::Refused,
            "{url}"
        );
    }
    // With the flag (tests, on-premises receivers) the same destination is delivered to.
    assert_eq!(
        allowing().deliver(&receiver.url, &secret, &message).outcome,
        Outcome::Delivered
    );
}

#[test]
fn the_endpoint_limit_caps_requests_in_flight() {
    let receiver = Receiver::start(vec![(200, Vec::new(), Duration::from_millis(150))]);
    let deliverer = allowing();
    let limiter = Limiter::new(EndpointLimits {
        max_concurrent: 1,
        per_second: 1_000.0,
        burst: 100,
    });
    let secret = Secret::generate().expect("secret");
    let body = body();
    std::thread::scope(|scope| {
        for i in 0..4 {
            let (deliverer, limiter, secret, body, url) =
                (&deliverer, &limiter, &secret, &body, &receiver.url);
            scope.spawn(move || {
                let _permit = limiter
                    .acquire("endpoint-1", Duration::from_secs(10))
                    .expect("permit");
                let id = format!("msg_{i}");
                let attempt = deliverer.deliver(
                    url,
                    secret,
                    &Message {
                        id: &id,
                        timestamp: now(),
                        body,
                    },
                );
                assert_eq!(attempt.outcome, Outcome::Delivered);
            });
        }
    });
    assert_eq!(receiver.received().len(), 4);
    assert_eq!(receiver.max_concurrent.load(Ordering::SeqCst), 1);
}
