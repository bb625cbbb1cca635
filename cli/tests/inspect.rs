//! `ws6455 inspect` between real peers over real sockets: hand-written
//! clients and servers that choose every byte they send and record every
//! byte they receive, `ws6455 echo`, `ws6455 client` and the library's own
//! client. Each test checks what the peers received against what the other
//! sent, and what the inspector showed (its recording, `--record`, and its
//! live view, stdout) against what went over the wire.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ws6455::deflate::DeflateConfig;
use ws6455::handshake::RequestError;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN, MessageKind, OpCode, ProtocolError, StreamEvent};
use ws6455::server::Echo;
use ws6455::{ClientConfig, CloseCode, Engine, Limits, Message, Role, ServerConfig, connect_with};

use common::*;

/// How long a test waits for a peer, or for the inspector to show something.
const PATIENCE: Duration = Duration::from_secs(10);

/// The most payload bytes a frame event carries.
const FRAME_BYTES_SHOWN: usize = 4096;

/// A `ws6455 inspect` process on a free port, recording to a file of its
/// own, its live view (stdout) read as it comes; killed when dropped.
struct Inspector {
    child: Child,
    /// Where clients connect.
    addr: SocketAddr,
    /// The `--record` file.
    record: PathBuf,
    /// The live view so far.
    live: Arc<Mutex<Vec<u8>>>,
    /// The thread that reads it, until the process ends.
    live_reader: Option<JoinHandle<()>>,
}

impl Inspector {
    /// Starts `ws6455 inspect --listen 127.0.0.1:0 --upstream UPSTREAM
    /// --record FILE EXTRA...`, the file named after `test`, and waits for
    /// its first line on stderr, which names its address.
    fn start(test: &str, upstream: &str, extra: &[&str]) -> Inspector {
        let record = std::env::temp_dir().join(format!(
            "ws6455-inspect-{}-{test}.jsonl",
            std::process::id()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args(["inspect", "--listen", "127.0.0.1:0", "--upstream", upstream])
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // `ws6455 inspect listening on ws://ADDR, relaying to URL`
        let addr = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("ws6455 inspect exited without naming its address");
            }
            if let Some(rest) = line.strip_prefix("ws6455 inspect listening on ") {
                let addr = rest
                    .split_once("://")
                    .and_then(|(_, rest)| rest.split_once(','))
                    .and_then(|(addr, _)| addr.parse().ok());
                break addr.unwrap_or_else(|| panic!("no address in {line:?}"));
            }
        };
        // The rest of its log goes to the test's output.
        thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("ws6455 inspect: {line}");
            }
        });
        let live = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let shown = Arc::clone(&live);
        let live_reader = thread::spawn(move || {
            let mut chunk = vec![0; 64 << 10];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                shown.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Inspector {
            child,
            addr,
            record,
            live,
            live_reader: Some(live_reader),
        }
    }

    /// The URL clients connect to.
    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The events recorded so far: every whole line of the recording.
    fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|line| line.ends_with('\n'))
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// Waits until the recording holds what `done` looks for; returns it.
    fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let events = self.events();
            if done(&events) {
                return events;
            }
            if Instant::now() > deadline {
                let shown: Vec<String> = events.iter().map(short).collect();
                panic!("the recording shows no {what}:\n{}", shown.join("\n"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until connection `conn` has ended; returns the recording.
    fn wait_for_end(&self, conn: u64) -> Vec<Value> {
        self.wait_for(&format!("end of #{conn}"), |events| {
            events
                .iter()
                .any(|e| e["kind"] == "end" && e["conn"] == conn)
        })
    }

    /// The live view so far.
    fn live(&self) -> String {
        String::from_utf8_lossy(&self.live.lock().unwrap()).into_owned()
    }

    /// Waits until the live view shows `line` (a whole line).
    fn wait_for_line(&self, line: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.live().lines().any(|shown| shown == line) {
            assert!(
                Instant::now() < deadline,
                "the live view shows no line {line:?}:\n{}",
                self.live()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its memory figure `field` (`VmRSS`, `VmHWM`) from `/proc/PID/status`,
    /// in bytes, as the relay test in `tests/examples.rs` reads it.
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        let kib: u64 = line.trim().trim_end_matches(" kB").parse().unwrap();
        kib << 10
    }

    /// Stops it with SIGTERM, as a user's Ctrl-C would, and returns its
    /// whole live view.
    fn stop(mut self) -> String {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "ws6455 inspect did not exit");
            thread::sleep(Duration::from_millis(10));
        }
        if let Some(reader) = self.live_reader.take() {
            reader.join().unwrap();
        }
        self.live()
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.record);
    }
}

/// An event on one line, at most 600 characters of it, for a failed
/// assertion to show.
fn short(event: &Value) -> String {
    let text = event.to_string();
    match text.char_indices().nth(600) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// The events of `kind` on connection `conn`.
fn of_kind<'a>(events: &'a [Value], kind: &str, conn: u64) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind && e["conn"] == conn)
        .collect()
}

/// An event without its time, for comparing with what is expected.
fn timeless(event: &Value) -> Value {
    let mut event = event.clone();
    if let Some(fields) = event.as_object_mut() {
        fields.remove("t");
    }
    event
}

/// Bytes as lowercase hex, as the recording writes them.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `got` is `expected`, naming the first byte that differs
/// rather than printing both.
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let at = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: {} bytes received, {} sent; they differ from byte {at} on",
        got.len(),
        expected.len()
    );
}

/// A small pseudo-random generator (xorshift64): pieces of reproducible
/// sizes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How a peer writes its bytes.
#[derive(Clone, Copy, Debug)]
enum Pace {
    /// All at once.
    Whole,
    /// In pieces of pseudo-random sizes (one byte to 16 KiB) from this
    /// seed, with short sleeps between some of them, so that headers,
    /// payloads and heads arrive cut anywhere.
    Pieces(u64),
}

/// Writes `bytes` to `stream` at `pace`.
fn write_paced(stream: &mut TcpStream, bytes: &[u8], pace: Pace) {
    let Pace::Pieces(seed) = pace else {
        stream.write_all(bytes).unwrap();
        return;
    };
    let mut random = XorShift(seed);
    let mut rest = bytes;
    while !rest.is_empty() {
        let most = [4, 64, 1500, 16 << 10][(random.next() % 4) as usize];
        let n = (1 + random.next() % most) as usize;
        let (piece, after) = rest.split_at(n.min(rest.len()));
        stream.write_all(piece).unwrap();
        rest = after;
        if random.next() % 3 == 0 {
            thread::sleep(Duration::from_micros(random.next() % 1500));
        }
    }
}

