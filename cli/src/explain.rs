//! Explanations for people learning the protocol: a frame byte by byte
//! (`ws6455 decode`), and how a key becomes its Accept value
//! (`ws6455 accept-key`).
//!
//! The verdict on a frame comes from the same decoders a connection uses
//! ([`FrameHeader::decode`] and the [`Engine`]), so `decode` calls a
//! frame invalid exactly when a connection would fail on it. Each frame is
//! judged by its own MASK bit, as the end it was sent to judges it, so a
//! client's frames and a server's may be pasted one after the other. The
//! field names and previews are the `--trace` lines' (`annotate.rs`).

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use sha1::{Digest, Sha1};
use ws6455::deflate;
use ws6455::deflate::DeflateParams;
use ws6455::handshake::{WEBSOCKET_GUID, accept_key};
use ws6455::proto::{Decoded, FrameHeader, OpCode, ProtocolError, TraceEvent, apply_mask};
use ws6455::{Engine, Error, Limits, Message, Role};

use crate::annotate::{ascii_preview, close_summary, hex, hex_compact, length_field, text_preview};

/// How many payload bytes an explanation shows.
const PAYLOAD_SHOWN: usize = 32;

/// Why some text is not a byte string in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// There were no bytes at all.
    Empty,
    /// A word with something other than hex digits in it.
    NotHex(String),
    /// A word with an odd number of hex digits: its last digit is half of
    /// byte `byte` (counting from 0 over all the words, as `decode` numbers
    /// bytes).
    OddDigits {
        /// The word as given.
        word: String,
        /// The number of the incomplete byte.
        byte: usize,
        /// The digit left alone.
        digit: char,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Empty => f.write_str("no bytes given"),
            HexError::NotHex(word) => write!(f, "{word:?} is not hex"),
            HexError::OddDigits { word, byte, digit } => write!(
                f,
                "{word:?}: odd number of hex digits: byte {byte}, \"{digit}\", is incomplete"
            ),
        }
    }
}

impl std::error::Error for HexError {}

/// Reads bytes written in hex the ways the RFC and tools write them:
/// `81 05 48`, `0x81 0x05`, `810548`, `81:05`, and multi-byte words such as
/// §5.7's `0x0100`.
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let mut bytes = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        if word.is_empty() {
            continue;
        }
        let digits = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .unwrap_or(word);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HexError::NotHex(word.to_owned()));
        }
        if digits.len() % 2 != 0 {
            // Digits pair up from the left, so the last one is alone.
            return Err(HexError::OddDigits {
                word: word.to_owned(),
                byte: bytes.len() + digits.len() / 2,
                digit: char::from(digits.as_bytes()[digits.len() - 1]),
            });
        }
        for pair in digits.as_bytes().chunks(2) {
            let pair = std::str::from_utf8(pair).map_err(|_| HexError::NotHex(word.to_owned()))?;
            bytes
                .push(u8::from_str_radix(pair, 16).map_err(|_| HexError::NotHex(word.to_owned()))?);
        }
    }
    if bytes.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(bytes)
}

/// Which extension the frames were sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Negotiated {
    /// None: every RSV bit must be 0.
    Nothing,
    /// permessage-deflate (RFC 7692), with 15-bit windows and context
    /// takeover, so that any sequence of compressed messages inflates.
    Deflate,
}

/// permessage-deflate as `ws6455 decode --deflate` assumes it: the largest
/// windows, and the compressor's context kept from message to message
/// (RFC 7692 §7.1.1). Messages compressed without context takeover inflate
/// the same way.
const DECODE_DEFLATE: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// What [`explain_frames`] found: the explanation, and how the bytes end.
pub(crate) struct Explanation {
    /// The frames, field by field, each with its verdict.
    pub(crate) text: String,
    pub(crate) verdict: Verdict,
}

/// How a sequence of frames ends, as their receivers would judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every frame is whole and keeps the rules (a message may still be
    /// unfinished: its next fragment has not been given).
    Valid,
    /// The frames before the last keep the rules; the last is cut short.
    Incomplete,
    /// A frame breaks a rule, and its receiver fails the connection; the
    /// explanation stops there.
    Invalid,
}

