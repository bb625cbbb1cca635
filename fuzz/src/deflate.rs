//! The read path with permessage-deflate (RFC 7692) negotiated, behind
//! `read_deflate`: a protocol [`Engine`] in either role, with the parameters
//! the fuzz input chooses, fed a byte stream in pieces. See `fuzz/README.md`.

use std::io;

use ws6455::proto::Decoded;

use ws6455::deflate::{self as permessage_deflate, DeflateParams};
use ws6455::proto::ProtocolError;
use ws6455::proto::apply_mask;
use ws6455::proto::{FrameHeader, OpCode};
use ws6455::{CloseFrame, Engine, Error, Limits, Message, Role};

use crate::{Chunked, End, check_message};

/// The limits `read_deflate` runs under: frames of up to 4 KiB, so that
/// inputs cross the frame limit too, and messages of up to 64 KiB, which a
/// few hundred compressed bytes inflate past: a bomb is cut early and each
/// execution stays fast.
pub fn deflate_limits() -> Limits {
    Limits::default()
        .max_frame_size(4 << 10)
        .max_message_size(64 << 10)
}

/// What the first two bytes of a `read_deflate` input choose, before the
/// [`Chunked`] stream:
///
/// ```text
/// [flags] [windows] [n] [n size bytes] [the stream ...]
/// ```
///
/// `flags`: bit 0 the role (0 a server, reading masked frames; 1 a client),
/// bit 1 `server_no_context_takeover`, bit 2 `client_no_context_takeover`,
/// the high four bits the compression level (modulo 10). `windows`: bits 0–2
/// `server_max_window_bits` less 8, bits 4–6 `client_max_window_bits` less 8.
/// A missing byte reads as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Which end reads the stream.
    pub role: Role,
    /// What the opening handshake agreed.
    pub params: DeflateParams,
    /// The compression level of both ends' compressors.
    pub level: u32,
}

impl Setup {
    /// Splits a fuzz input into the setup and the rest. Any input is valid.
    pub fn parse(input: &[u8]) -> (Setup, &[u8]) {
        let (setup, rest) = input.split_at(input.len().min(2));
        let flags = setup.first().copied().unwrap_or(0);
        let windows = setup.get(1).copied().unwrap_or(0);
        let setup = Setup {
            role: if flags & 1 == 0 {
                Role::Server
            } else {
                Role::Client
            },
            params: DeflateParams {
                server_no_context_takeover: flags & 0b10 != 0,
                client_no_context_takeover: flags & 0b100 != 0,
                server_max_window_bits: 8 + (windows & 7),
                client_max_window_bits: 8 + (windows >> 4 & 7),
            },
            level: u32::from(flags >> 4) % 10,
        };
        (setup, rest)
    }

    /// The fuzz input that [`Setup::parse`] reads as this setup and `data`
    /// in pieces of `sizes` (see [`Chunked::encode`]).
    pub fn encode(&self, sizes: &[u8], data: &[u8]) -> Vec<u8> {
        let params = &self.params;
        let flags = u8::from(self.role == Role::Client)
            | u8::from(params.server_no_context_takeover) << 1
            | u8::from(params.client_no_context_takeover) << 2
            | (self.level.min(9) as u8) << 4;
        let windows = (params.server_max_window_bits.clamp(8, 15) - 8)
            | (params.client_max_window_bits.clamp(8, 15) - 8) << 4;
        let mut input = vec![flags, windows];
        input.extend(Chunked::encode(sizes, data));
        input
    }

    /// A connection in `role` that agreed to this setup's parameters.
    pub fn engine(&self, role: Role, limits: Limits) -> Engine {
        Engine::with_extension(
            role,
            limits,
            permessage_deflate::extension(&self.params, role, self.level),
        )
    }

    /// The peer's connection: the other role, the same parameters.
    pub fn peer(&self) -> Engine {
        let role = match self.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        self.engine(role, deflate_limits())
    }
}

