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
//! A message sent or received compressed (permessage-deflate, RSV1 set on
//! its first frame) is shown once more, whole, as a [`CompressedMessage`]:
//! its size on the wire beside its size inflated, and the start of the text.
//! A sent one is shown before its frame, a received one after its last:
//!
//! ```text
//! > compressed text message (RSV1): 256 bytes inflated, 32 on the wire (12.5 %): "the same words a"
//! > text FIN=1 RSV1-3=100 opcode=0x1 MASK=1 key=488a30ef len=32 (7-bit) payload: 2a c9 48 55 28 4e cc 4d 55 28 cf 2f 4a 29 56 48 … (first 16 of 32) |*.HU(N.MU(./J)VH|
//! ```
//!
//! The words beside each field are the ones `ws6455 decode` uses when it
//! explains a frame byte by byte.
//!
//! [`WebSocket::set_trace`]: crate::WebSocket::set_trace

use std::fmt;

use crate::annotate::{ascii_preview, close_summary, hex, hex_compact, length_field, text_preview};
use crate::frame::{FrameHeader, OpCode};

/// How many payload bytes a trace line shows.
const PREVIEW_LEN: usize = 16;

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

/// What a trace shows: each frame, and each compressed message whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceEvent<'a> {
    /// A frame sent or received.
    Frame(FrameEvent<'a>),
    /// A message sent or received compressed.
    Compressed(CompressedMessage<'a>),
}

impl fmt::Display for TraceEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Frame(frame) => frame.fmt(f),
            TraceEvent::Compressed(message) => message.fmt(f),
        }
    }
}

/// A data message sent or received compressed by permessage-deflate
/// (RFC 7692 §6: RSV1 on its first frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressedMessage<'a> {
    /// Which way it went.
    pub direction: Direction,
    /// [`OpCode::Text`] or [`OpCode::Binary`].
    pub opcode: OpCode,
    /// The payload bytes on the wire, across all its frames.
    pub wire_len: u64,
    /// The message's length inflated: what the application sent or received.
    pub len: u64,
    /// The start of the message inflated.
    pub start: &'a [u8],
}

impl fmt::Display for CompressedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} compressed {} message (RSV1): {} bytes inflated, {} on the wire",
            self.direction.arrow(),
            self.opcode,
            self.len,
            self.wire_len,
        )?;
        if self.len > 0 {
            write!(
                f,
                " ({:.1} %)",
                self.wire_len as f64 * 100.0 / self.len as f64
            )?;
        }
        if self.start.is_empty() {
            return Ok(());
        }
        let shown = &self.start[..self.start.len().min(PREVIEW_LEN)];
        match self.opcode {
            OpCode::Text => write!(f, ": {}", text_preview(shown)),
            _ => write!(f, ": {}", ascii_preview(shown)),
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
        // A data frame with an extension's bits carries the extension's
        // form of the payload (compressed), not text.
        let transformed = h.rsv != 0 && !h.opcode.is_control();
        match h.opcode {
            OpCode::Close => write!(f, " = {}", close_summary(self.payload_start)),
            OpCode::Binary => write!(f, " {}", ascii_preview(shown)),
            _ if transformed => write!(f, " {}", ascii_preview(shown)),
            _ => write!(f, " {}", text_preview(shown)),
        }
    }
}

/// An observer that prints each event's line to stderr after `prefix` (e.g.
/// the peer's address), for [`WebSocket::set_trace`].
///
/// [`WebSocket::set_trace`]: crate::WebSocket::set_trace
pub fn print_to_stderr(prefix: String) -> impl FnMut(&TraceEvent<'_>) + Send + Sync + 'static {
    move |event| log_line!("{prefix}{event}")
}

/// An HTTP head (and body, if any) as text, one line per line after `prefix`
/// and the direction's arrow: the opening handshake in a trace.
pub(crate) fn http_lines(prefix: &str, direction: Direction, wire: &[u8]) -> String {
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
    fn rfc7692_6_compressed_message_shows_both_sizes() {
        let message = CompressedMessage {
            direction: Direction::Received,
            opcode: OpCode::Text,
            wire_len: 7,
            len: 5,
            start: b"Hello",
        };
        assert_eq!(
            message.to_string(),
            "< compressed text message (RSV1): 5 bytes inflated, 7 on the wire (140.0 %): \"Hello\""
        );
        let mut h = header(OpCode::Text, None, 7);
        h.rsv = 0b100;
        assert_eq!(
            line(
                Direction::Received,
                h,
                &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            ),
            "< text FIN=1 RSV1-3=100 opcode=0x1 MASK=0 len=7 (7-bit) \
             payload: f2 48 cd c9 c9 07 00 |.H.....|"
        );
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
