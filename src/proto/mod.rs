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
pub(crate) mod shared_message;
pub(crate) mod trace;
pub(crate) mod utf8;

pub use close_frame::MAX_CLOSE_REASON;
pub use error::{ProtocolError, UsageError};
pub use extension::{Extension, InboundTransform, OutboundTransform, OutputCheck};
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::apply_mask;
pub use message::Progress;
pub use opcode::OpCode;
pub use outgoing::Outgoing;
pub use sender::FirstClose;
pub use shared_message::SharedMessage;
pub use trace::{CompressedMessage, Direction, FrameEvent, TraceEvent};
pub use utf8::{InvalidUtf8, Utf8Validator};

pub(crate) use frame::LengthEncoding;

/// Which end of the connection we are. It decides who masks (§5.1, §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: client frames arrive masked, ours go out unmasked.
    Server,
    /// We opened the connection: our frames go out masked, server frames arrive unmasked.
    Client,
}

impl Role {
    /// The other end's role.
    pub fn peer(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }
}

/// Limits on what a peer may make us hold (RFC 6455 §10.4), and on what we
/// queue for it.
///
/// ```
/// let limits = ws6455::Limits::default().max_message_size(1 << 20);
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted; a header announcing more fails the
    /// connection with 1009 before anything is allocated. Default 16 MiB.
    pub max_frame_size: u64,
    /// The largest message accepted, across all its fragments (inflated, if
    /// it arrives compressed). Default 64 MiB.
    pub max_message_size: u64,
    /// The most bytes that may wait to be sent: a message that would queue
    /// more, while something waits already, is refused with
    /// [`Error::WriteBufferFull`](crate::Error::WriteBufferFull) and not
    /// taken. A peer that does not read then cannot make a writer queue
    /// without end. Answers the protocol requires (Pongs, a Close) are never
    /// refused. Default 16 MiB.
    pub max_write_buffer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_write_buffer: 16 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: u64) -> Limits {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Limits::max_message_size`].
    pub fn max_message_size(mut self, bytes: u64) -> Limits {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Limits::max_write_buffer`].
    pub fn max_write_buffer(mut self, bytes: usize) -> Limits {
        self.max_write_buffer = bytes;
        self
    }
}

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
