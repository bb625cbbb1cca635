//! The protocol layer's errors, split by who is at fault: the peer's
//! ([`ProtocolError`], RFC 6455 §5, §7, §8, §10.4: every way received bytes
//! can break the protocol or our limits, each with the close code that
//! fails the connection), and the caller's ([`UsageError`]: something the
//! protocol does not allow was asked of us; nothing was sent).

use std::fmt;

use crate::proto::close::CloseCode;
use crate::proto::opcode::OpCode;

/// The peer broke RFC 6455 or exceeded one of our limits. Each variant fails
/// the connection (§7.1.7) with the close code [`ProtocolError::close_code`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// §5.2: RSV1–3 set (the bits, as `0b0RRR`) with no extension negotiated
    /// that defines them.
    ReservedBitsSet(u8),
    /// RFC 7692 §6: a negotiated per-message extension's bits on a frame
    /// other than the first of a data message.
    ExtensionBitsNotOnFirstFrame {
        /// The bits, as `0b0RRR`.
        bits: u8,
        /// The frame's opcode: a continuation or a control frame.
        opcode: OpCode,
    },
    /// §5.2: opcodes 3–7 and 11–15 are reserved.
    ReservedOpcode(u8),
    /// §5.2: the most significant bit of a 64-bit payload length MUST be 0.
    PayloadLengthTopBitSet,
    /// §5.2: a length in a longer field than needed ("the minimal number of
    /// bytes MUST be used").
    NonMinimalLength(u64),
    /// §5.5: control frames MUST NOT be fragmented.
    FragmentedControlFrame(OpCode),
    /// §5.5: control frames carry at most 125 bytes of payload.
    ControlFrameTooLong(OpCode, u64),
    /// §5.1: a server MUST close the connection on an unmasked client frame.
    UnmaskedClientFrame,
    /// §5.1: a client MUST close the connection on a masked server frame.
    MaskedServerFrame,
    /// §5.4: a continuation frame arrived with no fragmented message open.
    ContinuationWithoutMessage,
    /// §5.4: a new text or binary frame arrived inside a fragmented message.
    DataFrameInsideMessage(OpCode),
    /// §8.1: a text message's payload is not valid UTF-8.
    InvalidUtf8,
    /// §5.5.1: a Close payload of one byte cannot hold a status code.
    ClosePayloadOneByte,
    /// §7.4.1: a close code that is reserved or MUST NOT be sent.
    InvalidCloseCode(u16),
    /// §5.5.1: the close reason is not valid UTF-8.
    CloseReasonNotUtf8,
    /// RFC 7692 §7.2.2: a compressed message's payload is not valid DEFLATE
    /// data (or does not end where a sync flush ends).
    InvalidCompressedData,
    /// §10.4: a frame's announced length exceeds our frame limit.
    FrameTooLarge {
        /// The length the frame header announced.
        len: u64,
        /// The configured limit.
        max: u64,
    },
    /// §10.4: a message (all fragments so far) would exceed our message limit.
    MessageTooLarge {
        /// The message's length with this frame added.
        len: u64,
        /// The configured limit.
        max: u64,
    },
}

