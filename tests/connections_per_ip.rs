//! `ServerConfig::max_connections_per_ip` and `trust_proxy` over real
//! sockets: connections from one address that stall in their opening
//! request (a slowloris) hold the address's share, one more is answered
//! 429 with `Retry-After`, and one beyond twice the share is closed
//! unanswered; a trusted proxy's `X-Forwarded-For` counts its clients
//! apart, and an untrusted one's changes nothing.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws6455::ServerConfig;
use ws6455::server::Echo;

/// The start of an opening request, never finished: a slowloris.
const STALLED_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n";

/// An echo server allowing `max` connections per address.
fn start_limited(max: usize, trust_proxy: bool) -> SocketAddr {
    let config = ServerConfig::default()
        .max_connections_per_ip(Some(max))
        .trust_proxy(trust_proxy);
    start_server(config, Echo)
}

/// A connection that sends the start of a request and then nothing.
fn stall(addr: SocketAddr) -> TcpStream {
    let mut stream = connect_raw(addr);
    stream.write_all(STALLED_REQUEST).unwrap();
    stream
}

/// A valid opening request for `addr` carrying `X-Forwarded-For: forwarded`.
fn forwarded_request(addr: SocketAddr, forwarded: &str) -> String {
    let request = upgrade_request(addr);
    let head = request.strip_suffix("\r\n").unwrap();
    format!("{head}X-Forwarded-For: {forwarded}\r\n\r\n")
}

/// Sends `request` on a new connection; the head of the answer, and the
/// connection (kept open by the caller while it counts).
fn open_with(addr: SocketAddr, request: &str) -> (String, TcpStream) {
    let mut stream = connect_raw(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    (head, stream)
}

#[test]
fn slowloris_connections_hold_the_limit_and_one_more_gets_429_with_retry_after() {
    let addr = start_limited(3, false);
    let stalled: Vec<TcpStream> = (0..3).map(|_| stall(addr)).collect();
    let answer = http_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nRetry-After: 1\r\n"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\ntoo many connections from your address; try again later\n"),
        "{answer}"
    );
    drop(stalled);
}

#[test]
fn when_one_of_the_connections_goes_away_a_new_one_is_admitted() {
    let addr = start_limited(2, false);
    let mut stalled: Vec<TcpStream> = (0..2).map(|_| stall(addr)).collect();
    let (refused, _) = open_with(addr, &upgrade_request(addr));
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    drop(stalled.pop());
    // The server gives the place back when the connection's thread has
    // seen the end of it (and the refused one's).
    let deadline = Instant::now() + Duration::from_secs(5);
    let (admitted, _kept) = loop {
        let (head, stream) = open_with(addr, &upgrade_request(addr));
        if head.starts_with("HTTP/1.1 101 ") {
            break (head, stream);
        }
        assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
        assert!(Instant::now() < deadline, "still refused: {head}");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(admitted.contains(ACCEPT), "{admitted}");
    // With the new one, the address is at its limit again.
    let (refused, _) = open_with(addr, &upgrade_request(addr));
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
}

#[test]
fn beyond_twice_the_limit_a_connection_is_closed_unanswered() {
    let addr = start_limited(2, false);
    // Two within the limit, two over it, all waiting in their requests.
    let stalled: Vec<TcpStream> = (0..4).map(|_| stall(addr)).collect();
    let mut fifth = connect_raw(addr);
    // The server may have closed it before this write, or reset it after.
    let _ = fifth.write_all(upgrade_request(addr).as_bytes());
    let mut answer = Vec::new();
    match fifth.read_to_end(&mut answer) {
        Ok(_) => assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer)),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
    drop(stalled);
}

#[test]
fn an_ipv6_client_is_held_to_the_limit_too() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        // No IPv6 loopback on this machine: nothing to test.
        return;
    };
    let config = ServerConfig::default().max_connections_per_ip(Some(1));
    let addr = ws6455::server::serve(listener, config, Echo)
        .unwrap()
        .local_addr();
    let _stalled = stall(addr);
    let answer = http_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
}

#[test]
fn behind_a_trusted_proxy_forwarded_clients_are_counted_apart() {
    let addr = start_limited(1, true);
    let (first, _first) = open_with(addr, &forwarded_request(addr, "192.0.2.1"));
    assert!(first.starts_with("HTTP/1.1 101 "), "{first}");
    let (other, _other) = open_with(addr, &forwarded_request(addr, "192.0.2.2"));
    assert!(other.starts_with("HTTP/1.1 101 "), "{other}");
    // The proxy appended the last entry; what the client claimed before it
    // proves nothing.
    let (again, _) = open_with(addr, &forwarded_request(addr, "10.9.9.9, 192.0.2.1"));
    assert!(again.starts_with("HTTP/1.1 429 "), "{again}");
    let (claimed, _claimed) = open_with(addr, &forwarded_request(addr, "192.0.2.1, 192.0.2.3"));
    assert!(claimed.starts_with("HTTP/1.1 101 "), "{claimed}");
    // Connections that bypass the proxy, or a malformed field, count as
    // the peer: 127.0.0.1.
    let (direct, _direct) = open_with(addr, &upgrade_request(addr));
    assert!(direct.starts_with("HTTP/1.1 101 "), "{direct}");
    let (malformed, _) = open_with(addr, &forwarded_request(addr, "unknown"));
    assert!(malformed.starts_with("HTTP/1.1 429 "), "{malformed}");
}

#[test]
fn behind_a_trusted_proxy_stalled_connections_are_not_counted_against_the_proxy() {
    let addr = start_limited(1, true);
    let _stalled: Vec<TcpStream> = (0..3).map(|_| stall(addr)).collect();
    let (head, _kept) = open_with(addr, &forwarded_request(addr, "192.0.2.1"));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
}

#[test]
fn without_trust_proxy_x_forwarded_for_changes_nothing() {
    let addr = start_limited(1, false);
    let (first, _first) = open_with(addr, &forwarded_request(addr, "192.0.2.1"));
    assert!(first.starts_with("HTTP/1.1 101 "), "{first}");
    let (other, _) = open_with(addr, &forwarded_request(addr, "192.0.2.2"));
    assert!(other.starts_with("HTTP/1.1 429 "), "{other}");
}

#[test]
fn without_a_limit_one_address_may_open_many_connections() {
    let addr = start_server(ServerConfig::default(), Echo);
    let _stalled: Vec<TcpStream> = (0..100).map(|_| stall(addr)).collect();
    let (head, _kept) = open_with(addr, &upgrade_request(addr));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
}