/// What a hand-written upstream does on one connection.
struct Answer {
    /// Its response head and whatever follows it, as bytes.
    bytes: Vec<u8>,
    pace: Pace,
    /// Whether it ends its side of TCP once it has answered; if not, it
    /// keeps it open until the other side has ended its own.
    end_after: bool,
}

/// What a hand-written upstream received on one connection.
struct Received {
    /// The request head, its blank line included.
    head: Vec<u8>,
    /// Every byte after it, to the end of TCP.
    rest: Vec<u8>,
}

/// A hand-written upstream on a free port: for each answer in turn, it
/// accepts a connection, reads the request head, writes the answer, and
/// records every byte it receives until the other side ends TCP.
fn raw_upstream(answers: Vec<Answer>) -> (SocketAddr, JoinHandle<Vec<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = thread::spawn(move || {
        answers
            .into_iter()
            .map(|answer| {
                let (mut stream, _) = listener.accept().unwrap();
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut bytes = Vec::new();
                let head_len = loop {
                    if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    let mut chunk = [0; 4096];
                    let n = stream.read(&mut chunk).unwrap();
                    assert!(n > 0, "the request head ended early: {bytes:?}");
                    bytes.extend_from_slice(&chunk[..n]);
                };
                let mut writer = stream.try_clone().unwrap();
                let written = thread::spawn(move || {
                    write_paced(&mut writer, &answer.bytes, answer.pace);
                    if answer.end_after {
                        writer.shutdown(Shutdown::Write).unwrap();
                    }
                });
                stream.read_to_end(&mut bytes).unwrap();
                written.join().unwrap();
                let rest = bytes.split_off(head_len);
                Received { head: bytes, rest }
            })
            .collect()
    });
    (addr, served)
}

/// A hand-written upgrade request's 101, with permessage-deflate agreed with
/// its defaults (context takeover both ways, 15-bit windows) if `deflate`.
fn switching_protocols(deflate: bool) -> String {
    let extension = match deflate {
        true => "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        false => "",
    };
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extension}X-Answered-By: a raw test server\r\n\r\n"
    )
}

/// Frames as a peer sends them: the bytes, and where each frame is in them.
#[derive(Default)]
struct Wire {
    bytes: Vec<u8>,
    frames: Vec<SentFrame>,
}

/// One frame of a [`Wire`].
struct SentFrame {
    header: FrameHeader,
    /// Where it starts in the bytes, where its payload starts and where it ends.
    start: usize,
    payload_start: usize,
    end: usize,
}

impl Wire {
    /// Appends a frame with RSV1 as `rsv1` says, masked with `key` if given.
    fn push(
        &mut self,
        fin: bool,
        rsv1: bool,
        opcode: OpCode,
        key: Option<[u8; 4]>,
        payload: &[u8],
    ) -> &mut Wire {
        let header = FrameHeader {
            fin,
            rsv: if rsv1 { 0b100 } else { 0 },
            opcode,
            mask: key,
            payload_len: payload.len() as u64,
        };
        let start = self.bytes.len();
        header.encode_frame(payload, &mut self.bytes);
        self.frames.push(SentFrame {
            header,
            start,
            payload_start: self.bytes.len() - payload.len(),
            end: self.bytes.len(),
        });
        self
    }

    /// The frame events the recording should show for these frames, sent
    /// by `from` on connection `conn`: each header's fields and bytes, and
    /// each payload's first bytes as sent.
    fn frame_events(&self, from: &str, conn: u64) -> Vec<Value> {
        self.frames
            .iter()
            .map(|frame| {
                let h = &frame.header;
                let payload = &self.bytes[frame.payload_start..frame.end];
                let shown = &payload[..payload.len().min(FRAME_BYTES_SHOWN)];
                let length_field = match h.payload_len {
                    0..=125 => "7-bit",
                    126..=65535 => "16-bit",
                    _ => "64-bit",
                };
                json!({
                    "kind": "frame", "conn": conn, "from": from,
                    "fin": h.fin, "rsv1": h.rsv & 0b100 != 0, "rsv2": false, "rsv3": false,
                    "opcode": h.opcode.bits(), "masked": h.mask.is_some(),
                    "key": h.mask.map(|key| hex(&key)),
                    "length": h.payload_len, "length_field": length_field,
                    "header_hex": hex(&self.bytes[frame.start..frame.payload_start]),
                    "payload_hex": hex(shown), "payload_shown": shown.len(),
                })
            })
            .collect()
    }
}

/// The message event for a text message.
fn text_event(from: &str, text: &str, frames: u64, wire_length: u64, compressed: bool) -> Value {
    json!({
        "kind": "message", "conn": 1, "from": from, "type": "text",
        "compressed": compressed, "frames": frames, "wire_length": wire_length,
        "length": text.len(), "text": text, "truncated": false,
    })
}

/// The message event for a binary message, a Ping or a Pong.
fn data_event(
    from: &str,
    kind: &str,
    data: &[u8],
    frames: u64,
    wire_length: u64,
    compressed: bool,
) -> Value {
    json!({
        "kind": "message", "conn": 1, "from": from, "type": kind,
        "compressed": compressed, "frames": frames, "wire_length": wire_length,
        "length": data.len(), "data_hex": hex(data), "truncated": false,
    })
}

/// The message event for a Close with a code.
fn close_event(from: &str, code: u16, reason: &str) -> Value {
    let length = 2 + reason.len();
    json!({
        "kind": "message", "conn": 1, "from": from, "type": "close",
        "compressed": false, "frames": 1, "wire_length": length, "length": length,
        "text": reason, "truncated": false, "close_code": code,
    })
}

/// Bytes that are not all alike: `len` of them from `seed`.
fn varied(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// "Hello" compressed from an empty window: RFC 7692 §7.2.3.1.
const HELLO_DEFLATED: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// "Hello" again, compressed with the first one still in the window: one
/// back-reference (RFC 7692 §7.2.3.2, context takeover).
const HELLO_AGAIN_DEFLATED: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

/// "Hello" in a stored block, not compressed (RFC 7692 §7.2.3.3).
const HELLO_STORED: [u8; 10] = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f];

