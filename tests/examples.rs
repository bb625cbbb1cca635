//! The tutorials' programs in `examples/`, each run as a process and driven
//! over loopback with ws6455's own client: each does what the tutorial it
//! mirrors promises, and logs what it says it logs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ws6455::Stream;
use ws6455::handshake::ResponseError;
use ws6455::{ClientConfig, CloseCode, Error, Message, WebSocket, connect, connect_with};

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
        let banner = server.stdout.expect_start("listening on ws://");
        let addr = banner["listening on ws://".len()..].parse().unwrap();
        (server, addr)
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
fn next_message(ws: &mut WebSocket<Stream>) -> Message {
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) | Message::Pong(_) => {}
            message => return message,
        }
    }
}

fn next_text(ws: &mut WebSocket<Stream>) -> String {
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
