//! The sending side of a connection's engine: the closing state (RFC 6455
//! §7), the frames to send and their masking keys (§5.3), the answers the
//! protocol requires (a Pong per Ping, §5.5.2; a Close for the peer's,
//! §5.5.1; a Close that fails the connection, §7.1.7), the outbound side of
//! an extension, and the bound on what the application may queue. A split
//! connection shares it between the read half's answers and the write half.

use std::fmt;
use std::io;

use crate::error::Error;
use crate::proto::close::CloseCode;
use crate::proto::close_frame::{CloseFrame, MAX_CLOSE_REASON, truncate_reason};
use crate::proto::error::{ProtocolError, UsageError};
use crate::proto::extension::OutboundTransform;
use crate::proto::frame::{FrameHeader, MAX_CONTROL_PAYLOAD};
use crate::proto::mask::MaskKeys;
use crate::proto::message::{Message, MessageKind, MessageRef, Progress, StreamEvent, Streamed};
use crate::proto::opcode::OpCode;
use crate::proto::outgoing::Outgoing;
use crate::proto::settings::Role;
use crate::proto::shared_message::SharedMessage;
use crate::proto::trace::{Direction, Trace};
use crate::proto::utf8::Utf8Validator;

/// Past this many bytes of Pongs queued since the output was last handed to
/// a writer, a Ping's Pong replaces the one still waiting for an earlier
/// Ping instead of queuing behind it (§5.5.3).
const COALESCE_PONGS_PAST: usize = 64 << 10;

/// Where the connection is in its life (RFC 6455 §4, §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's (§7.1.2); we may still
    /// receive messages but send no more data (§5.5.1).
    CloseSent,
    /// The close handshake finished or the connection failed.
    Closed,
}

impl State {
    fn can_read(self) -> bool {
        self != State::Closed
    }

    fn can_send_data(self) -> bool {
        self == State::Open
    }
}

/// The first Close frame of a connection: which end sent it, and what it
/// said. RFC 6455 §7.1.5 makes the code of the first Close *received* "the
/// WebSocket Connection Close Code"; a log of the connection wants to know
/// who began the closing, either way.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FirstClose {
    /// The end that sent it.
    pub sent_by: Role,
    /// Its code and reason; `None` for a Close with no payload (§5.5.1).
    pub frame: Option<CloseFrame>,
}

/// The sending side: the closing state, the bytes to send, masking keys.
#[derive(Debug)]
pub(crate) struct Sender {
    role: Role,
    state: State,
    output: Outgoing,
    /// The Pong answering the latest Ping, not yet in `output`: it goes in
    /// before anything queued after it, and when the output is taken.
    pending_pong: Option<(FrameHeader, Vec<u8>)>,
    /// Bytes of Pongs put in `output` since it was last handed to a writer:
    /// the answers a peer that does not read has made us pile up.
    queued_pong_bytes: usize,
    /// A client's masking keys, fetched on its first frame.
    mask_keys: Option<Box<MaskKeys>>,
    outbound: Option<OutboundDebug>,
    trace: Option<Trace>,
    /// Set when the first Close is sent or received.
    first_close: Option<FirstClose>,
    /// The most bytes the application's messages may queue ([`Limits::max_write_buffer`]).
    max_write_buffer: usize,
    /// Bytes taken from `output` by a writer and not yet written (a split
    /// connection's write half keeps them while it writes), as it last said.
    queued_elsewhere: usize,
    /// The data message being sent in pieces, until its last piece is sent.
    unfinished: Option<PiecesSent>,
}

/// A data message sent in pieces whose last piece is still to come.
#[derive(Debug)]
struct PiecesSent {
    kind: MessageKind,
    /// The RSV bits of its first frame: the extension transforms its pieces
    /// when they are not 0.
    rsv: u8,
    /// A text message's UTF-8 so far, checked piece by piece (§5.6).
    text: Option<Utf8Validator>,
}

impl Sender {
    pub(crate) fn new(
        role: Role,
        max_write_buffer: usize,
        outbound: Option<Box<dyn OutboundTransform>>,
    ) -> Sender {
        Sender {
            role,
            state: State::Open,
            output: Outgoing::default(),
            pending_pong: None,
            queued_pong_bytes: 0,
            mask_keys: None,
            outbound: outbound.map(OutboundDebug),
            trace: None,
            first_close: None,
            max_write_buffer,
            queued_elsewhere: 0,
            unfinished: None,
        }
    }