/// One direction of a connection as its receiver sees it. A frame's MASK
/// bit says which end sent it (RFC 6455 §5.1), and each direction has its
/// own fragmented message (§5.4) and, with permessage-deflate, its own
/// compression context (RFC 7692 §7.1.1).
struct Direction {
    /// "client" or "server".
    sender: &'static str,
    engine: Engine,
    /// A compressed message (RSV1 on its first frame, RFC 7692 §6) is open.
    compressed: bool,
    /// The bytes on the wire of the last compressed message completed, as
    /// the engine's trace reports it.
    compressed_wire_len: Arc<Mutex<Option<u64>>>,
    /// A data frame with FIN=0 opened a message that no FIN=1 has ended.
    message_open: bool,
}

impl Direction {
    /// The frames `receiver` receives: masked ones for a server, unmasked
    /// ones for a client.
    fn to(receiver: Role, negotiated: Negotiated) -> Direction {
        // The protocol's rules, not this crate's size limits (§10.4), are the
        // judge here; but a compressed message is inflated only up to the
        // default message limit, so that a few bytes cannot ask for gigabytes.
        let limits = Limits::default().max_frame_size(u64::MAX);
        let engine = match negotiated {
            Negotiated::Nothing => Engine::new(receiver, limits.max_message_size(u64::MAX)),
            Negotiated::Deflate => {
                let deflate = deflate::extension(&DECODE_DEFLATE, receiver, 0);
                Engine::with_extension(receiver, limits, deflate)
            }
        };
        let compressed_wire_len = Arc::new(Mutex::new(None));
        let reported = Arc::clone(&compressed_wire_len);
        let mut engine = engine;
        engine.set_trace(move |event| {
            if let TraceEvent::Compressed(message) = event {
                *reported.lock().unwrap_or_else(PoisonError::into_inner) = Some(message.wire_len);
            }
        });
        Direction {
            sender: match receiver {
                Role::Server => "client",
                Role::Client => "server",
            },
            engine,
            compressed: false,
            compressed_wire_len,
            message_open: false,
        }
    }
}

/// Explains `bytes` as a sequence of frames, field by field, until they end
/// or a frame breaks a rule. Each frame is judged by its own MASK bit: a
/// masked one as the server receives it, an unmasked one as the client
/// does, so frames of both directions may be given one after the other.
pub(crate) fn explain_frames(bytes: &[u8], negotiated: Negotiated) -> Explanation {
    let mut text = String::new();
    let verdict = explain_into(&mut text, bytes, negotiated);
    Explanation { text, verdict }
}

