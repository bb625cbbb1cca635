//! Messages per second delivered through one chat room of 100 clients on
//! loopback: 1 sender, 99 receivers, every reception counted.
//!
//! The sender keeps at most `WINDOW` messages ahead of the slowest receiver,
//! so the bench measures sustained delivery rather than how fast queues
//! fill (a receiver that fell a full outgoing queue behind would be closed
//! with 1008, and the bench fails if that happens). It sends for
//! `SEND_FOR`, then an end marker, and stops when every receiver has it.
//!
//! `cargo bench --bench chat_broadcast`

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ws6455::frame::{OpCode, encode_frame};
use ws6455::{Limits, Message, Role, WebSocket};

const CLIENTS: usize = 100;
const TEXT_LEN: usize = 100;
const WINDOW: u64 = 1000;
const BURST: u64 = 16;
const SEND_FOR: Duration = Duration::from_secs(3);
const END: &str = "end";

fn main() {
    let chat = ChatProcess::start();
    let addr = chat.addr;
    let mut clients: Vec<WebSocket<TcpStream>> = (0..CLIENTS).map(|_| join(addr)).collect();
    let sender = clients.remove(0);
    let received: Arc<Vec<AtomicU64>> = Arc::new((1..CLIENTS).map(|_| AtomicU64::new(0)).collect());

    let receivers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let received = Arc::clone(&received);
            thread::spawn(move || -> Instant {
                loop {
                    match ws.read() {
                        Ok(Message::Text(event)) if event.starts_with(r#"{"type":"message""#) => {
                            if event.ends_with(&format!(r#""text":"{END}"}}"#)) {
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
                Ok(Message::Text(event)) if event.ends_with(&format!(r#""text":"{END}"}}"#)) => {
                    return;
                }
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
        "every receiver got every message"
    );
    println!(
        "chat_broadcast: 1 sender -> {} receivers in one room, {TEXT_LEN}-byte texts",
        CLIENTS - 1
    );
    println!(
        "  sent {sent} messages, delivered {delivered} in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  {:.0} messages/s delivered ({:.0} messages/s sent)",
        delivered as f64 / elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
}

fn slowest(received: &[AtomicU64]) -> u64 {
    received
        .iter()
        .map(|r| r.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0)
}

/// `ws6455 chat --quiet` on a free port (the chat is the command's, not
/// the library's); killed when dropped.
struct ChatProcess {
    child: Child,
    addr: SocketAddr,
}

impl ChatProcess {
    fn start() -> ChatProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args(["chat", "--quiet", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("ws6455 chat starts");
        // Its first line names the address it bound.
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let mut banner = String::new();
        stderr
            .read_line(&mut banner)
            .expect("ws6455 chat names its address");
        // Whatever else it says is not the bench's business, but must not block it.
        thread::spawn(move || io::copy(&mut stderr, &mut io::sink()));
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {banner:?}"));
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
    let request = format!(
        "GET /bench HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut stream, &mut byte).unwrap();
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
    encode_frame(&mut wire, OpCode::Text, Some([1, 2, 3, 4]), text.as_bytes());
    wire
}
