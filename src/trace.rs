//! Watching the protocol happen: every frame a connection sends or receives,
//! annotated field by field.
//!
//! [`WebSocket::set_trace`] shows an observer each frame as a [`FrameEvent`]:
//! the decoded header and the start of the payload, unmasked. Its `Display`
//! is the line `ws6455 --trace` prints, `>` for a frame sent and `<` for one
//! received:
//!
//! ```text
//! > text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=37fa213d len=5 (7-bit) payload: 48 65 6c 6c 6f "Hello"
//! < close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 len=2 (7-bit) payload: 03 e8 = 1000 normal closure
//! ```
//!
//! The helpers that name each field are shared with [`crate::explain`],
//! which `ws6455 decode` uses to explain a frame byte by byte.
//!
//! [`WebSocket::set_trace`]: crate::WebSocket::set_trace

use std::fmt;

use crate::close::CloseCode;
use crate::close_frame::CloseFrame;
use crate::frame::{FrameHeader, LengthEncoding, OpCode};

/// How many payload bytes a trace line shows.
pub const PREVIEW_LEN: usize = 16;

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

impl Direction {
    /// `>` for sent, `<` for received, as `curl -v` writes them.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">",
            Direction::Received => "<",
        }
    }
}

/// A frame a connection sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameEvent<'a> {
    /// Which way it went.
    pub direction: Direction,
    /// Its header, as on the wire.
    pub header: FrameHeader,
    /// The start of its payload, unmasked: all of a control frame's, and up to
    /// 125 bytes of a data frame's. A received data frame is reported as soon
    /// as its header arrives, with whatever of the payload came with it.
    pub payload_start: &'a [u8],
}

impl fmt::Display for FrameEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        write!(
            f,
            "{} {} FIN={} RSV1-3={:03b} opcode={:#x} MASK={}",
            self.direction.arrow(),
            h.opcode,
            u8::from(h.fin),
            h.rsv,
            h.opcode.bits(),
            u8::from(h.mask.is_some()),
        )?;
        if let Some(key) = h.mask {
            write!(f, " key={}", hex_compact(&key))?;
        }
        write!(
            f,
            " len={} ({})",
            h.payload_len,
            length_field(FrameHeader::length_encoding(h.payload_len))
        )?;
        if h.payload_len == 0 {
            return Ok(());
        }
        let shown = &self.payload_start[..self.payload_start.len().min(PREVIEW_LEN)];
        write!(f, " payload: {}", hex(shown))?;
        if (shown.len() as u64) < h.payload_len {
            write!(f, " … (first {} of {})", shown.len(), h.payload_len)?;
        }
        match h.opcode {
            OpCode::Close => write!(f, " = {}", close_summary(self.payload_start)),
            OpCode::Binary => write!(f, " {}", ascii_preview(shown)),
            _ => write!(f, " {}", text_preview(shown)),
        }
    }
}

/// An observer that prints each frame's line to stderr after `prefix` (e.g.
/// the peer's address), for [`WebSocket::set_trace`].
///
/// [`WebSocket::set_trace`]: crate::WebSocket::set_trace
pub fn print_to_stderr(prefix: String) -> impl FnMut(&FrameEvent<'_>) + Send + Sync + 'static {
    move |event| eprintln!("{prefix}{event}")
}

/// An HTTP head (and body, if any) as text, one line per line after `prefix`
/// and the direction's arrow: the opening handshake in a trace.
pub fn http_lines(prefix: &str, direction: Direction, wire: &[u8]) -> String {
    let text = String::from_utf8_lossy(wire);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let mut lines = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        lines.push_str(&format!(
            "{prefix}{} {}\n",
            direction.arrow(),
            line.escape_debug()
        ));
    }
    lines
}

/// The name of the opcode in the low four bits of `bits`, reserved ones included.
pub fn opcode_name(bits: u8) -> &'static str {
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

/// Which field carries the payload length: `7-bit`, `16-bit` or `64-bit`.
pub fn length_field(encoding: LengthEncoding) -> &'static str {
    match encoding {
        LengthEncoding::Bits7 => "7-bit",
        LengthEncoding::Bits16 => "16-bit",
        LengthEncoding::Bits64 => "64-bit",
    }
}

/// Bytes as lowercase hex pairs separated by spaces: `48 65 6c`.
pub fn hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

