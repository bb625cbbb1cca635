//! The chat server over real loopback sockets: rooms, the JSON events, the
//! order of delivery, slow consumers, limits, keep-alive and the page.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};
use ws6455::deflate::DeflateConfig;
use ws6455::proto::OpCode;
use ws6455::{ClientConfig, CloseCode, CloseFrame, Limits, Message, Role, WebSocket, connect_with};

/// The chat's default limit on a client's message (64 KiB, `--max-message`).
const DEFAULT_MAX_MESSAGE: usize = 64 << 10;

/// Starts `ws6455 chat --quiet` with `options`; the chat runs until the
/// returned process is dropped.
fn start_chat_with(options: &[&str]) -> (Ws6455Server, SocketAddr) {
    let mut args = vec!["chat", "--quiet"];
    args.extend_from_slice(options);
    let server = start_ws6455(&args);
    let addr = server.addr;
    (server, addr)
}

fn start_chat() -> (Ws6455Server, SocketAddr) {
    start_chat_with(&[])
}

/// [`start_chat_with`] `options` and [`NO_RATE_LIMIT`].
fn start_chat_unlimited(options: &[&str]) -> (Ws6455Server, SocketAddr) {
    start_chat_with(&[options, &NO_RATE_LIMIT].concat())
}

/// A chat client that has read its welcome.
struct Client {
    ws: WebSocket<TcpStream>,
    name: String,
}

impl Client {
    fn join(addr: SocketAddr, path: &str) -> (Client, Value) {
        let mut ws = connect_to(addr, path);
        let welcome = next_event(&mut ws);
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let name = welcome["you"].as_str().unwrap().to_owned();
        (Client { ws, name }, welcome)
    }

    fn event(&mut self) -> Value {
        next_event(&mut self.ws)
    }

    fn say(&mut self, text: &str) {
        self.ws.send(Message::Text(text.to_owned())).unwrap();
    }

