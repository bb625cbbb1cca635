//! The echo server over real loopback sockets.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws6455::proto::OpCode;
use ws6455::{CloseCode, CloseFrame, Error, Message, ServerConfig};

#[test]
fn echoes_text_as_text() {
    let mut ws = connect(start_echo());
    ws.send(Message::Text("Hello, κόσμε".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("Hello, κόσμε".into()));
}

#[test]
fn echoes_binary_as_binary() {
    let mut ws = connect(start_echo());
    ws.send(Message::Binary(vec![0, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(vec![0, 1, 2, 255]));
}

#[test]
fn echoes_empty_messages() {
    let mut ws = connect(start_echo());
    ws.send(Message::Text(String::new())).unwrap();
    ws.send(Message::Binary(Vec::new())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(String::new()));
    assert_eq!(ws.read().unwrap(), Message::Binary(Vec::new()));
}

#[test]
fn echoes_16_mib_message() {
    let mut ws = connect(start_echo());
    let big: Vec<u8> = (0..16 << 20).map(|i: u32| (i * 7) as u8).collect();
    let sender = {
        let big = big.clone();
        let mut writer = ws.get_ref().try_clone().unwrap();
        // Write from another thread: the echo starts before we finish sending.
        std::thread::spawn(move || {
            let mut wire = Vec::new();
            wire.extend(frame(OpCode::Binary, Some([9, 8, 7, 6]), &big));
            writer.write_all(&wire).unwrap();
        })
    };
    assert_eq!(ws.read().unwrap(), Message::Binary(big));
    sender.join().unwrap();
}

#[test]
fn echoes_many_small_messages_in_order() {
    let mut ws = connect(start_echo());
    for i in 0..1000 {
        ws.queue(Message::Text(i.to_string())).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..1000 {
        assert_eq!(ws.read().unwrap(), Message::Text(i.to_string()));
    }
}

#[test]
fn rfc6455_5_4_fragmented_message_is_reassembled() {
    let addr = start_echo();
    let mut stream = connect_for_raw_frames(addr);
    let mut wire = masked_raw(0x01, b"Hel"); // text, FIN clear
    wire.extend(masked_raw(0x00, b"lo, ")); // continuation
    wire.extend(masked_raw(0x80, b"world")); // continuation, FIN
    stream.write_all(&wire).unwrap();
    let mut ws = client(stream);
    assert_eq!(ws.read().unwrap(), Message::Text("Hello, world".into()));
}

#[test]
fn rfc6455_5_4_ping_inside_fragmented_message_is_answered_first() {
    let addr = start_echo();
    let mut stream = connect_for_raw_frames(addr);
    let mut wire = masked_raw(0x02, b"ab");
    wire.extend(masked(OpCode::Ping, b"are you there"));
    wire.extend(masked_raw(0x80, b"cd"));
    stream.write_all(&wire).unwrap();
    let mut ws = client(stream);
    assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there".to_vec()));
    assert_eq!(ws.read().unwrap(), Message::Binary(b"abcd".to_vec()));
}

#[test]
fn rfc6455_5_5_3_unsolicited_pong_is_ignored() {
    let mut ws = connect(start_echo());
    ws.send(Message::Pong(b"heartbeat".to_vec())).unwrap();
    ws.send(Message::Text("still here".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("still here".into()));
}

#[test]
fn rfc6455_7_1_2_client_initiated_close_is_echoed_then_tcp_closed() {
    let mut ws = connect(start_echo());
    ws.close(CloseCode(4000), "bye").unwrap();
    let expected = Some(CloseFrame {
        code: CloseCode(4000),
        reason: String::new(),
    });
    assert_eq!(ws.read().unwrap(), Message::Close(expected));
    assert!(matches!(ws.read(), Err(Error::Closed)));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(ws.get_mut(), &mut rest).unwrap();
    assert!(rest.is_empty(), "server closed TCP after its Close frame");
}

#[test]
fn rfc6455_5_5_1_empty_close_is_answered_with_empty_close() {
    let mut stream = connect_for_raw_frames(start_echo());
    stream.write_all(&masked(OpCode::Close, b"")).unwrap();
    assert_eq!(expect_close(&mut stream), None);
}

#[test]
fn bytes_sent_with_the_request_are_kept_for_the_frame_reader() {
    let addr = start_echo();
    let mut stream = connect_raw(addr);
    let mut wire = upgrade_request(addr).into_bytes();
    wire.extend(masked(OpCode::Text, b"early"));
    stream.write_all(&wire).unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "));
    let mut ws = client(stream);
    assert_eq!(ws.read().unwrap(), Message::Text("early".into()));
}

#[test]
fn server_keeps_serving_others_after_a_misbehaving_client() {
    let addr = start_echo();
    let mut bad = connect_for_raw_frames(addr);
    bad.write_all(&[0xFF; 64]).unwrap();
    let _ = expect_close(&mut bad);
    let mut good = connect(addr);
    good.send(Message::Text("fine".into())).unwrap();
    assert_eq!(good.read().unwrap(), Message::Text("fine".into()));
}

/// A service that says goodbye as soon as the client connects.
struct ClosesFirst;

impl ws6455::server::Service for ClosesFirst {
    fn session(
        &self,
        connection: ws6455::server::Upgraded<'_>,
        _request: &ws6455::Request,
    ) -> Result<(), Error> {
        connection.with_websocket(|ws| ws.close(CloseCode::GOING_AWAY, "shutting down"))
    }
}

#[test]
fn rfc6455_7_1_2_server_initiated_close_waits_for_the_answer_then_closes_tcp() {
    let mut ws = connect(start_server(ServerConfig::default(), ClosesFirst));
    let expected = CloseFrame {
        code: CloseCode::GOING_AWAY,
        reason: "shutting down".into(),
    };
    // Reading the server's Close sends our answer; then the server closes TCP.
    assert_eq!(ws.read().unwrap(), Message::Close(Some(expected)));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(ws.get_mut(), &mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn rfc6455_7_1_2_server_stops_waiting_for_an_unanswered_close() {
    use std::time::{Duration, Instant};
    let config = ServerConfig::default().close_timeout(Duration::from_millis(300));
    let mut stream = connect_for_raw_frames(start_server(config, ClosesFirst));
    let started = Instant::now();
    // Never answer: the server gives up after its close timeout (twice: the
    // wait for our Close, then the wait for our TCP close).
    assert_eq!(expect_close(&mut stream), Some(1001));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
}

#[test]
fn handle_connection_runs_a_service_on_a_connection_accepted_elsewhere() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        ws6455::server::handle_connection(stream, &ServerConfig::default(), &ws6455::server::Echo);
    });
    let mut ws = connect(addr);
    ws.send(Message::text("accepted by my own loop")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("accepted by my own loop"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    while !ws.read().unwrap().is_close() {}
    server.join().unwrap();
}

/// A JSON text of about 4 KiB, different for each `n`.
fn json_message(n: usize) -> String {
    let items: Vec<String> = (0..80)
        .map(|i| format!(r#"{{"id":{},"text":"message {i} of {n}"}}"#, n * 100 + i))
        .collect();
    format!(r#"{{"items":[{}]}}"#, items.join(","))
}

#[cfg(feature = "deflate")]
#[test]
fn a_connection_gone_quiet_echoes_on_with_deflate_context_takeover() {
    use ws6455::ClientConfig;
    use ws6455::deflate::DeflateConfig;
    let takeover = DeflateConfig::for_server().context_takeover(true);
    let config = ServerConfig::default()
        .deflate(Some(takeover))
        .release_idle_after(Some(Duration::from_millis(50)));
    let uri = format!("ws://{}/", start_server(config, ws6455::server::Echo));
    let client = ClientConfig::default().deflate(Some(DeflateConfig::for_client()));
    let (mut ws, _) = ws6455::connect_with(&uri, &client).unwrap();
    for round in 0..3 {
        for n in 0..4 {
            let text = json_message(round * 4 + n);
            ws.send(Message::Text(text.clone())).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(text));
        }
        // Quiet long enough for the server to give back its buffers.
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_connection_gone_quiet_is_pinged_at_the_ping_interval_not_before() {
    let config = ServerConfig::default()
        .ping_interval(Some(Duration::from_millis(600)))
        .release_idle_after(Some(Duration::from_millis(100)));
    let mut ws = connect(start_server(config, ws6455::server::Echo));
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let text = json_message(0);
    ws.send(Message::Text(text.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(text.clone()));
    let quiet_since = Instant::now();
    assert_eq!(ws.read().unwrap(), Message::Ping(Vec::new()));
    let waited = quiet_since.elapsed();
    assert!(
        waited >= Duration::from_millis(550),
        "pinged after {waited:?} of silence"
    );
    // Our Pong went out with that read; the connection goes on.
    ws.send(Message::Text(text.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(text));
}

/// Autobahn 5.19 and 6.4.x, shortened: the client pauses in the middle of a
/// fragmented message for longer than the echo waits before it goes quiet
/// and gives back its buffers (100 ms). The echo goes on where it was: the
/// message comes back whole, Pings answered on the way; and a text that
/// turns invalid after the pause fails at once with 1007.
#[test]
fn a_fragmented_message_paused_past_the_quiet_time_is_echoed_and_still_fails_fast() {
    let addr = start_echo();
    let mut ws = connect(addr);
    let mask = Some([1, 2, 3, 4]);
    let pause = Duration::from_millis(300);
    let stream = ws.get_mut();
    stream
        .write_all(&fragment(false, OpCode::Text, mask, b"fragment1"))
        .unwrap();
    stream
        .write_all(&frame(OpCode::Ping, mask, b"one"))
        .unwrap();
    thread::sleep(pause);
    stream
        .write_all(&fragment(false, OpCode::Continuation, mask, b"fragment2"))
        .unwrap();
    thread::sleep(pause);
    stream
        .write_all(&fragment(true, OpCode::Continuation, mask, b"fragment3"))
        .unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"one".to_vec()));
    assert_eq!(
        ws.read().unwrap(),
        Message::text("fragment1fragment2fragment3")
    );

    let mut stream = connect_for_raw_frames(addr);
    stream
        .write_all(&fragment(false, OpCode::Text, mask, "κόσμε".as_bytes()))
        .unwrap();
    thread::sleep(pause);
    stream
        .write_all(&fragment(
            false,
            OpCode::Continuation,
            mask,
            b"\xf4\x90\x80\x80",
        ))
        .unwrap();
    assert_eq!(expect_close(&mut stream), Some(1007));
}

/// Autobahn 12.1.5, shortened: a compressed message that inflates to
/// exactly the echo's piece buffer (4 KiB, then 8, ...) fills it with the
/// inflater's last bytes still inside; the echo must take them out before
/// it waits for more input, or it waits for a client that waits for it.
#[test]
fn compressed_messages_that_fill_the_echo_s_piece_buffer_exactly_come_back() {
    // The library's client offers permessage-deflate (with the feature).
    let (mut ws, _) = ws6455::connect(&format!("ws://{}/", start_echo())).unwrap();
    for len in [4096, 4095, 4097, 8192, 16384, 65536, 200_000] {
        let text: String = (0..len).map(|i| char::from(b'a' + (i % 7) as u8)).collect();
        ws.send(Message::text(text.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(text), "{len} bytes");
    }
}
