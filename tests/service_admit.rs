//! `Service::admit` refuses a valid upgrade request with the service's own
//! response before the 101; admitted requests go on to the session.

mod common;

use std::io::Write;

use common::*;
use ws6455::server::{Service, Upgraded};
use ws6455::{Error, Message, ServerConfig};
use ws6455::{Request, Response};

/// Admits upgrades to `/open` only, and sends each session its path.
struct OnlyOpen;

impl Service for OnlyOpen {
    fn admit(&self, request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        if request.path == "/open" {
            Ok(Vec::new())
        } else {
            Err(Response::text(403, "Forbidden", "only /open is open"))
        }
    }

    fn session(&self, connection: Upgraded<'_>, request: &Request) -> Result<(), Error> {
        connection.with_websocket(|ws| {
            ws.send(Message::Text(request.path.clone()))?;
            while !matches!(ws.read()?, Message::Close(_)) {}
            Ok(())
        })
    }
}

#[test]
fn upgrade_not_admitted_gets_the_services_response_and_no_101() {
    let addr = start_server(ServerConfig::default(), OnlyOpen);
    let request = upgrade_request(addr).replace("GET / ", "GET /closed ");
    let response = http_exchange(addr, request.as_bytes());
    assert!(
        response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("\r\n\r\nonly /open is open\n"),
        "{response}"
    );
    assert!(!response.contains("Sec-WebSocket-Accept"), "{response}");
}

#[test]
fn admitted_upgrade_reaches_the_session() {
    let addr = start_server(ServerConfig::default(), OnlyOpen);
    let mut stream = connect_raw(addr);
    let request = upgrade_request(addr).replace("GET / ", "GET /open ");
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut ws = client(stream);
    assert_eq!(ws.read().unwrap(), Message::Text("/open".into()));
}

#[test]
fn invalid_upgrade_is_refused_before_admit_is_asked() {
    let addr = start_server(ServerConfig::default(), OnlyOpen);
    let request = upgrade_request(addr)
        .replace("GET / ", "GET /closed ")
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let response = http_exchange(addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
}
