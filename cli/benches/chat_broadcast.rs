//! Deliveries per second through one chat room of 100 clients on loopback:
//! 1 sender, 99 receivers, every reception counted. One run measures, one
//! after the other:
//!
//! - **one instance**: one `ws6455 chat` process, every client on it;
//! - **one instance through Redis**: one `ws6455 chat --redis`, every client
//!   on it: each message goes to Redis and comes back before anyone gets
//!   it, which separates the cost of Redis from that of a second process;
//! - **two instances through Redis**: two `ws6455 chat --redis` sharing one
//!   Redis, 50 clients on each, the sender on the first: the room split
//!   across instances.
//!
//! and ends with the two-instance figure beside the one-instance one. The
//! Redis set-ups each start a `redis-server` of their own on a free loopback
//! port, with no persistence; without `redis-server` on the PATH they are
//! skipped, and the run says so.
//!
//! The sender keeps at most `WINDOW` messages ahead of the slowest receiver,
//! so the bench measures sustained delivery rather than how fast queues
//! fill (a receiver that fell a full outgoing queue behind would be closed
//! with 1008, and the bench fails if that happens). It sends for
//! `SEND_FOR`, then an end marker, and stops when every receiver has it.
//! The sender is in the room too and gets its own copies (through Redis,
//! with `--redis`), but they are not counted.
//!
//! `cargo bench --bench chat_broadcast`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use redis_server::RedisServer;
use ws6455::proto::{FrameHeader, OpCode};
use ws6455::{Limits, Message, Role, WebSocket};

const CLIENTS: usize = 100;
const TEXT_LEN: usize = 100;
const WINDOW: u64 = 1000;
const BURST: u64 = 16;
const SEND_FOR: Duration = Duration::from_secs(3);
/// The text of the end marker; the bench's other texts are all `m`s.
const END: &str = "end";
/// A client that hears nothing for this long fails the bench.
const STALLED_AFTER: Duration = Duration::from_secs(20);

fn main() {
    println!(
        "chat_broadcast: 1 sender -> {} receivers in one room, {TEXT_LEN}-byte texts, \
         {} s of sending per set-up",
        CLIENTS - 1,
        SEND_FOR.as_secs()
    );
    println!(
        "  {:<34} {:>8} {:>10} {:>7} {:>14}",
        "set-up", "sent", "delivered", "seconds", "deliveries/s"
    );

    let one = {
        let chat = ChatProcess::start(None);
        measure("one instance", &[chat.addr])
    };
    let two = match RedisServer::start() {
        Ok(redis) => {
            {
                let chat = ChatProcess::start(Some(&redis));
                measure("one instance through Redis", &[chat.addr]);
            }
            // A Redis of its own, so the last set-up's members are not in it.
            drop(redis);
            let redis = RedisServer::start().expect("redis-server started a moment ago");
            let (first, second) = (
                ChatProcess::start(Some(&redis)),
                ChatProcess::start(Some(&redis)),
            );
            Ok(measure(
                "two instances through Redis, 50+50",
                &[first.addr, second.addr],
            ))
        }
        Err(why) => {
            println!("  the set-ups through Redis are skipped: {why}");
            Err(why)
        }
    };

    let one_rate = one.per_second();
    match two {
        Ok(two) => println!(
            "one instance: {one_rate:.0} deliveries/s; two instances through Redis: \
             {:.0} deliveries/s ({:.2} of one)",
            two.per_second(),
            two.per_second() / one_rate
        ),
        Err(why) => println!(
            "one instance: {one_rate:.0} deliveries/s; two instances through Redis: skipped: \
             {why}"
        ),
    }
}

/// What one set-up delivered.
struct Outcome {
    delivered: u64,
    elapsed: Duration,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }
}