/// [`explain_frames`], writing to `out`.
fn explain_into(out: &mut String, bytes: &[u8], negotiated: Negotiated) -> Verdict {
    let mut to_server = Direction::to(Role::Server, negotiated);
    let mut to_client = Direction::to(Role::Client, negotiated);
    let mut at = 0;
    let mut number = 1;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let _ = writeln!(out, "frame {number}, from byte {at}:");
        explain_header_bytes(out, at, rest, negotiated);
        let (header, header_len) = match FrameHeader::decode(rest) {
            Err(e) => {
                verdict_invalid(out, &e);
                return Verdict::Invalid;
            }
            Ok(Decoded::NeedMore) => {
                let _ = writeln!(
                    out,
                    "  incomplete: the header continues past the last byte given"
                );
                return Verdict::Incomplete;
            }
            Ok(Decoded::Complete(header, len)) => (header, len),
        };
        let (this, other) = match header.mask {
            Some(_) => (&mut to_server, &to_client),
            None => (&mut to_client, &to_server),
        };
        let available = rest.len() - header_len;
        let payload_len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let present = available.min(payload_len);
        // Control frames may come between a message's fragments, and a
        // continuation goes on with the message it continues.
        if matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            this.compressed = header.rsv != 0;
        }
        explain_payload(
            out,
            at + header_len,
            &header,
            &rest[header_len..header_len + present],
            this.compressed,
        );
        let mut frame = rest[..header_len + present].to_vec();
        match this.engine.receive(&mut frame) {
            Err(Error::Protocol(e)) => {
                verdict_invalid(out, &e);
                if e == ProtocolError::ContinuationWithoutMessage && other.message_open {
                    let _ = writeln!(
                        out,
                        "  (a message from the {} is open: its frames, continuations included, \
                         have MASK={})",
                        other.sender,
                        u8::from(header.mask.is_none())
                    );
                }
                return Verdict::Invalid;
            }
            Err(_) => {
                let _ = writeln!(
                    out,
                    "  invalid: the {} sent this after its Close, which is the last frame an \
                     endpoint sends (RFC 6455 §5.5.1); the receiver reads no further",
                    this.sender
                );
                return Verdict::Invalid;
            }
            Ok(_) if present < payload_len => {
                let _ = writeln!(
                    out,
                    "  incomplete: {present} of the {payload_len} payload bytes are here"
                );
                return Verdict::Incomplete;
            }
            Ok(progress) => {
                let _ = write!(out, "  valid");
                let wire_len = match progress.message {
                    Some(Message::Text(_) | Message::Binary(_)) if this.compressed => this
                        .compressed_wire_len
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take(),
                    _ => None,
                };
                match (progress.message, wire_len) {
                    (Some(Message::Text(text)), Some(wire_len)) => {
                        let _ = writeln!(
                            out,
                            ": a whole text message, compressed: {wire_len} bytes on the wire, \
                             inflated to {} bytes, {}",
                            text.len(),
                            text_preview(text.as_bytes())
                        );
                    }
                    (Some(Message::Binary(data)), Some(wire_len)) => {
                        let _ = writeln!(
                            out,
                            ": a whole binary message, compressed: {wire_len} bytes on the wire, \
                             inflated to {} bytes, {}",
                            data.len(),
                            ascii_preview(&data[..data.len().min(PAYLOAD_SHOWN)])
                        );
                    }
                    (Some(Message::Text(text)), None) => {
                        let _ = writeln!(
                            out,
                            ": a whole text message, {}",
                            text_preview(text.as_bytes())
                        );
                    }
                    (Some(Message::Binary(data)), None) => {
                        let _ = writeln!(out, ": a whole binary message of {} bytes", data.len());
                    }
                    (Some(Message::Ping(_)), _) => {
                        let _ = writeln!(
                            out,
                            ": a ping; the receiver answers with a pong carrying the same data (RFC 6455 §5.5.2)"
                        );
                    }
                    (Some(Message::Pong(_)), _) => {
                        let _ = writeln!(out, ": a pong");
                    }
                    (Some(Message::Close(_)), _) => {
                        let _ = writeln!(
                            out,
                            ": a close; the receiver answers with a close if it has not sent one (RFC 6455 §5.5.1)"
                        );
                    }
                    (None, _) => {
                        let _ = writeln!(out, ": the message continues in a later frame");
                    }
                }
                if !header.opcode.is_control() {
                    this.message_open = !header.fin;
                }
            }
        }
        at += header_len + payload_len;
        number += 1;
    }
    for direction in [&to_server, &to_client] {
        if direction.message_open {
            let _ = writeln!(
                out,
                "the {}'s last message is unfinished: no frame with FIN=1 ended it (RFC 6455 §5.4)",
                direction.sender
            );
        }
    }
    Verdict::Valid
}

