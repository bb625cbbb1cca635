//! permessage-deflate's data path (RFC 7692 §6, §7.2) through the engine,
//! with no I/O: what one end compresses the other inflates, across window
//! sizes, context takeover and fragmentation; and the limits hold while
//! inflating.
#![cfg(feature = "deflate")]

mod common;

use common::{receive_all, take_output};
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;
use ws6455::Engine;
use ws6455::deflate::DeflateParams;
use ws6455::deflate::extension;
use ws6455::proto::Decoded;
use ws6455::proto::ProtocolError;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws6455::{Error, Limits, Message, Role};

fn params(server_bits: u8, client_bits: u8, server_nct: bool, client_nct: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

fn engine(role: Role, params: &DeflateParams, limits: Limits) -> Engine {
    Engine::with_extension(role, limits, extension(params, role, 6))
}

/// The frames in `wire`: header and unmasked payload.
fn frames(wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut rest = wire;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let Ok(Decoded::Complete(header, len)) = FrameHeader::decode(rest) else {
            panic!("not a frame: {rest:02x?}");
        };
        let end = len + header.payload_len as usize;
        let mut payload = rest[len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        rest = &rest[end..];
    }
    frames
}

/// One masked client frame with the given header bits.
fn client_frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0x5a, 0x17, 0xc3, 0x08];
    let header = FrameHeader {
        rsv,
        ..FrameHeader::new(fin, opcode, Some(key), payload.len() as u64)
    };
    let mut head = [0; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head);
    let mut wire = head[..head_len].to_vec();
    let start = wire.len();
    wire.extend_from_slice(payload);
    apply_mask(&mut wire[start..], key, 0);
    wire
}

/// `data` compressed as one permessage-deflate message (sync flush, tail removed).
fn compress(data: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    compressor
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn message_strategy() -> impl Strategy<Value = Message> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Message::Binary),
        // Compressible: a few bytes repeated.
        (proptest::collection::vec(any::<u8>(), 1..8), 0usize..5000)
            .prop_map(|(unit, n)| Message::Binary(unit.iter().copied().cycle().take(n).collect())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// RFC 7692 §7.2.1 and §7.2.2: whatever either end compresses, with any
    /// window size and either takeover, the other inflates to the same messages.
    #[test]
    fn rfc7692_7_2_messages_survive_compression_both_ways(
        server_bits in 8u8..=15,
        client_bits in 8u8..=15,
        server_nct in any::<bool>(),
        client_nct in any::<bool>(),
        messages in proptest::collection::vec(message_strategy(), 1..6),
    ) {
        let agreed = params(server_bits, client_bits, server_nct, client_nct);
        let mut client = engine(Role::Client, &agreed, Limits::default());
        let mut server = engine(Role::Server, &agreed, Limits::default());
        for message in &messages {
            client.send(message.clone()).unwrap();
            server.send(message.clone()).unwrap();
        }
        let to_server = take_output(&mut client);
        let to_client = take_output(&mut server);
        prop_assert_eq!(&receive_all(&mut server, &to_server).unwrap(), &messages);
        prop_assert_eq!(&receive_all(&mut client, &to_client).unwrap(), &messages);
        // RSV1 only ever on a data frame (no fragmentation here: each is first).
        for (header, _) in frames(&to_server).iter().chain(frames(&to_client).iter()) {
            prop_assert!(header.rsv == 0 || header.rsv == 0b100);
        }
    }

    /// RFC 7692 §6.1: a compressed message may be fragmented anywhere; only
    /// its first frame carries RSV1.
    #[test]
    fn rfc7692_6_1_compressed_messages_arrive_in_any_fragments(
        text in "\\PC{1,400}",
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let compressed = compress(text.repeat(3).as_bytes());
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(compressed.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut wire = Vec::new();
        let mut start = 0;
        let pieces: Vec<&[u8]> = points.iter().chain([compressed.len()].iter()).map(|&end| {
            let piece = &compressed[start..end.max(start)];
            start = end.max(start);
            piece
        }).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let first = i == 0;
            let last = i == pieces.len() - 1;
            let (rsv, opcode) = if first { (0b100, OpCode::Text) } else { (0, OpCode::Continuation) };
            wire.extend(client_frame(last, rsv, opcode, piece));
        }
        let mut server = engine(Role::Server, &params(15, 15, false, false), Limits::default());
        prop_assert_eq!(receive_all(&mut server, &wire).unwrap(), vec![Message::Text(text.repeat(3))]);
    }
}

