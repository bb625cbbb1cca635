//! The tutorials' programs in `examples/`, each run as a process and driven
//! over loopback with ws6455's own client: each does what the tutorial it
//! mirrors promises, and logs what it says it logs.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ws6455::handshake::ResponseError;
use ws6455::proto::StreamEvent;
use ws6455::server::{Echo, serve};
use ws6455::{
    ClientConfig, CloseCode, CloseFrame, Error, Message, MessageKind, ServerConfig, WebSocket,
    accept, connect, connect_with,
};
use ws6455::{ReadHalf, Stream};

/// How long any one line or message we wait for may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// Builds `examples/NAME.rs` and returns the executable's path. `cargo test`
/// builds the examples, but `cargo test --test examples` does not, and a
/// binary left from an earlier build would test old code.
fn build_example(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // Cargo runs this test with the package's own variables set. A build
    // script that watches one (ring's reads CARGO_MANIFEST_DIR) would take
    // them for a change and rebuild, and then again on the next plain build.
    for (variable, _) in std::env::vars() {
        let from_cargo = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_EXE_"]
            .iter()
            .any(|prefix| variable.starts_with(prefix))
            || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE"].contains(&&*variable);
        if from_cargo {
            cargo.env_remove(variable);
        }
    }
    let output = cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--example",
            name,
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|artifact| artifact["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no executable for example {name}"))
}

/// An example running as a child process, killed when dropped so that a
/// failing test leaves nothing behind.
struct Example {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Output,
    stderr: Output,
}

/// The lines of one of an example's output streams. (Lines of stdout and
/// stderr are read by two threads, so they are waited for apart: their
/// order between the two streams is lost.)
struct Output {
    lines: Receiver<String>,
    /// Every line read so far, for the message of a failed expectation.
    seen: Vec<String>,
}

impl Example {
    fn start(name: &str, args: &[&str]) -> Example {
        let mut child = Command::new(build_example(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Example {
            stdin: child.stdin.take(),
            stdout: Output::new(child.stdout.take().unwrap()),
            stderr: Output::new(child.stderr.take().unwrap()),
            child,
        }
    }

    /// Starts the server example `name` listening on `addr`; returns it and
    /// the address its first line names.
    fn serve(name: &str, addr: &str) -> (Example, SocketAddr) {
        let mut server = Example::start(name, &[addr]);
        let addr = server.listening();
        (server, addr)
    }

    /// Waits for the server's first line, `listening on ws://ADDR`; returns ADDR.
    fn listening(&mut self) -> SocketAddr {
        let banner = self.stdout.expect_start("listening on ws://");
        banner["listening on ws://".len()..].parse().unwrap()
    }

    /// The example's memory figure `field` (`VmRSS`, `VmHWM`, ...) from
    /// `/proc/PID/status`, in bytes.
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        let kib: u64 = line.trim().trim_end_matches(" kB").parse().unwrap();
        kib << 10
    }

    /// Writes `line` to the example's stdin.
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
    }

    /// Closes the example's stdin and waits for it to exit.
    fn end_input(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running; stdout {:#?}, stderr {:#?}",
                self.stdout.seen,
                self.stderr.seen
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Output {
    /// Reads `pipe`'s lines on a thread of their own.
    fn new(pipe: impl Read + Send + 'static) -> Output {
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Output {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the line `line`, skipping others.
    fn expect(&mut self, line: &str) {
        self.expect_where(line, |seen| seen == line);
    }

    /// Waits for a line starting with `prefix`, skipping others; returns it.
    fn expect_start(&mut self, prefix: &str) -> String {
        self.expect_where(prefix, |seen| seen.starts_with(prefix))
    }

    fn expect_where(&mut self, wanted: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "no line {wanted:?} within {PATIENCE:?}; got {:#?}",
                    self.seen
                );
            };
            self.seen.push(line.clone());
            if matches(&line) {
                return line;
            }
        }
    }
}

/// A client connected to `path` on `addr`, whose reads give up after [`PATIENCE`].
fn open(addr: SocketAddr, path: &str) -> WebSocket<Stream> {
    let (ws, _response) = connect(&format!("ws://{addr}{path}")).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(PATIENCE)).unwrap();
    ws
}

fn say(ws: &mut WebSocket<Stream>, text: &str) {
    ws.send(Message::Text(text.to_owned())).unwrap();
}

/// The next data message, skipping Pings and Pongs.
fn next_message<S: Read + Write>(ws: &mut WebSocket<S>) -> Message {
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) | Message::Pong(_) => {}
            message => return message,
        }
    }
}

