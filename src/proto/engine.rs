//! The connection's protocol engine, without I/O: RFC 6455 §5.5 and §7 as a
//! state machine that reads no socket and no clock.
//!
//! Bytes in, messages out: [`Engine::receive`] decodes what the peer sent
//! and, as the RFC requires, answers it: a Pong for each Ping (§5.5.2), a
//! Close for the peer's Close (§5.5.1), a Close with the error's code when
//! the peer breaks the protocol (§7.1.7). Messages in, bytes out:
//! [`Engine::send`] encodes a message as a frame, masked with a fresh key in
//! the client role (§5.3). Everything to be sent collects in
//! [`Engine::output`], for whatever does the I/O to write when it can.
//!
//! The engine is two sides that share only the closing state: the
//! receiver, here (message assembly, UTF-8, limits, the inbound side of an
//! extension), and the sender (`sender.rs`: the close state, the bytes to
//! send, the masking keys, the outbound side of an extension). [`crate::WebSocket`]
//! drives both from one thread; a split connection ([`WebSocket::split`](crate::WebSocket::split)) gives
//! the receiver to the read half and shares the sender between the read
//! half's automatic answers and the write half.

use crate::error::Error;
use crate::proto::close::CloseCode;
use crate::proto::error::ProtocolError;
use crate::proto::extension::Extension;
use crate::proto::frame::FrameHeader;
use crate::proto::message::{Message, MessageDecoder, MessageKind, MessageRef, Progress, Streamed};
use crate::proto::opcode::OpCode;
use crate::proto::outgoing::Outgoing;
use crate::proto::sender::{FirstClose, Sender};
use crate::proto::settings::{Limits, Role};
use crate::proto::shared_message::SharedMessage;
use crate::proto::trace::{Direction, FrameEvent, Trace, TraceEvent, transformed_wire_len};

/// A connection's protocol state machine, with no I/O; see the module
/// documentation.
#[derive(Debug)]
pub struct Engine {
    receiver: Receiver,
    sender: Sender,
}

impl Engine {
    /// An open connection in `role`, holding the peer to `limits`, with no extension.
    pub fn new(role: Role, limits: Limits) -> Engine {
        Engine {
            receiver: Receiver {
                decoder: MessageDecoder::new(role, limits),
                trace: None,
                transformed_wire_len: None,
            },
            sender: Sender::new(role, limits.max_write_buffer, None),
        }
    }

    /// An open connection with a negotiated extension (see [`Extension`]).
    pub fn with_extension(role: Role, limits: Limits, extension: Extension) -> Engine {
        let decoder =
            MessageDecoder::with_extension(role, limits, extension.rsv_bits, extension.inbound);
        Engine {
            receiver: Receiver {
                decoder,
                trace: None,
                transformed_wire_len: None,
            },
            sender: Sender::new(role, limits.max_write_buffer, Some(extension.outbound)),
        }
    }

