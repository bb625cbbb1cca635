//! Watching the protocol happen, as text: how a [`TraceEvent`] reads as
//! one line, and the observer that sends those lines, and each opening
//! handshake, to the `log` facade.
//!
//! A frame's line is the one `ws6455 --trace` prints, `>` for a frame sent
//! and `<` for one received:
//!
//! ```text
//! > text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=37fa213d len=5 (7-bit) payload: 48 65 6c 6c 6f "Hello"
//! < close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 len=2 (7-bit) payload: 03 e8 = 1000 normal closure
//! ```
//!
//! A message sent or received compressed (permessage-deflate, RSV1 set on
//! its first frame) is shown once more, whole: its size on the wire beside
//! its size inflated, and the start of the text. A sent one is shown before
//! its frame, a received one after its last:
//!
//! ```text
//! > compressed text message (RSV1): 256 bytes inflated, 32 on the wire (12.5 %): "the same words a"
//! > text FIN=1 RSV1-3=100 opcode=0x1 MASK=1 key=488a30ef len=32 (7-bit) payload: 2a c9 48 55 28 4e cc 4d 55 28 cf 2f 4a 29 56 48 … (first 16 of 32) |*.HU(N.MU(./J)VH|
//! ```
//!
//! Connections trace themselves when the application's logger takes
//! [`log::Level::Trace`] records for the target [`TARGET`] (`ws6455::trace`):
//! each line is one record, after the peer's address on a server. Nothing
//! is spent on tracing otherwise.

mod annotate;

use std::fmt;

use crate::proto::{CompressedMessage, Direction, FrameEvent, FrameHeader, OpCode, TraceEvent};
use annotate::{ascii_preview, close_summary, hex, hex_compact, length_field, text_preview};

/// The `log` target of trace lines.
pub(crate) const TARGET: &str = "ws6455::trace";

/// How many payload bytes a trace line shows.
const PREVIEW_LEN: usize = 16;

/// `>` for sent, `<` for received, as `curl -v` writes them.
fn arrow(direction: Direction) -> &'static str {
    match direction {
        Direction::Sent => ">",
        Direction::Received => "<",
    }
}

impl fmt::Display for TraceEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Frame(frame) => frame.fmt(f),
            TraceEvent::Compressed(message) => message.fmt(f),
        }
    }
}

impl fmt::Display for CompressedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} compressed {} message (RSV1): {} bytes inflated, {} on the wire",
            arrow(self.direction),
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

impl fmt::Display for FrameEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        write!(
            f,
            "{} {} FIN={} RSV1-3={:03b} opcode={:#x} MASK={}",
            arrow(self.direction),
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

/// Whether the application's logger takes trace lines: connections opened
/// now trace themselves.
pub(crate) fn enabled() -> bool {
    log::log_enabled!(target: TARGET, log::Level::Trace)
}

/// An observer that logs each event's line after `prefix` (the peer's
/// address on a server), for [`Engine::set_trace`](crate::Engine::set_trace).
pub(crate) fn to_log(prefix: String) -> impl FnMut(&TraceEvent<'_>) + Send + 'static {
    move |event| log::trace!(target: TARGET, "{prefix}{event}")
}

/// Logs an opening handshake's request or response, a record per line
/// after `prefix` and the direction's arrow.
pub(crate) fn http(prefix: &str, direction: Direction, wire: &[u8]) {
    if enabled() {
        for line in http_lines(prefix, direction, wire).lines() {
            log::trace!(target: TARGET, "{line}");
        }
    }
}

/// An HTTP head (and body, if any) as text, one line per line after `prefix`
/// and the direction's arrow: the opening handshake in a trace.
fn http_lines(prefix: &str, direction: Direction, wire: &[u8]) -> String {
    let text = String::from_utf8_lossy(wire);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let mut lines = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        lines.push_str(&format!(
            "{prefix}{} {}\n",
            arrow(direction),
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
