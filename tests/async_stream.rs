//! `WebSocketStream` (feature `tokio`): the engine over an async stream,
//! as a `Stream` and a `Sink`, between two ends of an in-memory pipe.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use ws6455::{CloseCode, Limits, Message, Role, WebSocketStream};

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
