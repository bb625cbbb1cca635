//! Before the 101: `accept_hdr` shows the application the whole request and
//! lets it refuse the upgrade with a response of its own, or add header
//! fields to the 101; `Service::admit` does the same under `serve`.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use common::*;
use ws6455::handshake::RequestError;
use ws6455::proto::UsageError;
use ws6455::server::{Service, Upgraded};
use ws6455::{Error, Message, Request, Response, ServerConfig, WebSocket, accept_hdr};

/// What `accept_hdr` returned, on the server's thread.
type Accepted = Result<(WebSocket<TcpStream>, Request), Error>;

/// Accepts one connection with `accept_hdr` and `admit`; returns the
/// address and the thread that accepts.
fn accept_one<F>(admit: F) -> (SocketAddr, thread::JoinHandle<Accepted>)
where
    F: FnOnce(&Request) -> Result<Vec<(String, Vec<u8>)>, Response> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        accept_hdr(stream, &ServerConfig::default(), admit)
    });
    (addr, handle)
}

/// The opening request from a browser page at `origin`, with a cookie.
fn browser_request(addr: SocketAddr, origin: &str) -> String {
    upgrade_request_to(addr, "/chat?room=1").replace(
        "\r\n\r\n",
        &format!("\r\nOrigin: {origin}\r\nCookie: session=42\r\n\r\n"),
    )
}

#[test]
fn the_callback_sees_the_method_path_query_origin_and_cookie() {
    let (addr, server) = accept_one(|request| {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/chat?room=1");
        assert_eq!(request.header("origin"), Some(&b"http://localhost"[..]));
        assert_eq!(request.header("Cookie"), Some(&b"session=42"[..]));
        Ok(Vec::new())
    });
    let mut stream = connect_raw(addr);
    let request = browser_request(addr, "http://localhost");
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let (mut ws, request) = server.join().unwrap().unwrap();
    assert_eq!(request.path, "/chat?room=1");
    let mut client = client(stream);
    client.send(Message::text("hi")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hi"));
}

#[test]
fn rfc6455_10_2_a_foreign_origin_is_refused_with_the_callbacks_response() {
    let (addr, server) = accept_one(|request| match request.header("Origin") {
        Some(b"http://localhost") => Ok(Vec::new()),
        _ => Err(Response::text(
            403,
            "Forbidden",
            "this origin may not connect",
        )),
    });
    let response = http_exchange(
        addr,
        browser_request(addr, "http://evil.example").as_bytes(),
    );
    assert!(
        response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("\r\n\r\nthis origin may not connect\n"),
        "{response}"
    );
    assert!(!response.contains("Sec-WebSocket-Accept"), "{response}");
    match server.join().unwrap() {
        Err(Error::Request(RequestError::Refused { status: 403 })) => {}
        other => panic!("expected a refusal with 403, got {other:?}"),
    }
}

#[test]
fn header_fields_from_the_callback_go_out_with_the_101() {
    let (addr, server) = accept_one(|_| {
        Ok(vec![(
            "Set-Cookie".to_owned(),
            b"seen=1; HttpOnly".to_vec(),
        )])
    });
    let mut stream = connect_raw(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("\r\nSet-Cookie: seen=1; HttpOnly\r\n"),
        "{head}"
    );
    assert!(server.join().unwrap().is_ok());
}

#[test]
fn a_header_field_the_handshake_writes_itself_is_a_500_and_a_usage_error() {
    let (addr, server) = accept_one(|_| {
        Ok(vec![(
            "Sec-WebSocket-Accept".to_owned(),
            b"forged".to_vec(),
        )])
    });
    let response = http_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(response.starts_with("HTTP/1.1 500 "), "{response}");
    assert!(!response.contains("forged"), "{response}");
    match server.join().unwrap() {
        Err(Error::Usage(UsageError::ReservedHeader(name))) => {
            assert_eq!(name, "Sec-WebSocket-Accept")
        }
        other => panic!("expected a usage error, got {other:?}"),
    }
}

/// Admits every upgrade, with a cookie on the 101.
struct Cookies;

impl Service for Cookies {
    fn admit(&self, _request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        Ok(vec![("Set-Cookie".to_owned(), b"visits=1".to_vec())])
    }

    fn session(&self, connection: Upgraded<'_>, _request: &Request) -> Result<(), Error> {
        connection.with_websocket(|ws| {
            ws.send(Message::text("welcome"))?;
            while !ws.read()?.is_close() {}
            Ok(())
        })
    }
}

#[test]
fn service_admit_adds_header_fields_to_the_101() {
    let addr = start_server(ServerConfig::default(), Cookies);
    let mut stream = connect_raw(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains("\r\nSet-Cookie: visits=1\r\n"), "{head}");
    let mut ws = client(stream);
    assert_eq!(ws.read().unwrap(), Message::text("welcome"));
}
