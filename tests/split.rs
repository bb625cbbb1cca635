//! Full duplex over real loopback sockets: a server-side connection split
//! into a `ReadHalf` and `WriteHalf` clones on several threads, against a
//! peer that writes raw frames and checks every frame it receives.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{answer_close_then_read_rest, count, masked, read_frames};
use proptest::prelude::*;
use ws6455::proto::OpCode;
use ws6455::{CloseCode, CloseFrame, Error, Limits, Message, ReadHalf, Role, WebSocket, WriteHalf};

/// A connected pair: our end as a server-side WebSocket split in halves, and
/// the peer's raw socket.
fn split_pair() -> (ReadHalf<TcpStream>, WriteHalf<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let ws = WebSocket::from_raw(ours, Role::Server, Limits::default(), Vec::new());
    let (read_half, write_half) = ws.split().unwrap();
    (read_half, write_half, peer)
}

#[test]
fn read_buffered_takes_what_arrived_with_the_last_read_and_never_reads_the_stream() {
    let (mut read, _write, mut peer) = split_pair();
    let mut burst = masked(OpCode::Text, b"one");
    burst.extend(masked(OpCode::Binary, b"two"));
    let three = masked(OpCode::Text, b"three");
    burst.extend(&three[..4]);
    peer.write_all(&burst).unwrap();
    assert_eq!(read.read().unwrap(), Message::Text("one".into()));
    assert_eq!(
        read.read_buffered().unwrap(),
        Some(Message::Binary(b"two".to_vec()))
    );
    // Part of "three" is here, and nothing more will come until the peer
    // writes: a read of the stream would block this test for ever.
    assert_eq!(read.read_buffered().unwrap(), None);
    assert_eq!(read.read_buffered().unwrap(), None);
    peer.write_all(&three[4..]).unwrap();
    assert_eq!(read.read().unwrap(), Message::Text("three".into()));
    assert_eq!(read.read_buffered().unwrap(), None);
}

#[test]
fn read_buffered_answers_and_fails_as_read_does() {
    let (mut read, write, mut peer) = split_pair();
    let mut burst = masked(OpCode::Ping, b"p");
    // RFC 6455 §5.1: a client's frames are masked; this one is not.
    burst.extend([0x81, 0x01, b'x']);
    peer.write_all(&masked(OpCode::Text, b"first")).unwrap();
    assert_eq!(read.read().unwrap(), Message::Text("first".into()));
    peer.write_all(&burst).unwrap();
    assert_eq!(read.read().unwrap(), Message::Ping(b"p".to_vec()));
    assert!(matches!(read.read_buffered(), Err(Error::Protocol(_))));
    assert!(matches!(read.read_buffered(), Err(Error::Closed)));
    drop((read, write));
    let frames = read_frames(&peer, |_| {});
    let opcodes: Vec<OpCode> = frames.iter().map(|frame| frame.opcode).collect();
    assert_eq!(opcodes, [OpCode::Pong, OpCode::Close]);
    assert_eq!(frames[1].payload[..2], 1002u16.to_be_bytes());
}

#[test]
fn automatic_pongs_never_land_inside_another_frame() {
    let (mut read_half, write_half, peer) = split_pair();
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let writer = {
        let big = big.clone();
        // The writer thread holds the only write half: when it and the
        // reader are done, our end of the connection is closed.
        thread::spawn(move || {
            for _ in 0..20 {
                write_half.send(Message::Binary(big.clone())).unwrap();
            }
        })
    };
    let reader = thread::spawn(move || {
        let mut pings = 0;
        loop {
            match read_half.read() {
                Ok(Message::Ping(_)) => pings += 1,
                Ok(Message::Close(_)) => return pings,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => panic!("read failed: {e}"),
            }
        }
    });
    let mut peer_writer = peer.try_clone().unwrap();
    let pinger = thread::spawn(move || {
        for i in 0..200u32 {
            peer_writer
                .write_all(&masked(OpCode::Ping, &i.to_be_bytes()))
                .unwrap();
            if i % 20 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
        peer_writer
    });
    let mut peer_writer = Some(pinger);
    let mut pongs = 0;
    let mut binaries = 0;
    let frames = read_frames(&peer, |frame| match frame.opcode {
        OpCode::Pong => pongs += 1,
        OpCode::Binary => {
            binaries += 1;
            if binaries == 20 {
                // All data is in; close from the peer's side.
                let mut stream = peer_writer.take().unwrap().join().unwrap();
                let mut close = Vec::new();
                CloseFrame {
                    code: CloseCode::NORMAL,
                    reason: String::new(),
                }
                .encode(&mut close);
                stream.write_all(&masked(OpCode::Close, &close)).unwrap();
            }
        }
        OpCode::Close => {
            // Our answer; the test ends the TCP connection as a server would.
            peer.shutdown(Shutdown::Write).unwrap();
        }
        other => panic!("unexpected {other}"),
    });
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), 200);
    for frame in &frames {
        if frame.opcode == OpCode::Binary {
            assert_eq!(frame.payload, big, "a data frame arrived intact");
        }
        assert!(frame.fin);
    }
    assert_eq!(count(&frames, OpCode::Binary), 20);
    assert_eq!(count(&frames, OpCode::Pong), 200);
    assert_eq!(count(&frames, OpCode::Close), 1);
    let pong_payloads: Vec<u32> = frames
        .iter()
        .filter(|f| f.opcode == OpCode::Pong)
        .map(|f| u32::from_be_bytes(f.payload[..].try_into().unwrap()))
        .collect();
    assert_eq!(
        pong_payloads,
        (0..200).collect::<Vec<_>>(),
        "pongs answer pings in order"
    );
}