#[test]
fn rfc7692_6_control_frames_are_never_compressed() {
    // PMCEs "operate only on data messages": RSV1 never on a control frame,
    // whose payload goes as it is, however compressible.
    let compressible = vec![b'a'; 120];
    let mut server = engine(
        Role::Server,
        &params(15, 15, false, false),
        Limits::default(),
    );
    server.send(Message::Ping(compressible.clone())).unwrap();
    server.send(Message::Pong(compressible.clone())).unwrap();
    server
        .send(Message::Binary(compressible.repeat(4)))
        .unwrap();
    server.close(ws6455::CloseCode::NORMAL, "bye").unwrap();
    let sent = frames(&take_output(&mut server));
    let seen: Vec<(OpCode, u8)> = sent.iter().map(|(h, _)| (h.opcode, h.rsv)).collect();
    assert_eq!(
        seen,
        [
            (OpCode::Ping, 0),
            (OpCode::Pong, 0),
            (OpCode::Binary, 0b100),
            (OpCode::Close, 0),
        ]
    );
    assert_eq!(sent[0].1, compressible);
    assert_eq!(sent[1].1, compressible);
}

#[test]
fn rfc7692_7_2_3_6_an_empty_message_is_the_single_octet_0x00() {
    let agreed = params(15, 15, true, true);
    let mut server = engine(Role::Server, &agreed, Limits::default());
    server.send(Message::Text(String::new())).unwrap();
    let wire = take_output(&mut server);
    let sent = frames(&wire);
    // Without context takeover an empty message goes uncompressed, as it
    // is shorter so; the compressed form is the single octet 0x00.
    assert_eq!(sent[0].1.len(), 0);
    assert_eq!(compress(b""), [0x00]);
    let mut client_side = engine(Role::Server, &agreed, Limits::default());
    let received = receive_all(
        &mut client_side,
        &client_frame(true, 0b100, OpCode::Text, &[0x00]),
    );
    assert_eq!(received.unwrap(), [Message::Text(String::new())]);
}

/// RFC 7692 §7.2.3.1: "Hello" compressed into one DEFLATE block, the sync
/// flush's tail removed.
const HELLO_ONE_BLOCK: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

fn hello() -> Message {
    Message::Text("Hello".into())
}

#[test]
fn rfc7692_7_2_3_1_hello_in_one_block_whole_and_in_two_fragments() {
    // The RFC's frames, as a server sends them: whole, then "if the
    // fragments are 3 and 4 octets", RSV1 on the first frame only.
    let wire = [
        &[0xc1, 0x07][..],
        &HELLO_ONE_BLOCK,
        &[0x41, 0x03, 0xf2, 0x48, 0xcd],
        &[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00],
    ]
    .concat();
    for agreed in [params(15, 15, false, false), params(15, 15, true, true)] {
        let mut client = engine(Role::Client, &agreed, Limits::default());
        assert_eq!(receive_all(&mut client, &wire).unwrap(), [hello(), hello()]);
    }
}

