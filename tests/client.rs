//! The client over real loopback sockets: against the echo server, and
//! against hand-written servers that answer the opening handshake wrongly,
//! one way per RFC 6455 §4.1 check.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws6455::Transport;
use ws6455::handshake::ResponseError;
use ws6455::handshake::WsUri;
use ws6455::handshake::accept_key;
use ws6455::proto::ProtocolError;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, OpCode};
use ws6455::server::Service;
use ws6455::{
    ClientConfig, CloseCode, CloseFrame, Error, Message, ServerConfig, client_handshake, connect,
    connect_with,
};

/// A server for one connection: it reads the opening request, answers with
/// `respond(request, accept)` where `accept` is the right Accept value for
/// the request's key, and then hands the stream to `then`.
fn fake_server(
    respond: impl FnOnce(&str, &str) -> Vec<u8> + Send + 'static,
    then: impl FnOnce(TcpStream) + Send + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request_head(&mut stream);
        let key = request
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key in the request");
        let accept = accept_key(key.as_bytes());
        stream.write_all(&respond(&request, &accept)).unwrap();
        then(stream);
    });
    addr
}

fn read_request_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "request cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn switching_protocols(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

/// Keeps the connection open until the client closes it.
fn hold(mut stream: TcpStream) {
    let _ = stream.read_to_end(&mut Vec::new());
}

