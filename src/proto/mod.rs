//! The protocol itself, without I/O: RFC 6455 §5 and §7 as code that reads
//! no socket, no clock and prints nothing. Bytes in, messages out; messages
//! in, bytes out.
//!
//! The frame header in wire order ([`FrameHeader`], §5.2) and masking
//! ([`apply_mask`], §5.3); UTF-8 checked as it arrives, failing fast
//! ([`Utf8Validator`], §8.1); close codes and the Close payload
//! ([`CloseCode`](crate::CloseCode), [`CloseFrame`](crate::CloseFrame),
//! §5.5.1, §7.4); message assembly with its one fragmentation match and its
//! limits (§5.4, §10.4); the seam for extensions ([`Extension`], §9); the
//! connection's state machine ([`Engine`](crate::Engine), §5.5, §7) and what
//! it has queued to send ([`Outgoing`]); the peer's faults
//! ([`ProtocolError`], each with its close code) and the caller's
//! ([`UsageError`]); and what a trace observer is shown ([`TraceEvent`]).
//! Nothing here imports from the I/O layer, TLS, the server or the display
//! code: a reader can study this folder alone.

pub(crate) mod close;
pub(crate) mod close_frame;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod extension;
pub(crate) mod frame;
pub(crate) mod mask;
pub(crate) mod message;
pub(crate) mod opcode;
pub(crate) mod outgoing;
pub(crate) mod sender;
pub(crate) mod settings;
pub(crate) mod shared_message;
pub(crate) mod trace;
pub(crate) mod utf8;

pub use close_frame::MAX_CLOSE_REASON;
pub use error::{ProtocolError, UsageError};
pub use extension::{Extension, InboundTransform, OutboundTransform, OutputCheck};
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::apply_mask;
pub use message::{MessageKind, Piece, Progress, StreamEvent, Streamed};
pub use opcode::OpCode;
pub use outgoing::Outgoing;
pub use sender::FirstClose;
pub use shared_message::SharedMessage;
pub use trace::{CompressedMessage, Direction, FrameEvent, TraceEvent};
pub use utf8::{InvalidUtf8, Utf8Validator};

pub(crate) use frame::LengthEncoding;

/// What a decoder made of the bytes it was given: a whole value and how many
/// bytes it used, or a sign that the value continues past the end of the
/// input. Running out of input is not an error; errors travel beside this in
/// a `Result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole value, and the number of input bytes it took.
    Complete(T, usize),
    /// The input is a valid beginning; more bytes are needed.
    NeedMore,
}