fn next_text<S: Read + Write>(ws: &mut WebSocket<S>) -> String {
    match next_message(ws) {
        Message::Text(text) => text,
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Closes with 1000 as RFC 6455 §7.1.1 asks of a client: our Close, the
/// server's answer, then the server closes TCP first.
fn close(mut ws: WebSocket<Stream>) {
    ws.close(CloseCode::NORMAL, "").unwrap();
    while !matches!(ws.read().unwrap(), Message::Close(_)) {}
    ws.wait_for_server_close(PATIENCE).unwrap();
}

#[test]
fn prefix_echo_answers_server_received() {
    let (mut echo, addr) = Example::serve("prefix_echo", "127.0.0.1:0");
    let mut ws = open(addr, "/");
    say(&mut ws, "hello");
    assert_eq!(next_text(&mut ws), "Server received: hello");
    say(&mut ws, "héllo wörld");
    assert_eq!(next_text(&mut ws), "Server received: héllo wörld");
    ws.send(Message::Binary(vec![0; 3])).unwrap();
    assert_eq!(next_text(&mut ws), "Server received: 3 bytes");
    let peer = ws.get_ref().tcp().local_addr().unwrap();
    close(ws);
    // `serve` logs through `log`, which the example prints on stderr: the
    // client closed, and the session ended without an error.
    let line = echo
        .stderr
        .expect_start(&format!("{peer}: disconnected after "));
    assert!(
        line.contains(": the client closed with 1000 (normal closure); "),
        "{line}"
    );
}

#[test]
fn logging_server_logs_connect_message_and_disconnect() {
    let (mut server, addr) = Example::serve("logging_server", "127.0.0.1:0");
    let mut ws = open(addr, "/chat");
    let peer = ws.get_ref().tcp().local_addr().unwrap();
    server
        .stdout
        .expect(&format!("client connected: {peer} asked for /chat"));
    say(&mut ws, "hello");
    server.stdout.expect("received: hello");
    ws.send(Message::Binary(vec![0; 5])).unwrap();
    server.stdout.expect("received 5 bytes");
    close(ws);
    server.stdout.expect(&format!(
        "client disconnected: {peer} closed with 1000 (normal closure)"
    ));

    // A client that goes away without a Close is logged with the error.
    let ws = open(addr, "/");
    let peer = ws.get_ref().tcp().local_addr().unwrap();
    server
        .stdout
        .expect(&format!("client connected: {peer} asked for /"));
    drop(ws);
    server
        .stdout
        .expect_start(&format!("client disconnected: {peer}: "));
}

#[test]
fn broadcast_chat_logs_users_and_sends_each_message_to_everyone() {
    let (mut chat, addr) = Example::serve("broadcast_chat", "127.0.0.1:0");
    let mut alice = open(addr, "/");
    chat.stdout.expect("A new user connected");
    let mut bob = open(addr, "/");
    chat.stdout.expect("A new user connected");

    say(&mut alice, "hello");
    chat.stdout.expect("message: hello");
    assert_eq!(next_text(&mut alice), "hello"); // the sender too, as io.emit
    assert_eq!(next_text(&mut bob), "hello");

    close(alice);
    chat.stdout.expect("user disconnected");
    say(&mut bob, "anyone?");
    assert_eq!(next_text(&mut bob), "anyone?");
}

#[test]
fn welcome_chat_greets_with_exact_json_and_passes_messages_to_the_others() {
    const WELCOME: &str = r#"{"type":"welcome","message":"Welcome to the chat!"}"#;
    let (mut chat, addr) = Example::serve("welcome_chat", "127.0.0.1:0");
    let mut alice = open(addr, "/");
    assert_eq!(next_text(&mut alice), WELCOME);
    chat.stdout.expect("client 0 connected");
    let mut bob = open(addr, "/");
    assert_eq!(next_text(&mut bob), WELCOME);
    chat.stdout.expect("client 1 connected");

    say(&mut alice, "hi bob");
    assert_eq!(next_text(&mut bob), "hi bob");
    alice.send(Message::Binary(vec![1, 2, 3])).unwrap();
    assert_eq!(next_message(&mut bob), Message::Binary(vec![1, 2, 3]));
    // Alice's own messages did not come back to her: Bob's is her next.
    say(&mut bob, "hi alice");
    assert_eq!(next_text(&mut alice), "hi alice");

    close(bob);
    chat.stdout.expect("client 1 disconnected");
    close(alice);
}

#[test]
fn rooms_deliver_to_the_senders_room_only() {
    let (_rooms, addr) = Example::serve("rooms", "127.0.0.1:0");
    let mut kitchen = open(addr, "/kitchen");
    assert_eq!(next_text(&mut kitchen), "you are in kitchen");
    let mut garden = open(addr, "/garden");
    assert_eq!(next_text(&mut garden), "you are in garden");
    let mut mover = open(addr, "/");
    assert_eq!(next_text(&mut mover), "you are in lobby");
    say(&mut mover, "join kitchen");
    assert_eq!(next_text(&mut mover), "you are in kitchen");

    say(&mut kitchen, "soup's on");
    assert_eq!(next_text(&mut kitchen), "[kitchen] soup's on");
    assert_eq!(next_text(&mut mover), "[kitchen] soup's on");
    // The kitchen's message was sent to all its members before this one
    // was sent to anyone, so had the garden been sent it, it would come first.
    say(&mut garden, "roses");
    assert_eq!(next_text(&mut garden), "[garden] roses");
    say(&mut mover, "coming");
    assert_eq!(next_text(&mut mover), "[kitchen] coming");
    assert_eq!(next_text(&mut kitchen), "[kitchen] coming");
}

#[test]
fn rooms_client_reconnects_after_a_server_restart_and_rejoins_its_room() {
    let (rooms, addr) = Example::serve("rooms", "127.0.0.1:0");
    let mut client = Example::start("rooms", &["client", &format!("ws://{addr}/kitchen")]);
    client
        .stderr
        .expect(&format!("connected to ws://{addr}/kitchen"));
    client.stdout.expect("you are in kitchen");
    client.type_line("join garden");
    client.stdout.expect("you are in garden");

    drop(rooms); // killed
    client.stderr.expect("disconnected");
    client.stderr.expect_start("reconnecting in ");
    let (_rooms, restarted) = Example::serve("rooms", &addr.to_string());
    assert_eq!(restarted, addr);
    client
        .stderr
        .expect(&format!("connected to ws://{addr}/kitchen"));
    client.stdout.expect("you are in kitchen");
    client.stdout.expect("you are in garden");

    let mut gardener = open(addr, "/garden");
    assert_eq!(next_text(&mut gardener), "you are in garden");
    say(&mut gardener, "anyone here?");
    assert_eq!(next_text(&mut gardener), "[garden] anyone here?");
    client.stdout.expect("[garden] anyone here?");
    client.type_line("I am back");
    assert_eq!(next_text(&mut gardener), "[garden] I am back");

    // At the end of its input the client closes with 1000 and exits.
    let status = client.end_input();
    assert!(
        status.success(),
        "{status}; stderr {:#?}",
        client.stderr.seen
    );
}

#[test]
fn origin_check_refuses_a_foreign_page_with_403_and_serves_its_own_and_programs() {
    let (mut server, addr) = Example::serve("origin_check", "127.0.0.1:0");
    let url = format!("ws://{addr}/");
    let from = |origin: &str| ClientConfig::default().header("Origin", origin);
    match connect_with(&url, &from("http://evil.example")) {
        Err(Error::Response(ResponseError::NotSwitchingProtocols { status: 403, .. })) => {}
        other => panic!("expected a 403, got {other:?}"),
    }
    server.stdout.expect("refused http://evil.example: 403");
    // The server's own page, and a program that sends no Origin.
    for config in [from(&format!("http://{addr}")), ClientConfig::default()] {
        let (mut ws, _) = connect_with(&url, &config).unwrap();
        ws.get_ref().tcp().set_read_timeout(Some(PATIENCE)).unwrap();
        say(&mut ws, "same origin");
        assert_eq!(next_text(&mut ws), "same origin");
        close(ws);
    }
}

/// The relay example, started to relay to `ws://UPSTREAM/`; returns it and
/// the address it listens on.
fn start_relay(upstream: SocketAddr) -> (Example, SocketAddr) {
    let upstream = format!("ws://{upstream}/");
    let args = ["--listen", "127.0.0.1:0", "--upstream", &upstream];
    let mut relay = Example::start("relay", &args);
    let addr = relay.listening();
    (relay, addr)
}

/// The upstream's side of a relayed connection, whose reads give up after [`PATIENCE`].
fn accept_relayed(listener: &TcpListener) -> WebSocket<TcpStream> {
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    accept(tcp).unwrap().0
}

#[test]
fn relay_answers_502_when_the_upstream_cannot_be_reached() {
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut relay, addr) = start_relay(gone.local_addr().unwrap());
    drop(gone);
    match connect(&format!("ws://{addr}/")) {
        Err(Error::Response(ResponseError::NotSwitchingProtocols { status: 502, .. })) => {}
        other => panic!("expected a 502, got {other:?}"),
    }
    relay.stderr.expect_start("127.0.0.1:");
    let line = relay.stderr.seen.last().unwrap();
    assert!(
        line.contains(": the upstream cannot be reached: "),
        "{line}"
    );
}

/// A text of 300 KiB and more, in characters of one to four bytes.
fn long_text() -> String {
    "aé€😀".repeat(30_000)
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode(code),
        reason: reason.to_owned(),
    }))
}

