//! What echoing one huge message costs `ws6455 echo` in memory: the growth of
//! the server's peak resident memory (`VmHWM` in `/proc/PID/status`, against
//! its `VmRSS` once the connection is open) while it echoes a single binary
//! message of 1 GiB, once uncompressed and once through permessage-deflate
//! (RFC 7692) with compressible text, with the time it took.
//!
//! The server is the release build of the `ws6455` program (package
//! `ws6455-cli`), which the bench builds first if it is missing or out of
//! date, started as `ws6455 echo --quiet --max-message SIZE --max-frame
//! FRAGMENT`, a fresh process for each run so that its peak is this run's.
//! The client holds no more than a fragment at a time: it makes the message
//! up as it goes, 1 MiB a fragment, masks it (and compresses it, for the
//! deflate run), and on a second thread reads the echo back as it arrives,
//! in pieces of 64 KiB, inflating them piece by piece, and checks every byte
//! against the same generator. Issue 22's target is a growth of at most 16
//! MiB in both runs; a server that holds the message whole grows by the
//! message's size or more.
//!
//! Run with `cargo bench --bench large_message`; `LARGE_MESSAGE_BYTES`
//! changes the size of the message (e.g. `268435456` for a quicker 256 MiB).
//! With `LARGE_MESSAGE_THROUGH=inspect`, the message goes through `ws6455
//! inspect` in front of the echo, its live view on (written to /dev/null),
//! and the memory measured is the inspector's: issue 23 asks that a 1 GiB
//! message pass it "with memory bounded by a few buffers".

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use ws6455::proto::{Decoded, FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};

/// The message's size when `LARGE_MESSAGE_BYTES` does not say: 1 GiB.
const DEFAULT_MESSAGE_BYTES: u64 = 1 << 30;
/// The payload of each fragment the client sends, before compression.
const FRAGMENT_BYTES: usize = 1 << 20;
/// The most the client reads from its socket at once.
const READ_BYTES: usize = 64 << 10;
/// The tail that a sync flush ends with, which RFC 7692 §7.2.1 has the
/// sender remove from a compressed message and §7.2.2 the receiver append.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// The length of each line of the deflate run's text, spaces padding it, so
/// that line `n` starts at byte `n * TEXT_LINE_BYTES` of the message.
const TEXT_LINE_BYTES: usize = 128;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let size = std::env::var("LARGE_MESSAGE_BYTES")
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .expect("LARGE_MESSAGE_BYTES: a number of bytes")
        })
        .unwrap_or(DEFAULT_MESSAGE_BYTES);
    assert!(size > 0, "LARGE_MESSAGE_BYTES: at least one byte");
    let program = echo_program();
    let through_inspector = match std::env::var("LARGE_MESSAGE_THROUGH").as_deref() {
        Ok("inspect") => true,
        Ok(other) => panic!("LARGE_MESSAGE_THROUGH: {other:?} is not \"inspect\""),
        Err(_) => false,
    };
    println!(
        "large_message: one binary message of {:.0} MiB echoed by `ws6455 echo`, sent in \
         fragments of {} KiB and read back as it arrives",
        mib(size),
        FRAGMENT_BYTES >> 10
    );
    println!(
        "  {:<34} {:>9} {:>9} {:>7} {:>8} {:>7} {:>8} {:>9} {:>10}",
        "run",
        "sent MiB",
        "echo MiB",
        "frames",
        "seconds",
        "MiB/s",
        "RSS MiB",
        "peak MiB",
        "growth MiB"
    );
    if through_inspector {
        println!("  through `ws6455 inspect`: the RSS columns are the inspector's");
    }
    for payload in [Payload::Noise, Payload::Text] {
        let server = EchoServer::start(&program, size);
        let inspector = through_inspector.then(|| EchoServer::inspecting(&program, server.addr));
        let measured = inspector.as_ref().unwrap_or(&server);
        let echoed = echo_one_message(measured, payload, size);
        println!(
            "  {:<34} {:>9.1} {:>9.1} {:>7} {:>8.2} {:>7.0} {:>8.1} {:>9.1} {:>10.1}",
            payload.label(),
            mib(echoed.sent_wire_bytes),
            mib(echoed.echo.wire_bytes),
            echoed.echo.frames,
            echoed.elapsed.as_secs_f64(),
            mib(size) / echoed.elapsed.as_secs_f64(),
            echoed.rss_before_kib as f64 / 1024.0,
            echoed.peak_kib as f64 / 1024.0,
            echoed.peak_kib.saturating_sub(echoed.rss_before_kib) as f64 / 1024.0,
        );
    }
}

