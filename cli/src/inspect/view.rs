//! The live view: each event as the lines a person reads, the same live
//! and from a recording (`--replay`). A frame's line is the `--trace`
//! line, marked with its connection and direction:
//!
//! ```text
//! #1 client → server  text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=37fa213d len=5 (7-bit) payload: 7f 9f 4d 51 58 = 48 65 6c 6c 6f unmasked "Hello"
//! #1 client → server  message: text, 5 bytes in 1 frame: "Hello"
//! #1 VIOLATION by the client: RFC 6455 §5.1: unmasked frame from a client; a strict server closes with 1002
//! ```

use std::fmt::Write as _;

use ws6455::proto::apply_mask;

use super::event::{
    Connection, End, Event, Frame, Handshake, MessageSeen, MessageType, Side, Violation,
};
use crate::annotate::{ascii_preview, close_summary, hex, hex_compact, text_preview};

/// How many payload bytes a frame's line shows, as `--trace` does.
const PREVIEW_LEN: usize = 16;

/// How many bytes of a message its line shows.
const MESSAGE_PREVIEW_LEN: usize = 64;

/// Which events the view prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Everything.
    Full,
    /// Connections, violations and ends only (`--quiet`).
    Quiet,
}

impl Detail {
    /// Whether events of this kind are shown.
    pub(crate) fn shows(self, event: &Event) -> bool {
        match event {
            Event::Connection(_) | Event::Violation(_) | Event::End(_) | Event::Dropped(_) => true,
            Event::Handshake(_) | Event::Frame(_) | Event::Message(_) => self == Detail::Full,
        }
    }
}

/// The direction of what `from` sent.
fn direction(from: Side) -> &'static str {
    match from {
        Side::Client => "client → server",
        Side::Server => "server → client",
    }
}

/// The event's lines, each ending in a newline.
pub(crate) fn lines(event: &Event) -> String {
    let mut out = String::new();
    match event {
        Event::Connection(Connection {
            conn,
            client,
            upstream,
            ..
        }) => {
            let _ = writeln!(
                out,
                "#{conn} connection from {client}, relayed to {upstream}"
            );
        }
        Event::Handshake(handshake) => handshake_lines(&mut out, handshake),
        Event::Frame(frame) => {
            let _ = writeln!(
                out,
                "#{} {}  {}",
                frame.conn,
                direction(frame.from),
                frame_line(frame)
            );
        }
        Event::Message(message) => {
            let _ = writeln!(
                out,
                "#{} {}  message: {}",
                message.conn,
                direction(message.from),
                message_line(message)
            );
        }
        Event::Violation(violation) => {
            let _ = writeln!(out, "{}", violation_line(violation));
        }
        Event::End(End { conn, how, .. }) => {
            let _ = writeln!(out, "#{conn} end: {how}");
        }
        Event::Dropped(dropped) => {
            let _ = writeln!(
                out,
                "(this view fell behind and dropped {} events)",
                dropped.count
            );
        }
    }
    out
}

