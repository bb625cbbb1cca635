//! The Close frame's payload (RFC 6455 §5.5.1): either empty, or a two-byte
//! status code in network byte order followed by a UTF-8 reason.

use crate::proto::close::CloseCode;
use crate::proto::error::ProtocolError;
use crate::proto::frame::MAX_CONTROL_PAYLOAD;

/// The longest close reason that fits beside the two-byte code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// The payload of a Close frame that carried a status code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, always one that is valid on the wire.
    pub code: CloseCode,
    /// The reason, at most [`MAX_CLOSE_REASON`] bytes of UTF-8.
    pub reason: String,
}

impl CloseFrame {
    /// Decodes a Close frame's (already unmasked) payload.
    ///
    /// An empty payload means "no status code" and decodes to `None`.
    pub fn decode(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        match payload {
            [] => Ok(None),
            // RFC 6455 §5.5.1: if there is a body, its first two bytes MUST
            // be the status code; one byte cannot be one.
            [_] => Err(ProtocolError::ClosePayloadOneByte),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                // RFC 6455 §7.4.1: codes that are reserved or MUST NOT be sent
                // in a Close frame fail the connection when received.
                if !code.is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                // RFC 6455 §5.5.1: the reason "is not guaranteed to be human
                // readable" but its data MUST be UTF-8; §8.1 makes invalid
                // UTF-8 a failure.
                let reason = std::str::from_utf8(reason)
                    .map_err(|_| ProtocolError::CloseReasonNotUtf8)?
                    .to_owned();
                Ok(Some(CloseFrame { code, reason }))
            }
        }
    }

    /// Appends this Close frame's payload (code and reason) to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.code.0.to_be_bytes());
        dst.extend_from_slice(self.reason.as_bytes());
    }

    /// The payload's length on the wire.
    pub fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }
}

/// Cuts `reason` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_reason(reason: &str, max: usize) -> &str {
    if reason.len() <= max {
        return reason;
    }
    let mut end = max;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc6455_5_5_1_empty_close_payload_has_no_code() {
        assert_eq!(CloseFrame::decode(&[]), Ok(None));
    }

    #[test]
    fn rfc6455_5_5_1_one_byte_close_payload_is_an_error() {
        assert_eq!(
            CloseFrame::decode(&[3]),
            Err(ProtocolError::ClosePayloadOneByte)
        );
    }

    #[test]
    fn rfc6455_7_4_1_reserved_close_code_is_an_error() {
        assert_eq!(
            CloseFrame::decode(&1005u16.to_be_bytes()),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
    }

    #[test]
    fn rfc6455_5_5_1_close_reason_must_be_utf8() {
        assert_eq!(
            CloseFrame::decode(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::CloseReasonNotUtf8)
        );
    }

    #[test]
    fn truncate_reason_keeps_char_boundaries() {
        assert_eq!(truncate_reason("héllo", 2), "h");
        assert_eq!(truncate_reason("héllo", 3), "hé");
        assert_eq!(truncate_reason("abc", 10), "abc");
    }

    proptest! {
        #[test]
        fn close_payload_round_trip(code in prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999],
                                    reason in "\\PC{0,30}") {
            let reason = truncate_reason(&reason, MAX_CLOSE_REASON).to_owned();
            let frame = CloseFrame { code: CloseCode(code), reason };
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            prop_assert_eq!(wire.len(), frame.encoded_len());
            prop_assert_eq!(CloseFrame::decode(&wire), Ok(Some(frame)));
        }

        #[test]
        fn close_decode_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..130)) {
            let _ = CloseFrame::decode(&payload);
        }
    }
}