#[test]
fn relay_passes_messages_and_closes_both_ways_and_answers_pings_on_each_hop() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut relay, addr) = start_relay(listener.local_addr().unwrap());
    // The upstream's side of three relayed connections. Both hops
    // negotiate permessage-deflate (the defaults), each its own.
    let upstream = thread::spawn(move || {
        // 1: messages both ways, a Ping from each end, and the client closes.
        let mut ws = accept_relayed(&listener);
        assert_eq!(next_text(&mut ws), "héllo from the client");
        assert_eq!(next_text(&mut ws), "sent in two pieces");
        assert_eq!(next_message(&mut ws), Message::Binary(Vec::new()));
        // Larger than a piece: relayed in pieces that cut characters in two.
        let long = next_text(&mut ws);
        assert_eq!(long, long_text());
        ws.send(Message::Text(long)).unwrap();
        ws.send(Message::Ping(b"upstream's ping".to_vec())).unwrap();
        // The relay answers it: a Ping is not passed on.
        assert_eq!(
            ws.read().unwrap(),
            Message::Pong(b"upstream's ping".to_vec())
        );
        ws.send(Message::text("wörld from upstream")).unwrap();
        assert_eq!(ws.read().unwrap(), close_frame(4000, "client done"));
        drop(ws); // the server closes TCP first (RFC 6455 §7.1.1)
        // 2: the upstream closes.
        let mut ws = accept_relayed(&listener);
        ws.send(Message::text("closing")).unwrap();
        ws.close(CloseCode(4001), "upstream done").unwrap();
        // The relay's own answer on this hop, with the code.
        assert_eq!(ws.read().unwrap(), close_frame(4001, ""));
        drop(ws);
        // 3: the upstream sends text that is not UTF-8 (RFC 6455 §8.1).
        let mut ws = accept_relayed(&listener);
        let mut tcp = ws.get_ref().try_clone().unwrap();
        tcp.write_all(&[0x81, 0x02, 0xC3, 0x28]).unwrap();
        match ws.read().unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::INVALID_PAYLOAD),
            other => panic!("expected the relay's Close 1007, got {other:?}"),
        }
    });

    let mut ws = open(addr, "/");
    let peer = ws.get_ref().tcp().local_addr().unwrap();
    say(&mut ws, "héllo from the client");
    ws.send_piece(MessageKind::Text, "sent in".as_bytes(), false)
        .unwrap();
    ws.send_piece(MessageKind::Text, " two pieces".as_bytes(), true)
        .unwrap();
    ws.send(Message::Binary(Vec::new())).unwrap();
    say(&mut ws, &long_text());
    assert_eq!(next_text(&mut ws), long_text());
    assert_eq!(next_text(&mut ws), "wörld from upstream");
    ws.send(Message::Ping(b"client's ping".to_vec())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"client's ping".to_vec()));
    ws.close(CloseCode(4000), "client done").unwrap();
    assert_eq!(ws.read().unwrap(), close_frame(4000, ""));
    ws.wait_for_server_close(PATIENCE).unwrap();
    relay.stderr.expect(&format!(
        "{peer}: client closed with 4000 (private use) \"client done\"; \
         upstream closed with 4000 (private use) \"\""
    ));

    let mut ws = open(addr, "/");
    assert_eq!(next_text(&mut ws), "closing");
    assert_eq!(ws.read().unwrap(), close_frame(4001, "upstream done"));
    ws.wait_for_server_close(PATIENCE).unwrap();

    // The upstream broke the protocol: the client is told the fault lies
    // beyond the relay (1014), not handed the upstream's 1007.
    let mut ws = open(addr, "/");
    assert_eq!(
        ws.read().unwrap(),
        close_frame(1014, "the upstream broke the protocol (1007)")
    );
    ws.wait_for_server_close(PATIENCE).unwrap();
    upstream.join().unwrap();
}