    /// Reads until the server's Close, skipping events.
    fn close_frame(&mut self) -> Option<CloseFrame> {
        loop {
            match self.ws.read().unwrap() {
                Message::Close(frame) => return frame,
                Message::Binary(data) => panic!("unexpected binary {data:?}"),
                Message::Text(_) | Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    }
}

/// A `message` event as [`untimed`] leaves it.
fn message(room: &str, from: &str, text: &str) -> Value {
    json!({"type": "message", "room": room, "from": from, "text": text})
}

/// Milliseconds since the Unix epoch, as `ts` counts them.
fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// A `message` event without its `ts`, once `ts` is checked to be a time
/// within a minute of now.
fn untimed(mut event: Value) -> Value {
    let ts = event
        .as_object_mut()
        .and_then(|fields| fields.remove("ts"))
        .unwrap_or_else(|| panic!("no ts in {event}"));
    let ts = ts
        .as_u64()
        .unwrap_or_else(|| panic!("ts {ts} is not a u64"));
    assert!(
        now_ms().abs_diff(ts) < 60_000,
        "ts {ts} is not within a minute of now"
    );
    event
}

#[test]
fn welcome_names_the_room_you_and_everyone_there() {
    let (_chat, addr) = start_chat();
    let (a, welcome) = Client::join(addr, "/kitchen");
    assert_eq!(welcome["room"], "kitchen");
    assert_eq!(welcome["users"], json!([a.name]));
    assert_eq!(welcome["history"], json!([]), "nothing said yet");
    let (b, welcome) = Client::join(addr, "/kitchen");
    assert_ne!(a.name, b.name);
    assert_eq!(welcome["users"], json!([a.name, b.name]));
}

#[test]
fn root_path_joins_the_lobby() {
    let (_chat, addr) = start_chat();
    let (_first, welcome) = Client::join(addr, "/");
    assert_eq!(welcome["room"], "lobby");
    let (_second, welcome) = Client::join(addr, "/?tab=2");
    assert_eq!(welcome["room"], "lobby");
    assert_eq!(welcome["users"].as_array().unwrap().len(), 2);
}

#[test]
fn members_with_and_without_permessage_deflate_all_get_each_broadcast() {
    let (_chat, addr) = start_chat();
    let uri = format!("ws://{addr}/mixed");
    let mut members = Vec::new();
    for deflate in [
        Some(DeflateConfig::for_client()),
        None,
        Some(DeflateConfig::for_client()),
    ] {
        let config = ClientConfig::default().deflate(deflate);
        let (mut ws, response) = connect_with(&uri, &config).unwrap();
        let agreed = response
            .header("Sec-WebSocket-Extensions")
            .is_some_and(|value| value.starts_with(b"permessage-deflate"));
        assert_eq!(agreed, deflate.is_some());
        let name = next_event(&mut ws)["you"].as_str().unwrap().to_owned();
        members.push((ws, name));
    }
    // Everyone has heard every join once the last member's join arrives.
    let last = members[2].1.clone();
    for (ws, _) in &mut members[..2] {
        while next_event(ws)["user"] != last.as_str() {}
    }
    // Long enough to be compressed, once for both members that negotiated it.
    let text = "the same words again and again, ".repeat(40);
    members[1].0.send(Message::Text(text.clone())).unwrap();
    let expected = message("mixed", &members[1].1, &text);
    for (ws, _) in &mut members {
        assert_eq!(untimed(next_event(ws)), expected);
    }
}

#[test]
fn join_and_leave_are_told_to_the_rest_of_the_room() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    assert_eq!(
        a.event(),
        json!({"type": "join", "room": "r", "user": b.name})
    );
    b.ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(
        a.event(),
        json!({"type": "leave", "room": "r", "user": b.name})
    );
    // A client that drops the TCP connection without a Close leaves too.
    let (c, _) = Client::join(addr, "/r");
    assert_eq!(a.event()["user"], c.name);
    let c_name = c.name.clone();
    drop(c);
    assert_eq!(
        a.event(),
        json!({"type": "leave", "room": "r", "user": c_name})
    );
}

#[test]
fn every_message_reaches_the_whole_room_sender_included() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    a.say("hello, \"world\"\n</script> κόσμε");
    let expected = message("r", &a.name, "hello, \"world\"\n</script> κόσμε");
    let (to_a, to_b) = (a.event(), b.event());
    assert_eq!(to_a, to_b, "one broadcast, one ts");
    assert_eq!(untimed(to_a), expected);
}

#[test]
fn rooms_are_isolated() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/roomA");
    let (mut b, welcome) = Client::join(addr, "/roomB");
    assert_eq!(
        welcome["users"],
        json!([b.name]),
        "roomA's member is not listed"
    );
    a.say("for roomA only");
    assert_eq!(
        untimed(a.event()),
        message("roomA", &a.name, "for roomA only")
    );
    b.say("marker");
    // Had A's message reached roomB, it would arrive before B's own.
    assert_eq!(untimed(b.event()), message("roomB", &b.name, "marker"));
}

#[test]
fn broadcast_order_is_the_servers_and_the_same_for_every_member() {
    const SENDERS: usize = 3;
    const EACH: usize = 300;
    let (_chat, addr) = start_chat_unlimited(&[]);
    let mut clients = Vec::new();
    for i in 0..SENDERS {
        let (client, _) = Client::join(addr, "/order");
        clients.push(client);
        // Everyone already there is told of the newcomer.
        for earlier in clients.iter_mut().take(i) {
            assert_eq!(earlier.event()["type"], "join");
        }
    }
    let barrier = Arc::new(Barrier::new(SENDERS));
    let runs: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut writer = client.ws.get_ref().try_clone().unwrap();
                barrier.wait();
                let sender = thread::spawn(move || {
                    for k in 0..EACH {
                        let text = format!("{i}:{k}");
                        writer
                            .write_all(&masked(OpCode::Text, text.as_bytes()))
                            .unwrap();
                    }
                });
                let mut seen = Vec::new();
                while seen.len() < SENDERS * EACH {
                    let event = client.event();
                    assert_eq!(event["type"], "message", "{event}");
                    seen.push(event["text"].as_str().unwrap().to_owned());
                }
                sender.join().unwrap();
                seen
            })
        })
        .collect();
    let seen: Vec<Vec<String>> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "members disagree on order"
    );
    for i in 0..SENDERS {
        let from_i: Vec<&String> = seen[0]
            .iter()
            .filter(|t| t.starts_with(&format!("{i}:")))
            .collect();
        let sent: Vec<String> = (0..EACH).map(|k| format!("{i}:{k}")).collect();
        assert_eq!(from_i, sent.iter().collect::<Vec<_>>(), "sender {i}");
    }
}

