//! Every malformed opening handshake gets a 4xx with a one-line reason
//! (RFC 6455 §4.2.1, §4.2.2), and a client that never finishes is dropped.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use ws6455::ServerConfig;
use ws6455::server::Echo;

fn request_with(addr: std::net::SocketAddr, replace: &str, with: &str) -> String {
    let request = upgrade_request(addr).replace(replace, with);
    http_exchange(addr, request.as_bytes())
}

#[test]
fn rfc6455_4_2_2_valid_request_gets_101_with_accept() {
    let addr = start_echo();
    let mut stream = connect_raw(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("Upgrade: websocket\r\n"));
    assert!(head.contains("Connection: Upgrade\r\n"));
    assert!(head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")));
    assert!(
        !head.contains("Sec-WebSocket-Extensions"),
        "no extension accepted yet"
    );
}

#[test]
fn rfc6455_4_2_1_wrong_method_is_405() {
    let response = request_with(start_echo(), "GET / ", "POST / ");
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    assert!(response.contains("GET"));
}

#[test]
fn rfc6455_4_2_1_http_1_0_is_400() {
    let response = request_with(start_echo(), "HTTP/1.1\r\n", "HTTP/1.0\r\n");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn rfc6455_4_2_1_missing_host_is_400() {
    let addr = start_echo();
    let response = request_with(addr, &format!("Host: {addr}\r\n"), "");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(response.contains("Host"));
}

#[test]
fn rfc6455_4_2_1_upgrade_not_websocket_is_400() {
    let response = request_with(start_echo(), "Upgrade: websocket", "Upgrade: h2c");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn rfc6455_4_2_1_connection_without_upgrade_is_400() {
    let response = request_with(
        start_echo(),
        "Connection: Upgrade",
        "Connection: keep-alive",
    );
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn rfc6455_4_2_1_missing_key_is_400() {
    let response = request_with(start_echo(), &format!("Sec-WebSocket-Key: {KEY}\r\n"), "");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn rfc6455_4_2_1_key_not_16_bytes_is_400() {
    let response = request_with(start_echo(), KEY, "c2hvcnQ=");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(response.contains("16 bytes"));
}

#[test]
fn rfc6455_4_2_2_unsupported_version_is_426_with_version_13() {
    let response = request_with(
        start_echo(),
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Version: 8",
    );
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
}

#[test]
fn plain_http_get_is_told_this_is_a_websocket_endpoint() {
    let addr = start_echo();
    let response = http_exchange(
        addr,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(response.contains("WebSocket"));
}

#[test]
fn malformed_http_is_400() {
    let response = http_exchange(start_echo(), b"\x00\x01garbage\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn rfc6455_10_4_oversized_header_section_is_431() {
    let addr = start_echo();
    let padding = format!("X-Padding: {}\r\n", "a".repeat(17 << 10));
    let request = upgrade_request(addr).replace("\r\n\r\n", &format!("\r\n{padding}\r\n"));
    let response = http_exchange(addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
}

#[test]
fn rfc6455_10_4_too_many_headers_is_431() {
    let addr = start_echo();
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    let request = upgrade_request(addr).replace("\r\n\r\n", &format!("\r\n{many}\r\n"));
    let response = http_exchange(addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
}

#[test]
fn unfinished_handshake_is_dropped_after_the_timeout_even_when_trickled() {
    let config = ServerConfig::default().handshake_timeout(Duration::from_millis(300));
    let addr = start_server(config, Echo);
    let mut stream = connect_raw(addr);
    let mut writer = stream.try_clone().unwrap();
    // One byte every 50 ms, for 2 s: every read succeeds, but the deadline passes.
    let trickle = std::thread::spawn(move || {
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnop"
            .iter()
            .take(40)
        {
            if writer.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let started = Instant::now();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let waited = started.elapsed();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(
        waited < Duration::from_millis(1500),
        "answered after {waited:?}, not at the deadline"
    );
    trickle.join().unwrap();
}
