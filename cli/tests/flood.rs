//! One member floods a room while three others read slowly (issue 21):
//! the rate limit keeps the flood from reaching the readers, so they keep
//! everything the room broadcast, in its order, and stay connected, while
//! the flooder is throttled and then closed with 1008 "sending too fast".
//! On one `ws6455 chat`, then on two sharing a real `redis-server`, with
//! readers on both.
//!
//! The readers' pace is enforced for real: each reads through [`Paced`],
//! which sleeps to stay under 64 KiB/s (a phone on a weak link), from a
//! socket whose receive buffer is made small, so that the kernel does not
//! take megabytes on its behalf. The flooder sends 100-byte texts as fast
//! as its socket takes them for 10 s, and reads its own echoes meanwhile.
//!
//! Each run prints (`cargo test --test flood -- --nocapture`) what every
//! reader received and how it ended, and what happened to the flooder.
//!
//! Before those, the limit's rules one by one, with a tiny `--rate` and
//! `--burst`: a text over the limit is dropped and its sender told once,
//! with `retry_after_ms`; commands count too.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use redis_server::RedisServer;
use serde_json::Value;
use socket2::{Domain, Socket, Type};
use ws6455::proto::OpCode;
use ws6455::{CloseCode, Limits, Message, Role, WebSocket};

/// A chat member that sends whole bursts in one write, and reads events.
struct Member {
    ws: WebSocket<TcpStream>,
    name: String,
}

impl Member {
    fn join(addr: SocketAddr, path: &str) -> Member {
        let mut ws = connect_to(addr, path);
        ws.get_ref().set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let welcome = next_event(&mut ws).unwrap();
        let name = welcome["you"].as_str().unwrap().to_owned();
        Member { ws, name }
    }

    /// Sends `texts` in one write: the chat reads them at once.
    fn send_at_once(&mut self, texts: &[&str]) {
        for text in texts {
            self.ws.queue(Message::Text((*text).to_owned())).unwrap();
        }
        self.ws.flush().unwrap();
    }

    /// The next event that is not a join.
    fn event(&mut self) -> Value {
        loop {
            let event = next_event(&mut self.ws).unwrap();
            if event["type"] != "join" {
                return event;
            }
        }
    }

    /// The next event, which must be a message: its text.
    fn text(&mut self) -> String {
        let event = self.event();
        assert_eq!(event["type"], "message", "{event}");
        event["text"].as_str().unwrap().to_owned()
    }
}

/// Checks that `event` is the slow-down `error`, and returns its `retry_after_ms`.
fn slow_down(event: &Value) -> u64 {
    assert_eq!(event["type"], "error", "{event}");
    let reason = event["reason"].as_str().unwrap();
    assert!(reason.starts_with("slow down: "), "{reason}");
    event["retry_after_ms"].as_u64().unwrap()
}

#[test]
fn a_text_over_the_limit_is_dropped_and_its_sender_told_once_when_to_retry() {
    let chat = start_ws6455(&["chat", "--quiet", "--rate", "1", "--burst", "2"]);
    let mut a = Member::join(chat.addr, "/r");
    let mut b = Member::join(chat.addr, "/r");
    a.send_at_once(&["one", "two", "three", "four", "five"]);
    assert_eq!(a.text(), "one");
    assert_eq!(a.text(), "two");
    // Told once for the three dropped, with the time until one more passes.
    let retry_after_ms = slow_down(&a.event());
    assert!(
        (900..=1000).contains(&retry_after_ms),
        "retry after {retry_after_ms} ms"
    );
    thread::sleep(Duration::from_millis(retry_after_ms));
    a.send_at_once(&["six"]);
    // Nothing between: "three" to "five" reached no one, and no second
    // slow-down came.
    assert_eq!(a.text(), "six");
    for expected in ["one", "two", "six"] {
        assert_eq!(b.text(), expected);
    }
}

