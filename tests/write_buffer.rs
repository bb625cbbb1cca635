//! The write queue is bounded (`Limits::max_write_buffer`): a peer that
//! does not read cannot make a sender queue without end. A message that
//! would take the queue past the bound, while something waits already, is
//! refused and given back; answers the protocol requires still go out; and
//! once the peer reads again, sends are taken again.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{frame, take_output};
use ws6455::proto::{OpCode, SharedMessage};
use ws6455::{CloseCode, Engine, Error, Limits, Message, MessageRef, Role, WebSocket};

const LIMIT: usize = 1000;

fn engine() -> Engine {
    Engine::new(Role::Server, Limits::default().max_write_buffer(LIMIT))
}

#[test]
fn a_message_past_the_bound_is_refused_and_given_back() {
    let mut server = engine();
    server.send(Message::binary(vec![1; 600])).unwrap();
    assert_eq!(server.queued_bytes(), 2 + 2 + 600);
    let refused = Message::binary(vec![2; 600]);
    match server.send(refused.clone()) {
        Err(Error::WriteBufferFull {
            message: Some(message),
            queued: 604,
        }) => assert_eq!(message, refused),
        other => panic!("expected the message back, got {other:?}"),
    }
    // Borrowed and shared messages are refused the same way; the caller
    // still holds them.
    assert!(matches!(
        server.send_ref(MessageRef::Binary(&[3; 600])),
        Err(Error::WriteBufferFull { message: None, .. })
    ));
    assert!(matches!(
        server.send_shared(&SharedMessage::binary(vec![4; 600])),
        Err(Error::WriteBufferFull { message: None, .. })
    ));
    // Nothing refused was queued, and the connection is still open.
    assert_eq!(take_output(&mut server).len(), 604);
    assert!(server.is_open());
    server.send(refused).unwrap();
}

#[test]
fn an_empty_queue_takes_a_message_of_any_size() {
    let mut server = engine();
    server.send(Message::binary(vec![0; 10 * LIMIT])).unwrap();
    assert!(server.queued_bytes() > 10 * LIMIT);
    assert!(matches!(
        server.send(Message::text("one more")),
        Err(Error::WriteBufferFull { .. })
    ));
}

#[test]
fn answers_and_the_close_go_out_past_the_bound() {
    let mut server = engine();
    server.send(Message::binary(vec![0; 2 * LIMIT])).unwrap();
    let queued = server.queued_bytes();
    // RFC 6455 §5.5.2: a Ping is answered, full queue or not.
    let mut ping = frame(OpCode::Ping, Some([1, 2, 3, 4]), b"still there?");
    let progress = server.receive(&mut ping).unwrap();
    assert_eq!(
        progress.message,
        Some(Message::Ping(b"still there?".to_vec()))
    );
    assert_eq!(server.queued_bytes(), queued + 2 + 12);
    server.close(CloseCode::GOING_AWAY, "").unwrap();
    assert!(server.is_closing());
}

/// A connected pair of sockets: ours, and a peer that reads nothing until
/// told to.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (ours, peer)
}

/// Reads everything the peer is sent until it closes, on a thread.
fn drain(mut peer: TcpStream) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut sink = [0u8; 64 << 10];
        let mut total = 0;
        while let Ok(n @ 1..) = peer.read(&mut sink) {
            total += n as u64;
        }
        total
    })
}

#[test]
fn a_non_blocking_connection_to_a_peer_that_does_not_read_is_refused_past_the_bound() {
    let (ours, peer) = pair();
    ours.set_nonblocking(true).unwrap();
    let limits = Limits::default().max_write_buffer(256 << 10);
    let mut ws = WebSocket::from_raw(ours, Role::Server, limits, Vec::new());
    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0;
    let refused = loop {
        match ws.send(Message::binary(chunk.clone())) {
            // Taken: what the socket did not take stays queued.
            Ok(()) | Err(Error::Io(_)) => sent += 1,
            Err(Error::WriteBufferFull { message, queued }) => break (message, queued),
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(sent < 10_000, "the queue never filled");
    };
    assert_eq!(refused.0, Some(Message::binary(chunk.clone())));
    // Refused because it would have taken the queue past the bound.
    assert_eq!(refused.1, ws.queued_bytes());
    assert!(ws.queued_bytes() + (64 << 10) > 256 << 10);
    // The peer reads again: the queue empties, and sends are taken again.
    let reader = drain(peer);
    while ws.queued_bytes() > 0 {
        match ws.flush() {
            Ok(()) => {}
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    ws.get_ref().set_nonblocking(false).unwrap();
    ws.send(Message::binary(chunk)).unwrap();
    drop(ws);
    let frame_len = 2 + 8 + (64 << 10) as u64;
    assert_eq!(reader.join().unwrap(), (sent + 1) * frame_len);
}

#[test]
fn a_write_half_to_a_peer_that_does_not_read_is_refused_past_the_bound() {
    let (ours, peer) = pair();
    ours.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let limits = Limits::default().max_write_buffer(256 << 10);
    let ws = WebSocket::from_raw(ours, Role::Server, limits, Vec::new());
    let (_reader, writer) = ws.split().unwrap();
    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0u64;
    loop {
        match writer.send(Message::binary(chunk.clone())) {
            // Taken: the write timed out with the rest in flight.
            Ok(()) | Err(Error::Io(_)) => sent += 1,
            Err(Error::WriteBufferFull { message, queued }) => {
                assert_eq!(message, Some(Message::binary(chunk.clone())));
                assert!(queued + (64 << 10) > 256 << 10, "{queued}");
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(sent < 10_000, "the queue never filled");
    }
    assert!(writer.queued_bytes() + (64 << 10) > 256 << 10);
    let reader = drain(peer);
    while writer.queued_bytes() > 0 {
        let _ = writer.flush();
    }
    writer.send(Message::binary(chunk)).unwrap();
    drop((_reader, writer));
    let frame_len = 2 + 8 + (64 << 10) as u64;
    assert_eq!(reader.join().unwrap(), (sent + 1) * frame_len);
}