/// The client's frames: a masking key of every kind, every length field's
/// edges (0, 125, 126, 65535, 65536), a fragmented message with a Ping and
/// a Pong between its fragments, and RFC 7692 §7.2.3's compressed
/// messages, one of them made of the context the one before left, one in
/// two fragments; then a Close. And the message events they make.
fn client_frames() -> (Wire, Vec<Value>) {
    let mut wire = Wire::default();
    let mut messages = Vec::new();
    let c = "client";
    wire.push(
        true,
        false,
        OpCode::Text,
        Some([0x37, 0xfa, 0x21, 0x3d]),
        b"Hello",
    );
    messages.push(text_event(c, "Hello", 1, 5, false));
    for (len, key) in [
        (0, [0, 0, 0, 0]),
        (125, [0xff, 0xff, 0xff, 0xff]),
        (126, [0x80, 0x00, 0x00, 0x01]),
        (65535, [0x01, 0x02, 0x03, 0x04]),
        (65536, [0xde, 0xad, 0xbe, 0xef]),
    ] {
        let data = varied(len, len as u8);
        wire.push(true, false, OpCode::Binary, Some(key), &data);
        messages.push(data_event(c, "binary", &data, 1, len as u64, false));
    }
    wire.push(false, false, OpCode::Text, Some([1, 1, 1, 1]), b"frag")
        .push(true, false, OpCode::Ping, Some([2, 2, 2, 2]), b"between")
        .push(
            false,
            false,
            OpCode::Continuation,
            Some([3, 3, 3, 3]),
            b"men",
        )
        .push(true, false, OpCode::Pong, Some([4, 4, 4, 4]), b"unasked")
        .push(
            true,
            false,
            OpCode::Continuation,
            Some([5, 5, 5, 5]),
            b"ted",
        );
    messages.push(data_event(c, "ping", b"between", 1, 7, false));
    messages.push(data_event(c, "pong", b"unasked", 1, 7, false));
    messages.push(text_event(c, "fragmented", 3, 10, false));
    wire.push(
        true,
        true,
        OpCode::Text,
        Some([6, 7, 8, 9]),
        &HELLO_DEFLATED,
    )
    .push(
        true,
        true,
        OpCode::Text,
        Some([9, 8, 7, 6]),
        &HELLO_AGAIN_DEFLATED,
    )
    .push(
        false,
        true,
        OpCode::Text,
        Some([0xa0; 4]),
        &HELLO_DEFLATED[..3],
    )
    .push(
        true,
        false,
        OpCode::Continuation,
        Some([0xb0; 4]),
        &HELLO_DEFLATED[3..],
    )
    .push(true, true, OpCode::Binary, Some([0xc0; 4]), &HELLO_STORED);
    messages.push(text_event(c, "Hello", 1, 7, true));
    messages.push(text_event(c, "Hello", 1, 5, true));
    messages.push(text_event(c, "Hello", 2, 7, true));
    messages.push(data_event(c, "binary", b"Hello", 1, 10, true));
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    wire.push(
        true,
        false,
        OpCode::Close,
        Some([0x12, 0x34, 0x56, 0x78]),
        &close,
    );
    messages.push(close_event(c, 1000, "bye"));
    (wire, messages)
}

/// The server's frames, unmasked: the same lengths, a fragmented binary
/// message with Pings between its fragments, the compressed "Hello"s, and
/// a Close. And the message events they make.
fn server_frames() -> (Wire, Vec<Value>) {
    let mut wire = Wire::default();
    let mut messages = Vec::new();
    let s = "server";
    wire.push(true, false, OpCode::Text, None, "κόσμε".as_bytes());
    messages.push(text_event(s, "κόσμε", 1, "κόσμε".len() as u64, false));
    for len in [0, 125, 126, 65535, 65536] {
        let data = varied(len, 0x5a);
        wire.push(true, false, OpCode::Binary, None, &data);
        messages.push(data_event(s, "binary", &data, 1, len as u64, false));
    }
    wire.push(false, false, OpCode::Binary, None, &[1, 2, 3])
        .push(true, false, OpCode::Ping, None, b"")
        .push(false, false, OpCode::Continuation, None, &[4])
        .push(true, false, OpCode::Ping, None, b"again")
        .push(true, false, OpCode::Continuation, None, &[5, 6]);
    messages.push(data_event(s, "ping", b"", 1, 0, false));
    messages.push(data_event(s, "ping", b"again", 1, 5, false));
    messages.push(data_event(s, "binary", &[1, 2, 3, 4, 5, 6], 3, 6, false));
    wire.push(true, true, OpCode::Text, None, &HELLO_DEFLATED)
        .push(true, true, OpCode::Text, None, &HELLO_AGAIN_DEFLATED);
    messages.push(text_event(s, "Hello", 1, 7, true));
    messages.push(text_event(s, "Hello", 1, 5, true));
    wire.push(true, false, OpCode::Close, None, &1000u16.to_be_bytes());
    messages.push(close_event(s, 1000, ""));
    (wire, messages)
}