/// The length of the table a large message's bytes repeat: 1 MiB and 7
/// bytes, so that a piece lost, repeated or moved (pieces are at most
/// 64 KiB) leaves the bytes after it out of line with the table.
const PATTERN_LEN: usize = (1 << 20) + 7;

/// The table: pseudo-random bytes (xorshift64).
static PATTERN: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..PATTERN_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
});

/// A payload of `len` bytes generated as it is read: [`PATTERN`] repeated.
struct PatternReader {
    position: u64,
    len: u64,
}

impl Read for PatternReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let start = (self.position % PATTERN_LEN as u64) as usize;
        let left = usize::try_from(self.len - self.position).unwrap_or(usize::MAX);
        let n = out.len().min(PATTERN_LEN - start).min(left);
        out[..n].copy_from_slice(&PATTERN[start..start + n]);
        self.position += n as u64;
        Ok(n)
    }
}

/// Checks that `bytes` are the pattern's from `position` on.
fn check_pattern(position: u64, bytes: &[u8]) {
    let mut checked = 0;
    while checked < bytes.len() {
        let at = position + checked as u64;
        let start = (at % PATTERN_LEN as u64) as usize;
        let n = (bytes.len() - checked).min(PATTERN_LEN - start);
        assert!(
            bytes[checked..checked + n] == PATTERN[start..start + n],
            "the bytes from {at} on differ from those sent"
        );
        checked += n;
    }
}