    /// The bytes to send, the pending Pong included.
    pub(crate) fn output(&mut self) -> &mut Outgoing {
        self.queue_pending_pong();
        self.queued_pong_bytes = 0;
        &mut self.output
    }

    #[inline]
    fn queue_pending_pong(&mut self) {
        if let Some((header, payload)) = self.pending_pong.take() {
            self.queued_pong_bytes += payload.len() + 2;
            self.push(&header, payload);
        }
    }

    pub(crate) fn can_read(&self) -> bool {
        self.state.can_read()
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state == State::Open
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.state == State::CloseSent
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// Shows `trace` every frame sent from now on.
    pub(crate) fn set_trace(&mut self, trace: Trace) {
        self.trace = Some(trace);
    }

    /// A payload buffer the output is done with, for the receiver's next
    /// message.
    pub(crate) fn take_recycled(&mut self) -> Option<Vec<u8>> {
        self.output.take_recycled()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub(crate) fn set_closed(&mut self) {
        self.state = State::Closed;
    }

    /// Acts on what the receiver decoded: answers a Ping or a Close, or fails
    /// the connection on a protocol error.
    #[inline(never)]
    pub(crate) fn on_received(
        &mut self,
        decoded: Result<Progress, ProtocolError>,
    ) -> Result<Progress, Error> {
        match decoded {
            Ok(progress) => {
                if let Some(message) = &progress.message {
                    self.answer(message)?;
                }
                Ok(progress)
            }
            Err(error) => {
                self.fail(&error);
                Err(Error::Protocol(error))
            }
        }
    }

    /// [`Sender::on_received`] for a streamed read: answers a control frame,
    /// or fails the connection on a protocol error.
    #[inline(never)]
    pub(crate) fn on_received_streamed(
        &mut self,
        decoded: Result<Streamed, ProtocolError>,
    ) -> Result<Streamed, Error> {
        match decoded {
            Ok(streamed) => {
                if let Some(StreamEvent::Control(message)) = &streamed.event {
                    self.answer(message)?;
                }
                Ok(streamed)
            }
            Err(error) => {
                self.fail(&error);
                Err(Error::Protocol(error))
            }
        }
    }

    /// Handles what a received message requires of us.
    fn answer(&mut self, message: &Message) -> Result<(), Error> {
        match (message, self.state) {
            // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
            // Pong frame in response", with "identical Application data" (§5.5.3).
            (Message::Ping(payload), State::Open) => {
                let header =
                    FrameHeader::new(true, OpCode::Pong, self.mask_key()?, payload.len() as u64);
                if self.queued_pong_bytes < COALESCE_PONGS_PAST {
                    self.queue_pending_pong();
                }
                // §5.5.3: "If an endpoint receives a Ping frame and has not
                // yet sent Pong frame(s) in response to previous Ping
                // frame(s), the endpoint MAY elect to send a Pong frame for
                // only the most recently processed Ping frame." It does so
                // once Pongs pile up unwritten, so that a peer pinging
                // without reading cannot make us hold a Pong per Ping; the
                // data queued around them does not count.
                self.pending_pong = Some((header, payload.clone()));
            }
            // §5.5.1: "If an endpoint receives a Close frame and did not
            // previously send a Close frame, the endpoint MUST send a Close
            // frame in response." It echoes the status code it received.
            (Message::Close(frame), State::Open) => {
                self.first_close = Some(FirstClose {
                    sent_by: self.role.peer(),
                    frame: frame.clone(),
                });
                // The peer may be gone already; the close is complete either way.
                let _ = self.queue_close(frame.as_ref().map(|f| (f.code, "")));
                self.state = State::Closed;
            }
            // §7.1.2: our Close was answered; the closing handshake is complete.
            (Message::Close(_), State::CloseSent) => self.state = State::Closed,
            // §5.5.3: a Pong needs no answer, and data none from the engine.
            (Message::Text(_) | Message::Binary(_) | Message::Pong(_), _) => {}
            // §5.5.1: our Close is the last frame we send; later Pings go unanswered.
            (Message::Ping(_), State::CloseSent | State::Closed) => {}
            (Message::Close(_), State::Closed) => {}
        }
        Ok(())
    }

    /// Fails the connection (§7.1.7): queues a Close frame with the error's
    /// code, unless one was sent already, and stops reading.
    fn fail(&mut self, error: &ProtocolError) {
        if self.state == State::Open {
            let reason = error.to_string();
            let close = (
                error.close_code(),
                truncate_reason(&reason, MAX_CLOSE_REASON),
            );
            self.note_first_close(Some(close));
            // Without a masking key the Close cannot be sent; the connection fails all the same.
            let _ = self.queue_close(Some(close));
        }
        self.state = State::Closed;
    }

    /// The bytes waiting to be sent: queued here, and taken by a writer but
    /// not yet written.
    /// Whether the application's messages have filled what may be queued:
    /// a sender that can wait (an async one) waits for the writes first.
    #[cfg(feature = "tokio")]
    pub(crate) fn write_buffer_full(&self) -> bool {
        self.queued_bytes() >= self.max_write_buffer
    }

    pub(crate) fn queued_bytes(&self) -> usize {
        let pong = self.pending_pong.as_ref().map_or(0, |(_, p)| p.len() + 2);
        self.output.len() + pong + self.queued_elsewhere
    }

    /// Records how many bytes a writer holds, taken from the output and not
    /// yet written.
    pub(crate) fn set_queued_elsewhere(&mut self, bytes: usize) {
        self.queued_elsewhere = bytes;
    }

    /// Whether a message of `len` bytes may be queued: not while the
    /// queue is already at [`Limits::max_write_buffer`] with it. An empty
    /// queue takes a message of any size, so that no message is too large
    /// ever to be sent.
    fn has_room_for(&self, len: usize) -> Result<(), usize> {
        let queued = self.queued_bytes();
        match queued > 0 && queued.saturating_add(len) > self.max_write_buffer {
            true => Err(queued),
            false => Ok(()),
        }
    }

    pub(crate) fn send(&mut self, message: Message) -> Result<(), Error> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(frame) => {
                return self.close(frame.as_ref().map(|f| (f.code, f.reason.as_str())));
            }
        };
        self.check_can_send(opcode, payload.len())?;
        if let Err(queued) = self.has_room_for(payload.len()) {
            return Err(Error::WriteBufferFull {
                message: Some(refused(opcode, payload)),
                queued,
            });
        }
        let (rsv, payload) = match &mut self.outbound {
            Some(outbound) if !opcode.is_control() => match &self.trace {
                None => outbound.0.transform(opcode, payload),
                Some(trace) => {
                    let len = payload.len() as u64;
                    let start = payload[..payload.len().min(MAX_CONTROL_PAYLOAD)].to_vec();
                    let (rsv, payload) = outbound.0.transform(opcode, payload);
                    if rsv != 0 {
                        let wire_len = payload.len() as u64;
                        trace.compressed(Direction::Sent, opcode, (wire_len, len), &start);
                    }
                    (rsv, payload)
                }
            },
            _ => (0, payload),
        };
        self.queue_frame(opcode, rsv, payload)
    }