/// The header's fields, from whatever of them `rest` holds. `at` is the
/// frame's offset, for byte numbers.
fn explain_header_bytes(out: &mut String, at: usize, rest: &[u8], negotiated: Negotiated) {
    let Some(&first) = rest.first() else {
        return;
    };
    let fin = first >> 7;
    let rsv = (first >> 4) & 0x7;
    let opcode = first & 0x0F;
    let _ = writeln!(
        out,
        "  byte {at}: {first:#04x} = {fin} {rsv:03b} {opcode:04b} (FIN, RSV1-3, opcode)"
    );
    field(
        out,
        &format!("FIN={fin}"),
        if fin == 1 {
            "the final fragment of its message"
        } else {
            "more fragments of this message follow"
        },
    );
    field(
        out,
        &format!("RSV1-3={rsv:03b}"),
        match (rsv, negotiated) {
            (0, _) => "no extension bits",
            (0b100, Negotiated::Deflate) => {
                "RSV1: the message is compressed, if this is its first frame (RFC 7692 §6)"
            }
            _ => "extension bits: MUST be 0 unless an extension defines them (RFC 6455 §5.2)",
        },
    );
    field(out, &format!("opcode={opcode:#x}"), opcode_name(opcode));
    let Some(&second) = rest.get(1) else {
        return;
    };
    let masked = second >> 7;
    let len7 = second & 0x7F;
    let _ = writeln!(
        out,
        "  byte {}: {second:#04x} = {masked} {len7:07b} (MASK, payload length)",
        at + 1
    );
    field(
        out,
        &format!("MASK={masked}"),
        if masked == 1 {
            "the payload is masked: sent by a client (RFC 6455 §5.3)"
        } else {
            "the payload is not masked: sent by a server (RFC 6455 §5.1)"
        },
    );
    let extension = match len7 {
        126 => {
            field(
                out,
                "length=126",
                "the length is in the next 2 bytes (16-bit field)",
            );
            2
        }
        127 => {
            field(
                out,
                "length=127",
                "the length is in the next 8 bytes (64-bit field)",
            );
            8
        }
        len => {
            field(
                out,
                &format!("length={len}"),
                "the payload length itself (7-bit field, 0-125)",
            );
            0
        }
    };
    if extension > 0 {
        if let Some(b) = rest.get(2..2 + extension) {
            let len = b.iter().fold(0u64, |len, &byte| len << 8 | u64::from(byte));
            let _ = writeln!(
                out,
                "  bytes {}-{}: {}  payload length {len}",
                at + 2,
                at + 1 + extension,
                hex(b)
            );
        }
    }
    let key_at = 2 + extension;
    if masked == 1 {
        if let Some(key) = rest.get(key_at..key_at + 4) {
            let _ = writeln!(
                out,
                "  bytes {}-{}: {}  masking key {}",
                at + key_at,
                at + key_at + 3,
                hex(key),
                hex_compact(key)
            );
        }
    }
}

/// One header field and what its value means.
fn field(out: &mut String, name_and_value: &str, meaning: &str) {
    let _ = writeln!(out, "    {name_and_value:<11} {meaning}");
}

/// The payload: where it is, as sent, unmasked, and what it says.
/// `payload` is the part of it present in the input; `compressed` says it
/// belongs to a compressed message.
fn explain_payload(
    out: &mut String,
    at: usize,
    header: &FrameHeader,
    payload: &[u8],
    compressed: bool,
) {
    if header.payload_len == 0 {
        let _ = writeln!(out, "  no payload");
        return;
    }
    let field = length_field(header.payload_len);
    if field != length_field(0) {
        let _ = writeln!(
            out,
            "  ({} bytes need the {field} field: the shortest that holds them, as RFC 6455 §5.2 requires)",
            header.payload_len,
        );
    }
    let last = (at as u64).saturating_add(header.payload_len - 1);
    let _ = writeln!(
        out,
        "  bytes {at}-{last}: payload, {} bytes",
        header.payload_len
    );
    if payload.is_empty() {
        return;
    }
    let shown = payload.len().min(PAYLOAD_SHOWN);
    let more = if payload.len() > shown {
        format!(" … ({} more)", payload.len() - shown)
    } else {
        String::new()
    };
    let mut unmasked = payload.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut unmasked, key, 0);
        let _ = writeln!(out, "    as sent:  {}{more}", hex(&payload[..shown]));
        let _ = writeln!(
            out,
            "    unmasked: {}{more}  (byte i XOR key byte i mod 4)",
            hex(&unmasked[..shown])
        );
    } else {
        let _ = writeln!(out, "    {}{more}", hex(&payload[..shown]));
    }
    let meaning = match header.opcode {
        OpCode::Close => close_summary(&unmasked),
        // Control frames between its fragments are never compressed (RFC 7692 §6).
        OpCode::Text | OpCode::Binary | OpCode::Continuation if compressed => {
            String::from("DEFLATE data (RFC 1951), inflated below")
        }
        OpCode::Binary => ascii_preview(&unmasked[..shown]),
        _ => text_preview(&unmasked[..shown]),
    };
    let _ = writeln!(out, "    {meaning}");
}

fn verdict_invalid(out: &mut String, error: &ProtocolError) {
    let _ = writeln!(
        out,
        "  invalid: {error}; the receiver fails the connection with close code {}",
        error.close_code()
    );
}