    /// Shows `observe` every frame sent or received from now on (see
    /// [`TraceEvent`]).
    pub fn set_trace(&mut self, observe: impl FnMut(&TraceEvent<'_>) + Send + 'static) {
        let trace = Trace::new(observe);
        self.sender.set_trace(trace.clone());
        self.receiver.trace = Some(trace);
    }

    /// Decodes received bytes from the start of `input` (unmasking them in
    /// place) and returns how many it used and the message they completed,
    /// if any. What the message requires of us (a Pong, a Close reply) is
    /// queued in [`Engine::output`] before it is returned. A protocol error
    /// fails the connection: the Close with the error's code is queued, and
    /// the error returned.
    #[inline]
    pub fn receive(&mut self, input: &mut [u8]) -> Result<Progress, Error> {
        if !self.sender.can_read() {
            return Err(Error::Closed);
        }
        if !self.receiver.decoder.has_spare() {
            if let Some(buffer) = self.sender.take_recycled() {
                self.receiver.decoder.recycle(buffer);
            }
        }
        match self.receiver.decode(input) {
            // Data, a Pong or nothing yet: nothing for the sender to answer.
            Ok(progress) if !progress.asks_an_answer() => Ok(progress),
            decoded => self.sender.on_received(decoded),
        }
    }

    /// Decodes received bytes as [`Engine::receive`] does, except that a data
    /// message is not assembled: its payload is written into `out` as it
    /// arrives (unmasked, inflated if it was compressed, a text's UTF-8
    /// checked before it is given out) and returned as a
    /// [`Piece`](crate::proto::Piece) as soon as `out` is full, the input
    /// runs out, the message ends or a control frame follows. So a message
    /// of any size takes no more memory than `out`. The message limit
    /// ([`Limits::max_message_size`]) counts the bytes given out, and fails
    /// the connection at the first byte past it. Control frames come back
    /// whole and are answered as [`Engine::receive`] answers them.
    ///
    /// With an empty `out`, a message's first piece comes back, empty, as
    /// soon as its first frame's header is in: its kind; later in the
    /// message, an empty piece says that `out` has no room. A message left
    /// unfinished here and read on with [`Engine::receive`] is read to its
    /// end and dropped; one begun with [`Engine::receive`] and read on here
    /// gives what was assembled first.
    pub fn receive_streamed(
        &mut self,
        input: &mut [u8],
        out: &mut [u8],
    ) -> Result<Streamed, Error> {
        if !self.sender.can_read() {
            return Err(Error::Closed);
        }
        match self.receiver.decode_streamed(input, out) {
            Ok(streamed) if !streamed.asks_an_answer() => Ok(streamed),
            decoded => self.sender.on_received_streamed(decoded),
        }
    }

    /// Whether [`Engine::receive_streamed`] could give something with no
    /// more input (a compressed message's last piece still to inflate).
    pub(crate) fn streams_without_input(&self) -> bool {
        self.receiver.decoder.gives_without_input()
    }

    /// Encodes a message into [`Engine::output`]. A `Close` starts the
    /// closing handshake, as [`Engine::close`] does.
    #[inline]
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.sender.send(message)
    }

    /// Queues the next piece of a data message sent in pieces, as one frame
    /// in [`Engine::output`]: the message's first (with `kind`'s opcode) if
    /// none of it was sent yet, a continuation after (RFC 6455 §5.4), with
    /// FIN set on the `last`. So a message of any size is sent without
    /// being held whole. With an extension, each piece is transformed as it
    /// goes (compressed, with deflate); in the client role each frame is
    /// masked. A text message's pieces are checked as UTF-8 across their
    /// boundaries ([`UsageError::InvalidUtf8Sent`](crate::proto::UsageError::InvalidUtf8Sent)).
    ///
    /// Until the last piece, no other data message may be sent
    /// ([`UsageError::MessageUnfinished`](crate::proto::UsageError::MessageUnfinished));
    /// Pings, Pongs and a Close may, and go out between the pieces.
    pub fn send_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        self.sender.send_piece(kind, payload, last)
    }

    /// Encodes a data message whose payload is borrowed, copying it into
    /// [`Engine::output`]: the way to send one payload to many connections.
    pub fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), Error> {
        self.sender.send_ref(message)
    }

    /// Encodes a message sent on many connections, in the form this
    /// connection's extension gives it, made once for every connection whose
    /// extension has the same settings (see [`SharedMessage`]).
    pub fn send_shared(&mut self, message: &SharedMessage) -> Result<(), Error> {
        self.sender.send_shared(message)
    }

    /// Starts the closing handshake (§7.1.2): queues a Close frame with
    /// `code` and `reason`. Does nothing if we sent a Close already.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.sender.close(Some((code, reason)))
    }

    /// The bytes waiting to be sent.
    pub fn output(&mut self) -> &mut Outgoing {
        self.sender.output()
    }

    /// The bytes waiting to be sent, in [`Engine::output`] (see
    /// [`Limits::max_write_buffer`]).
    pub fn queued_bytes(&self) -> usize {
        self.sender.queued_bytes()
    }

    /// Whether what is queued has reached [`Limits::max_write_buffer`].
    #[cfg(feature = "tokio")]
    pub(crate) fn write_buffer_full(&self) -> bool {
        self.sender.write_buffer_full()
    }

    /// Records that writing the output failed for good: the connection is over.
    pub fn write_failed(&mut self) {
        self.sender.set_closed();
    }

    /// Records that the peer's stream ended or failed: nothing more will be read.
    pub fn read_failed(&mut self) {
        self.sender.set_closed();
    }

    /// The connection's first Close frame, once one was sent or received:
    /// who sent it, with what code and reason.
    pub fn first_close(&self) -> Option<&FirstClose> {
        self.sender.first_close()
    }

    /// Bytes of frames written from [`Engine::output`], in all.
    pub(crate) fn bytes_sent(&self) -> u64 {
        self.sender.bytes_sent()
    }

    /// Which end of the connection this is.
    pub fn role(&self) -> Role {
        self.sender.role()
    }

    /// Whether messages can still be sent: no Close has been sent or received.
    pub fn is_open(&self) -> bool {
        self.sender.is_open()
    }

    /// Whether we sent a Close frame and the peer has not answered yet.
    pub fn is_closing(&self) -> bool {
        self.sender.is_closing()
    }

    /// Whether the closing handshake is over or the connection failed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// The two sides, for a connection read and written from two threads.
    pub(crate) fn into_sides(self) -> (Receiver, Sender) {
        (self.receiver, self.sender)
    }

    /// Gives back the buffers kept for the next messages: the one the next
    /// message received would be assembled in, and (when nothing waits to
    /// be sent) the output's. For a connection gone quiet, so that it holds
    /// no more than a fresh one; the next messages allocate again. With
    /// permessage-deflate's context takeover the contexts stay: they are
    /// the connection's state.
    pub fn release_buffers(&mut self) {
        self.receiver.release_buffers();
        self.sender.output().release_buffers();
    }

    /// The bytes the engine's buffers hold room for, for tests of what a
    /// quiet connection keeps.
    #[cfg(test)]
    pub(crate) fn held_bytes(&mut self) -> usize {
        self.receiver.held_bytes() + self.sender.output().held_bytes()
    }
}