/// The client's request head for `host`: header names in odd case, extra
/// fields, spaces kept as they are, and a `Host` that only the inspector
/// changes.
fn client_head(host: &str) -> String {
    format!(
        "GET /chat?room=a%20b HTTP/1.1\r\nuser-agent: raw test client\r\nhOsT:   {host}\r\n\
         Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         X-Forwarded-Host: 192.0.2.1:9\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
}

/// A raw client and a raw server exchange [`client_frames`] and
/// [`server_frames`] through the inspector, each writing at `pace`, and
/// each receives exactly what the other sent.
///
/// Written whole, the client's frames follow its request head in the same
/// write, before the 101 (as a client that does not wait would send them,
/// against RFC 6455 §4.1), and the server's follow its 101: what comes with
/// a head must be passed on once, and watched. In pieces, the client waits
/// for the 101.
fn relay_byte_for_byte(test: &str, pace: Pace) {
    let (client_wire, client_messages) = client_frames();
    let (server_wire, server_messages) = server_frames();
    let response_head = switching_protocols(true);
    let (upstream, served) = raw_upstream(vec![Answer {
        bytes: [response_head.as_bytes(), &server_wire.bytes].concat(),
        pace,
        end_after: true,
    }]);
    let inspector = Inspector::start(test, &format!("ws://{upstream}/"), &[]);

    let mut client = connect_raw(inspector.addr);
    client.set_nodelay(true).unwrap();
    let head = client_head(&inspector.addr.to_string());
    let response = match pace {
        Pace::Whole => {
            write_paced(
                &mut client,
                &[head.as_bytes(), &client_wire.bytes].concat(),
                pace,
            );
            client.shutdown(Shutdown::Write).unwrap();
            read_response_head(&mut client)
        }
        Pace::Pieces(_) => {
            write_paced(&mut client, head.as_bytes(), pace);
            let response = read_response_head(&mut client);
            write_paced(&mut client, &client_wire.bytes, pace);
            client.shutdown(Shutdown::Write).unwrap();
            response
        }
    };
    let mut from_server = Vec::new();
    client.read_to_end(&mut from_server).unwrap();
    let received = served.join().unwrap().remove(0);

    // Only Host changed in the request; the answer came back as sent.
    let forwarded = client_head(&upstream.to_string());
    assert_eq!(String::from_utf8_lossy(&received.head), forwarded);
    assert_eq!(response, response_head);
    assert_same_bytes(&received.rest, &client_wire.bytes, "client → server");
    assert_same_bytes(&from_server, &server_wire.bytes, "server → client");

    // The recording shows each frame as it went over the wire, each message
    // whole, and no violation.
    let events = inspector.wait_for_end(1);
    let handshake = of_kind(&events, "handshake", 1);
    assert_eq!(handshake.len(), 1, "{events:?}");
    assert_eq!(
        handshake[0]["deflate"],
        json!({
            "server_no_context_takeover": false, "client_no_context_takeover": false,
            "server_max_window_bits": 15, "client_max_window_bits": 15,
        })
    );
    assert_eq!(
        handshake[0]["request"]["forwarded_host"],
        upstream.to_string()
    );
    // A client that sends its frames before the 101 breaks RFC 6455 §4.1
    // ("the client MUST wait for a response"): that, and nothing else.
    let violations = of_kind(&events, "violation", 1);
    match pace {
        Pace::Whole => {
            assert_eq!(violations.len(), 1, "{violations:?}");
            assert_eq!(violations[0]["by"], "client");
            assert_eq!(violations[0]["rfc"], "RFC 6455 §4.1");
        }
        Pace::Pieces(_) => assert!(violations.is_empty(), "{violations:?}"),
    }
    for (from, wire, messages) in [
        ("client", &client_wire, &client_messages),
        ("server", &server_wire, &server_messages),
    ] {
        let frames: Vec<Value> = of_kind(&events, "frame", 1)
            .into_iter()
            .filter(|e| e["from"] == from)
            .map(timeless)
            .collect();
        let sent = wire.frame_events(from, 1);
        assert_eq!(frames.len(), sent.len(), "{from}'s frames");
        for (i, (shown, sent)) in frames.iter().zip(&sent).enumerate() {
            assert!(
                shown == sent,
                "{from}'s frame {i}:\nshown {}\nsent  {}",
                short(shown),
                short(sent)
            );
        }
        let shown: Vec<Value> = of_kind(&events, "message", 1)
            .into_iter()
            .filter(|e| e["from"] == from)
            .map(timeless)
            .collect();
        assert_eq!(shown.len(), messages.len(), "{from}'s messages");
        for (i, (shown, sent)) in shown.iter().zip(messages).enumerate() {
            assert!(
                shown == sent,
                "{from}'s message {i}:\nshown {}\nsent  {}",
                short(shown),
                short(sent)
            );
        }
    }
}

#[test]
fn every_byte_arrives_as_sent_both_ways_and_only_host_changes() {
    relay_byte_for_byte("whole", Pace::Whole);
}

#[test]
fn every_byte_arrives_as_sent_when_written_in_random_pieces() {
    for seed in [0x2545_f491_4f6c_dd1d, 0x9e37_79b9_7f4a_7c15] {
        relay_byte_for_byte(&format!("pieces-{seed:x}"), Pace::Pieces(seed));
    }
}

/// A bad frame of `tests/protocol_errors.rs`, and the error a strict
/// server reads in it.
struct BadFrames {
    wire: Vec<u8>,
    error: ProtocolError,
}

/// A masked frame whose header announces `len` bytes, and `payload`.
fn announced(first_byte: u8, len: u64, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: first_byte & 0x80 != 0,
        rsv: 0,
        opcode: OpCode::from_bits(first_byte & 0x0f).unwrap(),
        mask: Some([0; 4]),
        payload_len: len,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    [&head[..n], payload].concat()
}

/// Every bad frame of `tests/protocol_errors.rs` a client can send.
fn bad_client_frames() -> Vec<BadFrames> {
    let bad = |wire: Vec<u8>, error: ProtocolError| BadFrames { wire, error };
    let mut cases = vec![bad(
        common::frame(OpCode::Text, None, b"unmasked"),
        ProtocolError::UnmaskedClientFrame,
    )];
    for rsv in [0x40, 0x20, 0x10] {
        cases.push(bad(
            masked_raw(0x81 | rsv, b"x"),
            ProtocolError::ReservedBitsSet(rsv >> 4),
        ));
    }
    for op in [0x3, 0x7, 0xB, 0xF] {
        cases.push(bad(
            masked_raw(0x80 | op, b""),
            ProtocolError::ReservedOpcode(op),
        ));
    }
    cases.push(bad(
        vec![0x82, 0xFE, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5],
        ProtocolError::NonMinimalLength(5),
    ));
    cases.push(bad(
        masked_raw(0x80, b"orphan"),
        ProtocolError::ContinuationWithoutMessage,
    ));
    cases.push(bad(
        [masked_raw(0x01, b"first"), masked_raw(0x81, b"second")].concat(),
        ProtocolError::DataFrameInsideMessage(OpCode::Text),
    ));
    cases.push(bad(
        masked_raw(0x09, b"ping"),
        ProtocolError::FragmentedControlFrame(OpCode::Ping),
    ));
    cases.push(bad(
        announced(0x89, 126, &[0; 126]),
        ProtocolError::ControlFrameTooLong(OpCode::Ping, 126),
    ));
    cases.push(bad(
        masked(OpCode::Text, &[b'a', 0xFF, b'b']),
        ProtocolError::InvalidUtf8,
    ));
    // Fail-fast: 1000 bytes announced, 6 sent, the fourth invalid, and the
    // rest never sent: the violation is seen before the frame is whole.
    cases.push(bad(
        announced(0x81, 1000, &[b'o', b'k', b' ', 0xF8, b'x', b'y']),
        ProtocolError::InvalidUtf8,
    ));
    cases.push(bad(
        masked(OpCode::Text, &[b'a', 0xE2, 0x82]),
        ProtocolError::InvalidUtf8,
    ));
    cases.push(bad(
        masked(OpCode::Close, &[0x03]),
        ProtocolError::ClosePayloadOneByte,
    ));
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        cases.push(bad(
            masked(OpCode::Close, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode(code),
        ));
    }
    cases.push(bad(
        masked(OpCode::Close, &[0x03, 0xE8, 0xFF, 0xFE]),
        ProtocolError::CloseReasonNotUtf8,
    ));
    cases
}

#[test]
fn each_bad_client_frame_is_reported_with_the_section_and_the_code_the_echo_closes_with() {
    let echo = start_ws6455(&["echo", "--quiet"]);
    let inspector = Inspector::start("violations", &format!("ws://{}/", echo.addr), &[]);
    let cases = bad_client_frames();
    for (conn, case) in (1u64..).zip(&cases) {
        let error = &case.error;
        let mut stream = connect_for_raw_frames(inspector.addr);
        stream.write_all(&case.wire).unwrap();
        // The echo's Close, as the client receives it through the inspector.
        let code = expect_close(&mut stream);
        assert_eq!(
            code,
            Some(error.close_code().0),
            "{error:?}: the echo's Close"
        );
        drop(stream);
        let events = inspector.wait_for_end(conn);
        let violations: Vec<Value> = of_kind(&events, "violation", conn)
            .into_iter()
            .map(timeless)
            .collect();
        assert_eq!(
            violations,
            [json!({
                "kind": "violation", "conn": conn, "by": "client",
                "rfc": error.rfc_section(), "close_code": code, "status": null,
                "what": error.to_string(),
            })],
            "{error:?}"
        );
        inspector.wait_for_line(&format!(
            "#{conn} VIOLATION by the client: {}: {}; a strict server closes with {}",
            error.rfc_section(),
            shown_what(&error.to_string(), error.rfc_section()),
            error.close_code().0
        ));
    }

    // A data frame after the client's Close (RFC 6455 §5.5.1): the echo has
    // answered the Close and reads no further, so no code is owed.
    let conn = cases.len() as u64 + 1;
    let mut stream = connect_for_raw_frames(inspector.addr);
    let wire = [
        masked(OpCode::Close, &1000u16.to_be_bytes()),
        masked(OpCode::Text, b"late"),
    ]
    .concat();
    stream.write_all(&wire).unwrap();
    assert_eq!(expect_close(&mut stream), Some(1000));
    drop(stream);
    let events = inspector.wait_for_end(conn);
    let violations = of_kind(&events, "violation", conn);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["by"], "client");
    assert_eq!(violations[0]["rfc"], "RFC 6455 §5.5.1");
    assert_eq!(violations[0]["close_code"], Value::Null);
    let what = violations[0]["what"].as_str().unwrap();
    inspector.wait_for_line(&format!(
        "#{conn} VIOLATION by the client: RFC 6455 §5.5.1: {what}; a strict server reads no further"
    ));
}