#[test]
fn after_the_close_handshake_both_halves_report_it() {
    let (mut read_half, write_half, peer) = split_pair();
    let peer_side = thread::spawn(move || answer_close_then_read_rest(&peer));
    write_half.send(Message::Text("bye soon".into())).unwrap();
    write_half.close(CloseCode::NORMAL, "done").unwrap();
    assert!(!write_half.is_open());
    assert_eq!(
        read_half.read().unwrap(),
        Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".into()
        }))
    );
    assert!(read_half.is_closed() && write_half.is_closed());
    assert!(matches!(read_half.read(), Err(Error::Closed)));
    assert!(matches!(
        write_half.send(Message::Text("late".into())),
        Err(Error::Closed)
    ));
    assert!(matches!(
        write_half.close(CloseCode::NORMAL, ""),
        Err(Error::Closed)
    ));
    drop((read_half, write_half));
    let frames = peer_side.join().unwrap();
    assert_eq!(count(&frames, OpCode::Close), 1);
    assert_eq!(frames.last().unwrap().opcode, OpCode::Close);
}

#[test]
fn exactly_one_close_when_the_peer_closes_while_we_do() {
    for _ in 0..20 {
        let (mut read_half, write_half, peer) = split_pair();
        let mut close = Vec::new();
        CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: String::new(),
        }
        .encode(&mut close);
        let racing = {
            let write_half = write_half.clone();
            thread::spawn(move || write_half.close(CloseCode::NORMAL, "ours"))
        };
        (&peer).write_all(&masked(OpCode::Close, &close)).unwrap();
        assert!(matches!(read_half.read(), Ok(Message::Close(_))));
        // Whether ours went first or was an answer, it is sent once.
        let _ = racing.join().unwrap();
        let _ = write_half.close(CloseCode::NORMAL, "again");
        drop((read_half, write_half));
        let frames = read_frames(&peer, |_| {});
        assert_eq!(count(&frames, OpCode::Close), 1, "{frames:?}");
    }
}

#[test]
fn a_writer_blocked_on_a_peer_that_does_not_read_never_stops_the_reader() {
    let (mut read_half, write_half, peer) = split_pair();
    let stuck = {
        let write_half = write_half.clone();
        thread::spawn(move || {
            // 64 MiB into a peer that reads nothing: this blocks.
            let result = write_half.send(Message::Binary(vec![7; 64 << 20]));
            assert!(
                result.is_err(),
                "the peer read nothing, yet 64 MiB went out"
            );
        })
    };
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    (&peer)
        .write_all(&masked(OpCode::Text, b"still reading?"))
        .unwrap();
    for i in 0..10u8 {
        (&peer).write_all(&masked(OpCode::Ping, &[i])).unwrap();
    }
    assert_eq!(
        read_half.read().unwrap(),
        Message::Text("still reading?".into())
    );
    for i in 0..10u8 {
        assert_eq!(read_half.read().unwrap(), Message::Ping(vec![i]));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Unblock the writer: the connection is cut.
    peer.shutdown(Shutdown::Both).unwrap();
    drop(peer);
    stuck.join().unwrap();
}

#[test]
fn many_writer_threads_each_keep_their_order() {
    let (mut read_half, write_half, peer) = split_pair();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let write_half = write_half.clone();
            thread::spawn(move || {
                for n in 0..500 {
                    write_half.send(Message::Text(format!("{w}:{n}"))).unwrap();
                }
            })
        })
        .collect();
    let reader = thread::spawn(move || while read_half.read().is_ok() {});
    let peer_side = thread::spawn(move || answer_close_then_read_rest(&peer));
    for writer in writers {
        writer.join().unwrap();
    }
    write_half.close(CloseCode::NORMAL, "").unwrap();
    reader.join().unwrap();
    drop(write_half);
    let frames = peer_side.join().unwrap();
    let mut next: HashMap<String, u32> = HashMap::new();
    for frame in frames.iter().filter(|f| f.opcode == OpCode::Text) {
        let text = String::from_utf8(frame.payload.clone()).unwrap();
        let (writer, n) = text.split_once(':').unwrap();
        let expected = next.entry(writer.to_owned()).or_insert(0);
        assert_eq!(n.parse::<u32>().unwrap(), *expected, "writer {writer}");
        *expected += 1;
    }
    assert_eq!(next.values().sum::<u32>(), 2000);
}

