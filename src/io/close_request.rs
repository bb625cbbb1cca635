//! Closing a connection from another thread while its own thread reads.
//!
//! A server shutting down sends every connection a Close (RFC 6455 §7.1.2,
//! code 1001 "going away", §7.4.1). But a [`WebSocket`](crate::WebSocket)
//! belongs to one thread, and that thread is usually blocked reading a
//! client that has nothing to say; nothing but the client can wake it.
//!
//! So the two threads agree, through one atomic state, on who sends the
//! Close:
//!
//! - The connection's thread says when it blocks reading with nothing of
//!   its own left to write ([`CloseRequest::enter_read`]). While it waits
//!   there, the asking thread writes the Close frame itself: the socket
//!   carries whole frames only, since the connection's thread is not
//!   writing. The client answers the Close, which wakes the reader, and the
//!   reader learns that its Close was sent ([`CloseRequest::leave_read`]).
//! - When the request comes while the connection's thread is busy, the
//!   request is left for it: it sends the Close itself before it next
//!   blocks.
//!
//! This costs the connection two atomic operations per blocking read and
//! no lock, so a server that can shut down gracefully echoes as fast as
//! one that cannot.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::proto::OpCode;
use crate::proto::close::CloseCode;
use crate::proto::close_frame::CloseFrame;
use crate::proto::frame::FrameHeader;

/// The connection's thread is running, or blocked writing.
const RUNNING: u8 = 0;
/// The connection's thread is blocked reading, with nothing queued.
const READING: u8 = 1;
/// A Close was asked for while the connection's thread ran; it sends it.
const ASKED: u8 = 2;
/// The asking thread took the connection while it read, and wrote the Close
/// (or is writing it, holding [`CloseRequest::writing`]).
const SENT_FOR_IT: u8 = 3;

/// A request that a server-side connection close, shared between the
/// connection's thread and the thread that asks.
#[derive(Debug)]
pub(crate) struct CloseRequest {
    state: AtomicU8,
    /// Held by the asking thread while it writes the Close, so that the
    /// connection's thread, woken meanwhile, waits for the whole frame.
    writing: Mutex<()>,
    code: CloseCode,
    reason: &'static str,
}

/// What the connection's thread does before it blocks reading.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BeforeRead {
    /// Read; the Close may be sent meanwhile.
    Read,
    /// A Close was asked for: send it (`code`, `reason`), then read.
    SendClose(CloseCode, &'static str),
}

impl CloseRequest {
    /// A request, not yet made, to close with `code` and `reason`.
    pub(crate) fn new(code: CloseCode, reason: &'static str) -> CloseRequest {
        CloseRequest {
            state: AtomicU8::new(RUNNING),
            writing: Mutex::new(()),
            code,
            reason,
        }
    }

    /// Asks for the Close. If the connection's thread is blocked reading,
    /// writes the Close frame (a server's: unmasked) to `stream` now;
    /// otherwise the connection sends it before it next reads. Asking twice
    /// sends one Close.
    pub(crate) fn ask(&self, mut stream: impl Write) -> io::Result<()> {
        let writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                RUNNING => ASKED,
                READING => SENT_FOR_IT,
                _ => return Ok(()),
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == ASKED => return Ok(()),
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let mut payload = Vec::with_capacity(2 + self.reason.len());
        CloseFrame {
            code: self.code,
            reason: self.reason.to_owned(),
        }
        .encode(&mut payload);
        let mut frame = Vec::with_capacity(4 + payload.len());
        FrameHeader::new(true, OpCode::Close, None, payload.len() as u64)
            .encode_frame(&payload, &mut frame);
        let written = stream.write_all(&frame).and_then(|()| stream.flush());
        drop(writing);
        written
    }

    /// Called by the connection's thread before it blocks reading, when its
    /// connection is open and nothing waits to be written.
    pub(crate) fn enter_read(&self) -> BeforeRead {
        match self
            .state
            .compare_exchange(RUNNING, READING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => BeforeRead::Read,
            Err(_) => BeforeRead::SendClose(self.code, self.reason),
        }
    }

    /// Called by the connection's thread when a read it entered with
    /// [`CloseRequest::enter_read`] returns. `Some` when the Close was sent
    /// for it meanwhile: the connection must count that Close as sent (its
    /// bytes are on the wire already).
    pub(crate) fn leave_read(&self) -> Option<(CloseCode, &'static str)> {
        match self
            .state
            .compare_exchange(READING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(_) => {
                // Wait until the asking thread has written the whole frame.
                drop(self.writing.lock().unwrap_or_else(PoisonError::into_inner));
                Some((self.code, self.reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn going_away() -> CloseRequest {
        CloseRequest::new(CloseCode::GOING_AWAY, "server shutting down")
    }

    #[test]
    fn asked_while_running_the_connection_sends_the_close_itself() {
        let request = going_away();
        let mut wire = Vec::new();
        request.ask(&mut wire).unwrap();
        assert!(wire.is_empty());
        assert_eq!(
            request.enter_read(),
            BeforeRead::SendClose(CloseCode::GOING_AWAY, "server shutting down")
        );
    }

    #[test]
    fn asked_while_reading_the_close_is_written_for_the_connection() {
        let request = going_away();
        assert_eq!(request.enter_read(), BeforeRead::Read);
        let mut wire = Vec::new();
        request.ask(&mut wire).unwrap();
        // RFC 6455 §5.5.1: FIN + opcode 0x8, unmasked (a server's), the
        // code 1001 in network byte order, then the reason.
        let mut expected = vec![0x88, 22, 0x03, 0xe9];
        expected.extend_from_slice(b"server shutting down");
        assert_eq!(wire, expected);
        assert_eq!(
            request.leave_read(),
            Some((CloseCode::GOING_AWAY, "server shutting down"))
        );
    }

    #[test]
    fn asking_twice_sends_one_close() {
        let request = going_away();
        assert_eq!(request.enter_read(), BeforeRead::Read);
        let mut wire = Vec::new();
        request.ask(&mut wire).unwrap();
        request.ask(&mut wire).unwrap();
        assert_eq!(wire.len(), 24);
    }

    #[test]
    fn a_read_that_returns_unasked_changes_nothing() {
        let request = going_away();
        assert_eq!(request.enter_read(), BeforeRead::Read);
        assert_eq!(request.leave_read(), None);
        assert_eq!(request.enter_read(), BeforeRead::Read);
    }
}