/// Reads the next data message piece by piece into a 64 KiB buffer,
/// checking its bytes against the pattern; returns its length.
fn read_pattern_message<S: ws6455::SplitStream>(reader: &mut ReadHalf<S>) -> u64 {
    let mut buffer = vec![0; 64 << 10];
    let mut received = 0;
    loop {
        match reader.read_piece(&mut buffer).unwrap() {
            StreamEvent::Piece(piece) => {
                assert_eq!(piece.kind, MessageKind::Binary);
                assert!(
                    !piece.first || received == 0,
                    "a message began inside another"
                );
                check_pattern(received, &buffer[..piece.len]);
                received += piece.len as u64;
                if piece.last {
                    return received;
                }
            }
            StreamEvent::Control(Message::Ping(_) | Message::Pong(_)) => {}
            StreamEvent::Control(other) => panic!("expected the message, got {other:?}"),
        }
    }
}

/// The message relayed there and back: 256 MiB (issue 22).
const LARGE_MESSAGE: u64 = 256 << 20;

/// How much the relay's peak resident memory may exceed what it held before
/// the large message. It holds, per direction, a 64 KiB piece buffer, a read
/// buffer of at most 64 KiB and the frame being written (one piece): under
/// 1 MiB for both directions, and allocator slack on top (glibc gives each
/// thread its own arena). 4 MiB is far below the 16 MiB a write queue left
/// to fill up to its default limit would take, and the 256 MiB of a message
/// held whole.
const RELAY_GROWTH_BOUND: u64 = 4 << 20;

