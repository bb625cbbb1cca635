//! The servers' log on stderr, a line a person can read per event: connect,
//! disconnect (close code, reason, duration, bytes), refused handshakes,
//! and each message with `--log-messages`; and the echo's idle pings.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use ws6455::{CloseCode, Message};

/// Shuts `server` down (SIGTERM) and returns all it logged.
fn log_of(server: Ws6455Server) -> String {
    server.signal("TERM");
    let (status, log) = server.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "{log}");
    log
}

/// The peer address of the line saying it connected to `path`.
fn peer_connected_to<'a>(log: &'a str, path: &str) -> &'a str {
    let connected = format!(": connected to {path}");
    log.lines()
        .find_map(|line| line.strip_suffix(connected.as_str()))
        .unwrap_or_else(|| panic!("no connect line in\n{log}"))
}

test_both_echoes!(
    echo_logs_connect_messages_and_disconnect_with_code_reason_and_bytes_on =>
    echo_logs_connect_messages_and_disconnect_with_code_reason_and_bytes,
    echo_logs_connect_messages_and_disconnect_with_code_reason_and_bytes_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_logs_connect_messages_and_disconnect_with_code_reason_and_bytes_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo"], flavour, &["--log-messages", "--no-deflate"]].concat());
    let mut ws = connect_to(server.addr, "/room?x=1");
    ws.send(Message::Text("hello".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("hello".into()));
    ws.send(Message::Binary(vec![7; 20])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(vec![7; 20]));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    let log = log_of(server);
    let lines: Vec<&str> = log.lines().collect();
    let peer = peer_connected_to(&log, "/room?x=1");
    for expected in [
        format!("{peer}: received text (5 bytes) \"hello\""),
        format!("{peer}: sent text (5 bytes) \"hello\""),
        format!("{peer}: received binary (20 bytes){} …", " 07".repeat(16)),
    ] {
        assert!(lines.contains(&expected.as_str()), "{expected:?} in\n{log}");
    }
    let disconnect = lines
        .iter()
        .find(|line| line.starts_with(&format!("{peer}: disconnected after ")))
        .unwrap_or_else(|| panic!("no disconnect line in\n{log}"));
    // Client frames: 6+5, 6+20, 6+2+3 bytes; the server's: 2+5, 2+20, and
    // 2+2 (its Close echoes the code, without the reason).
    assert!(
        disconnect.ends_with(
            ": the client closed with 1000 (normal closure) \"bye\"; 48 bytes in, 33 out"
        ),
        "{disconnect}"
    );
}

#[test]
fn without_log_messages_no_message_is_logged() {
    let server = start_ws6455(&["echo"]);
    let mut ws = connect(server.addr);
    ws.send(Message::Text("secret".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("secret".into()));
    drop(ws);
    let log = log_of(server);
    assert!(log.contains(": connected to /"), "{log}");
    assert!(!log.contains("secret"), "{log}");
    assert!(log.contains(": no closing handshake (1006)"), "{log}");
}

test_both_echoes!(
    refused_handshakes_are_logged_with_path_and_status_on =>
    refused_handshakes_are_logged_with_path_and_status,
    refused_handshakes_are_logged_with_path_and_status_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn refused_handshakes_are_logged_with_path_and_status_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo"], flavour].concat());
    let plain = http_exchange(server.addr, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.starts_with("HTTP/1.1 426 "), "{plain}");
    let bad = http_exchange(
        server.addr,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    let log = log_of(server);
    assert!(
        log.contains(": plain HTTP GET /index.html answered 426"),
        "{log}"
    );
    assert!(
        log.contains(": upgrade to /ws refused: 400: missing Sec-WebSocket-Key header"),
        "{log}"
    );
}

test_both_echoes!(
    a_handshake_over_the_limit_per_address_is_logged_with_the_address_on =>
    a_handshake_over_the_limit_per_address_is_logged_with_the_address,
    a_handshake_over_the_limit_per_address_is_logged_with_the_address_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn a_handshake_over_the_limit_per_address_is_logged_with_the_address_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo", "--max-connections-per-ip", "1"], flavour].concat());
    let held = connect(server.addr);
    let refused = http_exchange(server.addr, upgrade_request(server.addr).as_bytes());
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    drop(held);
    let log = log_of(server);
    assert!(
        log.contains(": upgrade to / refused: 429: too many connections from 127.0.0.1\n"),
        "{log}"
    );
}

test_both_echoes!(
    behind_a_trusted_proxy_the_log_names_the_forwarded_client_via_the_proxy_on =>
    behind_a_trusted_proxy_the_log_names_the_forwarded_client_via_the_proxy,
    behind_a_trusted_proxy_the_log_names_the_forwarded_client_via_the_proxy_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn behind_a_trusted_proxy_the_log_names_the_forwarded_client_via_the_proxy_on(flavour: &[&str]) {
    let server = start_ws6455(
        &[
            &["echo", "--trust-proxy", "--max-connections-per-ip", "1"],
            flavour,
        ]
        .concat(),
    );
    let request = upgrade_request_to(server.addr, "/proxied");
    let head = request.strip_suffix("\r\n").unwrap();
    let forwarded = format!("{head}X-Forwarded-For: 10.0.0.9, 192.0.2.1\r\n\r\n");
    let mut held = connect_raw(server.addr);
    held.write_all(forwarded.as_bytes()).unwrap();
    let answer = read_response_head(&mut held);
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    let refused = http_exchange(server.addr, forwarded.as_bytes());
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    drop(held);
    let log = log_of(server);
    let peer = peer_connected_to(&log, "/proxied");
    assert!(peer.starts_with("192.0.2.1 via 127.0.0.1:"), "{log}");
    assert!(
        log.contains(": upgrade to /proxied refused: 429: too many connections from 192.0.2.1\n"),
        "{log}"
    );
}

#[test]
fn the_chat_refuses_a_path_that_names_no_room_and_logs_it() {
    let server = start_ws6455(&["chat"]);
    let mut stream = connect_raw(server.addr);
    stream
        .write_all(upgrade_request_to(server.addr, "/a/b").as_bytes())
        .unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    let log = log_of(server);
    assert!(log.contains(": upgrade to /a/b refused: 400"), "{log}");
}

test_both_echoes!(
    echo_pings_a_silent_client_and_closes_it_with_1001_when_it_stays_silent_on =>
    echo_pings_a_silent_client_and_closes_it_with_1001_when_it_stays_silent,
    echo_pings_a_silent_client_and_closes_it_with_1001_when_it_stays_silent_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_pings_a_silent_client_and_closes_it_with_1001_when_it_stays_silent_on(flavour: &[&str]) {
    let server = start_ws6455(
        &[
            &["echo"],
            flavour,
            &["--quiet", "--ping-interval", "0.2", "--pong-timeout", "0.3"],
        ]
        .concat(),
    );
    let mut silent = connect_for_raw_frames(server.addr);
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut first = [0u8; 2];
    silent.read_exact(&mut first).unwrap();
    // RFC 6455 §5.5.2: an empty, unmasked Ping.
    assert_eq!(first, [0x89, 0x00]);
    assert_eq!(expect_close(&mut silent), Some(1001));
}

test_both_echoes!(
    echo_keeps_a_client_that_answers_its_pings_on =>
    echo_keeps_a_client_that_answers_its_pings,
    echo_keeps_a_client_that_answers_its_pings_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_keeps_a_client_that_answers_its_pings_on(flavour: &[&str]) {
    let server = start_ws6455(
        &[
            &["echo"],
            flavour,
            &["--quiet", "--ping-interval", "0.1", "--pong-timeout", "0.3"],
        ]
        .concat(),
    );
    let mut ws = connect(server.addr);
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The client's read answers each Ping with a Pong, as a client must.
    for _ in 0..5 {
        assert_eq!(ws.read().unwrap(), Message::Ping(Vec::new()));
    }
    ws.send(Message::Text("still here".into())).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) => {}
            other => break assert_eq!(other, Message::Text("still here".into())),
        }
    }
    let _: &TcpStream = ws.get_ref();
}

#[test]
fn chat_logs_the_room_and_the_name_and_ends_with_the_name() {
    let server = start_ws6455(&["chat", "--log-messages"]);
    let mut ws = connect_to(server.addr, "/kitchen");
    // The welcome.
    assert!(matches!(ws.read().unwrap(), Message::Text(_)));
    ws.send(Message::Text("/nick alice".into())).unwrap();
    // The nick event.
    assert!(matches!(ws.read().unwrap(), Message::Text(_)));
    ws.close(CloseCode::NORMAL, "").unwrap();
    while !matches!(ws.read().unwrap(), Message::Close(_)) {}
    let log = log_of(server);
    let lines: Vec<&str> = log.lines().collect();
    let peer = peer_connected_to(&log, "/kitchen");
    for expected in [
        format!("{peer}: joined kitchen as guest-1"),
        format!("{peer} (guest-1): received text (11 bytes) \"/nick alice\""),
        format!("{peer} (guest-1): renamed to alice"),
    ] {
        assert!(lines.contains(&expected.as_str()), "{expected:?} in\n{log}");
    }
    assert!(
        lines.iter().any(
            |line| line.starts_with(&format!("{peer} (alice): disconnected after "))
                && line.contains(": the client closed with 1000 (normal closure); ")
        ),
        "{log}"
    );
}

#[test]
fn a_refused_origin_is_logged_with_the_refusals_reason() {
    let server = start_ws6455(&["chat"]);
    let request = upgrade_request_to(server.addr, "/kitchen")
        .replace("\r\n\r\n", "\r\nOrigin: http://evil.example\r\n\r\n");
    let response = http_exchange(server.addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    let log = log_of(server);
    assert!(
        log.lines().any(|line| line.ends_with(
            ": upgrade to /kitchen refused: 403: pages from origin \"http://evil.example\" may \
             not connect here (RFC 6455 §10.2); the server admits them when started with \
             --allowed-origin http://evil.example"
        )),
        "{log}"
    );
}

test_both_echoes!(
    the_echo_logs_a_refused_origin_with_the_refusals_reason_on =>
    the_echo_logs_a_refused_origin_with_the_refusals_reason,
    the_echo_logs_a_refused_origin_with_the_refusals_reason_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn the_echo_logs_a_refused_origin_with_the_refusals_reason_on(flavour: &[&str]) {
    let args = ["echo", "--allowed-origin", "https://example.com"];
    let server = start_ws6455(&[&args[..], flavour].concat());
    let request = upgrade_request_to(server.addr, "/echo")
        .replace("\r\n\r\n", "\r\nOrigin: http://evil.example\r\n\r\n");
    let response = http_exchange(server.addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    let log = log_of(server);
    assert!(
        log.lines().any(|line| line.ends_with(
            ": upgrade to /echo refused: 403: pages from origin \"http://evil.example\" may \
             not connect here (RFC 6455 §10.2); the server admits them when started with \
             --allowed-origin http://evil.example"
        )),
        "{log}"
    );
}