#[test]
fn nick_renames_and_tells_the_whole_room() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    a.say("/nick alice");
    let nick = json!({"type": "nick", "room": "r", "from": a.name, "to": "alice"});
    assert_eq!(a.event(), nick);
    assert_eq!(b.event(), nick);
    a.say("hi");
    assert_eq!(untimed(b.event()), message("r", "alice", "hi"));
    let (_, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["users"][0], "alice");
}

#[test]
fn a_text_longer_than_max_text_is_answered_with_an_error_and_the_sender_stays() {
    let (_chat, addr) = start_chat_with(&["--max-text", "10"]);
    let (mut a, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["max_text"], 10);
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    // Ten characters (twenty bytes) is the most.
    a.say("κόσμεκόσμε");
    assert_eq!(untimed(b.event()), message("r", &a.name, "κόσμεκόσμε"));
    a.event();
    a.say("eleven char");
    assert_eq!(
        a.event(),
        json!({"type": "error", "reason": "the message has 11 characters; the most is 10"})
    );
    a.say("still here");
    assert_eq!(untimed(b.event()), message("r", &a.name, "still here"));
}

#[test]
fn a_burst_read_at_once_keeps_its_order_with_the_commands_inside_it() {
    let (_chat, addr) = start_chat_with(&["--max-text", "10"]);
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    let guest = a.name.clone();
    // One write: the chat reads the whole burst at once.
    for text in [
        "one",
        "two",
        "/nick alice",
        "three",
        "eleven char",
        "four",
        "/shrug",
        "five",
    ] {
        a.ws.queue(Message::Text(text.to_owned())).unwrap();
    }
    a.ws.flush().unwrap();
    let nick = json!({"type": "nick", "room": "r", "from": guest, "to": "alice"});
    let too_long =
        json!({"type": "error", "reason": "the message has 11 characters; the most is 10"});
    let unknown = json!({
        "type": "error",
        "reason": "unknown command /shrug; the only command is /nick NAME"
    });
    let everyone = [
        message("r", &guest, "one"),
        message("r", &guest, "two"),
        nick,
        message("r", "alice", "three"),
        message("r", "alice", "four"),
        message("r", "alice", "five"),
    ];
    let mut to_a = everyone.to_vec();
    to_a.insert(4, too_long);
    to_a.insert(6, unknown);
    let received = |client: &mut Client, count| -> Vec<Value> {
        (0..count)
            .map(|_| match client.event() {
                event if event["type"] == "message" => untimed(event),
                event => event,
            })
            .collect()
    };
    assert_eq!(received(&mut a, to_a.len()), to_a);
    assert_eq!(received(&mut b, everyone.len()), everyone);
}

#[test]
fn the_welcome_announces_max_text_4000_by_default() {
    let (_chat, addr) = start_chat();
    let (_a, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["max_text"], 4000);
}

#[test]
fn message_ts_is_the_time_the_server_took_it_in_milliseconds() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let before = now_ms();
    a.say("what time is it?");
    let event = a.event();
    let after = now_ms();
    let ts = event["ts"].as_u64().unwrap();
    // One clock, so the server's stamp lies between ours (a second's slack
    // for a clock stepped meanwhile).
    assert!(
        before - 1000 <= ts && ts <= after + 1000,
        "{before} <= {ts} <= {after}"
    );
}

/// `a` says each of `texts` and reads each back: the events as broadcast.
fn say_all(a: &mut Client, texts: &[&str]) -> Vec<Value> {
    texts
        .iter()
        .map(|text| {
            a.say(text);
            let event = a.event();
            assert_eq!(event["text"], *text, "{event}");
            event
        })
        .collect()
}

