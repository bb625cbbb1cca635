//! The protocol engine with no I/O at all: bytes in, messages and bytes to
//! send out; and the hooks an extension plugs into.

mod common;

use common::{fragment, frame, receive_all, take_output};
use ws6455::Engine;
use ws6455::proto::OpCode;
use ws6455::proto::ProtocolError;
use ws6455::proto::{Extension, InboundTransform, OutboundTransform, OutputCheck};
use ws6455::{CloseCode, CloseFrame, Error, Limits, Message, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend(frame(opcode, Some(KEY), payload));
    wire
}

#[test]
fn a_ping_in_gives_the_ping_out_and_a_pong_to_send() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    let messages = receive_all(&mut engine, &masked(OpCode::Ping, b"Hello")).unwrap();
    assert_eq!(messages, [Message::Ping(b"Hello".to_vec())]);
    // RFC 6455 §5.7: an unmasked Pong with "Hello".
    assert_eq!(
        take_output(&mut engine),
        [0x8a, 0x05, b'H', b'e', b'l', b'l', b'o']
    );
}

#[test]
fn a_protocol_error_queues_the_close_that_fails_the_connection() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    let result = receive_all(&mut engine, &[0x81, 0x02, b'h', b'i']);
    assert!(matches!(
        result,
        Err(Error::Protocol(ProtocolError::UnmaskedClientFrame))
    ));
    let output = take_output(&mut engine);
    assert_eq!(&output[..4], [0x88, output[1], 0x03, 0xea], "Close 1002");
    assert!(engine.is_closed());
    assert!(matches!(
        engine.receive(&mut masked(OpCode::Text, b"x")),
        Err(Error::Closed)
    ));
}

#[test]
fn a_close_in_is_answered_once_and_ends_the_connection() {
    let mut engine = Engine::new(Role::Server, Limits::default());
    let mut close = Vec::new();
    CloseFrame {
        code: CloseCode::GOING_AWAY,
        reason: "bye".into(),
    }
    .encode(&mut close);
    let messages = receive_all(&mut engine, &masked(OpCode::Close, &close)).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(take_output(&mut engine), [0x88, 0x02, 0x03, 0xe9]);
    assert!(engine.is_closed());
    assert!(matches!(
        engine.close(CloseCode::NORMAL, ""),
        Err(Error::Closed)
    ));
    assert!(take_output(&mut engine).is_empty());
}

#[test]
fn messages_out_are_frames_masked_in_the_client_role() {
    let mut client = Engine::new(Role::Client, Limits::default());
    client.send(Message::Text("Hello".into())).unwrap();
    let wire = take_output(&mut client);
    assert_eq!(wire[0], 0x81);
    assert_eq!(wire[1], 0x80 | 5);
    let mut server = Engine::new(Role::Server, Limits::default());
    assert_eq!(
        receive_all(&mut server, &wire).unwrap(),
        [Message::Text("Hello".into())]
    );
}

/// A toy per-message extension on RSV1: payloads XORed with 0x55, and
/// each received byte may stand for `expand` bytes (to test the limit).
struct Xor {
    expand: usize,
    /// The byte decoded last, and how many more copies of it are owed.
    held: (u8, usize),
}

impl InboundTransform for Xor {
    fn begin(&mut self, rsv: u8) -> bool {
        rsv & 0b100 != 0
    }

    fn feed(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        check: OutputCheck<'_>,
    ) -> Result<(usize, usize), ProtocolError> {
        let (mut used, mut written) = (0, 0);
        loop {
            while self.held.1 > 0 && written < out.len() {
                out[written] = self.held.0;
                written += 1;
                self.held.1 -= 1;
            }
            if written == out.len() || used == input.len() {
                break;
            }
            self.held = (input[used] ^ 0x55, self.expand);
            used += 1;
        }
        check(&out[..written])?;
        Ok((used, written))
    }

    fn finish(
        &mut self,
        _out: &mut [u8],
        _check: OutputCheck<'_>,
    ) -> Result<(usize, bool), ProtocolError> {
        Ok((0, true))
    }
}

impl OutboundTransform for Xor {
    fn transform(&mut self, _opcode: OpCode, mut payload: Vec<u8>) -> (u8, Vec<u8>) {
        payload.iter_mut().for_each(|b| *b ^= 0x55);
        (0b100, payload)
    }

    fn begin_pieces(&mut self, _opcode: OpCode) -> u8 {
        0b100
    }

    fn transform_piece(&mut self, piece: &[u8], _last: bool, out: &mut Vec<u8>) {
        out.extend(piece.iter().map(|b| b ^ 0x55));
    }
}

fn xor_engine(role: Role, limits: Limits, expand: usize) -> Engine {
    let extension = Extension {
        rsv_bits: 0b100,
        inbound: Box::new(Xor {
            expand,
            held: (0, 0),
        }),
        outbound: Box::new(Xor {
            expand,
            held: (0, 0),
        }),
    };
    Engine::with_extension(role, limits, extension)
}

#[test]
fn an_extension_transforms_messages_both_ways_and_owns_rsv1() {
    let mut client = xor_engine(Role::Client, Limits::default(), 1);
    client.send(Message::Text("Hello".into())).unwrap();
    client.send(Message::Ping(b"p".to_vec())).unwrap();
    let wire = take_output(&mut client);
    assert_eq!(wire[0], 0xC1, "FIN, RSV1, text");
    let mut server = xor_engine(Role::Server, Limits::default(), 1);
    assert_eq!(
        receive_all(&mut server, &wire).unwrap(),
        [Message::Text("Hello".into()), Message::Ping(b"p".to_vec())]
    );
    // A message without RSV1 is not transformed.
    let plain = masked(OpCode::Binary, b"as is");
    assert_eq!(
        receive_all(&mut server, &plain).unwrap(),
        [Message::Binary(b"as is".to_vec())]
    );
}