#[test]
fn relay_streams_a_256_mib_message_there_and_back_in_bounded_memory() {
    // The upstream: the library's echo, which streams too, with no message
    // limit. Neither hop compresses: this measures the relay's buffers.
    let upstream_config = ServerConfig::default().max_message(u64::MAX);
    #[cfg(feature = "deflate")]
    let upstream_config = upstream_config.deflate(None);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = serve(listener, upstream_config, Echo).unwrap();
    let (relay, addr) = start_relay(upstream.local_addr());
    let client_config = ClientConfig::default().max_message(u64::MAX);
    #[cfg(feature = "deflate")]
    let client_config = client_config.deflate(None);
    let (ws, _response) = connect_with(&format!("ws://{addr}/"), &client_config).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(PATIENCE)).unwrap();
    let (mut reader, writer) = ws.split().unwrap();

    // A small message first: the relay's connection, threads and buffers
    // are set up before the baseline is taken.
    let small = PatternReader {
        position: 0,
        len: 1000,
    };
    writer
        .send_from(MessageKind::Binary, small, 64 << 10)
        .unwrap();
    assert_eq!(read_pattern_message(&mut reader), 1000);
    let resident_before = relay.memory("VmRSS");

    let started = Instant::now();
    let sender = {
        let writer = writer.clone();
        thread::spawn(move || {
            let payload = PatternReader {
                position: 0,
                len: LARGE_MESSAGE,
            };
            writer.send_from(MessageKind::Binary, payload, 64 << 10)
        })
    };
    assert_eq!(read_pattern_message(&mut reader), LARGE_MESSAGE);
    let elapsed = started.elapsed();
    assert_eq!(sender.join().unwrap().unwrap(), LARGE_MESSAGE);
    // The peak since the relay started: the growth is never understated.
    let growth = relay.memory("VmHWM").saturating_sub(resident_before);
    eprintln!(
        "relay: 256 MiB there and back in {elapsed:.1?}; peak resident memory {:.2} MiB above the {:.2} MiB before",
        growth as f64 / (1 << 20) as f64,
        resident_before as f64 / (1 << 20) as f64
    );
    assert!(
        growth <= RELAY_GROWTH_BOUND,
        "the relay's peak resident memory grew by {growth} bytes, more than {RELAY_GROWTH_BOUND}"
    );

    writer.close(CloseCode::NORMAL, "").unwrap();
    loop {
        match reader.read_piece(&mut [0; 1024]).unwrap() {
            StreamEvent::Control(Message::Close(_)) => break,
            StreamEvent::Control(_) => {}
            StreamEvent::Piece(piece) => panic!("expected the Close, got {piece:?}"),
        }
    }
    upstream.shutdown();
}

/// `examples/hyper_upgrade.rs`: ws6455 inside a hyper 1.x server, which
/// serves a page and hands `/ws` over once `answer_upgrade`'s 101 is sent.
#[cfg(feature = "tokio")]
mod hyper_upgrade {
    use super::*;

    /// The fields of a valid opening request (RFC 6455 §4.1), the RFC's key.
    const UPGRADE_FIELDS: [&str; 4] = [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];

    /// The example, started on a free port; returns it and its address.
    fn start() -> (Example, SocketAddr) {
        let mut server = Example::start("hyper_upgrade", &["127.0.0.1:0"]);
        let banner = server.stdout.expect_start("listening on http://");
        let addr = banner["listening on http://".len()..].parse().unwrap();
        (server, addr)
    }

