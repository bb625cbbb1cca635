//! What permessage-deflate costs in memory, and what it saves on the wire,
//! for each of the server's settings: the resident memory of 1,000
//! connections that have exchanged compressed messages and are idle again,
//! beside 1,000 that never used deflate; the compression ratio each setting
//! achieves on JSON messages; and the peak memory of a server sent a
//! compression bomb. Run with `cargo bench --bench deflate_memory`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use flate2::{Compress, Compression, FlushCompress};
use support::{ServerKind, ServerProcess};
use ws6455::Stream;
use ws6455::deflate::DeflateConfig;
use ws6455::proto::TraceEvent;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws6455::{ClientConfig, Message, WebSocket, connect_with};

const CONNECTIONS: usize = 1000;
/// Messages each connection sends (and gets back) before it goes idle.
const MESSAGES: usize = 4;

fn main() {
    support::serve_if_asked();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "deflate_memory: {CONNECTIONS} connections, each echoing {MESSAGES} JSON messages of \
         about 4 KiB, then idle"
    );
    println!(
        "  {:<44} {:>10} {:>22}",
        "server setting", "KiB/conn", "wire/inflated (echoes)"
    );
    let settings = [
        (ServerKind::Ws6455NoDeflate, "no deflate (--no-deflate)"),
        (
            ServerKind::Ws6455,
            "default: no context takeover, pooled contexts",
        ),
        (
            ServerKind::Ws6455ContextTakeover,
            "context_takeover: true (a context per conn)",
        ),
    ];
    for (i, (kind, label)) in settings.into_iter().enumerate() {
        let server = ServerProcess::start(kind, 9770 + i as u16);
        let (kib, ratio) = idle_after_use(&server);
        let ratio = match ratio {
            Some(ratio) => format!("{:.1} %", ratio * 100.0),
            None => "uncompressed".to_owned(),
        };
        println!("  {label:<44} {kib:>10.1} {ratio:>22}");
    }
    bomb();
}

