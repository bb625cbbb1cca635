//! Writes the seed corpora: valid frames, messages, opening requests and
//! responses, compressed conversations, each whole and in a few splits, into
//! `fuzz/corpus/<target>/` (or the directory given as the first argument).
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```

use std::path::PathBuf;
use std::{env, fs, io};

use ws6455::Response;
use ws6455::deflate::DeflateParams;
use ws6455::proto::ProtocolError;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws6455::{Error, Message, Role};
use ws6455_fuzz::deflate::{Setup, deflate_limits, frames, take_output};
use ws6455_fuzz::inspect::{Conversation, inspect_watch};
use ws6455_fuzz::streamed::Mode;
use ws6455_fuzz::{CLIENT_KEY, Chunked, SUBPROTOCOLS, limits};

/// How the seeds cut their streams: whole, byte by byte, and a few mixed sizes.
const SPLITS: [&[u8]; 4] = [&[], &[1], &[3, 7, 0], &[2, 13, 5, 64]];

/// The output sizes the `read_streamed` seeds choose (see `Mode`): the
/// sizes of the input's pieces, 1 byte, 7 bytes, 256 bytes and 16 KiB.
const STREAMED_OUTS: [u8; 5] = [0, 1, 7, 120, 126];

/// How the `inspect_watch` seeds cut and interleave the two directions
/// (see `Conversation`): the client's bytes whole, then the server's; the
/// server's first; a byte from each in turn; and a few mixed sizes.
const INSPECT_PIECES: [&[u8]; 4] = [&[], &[0x80, 0], &[1, 0x81], &[3, 0x85, 7, 0x8d, 64, 0xc0]];

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
    for (i, setup) in deflate_setups().iter().enumerate() {
        for (name, messages, ends_well) in deflate_conversations(setup) {
            let mask = (setup.role == Role::Server).then_some(KEY);
            let stream: Vec<u8> = messages
                .iter()
                .flat_map(|&(fin, rsv, opcode, ref payload)| {
                    frame_rsv(fin, rsv, opcode, mask, payload)
                })
                .collect();
            if ends_well {
                check_reads_to_close(setup, &stream, name);
            }
            for (j, sizes) in SPLITS.iter().enumerate() {
                let input = setup.encode(sizes, &stream);
                write("read_deflate", &format!("setup{i}-{name}-split{j}"), &input)?;
            }
        }
    }
    // read_streamed: the same conversations, read in pieces into outputs
    // of a few sizes (the mode byte's high bits; 0 follows the splits).
    for (name, messages) in conversations() {
        for role in [Role::Server, Role::Client] {
            let mask = (role == Role::Server).then_some(KEY);
            let setup = Setup {
                role,
                ..deflate_setups()[0]
            };
            let stream: Vec<u8> = messages
                .iter()
                .flat_map(|&(fin, opcode, ref payload)| frame(fin, opcode, mask, payload))
                .collect();
            for (i, sizes) in SPLITS.iter().enumerate() {
                for out in STREAMED_OUTS {
                    let mode = Mode {
                        deflate: false,
                        out,
                    };
                    let input = mode.encode(&setup, sizes, &stream);
                    write(
                        "read_streamed",
                        &format!("{role:?}-{name}-split{i}-out{out}"),
                        &input,
                    )?;
                }
            }
        }
    }
    for (i, setup) in deflate_setups().iter().enumerate() {
        for (name, messages, _) in deflate_conversations(setup) {
            let mask = (setup.role == Role::Server).then_some(KEY);
            let stream: Vec<u8> = messages
                .iter()
                .flat_map(|&(fin, rsv, opcode, ref payload)| {
                    frame_rsv(fin, rsv, opcode, mask, payload)
                })
                .collect();
            for (j, sizes) in SPLITS.iter().enumerate() {
                for out in STREAMED_OUTS {
                    let mode = Mode { deflate: true, out };
                    let input = mode.encode(setup, sizes, &stream);
                    write(
                        "read_streamed",
                        &format!("deflate{i}-{name}-split{j}-out{out}"),
                        &input,
                    )?;
                }
            }
        }
    }
    for (name, deflate, client, server) in inspected_conversations() {
        for (i, pieces) in INSPECT_PIECES.iter().enumerate() {
            let input = Conversation::encode(deflate.as_ref(), pieces, &client, &server);
            // A seed keeps the target's invariants, or the target is wrong.
            inspect_watch(&input);
            write("inspect_watch", &format!("{name}-pieces{i}"), &input)?;
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
    FrameHeader::new(fin, opcode, mask, payload.len() as u64).encode_frame(payload, &mut wire);
    wire
}

/// A frame with the RSV bits `rsv`, as a peer sends it: masked with `mask`
/// if one is given.
fn frame_rsv(fin: bool, rsv: u8, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        rsv,
        ..FrameHeader::new(fin, opcode, mask, payload.len() as u64)
    };
    let mut head = [0; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head);
    let mut wire = head[..head_len].to_vec();
    let start = wire.len();
    wire.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut wire[start..], key, 0);
    }
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
    let frame_limit = limits().max_frame_size as usize;
    let message_limit = limits().max_message_size as usize;
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

/// An inspected connection: its name, the permessage-deflate parameters
/// agreed, and what the client and the server send.
type Inspected = (String, Option<DeflateParams>, Vec<u8>, Vec<u8>);

/// Both directions of inspected connections, as the client and the server
/// send them, with the permessage-deflate parameters agreed: a text each
/// way; fragmented messages with a Ping between the fragments; compressed
/// conversations, fragments and all, with and without context takeover;
/// a frame and a message longer than the inspector shows; and bad frames (the client's
/// unmasked, RSV1 without the extension, a data frame after a Close, a
/// fragmented Ping; the server's reserved opcode, invalid UTF-8, a Close
/// code that never goes on the wire), each followed by a good one.
fn inspected_conversations() -> Vec<Inspected> {
    let client = |frames: &[(bool, u8, OpCode, &[u8])]| -> Vec<u8> {
        frames
            .iter()
            .flat_map(|&(fin, rsv, opcode, payload)| {
                frame_rsv(fin, rsv, opcode, Some(KEY), payload)
            })
            .collect()
    };
    let server = |frames: &[(bool, u8, OpCode, &[u8])]| -> Vec<u8> {
        frames
            .iter()
            .flat_map(|&(fin, rsv, opcode, payload)| frame_rsv(fin, rsv, opcode, None, payload))
            .collect()
    };
    let bye = [0x03, 0xe8, b'b', b'y', b'e'];
    let hello = (true, 0, OpCode::Text, &b"Hello"[..]);
    let mut seeds = vec![
        ("texts".to_owned(), None, client(&[hello]), server(&[hello])),
        (
            "fragments-ping-between".to_owned(),
            None,
            client(&[
                (false, 0, OpCode::Text, b"Hel"),
                (true, 0, OpCode::Ping, b"p"),
                (true, 0, OpCode::Continuation, b"lo"),
                (true, 0, OpCode::Binary, &[0x5a; 300]),
                (true, 0, OpCode::Close, &bye),
            ]),
            server(&[
                (true, 0, OpCode::Pong, b"p"),
                (false, 0, OpCode::Text, "κό".as_bytes()),
                (true, 0, OpCode::Ping, b""),
                (true, 0, OpCode::Continuation, "σμε".as_bytes()),
                (true, 0, OpCode::Close, &bye),
            ]),
        ),
    ];
    let bad: [(&str, Vec<u8>, Vec<u8>); 7] = [
        (
            "unmasked-client",
            [server(&[hello]), client(&[hello])].concat(),
            server(&[hello]),
        ),
        (
            "rsv1-without-deflate",
            client(&[(true, RSV1, OpCode::Text, b"Hello"), hello]),
            server(&[hello]),
        ),
        (
            "data-after-close",
            client(&[(true, 0, OpCode::Close, &bye), hello]),
            server(&[(true, 0, OpCode::Close, &bye)]),
        ),
        (
            "fragmented-ping",
            client(&[(false, 0, OpCode::Ping, b"p"), hello]),
            server(&[hello]),
        ),
        (
            "reserved-opcode",
            client(&[hello]),
            [vec![0x83, 0x01, b'?'], server(&[hello])].concat(),
        ),
        (
            "invalid-utf8",
            client(&[hello]),
            server(&[(true, 0, OpCode::Text, b"a\xc0\xafb"), hello]),
        ),
        (
            "close-1005-on-the-wire",
            client(&[hello]),
            server(&[(true, 0, OpCode::Close, &[0x03, 0xed]), hello]),
        ),
    ];
    seeds.extend(bad.map(|(name, c, s)| (name.to_owned(), None, c, s)));
    for (i, setup) in deflate_setups().iter().enumerate() {
        let (client, server) = compressed_both_ways(setup);
        seeds.push((format!("compressed{i}"), Some(setup.params), client, server));
    }
    // Longer than shown: a frame past what a frame event shows, sent as it
    // is, and a message past what a message event shows, in a few bytes.
    let setup = deflate_setups()[0];
    let mut long_text = compress(
        &Setup {
            role: Role::Client,
            ..setup
        },
        vec![Message::Text("é".repeat(40_000))],
    );
    long_text.push((true, 0, OpCode::Text, b"Hello".to_vec()));
    seeds.push((
        "longer-than-shown".to_owned(),
        Some(setup.params),
        client(&[(true, 0, OpCode::Binary, &[0xa5; 5000]), hello]),
        long_text
            .iter()
            .flat_map(|(fin, rsv, opcode, payload)| frame_rsv(*fin, *rsv, *opcode, None, payload))
            .collect(),
    ));
    seeds
}

/// A compressed conversation with the parameters of `setup`, as each side
/// sends it: texts (the second one the same as the first, a back-reference
/// with context takeover), binary, a text in three fragments with a Ping
/// between the first two, and a Close.
fn compressed_both_ways(setup: &Setup) -> (Vec<u8>, Vec<u8>) {
    let prose = "the inspector inflates each direction with the window agreed; ".repeat(4);
    let pattern: Vec<u8> = (0..1500u32).map(|i| (i * i % 251) as u8).collect();
    let messages = || {
        vec![
            Message::Text(prose.clone()),
            Message::Text(prose.clone()),
            Message::Binary(pattern.clone()),
            Message::Text(prose.repeat(3)),
        ]
    };
    let sent_by = |role: Role| {
        // The peer of a setup's role is the one that sends.
        let receiver = match role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let mut frames = compress(
            &Setup {
                role: receiver,
                ..*setup
            },
            messages(),
        );
        let (_, rsv, _, payload) = frames.pop().expect("the long text's frame");
        let third = payload.len() / 3;
        frames.extend([
            (false, rsv, OpCode::Text, payload[..third].to_vec()),
            (true, 0, OpCode::Ping, b"between".to_vec()),
            (
                false,
                0,
                OpCode::Continuation,
                payload[third..2 * third].to_vec(),
            ),
            (true, 0, OpCode::Continuation, payload[2 * third..].to_vec()),
            (true, 0, OpCode::Close, 1000u16.to_be_bytes().to_vec()),
        ]);
        let mask = (role == Role::Client).then_some(KEY);
        frames
            .iter()
            .flat_map(|(fin, rsv, opcode, payload)| frame_rsv(*fin, *rsv, *opcode, mask, payload))
            .collect::<Vec<u8>>()
    };
    (sent_by(Role::Client), sent_by(Role::Server))
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

/// permessage-deflate's bit, RSV1 (RFC 7692 §6).
const RSV1: u8 = 0b100;

/// Frames with their RSV bits: `(fin, rsv, opcode, payload)`.
type DeflateFrames = Vec<(bool, u8, OpCode, Vec<u8>)>;

/// What the `read_deflate` seeds negotiate: each role, with and without
/// context takeover, at the largest and the smallest windows, at several
/// compression levels.
fn deflate_setups() -> Vec<Setup> {
    let params = |takeover: (bool, bool), bits: (u8, u8)| DeflateParams {
        server_no_context_takeover: !takeover.0,
        client_no_context_takeover: !takeover.1,
        server_max_window_bits: bits.0,
        client_max_window_bits: bits.1,
    };
    let setup = |role, params, level| Setup {
        role,
        params,
        level,
    };
    vec![
        setup(Role::Server, params((true, true), (15, 15)), 1),
        setup(Role::Client, params((true, true), (15, 15)), 6),
        setup(Role::Server, params((false, false), (15, 15)), 1),
        setup(Role::Client, params((false, true), (8, 10)), 0),
        setup(Role::Server, params((true, true), (15, 9)), 9),
    ]
}

/// Streams of compressed frames for `setup`: the examples of RFC 7692
/// §7.2.3, messages from the peer's own compressor whole and fragmented
/// (with control frames between the fragments) and one inflating to exactly
/// the message limit, each ending with a Close; and a message that inflates
/// past the limit. The flag says whether the stream reads to its Close.
fn deflate_conversations(setup: &Setup) -> Vec<(&'static str, DeflateFrames, bool)> {
    let close = (true, 0, OpCode::Close, 1000u16.to_be_bytes().to_vec());
    // The peer's context carries over from message to message.
    let peer_takeover = match setup.role {
        Role::Server => !setup.params.client_no_context_takeover,
        Role::Client => !setup.params.server_no_context_takeover,
    };
    // RFC 7692 §7.2.3.1-§7.2.3.5, each "Hello".
    let hello = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut rfc = vec![(true, RSV1, OpCode::Text, hello.clone())];
    if peer_takeover {
        // §7.2.3.2: the second "Hello" refers back to the first.
        rfc.push((true, RSV1, OpCode::Text, vec![0xf2, 0x00, 0x11, 0x00, 0x00]));
    }
    rfc.extend([
        (false, RSV1, OpCode::Text, hello[..3].to_vec()),
        (true, 0, OpCode::Continuation, hello[3..].to_vec()),
        (
            true,
            RSV1,
            OpCode::Text,
            vec![
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
        ),
        (
            true,
            RSV1,
            OpCode::Binary,
            vec![
                0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
            ],
        ),
        // §7.2.3.4: a block with BFINAL set ends the DEFLATE stream.
        (
            true,
            RSV1,
            OpCode::Text,
            vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        ),
        // An empty message, compressed: one empty fixed-Huffman block.
        (true, RSV1, OpCode::Binary, vec![0x00]),
        close.clone(),
    ]);

    let prose = "permessage-deflate compresses each message; \
        with context takeover the next message may refer back to this one. "
        .repeat(3);
    let pattern: Vec<u8> = (0..2000u32).map(|i| (i * i % 251) as u8).collect();
    let mut compressed = compress(
        setup,
        vec![
            Message::Text(prose.clone()),
            Message::Binary(pattern),
            Message::Text(prose.clone()),
            Message::Text("κόσμε: short, so sent as it is".into()),
        ],
    );
    compressed.insert(1, (true, 0, OpCode::Ping, b"ping".to_vec()));
    compressed.push(close.clone());

    // One message in three fragments, control frames between them.
    let long = compress(setup, vec![Message::Text(prose.repeat(4))]);
    // Compressed, unless compressing did not pay (level 0, no takeover).
    let (_, rsv, _, payload) = &long[0];
    let third = payload.len() / 3;
    let fragmented = vec![
        (false, *rsv, OpCode::Text, payload[..third].to_vec()),
        (true, 0, OpCode::Ping, Vec::new()),
        (
            false,
            0,
            OpCode::Continuation,
            payload[third..2 * third].to_vec(),
        ),
        (true, 0, OpCode::Pong, b"unsolicited".to_vec()),
        (true, 0, OpCode::Continuation, payload[2 * third..].to_vec()),
        close.clone(),
    ];

    let mut conversations = vec![
        ("rfc7692-examples", rfc, true),
        ("compressed", compressed, true),
        ("fragmented", fragmented, true),
    ];
    // Messages at the limit and past it fit in a frame once compressed;
    // level 0 only stores.
    if setup.level > 0 {
        let limit = deflate_limits().max_message_size as usize;
        // A period within the smallest window zlib can reach back (512 - 262 bytes).
        let at_limit: Vec<u8> = (0..limit).map(|i| (i % 200) as u8).collect();
        let mut at_the_limit = compress(setup, vec![Message::Binary(at_limit)]);
        at_the_limit.push(close);
        let past_limit = compress(setup, vec![Message::Text("a".repeat(limit + 1))]);
        conversations.push(("at-the-limit", at_the_limit, true));
        conversations.push(("past-the-limit", past_limit, false));
    }
    conversations
}

/// `messages` as the peer sends them: compressed by its compressor, unmasked.
fn compress(setup: &Setup, messages: Vec<Message>) -> DeflateFrames {
    let mut peer = setup.peer();
    for message in messages {
        peer.send(message).expect("the peer sends");
    }
    frames(&take_output(&mut peer))
        .into_iter()
        .map(|(h, payload)| (h.fin, h.rsv, h.opcode, payload))
        .collect()
}

/// Checks that a seed reads, in one piece, to its Close with no error.
fn check_reads_to_close(setup: &Setup, stream: &[u8], name: &str) {
    let mut engine = setup.engine(setup.role, deflate_limits());
    let mut input = stream.to_vec();
    let mut start = 0;
    loop {
        match engine.receive(&mut input[start..]) {
            Ok(progress) => {
                start += progress.used;
                match progress.message {
                    Some(Message::Close(_)) => break,
                    Some(_) => {}
                    None => panic!("seed {name} for {setup:?} ends before its Close"),
                }
            }
            Err(Error::Protocol(e @ ProtocolError::MessageTooLarge { .. })) => {
                panic!("seed {name} for {setup:?} crosses the limit: {e}")
            }
            Err(e) => panic!("seed {name} for {setup:?} fails: {e:?}"),
        }
    }
    assert_eq!(start, stream.len(), "seed {name}: bytes after the Close");
}
