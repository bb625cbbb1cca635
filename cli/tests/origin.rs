//! `--allowed-origin` over real sockets (RFC 6455 §10.2): which pages may
//! open a WebSocket to `echo` and to `chat`, the 403 the others get, and
//! the values refused at startup. The same in Chromium is in
//! `browser/chat.test.mjs`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use common::*;
use ws6455::{Message, WebSocket};

/// An opening request for `/` on `addr` that names `host` as its Host, and
/// carries `origin` as its Origin if given, as a browser's would.
fn request_from(addr: SocketAddr, host: &str, origin: Option<&str>) -> (TcpStream, String) {
    let origin = origin.map_or_else(String::new, |origin| format!("Origin: {origin}\r\n"));
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut stream = connect_raw(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    (stream, head)
}

/// Opens a WebSocket to `addr` with `origin`, sent to the Host `addr`
/// itself; panics unless the server answers 101.
fn admitted(addr: SocketAddr, origin: Option<&str>) -> WebSocket<TcpStream> {
    let (stream, head) = request_from(addr, &addr.to_string(), origin);
    assert!(head.starts_with("HTTP/1.1 101 "), "{origin:?}: {head}");
    client(stream)
}

/// The body of the 403 that `origin`, sent to the Host `host`, gets.
fn refused(addr: SocketAddr, host: &str, origin: &str) -> String {
    let (mut stream, head) = request_from(addr, host, Some(origin));
    assert!(
        head.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{origin:?}: {head}"
    );
    assert!(!head.contains("Sec-WebSocket-Accept"), "{head}");
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

/// The echo of `text` over `ws`.
fn echoes(ws: &mut WebSocket<TcpStream>, text: &str) {
    ws.send(Message::text(text)).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text(text));
}

/// The chat's welcome, the first thing it sends a member.
fn welcomed(ws: &mut WebSocket<TcpStream>) {
    match ws.read().unwrap() {
        Message::Text(text) => assert!(text.starts_with(r#"{"type":"welcome""#), "{text}"),
        other => panic!("expected the welcome, got {other:?}"),
    }
}

test_both_echoes!(
    echo_admits_a_page_from_any_origin_by_default_on =>
    echo_admits_a_page_from_any_origin_by_default,
    echo_admits_a_page_from_any_origin_by_default_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_admits_a_page_from_any_origin_by_default_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo", "--quiet"], flavour].concat());
    for origin in ["http://evil.example", "null", "not an origin"] {
        echoes(&mut admitted(server.addr, Some(origin)), origin);
    }
}

test_both_echoes!(
    echo_with_allowed_origin_refuses_other_pages_with_403_naming_the_origin_on =>
    echo_with_allowed_origin_refuses_other_pages_with_403_naming_the_origin,
    echo_with_allowed_origin_refuses_other_pages_with_403_naming_the_origin_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_with_allowed_origin_refuses_other_pages_with_403_naming_the_origin_on(flavour: &[&str]) {
    let server = start_ws6455(
        &[
            &["echo", "--quiet", "--allowed-origin", "https://example.com"],
            flavour,
        ]
        .concat(),
    );
    let addr = server.addr;
    assert_eq!(
        refused(addr, &addr.to_string(), "http://evil.example"),
        "pages from origin \"http://evil.example\" may not connect here (RFC 6455 §10.2); \
         the server admits them when started with --allowed-origin http://evil.example\n"
    );
    // The echo serves no page of its own: its own Host is no pass.
    refused(addr, &addr.to_string(), &format!("http://{addr}"));
    refused(addr, &addr.to_string(), "null");
    // The listed origin as a browser writes it, or in other case with its
    // default port; and a program, which sends no Origin.
    for origin in [
        Some("https://example.com"),
        Some("HTTPS://Example.com:443"),
        None,
    ] {
        echoes(&mut admitted(addr, origin), "admitted");
    }
}

#[test]
fn chat_admits_its_own_page_and_programs_and_refuses_other_pages() {
    let server = start_ws6455(&["chat", "--quiet"]);
    let addr = server.addr;
    // Its page over http, over https behind a proxy that ends TLS, and a program.
    for origin in [
        Some(format!("http://{addr}")),
        Some(format!("https://{addr}")),
        None,
    ] {
        welcomed(&mut admitted(addr, origin.as_deref()));
    }
    // Its page fetched at another name: the Host names it too.
    let (stream, head) = request_from(addr, "Chat.Example", Some("https://chat.example"));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    welcomed(&mut client(stream));
    let host = addr.to_string();
    assert_eq!(
        refused(addr, &host, "http://evil.example"),
        "pages from origin \"http://evil.example\" may not connect here (RFC 6455 §10.2); \
         the server admits them when started with --allowed-origin http://evil.example\n"
    );
    let other_port = format!("http://127.0.0.1:{}", addr.port() ^ 1);
    refused(addr, &host, &other_port);
    assert_eq!(
        refused(addr, &host, "null"),
        "pages with origin \"null\" (sandboxed frames, local files) may not connect here \
         (RFC 6455 §10.2); only --allowed-origin '*' admits them\n"
    );
    // Shown escaped: bytes past ASCII (the server refuses control
    // characters in a header with 400 before any service sees them).
    assert_eq!(
        refused(addr, &host, "http://\u{e9}vil.example/\"x\\"),
        "Origin \"http://\\xc3\\xa9vil.example/\\\"x\\\\\" is not an origin \
         (SCHEME://HOST[:PORT]); only --allowed-origin '*' admits it\n"
    );
}

#[test]
fn the_chats_allowed_origins_add_to_its_own_page() {
    let server = start_ws6455(&[
        "chat",
        "--quiet",
        "--allowed-origin",
        "https://chat.example",
    ]);
    let addr = server.addr;
    // Behind a proxy the chat is reached at 127.0.0.1, the page at chat.example.
    for origin in ["https://chat.example", &format!("http://{addr}")] {
        welcomed(&mut admitted(addr, Some(origin)));
    }
    refused(addr, &addr.to_string(), "https://evil.example");

    let server = start_ws6455(&["chat", "--quiet", "--allowed-origin", "*"]);
    for origin in ["https://evil.example", "null"] {
        welcomed(&mut admitted(server.addr, Some(origin)));
    }
}

#[test]
fn an_invalid_allowed_origin_stops_the_server_at_startup_saying_why() {
    for (command, value, why) in [
        ("chat", "https://example.com/", "no path, query or fragment"),
        (
            "echo",
            "example.com",
            "expected SCHEME://HOST or SCHEME://HOST:PORT",
        ),
        ("chat", "null", "only '*' admits it"),
        (
            "echo",
            "http://example.com:99999",
            "the port must be a number",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args([
                command,
                "--listen",
                "127.0.0.1:0",
                "--allowed-origin",
                value,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "invalid value '{value}' for '--allowed-origin <ORIGIN>'"
            )),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{value}: {stderr}");
    }
}