    /// A request `method /ws` with `fields` after `Host`.
    fn ws_request(method: &str, fields: &[&str]) -> String {
        let mut request = format!("{method} /ws HTTP/1.1\r\nHost: localhost\r\n");
        for field in fields {
            request.push_str(field);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request
    }

    /// Sends `request` to `addr` and reads the answer until the server ends
    /// the connection.
    fn exchange(addr: SocketAddr, request: &str) -> String {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        tcp.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        answer
    }

    /// The value of header `name` in a response's head (names compared
    /// without regard to case: hyper writes them in lower case).
    fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
        let head = answer.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    #[test]
    fn hyper_upgrade_serves_a_page_whose_script_opens_ws() {
        let (_server, addr) = start();
        let answer = exchange(
            addr,
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert_eq!(
            header(&answer, "Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert!(
            answer.contains("new WebSocket(`ws://${location.host}/ws`, \"echo\")"),
            "{answer}"
        );
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn hyper_upgrade_echoes_with_permessage_deflate_and_its_subprotocol_and_answers_the_close() {
        let (mut server, addr) = start();
        let config = ClientConfig::default().subprotocols(["chat", "echo"]);
        let (mut ws, response) = connect_with(&format!("ws://{addr}/ws"), &config).unwrap();
        ws.get_ref().tcp().set_read_timeout(Some(PATIENCE)).unwrap();
        assert_eq!(
            response.header("Sec-WebSocket-Protocol"),
            Some(&b"echo"[..])
        );
        let extensions = response.header("Sec-WebSocket-Extensions").unwrap();
        assert!(
            extensions.starts_with(b"permessage-deflate"),
            "{extensions:?}"
        );
        server
            .stdout
            .expect_where("upgraded with echo and deflate", |line| {
                line.ends_with(": upgraded, subprotocol \"echo\", permessage-deflate true")
            });
        let megabyte: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
        for message in [
            Message::text("Hello"),
            Message::binary([0, 1, 2, 255]),
            Message::Text(long_text()),
            Message::Binary(megabyte),
        ] {
            ws.send(message.clone()).unwrap();
            assert_eq!(next_message(&mut ws), message);
        }
        close(ws);
        server
            .stdout
            .expect_where("the end of the connection", |line| {
                line.ends_with(": connection ended")
            });
    }

    #[test]
    fn hyper_upgrade_keeps_the_frame_a_client_sent_right_after_its_request() {
        let (_server, addr) = start();
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        // Both in one write, so hyper reads the frame with the request head.
        let mut wire = ws_request("GET", &UPGRADE_FIELDS).into_bytes();
        wire.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
        tcp.write_all(&wire).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0; 1024];
        while !answer.ends_with(b"\r\n\r\n\x81\x02hi") {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "{}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert_eq!(
            header(&answer, "Sec-WebSocket-Accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(header(&answer, "Sec-WebSocket-Extensions"), None);
    }

    #[test]
    fn rfc6455_4_2_1_hyper_upgrade_refuses_a_bad_upgrade_request_with_its_status() {
        let (_server, addr) = start();
        let without = |name: &str| -> Vec<&str> {
            UPGRADE_FIELDS
                .into_iter()
                .filter(|field| !field.starts_with(name))
                .collect()
        };
        let mut wrong_version = without("Sec-WebSocket-Version");
        wrong_version.push("Sec-WebSocket-Version: 8");
        let mut two_keys = UPGRADE_FIELDS.to_vec();
        two_keys.push("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==");
        let cases: [(&str, &str, Vec<&str>); 5] = [
            ("no Upgrade: a plain request", "GET", Vec::new()),
            ("a version we do not speak", "GET", wrong_version),
            ("no key", "GET", without("Sec-WebSocket-Key")),
            ("two keys (§11.3.1)", "GET", two_keys),
            ("not GET", "POST", UPGRADE_FIELDS.to_vec()),
        ];
        let expected = [426, 426, 400, 400, 405];
        for ((case, method, fields), status) in cases.into_iter().zip(expected) {
            let answer = exchange(addr, &ws_request(method, &fields));
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{case}: {answer}"
            );
            if status == 426 {
                // §4.2.2 and §4.4: the version this server speaks.
                assert_eq!(
                    header(&answer, "Sec-WebSocket-Version"),
                    Some("13"),
                    "{case}"
                );
            }
            assert_eq!(header(&answer, "Sec-WebSocket-Accept"), None, "{case}");
        }
    }
}