#[test]
fn commands_count_against_the_limit() {
    let chat = start_ws6455(&["chat", "--quiet", "--rate", "1", "--burst", "1"]);
    let mut a = Member::join(chat.addr, "/r");
    let mut b = Member::join(chat.addr, "/r");
    a.send_at_once(&["/nick alice", "hello", "/nick bob"]);
    assert_eq!(a.event()["type"], "nick");
    let retry_after_ms = slow_down(&a.event());
    thread::sleep(Duration::from_millis(retry_after_ms));
    a.send_at_once(&["later"]);
    assert_eq!(a.text(), "later");
    let nick = b.event();
    assert_eq!(
        (&nick["from"], &nick["to"]),
        (&a.name.as_str().into(), &"alice".into())
    );
    assert_eq!(b.text(), "later");
}

/// How fast the readers read.
const READ_BYTES_PER_SECOND: u64 = 64 << 10;
/// The readers' socket receive buffer (the kernel doubles it, and keeps a
/// floor of its own).
const READER_RCVBUF: usize = 4096;
/// How long the flooder floods, unless it is closed first.
const FLOOD_FOR: Duration = Duration::from_secs(10);
/// The length of each of the flooder's texts.
const TEXT_LEN: usize = 100;
/// The flooder writes this many frames per write.
const FRAMES_PER_WRITE: usize = 32;
/// The text that ends the run: said by a reader once the flooder is gone.
const END: &str = "end of the flood";
/// No read in the test waits longer than this.
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// The chat's default limit (`--rate 10 --burst 30`).
const RATE: f64 = 10.0;
const BURST: f64 = 30.0;

/// A stream whose reads keep under [`READ_BYTES_PER_SECOND`] on average
/// since it was made: after each read it sleeps until that many bytes are
/// due. Writes go straight through.
struct Paced {
    stream: TcpStream,
    started: Instant,
    read: u64,
}

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Small reads, so that the pace is kept within a few KiB.
        let len = buf.len().min(4096);
        let n = self.stream.read(&mut buf[..len])?;
        self.read += n as u64;
        let due =
            self.started + Duration::from_secs_f64(self.read as f64 / READ_BYTES_PER_SECOND as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        Ok(n)
    }
}

impl Write for Paced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A reader: joined, its welcome read, reading at its pace from a socket
/// with a small receive buffer.
struct Reader {
    ws: WebSocket<Paced>,
    name: String,
}

impl Reader {
    fn join(addr: SocketAddr, path: &str) -> Reader {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        // Before connecting, so that the window offered is small from the start.
        socket.set_recv_buffer_size(READER_RCVBUF).unwrap();
        socket.connect(&addr.into()).unwrap();
        let mut stream = TcpStream::from(socket);
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream
            .write_all(upgrade_request_to(addr, path).as_bytes())
            .unwrap();
        let head = read_response_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let paced = Paced {
            stream,
            started: Instant::now(),
            read: 0,
        };
        let mut ws = WebSocket::from_raw(paced, Role::Client, Limits::default(), Vec::new());
        let welcome = next_event(&mut ws).expect("a welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let name = welcome["you"].as_str().unwrap().to_owned();
        Reader { ws, name }
    }

    /// Reads until [`END`], or until the connection ends: what it received.
    fn read_to_the_end(mut self) -> Received {
        let mut received = Received {
            name: self.name.clone(),
            texts: Vec::new(),
            others: 0,
            bytes: 0,
            ended: String::new(),
            still_connected: false,
        };
        loop {
            let event = match next_event(&mut self.ws) {
                Ok(event) => event,
                Err(ended) => {
                    received.ended = ended;
                    break;
                }
            };
            match event["type"].as_str() {
                Some("message") if event["text"] == END => {
                    received.still_connected = true;
                    break;
                }
                Some("message") => received.texts.push(event["text"].as_str().unwrap().into()),
                _ => received.others += 1,
            }
        }
        received.bytes = self.ws.get_ref().read;
        if received.still_connected {
            // Still connected: a closing handshake of ours is answered.
            self.ws.close(CloseCode::NORMAL, "").unwrap();
            // Events still on their way (the others' leaves) come first.
            let answer = loop {
                match self.ws.read() {
                    Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_)) => {}
                    other => break other,
                }
            };
            received.ended = match answer {
                Ok(Message::Close(Some(frame))) => format!(
                    "got the end, then closed normally (the server answered {})",
                    frame.code.0
                ),
                other => {
                    received.still_connected = false;
                    format!("got the end, but our Close was answered with {other:?}")
                }
            };
        }
        received
    }
}

