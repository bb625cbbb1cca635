//! The words a person reads beside a frame's fields: its length field, its
//! payload as hex and as text, and what a Close payload says.

use crate::proto::LengthEncoding;
use crate::proto::close::CloseCode;
use crate::proto::close_frame::CloseFrame;

/// Which field carries the payload length: `7-bit`, `16-bit` or `64-bit`.
pub(crate) fn length_field(encoding: LengthEncoding) -> &'static str {
    match encoding {
        LengthEncoding::Bits7 => "7-bit",
        LengthEncoding::Bits16 => "16-bit",
        LengthEncoding::Bits64 => "64-bit",
    }
}

/// Bytes as lowercase hex pairs separated by spaces: `48 65 6c`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

/// Bytes as lowercase hex without separators: `37fa213d`.
pub(crate) fn hex_compact(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes as a quoted string if they are UTF-8 (a character cut off at
/// the end is allowed: the payload continues), else as [`ascii_preview`].
pub(crate) fn text_preview(bytes: &[u8]) -> String {
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
pub(crate) fn ascii_preview(bytes: &[u8]) -> String {
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
pub(crate) fn close_summary(payload: &[u8]) -> String {
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
}
