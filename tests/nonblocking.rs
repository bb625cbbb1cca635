//! A connection over a real non-blocking `TcpStream`: `WouldBlock` takes
//! nothing away. A send that meets it has taken the message, and the next
//! flush continues where the last write stopped; a read that meets it can
//! be called again.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::masked;
use ws6455::proto::Decoded;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, OpCode};
use ws6455::{Error, Limits, Message, Role, WebSocket};

fn would_block<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock)
}

/// Reads whole client frames from `stream` until `n` have arrived; returns
/// their opcodes and unmasked payloads, and any bytes past them.
fn read_client_frames(stream: &mut TcpStream, n: usize) -> (Vec<(OpCode, Vec<u8>)>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    let mut chunk = vec![0; 256 << 10];
    while frames.len() < n {
        if let Ok(Decoded::Complete(header, len)) = FrameHeader::decode(&buf) {
            let end = len + header.payload_len as usize;
            if buf.len() >= end {
                let mut payload = buf[len..end].to_vec();
                apply_mask(
                    &mut payload,
                    header.mask.expect("client frames are masked"),
                    0,
                );
                frames.push((header.opcode, payload));
                buf.drain(..end);
                continue;
            }
        }
        let got = stream.read(&mut chunk).unwrap();
        assert!(got > 0, "the stream ended after {} frames", frames.len());
        buf.extend_from_slice(&chunk[..got]);
    }
    (frames, buf)
}

#[test]
fn a_send_that_would_block_loses_nothing_and_flush_resumes_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    ours.set_nonblocking(true).unwrap();
    let mut ws = WebSocket::from_raw(ours, Role::Client, Limits::default(), Vec::new());

    let big: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let peer_side = thread::spawn(move || {
        // The peer reads nothing for a second while the 8 MiB go out.
        thread::sleep(Duration::from_secs(1));
        let (frames, rest) = read_client_frames(&mut peer, 2);
        assert!(
            rest.is_empty(),
            "{} bytes after the frames: something was written twice",
            rest.len()
        );
        peer.write_all(&[0x81, 0x05]).unwrap();
        peer.write_all(b"hello").unwrap();
        (frames, peer)
    });

    let first = ws.send(Message::Binary(big.clone()));
    assert!(would_block(&first), "8 MiB fit a socket buffer? {first:?}");
    // Queued behind the rest of the big message, not lost or reordered.
    let second = ws.send(Message::Text("after".into()));
    assert!(would_block(&second), "{second:?}");
    let started = Instant::now();
    let mut blocked_flushes = 0;
    loop {
        match ws.flush() {
            Ok(()) => break,
            Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                blocked_flushes += 1;
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("flush failed: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "flush never finished"
        );
    }
    assert!(blocked_flushes > 0);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the peer was not reading"
    );

    // A read with nothing to read says WouldBlock, and can be called again.
    let mut reads_blocked = 0;
    let message = loop {
        match ws.read() {
            Ok(message) => break message,
            Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                reads_blocked += 1;
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read failed: {e}"),
        }
    };
    assert_eq!(message, Message::Text("hello".into()));
    assert!(reads_blocked > 0);

    let (frames, _peer) = peer_side.join().unwrap();
    assert_eq!(frames[0].0, OpCode::Binary);
    assert!(
        frames[0].1 == big,
        "the 8 MiB arrived intact, each byte once"
    );
    assert_eq!(frames[1], (OpCode::Text, b"after".to_vec()));
    assert!(ws.is_open());
}

#[test]
fn a_read_that_would_block_keeps_a_frame_cut_in_half() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let ours_server = {
        ours.set_nonblocking(true).unwrap();
        ours
    };
    // Our end is the server here: the peer sends masked frames.
    let mut ws = WebSocket::from_raw(ours_server, Role::Server, Limits::default(), Vec::new());
    let frame = masked(OpCode::Text, "split across reads".as_bytes());
    let (head, tail) = frame.split_at(9);
    (&peer).write_all(head).unwrap();
    let mut blocked = 0;
    let mut sent_tail = false;
    let message = loop {
        match ws.read() {
            Ok(message) => break message,
            Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                blocked += 1;
                if blocked == 3 && !sent_tail {
                    (&peer).write_all(tail).unwrap();
                    sent_tail = true;
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("read failed: {e}"),
        }
        assert!(blocked < 5000, "the message never completed");
    };
    assert_eq!(message, Message::Text("split across reads".into()));
}

#[test]
fn a_peer_that_sends_without_reading_gets_the_write_error_before_the_queue_grows() {
    // An echo over a socket with a write timeout, to a peer that sends 20 MB
    // of small messages and reads nothing: once the socket takes no more and
    // over 64 KiB of echoes wait, `read` returns the write's timeout instead
    // of reading (and queuing) on.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    ours.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut ws = WebSocket::from_raw(ours, Role::Server, Limits::default(), Vec::new());
    let total = 200_000;
    let sender = {
        let mut peer = peer.try_clone().unwrap();
        thread::spawn(move || {
            let frame = masked(OpCode::Text, &[b'x'; 100]);
            let batch: Vec<u8> = frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * 1000)
                .collect();
            for _ in 0..total / 1000 {
                if peer.write_all(&batch).is_err() {
                    return;
                }
            }
        })
    };
    let mut echoed = 0;
    let error = loop {
        match ws.read() {
            Ok(message) => match ws.queue(message) {
                Ok(()) => echoed += 1,
                Err(e) => break e,
            },
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&error, Error::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "{error:?}"
    );
    assert!(
        echoed < total,
        "all {echoed} were read: nothing held the reader back"
    );
    peer.shutdown(std::net::Shutdown::Both).unwrap();
    drop(ws);
    sender.join().unwrap();
}