/// What a reader received, and how its connection ended.
struct Received {
    name: String,
    /// The texts of the `message` events, in order ([`END`] left out).
    texts: Vec<String>,
    /// Events of other types (joins, leaves).
    others: usize,
    /// Bytes read from the socket.
    bytes: u64,
    ended: String,
    /// It got [`END`], and its Close was answered.
    still_connected: bool,
}

/// The next JSON event, skipping Pings; how the connection ended instead,
/// if it did.
fn next_event<S: Read + Write>(ws: &mut WebSocket<S>) -> Result<Value, String> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return Ok(serde_json::from_str(&text).unwrap()),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(frame)) => return Err(format!("closed by the server: {frame:?}")),
            Ok(other) => return Err(format!("unexpected {other:?}")),
            Err(e) => return Err(format!("connection error: {e}")),
        }
    }
}

/// What happened to the flooder.
struct Flooded {
    /// Texts written to the socket.
    sent: u64,
    /// Its own texts that came back to it, in order.
    echoes: Vec<String>,
    /// When each slow-down `error` came, and its `retry_after_ms`.
    slow_downs: Vec<(Duration, u64)>,
    /// The server's Close, and when it came.
    close: Option<(u16, String, Duration)>,
    /// How its connection ended.
    ended: String,
}

/// The `n`th flooding text: its number, padded to [`TEXT_LEN`] bytes.
fn flood_text(n: u64) -> String {
    format!("{n:>width$}", width = TEXT_LEN)
}

/// Joins `path` on `addr` and sends texts as fast as the socket takes
/// them, for [`FLOOD_FOR`] or until the server closes the connection,
/// reading the events that come back meanwhile.
fn flood(addr: SocketAddr, path: &str) -> Flooded {
    let mut ws = connect_to(addr, path);
    ws.get_ref().set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let welcome = next_event(&mut ws).unwrap();
    let name = welcome["you"].as_str().unwrap().to_owned();
    let mut socket = ws.get_ref().try_clone().unwrap();
    socket.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let writer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(Ordering::Acquire) && start.elapsed() < FLOOD_FOR {
                let frames: Vec<u8> = (sent..sent + FRAMES_PER_WRITE as u64)
                    .flat_map(|n| masked(OpCode::Text, flood_text(n).as_bytes()))
                    .collect();
                if socket.write_all(&frames).is_err() {
                    return sent;
                }
                sent += FRAMES_PER_WRITE as u64;
            }
            if !stop.load(Ordering::Acquire) {
                // Not closed within the flood: the flooder closes, normally.
                let close = masked(OpCode::Close, &CloseCode::NORMAL.0.to_be_bytes());
                let _ = socket.write_all(&close);
            }
            sent
        })
    };
    let mut flooded = Flooded {
        sent: 0,
        echoes: Vec::new(),
        slow_downs: Vec::new(),
        close: None,
        ended: String::new(),
    };
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == "message" && event["from"] == name.as_str() {
                    flooded
                        .echoes
                        .push(event["text"].as_str().unwrap().to_owned());
                } else if let Some(ms) = event["retry_after_ms"].as_u64() {
                    assert_eq!(event["type"], "error", "{event}");
                    flooded.slow_downs.push((start.elapsed(), ms));
                }
            }
            Ok(Message::Close(frame)) => {
                stop.store(true, Ordering::Release);
                flooded.close = frame.map(|f| (f.code.0, f.reason, start.elapsed()));
                flooded.ended = "closed by the server".to_owned();
                break;
            }
            Ok(_) => {}
            Err(e) => {
                stop.store(true, Ordering::Release);
                flooded.ended = format!("connection error: {e}");
                break;
            }
        }
    }
    flooded.sent = writer.join().unwrap();
    // The server's side of the connection is finished once it cuts TCP: by
    // then everything the flooder said is in the room.
    let mut rest = ws.into_inner();
    let mut sink = [0u8; 4096];
    while matches!(rest.read(&mut sink), Ok(n) if n > 0) {}
    flooded
}