/// Bytes in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The release build of the `ws6455` program, which `cargo build` brings up
/// to date first (it does nothing if it is).
fn echo_program() -> PathBuf {
    // A bench runs from <target dir>/release/deps/, the program lands in
    // <target dir>/release/.
    let bench = std::env::current_exe().expect("the bench's own path");
    let release_dir = bench
        .parent()
        .and_then(Path::parent)
        .expect("the bench runs from <target>/release/deps");
    let target_dir = release_dir.parent().expect("<target>/release has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // Not the variables cargo set for this bench: build scripts that watch
    // them (ring's watches CARGO_MANIFEST_DIR) would run again, and the
    // next `cargo bench` would rebuild what depends on them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || RUN_VARIABLES.contains(&&*name) {
            command.env_remove(&*name);
        }
    }
    let built = command
        .args(["build", "--release", "--quiet", "-p", "ws6455-cli"])
        .args(["--bin", "ws6455", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("cargo runs");
    assert!(built.success(), "cargo build -p ws6455-cli failed");
    release_dir.join("ws6455")
}

/// What cargo sets for a bench it runs (besides `CARGO_PKG_*`) and not for
/// a build started from a shell.
const RUN_VARIABLES: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// A `ws6455 echo` process taking messages of up to the size measured, or
/// a `ws6455 inspect` in front of one; killed when dropped.
struct EchoServer {
    child: Child,
    addr: SocketAddr,
}

impl EchoServer {
    /// Starts `program` as an echo server on a free port, with the message
    /// limit at `max_message` and the frame limit at a fragment (deflate's
    /// fragments are smaller on the wire), and waits until it accepts.
    fn start(program: &Path, max_message: u64) -> EchoServer {
        let addr = free_port();
        // No pings: a long message must not be cut by an unanswered one.
        let child = Command::new(program)
            .args(["echo", "--quiet", "--ping-interval", "86400", "--listen"])
            .arg(addr.to_string())
            .arg("--max-message")
            .arg(max_message.to_string())
            .arg("--max-frame")
            .arg(FRAGMENT_BYTES.to_string())
            .stdout(Stdio::null())
            // It names its address there; the bench's table is on stdout.
            .stderr(Stdio::null())
            .spawn()
            .expect("ws6455 echo starts");
        EchoServer::started(child, addr)
    }

    /// Starts `ws6455 inspect` on a free port in front of the echo at
    /// `upstream`, its live view on and written to /dev/null.
    fn inspecting(program: &Path, upstream: SocketAddr) -> EchoServer {
        let addr = free_port();
        let child = Command::new(program)
            .args(["inspect", "--listen"])
            .arg(addr.to_string())
            .arg("--upstream")
            .arg(format!("ws://{upstream}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ws6455 inspect starts");
        EchoServer::started(child, addr)
    }

    /// Waits until `child` accepts connections on `addr`.
    fn started(child: Child, addr: SocketAddr) -> EchoServer {
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server did not start"
            );
            thread::sleep(Duration::from_millis(20));
        }
        EchoServer { child, addr }
    }

    /// A field of `/proc/PID/status` given in kB (`VmRSS:`, `VmHWM:`).
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"));
        line.split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("{line}: not a number of kB"))
    }
}

/// A free port: bound, then let go for a server to take.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a message is made of, and so whether it is sent compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload {
    /// Bytes that do not compress (splitmix64 of each 8-byte word's
    /// index), sent on a connection without permessage-deflate.
    Noise,
    /// Lines of JSON that vary only in a counter and what follows from it,
    /// sent on a connection with permessage-deflate.
    Text,
}

impl Payload {
    /// The run's name in the table.
    fn label(self) -> &'static str {
        match self {
            Payload::Noise => "binary, no deflate",
            Payload::Text => "compressible, permessage-deflate",
        }
    }

    /// Whether the client offers (and then uses) permessage-deflate.
    fn deflates(self) -> bool {
        self == Payload::Text
    }

    /// Fills `buf` with the message's bytes from byte number `offset` on.
    fn fill(self, offset: u64, buf: &mut [u8]) {
        match self {
            Payload::Noise => fill_noise(offset, buf),
            Payload::Text => fill_text(offset, buf),
        }
    }
}