fn handshake_lines(out: &mut String, handshake: &Handshake) {
    let conn = handshake.conn;
    let request = &handshake.request;
    let to_server = direction(Side::Client);
    let _ = write!(out, "#{conn} {to_server}  {}", request.line);
    if request.forwarded_line != request.line {
        let _ = write!(out, "  (forwarded as {})", request.forwarded_line);
    }
    out.push('\n');
    for (name, value) in &request.headers {
        let _ = write!(out, "#{conn} {to_server}  {name}: {value}");
        if name.eq_ignore_ascii_case("host") {
            let _ = write!(out, "  (forwarded as {})", request.forwarded_host);
        }
        out.push('\n');
    }
    let to_client = direction(Side::Server);
    match &handshake.response {
        Some(response) => {
            let _ = writeln!(out, "#{conn} {to_client}  {}", response.line);
            for (name, value) in &response.headers {
                let _ = writeln!(out, "#{conn} {to_client}  {name}: {value}");
            }
        }
        None => {
            let _ = writeln!(out, "#{conn} {to_client}  (no response)");
        }
    }
    if handshake.response.as_ref().is_some_and(|r| r.status == 101) {
        let subprotocol = match &handshake.subprotocol {
            Some(name) => format!("subprotocol {name}"),
            None => "no subprotocol".to_owned(),
        };
        let deflate = match &handshake.deflate {
            Some(d) => format!(
                "permessage-deflate: the client's window {} bits{}, the server's {} bits{}",
                d.client_max_window_bits,
                if d.client_no_context_takeover {
                    " without context takeover"
                } else {
                    " with context takeover"
                },
                d.server_max_window_bits,
                if d.server_no_context_takeover {
                    " without context takeover"
                } else {
                    " with context takeover"
                },
            ),
            None => "no permessage-deflate".to_owned(),
        };
        let _ = writeln!(out, "#{conn} agreed: {subprotocol}, {deflate}");
    }
}

/// The opcode's name, reserved ones too (RFC 6455 §5.2, §11.8).
pub(crate) fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0x0 => "continuation",
        0x1 => "text",
        0x2 => "binary",
        0x8 => "close",
        0x9 => "ping",
        0xA => "pong",
        0x3..=0x7 => "reserved non-control",
        _ => "reserved control",
    }
}

/// A frame as `--trace` shows it: the header's fields, then the payload's
/// first bytes as sent and, if masked, unmasked.
fn frame_line(frame: &Frame) -> String {
    let rsv = u8::from(frame.rsv1) << 2 | u8::from(frame.rsv2) << 1 | u8::from(frame.rsv3);
    let mut line = format!(
        "{} FIN={} RSV1-3={rsv:03b} opcode={:#x} MASK={}",
        opcode_name(frame.opcode),
        u8::from(frame.fin),
        frame.opcode,
        u8::from(frame.masked),
    );
    if let Some(key) = frame.key {
        let _ = write!(line, " key={}", hex_compact(&key));
    }
    let _ = write!(line, " len={} ({})", frame.length, frame.length_field);
    if frame.length == 0 {
        return line;
    }
    let sent = &frame.payload_hex[..frame.payload_hex.len().min(PREVIEW_LEN)];
    let mut payload = sent.to_vec();
    let _ = write!(line, " payload: {}", hex(sent));
    if let Some(key) = frame.key {
        apply_mask(&mut payload, key, 0);
        let _ = write!(line, " = {} unmasked", hex(&payload));
    }
    if (payload.len() as u64) < frame.length {
        let _ = write!(line, " … (first {} of {})", payload.len(), frame.length);
    }
    // A data frame with an extension's bits carries the extension's form
    // of the payload (compressed), not text.
    let transformed = frame.rsv1 || frame.rsv2 || frame.rsv3;
    match frame.opcode {
        0x8 => {
            let mut whole = frame.payload_hex.clone();
            if let Some(key) = frame.key {
                apply_mask(&mut whole, key, 0);
            }
            let _ = write!(line, " = {}", close_summary(&whole));
        }
        0x2 => {
            let _ = write!(line, " {}", ascii_preview(&payload));
        }
        _ if transformed => {
            let _ = write!(line, " {}", ascii_preview(&payload));
        }
        _ => {
            let _ = write!(line, " {}", text_preview(&payload));
        }
    }
    line
}

fn frames(n: u64) -> String {
    match n {
        1 => "1 frame".to_owned(),
        n => format!("{n} frames"),
    }
}

