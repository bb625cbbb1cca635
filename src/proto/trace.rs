//! What a trace observer is shown ([`Engine::set_trace`]): every frame a
//! connection sends or receives, its header and the start of its payload
//! unmasked, and each message an extension transformed (compressed), whole.
//! Data only: how an event reads as a line of text is the display layer's
//! (`src/trace/`), which the connection's owner chooses to use.
//!
//! [`Engine::set_trace`]: crate::Engine::set_trace

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::proto::frame::{FrameHeader, MAX_CONTROL_PAYLOAD};
use crate::proto::opcode::OpCode;

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

/// What a trace shows: each frame, and each compressed message whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent<'a> {
    /// A frame sent or received.
    Frame(FrameEvent<'a>),
    /// A message sent or received compressed.
    Compressed(CompressedMessage<'a>),
}

/// A data message sent or received compressed by permessage-deflate
/// (RFC 7692 §6: RSV1 on its first frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

/// A frame a connection sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

/// The payload bytes on the wire so far of a message an extension
/// transformed (sent compressed), once the frame with `header` is in: a data
/// frame with an extension's bits starts the count, a continuation adds to
/// it, a data frame without them means no such message; control frames,
/// which may come between fragments, leave it.
pub(crate) fn transformed_wire_len(so_far: Option<u64>, header: &FrameHeader) -> Option<u64> {
    match header.opcode {
        OpCode::Text | OpCode::Binary if header.rsv != 0 => Some(header.payload_len),
        OpCode::Text | OpCode::Binary => None,
        OpCode::Continuation => so_far.map(|len| len.saturating_add(header.payload_len)),
        OpCode::Close | OpCode::Ping | OpCode::Pong => so_far,
    }
}

/// What a trace observer is.
type Observer = Box<dyn FnMut(&TraceEvent<'_>) + Send>;

/// The observer [`Engine::set_trace`](crate::Engine::set_trace) installs,
/// shared by the engine's two sides.
#[derive(Clone)]
pub(crate) struct Trace(Arc<Mutex<Observer>>);

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trace")
    }
}

impl Trace {
    pub(crate) fn new(observe: impl FnMut(&TraceEvent<'_>) + Send + 'static) -> Trace {
        Trace(Arc::new(Mutex::new(Box::new(observe))))
    }

    pub(crate) fn show(&self, event: &TraceEvent<'_>) {
        // A panicking observer leaves nothing half-done that matters here.
        let mut observe = self.0.lock().unwrap_or_else(|p| p.into_inner());
        observe(event);
    }

    /// Reports a frame we are about to send, before it is masked.
    pub(crate) fn sent(&self, header: &FrameHeader, payload: &[u8]) {
        self.show(&TraceEvent::Frame(FrameEvent {
            direction: Direction::Sent,
            header: *header,
            payload_start: &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)],
        }));
    }

    /// Reports a message sent or received compressed, with its lengths on
    /// the wire and inflated and the start of its payload inflated.
    pub(crate) fn compressed(
        &self,
        direction: Direction,
        opcode: OpCode,
        lens: (u64, u64),
        start: &[u8],
    ) {
        let (wire_len, len) = lens;
        self.show(&TraceEvent::Compressed(CompressedMessage {
            direction,
            opcode,
            wire_len,
            len,
            start: &start[..start.len().min(MAX_CONTROL_PAYLOAD)],
        }));
    }
}
