//! `WebSocketStream::split` (feature `tokio`) over real loopback sockets:
//! the read half and write-half clones in separate tasks of a
//! multi-threaded runtime, against a peer on a plain thread that writes
//! raw frames and checks every frame it receives. The rules are those of
//! the blocking halves (`tests/split.rs`).
#![cfg(feature = "tokio")]

#[path = "common/async_peer.rs"]
mod async_peer;
mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use async_peer::raw_peer;
use common::{answer_close_then_read_rest, count, masked, read_frames};
use futures_util::{SinkExt, StreamExt};
use ws6455::proto::OpCode;
use ws6455::{AsyncReadHalf, AsyncWriteHalf, CloseCode, CloseFrame, Error, Limits, Message};

type Halves = (
    AsyncReadHalf<tokio::net::TcpStream>,
    AsyncWriteHalf<tokio::net::TcpStream>,
);

/// A connected pair: our end as a server-side `WebSocketStream` split in
/// halves, and the peer's raw (blocking) socket.
async fn split_pair(limits: Limits) -> (Halves, TcpStream) {
    let (ws, peer) = raw_peer(limits).await;
    (ws.split(), peer)
}

fn close_payload(code: CloseCode) -> Vec<u8> {
    let mut payload = Vec::new();
    CloseFrame {
        code,
        reason: String::new(),
    }
    .encode(&mut payload);
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_pongs_never_land_inside_another_frame() {
    let ((mut read_half, mut write_half), peer) = split_pair(Limits::default()).await;
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let writer = {
        let big = big.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                write_half.send(Message::Binary(big.clone())).await.unwrap();
            }
        })
    };
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(message) = read_half.next().await {
            match message.unwrap() {
                Message::Ping(_) => pings += 1,
                Message::Close(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        pings
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
    let peer_side = thread::spawn(move || {
        let mut peer_writer = Some(pinger);
        let mut binaries = 0;
        read_frames(&peer, |frame| match frame.opcode {
            OpCode::Pong => {}
            OpCode::Binary => {
                binaries += 1;
                if binaries == 20 {
                    // All data is in; close from the peer's side.
                    let mut stream = peer_writer.take().unwrap().join().unwrap();
                    let close = close_payload(CloseCode::NORMAL);
                    stream.write_all(&masked(OpCode::Close, &close)).unwrap();
                }
            }
            // Our answer; the peer ends TCP as a server would.
            OpCode::Close => peer.shutdown(Shutdown::Write).unwrap(),
            other => panic!("unexpected {other}"),
        })
    });
    writer.await.unwrap();
    assert_eq!(reader.await.unwrap(), 200);
    let frames = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_close_handshake_both_halves_report_it() {
    let ((mut read_half, mut write_half), peer) = split_pair(Limits::default()).await;
    let peer_side = thread::spawn(move || answer_close_then_read_rest(&peer));
    write_half.send(Message::text("bye soon")).await.unwrap();
    write_half.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(
        read_half.next().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".into()
        }))
    );
    assert!(read_half.next().await.is_none());
    assert!(matches!(
        write_half.send(Message::text("late")).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        write_half.close(CloseCode::NORMAL, "").await,
        Err(Error::Closed)
    ));
    drop((read_half, write_half));
    let frames = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
    assert_eq!(count(&frames, OpCode::Close), 1);
    assert_eq!(frames.last().unwrap().opcode, OpCode::Close);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_close_when_the_peer_closes_while_we_do() {
    for _ in 0..20 {
        let ((mut read_half, write_half), peer) = split_pair(Limits::default()).await;
        let racing = {
            let write_half = write_half.clone();
            tokio::spawn(async move { write_half.close(CloseCode::NORMAL, "ours").await })
        };
        (&peer)
            .write_all(&masked(
                OpCode::Close,
                &close_payload(CloseCode::GOING_AWAY),
            ))
            .unwrap();
        assert!(matches!(
            read_half.next().await,
            Some(Ok(Message::Close(_)))
        ));
        // Whether ours went first or was an answer, it is sent once.
        let _ = racing.await.unwrap();
        let _ = write_half.close(CloseCode::NORMAL, "again").await;
        drop((read_half, write_half));
        let frames = read_frames(&peer, |_| {});
        assert_eq!(count(&frames, OpCode::Close), 1, "{frames:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_waiting_on_a_peer_that_does_not_read_never_stops_the_reader() {
    let ((mut read_half, mut write_half), peer) = split_pair(Limits::default()).await;
    let stuck = tokio::spawn(async move {
        // 64 MiB into a peer that reads nothing: this waits.
        let result = write_half.send(Message::Binary(vec![7; 64 << 20])).await;
        assert!(
            result.is_err(),
            "the peer read nothing, yet 64 MiB went out"
        );
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    (&peer)
        .write_all(&masked(OpCode::Text, b"still reading?"))
        .unwrap();
    for i in 0..10u8 {
        (&peer).write_all(&masked(OpCode::Ping, &[i])).unwrap();
    }
    let reading = async {
        assert_eq!(
            read_half.next().await.unwrap().unwrap(),
            Message::text("still reading?")
        );
        for i in 0..10u8 {
            assert_eq!(
                read_half.next().await.unwrap().unwrap(),
                Message::Ping(vec![i])
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .expect("the reader went on while the writer waited");
    // Cut the connection: the writer's wait ends with an error.
    peer.shutdown(Shutdown::Both).unwrap();
    drop(peer);
    stuck.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_is_woken_when_the_reader_writes_its_bytes() {
    // The writer waits for the socket to take 16 MiB. Meanwhile the peer
    // pings, so the reader writes too (the queue, its Pongs behind it) and
    // waits on the same socket: each half's wait must wake the other, or
    // the writer would wait for ever for bytes the reader wrote.
    let ((mut read_half, mut write_half), peer) = split_pair(Limits::default()).await;
    let payload = vec![9u8; 16 << 20];
    // The peer pings only once the message is queued, so that it is the
    // first frame on the wire and the Pongs come behind it.
    let (queued, wait_for_queued) = std::sync::mpsc::channel();
    let writer = {
        let payload = payload.clone();
        tokio::spawn(async move {
            write_half.feed(Message::Binary(payload)).await.unwrap();
            queued.send(()).unwrap();
            write_half.flush().await.unwrap();
            write_half
        })
    };
    let pings_read = Arc::new(AtomicU32::new(0));
    let reader = {
        let pings_read = Arc::clone(&pings_read);
        tokio::spawn(async move {
            while let Some(Ok(message)) = read_half.next().await {
                if let Message::Ping(_) = message {
                    pings_read.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let mut pinger = peer.try_clone().unwrap();
    let pinging = thread::spawn(move || {
        wait_for_queued.recv().unwrap();
        for i in 0..50u32 {
            pinger
                .write_all(&masked(OpCode::Ping, &i.to_be_bytes()))
                .unwrap();
            thread::sleep(Duration::from_millis(5));
        }
    });
    let peer_side = thread::spawn(move || {
        // The peer starts reading late, so that both halves wait on it.
        thread::sleep(Duration::from_millis(300));
        answer_close_then_read_rest(&peer)
    });
    let write_half = tokio::time::timeout(Duration::from_secs(20), writer)
        .await
        .expect("the writer was woken when its bytes were written")
        .unwrap();
    tokio::task::spawn_blocking(move || pinging.join().unwrap())
        .await
        .unwrap();
    while pings_read.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    write_half.close(CloseCode::NORMAL, "").await.unwrap();
    reader.await.unwrap();
    drop(write_half);
    let frames = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
    assert_eq!(frames[0].payload, payload);
    let pongs: Vec<u32> = frames
        .iter()
        .filter(|f| f.opcode == OpCode::Pong)
        .map(|f| u32::from_be_bytes(f.payload[..].try_into().unwrap()))
        .collect();
    assert_eq!(pongs, (0..50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writer_tasks_each_keep_their_order() {
    let ((mut read_half, write_half), peer) = split_pair(Limits::default()).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut write_half = write_half.clone();
            tokio::spawn(async move {
                for n in 0..500 {
                    write_half
                        .send(Message::text(format!("{w}:{n}")))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = read_half.next().await {} });
    let peer_side = thread::spawn(move || answer_close_then_read_rest(&peer));
    for writer in writers {
        writer.await.unwrap();
    }
    write_half.close(CloseCode::NORMAL, "").await.unwrap();
    reader.await.unwrap();
    drop(write_half);
    let frames = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
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