/// How a `Sec-WebSocket-Key` becomes its `Sec-WebSocket-Accept` (RFC 6455
/// §4.2.2 item 5.4), step by step.
pub(crate) fn explain_accept_key(key: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Sec-WebSocket-Key:    {key}");
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {
            let _ = writeln!(out, "  decodes to 16 bytes: {} (a valid key)", hex(&nonce));
        }
        _ => {
            let _ = writeln!(
                out,
                "  note: not base64 of 16 bytes, so a server refuses it (RFC 6455 §4.2.1); the steps still work"
            );
        }
    }
    let _ = writeln!(out, "key + GUID:           {key}{WEBSOCKET_GUID}");
    let _ = writeln!(
        out,
        "SHA-1 of that:        {}",
        hex_compact(
            &Sha1::new()
                .chain_update(key)
                .chain_update(WEBSOCKET_GUID)
                .finalize()
        )
    );
    let _ = writeln!(
        out,
        "Sec-WebSocket-Accept: {} (the SHA-1 in base64)",
        accept_key(key.as_bytes())
    );
    out
}

/// The name of the opcode in the low four bits of `bits`, reserved ones included.
fn opcode_name(bits: u8) -> &'static str {
    match OpCode::from_bits(bits & 0x0F) {
        Some(OpCode::Continuation) => "continuation",
        Some(OpCode::Text) => "text",
        Some(OpCode::Binary) => "binary",
        Some(OpCode::Close) => "close",
        Some(OpCode::Ping) => "ping",
        Some(OpCode::Pong) => "pong",
        None if bits & 0x08 == 0 => "reserved for further non-control frames",
        None => "reserved for further control frames",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_names_include_reserved_ones() {
        assert_eq!(opcode_name(0x1), "text");
        assert_eq!(opcode_name(0x3), "reserved for further non-control frames");
        assert_eq!(opcode_name(0xB), "reserved for further control frames");
    }

    fn explain(hex: &str) -> String {
        explain_frames(&parse_hex(hex).unwrap(), Negotiated::Nothing).text
    }

    fn inflate(hex: &str) -> String {
        explain_frames(&parse_hex(hex).unwrap(), Negotiated::Deflate).text
    }

    #[test]
    fn decode_deflate_inflates_the_examples_of_rfc_7692_7_2_3() {
        let hello = "0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00";
        let out = inflate(hello);
        assert!(
            out.contains("RSV1-3=100  RSV1: the message is compressed"),
            "{out}"
        );
        assert!(
            out.contains("DEFLATE data (RFC 1951), inflated below"),
            "{out}"
        );
        let whole = |wire_len| {
            format!(
                "valid: a whole text message, compressed: {wire_len} bytes on the wire, \
                 inflated to 5 bytes, \"Hello\"\n"
            )
        };
        assert!(out.ends_with(&whole(7)), "{out}");
        // Without permessage-deflate the same frame breaks RFC 6455 §5.2.
        assert!(explain(hello).contains("invalid: RSV1 set but no extension negotiated"));
        for (section, wire, wire_len) in [
            (
                "7.2.3.1, in two fragments",
                "0x41 0x03 0xf2 0x48 0xcd 0x80 0x04 0xc9 0xc9 0x07 0x00",
                7,
            ),
            (
                "7.2.3.2, the second message",
                "0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00 0xc1 0x05 0xf2 0x00 0x11 0x00 0x00",
                5,
            ),
            (
                "7.2.3.3",
                "0xc1 0x0b 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00",
                11,
            ),
            (
                "7.2.3.4",
                "0xc1 0x08 0xf3 0x48 0xcd 0xc9 0xc9 0x07 0x00 0x00",
                8,
            ),
        ] {
            let out = inflate(wire);
            assert!(out.ends_with(&whole(wire_len)), "§{section}:\n{out}");
        }
    }

    #[test]
    fn decode_deflate_shows_a_ping_between_compressed_fragments_as_itself() {
        let out =
            inflate("0x41 0x03 0xf2 0x48 0xcd 0x89 0x02 0x68 0x69 0x80 0x04 0xc9 0xc9 0x07 0x00");
        let ping = &out[out.find("frame 2").unwrap()..out.find("frame 3").unwrap()];
        assert!(ping.contains("    \"hi\"\n"), "{ping}");
        assert!(!ping.contains("DEFLATE"), "{ping}");
        assert!(out.ends_with("inflated to 5 bytes, \"Hello\"\n"), "{out}");
    }

    #[test]
    fn decode_deflate_refuses_rsv1_on_a_continuation_frame() {
        let out = inflate("0x41 0x03 0xf2 0x48 0xcd 0xc0 0x04 0xc9 0xc9 0x07 0x00");
        assert!(
            out.ends_with(
                "invalid: RSV1 set on a continuation frame: the extension marks the first \
                 frame of a message only (RFC 7692 §6); the receiver fails the connection \
                 with close code 1002 (protocol error)\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn corrupt_compressed_data_is_invalid() {
        let out = inflate("0xc1 0x03 0xff 0xff 0xff");
        assert!(out.contains("invalid: "), "{out}");
        assert!(out.contains("close code 1007"), "{out}");
    }

    #[test]
    fn parse_hex_reads_the_rfc_notation() {
        assert_eq!(
            parse_hex("0x82 0x7E 0x0100").unwrap(),
            [0x82, 0x7e, 0x01, 0x00]
        );
        assert_eq!(parse_hex("81:05, 48").unwrap(), [0x81, 0x05, 0x48]);
        assert_eq!(parse_hex("810548").unwrap(), [0x81, 0x05, 0x48]);
        assert_eq!(
            parse_hex("0x8"),
            Err(HexError::OddDigits {
                word: "0x8".into(),
                byte: 0,
                digit: '8'
            })
        );
        assert_eq!(parse_hex("zz"), Err(HexError::NotHex("zz".into())));
        assert_eq!(parse_hex("0x"), Err(HexError::NotHex("0x".into())));
        assert_eq!(parse_hex("  "), Err(HexError::Empty));
    }

    #[test]
    fn an_odd_number_of_hex_digits_names_the_incomplete_byte() {
        assert_eq!(
            parse_hex("8105f").unwrap_err().to_string(),
            "\"8105f\": odd number of hex digits: byte 2, \"f\", is incomplete"
        );
        assert_eq!(
            parse_hex("81 0 48").unwrap_err().to_string(),
            "\"0\": odd number of hex digits: byte 1, \"0\", is incomplete"
        );
        assert_eq!(
            parse_hex("0x81 0x0548A").unwrap_err().to_string(),
            "\"0x0548A\": odd number of hex digits: byte 3, \"A\", is incomplete"
        );
    }

    #[test]
    fn rfc6455_5_7_unmasked_hello() {
        assert_eq!(
            explain("0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f"),
            "frame 1, from byte 0:
  byte 0: 0x81 = 1 000 0001 (FIN, RSV1-3, opcode)
    FIN=1       the final fragment of its message
    RSV1-3=000  no extension bits
    opcode=0x1  text
  byte 1: 0x05 = 0 0000101 (MASK, payload length)
    MASK=0      the payload is not masked: sent by a server (RFC 6455 §5.1)
    length=5    the payload length itself (7-bit field, 0-125)
  bytes 2-6: payload, 5 bytes
    48 65 6c 6c 6f
    \"Hello\"
  valid: a whole text message, \"Hello\"
"
        );
    }

    #[test]
    fn rfc6455_5_7_masked_hello() {
        let out = explain("0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58");
        assert!(
            out.contains("MASK=1      the payload is masked: sent by a client"),
            "{out}"
        );
        assert!(
            out.contains("bytes 2-5: 37 fa 21 3d  masking key 37fa213d"),
            "{out}"
        );
        assert!(out.contains("as sent:  7f 9f 4d 51 58"), "{out}");
        assert!(out.contains("unmasked: 48 65 6c 6c 6f"), "{out}");
        assert!(
            out.ends_with("valid: a whole text message, \"Hello\"\n"),
            "{out}"
        );
    }

    #[test]
    fn rfc6455_5_7_fragmented_hello() {
        let out = explain("0x01 0x03 0x48 0x65 0x6c 0x80 0x02 0x6c 0x6f");
        assert!(out.contains("frame 1, from byte 0:"), "{out}");
        assert!(
            out.contains("FIN=0       more fragments of this message follow"),
            "{out}"
        );
        assert!(
            out.contains("valid: the message continues in a later frame"),
            "{out}"
        );
        assert!(out.contains("frame 2, from byte 5:"), "{out}");
        assert!(out.contains("opcode=0x0  continuation"), "{out}");
        assert!(
            out.ends_with("valid: a whole text message, \"Hello\"\n"),
            "{out}"
        );
    }

    #[test]
    fn rfc6455_5_7_ping_and_masked_pong() {
        let ping = explain("0x89 0x05 0x48 0x65 0x6c 0x6c 0x6f");
        assert!(ping.contains("opcode=0x9  ping"), "{ping}");
        assert!(
            ping.ends_with("answers with a pong carrying the same data (RFC 6455 §5.5.2)\n"),
            "{ping}"
        );
        let pong = explain("0x8a 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58");
        assert!(pong.contains("opcode=0xa  pong"), "{pong}");
        assert!(pong.contains("\"Hello\""), "{pong}");
        assert!(pong.ends_with("valid: a pong\n"), "{pong}");
    }

    #[test]
    fn rfc6455_5_7_256_and_65536_byte_binary_messages() {
        let mut frame = vec![0x82, 0x7E, 0x01, 0x00];
        frame.extend(std::iter::repeat_n(0xAB, 256));
        let out = explain_frames(&frame, Negotiated::Nothing).text;
        assert!(
            out.contains("length=126  the length is in the next 2 bytes (16-bit field)"),
            "{out}"
        );
        assert!(
            out.contains("bytes 2-3: 01 00  payload length 256"),
            "{out}"
        );
        assert!(out.contains("bytes 4-259: payload, 256 bytes"), "{out}");
        assert!(out.contains("… (224 more)"), "{out}");
        assert!(
            out.ends_with("valid: a whole binary message of 256 bytes\n"),
            "{out}"
        );

        let out = explain("0x82 0x7F 0x0000000100000000");
        assert!(
            out.ends_with("incomplete: 0 of the 4294967296 payload bytes are here\n"),
            "{out}"
        );

        let out = explain("0x82 0x7F 0x0000000000010000");
        assert!(
            out.contains("length=127  the length is in the next 8 bytes (64-bit field)"),
            "{out}"
        );
        assert!(
            out.contains("bytes 2-9: 00 00 00 00 00 01 00 00  payload length 65536"),
            "{out}"
        );
        assert!(
            out.ends_with("incomplete: 0 of the 65536 payload bytes are here\n"),
            "{out}"
        );
    }

    #[test]
    fn rsv1_without_extension_is_explained() {
        let out = explain("c1 02 68 69");
        assert!(out.contains("RSV1-3=100  extension bits"), "{out}");
        assert!(
            out.contains("invalid: RSV1 set but no extension negotiated (RFC 6455 §5.2); the receiver fails the connection with close code 1002 (protocol error)"),
            "{out}"
        );
    }

    #[test]
    fn header_errors_are_explained() {
        let out = explain("83 00");
        assert!(
            out.contains("reserved for further non-control frames"),
            "{out}"
        );
        assert!(
            out.contains("invalid: reserved opcode 0x3 (RFC 6455 §5.2)"),
            "{out}"
        );
        let out = explain("82 7e 00 7d");
        assert!(
            out.contains("invalid: length 125 not in the shortest encoding"),
            "{out}"
        );
        let out = explain("09 00");
        assert!(out.contains("invalid: fragmented ping frame"), "{out}");
    }

    #[test]
    fn close_frames_name_their_code_and_invalid_text_is_caught() {
        let out = explain("88 02 03 e8");
        assert!(out.contains("1000 normal closure"), "{out}");
        let out = explain("88 02 03 ed");
        assert!(out.contains("invalid: invalid close code 1005"), "{out}");
        let out = explain("81 02 c3 28");
        assert!(
            out.contains("invalid: text is not valid UTF-8 (RFC 6455 §8.1)"),
            "{out}"
        );
        assert!(out.contains("close code 1007"), "{out}");
    }

    /// RFC 6455 §5.7's "Hello", masked as a client sends it, and unmasked
    /// as a server does.
    const CLIENT_HELLO: &str = "81 85 37 fa 21 3d 7f 9f 4d 51 58";
    const SERVER_HELLO: &str = "81 05 48 65 6c 6c 6f";

    #[test]
    fn rfc6455_5_1_each_frame_is_judged_by_its_own_mask_bit() {
        for (first, second, second_at) in [
            (CLIENT_HELLO, SERVER_HELLO, 11),
            (SERVER_HELLO, CLIENT_HELLO, 7),
        ] {
            let both = explain_frames(
                &parse_hex(&format!("{first} {second}")).unwrap(),
                Negotiated::Nothing,
            );
            assert_eq!(both.verdict, Verdict::Valid, "{}", both.text);
            let (one, two) = both.text.split_at(
                both.text
                    .find(&format!("frame 2, from byte {second_at}:"))
                    .unwrap(),
            );
            assert_eq!(one, explain(first));
            assert!(
                two.ends_with("valid: a whole text message, \"Hello\"\n"),
                "{two}"
            );
        }
        let out = explain(&format!("{CLIENT_HELLO} {SERVER_HELLO}"));
        let server = &out[out.find("frame 2").unwrap()..];
        assert!(
            server.contains("MASK=0      the payload is not masked: sent by a server"),
            "{server}"
        );
    }

    #[test]
    fn rfc6455_5_4_each_direction_has_its_own_fragmented_message() {
        // The client's "Hel", the server's "hi", the client's "lo".
        let out = explain_frames(
            &parse_hex("01 83 37 fa 21 3d 7f 9f 4d 81 02 68 69 80 82 37 fa 21 3d 5b 95").unwrap(),
            Negotiated::Nothing,
        );
        assert_eq!(out.verdict, Verdict::Valid, "{}", out.text);
        assert!(
            out.text
                .contains("valid: a whole text message, \"hi\"\nframe 3"),
            "{}",
            out.text
        );
        assert!(
            out.text
                .ends_with("valid: a whole text message, \"Hello\"\n"),
            "{}",
            out.text
        );

        // An unmasked continuation is the server's, which has no message open.
        let out = explain_frames(
            &parse_hex("01 83 37 fa 21 3d 7f 9f 4d 80 02 6c 6f").unwrap(),
            Negotiated::Nothing,
        );
        assert_eq!(out.verdict, Verdict::Invalid, "{}", out.text);
        assert!(
            out.text.ends_with(
                "invalid: continuation frame with no message to continue (RFC 6455 §5.4); \
                 the receiver fails the connection with close code 1002 (protocol error)\n  \
                 (a message from the client is open: its frames, continuations included, \
                 have MASK=1)\n"
            ),
            "{}",
            out.text
        );
    }

    #[test]
    fn the_verdict_says_valid_incomplete_or_invalid() {
        let verdict = |hex| explain_frames(&parse_hex(hex).unwrap(), Negotiated::Nothing).verdict;
        assert_eq!(verdict(SERVER_HELLO), Verdict::Valid);
        assert_eq!(verdict("01 01 48"), Verdict::Valid);
        assert_eq!(verdict("81"), Verdict::Incomplete);
        assert_eq!(verdict("81 05 48"), Verdict::Incomplete);
        assert_eq!(verdict("c1 02 68 69"), Verdict::Invalid);
        assert_eq!(verdict("81 02 c3 28"), Verdict::Invalid);
        assert_eq!(verdict("81 05 48 65 6c 6c 6f 83 00"), Verdict::Invalid);
    }

    #[test]
    fn truncated_input_is_incomplete_not_an_error() {
        assert!(
            explain("81").ends_with("incomplete: the header continues past the last byte given\n")
        );
        assert!(explain("81 05 48").ends_with("incomplete: 1 of the 5 payload bytes are here\n"));
        assert!(explain("01 01 48").ends_with(
            "the server's last message is unfinished: no frame with FIN=1 ended it (RFC 6455 §5.4)\n"
        ));
        let out = explain("01 01 48 01 81 00 00 00 00 48");
        assert!(
            out.ends_with(
                "the client's last message is unfinished: no frame with FIN=1 ended it (RFC 6455 §5.4)\n\
                 the server's last message is unfinished: no frame with FIN=1 ended it (RFC 6455 §5.4)\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn rfc6455_4_2_2_accept_key_steps() {
        assert_eq!(
            explain_accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "Sec-WebSocket-Key:    dGhlIHNhbXBsZSBub25jZQ==
  decodes to 16 bytes: 74 68 65 20 73 61 6d 70 6c 65 20 6e 6f 6e 63 65 (a valid key)
key + GUID:           dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11
SHA-1 of that:        b37a4f2cc0624f1690f64606cf385945b2bec4ea
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (the SHA-1 in base64)
"
        );
        assert!(explain_accept_key("short").contains("note: not base64 of 16 bytes"));
    }

    proptest::proptest! {
        #[test]
        fn explaining_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = explain_frames(&bytes, Negotiated::Nothing);
        }
    }
}