#[test]
fn a_late_joiner_gets_the_rooms_last_messages_as_they_were_sent_then_the_live_ones() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let said = say_all(&mut a, &["first", "second \"quoted\"", "third </script>"]);
    let (mut b, welcome) = Client::join(addr, "/r");
    // The same events, ts and all, oldest first.
    assert_eq!(welcome["history"], json!(said));
    let stamps: Vec<u64> = said.iter().map(|e| e["ts"].as_u64().unwrap()).collect();
    assert!(stamps.is_sorted(), "{stamps:?}");
    for event in said {
        assert_eq!(untimed(event)["from"], a.name);
    }
    // What is said next is live, not history: it comes once, after the welcome.
    a.say("fourth");
    assert_eq!(untimed(b.event()), message("r", &a.name, "fourth"));
    let (_, welcome) = Client::join(addr, "/r");
    let texts: Vec<&str> = welcome["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["first", "second \"quoted\"", "third </script>", "fourth"]
    );
}

#[test]
fn history_0_gives_an_empty_history() {
    let (_chat, addr) = start_chat_with(&["--history", "0"]);
    let (mut a, _) = Client::join(addr, "/r");
    say_all(&mut a, &["not kept"]);
    let (_b, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["history"], json!([]));
}

#[test]
fn history_3_keeps_the_last_3_messages() {
    let (_chat, addr) = start_chat_with(&["--history", "3"]);
    let (mut a, _) = Client::join(addr, "/r");
    let said = say_all(&mut a, &["1", "2", "3", "4", "5"]);
    let (_b, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["history"], json!(said[2..]));
}

#[test]
fn history_keeps_to_half_the_outgoing_queue_so_the_welcome_fits() {
    // 4096 bytes of queue: at most 2048 bytes of history, one message of
    // these; ten of them would not fit the queue, and the newcomer would be
    // closed with 1008.
    let (_chat, addr) = start_chat_with(&["--queue-bytes", "4096"]);
    let (mut a, _) = Client::join(addr, "/r");
    let texts: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(999))).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let said = say_all(&mut a, &texts);
    let (mut b, welcome) = Client::join(addr, "/r");
    assert_eq!(welcome["history"], json!(said[9..]));
    a.say("still welcome");
    assert_eq!(untimed(b.event()), message("r", &a.name, "still welcome"));
}

#[test]
fn names_may_be_in_any_script_and_are_unique_ignoring_case() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    a.say("/nick Ωμέγα");
    assert_eq!(a.event()["to"], "Ωμέγα");
    assert_eq!(b.event()["to"], "Ωμέγα");
    b.say("/nick ωμέγα");
    assert_eq!(
        b.event(),
        json!({"type": "error", "reason": "the name ωμέγα is taken in this room"})
    );
    b.say("/nick 李小龍");
    assert_eq!(a.event()["to"], "李小龍");
}

#[test]
fn refused_nick_and_unknown_command_get_an_error_to_the_sender_only() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    let (mut b, _) = Client::join(addr, "/r");
    a.event();
    a.say("/nick alice");
    a.event();
    b.event();
    for (command, reason) in [
        (
            "/nick",
            "a name is 1 to 32 letters or digits (of any script), '_' or '-'",
        ),
        (
            "/nick bad name",
            "a name is 1 to 32 letters or digits (of any script), '_' or '-'",
        ),
        ("/nick ALICE", "the name ALICE is taken in this room"),
        (
            "/shrug",
            "unknown command /shrug; the only command is /nick NAME",
        ),
    ] {
        b.say(command);
        assert_eq!(b.event(), json!({"type": "error", "reason": reason}));
    }
    b.say("marker");
    // A saw none of B's errors: the marker is the next thing it gets.
    assert_eq!(untimed(a.event()), message("r", &b.name, "marker"));
}

#[test]
fn binary_message_is_refused_with_1003() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    a.ws.send(Message::Binary(vec![1, 2, 3])).unwrap();
    let frame = a.close_frame().unwrap();
    assert_eq!(frame.code, CloseCode::UNSUPPORTED_DATA);
    assert_eq!(frame.reason, "binary messages are not accepted; send text");
}