/// The RSV bits of `wire`'s first byte set to `rsv`.
fn with_rsv(mut wire: Vec<u8>, rsv: u8) -> Vec<u8> {
    wire[0] |= rsv << 4;
    wire
}

#[test]
fn rfc6455_5_2_extension_bits_only_on_the_first_frame_of_a_data_message() {
    // RFC 7692 §6: RSV1 on a continuation or a control frame is an error,
    // and RSV2/RSV3 stay reserved.
    let mut first = Vec::new();
    first.extend(fragment(false, OpCode::Text, Some(KEY), b"a"));
    let mut continuation = Vec::new();
    continuation.extend(fragment(true, OpCode::Continuation, Some(KEY), b"b"));
    let misplaced = [
        (
            [
                with_rsv(first.clone(), 0b100),
                with_rsv(continuation.clone(), 0b100),
            ]
            .concat(),
            OpCode::Continuation,
        ),
        (with_rsv(masked(OpCode::Ping, b""), 0b100), OpCode::Ping),
    ];
    for (wire, on) in misplaced {
        let mut server = xor_engine(Role::Server, Limits::default(), 1);
        let result = receive_all(&mut server, &wire);
        assert!(
            matches!(
                result,
                Err(Error::Protocol(ProtocolError::ExtensionBitsNotOnFirstFrame { bits: 0b100, opcode }))
                    if opcode == on
            ),
            "{result:?}"
        );
    }
    let reserved = [
        (with_rsv(masked(OpCode::Text, b"x"), 0b010), 0b010),
        (with_rsv(masked(OpCode::Text, b"x"), 0b101), 0b001),
    ];
    for (wire, refused) in reserved {
        let mut server = xor_engine(Role::Server, Limits::default(), 1);
        let result = receive_all(&mut server, &wire);
        assert!(
            matches!(result, Err(Error::Protocol(ProtocolError::ReservedBitsSet(bits))) if bits == refused),
            "{result:?}"
        );
    }
    let mut server = xor_engine(Role::Server, Limits::default(), 1);
    let ok = [with_rsv(first, 0b100), continuation].concat();
    assert_eq!(
        receive_all(&mut server, &ok).unwrap(),
        [Message::Text("\x34\x37".into())]
    );
}

#[test]
fn rfc6455_10_4_the_limit_counts_what_a_transformed_message_decodes_to() {
    let limits = Limits::default()
        .max_frame_size(1 << 20)
        .max_message_size(1000);
    let mut server = xor_engine(Role::Server, limits, 100);
    // 11 bytes on the wire, 1100 decoded: over the limit while decoding.
    let wire = with_rsv(masked(OpCode::Binary, &[0; 11]), 0b100);
    let result = receive_all(&mut server, &wire);
    assert!(
        matches!(
            result,
            Err(Error::Protocol(ProtocolError::MessageTooLarge {
                max: 1000,
                ..
            }))
        ),
        "{result:?}"
    );
    assert_eq!(&take_output(&mut server)[2..4], [0x03, 0xf1], "Close 1009");
}

#[test]
fn rfc6455_8_1_invalid_utf8_from_a_transform_fails_as_soon_as_it_comes_out() {
    let mut server = xor_engine(Role::Server, Limits::default(), 1);
    // 0xFF ^ 0x55 = 0xAA: a continuation byte with no lead, invalid at once.
    let mut first = Vec::new();
    first.extend(fragment(
        false,
        OpCode::Text,
        Some(KEY),
        &[b'o' ^ 0x55, 0xFF],
    ));
    let result = receive_all(&mut server, &with_rsv(first, 0b100));
    assert!(
        matches!(result, Err(Error::Protocol(ProtocolError::InvalidUtf8))),
        "{result:?}"
    );
}

/// The payloads of the Pongs in `wire` (unmasked server frames), in order.
fn pong_payloads(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut client = Engine::new(Role::Client, Limits::default());
    receive_all(&mut client, wire)
        .unwrap()
        .into_iter()
        .map(|message| match message {
            Message::Pong(payload) => payload,
            other => panic!("expected only Pongs, got {other:?}"),
        })
        .collect()
}

#[test]
fn rfc6455_5_5_2_every_ping_gets_its_pong_while_the_peer_reads() {
    let mut server = Engine::new(Role::Server, Limits::default());
    let pings: Vec<u8> = (0..10u8)
        .flat_map(|i| masked(OpCode::Ping, &[i; 3]))
        .collect();
    assert_eq!(receive_all(&mut server, &pings).unwrap().len(), 10);
    let pongs = pong_payloads(&take_output(&mut server));
    assert_eq!(pongs, (0..10u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
}

#[test]
fn rfc6455_5_5_3_pings_from_a_peer_that_does_not_read_get_only_the_latest_pong() {
    // 20,000 Pings of 100 bytes, nothing written meanwhile: answering each
    // would queue 2 MB. Past 64 KiB of Pongs unwritten, only the latest waits.
    let mut server = Engine::new(Role::Server, Limits::default());
    for i in 0..20_000u32 {
        let mut payload = vec![0; 100];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        receive_all(&mut server, &masked(OpCode::Ping, &payload)).unwrap();
    }
    let output = take_output(&mut server);
    assert!(
        output.len() < (64 << 10) + 2 * 102,
        "{} bytes queued",
        output.len()
    );
    let pongs = pong_payloads(&output);
    assert_eq!(
        &pongs.last().unwrap()[..4],
        19_999u32.to_be_bytes(),
        "the latest Ping is answered"
    );
    let numbers: Vec<u32> = pongs
        .iter()
        .map(|p| u32::from_be_bytes(p[..4].try_into().unwrap()))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
}