/// The read path with permessage-deflate: an [`Engine`] set up as the input's
/// first bytes say reads the rest, in its pieces, until a protocol error, the
/// end of the stream or a Close.
///
/// Checks every message against the invariants (control payloads of at most
/// 125 bytes, data within [`deflate_limits`], nothing after a Close), the
/// engine's answers (see [`check_replies`]), that reading the same bytes in
/// one piece gives the same messages and the same end (see [`same_end`]),
/// and that the data messages read, compressed again by the peer, read back
/// the same.
pub fn read_deflate(input: &[u8]) {
    let (setup, rest) = Setup::parse(input);
    let input = Chunked::parse(rest);
    let in_pieces = receive_all(setup, input.pieces());
    let in_one_piece = receive_all(setup, [input.data]);
    assert!(
        in_pieces.0 == in_one_piece.0 && same_end(&in_pieces.1, &in_one_piece.1),
        "the split changed what was read:\n in pieces: {in_pieces:?}\n in one piece: {in_one_piece:?}"
    );
    round_trip(setup, &in_pieces.0);
}

/// Whether two reads of the same bytes end alike. A compressed message
/// with more than one fault (invalid UTF-8, inflating past the message
/// limit) fails with the first in the order its bytes come out, however
/// they arrived; but the bytes inflated by the step that finds the DEFLATE
/// data invalid are not handed back, so invalid data against another fault
/// may end either way.
pub(crate) fn same_end(a: &End, b: &End) -> bool {
    fn message_fault(end: &End) -> bool {
        matches!(
            end,
            End::Protocol(
                ProtocolError::InvalidCompressedData
                    | ProtocolError::InvalidUtf8
                    | ProtocolError::MessageTooLarge { .. }
            )
        )
    }
    let invalid_data =
        |end: &End| matches!(end, End::Protocol(ProtocolError::InvalidCompressedData));
    a == b || ((invalid_data(a) || invalid_data(b)) && message_fault(a) && message_fault(b))
}

/// An engine set up as `setup` says receives `pieces` one after the other,
/// as a connection hands over what each read brought, until a protocol error,
/// a Close or the end; returns what it read and how it ended.
fn receive_all<'a>(
    setup: Setup,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Message>, End) {
    let mut engine = setup.engine(setup.role, deflate_limits());
    let mut buffer = Vec::new();
    let mut messages = Vec::new();
    let end = 'read: {
        for piece in pieces {
            buffer.extend_from_slice(piece);
            loop {
                let progress = match engine.receive(&mut buffer) {
                    Ok(progress) => progress,
                    Err(Error::Protocol(e)) => break 'read End::Protocol(e),
                    Err(e) => panic!("receive failed with {e:?} before the connection closed"),
                };
                buffer.drain(..progress.used);
                let Some(message) = progress.message else {
                    break;
                };
                check_message(&message, deflate_limits());
                let is_close = matches!(message, Message::Close(_));
                messages.push(message);
                if is_close {
                    break 'read End::Closed;
                }
            }
        }
        engine.read_failed();
        End::Io(io::ErrorKind::UnexpectedEof)
    };
    assert!(
        engine.is_closed(),
        "after {end:?} the engine must be closed"
    );
    assert!(
        matches!(engine.receive(&mut []), Err(Error::Closed)),
        "after {end:?} nothing more can be received"
    );
    check_replies(setup.role, &mut engine, &messages, &end);
    (messages, end)
}