/// A JSON message of about 4 KiB, different for each `n`, as a chat or an
/// API sends them: the same keys, values that vary.
fn json_message(n: usize) -> String {
    let records: Vec<String> = (0..24)
        .map(|i| {
            let id = n * 100 + i;
            format!(
                r#"{{"id":{id},"user":"guest-{}","room":"lobby","ts":{},"text":"message {} of {n}","tags":["chat","demo"]}}"#,
                id % 97,
                1_764_000_000_000u64 + (id as u64) * 7919,
                i * 31 % 17
            )
        })
        .collect();
    format!(r#"{{"type":"batch","items":[{}]}}"#, records.join(","))
}

/// Opens the connections, has each echo its messages, waits, and returns the
/// server's RSS growth per connection and the compression ratio of the
/// echoes (wire bytes over inflated bytes; `None` if none was compressed).
fn idle_after_use(server: &ServerProcess) -> (f64, Option<f64>) {
    let uri = format!("ws://{}/", server.addr);
    let config = ClientConfig::default().deflate(Some(DeflateConfig::for_client()));
    // One connection first, so start-up allocations are not counted.
    let warm = open_and_use(&uri, &config, 0, &Arc::new(Mutex::new((0, 0))));
    thread::sleep(Duration::from_millis(300));
    let before = server.rss_kib();
    let sizes = Arc::new(Mutex::new((0u64, 0u64)));
    let idle: Vec<WebSocket<Stream>> = (1..=CONNECTIONS)
        .map(|n| open_and_use(&uri, &config, n, &sizes))
        .collect();
    thread::sleep(Duration::from_secs(1));
    let after = server.rss_kib();
    drop((warm, idle));
    let (wire, inflated) = *sizes.lock().unwrap();
    let ratio = (inflated > 0).then(|| wire as f64 / inflated as f64);
    ((after as f64 - before as f64) / CONNECTIONS as f64, ratio)
}

/// A connection that has echoed its messages, checked, and is idle now.
/// The echoes' sizes on the wire and inflated are added to `sizes`.
fn open_and_use(
    uri: &str,
    config: &ClientConfig,
    n: usize,
    sizes: &Arc<Mutex<(u64, u64)>>,
) -> WebSocket<Stream> {
    let (mut ws, _) = connect_with(uri, config).unwrap();
    let counted = Arc::clone(sizes);
    ws.set_trace(move |event: &TraceEvent<'_>| {
        if let TraceEvent::Compressed(message) = event {
            if message.direction == ws6455::proto::Direction::Received {
                let mut sizes = counted.lock().unwrap();
                sizes.0 += message.wire_len;
                sizes.1 += message.len;
            }
        }
    });
    for m in 0..MESSAGES {
        let text = json_message(n * MESSAGES + m);
        ws.send(Message::Text(text.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(text));
    }
    ws
}

/// One frame of about 1 MiB that inflates to 1 GiB of zeros: the server
/// (default limits: 64 MiB a message) must close with 1009 once the limit
/// is passed, holding no more than the limit meanwhile.
fn bomb() {
    const INFLATED: usize = 1 << 30;
    let mut compressor = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut payload = Vec::with_capacity(2 << 20);
    for _ in 0..INFLATED / zeros.len() {
        let before = compressor.total_in();
        while compressor.total_in() - before < zeros.len() as u64 {
            let done = (compressor.total_in() - before) as usize;
            payload.reserve(64 << 10);
            compressor
                .compress_vec(&zeros[done..], &mut payload, FlushCompress::None)
                .unwrap();
        }
    }
    loop {
        payload.reserve(64 << 10);
        compressor
            .compress_vec(&[], &mut payload, FlushCompress::Sync)
            .unwrap();
        if payload.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
    }
    payload.truncate(payload.len() - 4);

    let server = ServerProcess::start(ServerKind::Ws6455, 9779);
    let mut stream = deflate_handshake(server.addr);
    thread::sleep(Duration::from_millis(300));
    let (rss_before, peak_before) = (server.rss_kib(), server.peak_rss_kib());
    let key = [0x11, 0x22, 0x33, 0x44];
    let header = FrameHeader {
        rsv: 0b100,
        ..FrameHeader::new(true, OpCode::Binary, Some(key), payload.len() as u64)
    };
    let mut frame = [0u8; MAX_HEADER_LEN];
    let header_len = header.encode(&mut frame);
    apply_mask(&mut payload, key, 0);
    stream.write_all(&frame[..header_len]).unwrap();
    // The server stops reading once it has failed the connection.
    let _ = stream.write_all(&payload);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let code = close_code(&reply);
    println!(
        "  bomb: a {} KiB frame inflating to {} MiB: close {:?}; server RSS {} KiB before, \
         peak {} KiB (was {} KiB): {} KiB more at the peak",
        payload.len() >> 10,
        INFLATED >> 20,
        code,
        rss_before,
        server.peak_rss_kib(),
        peak_before,
        server.peak_rss_kib().saturating_sub(rss_before),
    );
}

/// The code of the Close frame in what a server sent, after any data
/// frames (the echo streams back the start of a message it then fails).
fn close_code(mut reply: &[u8]) -> Option<u16> {
    while reply.len() >= 2 {
        let (len, header_len): (usize, usize) = match reply[1] & 0x7f {
            126 if reply.len() >= 4 => (usize::from(u16::from_be_bytes([reply[2], reply[3]])), 4),
            127 if reply.len() >= 10 => {
                let mut len = [0; 8];
                len.copy_from_slice(&reply[2..10]);
                (usize::try_from(u64::from_be_bytes(len)).ok()?, 10)
            }
            126 | 127 => return None,
            len => (usize::from(len), 2),
        };
        let frame = reply.get(header_len..header_len.checked_add(len)?)?;
        if reply[0] & 0x0f == 0x8 {
            return (len >= 2).then(|| u16::from_be_bytes([frame[0], frame[1]]));
        }
        reply = &reply[header_len + len..];
    }
    None
}

/// A raw connection whose handshake agreed permessage-deflate with no
/// context takeover (the server's answer to any offer by default).
fn deflate_handshake(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the server hung up");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.contains("permessage-deflate"), "{head}");
    stream
}
