//! `WebSocketStream` (feature `tokio`): the engine over an async stream,
//! as a `Stream` and a `Sink`, between two ends of an in-memory pipe or
//! against a raw peer on a loopback socket; the rules of the blocking
//! connection (limits, the closing handshake, the write queue's bound) and
//! what a dropped future leaves behind.
#![cfg(feature = "tokio")]

#[path = "common/async_peer.rs"]
mod async_peer;
mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use async_peer::raw_peer;
use common::{expect_close, masked, read_frames};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use ws6455::proto::OpCode;
use ws6455::{CloseCode, CloseFrame, Error, Limits, Message, Role, StreamEvent, WebSocketStream};

fn pair(
    capacity: usize,
) -> (
    WebSocketStream<tokio::io::DuplexStream>,
    WebSocketStream<tokio::io::DuplexStream>,
) {
    let (a, b) = tokio::io::duplex(capacity);
    (
        WebSocketStream::from_raw(a, Role::Client, Limits::default(), Vec::new()),
        WebSocketStream::from_raw(b, Role::Server, Limits::default(), Vec::new()),
    )
}

#[tokio::test]
async fn messages_go_both_ways_and_the_closing_handshake_ends_both_streams() {
    let (mut client, mut server) = pair(64 << 10);
    let echo = tokio::spawn(async move {
        while let Some(message) = server.next().await {
            match message.unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => server.send(m).await.unwrap(),
                Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
            }
        }
    });
    client.send(Message::text("Hello")).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::text("Hello")
    );
    let big = vec![7u8; 300_000];
    client.send(Message::Binary(big.clone())).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), Message::Binary(big));
    client.close(CloseCode::NORMAL, "bye").await.unwrap();
    match client.next().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    assert!(client.next().await.is_none());
    echo.await.unwrap();
}

#[tokio::test]
async fn a_reader_answers_pings_without_writing_itself() {
    let (raw, b) = tokio::io::duplex(1024);
    let mut server = WebSocketStream::from_raw(b, Role::Server, Limits::default(), Vec::new());
    let mut client = WebSocketStream::from_raw(raw, Role::Client, Limits::default(), Vec::new());
    client
        .send(Message::Ping(b"are you there".to_vec()))
        .await
        .unwrap();
    client.send(Message::text("then this")).await.unwrap();
    // The server only reads: the Pong goes out when its read has nothing
    // more to decode and waits for input.
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        while let Some(message) = server.next().await {
            received.push(message.unwrap());
        }
        received
    });
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::Pong(b"are you there".to_vec())
    );
    client.close(CloseCode::NORMAL, "").await.unwrap();
    while client.next().await.is_some() {}
    let received = reader.await.unwrap();
    assert_eq!(
        received[..2],
        [
            Message::Ping(b"are you there".to_vec()),
            Message::text("then this")
        ]
    );
}

#[tokio::test]
async fn a_next_dropped_part_way_loses_nothing() {
    let (a, mut raw) = tokio::io::duplex(1024);
    let mut server = WebSocketStream::from_raw(a, Role::Server, Limits::default(), Vec::new());
    // A masked "Hello" (RFC 6455 §5.7), written in two parts with a pause.
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    raw.write_all(&frame[..4]).await.unwrap();
    let cut_short = tokio::time::timeout(Duration::from_millis(50), server.next()).await;
    assert!(cut_short.is_err(), "the message is not whole yet");
    raw.write_all(&frame[4..]).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("Hello")
    );
}

#[tokio::test]
async fn accept_async_opens_a_connection_for_the_blocking_client() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || {
        let (mut ws, response) = ws6455::connect(&format!("ws://{addr}/chat")).unwrap();
        assert_eq!(response.status, 101);
        ws.send(Message::text("Hello")).unwrap();
        let echoed = ws.read().unwrap();
        ws.close(CloseCode::NORMAL, "").unwrap();
        while !ws.read().unwrap().is_close() {}
        echoed
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let (mut ws, request) = ws6455::accept_async(tcp).await.unwrap();
    assert_eq!(request.path, "/chat");
    while let Some(message) = ws.next().await {
        if let m @ Message::Text(_) = message.unwrap() {
            ws.send(m).await.unwrap();
        }
    }
    assert_eq!(client.await.unwrap(), Message::text("Hello"));
}