/// The receiving side: message assembly and the trace of received frames.
#[derive(Debug)]
pub(crate) struct Receiver {
    decoder: MessageDecoder,
    trace: Option<Trace>,
    /// With a trace: the payload bytes so far of a message arriving with an
    /// extension's bits (compressed), to show beside its length inflated.
    transformed_wire_len: Option<u64>,
}

impl Receiver {
    /// The next piece of a data message, or control frame (see
    /// [`Engine::receive_streamed`]), traced frame by frame.
    pub(crate) fn decode_streamed(
        &mut self,
        input: &mut [u8],
        out: &mut [u8],
    ) -> Result<Streamed, ProtocolError> {
        let Some(trace) = &self.trace else {
            return self.decoder.decode_streamed(input, out, &mut None);
        };
        let mut show = |header: &FrameHeader, payload_start: &[u8]| {
            trace.show(&TraceEvent::Frame(FrameEvent {
                direction: Direction::Received,
                header: *header,
                payload_start,
            }))
        };
        self.decoder
            .decode_streamed(input, out, &mut Some(&mut show))
    }

    pub(crate) fn decode(&mut self, input: &mut [u8]) -> Result<Progress, ProtocolError> {
        let Some(trace) = &self.trace else {
            return self.decoder.decode(input);
        };
        let wire_len = &mut self.transformed_wire_len;
        let progress = self
            .decoder
            .decode_observed(input, &mut |header, payload_start| {
                *wire_len = transformed_wire_len(*wire_len, header);
                trace.show(&TraceEvent::Frame(FrameEvent {
                    direction: Direction::Received,
                    header: *header,
                    payload_start,
                }))
            })?;
        let data = match &progress.message {
            Some(Message::Text(text)) => Some((OpCode::Text, text.as_bytes())),
            Some(Message::Binary(data)) => Some((OpCode::Binary, data.as_slice())),
            _ => None,
        };
        if let Some((opcode, payload)) = data {
            if let Some(wire_len) = self.transformed_wire_len.take() {
                let lens = (wire_len, payload.len() as u64);
                trace.compressed(Direction::Received, opcode, lens, payload);
            }
        }
        Ok(progress)
    }

    /// Gives back the buffer kept for the next message received.
    pub(crate) fn release_buffers(&mut self) {
        self.decoder.release_spare();
    }

    /// The bytes the receiver's buffers hold room for, for tests of what a
    /// quiet connection keeps.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.decoder.held_bytes()
    }
}
