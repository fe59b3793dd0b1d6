//! Connection-level limits over raw TCP: a client that sends its headers slowly (slowloris) is
//! cut after the header timeout, and connections beyond the cap wait until one closes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes or `limit` passes; returns what arrived and whether it closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return (received, true),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (received, true),
        }
    }
    (received, false)
}

fn healthz(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_client_dribbling_its_headers_is_cut_after_the_header_timeout() {
    let server = Server::start(None, |config| config.limits.header_timeout_seconds = 1);
    let addr = addr(&server);
    let mut slow = TcpStream::connect(&addr).expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").expect("write");
    // One header line every 200 ms, for at most 6 s: a server without a header timeout would
    // wait for all of them (and for ever, were the client patient).
    let mut cut = false;
    for index in 0..30 {
        std::thread::sleep(Duration::from_millis(200));
        if slow
            .write_all(format!("X-Slow-{index}: a\r\n").as_bytes())
            .is_err()
        {
            cut = true;
            break;
        }
        let (_, closed) = read_until_closed(&mut slow, Duration::from_millis(1));
        if closed {
            cut = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(cut, "the slow client was never disconnected");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "cut after {elapsed:?}, the header timeout is 1 s"
    );
    // A client that sends its request at once is served as usual.
    assert!(healthz(&addr).starts_with("HTTP/1.1 200"));
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = Server::start(None, |config| {
        config.limits.max_connections = 2;
        config.limits.header_timeout_seconds = 30;
    });
    let addr = addr(&server);
    let first = TcpStream::connect(&addr).expect("connect");
    let second = TcpStream::connect(&addr).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    // The third connection completes in the kernel's backlog, but is not served...
    let mut third = TcpStream::connect(&addr).expect("connect");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (early, _) = read_until_closed(&mut third, Duration::from_millis(800));
    assert!(early.is_empty(), "served beyond the cap: {early:?}");
    // ...until one of the two open connections closes.
    drop(first);
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(5));
    assert!(closed);
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(second);
}

#[test]
fn the_limits_are_validated() {
    let data = tempfile::tempdir().expect("tempdir");
    for configure in [
        (|l: &mut mlvet_server::Limits| l.header_timeout_seconds = 0) as fn(&mut _),
        |l: &mut mlvet_server::Limits| l.max_connections = 0,
    ] {
        let mut config = mlvet_server::ServerConfig::for_data_dir(data.path());
        configure(&mut config.limits);
        assert!(config.validate().is_err());
    }
}