/// Bytes as lowercase hex without separators: `37fa213d`.
pub fn hex_compact(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes as a quoted string if they are UTF-8 (a character cut off at
/// the end is allowed: the payload continues), else as [`ascii_preview`].
pub fn text_preview(bytes: &[u8]) -> String {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return ascii_preview(bytes),
    };
    format!("\"{}\"", valid.escape_debug())
}

/// The bytes as printable ASCII with `.` for anything else, between bars,
/// as `hexdump -C` shows them: `|.PNG....|`.
pub fn ascii_preview(bytes: &[u8]) -> String {
    let chars: String = bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    format!("|{chars}|")
}

/// What a Close frame's payload says: the code and its meaning and the
/// reason, or why it is invalid (§5.5.1, §7.4).
pub fn close_summary(payload: &[u8]) -> String {
    match CloseFrame::decode(payload) {
        Ok(None) => "no status code (the receiver reports 1005)".to_owned(),
        Ok(Some(CloseFrame { code, reason })) if reason.is_empty() => {
            format!("{} {}", code.0, code.meaning())
        }
        Ok(Some(CloseFrame { code, reason })) => {
            format!(
                "{} {}, reason \"{}\"",
                code.0,
                code.meaning(),
                reason.escape_debug()
            )
        }
        Err(e) => match payload {
            [hi, lo, ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                format!("{} {}: invalid, {e}", code.0, code.meaning())
            }
            _ => format!("invalid: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(direction: Direction, header: FrameHeader, payload_start: &[u8]) -> String {
        FrameEvent {
            direction,
            header,
            payload_start,
        }
        .to_string()
    }

    fn header(opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    #[test]
    fn rfc6455_5_7_masked_hello_as_a_trace_line() {
        let h = header(OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        assert_eq!(
            line(Direction::Sent, h, b"Hello"),
            "> text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=37fa213d len=5 (7-bit) \
             payload: 48 65 6c 6c 6f \"Hello\""
        );
    }

    #[test]
    fn close_line_names_the_code() {
        let h = header(OpCode::Close, None, 5);
        assert_eq!(
            line(Direction::Received, h, &[0x03, 0xe8, b'b', b'y', b'e']),
            "< close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 len=5 (7-bit) \
             payload: 03 e8 62 79 65 = 1000 normal closure, reason \"bye\""
        );
        assert_eq!(
            line(Direction::Received, header(OpCode::Close, None, 0), &[]),
            "< close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 len=0 (7-bit)"
        );
    }

    #[test]
    fn long_payload_shows_its_length_field_and_first_bytes() {
        let h = header(OpCode::Binary, None, 65536);
        let start: Vec<u8> = (0..125).collect();
        assert_eq!(
            line(Direction::Received, h, &start),
            "< binary FIN=1 RSV1-3=000 opcode=0x2 MASK=0 len=65536 (64-bit) \
             payload: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … (first 16 of 65536) \
             |................|"
        );
        let h = header(OpCode::Text, None, 256);
        assert!(
            line(Direction::Received, h, b"ab")
                .contains("len=256 (16-bit) payload: 61 62 … (first 2 of 256) \"ab\"")
        );
    }

    #[test]
    fn text_preview_allows_a_character_cut_at_the_end() {
        assert_eq!(text_preview("κό".as_bytes()), "\"κό\"");
        assert_eq!(text_preview(&"κό".as_bytes()[..3]), "\"κ\"");
        assert_eq!(text_preview(b"a\nb"), "\"a\\nb\"");
        assert_eq!(text_preview(&[0xff, b'a']), "|.a|");
    }

    #[test]
    fn close_summary_explains_invalid_payloads() {
        assert_eq!(
            close_summary(&[0x03]),
            "invalid: close payload of one byte (RFC 6455 §5.5.1)"
        );
        assert_eq!(
            close_summary(&1005u16.to_be_bytes()),
            "1005 no status received: invalid, invalid close code 1005 (RFC 6455 §7.4.1)"
        );
    }

    #[test]
    fn opcode_names_include_reserved_ones() {
        assert_eq!(opcode_name(0x1), "text");
        assert_eq!(opcode_name(0x3), "reserved for further non-control frames");
        assert_eq!(opcode_name(0xB), "reserved for further control frames");
    }

    #[test]
    fn http_lines_prefix_each_line() {
        assert_eq!(
            http_lines(
                "peer ",
                Direction::Received,
                b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
            ),
            "peer < GET / HTTP/1.1\npeer < Host: h\npeer < \n"
        );
    }
}