/// A message whole: its kind, its sizes, and its start.
fn message_line(message: &MessageSeen) -> String {
    let kind = match message.message_type {
        MessageType::Text => "text",
        MessageType::Binary => "binary",
        MessageType::Ping => "ping",
        MessageType::Pong => "pong",
        MessageType::Close => "close",
    };
    let mut line = kind.to_owned();
    if message.compressed {
        let _ = write!(
            line,
            ", compressed (RSV1): {} bytes on the wire in {}, {} inflated",
            message.wire_length,
            frames(message.frames),
            message.length
        );
        if message.length > 0 {
            let _ = write!(
                line,
                " ({:.1} %)",
                message.wire_length as f64 * 100.0 / message.length as f64
            );
        }
    } else {
        let _ = write!(
            line,
            ", {} bytes in {}",
            message.length,
            frames(message.frames)
        );
    }
    match (&message.text, &message.data_hex, message.close_code) {
        (reason, _, Some(code)) => {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(reason.as_deref().unwrap_or_default().as_bytes());
            let _ = write!(line, ": {}", close_summary(&payload));
        }
        (_, _, None) if message.message_type == MessageType::Close => {
            let _ = write!(line, ": {}", close_summary(&[]));
        }
        (Some(text), _, None) => {
            let end = char_boundary_at_most(text, MESSAGE_PREVIEW_LEN);
            let _ = write!(line, ": {}", text_preview(&text.as_bytes()[..end]));
            if end < text.len() || message.truncated {
                line.push_str(" …");
            }
        }
        (None, Some(data), None) if !data.is_empty() => {
            let shown = &data[..data.len().min(MESSAGE_PREVIEW_LEN)];
            let _ = write!(line, ": {}", ascii_preview(shown));
            if shown.len() < data.len() || message.truncated {
                line.push_str(" …");
            }
        }
        _ => {}
    }
    line
}

/// The largest character boundary of `text` at or before `at`.
fn char_boundary_at_most(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// A violation: who, which rule, and what a strict receiver does.
fn violation_line(violation: &Violation) -> String {
    let receiver = violation.by.other().name();
    let consequence = match (violation.close_code, violation.status) {
        (Some(code), _) => format!("a strict {receiver} closes with {code}"),
        (None, Some(status)) => format!("a strict {receiver} refuses it with {status}"),
        // The opening handshake's rules (§4) fail the connection before
        // it is open; a frame's, a receiver that has its Close already
        // ignores (§5.5.1).
        (None, None) if violation.rfc.contains("§4") => {
            format!("a strict {receiver} fails the connection")
        }
        (None, None) => format!("a strict {receiver} reads no further"),
    };
    // The library's messages end by citing the section, shown first here.
    let cited = format!(" ({})", violation.rfc);
    let what = violation
        .what
        .strip_suffix(&cited)
        .unwrap_or(&violation.what);
    format!(
        "#{} VIOLATION by the {}: {}: {what}; {consequence}",
        violation.conn,
        violation.by.name(),
        violation.rfc,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masked_hello_of_5_7_reads_as_the_trace_line() {
        let frame = Event::Frame(Frame {
            conn: 1,
            from: Side::Client,
            t: 0.0,
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: 1,
            masked: true,
            key: Some([0x37, 0xfa, 0x21, 0x3d]),
            length: 5,
            length_field: "7-bit".to_owned(),
            header_hex: vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
            payload_hex: vec![0x7f, 0x9f, 0x4d, 0x51, 0x58],
            payload_shown: 5,
        });
        assert_eq!(
            lines(&frame),
            "#1 client → server  text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=37fa213d \
             len=5 (7-bit) payload: 7f 9f 4d 51 58 = 48 65 6c 6c 6f unmasked \"Hello\"\n"
        );
    }

    #[test]
    fn a_violation_says_what_a_strict_receiver_does() {
        let violation = Event::Violation(Violation {
            conn: 3,
            t: 0.0,
            by: Side::Client,
            rfc: "RFC 6455 §5.1".to_owned(),
            close_code: Some(1002),
            status: None,
            what: "unmasked frame".to_owned(),
        });
        assert_eq!(
            lines(&violation),
            "#3 VIOLATION by the client: RFC 6455 §5.1: unmasked frame; a strict server closes with 1002\n"
        );
    }
}