/// Puts the clients in the room, spread evenly over `instances` in order
/// (the sender on the first), runs the broadcast, and prints a table row.
fn measure(setup: &str, instances: &[SocketAddr]) -> Outcome {
    let mut clients: Vec<WebSocket<TcpStream>> = (0..CLIENTS)
        .map(|i| join(instances[i * instances.len() / CLIENTS]))
        .collect();
    let sender = clients.remove(0);
    let received: Arc<Vec<AtomicU64>> = Arc::new((1..CLIENTS).map(|_| AtomicU64::new(0)).collect());

    let receivers: Vec<JoinHandle<Instant>> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let received = Arc::clone(&received);
            thread::spawn(move || -> Instant {
                loop {
                    match ws.read() {
                        Ok(Message::Text(event)) if event.starts_with(r#"{"type":"message""#) => {
                            if is_end(&event) {
                                return Instant::now();
                            }
                            received[i].fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => panic!("receiver {i} lost its connection: {e}"),
                    }
                }
            })
        })
        .collect();

    let mut writer = sender.get_ref().try_clone().unwrap();
    // The sender is in the room too: drain its own copies.
    let drain = thread::spawn(move || {
        let mut ws = sender;
        loop {
            match ws.read() {
                Ok(Message::Text(event)) if is_end(&event) => return,
                Ok(_) => {}
                Err(e) => panic!("the sender lost its connection: {e}"),
            }
        }
    });

    // The sender writes BURST messages at a time, as a client with a
    // backlog would: the server decodes them from one read.
    let burst = client_frame(&"m".repeat(TEXT_LEN)).repeat(BURST as usize);
    let start = Instant::now();
    let mut sent: u64 = 0;
    while start.elapsed() < SEND_FOR {
        writer.write_all(&burst).unwrap();
        sent += BURST;
        while sent - slowest(&received) > WINDOW {
            // A client thread ends early only by failing (it said why).
            assert!(
                !receivers.iter().any(JoinHandle::is_finished) && !drain.is_finished(),
                "{setup}: a client stopped before the end marker"
            );
            thread::sleep(Duration::from_micros(200));
        }
    }
    writer.write_all(&client_frame(END)).unwrap();
    let finished = receivers
        .into_iter()
        .map(|r| r.join().unwrap())
        .max()
        .unwrap();
    drain.join().unwrap();

    let elapsed = finished - start;
    let delivered: u64 = received.iter().map(|r| r.load(Ordering::Relaxed)).sum();
    assert_eq!(
        delivered,
        sent * (CLIENTS as u64 - 1),
        "{setup}: every receiver got every message"
    );
    let outcome = Outcome { delivered, elapsed };
    println!(
        "  {setup:<34} {sent:>8} {delivered:>10} {:>7.2} {:>14.0}",
        elapsed.as_secs_f64(),
        outcome.per_second()
    );
    outcome
}

/// Whether `event` is the end marker's `message` event,
/// `{"type":"message",…,"text":"end","ts":…}`: no other text is `end`.
fn is_end(event: &str) -> bool {
    event.starts_with(r#"{"type":"message""#) && event.contains(r#","text":"end","ts":"#)
}

fn slowest(received: &[AtomicU64]) -> u64 {
    received
        .iter()
        .map(|r| r.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0)
}

/// `ws6455 chat --quiet` on a free port (the chat is the command's, not
/// the library's), through `redis` if given; killed when dropped.
struct ChatProcess {
    child: Child,
    addr: SocketAddr,
}

impl ChatProcess {
    fn start(redis: Option<&RedisServer>) -> ChatProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ws6455"));
        command.args(["chat", "--quiet", "--listen", "127.0.0.1:0"]);
        // The bench's sender goes as fast as the room reads: no rate limit.
        command.args(["--rate", "1000000000", "--burst", "1000000000"]);
        command.args(["--rate-bytes", "1000000000000"]);
        // Its 100 clients all come from 127.0.0.1: no limit per address.
        command.args(["--max-connections-per-ip", "0"]);
        if let Some(redis) = redis {
            command.args(["--redis", &redis.url()]);
        }
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("ws6455 chat starts");
        // It names the address it bound, after "Redis reached" with --redis.
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ws6455 chat exited without naming its address");
            }
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .and_then(|addr| addr.parse().ok());
            if let Some(addr) = addr {
                break addr;
            }
        };
        // Whatever else it says is not the bench's business, but must not block it.
        thread::spawn(move || io::copy(&mut stderr, &mut io::sink()));
        ChatProcess { child, addr }
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to the room `/bench` and reads the welcome.
fn join(addr: SocketAddr) -> WebSocket<TcpStream> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    // A bench that stops delivering fails instead of hanging.
    stream.set_read_timeout(Some(STALLED_AFTER)).unwrap();
    let request = format!(
        "GET /bench HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let mut ws = WebSocket::from_raw(stream, Role::Client, Limits::default(), Vec::new());
    match ws.read().unwrap() {
        Message::Text(welcome) if welcome.starts_with(r#"{"type":"welcome""#) => ws,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// A masked text frame, as a client sends it.
fn client_frame(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    FrameHeader::new(true, OpCode::Text, Some([1, 2, 3, 4]), text.len() as u64)
        .encode_frame(text.as_bytes(), &mut wire);
    wire
}