/// [`Payload::Noise`]'s bytes from `offset` on: byte `i` is byte `i % 8`
/// (little-endian) of splitmix64(`i / 8`).
fn fill_noise(offset: u64, buf: &mut [u8]) {
    let mut at = offset;
    let mut rest = buf;
    while !rest.is_empty() {
        let word = splitmix64(at / 8).to_le_bytes();
        let from = (at % 8) as usize;
        let n = (8 - from).min(rest.len());
        rest[..n].copy_from_slice(&word[from..from + n]);
        rest = &mut rest[n..];
        at += n as u64;
    }
}

/// The splitmix64 generator's output for the state `n`.
fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// [`Payload::Text`]'s bytes from `offset` on: line after line of JSON,
/// each [`TEXT_LINE_BYTES`] long.
fn fill_text(offset: u64, buf: &mut [u8]) {
    let mut line = [0u8; TEXT_LINE_BYTES];
    let mut at = offset;
    let mut rest = buf;
    while !rest.is_empty() {
        let n = at / TEXT_LINE_BYTES as u64;
        let mut out = &mut line[..];
        write!(
            out,
            "{{\"seq\":{n:010},\"user\":\"guest-{:02}\",\"room\":\"lobby\",\"ts\":{:013},\
             \"ok\":{},\"text\":\"line {n} of the message\"}}",
            n % 97,
            1_764_000_000_000 + n * 7919,
            n % 3 == 0,
        )
        .expect("a line fits its buffer");
        // Spaces pad the line to its length, and a newline ends it.
        out.fill(b' ');
        line[TEXT_LINE_BYTES - 1] = b'\n';
        let from = (at % TEXT_LINE_BYTES as u64) as usize;
        let take = (TEXT_LINE_BYTES - from).min(rest.len());
        rest[..take].copy_from_slice(&line[from..from + take]);
        rest = &mut rest[take..];
        at += take as u64;
    }
}

/// What one echoed message measured.
struct Echoed {
    /// The message's bytes on the wire from client to server (compressed
    /// for the deflate run), frame headers not counted.
    sent_wire_bytes: u64,
    /// How the echo came back.
    echo: EchoShape,
    /// From the first byte sent to the last byte of the echo read back.
    elapsed: Duration,
    /// The server's resident memory once the connection was open.
    rss_before_kib: u64,
    /// The most resident memory the server has had, read after the echo.
    peak_kib: u64,
}

/// Opens a connection to `server`, sends it one message of `size` bytes of
/// `payload` while a second thread reads the echo back and checks it, and
/// returns what the server's memory did meanwhile.
fn echo_one_message(server: &EchoServer, payload: Payload, size: u64) -> Echoed {
    let mut stream = open(server.addr, payload.deflates()).expect("the opening handshake");
    // Whatever the handshake's thread has touched is resident by now.
    thread::sleep(Duration::from_millis(300));
    let rss_before_kib = server.status_kib("VmRSS:");
    let reading = stream.try_clone().expect("a second handle on the socket");
    let started = Instant::now();
    let reader = thread::spawn(move || read_echo(reading, payload, size));
    let sent_wire_bytes = send_message(&mut stream, payload, size).expect("sending the message");
    let echo = reader
        .join()
        .expect("the reading thread")
        .expect("reading the echo");
    let elapsed = started.elapsed();
    Echoed {
        sent_wire_bytes,
        echo,
        elapsed,
        rss_before_kib,
        peak_kib: server.status_kib("VmHWM:"),
    }
}

/// Connects and does the opening handshake, offering permessage-deflate if
/// `deflate`; fails if the server does not agree to what was offered.
fn open(addr: SocketAddr, deflate: bool) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let offer = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    stream.write_all(request.as_bytes())?;
    // Byte by byte to the blank line: the server sends no frame before we
    // do, but none may be swallowed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    // RFC 7692 §7.1.2.2: a `client_max_window_bits` with a value in the
    // answer would limit our window, which `send_message` keeps at 15 bits.
    let window_lowered =
        head.contains("client_max_window_bits=") && !head.contains("client_max_window_bits=15");
    if !head.starts_with("HTTP/1.1 101")
        || head.contains("permessage-deflate") != deflate
        || window_lowered
    {
        return Err(io::Error::other(format!("unexpected answer: {head}")));
    }
    Ok(stream)
}

