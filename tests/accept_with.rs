//! `accept_with`: the server's one opening handshake, as a library call on
//! any transport, with a `ServerConfig`'s limits, deadline and subprotocols.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws6455::handshake::RequestError;
use ws6455::proto::OpCode;
use ws6455::{Error, Limits, Message, ServerConfig, accept_with};

/// Accepts one connection with `config` on a new listener; returns the
/// listener's address and the thread that accepts.
fn accept_one<F, R>(config: ServerConfig, then: F) -> (std::net::SocketAddr, thread::JoinHandle<R>)
where
    F: FnOnce(Result<(ws6455::WebSocket<TcpStream>, ws6455::Request), Error>) -> R + Send + 'static,
    R: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        then(accept_with(stream, &config))
    });
    (addr, handle)
}

#[test]
fn accept_with_chooses_the_servers_preferred_subprotocol_and_applies_its_limits() {
    let config = ServerConfig::default()
        .subprotocols(["chat.v2", "chat.v1"])
        .limits(Limits::default().max_frame_size(100).max_message_size(100));
    let (addr, server) = accept_one(config, |accepted| {
        let (mut ws, request) = accepted.unwrap();
        assert_eq!(request.path, "/");
        ws.read()
    });
    let mut stream = connect_raw(addr);
    let request = upgrade_request(addr).replace(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n\r\n",
    );
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Protocol: chat.v2\r\n"),
        "{head}"
    );
    stream
        .write_all(&masked(OpCode::Binary, &[0; 101]))
        .unwrap();
    let result = server.join().unwrap();
    assert!(
        matches!(&result, Err(Error::Protocol(e)) if e.close_code().0 == 1009),
        "{result:?}"
    );
}

#[test]
fn accept_with_answers_a_silent_client_408_at_the_handshake_deadline() {
    let config = ServerConfig::default().handshake_timeout(Duration::from_millis(300));
    let (addr, server) = accept_one(config, |accepted| {
        let started = Instant::now();
        (accepted.map(|_| ()), started)
    });
    let mut stream = connect_raw(addr);
    let connected = Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (result, _) = server.join().unwrap();
    assert!(
        matches!(result, Err(Error::Request(RequestError::Timeout))),
        "{result:?}"
    );
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    let waited = connected.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn accept_with_answers_a_plain_http_request_426() {
    let (addr, server) = accept_one(ServerConfig::default(), |accepted| accepted.map(|_| ()));
    let response = http_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    let result = server.join().unwrap();
    assert!(
        matches!(result, Err(Error::Request(RequestError::NotAnUpgrade))),
        "{result:?}"
    );
}

#[test]
fn accept_with_echoes_over_the_transport() {
    let (addr, server) = accept_one(ServerConfig::default(), |accepted| {
        let (mut ws, _) = accepted.unwrap();
        let message = ws.read().unwrap();
        ws.send(message).unwrap();
        ws.read()
    });
    let mut client = connect(addr);
    client
        .send(Message::Text("over accept_with".into()))
        .unwrap();
    assert_eq!(
        client.read().unwrap(),
        Message::Text("over accept_with".into())
    );
    client.close(ws6455::CloseCode::NORMAL, "").unwrap();
    assert!(matches!(client.read().unwrap(), Message::Close(_)));
    assert!(matches!(server.join().unwrap(), Ok(Message::Close(_))));
}