impl ProtocolError {
    /// The close code this error sends before the connection closes.
    pub fn close_code(&self) -> CloseCode {
        match self {
            // RFC 6455 §7.4.1: 1007 is for "data within a message that was
            // not consistent with the type of the message": text that is not
            // UTF-8, and a compressed message that does not inflate.
            ProtocolError::InvalidUtf8
            | ProtocolError::CloseReasonNotUtf8
            | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::ReservedBitsSet(_)
            | ProtocolError::ExtensionBitsNotOnFirstFrame { .. }
            | ProtocolError::ReservedOpcode(_)
            | ProtocolError::PayloadLengthTopBitSet
            | ProtocolError::NonMinimalLength(_)
            | ProtocolError::FragmentedControlFrame(_)
            | ProtocolError::ControlFrameTooLong(..)
            | ProtocolError::UnmaskedClientFrame
            | ProtocolError::MaskedServerFrame
            | ProtocolError::ContinuationWithoutMessage
            | ProtocolError::DataFrameInsideMessage(_)
            | ProtocolError::ClosePayloadOneByte
            | ProtocolError::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The RFC and section that make this an error, e.g. `RFC 6455 §5.2`.
    pub fn rfc_section(&self) -> &'static str {
        match self {
            ProtocolError::ReservedBitsSet(_)
            | ProtocolError::ReservedOpcode(_)
            | ProtocolError::PayloadLengthTopBitSet
            | ProtocolError::NonMinimalLength(_) => "RFC 6455 §5.2",
            ProtocolError::FragmentedControlFrame(_) | ProtocolError::ControlFrameTooLong(..) => {
                "RFC 6455 §5.5"
            }
            ProtocolError::UnmaskedClientFrame | ProtocolError::MaskedServerFrame => {
                "RFC 6455 §5.1"
            }
            ProtocolError::ContinuationWithoutMessage
            | ProtocolError::DataFrameInsideMessage(_) => "RFC 6455 §5.4",
            ProtocolError::InvalidUtf8 => "RFC 6455 §8.1",
            ProtocolError::ClosePayloadOneByte | ProtocolError::CloseReasonNotUtf8 => {
                "RFC 6455 §5.5.1"
            }
            ProtocolError::InvalidCloseCode(_) => "RFC 6455 §7.4.1",
            ProtocolError::InvalidCompressedData => "RFC 7692 §7.2.2",
            ProtocolError::ExtensionBitsNotOnFirstFrame { .. } => "RFC 7692 §6",
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                "RFC 6455 §10.4"
            }
        }
    }
}

/// The RSV bits set in `bits` (`0b0RRR`), by name: `RSV2 and RSV3`.
fn rsv_names(bits: u8) -> String {
    let names: Vec<&str> = [(0b100, "RSV1"), (0b010, "RSV2"), (0b001, "RSV3")]
        .into_iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| name)
        .collect();
    names.join(" and ")
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBitsSet(bits) => {
                write!(f, "{} set but no extension negotiated", rsv_names(*bits))
            }
            ProtocolError::ExtensionBitsNotOnFirstFrame { bits, opcode } => write!(
                f,
                "{} set on a {opcode} frame: the extension marks the first frame of a message only",
                rsv_names(*bits)
            ),
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::PayloadLengthTopBitSet => {
                f.write_str("most significant bit of 64-bit payload length set")
            }
            ProtocolError::NonMinimalLength(len) => {
                write!(f, "length {len} not in the shortest encoding")
            }
            ProtocolError::FragmentedControlFrame(op) => write!(f, "fragmented {op} frame"),
            ProtocolError::ControlFrameTooLong(op, len) => {
                write!(f, "{op} frame payload of {len} bytes exceeds 125")
            }
            ProtocolError::UnmaskedClientFrame => f.write_str("client frame not masked"),
            ProtocolError::MaskedServerFrame => f.write_str("server frame masked"),
            ProtocolError::ContinuationWithoutMessage => {
                f.write_str("continuation frame with no message to continue")
            }
            ProtocolError::DataFrameInsideMessage(op) => {
                write!(f, "{op} frame inside an unfinished fragmented message")
            }
            ProtocolError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            ProtocolError::ClosePayloadOneByte => f.write_str("close payload of one byte"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            ProtocolError::CloseReasonNotUtf8 => f.write_str("close reason is not valid UTF-8"),
            ProtocolError::InvalidCompressedData => {
                f.write_str("compressed message is not valid DEFLATE data")
            }
            ProtocolError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            ProtocolError::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
        }?;
        write!(f, " ({})", self.rfc_section())
    }
}

impl std::error::Error for ProtocolError {}