/// Three readers (one at each of `readers`) and a flooder (at `flooder`)
/// in one room: floods it, then has the first reader say [`END`], reads to
/// it, prints what happened, and checks it.
fn flood_a_room_of_slow_readers(setup: &str, flooder: SocketAddr, readers: [SocketAddr; 3]) {
    let path = "/flooded";
    let readers: Vec<Reader> = readers
        .iter()
        .map(|addr| Reader::join(*addr, path))
        .collect();
    let mut say_end = readers[0].ws.get_ref().stream.try_clone().unwrap();
    let reading: Vec<_> = readers
        .into_iter()
        .map(|reader| thread::spawn(move || reader.read_to_the_end()))
        .collect();
    let started = Instant::now();
    let flooded = flood(flooder, path);
    let flood_took = started.elapsed();
    say_end
        .write_all(&masked(OpCode::Text, END.as_bytes()))
        .unwrap();
    let received: Vec<Received> = reading.into_iter().map(|r| r.join().unwrap()).collect();

    let broadcast = &received[0].texts;
    eprintln!("flood, {setup}:");
    eprintln!(
        "  flooder: sent {} texts of {TEXT_LEN} B in {flood_took:.2?}; {} came back to it; \
         the room broadcast {}; {} slow-down events (at {}); {}: {}",
        flooded.sent,
        flooded.echoes.len(),
        broadcast.len(),
        flooded.slow_downs.len(),
        flooded
            .slow_downs
            .iter()
            .map(|(at, ms)| format!("{at:.2?} retry after {ms} ms"))
            .collect::<Vec<_>>()
            .join(", "),
        flooded.ended,
        match &flooded.close {
            Some((code, reason, at)) => format!("{code} {reason:?} at {at:.2?}"),
            None => "no Close".to_owned(),
        },
    );
    for reader in &received {
        eprintln!(
            "  reader {}: {} messages, {} other events, {} B read in all; {}",
            reader.name,
            reader.texts.len(),
            reader.others,
            reader.bytes,
            reader.ended
        );
    }

    for reader in &received {
        assert!(reader.still_connected, "{}: {}", reader.name, reader.ended);
        assert_eq!(
            &reader.texts, broadcast,
            "{} and {} disagree",
            reader.name, received[0].name
        );
    }
    // The flooder's echoes are the room's order: every reader got them
    // all, in that order. (Those still queued for it when it was closed
    // never reached it, so the readers may have more.)
    assert!(
        broadcast.starts_with(&flooded.echoes),
        "the readers' messages do not begin with the flooder's echoes"
    );
    // And only its texts, in the order it sent them.
    let numbers: Vec<u64> = broadcast
        .iter()
        .map(|t| t.trim().parse().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "{numbers:?}"
    );
    // Throttled: no more than the burst and the rate allow...
    let allowed = BURST + RATE * flood_took.as_secs_f64() + 1.0;
    assert!(
        (broadcast.len() as f64) <= allowed,
        "{} broadcast, more than {allowed}",
        broadcast.len()
    );
    assert!(!flooded.slow_downs.is_empty(), "never told to slow down");
    // ...and closed with 1008 once it kept on at more than twice the limit.
    let (code, reason, _) = flooded.close.expect("closed by the server");
    assert_eq!(code, CloseCode::POLICY_VIOLATION.0);
    assert_eq!(reason, "sending too fast");
}

#[test]
fn a_flooder_is_throttled_then_closed_and_slow_readers_keep_every_message() {
    let chat = start_ws6455(&["chat", "--quiet"]);
    flood_a_room_of_slow_readers("one instance", chat.addr, [chat.addr; 3]);
}

#[test]
fn through_redis_a_flooder_is_closed_and_slow_readers_on_both_instances_keep_every_message() {
    // As in redis_chat.rs: a real redis-server, which .ci/run installs.
    let redis = RedisServer::start().unwrap();
    let one = start_ws6455(&["chat", "--quiet", "--redis", &redis.url()]);
    let two = start_ws6455(&["chat", "--quiet", "--redis", &redis.url()]);
    flood_a_room_of_slow_readers(
        "two instances through Redis",
        one.addr,
        [one.addr, two.addr, two.addr],
    );
}