/// Sends one binary message of `size` bytes of `payload`, made up a
/// fragment at a time, masked, and compressed for [`Payload::Text`]; returns
/// the payload bytes that went on the wire.
fn send_message(stream: &mut TcpStream, payload: Payload, size: u64) -> io::Result<u64> {
    let mut plain = vec![0u8; FRAGMENT_BYTES];
    let mut compressed = Vec::new();
    // The fastest level, so that the time is the server's more than ours;
    // a window of 15 bits, which `open` checked the server did not lower.
    let mut compressor = payload
        .deflates()
        .then(|| Compress::new(Compression::fast(), false));
    let mut header = [0u8; MAX_HEADER_LEN];
    let (mut sent, mut wire_bytes) = (0u64, 0u64);
    while sent < size {
        let len = (size - sent).min(FRAGMENT_BYTES as u64) as usize;
        payload.fill(sent, &mut plain[..len]);
        // RFC 6455 §5.4: the first fragment carries the message's opcode,
        // the others are continuations, the last has FIN set.
        let first = sent == 0;
        sent += len as u64;
        let last = sent == size;
        let opcode = if first {
            OpCode::Binary
        } else {
            OpCode::Continuation
        };
        let body = match compressor.as_mut() {
            None => &mut plain[..len],
            Some(compressor) => {
                compressed.clear();
                compress_fragment(compressor, &plain[..len], &mut compressed)?;
                if last {
                    // RFC 7692 §7.2.1: remove the sync flush's 4 octets
                    // 0x00 0x00 0xff 0xff from the tail of the message.
                    compressed.truncate(compressed.len() - SYNC_FLUSH_TAIL.len());
                }
                &mut compressed[..]
            }
        };
        // RFC 6455 §5.3: a client masks every frame, each with a new key.
        let key = (splitmix64(sent) as u32).to_be_bytes();
        let frame = FrameHeader {
            // RFC 7692 §6: RSV1 is set on the first frame of a compressed
            // message only.
            rsv: if first && payload.deflates() {
                0b100
            } else {
                0
            },
            ..FrameHeader::new(last, opcode, Some(key), body.len() as u64)
        };
        let header_len = frame.encode(&mut header);
        apply_mask(body, key, 0);
        stream.write_all(&header[..header_len])?;
        stream.write_all(body)?;
        wire_bytes += body.len() as u64;
    }
    Ok(wire_bytes)
}