#[tokio::test]
async fn accept_hdr_async_refuses_with_the_applications_response() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client =
        tokio::task::spawn_blocking(move || ws6455::connect(&format!("ws://{addr}/")).unwrap_err());
    let (tcp, _) = listener.accept().await.unwrap();
    let refused = ws6455::accept_hdr_async(tcp, &ws6455::ServerConfig::default(), |_| {
        Err(ws6455::Response::text(403, "Forbidden", "not you"))
    })
    .await;
    assert!(refused.is_err());
    let error = client.await.unwrap().to_string();
    assert!(error.contains("403"), "{error}");
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn connect_async_and_accept_async_agree_on_permessage_deflate() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut ws, _) = ws6455::accept_async(tcp).await.unwrap();
        while let Some(message) = ws.next().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = message.unwrap() {
                ws.send(m).await.unwrap();
            }
        }
    });
    let (mut ws, response) = ws6455::connect_async(&format!("ws://{addr}/"))
        .await
        .unwrap();
    let extensions = response.header("Sec-WebSocket-Extensions").unwrap();
    assert!(
        extensions.starts_with(b"permessage-deflate"),
        "{extensions:?}"
    );
    let text = "the same words again and again, ".repeat(100);
    for _ in 0..3 {
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while let Some(message) = ws.next().await {
        assert!(message.unwrap().is_close());
    }
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_dropped_part_way_leaves_no_half_frame() {
    let (mut ws, peer) = raw_peer(Limits::default()).await;
    // 8 MiB to a peer that does not read yet: the send cannot finish, and
    // the timeout drops it part-way.
    let big: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        ws.send(Message::Binary(big.clone())),
    );
    assert!(
        dropped.await.is_err(),
        "the peer read nothing, yet 8 MiB went out"
    );
    // The next send writes what was left, then its own.
    let peer_side = thread::spawn(move || {
        let frames = read_frames(&peer, |_| {});
        (peer, frames)
    });
    ws.send(Message::text("after")).await.unwrap();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    drop(ws);
    let (_peer, frames) = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
    let opcodes: Vec<OpCode> = frames.iter().map(|frame| frame.opcode).collect();
    assert_eq!(opcodes, [OpCode::Binary, OpCode::Text, OpCode::Close]);
    assert!(
        frames[0].payload == big,
        "the dropped send's message arrived whole"
    );
    assert_eq!(frames[1].payload, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_holds_the_queue_at_its_bound() {
    let bound = 1 << 20;
    let limits = Limits::default().max_write_buffer(bound);
    let (mut ws, peer) = raw_peer(limits).await;
    // Messages are fed (queued, not flushed) until one waits: the socket's
    // buffers are full and the queue is at its bound.
    let message = vec![5u8; 64 << 10];
    let mut taken = 0u32;
    loop {
        let mut numbered = message.clone();
        numbered[..4].copy_from_slice(&taken.to_be_bytes());
        let fed = tokio::time::timeout(
            Duration::from_millis(200),
            ws.feed(Message::Binary(numbered)),
        );
        match fed.await {
            Ok(result) => result.unwrap(),
            Err(_waiting) => break,
        }
        taken += 1;
        assert!(taken < 100_000, "the queue never filled");
    }
    assert!(
        ws.queued_bytes() <= bound + message.len() + 14,
        "{} bytes queued for a bound of {bound}",
        ws.queued_bytes()
    );
    // The waiting message was dropped before it was taken; every message
    // taken arrives whole and in order once the peer reads.
    let peer_side = thread::spawn(move || read_frames(&peer, |_| {}));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    drop(ws);
    let frames = tokio::task::spawn_blocking(move || peer_side.join().unwrap())
        .await
        .unwrap();
    let numbers: Vec<u32> = frames
        .iter()
        .filter(|frame| frame.opcode == OpCode::Binary)
        .map(|frame| {
            assert_eq!(frame.payload.len(), message.len());
            u32::from_be_bytes(frame.payload[..4].try_into().unwrap())
        })
        .collect();
    assert_eq!(numbers, (0..taken).collect::<Vec<_>>());
    assert_eq!(frames.last().unwrap().opcode, OpCode::Close);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6455_10_4_an_async_connection_fails_a_message_over_the_limit_with_1009() {
    let limits = Limits::default().max_message_size(1000);
    let (mut ws, mut peer) = raw_peer(limits).await;
    peer.write_all(&masked(OpCode::Binary, &[1; 1000])).unwrap();
    peer.write_all(&masked(OpCode::Binary, &[2; 1001])).unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Binary(vec![1; 1000])
    );
    match ws.next().await {
        Some(Err(Error::Protocol(error))) => {
            assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG)
        }
        other => panic!("expected the limit's error, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
    drop(ws);
    let code = tokio::task::spawn_blocking(move || expect_close(&mut peer))
        .await
        .unwrap();
    assert_eq!(code, Some(1009));
}

#[cfg(feature = "deflate")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6455_10_4_an_async_connection_refuses_a_compressed_bomb_at_the_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // 64 MiB of zeros, about 64 KiB compressed, to a server that takes 1 MiB.
    let client = tokio::task::spawn_blocking(move || {
        let (mut ws, _) = ws6455::connect(&format!("ws://{addr}/")).unwrap();
        ws.send(Message::Binary(vec![0; 64 << 20])).unwrap();
        loop {
            match ws.read() {
                Ok(Message::Close(frame)) => return frame.map(|f| f.code),
                Ok(_) => {}
                Err(e) => panic!("the client saw {e} before the server's Close"),
            }
        }
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let config = ws6455::ServerConfig::default().max_message(1 << 20);
    let (mut ws, _) = ws6455::accept_hdr_async(tcp, &config, |_| Ok(Vec::new()))
        .await
        .unwrap();
    match ws.next().await {
        Some(Err(Error::Protocol(error))) => {
            assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG)
        }
        other => panic!("expected the limit's error, got {other:?}"),
    }
    assert_eq!(client.await.unwrap(), Some(CloseCode::MESSAGE_TOO_BIG));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6455_5_5_1_an_async_connection_answers_the_peers_close_before_giving_it() {
    let (mut ws, mut peer) = raw_peer(Limits::default()).await;
    let mut close = Vec::new();
    CloseFrame {
        code: CloseCode::GOING_AWAY,
        reason: "bye".into(),
    }
    .encode(&mut close);
    peer.write_all(&masked(OpCode::Close, &close)).unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "bye".into()
        }))
    );
    // The answer is on the wire already: nothing more is polled.
    let mut answer = [0; 4];
    peer.read_exact(&mut answer).unwrap();
    assert_eq!(answer, [0x88, 0x02, 0x03, 0xe9]);
    assert!(ws.next().await.is_none());
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_tcp_before_the_closing_handshake_is_an_error() {
    let (mut ws, mut peer) = raw_peer(Limits::default()).await;
    peer.write_all(&masked(OpCode::Text, b"last words"))
        .unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("last words")
    );
    match ws.next().await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("expected the end of TCP as an error, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_read_and_sent_in_pieces_arrives_whole() {
    let (mut client, mut server) = pair(64 << 10);
    // The server holds one piece at a time, whatever the message's size.
    let echo = tokio::spawn(async move {
        let mut piece = vec![0; 256 << 10];
        let mut pieces = 0;
        loop {
            match server.read_piece(&mut piece).await {
                Ok(StreamEvent::Piece(p)) => {
                    pieces += 1;
                    // Queued; the next read writes it while it waits for
                    // input, and goes on reading while the client writes.
                    server
                        .feed_piece(p.kind, &piece[..p.len], p.last)
                        .await
                        .unwrap();
                }
                Ok(StreamEvent::Control(_)) => {}
                Err(Error::Closed) => return pieces,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let big: Vec<u8> = (0..12u32 << 20).map(|i| (i % 253) as u8).collect();
    let text = "é".repeat(100_000);
    client.feed(Message::Binary(big.clone())).await.unwrap();
    client
        .feed(Message::Ping(b"between".to_vec()))
        .await
        .unwrap();
    client.send(Message::text(text.clone())).await.unwrap();
    assert!(client.next().await.unwrap().unwrap() == Message::Binary(big));
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::Pong(b"between".to_vec())
    );
    assert_eq!(client.next().await.unwrap().unwrap(), Message::text(text));
    client.close(CloseCode::NORMAL, "").await.unwrap();
    while client.next().await.is_some() {}
    assert!(
        echo.await.unwrap() >= 80,
        "20 MiB came in pieces of 256 KiB at most"
    );
}

#[tokio::test]
async fn read_piece_buffered_takes_what_the_last_read_brought_and_never_reads() {
    let (a, mut raw) = tokio::io::duplex(4096);
    let mut server = WebSocketStream::from_raw(a, Role::Server, Limits::default(), Vec::new());
    let mut out = vec![0; 1024];
    let mut burst = common::masked(OpCode::Text, b"one");
    burst.extend(common::masked(OpCode::Binary, b"two"));
    let mut close = Vec::new();
    CloseFrame {
        code: CloseCode::NORMAL,
        reason: String::new(),
    }
    .encode(&mut close);
    burst.extend(common::masked(OpCode::Close, &close));
    // Nothing was read yet: nothing at hand, and no read is made.
    assert!(server.read_piece_buffered(&mut out).unwrap().is_none());
    raw.write_all(&burst).await.unwrap();
    assert!(server.read_piece_buffered(&mut out).unwrap().is_none());
    let StreamEvent::Piece(one) = server.read_piece(&mut out).await.unwrap() else {
        panic!("expected a piece");
    };
    assert_eq!((&out[..one.len], one.last), (&b"one"[..], true));
    let Some(StreamEvent::Piece(two)) = server.read_piece_buffered(&mut out).unwrap() else {
        panic!("expected the second message at hand");
    };
    assert_eq!((&out[..two.len], two.last), (&b"two"[..], true));
    // The Close needs our answer written first: read_piece gives it.
    assert!(server.read_piece_buffered(&mut out).unwrap().is_none());
    assert!(matches!(
        server.read_piece(&mut out).await.unwrap(),
        StreamEvent::Control(Message::Close(_))
    ));
    assert!(matches!(
        server.read_piece(&mut out).await,
        Err(Error::Closed)
    ));
}
