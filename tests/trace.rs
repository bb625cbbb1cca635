//! The trace hook over real sockets: every frame in and out is shown once,
//! annotated, including the frame that breaks a rule and the Close it causes.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use common::*;
use ws6455::proto::OpCode;
use ws6455::proto::TraceEvent;
use ws6455::{CloseCode, Error, Limits, Message, Role, WebSocket, connect};

/// An observer that keeps each trace line, and the lines it kept.
fn collector() -> (
    impl FnMut(&TraceEvent<'_>) + Send + Sync + 'static,
    Arc<Mutex<Vec<String>>>,
) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&lines);
    (
        move |event: &TraceEvent<'_>| kept.lock().unwrap().push(event.to_string()),
        lines,
    )
}

#[test]
fn trace_shows_every_frame_sent_and_received_once() {
    let addr = start_echo();
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    let (observe, lines) = collector();
    ws.set_trace(observe);
    ws.send(Message::Text("Hello".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("Hello".into()));
    ws.send(Message::Ping(b"p".to_vec())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"p".to_vec()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));

    let lines = lines.lock().unwrap();
    let expected_starts = [
        "> text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=",
        "< text FIN=1 RSV1-3=000 opcode=0x1 MASK=0 len=5 (7-bit) payload: 48 65 6c 6c 6f \"Hello\"",
        "> ping FIN=1 RSV1-3=000 opcode=0x9 MASK=1 key=",
        "< pong FIN=1 RSV1-3=000 opcode=0xa MASK=0 len=1 (7-bit) payload: 70 \"p\"",
        "> close FIN=1 RSV1-3=000 opcode=0x8 MASK=1 key=",
        "< close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 len=2 (7-bit) payload: 03 e8 = 1000 normal closure",
    ];
    assert_eq!(lines.len(), expected_starts.len(), "{lines:#?}");
    for (line, start) in lines.iter().zip(expected_starts) {
        assert!(
            line.starts_with(start),
            "{line:?} should start with {start:?}"
        );
    }
    assert!(
        lines[0].ends_with("len=5 (7-bit) payload: 48 65 6c 6c 6f \"Hello\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[4].ends_with("payload: 03 e8 = 1000 normal closure"),
        "{}",
        lines[4]
    );
}

#[test]
fn trace_shows_a_frame_that_breaks_a_rule_then_the_close_it_causes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut wire = Vec::new();
        wire.extend(frame(OpCode::Text, None, b"hi"));
        wire[0] |= 0x40; // RSV1, with no extension negotiated
        stream.write_all(&wire).unwrap();
        // The client's Close: masked, with the code in the first two bytes.
        let mut close = [0u8; 8];
        stream.read_exact(&mut close).unwrap();
        assert_eq!((close[0], close[1] & 0x80), (0x88, 0x80));
        let key: [u8; 4] = close[2..6].try_into().unwrap();
        u16::from_be_bytes([close[6] ^ key[0], close[7] ^ key[1]])
    });
    let stream = connect_raw(addr);
    let mut ws = WebSocket::from_raw(stream, Role::Client, Limits::default(), Vec::new());
    let (observe, lines) = collector();
    ws.set_trace(observe);
    assert!(matches!(ws.read(), Err(Error::Protocol(_))));
    assert_eq!(server.join().unwrap(), 1002);

    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(
        lines[0],
        "< text FIN=1 RSV1-3=100 opcode=0x1 MASK=0 len=2 (7-bit) payload: 68 69 |hi|"
    );
    assert!(
        lines[1].contains(
            "= 1002 protocol error, reason \"RSV1 set but no extension negotiated (RFC 6455 §5.2)\""
        ),
        "{}",
        lines[1]
    );
}

#[cfg(feature = "deflate")]
#[test]
fn rfc7692_6_trace_shows_a_compressed_message_with_both_sizes() {
    // The default configuration accepts permessage-deflate.
    let config = ws6455::ServerConfig::default();
    let addr = start_server(config, ws6455::server::Echo);
    let (mut ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    let (observe, lines) = collector();
    ws.set_trace(observe);
    let text = "the same words again and again, ".repeat(40);
    ws.send(Message::Text(text.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(text));

    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let sent = "> compressed text message (RSV1): 1280 bytes inflated, ";
    let received = "< compressed text message (RSV1): 1280 bytes inflated, ";
    assert!(lines[0].starts_with(sent), "{}", lines[0]);
    assert!(lines[0].ends_with(": \"the same words a\""), "{}", lines[0]);
    assert!(
        lines[1].starts_with("> text FIN=1 RSV1-3=100 "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("< text FIN=1 RSV1-3=100 "),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with(received), "{}", lines[3]);
    // The sizes on the wire are the frames' lengths.
    for (message, frame) in [(&lines[0], &lines[1]), (&lines[3], &lines[2])] {
        let wire_len = message[sent.len()..].split(' ').next().unwrap();
        assert!(
            frame.contains(&format!(" len={wire_len} ")),
            "{message}\n{frame}"
        );
    }
}