/// The caller asked for something the protocol does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// §5.5: a ping, pong or close payload over 125 bytes.
    ControlPayloadTooLong(usize),
    /// §7.4.1: the caller tried to send a code that is not valid on the wire.
    InvalidCloseCode(u16),
    /// §5.5.1: after sending a Close frame, no more data frames may be sent.
    SendAfterClose,
    /// §5.4: a data message was sent while another, sent in pieces, was
    /// unfinished (its fragments may not be interleaved with another's).
    MessageUnfinished,
    /// §5.6: a piece of a text message sent in pieces that makes its
    /// payload invalid UTF-8; it was not sent.
    InvalidUtf8Sent,
    /// §4.2.2: the server chose a subprotocol the client did not offer.
    SubprotocolNotOffered(String),
    /// §4.1 item 10: a subprotocol to offer must be a token (printable ASCII,
    /// no separators).
    InvalidSubprotocol(String),
    /// §4.1 item 10: the subprotocols offered "MUST all be unique strings".
    DuplicateSubprotocol(String),
    /// An extra header field whose name is not a token or whose value holds
    /// control characters.
    InvalidHeader(String),
    /// An extra header field that the opening handshake sets itself (or, for
    /// `Sec-WebSocket-Extensions`, one for extensions this crate lacks).
    ReservedHeader(String),
    /// A `wss://` URI, but this build of the crate has no TLS (the feature
    /// `tls` is off).
    TlsNotBuilt,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::ControlPayloadTooLong(len) => {
                write!(
                    f,
                    "control frame payload of {len} bytes exceeds 125 (RFC 6455 §5.5)"
                )
            }
            UsageError::InvalidCloseCode(code) => {
                write!(f, "close code {code} may not be sent (RFC 6455 §7.4.1)")
            }
            UsageError::SendAfterClose => {
                f.write_str("cannot send after a Close frame (RFC 6455 §5.5.1)")
            }
            UsageError::MessageUnfinished => f.write_str(
                "cannot send a data message while another sent in pieces is unfinished \
                 (RFC 6455 §5.4)",
            ),
            UsageError::InvalidUtf8Sent => f.write_str(
                "a piece of a text message makes it invalid UTF-8 (RFC 6455 §5.6); \
                 it was not sent",
            ),
            UsageError::SubprotocolNotOffered(p) => {
                write!(
                    f,
                    "subprotocol {p:?} was not offered by the client (RFC 6455 §4.2.2)"
                )
            }
            UsageError::InvalidSubprotocol(p) => write!(
                f,
                "subprotocol {p:?} is not a token: printable ASCII without separators (RFC 6455 §4.1)"
            ),
            UsageError::DuplicateSubprotocol(p) => {
                write!(f, "subprotocol {p:?} is offered twice (RFC 6455 §4.1)")
            }
            UsageError::InvalidHeader(name) => write!(
                f,
                "header {name:?} is not a valid HTTP header field (a token name, a value without control characters)"
            ),
            UsageError::ReservedHeader(name) => {
                write!(f, "header {name:?} is set by the opening handshake itself")
            }
            UsageError::TlsNotBuilt => {
                f.write_str("wss:// needs TLS, which this build leaves out (the feature `tls`)")
            }
        }
    }
}

impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bits_are_named() {
        assert_eq!(
            ProtocolError::ReservedBitsSet(0b100).to_string(),
            "RSV1 set but no extension negotiated (RFC 6455 §5.2)"
        );
        assert_eq!(
            ProtocolError::ReservedBitsSet(0b011).to_string(),
            "RSV2 and RSV3 set but no extension negotiated (RFC 6455 §5.2)"
        );
        let misplaced = ProtocolError::ExtensionBitsNotOnFirstFrame {
            bits: 0b100,
            opcode: OpCode::Continuation,
        };
        assert_eq!(
            misplaced.to_string(),
            "RSV1 set on a continuation frame: the extension marks the first frame of a \
             message only (RFC 7692 §6)"
        );
        assert_eq!(misplaced.close_code(), CloseCode::PROTOCOL_ERROR);
    }
}