/// The error a client gets from a server that answers with `respond(accept)`.
fn handshake_error(respond: impl FnOnce(&str) -> String + Send + 'static) -> ResponseError {
    let addr = fake_server(move |_, accept| respond(accept).into_bytes(), hold);
    match connect(&format!("ws://{addr}/")) {
        Err(Error::Response(e)) => e,
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

#[test]
fn round_trips_with_the_echo_server_and_closes_cleanly() {
    let addr = start_echo();
    let (mut ws, response) = connect(&format!("ws://{addr}/path?x=1")).unwrap();
    assert_eq!(response.status, 101);
    ws.send(Message::Text("Hello, κόσμε".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("Hello, κόσμε".into()));
    ws.send(Message::Binary(vec![0, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(vec![0, 1, 2, 255]));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    let closed = ws.read().unwrap();
    assert_eq!(
        closed,
        Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: String::new()
        }))
    );
    // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it.
    ws.wait_for_server_close(Duration::from_secs(5)).unwrap();
}

#[test]
fn rfc6455_4_1_request_carries_host_with_port_key_and_version() {
    let (sent, received) = mpsc::channel();
    let addr = fake_server(
        move |request, accept| {
            sent.send(request.to_owned()).unwrap();
            switching_protocols(accept).into_bytes()
        },
        hold,
    );
    let config = ClientConfig::default()
        .subprotocols(["chat", "superchat"])
        .header("Origin", "http://example.com");
    let (_ws, _) = connect_with(&format!("ws://{addr}/chat?room=1"), &config).unwrap();
    let request = received.recv().unwrap();
    assert!(
        request.starts_with("GET /chat?room=1 HTTP/1.1\r\n"),
        "{request}"
    );
    for line in [
        format!("Host: {addr}"),
        "Upgrade: websocket".to_owned(),
        "Connection: Upgrade".to_owned(),
        "Sec-WebSocket-Version: 13".to_owned(),
        "Sec-WebSocket-Protocol: chat, superchat".to_owned(),
        "Origin: http://example.com".to_owned(),
    ] {
        assert!(
            request.contains(&format!("{line}\r\n")),
            "{line} in {request}"
        );
    }
}

#[test]
fn rfc6455_5_3_client_frames_are_masked_with_a_fresh_key_each() {
    let (sent, received) = mpsc::channel();
    let addr = fake_server(
        |_, accept| switching_protocols(accept).into_bytes(),
        move |mut stream| {
            let mut wire = vec![0u8; 3 * (2 + 4 + 5)];
            stream.read_exact(&mut wire).unwrap();
            sent.send(wire).unwrap();
            hold(stream);
        },
    );
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    for _ in 0..3 {
        ws.send(Message::Text("Hello".into())).unwrap();
    }
    let wire = received.recv().unwrap();
    let mut keys = Vec::new();
    for frame in wire.chunks(11) {
        let Ok(ws6455::proto::Decoded::Complete(header, 6)) = FrameHeader::decode(frame) else {
            panic!("not a masked frame: {frame:?}");
        };
        let key = header.mask.expect("client frames are masked");
        let mut payload = frame[6..].to_vec();
        apply_mask(&mut payload, key, 0);
        assert_eq!(payload, b"Hello");
        keys.push(key);
    }
    keys.dedup();
    assert_eq!(keys.len(), 3, "a fresh key per frame");
}

#[test]
fn rfc6455_5_1_client_fails_on_masked_server_frame() {
    let (sent, received) = mpsc::channel();
    let addr = fake_server(
        |_, accept| {
            let mut wire = switching_protocols(accept).into_bytes();
            wire.extend(frame(OpCode::Text, Some([1, 2, 3, 4]), b"masked"));
            wire
        },
        move |mut stream| {
            let mut close = [0u8; 2 + 4 + 2];
            stream.read_exact(&mut close).unwrap();
            sent.send(close).unwrap();
        },
    );
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    assert!(matches!(
        ws.read(),
        Err(Error::Protocol(ProtocolError::MaskedServerFrame))
    ));
    let close = received.recv().unwrap();
    assert_eq!(close[0], 0x88, "a Close frame");
    assert_eq!(close[1] & 0x80, 0x80, "masked, as every client frame");
    let mut code = close[6..].to_vec();
    apply_mask(&mut code, close[2..6].try_into().unwrap(), 0);
    assert_eq!(code, 1002u16.to_be_bytes());
}

#[test]
fn frames_sent_with_the_101_are_kept_for_the_frame_reader() {
    let addr = fake_server(
        |_, accept| {
            let mut wire = switching_protocols(accept).into_bytes();
            wire.extend(frame(OpCode::Text, None, b"early"));
            wire
        },
        hold,
    );
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("early".into()));
}

#[test]
fn rfc6455_4_1_client_fails_on_status_other_than_101() {
    let error = handshake_error(|_| "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into());
    assert_eq!(
        error,
        ResponseError::NotSwitchingProtocols {
            status: 404,
            reason: "Not Found".into()
        }
    );
    assert!(error.to_string().contains("404 Not Found"), "{error}");
}

#[test]
fn rfc6455_4_1_client_reports_a_redirect_without_following_it() {
    let error = handshake_error(|_| {
        "HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n".into()
    });
    assert_eq!(
        error,
        ResponseError::Redirect {
            status: 302,
            reason: "Found".into(),
            location: "ws://elsewhere/".into()
        }
    );
}

#[test]
fn rfc6455_4_1_client_fails_on_wrong_accept() {
    let error = handshake_error(|_| switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(
        matches!(error, ResponseError::WrongAccept { ref received, .. } if received == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{error:?}"
    );
}

#[test]
fn rfc6455_4_1_client_fails_without_upgrade_websocket() {
    let error =
        handshake_error(|accept| switching_protocols(accept).replace("Upgrade: websocket\r\n", ""));
    assert_eq!(error, ResponseError::MissingUpgrade);
}

#[test]
fn rfc6455_4_1_client_fails_without_connection_upgrade() {
    let error = handshake_error(|accept| {
        switching_protocols(accept).replace("Connection: Upgrade", "Connection: keep-alive")
    });
    assert_eq!(error, ResponseError::MissingConnectionUpgrade);
}

#[test]
fn rfc6455_4_1_client_fails_on_unrequested_subprotocol() {
    let error = handshake_error(|accept| {
        switching_protocols(accept).replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
    });
    assert_eq!(error, ResponseError::UnrequestedSubprotocol("chat".into()));
}

#[test]
fn rfc6455_4_1_client_fails_on_unrequested_extension() {
    // The default client offers permessage-deflate only: any other
    // extension in the answer was not requested.
    let error = handshake_error(|accept| {
        switching_protocols(accept).replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: x-unrequested\r\n\r\n",
        )
    });
    assert_eq!(
        error,
        ResponseError::UnrequestedExtension("x-unrequested".into())
    );
    // A client that offers nothing fails on permessage-deflate too.
    let addr = fake_server(
        |_, accept| {
            switching_protocols(accept)
                .replace(
                    "\r\n\r\n",
                    "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                )
                .into_bytes()
        },
        hold,
    );
    // What the client offers: nothing, whether or not it could compress.
    #[cfg(feature = "deflate")]
    let config = ClientConfig::default().deflate(None);
    #[cfg(not(feature = "deflate"))]
    let config = ClientConfig::default();
    match connect_with(&format!("ws://{addr}/"), &config) {
        Err(Error::Response(e)) => assert_eq!(
            e,
            ResponseError::UnrequestedExtension("permessage-deflate".into())
        ),
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

#[test]
fn handshake_times_out_when_the_server_never_answers() {
    let addr = fake_server(|_, _| Vec::new(), hold);
    let config = ClientConfig::default().handshake_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let result = connect_with(&format!("ws://{addr}/"), &config);
    assert!(
        matches!(result, Err(Error::Response(ResponseError::Timeout))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Chooses the client's last offered subprotocol, and echoes.
struct LastSubprotocol;

impl Service for LastSubprotocol {
    fn choose_subprotocol(&self, request: &ws6455::Request) -> Option<String> {
        request.subprotocols().last().map(str::to_owned)
    }

    fn session(
        &self,
        connection: ws6455::server::Upgraded<'_>,
        request: &ws6455::Request,
    ) -> Result<(), Error> {
        ws6455::server::Echo.session(connection, request)
    }
}

#[test]
fn rfc6455_4_1_subprotocol_chosen_by_the_server_is_in_use() {
    let addr = start_server(ServerConfig::default(), LastSubprotocol);
    let config = ClientConfig::default().subprotocols(["v1.chat", "v2.chat"]);
    let (mut ws, response) = connect_with(&format!("ws://{addr}/"), &config).unwrap();
    assert_eq!(
        response.header("Sec-WebSocket-Protocol"),
        Some(&b"v2.chat"[..])
    );
    ws.send(Message::Text("hi".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("hi".into()));
}

#[test]
fn connection_refused_is_an_io_error() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = connect(&format!("ws://{addr}/"));
    assert!(matches!(result, Err(Error::Io(_))), "{result:?}");
}

#[test]
fn connects_to_an_ipv6_literal() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let addr = ws6455::server::serve(listener, ServerConfig::default(), ws6455::server::Echo)
        .unwrap()
        .local_addr();
    let (mut ws, _) = connect(&format!("ws://[::1]:{}/", addr.port())).unwrap();
    ws.send(Message::Text("v6".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("v6".into()));
}

/// A custom transport: a TCP stream that counts the bytes written through it.
struct CountingStream {
    inner: TcpStream,
    written: usize,
}

impl Read for CountingStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for CountingStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn client_handshake_over_a_custom_stream() {
    let addr = start_echo();
    let stream = CountingStream {
        inner: connect_raw(addr),
        written: 0,
    };
    let uri = WsUri::parse(&format!("ws://{addr}/")).unwrap();
    let (mut ws, _) = client_handshake(stream, &uri, &ClientConfig::default()).unwrap();
    ws.send(Message::Text("custom".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("custom".into()));
    assert!(ws.get_ref().written > 0);
}

#[test]
fn rfc6455_7_1_1_client_gives_up_waiting_for_a_server_that_never_closes() {
    let addr = fake_server(
        |_, accept| switching_protocols(accept).into_bytes(),
        |stream| {
            thread::sleep(Duration::from_secs(5));
            drop(stream);
        },
    );
    let (ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    let started = Instant::now();
    let result = ws.wait_for_server_close(Duration::from_millis(200));
    assert_eq!(result.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn rfc6455_5_5_2_client_answers_a_ping_with_an_identical_pong() {
    let (sent, received) = mpsc::channel();
    let addr = fake_server(
        |_, accept| {
            let mut wire = switching_protocols(accept).into_bytes();
            wire.extend(frame(OpCode::Ping, None, b"are you there"));
            wire
        },
        move |mut stream| {
            let mut pong = [0u8; 2 + 4 + 13];
            stream.read_exact(&mut pong).unwrap();
            sent.send(pong).unwrap();
        },
    );
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Ping(b"are you there".to_vec()));
    // The Pong is queued; the next read flushes it before it blocks.
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = ws.read();
    let pong = received.recv().unwrap();
    assert_eq!((pong[0], pong[1]), (0x8A, 0x80 | 13), "a masked Pong");
    let mut payload = pong[6..].to_vec();
    apply_mask(&mut payload, pong[2..6].try_into().unwrap(), 0);
    assert_eq!(payload, b"are you there");
}

#[test]
fn rfc6455_7_2_1_a_lost_connection_fails_the_client() {
    let addr = fake_server(|_, accept| switching_protocols(accept).into_bytes(), drop);
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    let error = ws.read().unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
        "{error:?}"
    );
    assert!(matches!(ws.read(), Err(Error::Closed)));
    assert!(!ws.is_open());
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_the_tls_feature_wss_is_refused_before_connecting() {
    // Nothing listens on port 1: the refusal comes before any connection.
    match connect("wss://127.0.0.1:1/") {
        Err(Error::Usage(ws6455::proto::UsageError::TlsNotBuilt)) => {}
        other => panic!("expected TlsNotBuilt, got {other:?}"),
    }
}