    #[inline]
    pub(crate) fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), Error> {
        let (opcode, payload) = match message {
            MessageRef::Text(text) => (OpCode::Text, text.as_bytes()),
            MessageRef::Binary(data) => (OpCode::Binary, data),
        };
        self.check_can_queue_borrowed(opcode, payload.len())?;
        if self.outbound.is_some() {
            // The transform takes the payload whole.
            return self.send(message.to_message());
        }
        self.push_copied(opcode, 0, payload)
    }

    pub(crate) fn send_shared(&mut self, message: &SharedMessage) -> Result<(), Error> {
        let opcode = message.opcode();
        self.check_can_queue_borrowed(opcode, message.len())?;
        let key = match &self.outbound {
            None => None,
            Some(outbound) => match outbound.0.shared_key() {
                Some(key) => Some(key),
                // The transform's output depends on what it sent before.
                None => return self.send(message.to_message()),
            },
        };
        match (key, &mut self.outbound) {
            (Some(key), Some(outbound)) => {
                let (rsv, payload) = message.form(key, |payload| {
                    outbound.0.transform(opcode, payload.to_vec())
                });
                if let (Some(trace), true) = (&self.trace, rsv != 0) {
                    let lens = (payload.len() as u64, message.len() as u64);
                    trace.compressed(Direction::Sent, opcode, lens, message.bytes());
                }
                self.push_copied(opcode, rsv, &payload)
            }
            _ => self.push_copied(opcode, 0, message.bytes()),
        }
    }

    /// [`Sender::check_can_send`], and room in the write buffer, for a
    /// message the caller keeps (sent by reference): refused, it is not
    /// given back.
    #[inline]
    fn check_can_queue_borrowed(&self, opcode: OpCode, len: usize) -> Result<(), Error> {
        self.check_can_send(opcode, len)?;
        self.has_room_for(len)
            .map_err(|queued| Error::WriteBufferFull {
                message: None,
                queued,
            })
    }

    #[inline]
    fn check_can_send(&self, opcode: OpCode, len: usize) -> Result<(), Error> {
        if !self.state.can_read() {
            return Err(Error::Closed);
        }
        if !self.state.can_send_data() {
            // §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames."
            return Err(UsageError::SendAfterClose.into());
        }
        if opcode.is_control() && len > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(len).into());
        }
        // §5.4: "the fragments of one message MUST NOT be interleaved
        // between the fragments of another message"; control frames may be.
        if !opcode.is_control() && self.unfinished.is_some() {
            return Err(UsageError::MessageUnfinished.into());
        }
        Ok(())
    }

    /// Queues the next piece of a data message of `kind` sent in pieces, as
    /// one frame: the message's first frame if none of it was sent, a
    /// continuation after (§5.4), with FIN on the `last`. Transformed by the
    /// extension as it goes, masked in the client role; a text's UTF-8 is
    /// checked piece by piece. Control frames queued meanwhile go out
    /// between the pieces' frames.
    #[inline]
    pub(crate) fn send_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        if self.unfinished.is_none() && last {
            // A message in one piece is a whole message: the extension may
            // leave it as it is when transforming it does not pay.
            let message = match kind {
                MessageKind::Text => MessageRef::Text(
                    std::str::from_utf8(payload).map_err(|_| UsageError::InvalidUtf8Sent)?,
                ),
                MessageKind::Binary => MessageRef::Binary(payload),
            };
            return self.send_ref(message);
        }
        let opcode = match &self.unfinished {
            None => kind.opcode(),
            Some(open) if open.kind == kind => OpCode::Continuation,
            Some(_) => return Err(UsageError::MessageUnfinished.into()),
        };
        if !self.state.can_read() {
            return Err(Error::Closed);
        }
        if !self.state.can_send_data() {
            return Err(UsageError::SendAfterClose.into());
        }
        self.has_room_for(payload.len())
            .map_err(|queued| Error::WriteBufferFull {
                message: None,
                queued,
            })?;
        let open = match &mut self.unfinished {
            Some(open) => open,
            None => {
                let rsv = match &mut self.outbound {
                    Some(outbound) => outbound.0.begin_pieces(opcode),
                    None => 0,
                };
                self.unfinished.insert(PiecesSent {
                    kind,
                    rsv,
                    text: (kind == MessageKind::Text).then(Utf8Validator::new),
                })
            }
        };
        if let Some(validator) = &mut open.text {
            // §5.6: a text message's payload is UTF-8, across its fragments.
            // Checked on a copy, so that a piece refused leaves the check
            // where the pieces sent left it.
            let mut checked = validator.clone();
            let valid = checked.feed(payload).and_then(|()| match last {
                true => checked.finish(),
                false => Ok(()),
            });
            if valid.is_err() {
                // A message this piece would have opened is not open; one
                // whose first frame went out (if empty) still is.
                if opcode != OpCode::Continuation {
                    self.unfinished = None;
                }
                return Err(UsageError::InvalidUtf8Sent.into());
            }
            *validator = checked;
        }
        let transformed = open.rsv != 0;
        // RFC 7692 §6: the extension's bits go on the first frame only.
        let rsv = if opcode == OpCode::Continuation {
            0
        } else {
            open.rsv
        };
        if last {
            self.unfinished = None;
        }
        let mask = self.mask_key()?;
        if transformed {
            let mut wire = Vec::new();
            if let Some(outbound) = &mut self.outbound {
                outbound.0.transform_piece(payload, last, &mut wire);
            }
            let header = FrameHeader {
                rsv,
                ..FrameHeader::new(last, opcode, mask, wire.len() as u64)
            };
            self.queue_pending_pong();
            self.push(&header, wire);
        } else {
            let header = FrameHeader::new(last, opcode, mask, payload.len() as u64);
            self.queue_pending_pong();
            if let Some(trace) = &self.trace {
                trace.sent(&header, payload);
            }
            self.output.push_frame_copied(&header, payload);
        }
        Ok(())
    }

    /// Sends a Close frame with a status code and reason, or with none
    /// (`None`: an empty payload, §5.5.1).
    pub(crate) fn close(&mut self, close: Option<(CloseCode, &str)>) -> Result<(), Error> {
        match self.state {
            State::Open => {}
            State::CloseSent => return Ok(()),
            State::Closed => return Err(Error::Closed),
        }
        if let Some((code, reason)) = close {
            if !code.is_valid_on_wire() {
                return Err(UsageError::InvalidCloseCode(code.0).into());
            }
            if reason.len() > MAX_CLOSE_REASON {
                return Err(UsageError::ControlPayloadTooLong(reason.len() + 2).into());
            }
        }
        self.queue_close(close)?;
        self.note_first_close(close);
        self.state = State::CloseSent;
        Ok(())
    }

    /// Records our Close as the connection's first.
    fn note_first_close(&mut self, close: Option<(CloseCode, &str)>) {
        self.first_close = Some(FirstClose {
            sent_by: self.role,
            frame: close.map(|(code, reason)| CloseFrame {
                code,
                reason: reason.to_owned(),
            }),
        });
    }

    /// The connection's first Close, once one was sent or received.
    pub(crate) fn first_close(&self) -> Option<&FirstClose> {
        self.first_close.as_ref()
    }

    /// Bytes of frames written, in all.
    pub(crate) fn bytes_sent(&self) -> u64 {
        self.output.total_written()
    }

    /// Queues a Close frame.
    fn queue_close(&mut self, close: Option<(CloseCode, &str)>) -> Result<(), Error> {
        let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
        if let Some((code, reason)) = close {
            CloseFrame {
                code,
                reason: reason.to_owned(),
            }
            .encode(&mut payload);
        }
        self.queue_frame(OpCode::Close, 0, payload)
    }

    #[inline]
    fn mask_key(&mut self) -> io::Result<Option<[u8; 4]>> {
        // §5.3: a client masks every frame; §5.1: a server MUST NOT mask.
        match self.role {
            Role::Client => self.mask_keys.get_or_insert_default().next().map(Some),
            Role::Server => Ok(None),
        }
    }

    #[inline]
    fn queue_frame(&mut self, opcode: OpCode, rsv: u8, payload: Vec<u8>) -> Result<(), Error> {
        let header = FrameHeader {
            rsv,
            ..FrameHeader::new(true, opcode, self.mask_key()?, payload.len() as u64)
        };
        self.queue_pending_pong();
        self.push(&header, payload);
        Ok(())
    }

    /// Queues a frame whose payload is copied from `payload`.
    #[inline]
    fn push_copied(&mut self, opcode: OpCode, rsv: u8, payload: &[u8]) -> Result<(), Error> {
        let header = FrameHeader {
            rsv,
            ..FrameHeader::new(true, opcode, self.mask_key()?, payload.len() as u64)
        };
        self.queue_pending_pong();
        if let Some(trace) = &self.trace {
            trace.sent(&header, payload);
        }
        self.output.push_frame_copied(&header, payload);
        Ok(())
    }

    /// Queues an encoded frame, showing it to the trace.
    #[inline]
    fn push(&mut self, header: &FrameHeader, payload: Vec<u8>) {
        if let Some(trace) = &self.trace {
            trace.sent(header, &payload);
        }
        self.output.push_frame(header, payload);
    }
}

/// The outbound transform, shown in `Debug` by name only.
struct OutboundDebug(Box<dyn OutboundTransform>);

impl fmt::Debug for OutboundDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutboundTransform")
    }
}

/// A message refused for a full write buffer, given back as it was sent.
#[cold]
fn refused(opcode: OpCode, payload: Vec<u8>) -> Message {
    match opcode {
        // The payload was a `String`'s: it is UTF-8.
        OpCode::Text => String::from_utf8(payload)
            .map_or_else(|e| Message::Binary(e.into_bytes()), Message::Text),
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        OpCode::Binary | OpCode::Continuation | OpCode::Close => Message::Binary(payload),
    }
}