/// Who starts the closing handshake in a property run.
#[derive(Clone, Copy, Debug)]
enum Closer {
    Us,
    Peer,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Several writer threads, the peer's pings and a close from either
    /// side, in whatever interleaving the threads find: every frame on the
    /// wire is whole, each writer's messages arrive in its order, each Ping
    /// sent before the close is answered, exactly one Close is sent.
    #[test]
    fn split_connections_keep_frames_whole_order_and_one_close(
        sizes in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![0usize..200, 60_000usize..70_000], 0..30),
            1..4),
        pings in 0usize..40,
        closer in prop_oneof![Just(Closer::Us), Just(Closer::Peer)],
    ) {
        let (mut read_half, write_half, peer) = split_pair();
        // The peer's writing end, and whether the peer has sent its Close.
        let peer_writer = Arc::new(Mutex::new((peer.try_clone().unwrap(), false)));
        let writers: Vec<_> = sizes.iter().enumerate().map(|(w, sizes)| {
            let (write_half, sizes) = (write_half.clone(), sizes.clone());
            thread::spawn(move || {
                for (n, size) in sizes.into_iter().enumerate() {
                    let mut payload = vec![w as u8; size.max(8)];
                    payload[..4].copy_from_slice(&(n as u32).to_be_bytes());
                    if write_half.send(Message::Binary(payload)).is_err() {
                        return; // the peer closed first
                    }
                }
            })
        }).collect();
        let reader = thread::spawn(move || {
            let mut messages = Vec::new();
            while let Ok(message) = read_half.read() {
                messages.push(message);
            }
            messages
        });
        let pinger = {
            let peer_writer = Arc::clone(&peer_writer);
            thread::spawn(move || {
                for i in 0..pings as u32 {
                    let sent = peer_writer.lock().unwrap().0.write_all(&masked(OpCode::Ping, &i.to_be_bytes()));
                    if sent.is_err() {
                        return;
                    }
                }
                if let Closer::Peer = closer {
                    let mut close = Vec::new();
                    CloseFrame { code: CloseCode::NORMAL, reason: String::new() }.encode(&mut close);
                    let mut writer = peer_writer.lock().unwrap();
                    writer.1 = true;
                    let _ = writer.0.write_all(&masked(OpCode::Close, &close));
                }
            })
        };
        let peer_side = {
            let peer_writer = Arc::clone(&peer_writer);
            thread::spawn(move || {
                read_frames(&peer, |frame| {
                    let mut writer = peer_writer.lock().unwrap();
                    if frame.opcode == OpCode::Close && !writer.1 {
                        writer.1 = true;
                        let _ = writer.0.write_all(&masked(OpCode::Close, &frame.payload));
                    }
                })
            })
        };
        for writer in writers {
            writer.join().unwrap();
        }
        pinger.join().unwrap();
        if let Closer::Us = closer {
            let _ = write_half.close(CloseCode::NORMAL, "");
        }
        let messages = reader.join().unwrap();
        prop_assert!(matches!(messages.last(), Some(Message::Close(_))), "{:?}", messages.last());
        let _ = write_half.flush();
        drop(write_half);
        let frames = peer_side.join().unwrap();

        prop_assert_eq!(count(&frames, OpCode::Close), 1);
        prop_assert_eq!(frames.last().map(|f| f.opcode), Some(OpCode::Close));
        let mut next = vec![0u32; sizes.len()];
        for frame in frames.iter().filter(|f| f.opcode == OpCode::Binary) {
            let w = frame.payload[4] as usize;
            let n = u32::from_be_bytes(frame.payload[..4].try_into().unwrap());
            prop_assert_eq!(n, next[w], "writer {}", w);
            prop_assert!(frame.payload[4..].iter().all(|&b| b as usize == w));
            next[w] += 1;
        }
        if let Closer::Us = closer {
            for (w, sizes) in sizes.iter().enumerate() {
                prop_assert_eq!(next[w] as usize, sizes.len(), "writer {} sent everything", w);
            }
        }
        // Every Ping we read while open was answered, in order.
        let pings_read: Vec<Vec<u8>> = messages.iter().filter_map(|m| match m {
            Message::Ping(data) => Some(data.clone()),
            _ => None,
        }).collect();
        let pongs: Vec<Vec<u8>> = frames.iter().filter(|f| f.opcode == OpCode::Pong).map(|f| f.payload.clone()).collect();
        prop_assert!(pings_read.starts_with(&pongs), "pongs answer the pings read, in order");
        if let Closer::Peer = closer {
            prop_assert_eq!(pongs.len(), pings, "every ping came before the peer's close");
        }
    }
}