#[test]
fn rfc6455_7_4_1_message_over_64_kib_is_closed_with_1009() {
    // The chat's text limit out of the way: this is the protocol's limit.
    let (_chat, addr) = start_chat_with(&["--max-text", "1000000"]);
    let (mut a, _) = Client::join(addr, "/r");
    let limit = DEFAULT_MAX_MESSAGE;
    a.say(&"x".repeat(limit));
    assert_eq!(a.event()["text"].as_str().unwrap().len(), limit);
    a.say(&"x".repeat(limit + 1));
    assert_eq!(
        a.close_frame().map(|f| f.code),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

#[test]
fn rfc6455_5_5_1_client_close_is_answered_with_its_code() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    a.ws.close(CloseCode(4001), "done").unwrap();
    assert_eq!(a.close_frame().map(|f| f.code), Some(CloseCode(4001)));
    // The server closes the TCP connection after the handshake (§7.1.1).
    let mut rest = Vec::new();
    let mut stream = a.ws.into_inner();
    assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn rfc6455_5_5_2_ping_from_client_is_answered_with_its_data() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    a.ws.send(Message::Ping(b"are you there".to_vec())).unwrap();
    assert_eq!(
        a.ws.read().unwrap(),
        Message::Pong(b"are you there".to_vec())
    );
}

#[test]
fn rfc6455_5_1_unmasked_frame_fails_the_chat_connection_with_1002() {
    let (_chat, addr) = start_chat();
    let mut stream = connect_raw(addr);
    stream
        .write_all(upgrade_request_to(addr, "/r").as_bytes())
        .unwrap();
    read_response_head(&mut stream);
    stream.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    assert_eq!(expect_close_after_text(&mut stream), 1002);
}

/// Reads what the server sends to the end of the stream (a reset ends it
/// too), to be read back as a client reads it, message by message.
fn everything_received(stream: &mut TcpStream) -> WebSocket<io::Cursor<Vec<u8>>> {
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    WebSocket::from_raw(
        io::Cursor::new(received),
        Role::Client,
        Limits::default(),
        Vec::new(),
    )
}

/// Reads a server's frames (texts, then a Close) to the end of the stream
/// and returns the Close's code.
fn expect_close_after_text(stream: &mut TcpStream) -> u16 {
    let mut ws = everything_received(stream);
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.unwrap().code.0,
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

#[test]
fn upgrade_to_a_path_that_is_not_a_room_is_400_with_the_reason() {
    let (_chat, addr) = start_chat();
    for path in ["/a/b", "/chat.js", "/%41", &format!("/{}", "r".repeat(65))] {
        let response = http_exchange(addr, upgrade_request_to(addr, path).as_bytes());
        assert!(response.starts_with("HTTP/1.1 400 "), "{path}: {response}");
        assert!(response.contains("is not a chat room"), "{response}");
        assert!(!response.contains("Sec-WebSocket-Accept"));
    }
}

fn get(addr: SocketAddr, method: &str, path: &str) -> String {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    http_exchange(addr, request.as_bytes())
}

#[test]
fn plain_get_of_a_room_returns_the_page_and_its_assets() {
    let (_chat, addr) = start_chat();
    for path in ["/", "/kitchen", "/kitchen?x=1"] {
        let page = get(addr, "GET", path);
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(page.contains(r#"<script src="/chat.js""#));
        assert!(page.contains(r#"<input id="input""#));
        assert!(page.contains(r#"<button id="send""#));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no CDN"
        );
    }
    let script = get(addr, "GET", "/chat.js");
    assert!(script.contains("Content-Type: text/javascript; charset=utf-8\r\n"));
    assert!(script.contains("new WebSocket(url)"));
    assert!(script.contains("reconnecting…"));
    assert!(
        script.contains("server restarting — reconnecting…"),
        "on 1001"
    );
    let style = get(addr, "GET", "/chat.css");
    assert!(style.contains("Content-Type: text/css; charset=utf-8\r\n"));
}

#[test]
fn other_paths_are_404_and_other_methods_405() {
    let (_chat, addr) = start_chat();
    for path in ["/a/b", "/favicon.ico", "/kitchen/"] {
        let response = get(addr, "GET", path);
        assert!(response.starts_with("HTTP/1.1 404 "), "{path}: {response}");
    }
    for method in ["POST", "HEAD", "DELETE"] {
        let response = get(addr, method, "/kitchen");
        assert!(
            response.starts_with("HTTP/1.1 405 "),
            "{method}: {response}"
        );
        assert!(response.contains("Allow: GET\r\n"), "{response}");
    }
}

/// Pings after 200 ms of silence, and 300 ms to answer.
const FAST_PINGS: &[&str] = &["--ping-interval", "0.2", "--pong-timeout", "0.3"];

#[test]
fn idle_client_is_pinged_and_stays_while_it_answers() {
    let (_chat, addr) = start_chat_with(FAST_PINGS);
    let (mut a, _) = Client::join(addr, "/r");
    let start = Instant::now();
    let mut pings = 0;
    while pings < 4 {
        match a.ws.read().unwrap() {
            Message::Ping(_) => pings += 1, // answered by the client
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(start.elapsed() >= Duration::from_millis(700));
    a.say("still here");
    assert_eq!(a.event()["text"], "still here");
}

/// Reads from a socket and never writes to it: a client that never answers.
struct NeverWrites(TcpStream);

impl Read for NeverWrites {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for NeverWrites {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn client_that_never_answers_a_ping_is_closed_with_1001() {
    let (_chat, addr) = start_chat_with(FAST_PINGS);
    // Timed from before the handshake: the server's clock starts when the
    // session does, which may be before connect_to returns.
    let start = Instant::now();
    let stream = connect_to(addr, "/r").into_inner();
    let mut ws = WebSocket::from_raw(
        NeverWrites(stream),
        Role::Client,
        Limits::default(),
        Vec::new(),
    );
    assert_eq!(next_event(&mut ws)["type"], "welcome");
    assert!(matches!(ws.read().unwrap(), Message::Ping(_)));
    let Message::Close(Some(frame)) = ws.read().unwrap() else {
        panic!("expected a close");
    };
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    assert!(
        frame.reason.starts_with("no pong within"),
        "{}",
        frame.reason
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

/// Sends 64,000-byte messages from `sender` until `stop` says so, at most
/// `window` of them on their way back to it at once, so the sender itself
/// reads as fast as it writes. Returns how many it sent.
fn flood(sender: &mut Client, count: usize, window: usize, on_event: impl FnMut(&Value)) -> usize {
    let mut on_event = on_event;
    let mut writer = sender.ws.get_ref().try_clone().unwrap();
    let (sent_tx, sent_rx) = mpsc::sync_channel::<()>(window);
    let text = "x".repeat(64_000);
    let writing = thread::spawn(move || {
        let frame = masked(OpCode::Text, text.as_bytes());
        for _ in 0..count {
            // Blocks while `window` messages are on their way back.
            if sent_tx.send(()).is_err() {
                return;
            }
            writer.write_all(&frame).unwrap();
        }
    });
    let mut returned = 0;
    while returned < count {
        let event = sender.event();
        if event["type"] == "message" && event["from"] == sender.name {
            returned += 1;
            sent_rx.recv().unwrap();
        }
        on_event(&event);
    }
    writing.join().unwrap();
    returned
}

#[test]
fn stalled_client_is_dropped_while_two_others_keep_talking() {
    const MESSAGES: usize = 160; // 160 × 64,000 bytes: 10.24 MB to the room
    let (_chat, addr) = start_chat_unlimited(&["--max-text", "64000"]);
    let (mut a, _) = Client::join(addr, "/busy");
    let (mut b, _) = Client::join(addr, "/busy");
    a.event();
    // The stalled client completes the handshake and never reads again.
    let mut stalled = connect_to(addr, "/busy").into_inner();
    let stalled_name = a.event()["user"].as_str().unwrap().to_owned();
    assert_eq!(b.event()["user"], stalled_name);

    let start = Instant::now();
    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    let leave = json!({"type": "leave", "room": "busy", "user": stalled_name});
    let a_run = {
        let leave = leave.clone();
        thread::spawn(move || {
            let mut dropped_after = None;
            let mut b_messages = 0;
            let sent = flood(&mut a, MESSAGES, 4, |event| {
                if *event == leave {
                    dropped_after = Some(start.elapsed());
                }
                if event["from"] == b_name {
                    b_messages += 1;
                }
            });
            (sent, dropped_after, b_messages)
        })
    };
    // B chats in small messages all through A's flood, each sent as soon as
    // the last came back, and times each one's trip through the room.
    let mut round_trips = Vec::new();
    let mut from_a = 0;
    let mut saw_leave = false;
    let mut sent_at = Instant::now();
    b.say("b0");
    loop {
        let event = b.event();
        if event == leave {
            saw_leave = true;
        } else if event["from"] == a_name {
            from_a += 1;
        } else if event["from"] == b.name {
            round_trips.push(sent_at.elapsed());
            if from_a == MESSAGES {
                break;
            }
            sent_at = Instant::now();
            b.say(&format!("b{}", round_trips.len()));
        }
    }
    let (a_sent, dropped_after, a_saw_b) = a_run.join().unwrap();
    let worst = round_trips.iter().max().unwrap();
    eprintln!(
        "stalled client dropped after {:?}; A sent {a_sent} × 64,000 B in {:?}; \
         B's {} round trips: worst {worst:?}; A saw {a_saw_b} of B's messages",
        dropped_after,
        start.elapsed(),
        round_trips.len(),
    );
    assert_eq!(a_sent, MESSAGES);
    assert!(saw_leave, "B was told the stalled client left");
    assert!(
        dropped_after.is_some(),
        "A was told the stalled client left"
    );
    assert!(*worst < Duration::from_secs(1), "B waited {worst:?}");

    // Its TCP connection is cut once the close timeout (2 s) passes without
    // it reading: what it can still read ends, with no Close frame after
    // the backlog.
    thread::sleep(Duration::from_secs(3));
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = vec![0; 1 << 16];
    loop {
        match stalled.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the stalled client's connection was not cut: {e}"),
        }
    }
}

#[test]
fn slow_consumer_that_reads_again_gets_its_backlog_then_close_1008() {
    let (_chat, addr) = start_chat_unlimited(&["--queue-bytes", "262144", "--max-text", "64000"]);
    let (mut a, _) = Client::join(addr, "/busy");
    let (mut slow, _) = Client::join(addr, "/busy");
    a.event();
    let leave = json!({"type": "leave", "room": "busy", "user": slow.name});
    let mut dropped = false;
    let mut rounds = 0;
    while !dropped {
        flood(&mut a, 1, 1, |event| dropped |= *event == leave);
        rounds += 1;
        assert!(rounds < 2000, "never dropped");
    }
    let frame = slow.close_frame().unwrap();
    assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
    assert_eq!(frame.reason, "outgoing queue full");
}

#[test]
fn an_upgrade_that_would_open_a_room_beyond_max_rooms_is_503_and_open_rooms_still_take_members() {
    let (_chat, addr) = start_chat_with(&["--max-rooms", "2"]);
    let (a, _) = Client::join(addr, "/a");
    let (b, _) = Client::join(addr, "/b");
    let response = http_exchange(addr, upgrade_request_to(addr, "/c").as_bytes());
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(response.contains("\r\nRetry-After: 10\r\n"), "{response}");
    assert!(
        response.contains("this server holds its most rooms (2)"),
        "{response}"
    );
    assert!(!response.contains("Sec-WebSocket-Accept"));
    // A room with people in it is not one more.
    let (_a2, welcome) = Client::join(addr, "/a");
    assert_eq!(welcome["room"], "a");
    // A room is dropped with its last member, and makes room for another.
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(5);
    let c = loop {
        let response = http_exchange(addr, upgrade_request_to(addr, "/c").as_bytes());
        if response.starts_with("HTTP/1.1 101 ") {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "room b was never dropped: {response}"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(c.contains("Sec-WebSocket-Accept"));
    drop(a);
}

#[test]
fn a_command_line_over_64_characters_is_refused_without_repeating_it() {
    let (_chat, addr) = start_chat();
    let (mut a, _) = Client::join(addr, "/r");
    for command in [
        format!("/{}", "x".repeat(64)),
        format!("/nick {}", "n".repeat(60_000)),
    ] {
        a.say(&command);
        assert_eq!(
            a.event(),
            json!({"type": "error", "reason": "a command is at most 64 characters long"})
        );
    }
    let longest = format!("/{}", "é".repeat(63));
    a.say(&longest);
    let error = a.event();
    assert_eq!(error["type"], "error");
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown command /éé")
    );
}

/// A generator of test input: xorshift64*, seeded, so that a failure
/// repeats.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// `len` characters from all of Unicode's scalar values, controls and
    /// quotes included.
    fn text(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| {
                loop {
                    let wide = self.below(4) == 0;
                    let code = if wide {
                        self.below(0x11_0000)
                    } else {
                        self.below(0x80)
                    };
                    if let Some(c) = char::from_u32(u32::try_from(code).unwrap()) {
                        break c;
                    }
                }
            })
            .collect()
    }

    /// What a careless or hostile client sends: random bytes as a binary
    /// or a text message (mostly not UTF-8), random text, random commands,
    /// now and then longer than the chat allows.
    fn message(&mut self) -> (OpCode, Vec<u8>) {
        let len = match self.below(50) {
            0 => 5_000 + self.below(70_000),
            _ => self.below(300),
        };
        match self.below(5) {
            0 => (OpCode::Binary, self.bytes(len)),
            1 => (OpCode::Text, self.bytes(len)),
            2 => (OpCode::Text, self.text(len).into_bytes()),
            3 => (OpCode::Text, format!("/{}", self.text(len)).into_bytes()),
            _ => (
                OpCode::Text,
                format!("/nick {}", self.text(len)).into_bytes(),
            ),
        }
    }
}

/// The most bytes of any event but a welcome (whose history is bounded by
/// half the outgoing queue): a `message` of 4000 characters, each escaped
/// in JSON as `\u001f`, with room for its fields.
const MOST_EVENT_BYTES: usize = 4000 * 6 + 1024;

#[test]
fn a_thousand_random_messages_get_bounded_answers_and_the_next_client_is_served() {
    let (mut chat, addr) = start_chat();
    let mut random = Random(0x5EED_0FC4_A7A7);
    let mut closes = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let (opcode, payload) = random.message();
        let mut stream = connect_for_raw_frames(addr);
        stream.write_all(&masked(opcode, &payload)).unwrap();
        // Then close: the chat's answers, if any, come before its Close.
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        // The server may have closed already, and reset a late write.
        let _ = stream.write_all(&masked(OpCode::Close, &close));
        let mut ws = everything_received(&mut stream);
        let code = loop {
            match ws.read() {
                Ok(Message::Text(text)) => {
                    let event: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("message {i}: not JSON ({e}): {text}"));
                    let kind = event["type"].as_str().unwrap();
                    assert!(
                        kind == "welcome" || text.len() <= MOST_EVENT_BYTES,
                        "message {i}: a {kind} of {} bytes",
                        text.len()
                    );
                }
                Ok(Message::Close(frame)) => break frame.map_or(1005, |f| f.code.0),
                Ok(other) => panic!("message {i}: unexpected {other:?}"),
                Err(e) => panic!("message {i}: no Close from the chat: {e}"),
            }
        };
        // Ours answered (1000), or the chat's own: binary (1003), not
        // UTF-8 (1007), over 64 KiB (1009).
        assert!(
            [1000, 1003, 1007, 1009].contains(&code),
            "message {i}: closed {code}"
        );
        *closes.entry(code).or_default() += 1;
    }
    eprintln!("1,000 random messages; the connections closed with {closes:?}");
    assert!(chat.is_running(), "the chat process exited");
    let (mut next, _) = Client::join(addr, "/");
    next.say("still there?");
    assert_eq!(
        untimed(next.event()),
        message("lobby", &next.name.clone(), "still there?")
    );
}