#[test]
fn a_masked_or_invalid_frame_from_the_server_is_the_servers_violation() {
    let masked_text = common::frame(OpCode::Text, Some([1, 2, 3, 4]), b"masked");
    let invalid_text = common::frame(OpCode::Text, None, &[b'a', 0xFF]);
    let cases = [
        (masked_text, ProtocolError::MaskedServerFrame),
        (invalid_text, ProtocolError::InvalidUtf8),
    ];
    let answers = cases
        .iter()
        .map(|(wire, _)| Answer {
            bytes: [switching_protocols(false).as_bytes(), wire].concat(),
            pace: Pace::Whole,
            end_after: true,
        })
        .collect();
    let (upstream, served) = raw_upstream(answers);
    let inspector = Inspector::start("server-violations", &format!("ws://{upstream}/"), &[]);
    for (conn, (wire, error)) in (1u64..).zip(&cases) {
        let mut stream = connect_raw(inspector.addr);
        stream
            .write_all(upgrade_request(inspector.addr).as_bytes())
            .unwrap();
        let head = read_response_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        stream.shutdown(Shutdown::Write).unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        // Without --strict, the bad frame is passed on as it came.
        assert_same_bytes(&received, wire, "server → client");
        let events = inspector.wait_for_end(conn);
        let violations: Vec<Value> = of_kind(&events, "violation", conn)
            .into_iter()
            .map(timeless)
            .collect();
        assert_eq!(
            violations,
            [json!({
                "kind": "violation", "conn": conn, "by": "server",
                "rfc": error.rfc_section(), "close_code": error.close_code().0,
                "status": null, "what": error.to_string(),
            })]
        );
        inspector.wait_for_line(&format!(
            "#{conn} VIOLATION by the server: {}: {}; a strict client closes with {}",
            error.rfc_section(),
            shown_what(&error.to_string(), error.rfc_section()),
            error.close_code().0
        ));
    }
    served.join().unwrap();
}

#[test]
fn a_request_without_a_key_is_the_clients_violation_and_the_echo_refuses_it() {
    let echo = start_ws6455(&["echo", "--quiet"]);
    let inspector = Inspector::start("no-key", &format!("ws://{}/", echo.addr), &[]);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        inspector.addr
    );
    let response = http_exchange(inspector.addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    let events = inspector.wait_for_end(1);
    let violations: Vec<Value> = of_kind(&events, "violation", 1)
        .into_iter()
        .map(timeless)
        .collect();
    assert_eq!(
        violations,
        [json!({
            "kind": "violation", "conn": 1, "by": "client", "rfc": "RFC 6455 §4.2.1",
            "close_code": null, "status": 400, "what": RequestError::MissingKey.to_string(),
        })]
    );
    inspector.wait_for_line(&format!(
        "#1 VIOLATION by the client: RFC 6455 §4.2.1: {}; a strict server refuses it with 400",
        shown_what(&RequestError::MissingKey.to_string(), "RFC 6455 §4.2.1")
    ));
}