#[test]
fn rfc7692_7_2_3_2_the_second_hello_refers_to_the_first() {
    // Without client_no_context_takeover agreed, the client "can compress
    // the payload of the next message into fewer bytes by referencing the
    // history in the LZ77 sliding window"; the server must keep that window
    // (§7.2.2).
    let agreed = params(15, 15, false, false);
    let mut server = engine(Role::Server, &agreed, Limits::default());
    let wire = [
        client_frame(true, 0b100, OpCode::Text, &HELLO_ONE_BLOCK),
        client_frame(true, 0b100, OpCode::Text, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
    ]
    .concat();
    assert_eq!(receive_all(&mut server, &wire).unwrap(), [hello(), hello()]);
    // With it agreed, the client compresses the second into the same bytes.
    let agreed = params(15, 15, false, true);
    let mut server = engine(Role::Server, &agreed, Limits::default());
    let wire = [
        client_frame(true, 0b100, OpCode::Text, &HELLO_ONE_BLOCK),
        client_frame(true, 0b100, OpCode::Text, &HELLO_ONE_BLOCK),
    ]
    .concat();
    assert_eq!(receive_all(&mut server, &wire).unwrap(), [hello(), hello()]);
}

#[test]
fn rfc7692_7_2_3_3_a_block_with_no_compression() {
    let wire = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let mut client = engine(
        Role::Client,
        &params(15, 15, false, false),
        Limits::default(),
    );
    assert_eq!(receive_all(&mut client, &wire).unwrap(), [hello()]);
}

#[test]
fn rfc7692_7_2_3_4_a_block_with_bfinal_set() {
    // "Hello" in a block with BFINAL set, then the octet that lets it be
    // inflated like any other message.
    let wire = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    // §7.2.3.1's "Hello", after it: the stream that BFINAL ended is over, and
    // with context takeover too the next message inflates from a new one.
    let next = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    for agreed in [params(15, 15, false, false), params(15, 15, true, true)] {
        let mut client = engine(Role::Client, &agreed, Limits::default());
        assert_eq!(receive_all(&mut client, &wire).unwrap(), [hello()]);
        assert_eq!(receive_all(&mut client, &wire).unwrap(), [hello()]);
        assert_eq!(receive_all(&mut client, &next).unwrap(), [hello()]);
    }
}

#[test]
fn rfc7692_7_2_3_5_two_deflate_blocks_in_one_message() {
    let wire = [
        &[0xc1, 0x0d][..],
        &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff],
        &[0xca, 0xc9, 0xc9, 0x07, 0x00],
    ]
    .concat();
    let mut client = engine(
        Role::Client,
        &params(15, 15, false, false),
        Limits::default(),
    );
    assert_eq!(receive_all(&mut client, &wire).unwrap(), [hello()]);
}

#[test]
fn rfc7692_7_2_3_6_an_empty_last_fragment_ends_a_message() {
    // A sender compressing as the data comes keeps the sync flush's tail on
    // a fragment that is not the last; with nothing left when the data
    // ends, the last fragment is an empty block less its tail: 0x00.
    let mut first = HELLO_ONE_BLOCK.to_vec();
    first.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let wire = [
        client_frame(false, 0b100, OpCode::Text, &first),
        client_frame(true, 0, OpCode::Continuation, &[0x00]),
    ]
    .concat();
    let mut server = engine(
        Role::Server,
        &params(15, 15, false, false),
        Limits::default(),
    );
    assert_eq!(receive_all(&mut server, &wire).unwrap(), [hello()]);
}

#[test]
fn rfc7692_7_2_1_context_takeover_shrinks_a_repeated_message() {
    let message = Message::Text("The quick brown fox jumps over the lazy dog. ".repeat(20));
    for (takeover, expect_smaller_second) in [(true, true), (false, false)] {
        let agreed = params(15, 15, !takeover, !takeover);
        let mut server = engine(Role::Server, &agreed, Limits::default());
        server.send(message.clone()).unwrap();
        server.send(message.clone()).unwrap();
        let sent = frames(&take_output(&mut server));
        assert!(sent.iter().all(|(h, _)| h.rsv == 0b100), "both compressed");
        let smaller = sent[1].1.len() < sent[0].1.len();
        assert_eq!(
            smaller,
            expect_smaller_second,
            "takeover {takeover}: {} then {}",
            sent[0].1.len(),
            sent[1].1.len()
        );
    }
}

