//! Writes the seed corpora: valid frames, messages, opening requests and
//! responses, each whole and in a few splits, into `fuzz/corpus/<target>/` (or the directory
//! given as the first argument).
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```

use std::path::PathBuf;
use std::{env, fs, io};

use ws6455::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, encode_fragment};
use ws6455::handshake::Response;
use ws6455_fuzz::{CLIENT_KEY, Chunked, LIMITS, SUBPROTOCOLS};

/// How the seeds cut their streams: whole, byte by byte, and a few mixed sizes.
const SPLITS: [&[u8]; 4] = [&[], &[1], &[3, 7, 0], &[2, 13, 5, 64]];

/// The example key of RFC 6455 §5.7.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn main() -> io::Result<()> {
    let root = env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        PathBuf::from,
    );
    let write = |target: &str, name: &str, input: &[u8]| -> io::Result<()> {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), input)
    };

    for (name, header) in headers() {
        let mut buf = [0; MAX_HEADER_LEN];
        let len = header.encode(&mut buf);
        write("frame_header", &name, &buf[..len])?;
    }
    for (name, request) in requests() {
        for (i, sizes) in SPLITS.iter().enumerate() {
            write(
                "handshake_request",
                &format!("{name}-split{i}"),
                &Chunked::encode(sizes, &request),
            )?;
        }
    }
    for (name, response) in responses() {
        for (i, sizes) in SPLITS.iter().enumerate() {
            write(
                "handshake_response",
                &format!("{name}-split{i}"),
                &Chunked::encode(sizes, &response),
            )?;
        }
    }
    for (name, messages) in conversations() {
        for (target, mask) in [("read_server", Some(KEY)), ("read_client", None)] {
            let stream: Vec<u8> = messages
                .iter()
                .flat_map(|&(fin, opcode, ref payload)| frame(fin, opcode, mask, payload))
                .collect();
            for (i, sizes) in SPLITS.iter().enumerate() {
                let input = Chunked::encode(sizes, &stream);
                write(target, &format!("{name}-split{i}"), &input)?;
            }
        }
    }
    for (name, text) in texts() {
        for (i, sizes) in SPLITS.iter().enumerate() {
            let input = Chunked::encode(sizes, text);
            write("utf8_incremental", &format!("{name}-split{i}"), &input)?;
        }
    }
    // The mask target reads a key, an offset (8 bytes), a start (1 byte), then data.
    for (name, start) in [("aligned", 0), ("unaligned", 3)] {
        let mut input = KEY.to_vec();
        input.extend_from_slice(&0u64.to_le_bytes());
        input.push(start);
        input.extend_from_slice(b"Hello, masked world: forty-odd bytes long.");
        write("mask", name, &input)?;
    }
    Ok(())
}

/// Headers of every opcode, with and without a mask, at the length boundaries.
fn headers() -> Vec<(String, FrameHeader)> {
    let opcodes = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];
    let mut headers = Vec::new();
    for opcode in opcodes {
        let lengths: &[u64] = if opcode.is_control() {
            &[0, 125]
        } else {
            &[0, 125, 126, 65535, 65536, 1 << 40]
        };
        for &payload_len in lengths {
            for mask in [None, Some(KEY)] {
                let header = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode,
                    mask,
                    payload_len,
                };
                let masked = if mask.is_some() { "masked" } else { "unmasked" };
                headers.push((format!("{opcode}-{payload_len}-{masked}"), header));
            }
        }
    }
    headers
}

/// Valid opening requests, and near misses.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let rfc = String::from_utf8_lossy(RFC_REQUEST);
    let mut with_frame = RFC_REQUEST.to_vec();
    with_frame.extend(frame(true, OpCode::Text, Some(KEY), b"Hello"));
    vec![
        ("rfc", RFC_REQUEST.to_vec()),
        ("rfc-then-frame", with_frame),
        ("bare-lf", rfc.replace("\r\n", "\n").into_bytes()),
        ("post", rfc.replacen("GET", "POST", 1).into_bytes()),
        (
            "http-1-0",
            rfc.replacen("HTTP/1.1", "HTTP/1.0", 1).into_bytes(),
        ),
        (
            "version-8",
            rfc.replace("Version: 13", "Version: 8").into_bytes(),
        ),
        (
            "many-headers",
            rfc.replace("Origin", "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\nOrigin")
                .into_bytes(),
        ),
    ]
}

/// Servers' answers to the client of RFC 6455 §1.3 ([`CLIENT_KEY`], offering
/// [`SUBPROTOCOLS`]): accepted, refused, redirected, and near misses.
fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let wire = |response: Response| {
        let mut wire = Vec::new();
        response.encode(&mut wire);
        wire
    };
    let accepted = wire(Response::switching_protocols(CLIENT_KEY, None));
    let text = String::from_utf8_lossy(&accepted);
    let mut with_frame = accepted.clone();
    with_frame.extend(frame(true, OpCode::Text, None, b"Hello"));
    let mut redirect = Response::text(301, "Moved Permanently", "Moved");
    redirect.headers.push((
        "Location".to_owned(),
        b"ws://elsewhere.example/chat".to_vec(),
    ));
    vec![
        ("101", accepted.clone()),
        (
            "101-subprotocol",
            wire(Response::switching_protocols(
                CLIENT_KEY,
                Some(SUBPROTOCOLS[0]),
            )),
        ),
        ("101-then-frame", with_frame),
        ("bare-lf", text.replace("\r\n", "\n").into_bytes()),
        (
            "wrong-accept",
            wire(Response::switching_protocols(
                "AAAAAAAAAAAAAAAAAAAAAA==",
                None,
            )),
        ),
        (
            "400-with-body",
            wire(Response::text(
                400,
                "Bad Request",
                "Missing Sec-WebSocket-Key",
            )),
        ),
        ("301-location", wire(redirect)),
    ]
}

/// A frame as a peer sends it: masked with `mask` if one is given.
fn frame(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    encode_fragment(&mut wire, fin, opcode, mask, payload);
    wire
}

type Frames = Vec<(bool, OpCode, Vec<u8>)>;

/// Streams of frames: the RFC's examples, fragmentation with control frames
/// in between, messages at the limits, and the close handshake.
fn conversations() -> Vec<(&'static str, Frames)> {
    let close = |code: u16, reason: &str| {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        (true, OpCode::Close, payload)
    };
    let frame_limit = LIMITS.max_frame_size as usize;
    let message_limit = LIMITS.max_message_size as usize;
    let kosme = "κόσμε".as_bytes();
    vec![
        (
            "rfc-examples",
            vec![
                (true, OpCode::Text, b"Hello".to_vec()),
                (false, OpCode::Text, b"Hel".to_vec()),
                (true, OpCode::Continuation, b"lo".to_vec()),
                (true, OpCode::Ping, b"Hello".to_vec()),
                (true, OpCode::Pong, b"Hello".to_vec()),
                (true, OpCode::Binary, vec![0x5a; 256]),
                close(1000, "bye"),
            ],
        ),
        (
            "fragments-with-controls",
            vec![
                (false, OpCode::Text, kosme[..3].to_vec()),
                (true, OpCode::Ping, Vec::new()),
                (false, OpCode::Continuation, kosme[3..7].to_vec()),
                (true, OpCode::Pong, b"unsolicited".to_vec()),
                (true, OpCode::Continuation, kosme[7..].to_vec()),
                (false, OpCode::Binary, vec![1, 2, 3]),
                (true, OpCode::Continuation, Vec::new()),
                (true, OpCode::Close, Vec::new()),
            ],
        ),
        (
            "at-the-limits",
            vec![
                (true, OpCode::Binary, vec![0xa5; frame_limit]),
                (false, OpCode::Text, vec![b'x'; frame_limit]),
                (false, OpCode::Continuation, vec![b'y'; frame_limit]),
                (
                    true,
                    OpCode::Continuation,
                    vec![b'z'; message_limit - 2 * frame_limit],
                ),
                (true, OpCode::Ping, vec![b'p'; 125]),
                close(4000, &"r".repeat(123)),
            ],
        ),
    ]
}

/// Valid text in every width of character, and the classic invalid sequences.
fn texts() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("ascii", b"Hello, world"),
        ("mixed", "Hello-µ@ßöäüàá-UTF-8!! κόσμε € 𝄞".as_bytes()),
        (
            "surrogate",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ),
        ("above-max", b"\xf4\x90\x80\x80"),
        ("overlong", b"a\xc0\xafb"),
        ("truncated", b"ab\xe2\x82"),
    ]
}