#[test]
fn a_101_with_a_wrong_accept_is_the_servers_violation() {
    let wrong = switching_protocols(false).replace(ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let (upstream, served) = raw_upstream(vec![Answer {
        bytes: wrong.clone().into_bytes(),
        pace: Pace::Whole,
        end_after: true,
    }]);
    let inspector = Inspector::start("wrong-accept", &format!("ws://{upstream}/"), &[]);
    let mut stream = connect_raw(inspector.addr);
    stream
        .write_all(upgrade_request(inspector.addr).as_bytes())
        .unwrap();
    // Passed on as it came: the client judges it for itself.
    assert_eq!(read_response_head(&mut stream), wrong);
    drop(stream);
    served.join().unwrap();
    let events = inspector.wait_for_end(1);
    let violations = of_kind(&events, "violation", 1);
    assert_eq!(violations.len(), 1, "{violations:?}");
    let violation = violations[0];
    assert_eq!(violation["by"], "server");
    assert_eq!(violation["rfc"], "RFC 6455 §4.1");
    assert_eq!(violation["status"], Value::Null);
    let what = violation["what"].as_str().unwrap();
    assert!(what.contains("Sec-WebSocket-Accept"), "{what}");
    inspector.wait_for_line(&format!(
        "#1 VIOLATION by the server: RFC 6455 §4.1: {}; a strict client fails the connection",
        shown_what(what, "RFC 6455 §4.1")
    ));
}

/// What the live view shows of a violation's `what`: the library's message
/// without the section it ends by citing, which the line shows first.
fn shown_what(what: &str, rfc: &str) -> String {
    what.strip_suffix(&format!(" ({rfc})"))
        .unwrap_or(what)
        .to_owned()
}

/// Reads frames as `role` does until the end of TCP; asserts that they are
/// one Close with `code` and nothing else.
fn expect_only_close(role: Role, bytes: &[u8], code: CloseCode) {
    let mut engine = Engine::new(role, Limits::default());
    let messages = receive_all(&mut engine, bytes).unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let Message::Close(Some(close)) = &messages[0] else {
        panic!("expected a Close, got {messages:?}");
    };
    assert_eq!(close.code, code);
}

#[test]
fn strict_passes_no_unmasked_frame_on_and_closes_both_sides_with_1002() {
    let (upstream, served) = raw_upstream(vec![Answer {
        bytes: switching_protocols(false).into_bytes(),
        pace: Pace::Whole,
        end_after: false,
    }]);
    let inspector = Inspector::start("strict", &format!("ws://{upstream}/"), &["--strict"]);
    let mut stream = connect_raw(inspector.addr);
    stream
        .write_all(upgrade_request(inspector.addr).as_bytes())
        .unwrap();
    let head = read_response_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let good = masked(OpCode::Text, b"fine");
    let unmasked = common::frame(OpCode::Text, None, b"unmasked");
    stream
        .write_all(&[good.as_slice(), &unmasked].concat())
        .unwrap();
    let mut to_client = Vec::new();
    stream.read_to_end(&mut to_client).unwrap();
    let received = served.join().unwrap().remove(0);

    // The server got the good frame, then the inspector's Close, masked as
    // a client's: the unmasked frame never reached it.
    assert_same_bytes(&received.rest[..good.len()], &good, "the good frame");
    let to_server = &received.rest[good.len()..];
    expect_only_close(Role::Server, to_server, CloseCode::PROTOCOL_ERROR);
    // The client got a Close 1002, unmasked as a server's, and nothing else.
    expect_only_close(Role::Client, &to_client, CloseCode::PROTOCOL_ERROR);

    let events = inspector.wait_for_end(1);
    let violations = of_kind(&events, "violation", 1);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["rfc"], "RFC 6455 §5.1");
    assert_eq!(violations[0]["close_code"], 1002);
}

#[test]
fn strict_passes_no_masked_frame_on_that_came_with_the_101() {
    // The server's bad frame follows its 101 in the same write: it reaches
    // the inspector with the response head, and is judged all the same.
    let masked_text = common::frame(OpCode::Text, Some([1, 2, 3, 4]), b"masked");
    let (upstream, served) = raw_upstream(vec![Answer {
        bytes: [switching_protocols(false).as_bytes(), &masked_text].concat(),
        pace: Pace::Whole,
        end_after: false,
    }]);
    let inspector = Inspector::start("strict-early", &format!("ws://{upstream}/"), &["--strict"]);
    let mut stream = connect_raw(inspector.addr);
    stream
        .write_all(upgrade_request(inspector.addr).as_bytes())
        .unwrap();
    assert_eq!(read_response_head(&mut stream), switching_protocols(false));
    let mut to_client = Vec::new();
    stream.read_to_end(&mut to_client).unwrap();
    drop(stream);
    expect_only_close(Role::Client, &to_client, CloseCode::PROTOCOL_ERROR);
    let received = served.join().unwrap().remove(0);
    expect_only_close(Role::Server, &received.rest, CloseCode::PROTOCOL_ERROR);
    let events = inspector.wait_for_end(1);
    let violations = of_kind(&events, "violation", 1);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["by"], "server");
    assert_eq!(violations[0]["rfc"], "RFC 6455 §5.1");
}

/// Runs `ws6455 ARGS` with `stdin`, giving up after [`PATIENCE`].
fn run_ws6455(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ws6455 {args:?} did not finish");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `ws6455 client URL EXTRA...` with `lines` on stdin: asserts that it
/// printed them back, as the echo sent them.
fn client_echoes(url: &str, extra: &[&str], lines: &str) {
    let args = [&["client", url, "--linger", "0.2"][..], extra].concat();
    let output = run_ws6455(&args, lines.as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), lines);
}

#[test]
fn replay_prints_a_recording_as_the_live_view_printed_it() {
    let echo = start_ws6455(&["echo", "--quiet"]);
    let upstream = format!("ws://{}/", echo.addr);
    for (test, extra) in [("replay", &[][..]), ("replay-quiet", &["--quiet"][..])] {
        let inspector = Inspector::start(test, &upstream, extra);
        client_echoes(&inspector.url(), &[], "hello\nκόσμε\n");
        inspector.wait_for_end(1);
        let record = inspector.record.clone();
        let recording = std::fs::read(&record).unwrap();
        let live = inspector.stop();
        assert!(live.contains("#1 end: "), "{live}");
        assert_eq!(
            live.contains("#1 client → server  message: text"),
            extra.is_empty(),
            "{live}"
        );
        // The inspector's file is gone with it: replay a copy.
        let copy = record.with_extension("copy.jsonl");
        std::fs::write(&copy, recording).unwrap();
        let replay_args = [&["inspect", "--replay", copy.to_str().unwrap()][..], extra].concat();
        let replayed = run_ws6455(&replay_args, b"");
        let _ = std::fs::remove_file(&copy);
        assert!(replayed.status.success(), "{replayed:?}");
        assert_eq!(String::from_utf8_lossy(&replayed.stdout), live);
    }
}