#[test]
fn rfc6455_10_4_a_compressed_bomb_is_refused_at_the_limit_while_inflating() {
    // 16 MiB of zeros compress to some 16 KiB; the limit is 1 MiB.
    let bomb = compress(&vec![0; 16 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let limits = Limits::default()
        .max_frame_size(1 << 20)
        .max_message_size(1 << 20);
    let mut server = engine(Role::Server, &params(15, 15, false, false), limits);
    let result = receive_all(
        &mut server,
        &client_frame(true, 0b100, OpCode::Binary, &bomb),
    );
    match result {
        Err(Error::Protocol(ProtocolError::MessageTooLarge { len, max })) => {
            assert_eq!(max, 1 << 20);
            assert_eq!(len, (1 << 20) + 1, "refused one byte past the limit");
        }
        other => panic!("{other:?}"),
    }
    let close = frames(&take_output(&mut server));
    assert_eq!(&close[0].1[..2], [0x03, 0xf1], "Close 1009");
}

#[test]
fn rfc6455_8_1_invalid_utf8_in_compressed_text_fails_before_the_message_ends() {
    let mut bad = b"valid start ".repeat(10);
    bad.extend_from_slice(&[0xff, 0xfe]);
    bad.extend(b"never read".repeat(10));
    let compressed = compress(&bad);
    let (first, rest) = compressed.split_at(compressed.len() - 3);
    let mut server = engine(
        Role::Server,
        &params(15, 15, false, false),
        Limits::default(),
    );
    // The first fragment, without FIN, already holds the bad bytes.
    let result = receive_all(
        &mut server,
        &client_frame(false, 0b100, OpCode::Text, first),
    );
    assert!(
        matches!(result, Err(Error::Protocol(ProtocolError::InvalidUtf8))),
        "{result:?}"
    );
    let _ = rest;
    let close = frames(&take_output(&mut server));
    assert_eq!(&close[0].1[..2], [0x03, 0xef], "Close 1007");
}

#[test]
fn invalid_text_in_a_compressed_message_is_found_first_however_it_arrives() {
    // Invalid UTF-8 at the start of text that inflates far past the limit:
    // the bad byte comes out first, so 1007 (not 1009), whether the frame
    // arrives whole or a few bytes at a time.
    let mut text = vec![0xff];
    text.extend(std::iter::repeat_n(b'a', 1 << 20));
    let wire = client_frame(true, 0b100, OpCode::Text, &compress(&text));
    let limits = Limits::default()
        .max_frame_size(1 << 20)
        .max_message_size(64 << 10);
    for piece in [wire.len(), 8, 1] {
        let mut server = engine(Role::Server, &params(15, 15, true, true), limits);
        let mut pending = Vec::new();
        let failure = wire.chunks(piece).find_map(|chunk| {
            pending.extend_from_slice(chunk);
            match server.receive(&mut pending) {
                Ok(progress) => {
                    assert_eq!(progress.message, None);
                    pending.drain(..progress.used);
                    None
                }
                Err(e) => Some(e),
            }
        });
        assert!(
            matches!(failure, Some(Error::Protocol(ProtocolError::InvalidUtf8))),
            "in pieces of {piece}: {failure:?}"
        );
    }
}

#[test]
fn rfc7692_7_2_2_corrupt_compressed_data_fails_with_1007() {
    let mut server = engine(
        Role::Server,
        &params(15, 15, false, false),
        Limits::default(),
    );
    // 0xff: a block type of 3, which DEFLATE reserves.
    let result = receive_all(
        &mut server,
        &client_frame(true, 0b100, OpCode::Binary, &[0xff, 0xff, 0xff]),
    );
    assert!(
        matches!(
            result,
            Err(Error::Protocol(ProtocolError::InvalidCompressedData))
        ),
        "{result:?}"
    );
    let close = frames(&take_output(&mut server));
    assert_eq!(&close[0].1[..2], [0x03, 0xef], "Close 1007");
}

#[test]
fn rfc7692_6_rsv1_on_a_continuation_or_control_frame_is_1002() {
    let compressed = compress(b"hello hello hello hello");
    let on = |opcode| ProtocolError::ExtensionBitsNotOnFirstFrame {
        bits: 0b100,
        opcode,
    };
    for (wire, expected) in [
        (
            [
                client_frame(false, 0b100, OpCode::Text, &compressed[..4]),
                client_frame(true, 0b100, OpCode::Continuation, &compressed[4..]),
            ]
            .concat(),
            on(OpCode::Continuation),
        ),
        (
            client_frame(true, 0b100, OpCode::Ping, b""),
            on(OpCode::Ping),
        ),
        (
            client_frame(true, 0b010, OpCode::Text, &compressed),
            ProtocolError::ReservedBitsSet(0b010),
        ),
    ] {
        let mut server = engine(
            Role::Server,
            &params(15, 15, false, false),
            Limits::default(),
        );
        let result = receive_all(&mut server, &wire);
        assert!(
            matches!(&result, Err(Error::Protocol(error)) if *error == expected),
            "{result:?}"
        );
        assert_eq!(expected.close_code().0, 1002);
        let close = frames(&take_output(&mut server)).pop().unwrap();
        assert_eq!(close.0.opcode, OpCode::Close);
        assert_eq!(close.1[..2], 1002u16.to_be_bytes());
    }
}

#[test]
fn an_uncompressed_message_passes_through_untouched() {
    let mut server = engine(
        Role::Server,
        &params(15, 15, false, false),
        Limits::default(),
    );
    let received = receive_all(&mut server, &client_frame(true, 0, OpCode::Text, b"plain"));
    assert_eq!(received.unwrap(), [Message::Text("plain".into())]);
}

/// Bytes that do not compress, from a small xorshift generator.
fn incompressible(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// RFC 7692 §7.2.1 with RFC 1951 §3.2.4: a piece that compression would
/// make larger goes as stored blocks, so a message sent in pieces never
/// grows by more than a few bytes per 64 KiB, and what follows it, in the
/// same message and (with context takeover) in the next, still inflates;
/// and a message whose last piece is empty still ends so that the four
/// octets the receiver appends complete it.
#[test]
fn rfc7692_7_2_1_pieces_that_do_not_compress_go_as_stored_blocks() {
    for takeover in [true, false] {
        let params = params(15, 15, !takeover, !takeover);
        let mut server = engine(Role::Server, &params, Limits::default());
        let random = incompressible(300_000, 7);
        let text = "the same words again and again ".repeat(2000);
        for (i, piece) in random.chunks(100_000).enumerate() {
            server
                .send_piece(ws6455::MessageKind::Binary, piece, i == 2)
                .unwrap();
        }
        server
            .send_piece(ws6455::MessageKind::Text, text.as_bytes(), false)
            .unwrap();
        server
            .send_piece(ws6455::MessageKind::Text, b"", true)
            .unwrap();
        server
            .send(Message::Binary(random[..5000].to_vec()))
            .unwrap();
        let wire = take_output(&mut server);
        let sent = frames(&wire);
        let random_frames: usize = sent[..3].iter().map(|(_, payload)| payload.len()).sum();
        assert!(
            random_frames < random.len() + 64,
            "{random_frames} bytes on the wire for {} random bytes",
            random.len()
        );
        assert!(
            sent[3].1.len() < text.len() / 10,
            "the text still compresses"
        );
        let mut client = engine(Role::Client, &params, Limits::default());
        assert_eq!(
            receive_all(&mut client, &wire).unwrap(),
            [
                Message::Binary(random.clone()),
                Message::Text(text),
                Message::Binary(random[..5000].to_vec())
            ],
            "takeover {takeover}"
        );
    }
}