/// What the engine queued to send while it read `received` and reached
/// `end`: Pongs answering the Pings in order, the latest Ping's among them
/// (RFC 6455 §5.5.2, §5.5.3), then a Close echoing the peer's status code
/// (§5.5.1) or with the protocol error's code (§7.1.7), and nothing else.
/// Every frame is whole, uncompressed, and masked exactly when we are the
/// client.
fn check_replies(role: Role, engine: &mut Engine, received: &[Message], end: &End) {
    let replies = frames(&take_output(engine));
    for (header, _) in &replies {
        assert!(header.fin && header.rsv == 0, "{header:?}");
        assert_eq!(header.mask.is_some(), role == Role::Client, "{header:?}");
    }
    let (close, pongs) = match replies.split_last() {
        Some(((header, payload), pongs)) if header.opcode == OpCode::Close => {
            (Some(payload), pongs)
        }
        _ => (None, &replies[..]),
    };
    let mut pings = received.iter().filter_map(|message| match message {
        Message::Ping(payload) => Some(payload),
        _ => None,
    });
    for (header, payload) in pongs {
        assert_eq!(header.opcode, OpCode::Pong, "only Pongs before the Close");
        assert!(
            pings.any(|ping| ping == payload),
            "a Pong that answers no Ping, or out of order"
        );
    }
    let latest_ping = received.iter().rev().find_map(|message| match message {
        Message::Ping(payload) => Some(payload),
        _ => None,
    });
    if let Some(latest) = latest_ping {
        assert_eq!(
            pongs.last().map(|(_, p)| p),
            Some(latest),
            "unanswered Ping"
        );
    }
    let expected_code = match end {
        End::Protocol(error) => Some(Some(error.close_code())),
        End::Closed => match received.last() {
            Some(Message::Close(frame)) => Some(frame.as_ref().map(|f| f.code)),
            other => unreachable!("ended with a Close, but the last message is {other:?}"),
        },
        End::Io(_) => None,
    };
    let sent_code = close.map(|payload| {
        let frame = CloseFrame::decode(payload).expect("our Close is valid");
        frame.map(|f| f.code)
    });
    assert_eq!(sent_code, expected_code, "the Close sent after {end:?}");
}

/// How many bytes of data messages [`round_trip`] sends back: compressing
/// (instrumented, at up to level 9) is what an execution would spend most
/// of its time on.
const ROUND_TRIP_BUDGET: usize = 4 << 10;

/// The data messages read (as many as fit in [`ROUND_TRIP_BUDGET`]), sent
/// back by the peer (compressed by its compressor at the agreed window and
/// takeover) and read by a new engine in our role, read the same.
fn round_trip(setup: Setup, messages: &[Message]) {
    let mut budget = ROUND_TRIP_BUDGET;
    let data: Vec<Message> = messages
        .iter()
        .filter(|m| {
            let len = match m {
                Message::Text(text) => text.len(),
                Message::Binary(data) => data.len(),
                _ => return false,
            };
            let fits = len <= budget;
            budget -= if fits { len } else { 0 };
            fits
        })
        .cloned()
        .collect();
    if data.is_empty() {
        return;
    }
    let mut peer = setup.peer();
    for message in &data {
        peer.send(message.clone()).expect("the peer sends");
    }
    let mut wire = take_output(&mut peer);
    // Each message goes in one frame, which may be longer than the frame limit.
    let limits = deflate_limits().max_frame_size(1 << 20);
    let mut ours = setup.engine(setup.role, limits);
    let mut read_back = Vec::new();
    let mut start = 0;
    while start < wire.len() {
        let progress = ours
            .receive(&mut wire[start..])
            .expect("what the peer compressed inflates");
        start += progress.used;
        read_back.extend(progress.message);
    }
    assert_eq!(read_back, data, "the round trip changed the messages");
}

/// Everything `engine` has queued to send, taken out of it.
pub fn take_output(engine: &mut Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.output().drain_into(&mut bytes);
    bytes
}

/// Whole frames, one after the other, with their payloads unmasked.
pub fn frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let Ok(Decoded::Complete(header, header_len)) = FrameHeader::decode(wire) else {
            panic!("not a whole frame: {wire:02x?}");
        };
        let end = header_len + header.payload_len as usize;
        let mut payload = wire[header_len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        wire = &wire[end..];
    }
    frames
}
