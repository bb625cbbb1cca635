//! Helpers shared by the socket-level tests: a server on an ephemeral port,
//! a hand-written client handshake, and raw frame builders.

#![allow(dead_code)] // each test file uses its own subset of these helpers

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use ws6455::Engine;
use ws6455::ServerConfig;
use ws6455::proto::{Decoded, FrameHeader, OpCode};
use ws6455::server::{Echo, Service, serve};
use ws6455::{Error, Limits, Message, Role, WebSocket};

/// The RFC's example key, and the Accept it must produce.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Starts `service` on 127.0.0.1 with an ephemeral port.
pub fn start_server<S: Service>(config: ServerConfig, service: S) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    serve(listener, config, service).unwrap().local_addr()
}

pub fn start_echo() -> SocketAddr {
    start_server(ServerConfig::default(), Echo)
}

/// A whole frame as it goes on the wire, masked with `mask` if given.
pub fn frame(opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    fragment(true, opcode, mask, payload)
}

/// One frame of a message, the final one when `fin` is set.
pub fn fragment(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    FrameHeader::new(fin, opcode, mask, payload.len() as u64).encode_frame(payload, &mut wire);
    wire
}

/// A valid opening request for `addr`.
pub fn upgrade_request(addr: SocketAddr) -> String {
    upgrade_request_to(addr, "/")
}

/// A valid opening request for `path` on `addr`.
pub fn upgrade_request_to(addr: SocketAddr, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

pub fn connect_raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads an HTTP response head up to the blank line, byte by byte, so that
/// nothing after it is consumed.
pub fn read_response_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => buf.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading response: {e}"),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Sends `request` and returns the whole response (the server closes after a refusal).
pub fn http_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect_raw(addr);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Opens a WebSocket to `addr` as a client.
pub fn connect(addr: SocketAddr) -> WebSocket<TcpStream> {
    connect_to(addr, "/")
}

/// Opens a WebSocket to `path` on `addr` as a client.
pub fn connect_to(addr: SocketAddr, path: &str) -> WebSocket<TcpStream> {
    let mut stream = connect_raw(addr);
    stream
        .write_all(upgrade_request_to(addr, path).as_bytes())
        .unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}")),
        "{head}"
    );
    client(stream)
}

/// Wraps a stream whose handshake is done as a client WebSocket.
pub fn client(stream: TcpStream) -> WebSocket<TcpStream> {
    WebSocket::from_raw(stream, Role::Client, Limits::default(), Vec::new())
}

/// Opens a connection and completes the handshake, for sending raw frames.
pub fn connect_for_raw_frames(addr: SocketAddr) -> TcpStream {
    let mut stream = connect_raw(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    stream
}

/// One masked frame as a client sends it.
pub fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend(frame(opcode, Some([0x11, 0x22, 0x33, 0x44]), payload));
    wire
}

/// A frame with an arbitrary first byte (FIN, RSV, opcode), masked.
pub fn masked_raw(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut wire = masked(OpCode::Binary, payload);
    wire[0] = first_byte;
    wire
}

/// Reads frames until a Close and returns its status code (None if empty),
/// asserting that the server then closes the TCP connection. Frames before
/// the Close (an echo's start of a message it then fails) are skipped.
pub fn expect_close(stream: &mut TcpStream) -> Option<u16> {
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let mut at = 0;
    while at + 2 <= received.len() {
        let opcode = received[at] & 0x0F;
        let (len, header_len) = match received[at + 1] & 0x7F {
            126 => (
                usize::from(u16::from_be_bytes([received[at + 2], received[at + 3]])),
                4,
            ),
            127 => {
                let mut len = [0; 8];
                len.copy_from_slice(&received[at + 2..at + 10]);
                (u64::from_be_bytes(len) as usize, 10)
            }
            len => (usize::from(len), 2),
        };
        let payload = &received[at + header_len..at + header_len + len];
        if opcode == 0x8 {
            return (len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
        at += header_len + len;
    }
    panic!("no close frame in {received:?}");
}

/// Takes everything the engine has to send.
pub fn take_output(engine: &mut Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.output().drain_into(&mut bytes);
    bytes
}

/// Feeds `wire` to the engine and returns every message it completes.
pub fn receive_all(engine: &mut Engine, wire: &[u8]) -> Result<Vec<Message>, Error> {
    let mut input = wire.to_vec();
    let mut messages = Vec::new();
    loop {
        let progress = engine.receive(&mut input)?;
        input.drain(..progress.used);
        match progress.message {
            Some(message) => messages.push(message),
            None => return Ok(messages),
        }
        if engine.is_closed() {
            return Ok(messages);
        }
    }
}

/// A frame as the peer saw it on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub payload: Vec<u8>,
}

/// Reads frames until the stream ends, checking that each is whole: the
/// bytes must end on a frame boundary. `on_frame` sees each as it arrives.
pub fn read_frames(mut stream: &TcpStream, mut on_frame: impl FnMut(&WireFrame)) -> Vec<WireFrame> {
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    loop {
        loop {
            let (header, len) = match FrameHeader::decode(&buf) {
                Ok(Decoded::Complete(header, len)) => (header, len),
                Ok(Decoded::NeedMore) => break,
                Err(e) => panic!("the peer received an invalid frame: {e}"),
            };
            assert_eq!(header.mask, None, "server frames are not masked");
            let end = len + header.payload_len as usize;
            if buf.len() < end {
                break;
            }
            let frame = WireFrame {
                fin: header.fin,
                rsv: header.rsv,
                opcode: header.opcode,
                payload: buf[len..end].to_vec(),
            };
            buf.drain(..end);
            on_frame(&frame);
            frames.push(frame);
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("peer read failed: {e}"),
        }
    }
    assert!(
        buf.is_empty(),
        "the stream ended inside a frame: {} bytes left",
        buf.len()
    );
    frames
}

/// How many of `frames` are `opcode` frames.
pub fn count(frames: &[WireFrame], opcode: OpCode) -> usize {
    frames.iter().filter(|f| f.opcode == opcode).count()
}

/// The peer answers our Close, then ends the connection when it sees TCP end.
pub fn answer_close_then_read_rest(peer: &TcpStream) -> Vec<WireFrame> {
    let mut writer = peer.try_clone().unwrap();
    let mut answered = false;
    read_frames(peer, |frame| {
        if frame.opcode == OpCode::Close && !answered {
            answered = true;
            writer
                .write_all(&masked(OpCode::Close, &frame.payload))
                .unwrap();
        }
    })
}