/// Compresses `input` onto `out` and ends with a sync flush, so that the
/// fragment ends on a byte boundary with `00 00 ff ff` (RFC 7692 §7.2.1).
fn compress_fragment(compressor: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let start = compressor.total_in();
    loop {
        let taken = (compressor.total_in() - start) as usize;
        out.reserve(input.len() / 2 + 1024);
        compressor
            .compress_vec(&input[taken..], out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // zlib's rule: the flush is complete once a call leaves room in
        // the output.
        if compressor.total_in() - start == input.len() as u64 && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

/// The frames of an echoed message.
#[derive(Clone, Copy, Debug, Default)]
struct EchoShape {
    /// Its data frames.
    frames: u64,
    /// Their payloads' bytes on the wire (compressed, if the echo is).
    wire_bytes: u64,
}

/// Reads the echo of one binary message of `size` bytes of `payload`, a
/// piece at a time, and checks each piece against `payload` (inflated
/// first if the server compressed the message).
fn read_echo(mut stream: TcpStream, payload: Payload, size: u64) -> io::Result<EchoShape> {
    let mut buf = vec![0u8; READ_BYTES];
    let (mut start, mut end) = (0, 0);
    let mut checker = EchoChecker::new(payload);
    loop {
        let header = match FrameHeader::decode(&buf[start..end]).map_err(io::Error::other)? {
            Decoded::Complete(header, used) => {
                start += used;
                header
            }
            Decoded::NeedMore => {
                buf.copy_within(start..end, 0);
                (start, end) = (0, end - start);
                let n = stream.read(&mut buf[end..])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                end += n;
                continue;
            }
        };
        if !header.opcode.is_control() {
            checker.begin_frame(&header)?;
        }
        let mut left = header.payload_len;
        let mut control = Vec::new();
        while left > 0 {
            if start == end {
                (start, end) = (0, stream.read(&mut buf)?);
                if end == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            let take = left.min((end - start) as u64) as usize;
            let piece = &buf[start..start + take];
            if header.opcode.is_control() {
                control.extend_from_slice(piece);
            } else {
                checker.check(piece)?;
            }
            start += take;
            left -= take as u64;
        }
        match header.opcode {
            OpCode::Close => {
                let code = control.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                return Err(io::Error::other(format!(
                    "the server closed with {code:?} after {} bytes of echo",
                    checker.checked
                )));
            }
            OpCode::Binary | OpCode::Continuation if header.fin => {
                checker.finish()?;
                return if checker.checked == size {
                    Ok(checker.shape)
                } else {
                    Err(io::Error::other(format!(
                        "an echo of {} bytes for a message of {size}",
                        checker.checked
                    )))
                };
            }
            _ => {}
        }
    }
}

/// Checks an echo piece by piece against the message sent.
struct EchoChecker {
    payload: Payload,
    /// The inflater, once the first frame said the echo is compressed.
    inflater: Option<Decompress>,
    /// Whether the echo's first frame has come.
    started: bool,
    /// The echo's frames so far.
    shape: EchoShape,
    /// The bytes of the message checked so far.
    checked: u64,
    /// Where the inflater writes and the expected bytes are made.
    inflated: Vec<u8>,
    expected: Vec<u8>,
}

impl EchoChecker {
    /// A checker for the echo of a message of `payload`, before its first frame.
    fn new(payload: Payload) -> EchoChecker {
        EchoChecker {
            payload,
            inflater: None,
            started: false,
            shape: EchoShape::default(),
            checked: 0,
            inflated: vec![0; READ_BYTES],
            expected: vec![0; READ_BYTES],
        }
    }

    /// Takes the header of a data frame: the first (`Binary`, whose RSV1
    /// says whether the echo is compressed) or a `Continuation`.
    fn begin_frame(&mut self, header: &FrameHeader) -> io::Result<()> {
        self.shape.frames += 1;
        self.shape.wire_bytes += header.payload_len;
        match (self.started, header.opcode) {
            (false, OpCode::Binary) => {
                self.started = true;
                // RFC 7692 §6: RSV1 on the first frame marks a compressed
                // message.
                if header.rsv & 0b100 != 0 {
                    if !self.payload.deflates() {
                        return Err(io::Error::other("a compressed echo without deflate"));
                    }
                    self.inflater = Some(Decompress::new(false));
                }
                Ok(())
            }
            (true, OpCode::Continuation) => Ok(()),
            (_, opcode) => Err(io::Error::other(format!(
                "a {opcode:?} frame where the echo's {} frame was due",
                if self.started { "next" } else { "first" }
            ))),
        }
    }

    /// Takes a piece of a data frame's payload.
    fn check(&mut self, piece: &[u8]) -> io::Result<()> {
        if self.inflater.is_some() {
            self.inflate(piece)
        } else {
            self.compare(piece)
        }
    }

    /// Once the last frame is in: for a compressed echo, appends the tail
    /// its sender removed (RFC 7692 §7.2.2) and checks what it inflates to.
    fn finish(&mut self) -> io::Result<()> {
        if self.inflater.is_some() {
            self.inflate(&SYNC_FLUSH_TAIL)
        } else {
            Ok(())
        }
    }

    /// Inflates `input` a buffer at a time, checking each buffer.
    fn inflate(&mut self, mut input: &[u8]) -> io::Result<()> {
        let mut inflated = std::mem::take(&mut self.inflated);
        let result = loop {
            let inflater = self.inflater.as_mut().expect("a compressed echo");
            let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
            let status = match inflater.decompress(input, &mut inflated, FlushDecompress::None) {
                Ok(status) => status,
                Err(e) => break Err(io::Error::other(e)),
            };
            let used = (inflater.total_in() - before_in) as usize;
            let made = (inflater.total_out() - before_out) as usize;
            if let Err(e) = self.compare(&inflated[..made]) {
                break Err(e);
            }
            input = &input[used..];
            // zlib's rule: all the output there is has been made once a
            // call leaves room in the output.
            if status == Status::StreamEnd || (input.is_empty() && made < inflated.len()) {
                break Ok(());
            }
            if used == 0 && made == 0 {
                break Err(io::Error::other("the inflater is stuck"));
            }
        };
        self.inflated = inflated;
        result
    }

    /// Compares message bytes with what was sent at the same offset.
    fn compare(&mut self, piece: &[u8]) -> io::Result<()> {
        let expected = &mut self.expected[..piece.len()];
        self.payload.fill(self.checked, expected);
        if let Some(at) = piece.iter().zip(expected.iter()).position(|(a, b)| a != b) {
            return Err(io::Error::other(format!(
                "the echo differs from the message at byte {}",
                self.checked + at as u64
            )));
        }
        self.checked += piece.len() as u64;
        Ok(())
    }
}