/// A self-signed certificate for localhost made by `ws6455 cert` in a
/// fresh folder: (certificate file, key file).
fn certificate(test: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("ws6455-inspect-{}-{test}", std::process::id()));
    let made = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(["cert", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    (file("cert.pem"), file("key.pem"))
}

#[test]
fn wss_on_both_sides_is_relayed_and_shown() {
    let (cert, key) = certificate("wss");
    let tls = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
    let echo = start_ws6455(&[&["echo", "--quiet"][..], &tls].concat());
    let upstream = format!("wss://localhost:{}/", echo.addr.port());
    let inspector = Inspector::start(
        "wss",
        &upstream,
        &[&tls[..], &["--ca", cert.as_str()]].concat(),
    );
    let url = format!("wss://localhost:{}/", inspector.addr.port());
    client_echoes(&url, &["--ca", &cert], "over TLS\nκόσμε\n");
    let events = inspector.wait_for_end(1);
    let handshake = of_kind(&events, "handshake", 1);
    assert_eq!(
        handshake[0]["request"]["forwarded_host"],
        format!("localhost:{}", echo.addr.port())
    );
    for from in ["client", "server"] {
        let texts: Vec<&Value> = of_kind(&events, "message", 1)
            .into_iter()
            .filter(|e| e["from"] == from && e["type"] == "text")
            .map(|e| &e["text"])
            .collect();
        assert_eq!(texts, ["over TLS", "κόσμε"], "{from}'s messages");
    }
    assert!(of_kind(&events, "violation", 1).is_empty());
}

/// The length of the table a large message's bytes repeat: 1 MiB and 7
/// bytes, so that a piece lost, repeated or moved leaves the bytes after
/// it out of line with the table.
const PATTERN_LEN: usize = (1 << 20) + 7;

/// The table: pseudo-random bytes (xorshift64).
static PATTERN: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    (0..PATTERN_LEN)
        .map(|_| (random.next() >> 32) as u8)
        .collect()
});

/// A payload of `len` bytes generated as it is read: [`PATTERN`] repeated.
struct PatternReader {
    position: u64,
    len: u64,
}

impl Read for PatternReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let start = (self.position % PATTERN_LEN as u64) as usize;
        let left = usize::try_from(self.len - self.position).unwrap_or(usize::MAX);
        let n = out.len().min(PATTERN_LEN - start).min(left);
        out[..n].copy_from_slice(&PATTERN[start..start + n]);
        self.position += n as u64;
        Ok(n)
    }
}

/// Reads one binary message in pieces, checking each against [`PATTERN`];
/// returns its length.
fn read_pattern_message(reader: &mut ws6455::ReadHalf<ws6455::Stream>) -> u64 {
    let mut buffer = vec![0; 64 << 10];
    let mut received = 0u64;
    loop {
        match reader.read_piece(&mut buffer).unwrap() {
            StreamEvent::Piece(piece) => {
                assert_eq!(piece.kind, MessageKind::Binary);
                let mut checked = 0;
                while checked < piece.len {
                    let at = received + checked as u64;
                    let start = (at % PATTERN_LEN as u64) as usize;
                    let n = (piece.len - checked).min(PATTERN_LEN - start);
                    assert!(
                        buffer[checked..checked + n] == PATTERN[start..start + n],
                        "the bytes from {at} on differ from those sent"
                    );
                    checked += n;
                }
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

/// The large message sent through the inspector and back.
const LARGE_MESSAGE: u64 = 256 << 20;

/// How much the inspector's peak resident memory may exceed what it held
/// before the large message: its read buffers and the judges' pieces are
/// a few hundred KiB; a message held whole would be 256 MiB.
const INSPECTOR_GROWTH_BOUND: u64 = 16 << 20;

#[test]
fn a_256_mib_message_goes_through_and_back_in_bounded_memory() {
    let size = LARGE_MESSAGE.to_string();
    let echo = start_ws6455(&["echo", "--quiet", "--no-deflate", "--max-message", &size]);
    let inspector = Inspector::start("large", &format!("ws://{}/", echo.addr), &[]);
    let config = ClientConfig::default().deflate(None).max_message(u64::MAX);
    let (ws, _) = connect_with(&inspector.url(), &config).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(PATIENCE)).unwrap();
    let (mut reader, writer) = ws.split().unwrap();

    // A small message first: the inspector's connection, threads and
    // buffers are set up before the baseline is taken.
    let small = PatternReader {
        position: 0,
        len: 1000,
    };
    writer
        .send_from(MessageKind::Binary, small, 64 << 10)
        .unwrap();
    assert_eq!(read_pattern_message(&mut reader), 1000);
    let resident_before = inspector.memory("VmRSS");

    let started = Instant::now();
    let sender = {
        let writer = writer.clone();
        thread::spawn(move || {
            let payload = PatternReader {
                position: 0,
                len: LARGE_MESSAGE,
            };
            writer.send_from(MessageKind::Binary, payload, 1 << 20)
        })
    };
    assert_eq!(read_pattern_message(&mut reader), LARGE_MESSAGE);
    let elapsed = started.elapsed();
    assert_eq!(sender.join().unwrap().unwrap(), LARGE_MESSAGE);
    let growth = inspector.memory("VmHWM").saturating_sub(resident_before);
    eprintln!(
        "inspect: 256 MiB there and back in {elapsed:.1?}; peak resident memory {:.2} MiB above the {:.2} MiB before",
        growth as f64 / (1 << 20) as f64,
        resident_before as f64 / (1 << 20) as f64
    );
    assert!(
        growth <= INSPECTOR_GROWTH_BOUND,
        "the inspector's peak resident memory grew by {growth} bytes, more than {INSPECTOR_GROWTH_BOUND}"
    );
    writer.close(CloseCode::NORMAL, "").unwrap();
    loop {
        match reader.read_piece(&mut [0; 1024]).unwrap() {
            StreamEvent::Control(Message::Close(_)) => break,
            StreamEvent::Control(_) => {}
            StreamEvent::Piece(piece) => panic!("expected the Close, got {piece:?}"),
        }
    }
    drop((reader, writer));

    // Each frame is shown by its first bytes; the message by its length and
    // its first 64 KiB.
    let events = inspector.wait_for_end(1);
    let frames = of_kind(&events, "frame", 1);
    assert!(frames.len() > 2, "{} frame events", frames.len());
    for frame in &frames {
        let length = frame["length"].as_u64().unwrap();
        let shown = frame["payload_shown"].as_u64().unwrap();
        assert_eq!(
            shown,
            length.min(FRAME_BYTES_SHOWN as u64),
            "{}",
            short(frame)
        );
        assert_eq!(
            frame["payload_hex"].as_str().unwrap().len() as u64,
            2 * shown
        );
    }
    for from in ["client", "server"] {
        let large: Vec<&Value> = of_kind(&events, "message", 1)
            .into_iter()
            .filter(|e| e["from"] == from && e["length"] == LARGE_MESSAGE)
            .collect();
        assert_eq!(large.len(), 1, "{from}'s large message");
        assert_eq!(large[0]["truncated"], true);
        let data = large[0]["data_hex"].as_str().unwrap();
        assert_eq!(
            data,
            hex(&PATTERN[..64 << 10]),
            "{from}'s message's first bytes"
        );
    }
}

#[test]
fn a_plain_http_request_is_relayed_as_it_is() {
    let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\
                    Connection: close\r\n\r\nnot websocket";
    let (upstream, served) = raw_upstream(vec![Answer {
        bytes: response.as_bytes().to_vec(),
        pace: Pace::Pieces(0x1234_5678),
        end_after: true,
    }]);
    let inspector = Inspector::start("plain", &format!("ws://{upstream}/"), &[]);
    let request = |host: &str| {
        format!("GET /page.html HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n")
    };
    let mut stream = connect_raw(inspector.addr);
    stream
        .write_all(request(&inspector.addr.to_string()).as_bytes())
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, response);
    let received = served.join().unwrap().remove(0);
    assert_eq!(
        String::from_utf8_lossy(&received.head),
        request(&upstream.to_string())
    );
    assert!(received.rest.is_empty());
    let events = inspector.wait_for_end(1);
    let end = of_kind(&events, "end", 1);
    let how = end[0]["how"].as_str().unwrap();
    assert!(
        how.starts_with("a plain HTTP request (GET /page.html HTTP/1.1)"),
        "{how}"
    );
    assert!(of_kind(&events, "violation", 1).is_empty());
}

#[test]
fn an_unreachable_upstream_gives_the_client_a_502() {
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("ws://{}/", gone.local_addr().unwrap());
    drop(gone);
    let inspector = Inspector::start("unreachable", &upstream, &[]);
    let response = http_exchange(inspector.addr, upgrade_request(inspector.addr).as_bytes());
    assert!(
        response.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
        "{response}"
    );
    let events = inspector.wait_for_end(1);
    let how = of_kind(&events, "end", 1)[0]["how"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(how.contains("the client got 502"), "{how}");
}

/// Messages that compress even from an empty window, and alike enough
/// that each compresses to much less with the ones before it in the window.
fn similar_messages() -> Vec<String> {
    (1..=6)
        .map(|i| {
            format!(
                "message {i}: the inspector inflates every message, every message, \
                 every message of the connection with the context the ones before left"
            )
        })
        .collect()
}

/// Sends [`similar_messages`] through the inspector to `upstream` with
/// permessage-deflate as a client offers it by default (context takeover
/// where the server allows), reads each echo, and checks that every
/// message event shows the text sent, compressed. Returns the events.
fn deflate_through(test: &str, upstream: &str) -> Vec<Value> {
    let inspector = Inspector::start(test, upstream, &[]);
    let config = ClientConfig::default().deflate(Some(DeflateConfig::for_client()));
    let (mut ws, _) = connect_with(&inspector.url(), &config).unwrap();
    let sent = similar_messages();
    for text in &sent {
        ws.send(Message::Text(text.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(text.clone()));
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    while !matches!(ws.read(), Err(_) | Ok(Message::Close(_))) {}
    drop(ws);
    let events = inspector.wait_for_end(1);
    for from in ["client", "server"] {
        let messages: Vec<&Value> = of_kind(&events, "message", 1)
            .into_iter()
            .filter(|e| e["from"] == from && e["type"] == "text")
            .collect();
        assert_eq!(messages.len(), sent.len(), "{from}'s messages");
        for (shown, text) in messages.iter().zip(&sent) {
            assert_eq!(shown["text"], text.as_str(), "{from}: {}", short(shown));
            assert_eq!(shown["compressed"], true, "{from}: {}", short(shown));
        }
    }
    assert!(of_kind(&events, "violation", 1).is_empty());
    events
}

#[test]
fn deflate_with_context_takeover_inflates_every_message() {
    // The library's echo, agreeing to context takeover both ways: each
    // message after the first is mostly back-references into the ones
    // before, which the inspector's judges must have kept.
    let takeover =
        ServerConfig::default().deflate(Some(DeflateConfig::for_server().context_takeover(true)));
    let upstream = start_server(takeover, Echo);
    let events = deflate_through("deflate-takeover", &format!("ws://{upstream}/"));
    let handshake = of_kind(&events, "handshake", 1);
    assert_eq!(handshake[0]["deflate"]["client_no_context_takeover"], false);
    assert_eq!(handshake[0]["deflate"]["server_no_context_takeover"], false);
    for from in ["client", "server"] {
        let wire: Vec<u64> = of_kind(&events, "message", 1)
            .into_iter()
            .filter(|e| e["from"] == from && e["type"] == "text")
            .map(|e| e["wire_length"].as_u64().unwrap())
            .collect();
        assert!(
            wire[1..].iter().all(|&later| later < wire[0] / 2),
            "{from}: the later messages are not made of the earlier ones: {wire:?}"
        );
    }

    // `ws6455 echo`, which declines context takeover.
    let echo = start_ws6455(&["echo", "--quiet"]);
    let events = deflate_through("deflate-echo", &format!("ws://{}/", echo.addr));
    let handshake = of_kind(&events, "handshake", 1);
    assert_eq!(handshake[0]["deflate"]["server_no_context_takeover"], true);
}
