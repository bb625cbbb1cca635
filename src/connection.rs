//! The blocking connection: [`WebSocket`] over any `Read + Write` stream.
//!
//! This is the only layer that does I/O. Reads are buffered: one `read` call
//! may bring many frames, and every one of them is decoded before the next
//! call. Writes are corked: messages queued with [`WebSocket::queue`] (and
//! automatic replies such as Pongs) collect in a buffer that is written in
//! one call when [`WebSocket::read`] has decoded everything it holds and is
//! about to block, or on [`WebSocket::flush`].

use std::fmt;
use std::io::{self, IoSlice, Read, Write};

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, truncate_reason};
use crate::error::{Error, ProtocolError, UsageError};
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, encode_frame};
use crate::mask::apply_mask;
use crate::message::{Limits, Message, MessageDecoder, Role};
use crate::read_buffer::ReadBuffer;
use crate::trace::{Direction, FrameEvent};

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

/// Payloads at least this large are written straight from the caller's
/// buffer instead of being copied into the write buffer.
const DIRECT_WRITE_THRESHOLD: usize = 16 << 10;

/// A write buffer larger than this is released after it is flushed.
const WRITE_BUFFER_KEEP: usize = 64 << 10;

/// A WebSocket connection over a blocking stream, as a server or a client.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    role: Role,
    state: State,
    decoder: MessageDecoder,
    read_buf: ReadBuffer,
    write_buf: Vec<u8>,
    mask_keys: MaskKeys,
    trace: Option<Trace>,
}

/// The observer [`WebSocket::set_trace`] installs.
struct Trace(Box<dyn FnMut(&FrameEvent<'_>) + Send + Sync>);

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trace")
    }
}

impl Trace {
    /// Reports a frame we are about to send, before it is masked.
    fn sent(&mut self, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) {
        let header = FrameHeader::new(true, opcode, mask, payload.len() as u64);
        (self.0)(&FrameEvent {
            direction: Direction::Sent,
            header,
            payload_start: &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)],
        });
    }
}

impl<S: Read + Write> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `already_read` holds
    /// bytes received after the handshake (they are the first frames).
    pub fn from_raw(stream: S, role: Role, limits: Limits, already_read: Vec<u8>) -> WebSocket<S> {
        WebSocket {
            stream,
            role,
            state: State::Open,
            decoder: MessageDecoder::new(role, limits),
            read_buf: ReadBuffer::new(already_read),
            write_buf: Vec::new(),
            mask_keys: MaskKeys::default(),
            trace: None,
        }
    }

    /// Shows `observe` every frame this connection sends or receives from now
    /// on: its header and the start of its payload, unmasked (see
    /// [`FrameEvent`]). [`crate::trace::print_to_stderr`] is the observer
    /// behind `ws6455 --trace`. Without one, nothing is spent on tracing.
    pub fn set_trace(&mut self, observe: impl FnMut(&FrameEvent<'_>) + Send + Sync + 'static) {
        self.trace = Some(Trace(Box::new(observe)));
    }

    /// Reads the next message. Pings are answered with a Pong automatically
    /// and still returned; a Close is answered and returned, after which the
    /// connection is closed and further calls return [`Error::Closed`].
    ///
    /// A protocol error fails the connection (§7.1.7): the matching Close
    /// frame is sent before the error is returned.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if !self.state.can_read() {
                return Err(Error::Closed);
            }
            let input = self.read_buf.unread_mut();
            let decoded = match &mut self.trace {
                None => self.decoder.decode(input),
                Some(trace) => self
                    .decoder
                    .decode_observed(input, &mut |header, payload_start| {
                        (trace.0)(&FrameEvent {
                            direction: Direction::Received,
                            header: *header,
                            payload_start,
                        })
                    }),
            };
            let progress = match decoded {
                Ok(progress) => progress,
                Err(e) => return Err(self.fail(e)),
            };
            self.read_buf.consume(progress.used);
            if let Some(message) = progress.message {
                return self.on_message(message);
            }
            // Everything received is decoded: send what was queued before blocking.
            self.flush()?;
            match self.read_buf.fill_from(&mut self.stream) {
                Ok(0) => {
                    self.state = State::Closed;
                    return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        self.state = State::Closed;
                    }
                    return Err(Error::Io(e));
                }
            }
        }
    }

    /// Queues a message and flushes it.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues a message to be written with the next flush (which
    /// [`WebSocket::read`] does before it blocks). Large payloads are written
    /// at once, straight from the message, after whatever was queued before.
    pub fn queue(&mut self, message: Message) -> Result<(), Error> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(frame) => {
                return self.start_close(frame.as_ref().map(|f| (f.code, f.reason.as_str())));
            }
        };
        if !self.state.can_read() {
            return Err(Error::Closed);
        }
        if !self.state.can_send_data() {
            // §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames."
            return Err(UsageError::SendAfterClose.into());
        }
        if opcode.is_control() && payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(payload.len()).into());
        }
        self.write_frame(opcode, payload)
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        if !self.write_buf.is_empty() {
            let result = self.stream.write_all(&self.write_buf);
            self.write_buf.clear();
            if self.write_buf.capacity() > WRITE_BUFFER_KEEP {
                self.write_buf = Vec::new();
            }
            if let Err(e) = result {
                self.state = State::Closed;
                return Err(Error::Io(e));
            }
        }
        self.stream.flush().map_err(Error::Io)
    }

    /// Starts the closing handshake (§7.1.2): sends a Close frame with `code`
    /// and `reason`. Keep calling [`WebSocket::read`] until it returns the
    /// peer's Close (or an error); messages that arrive meanwhile are returned.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(Some((code, reason)))
    }

    /// Finishes a closing handshake we started (§7.1.2): reads, discarding
    /// messages, until the peer's Close arrives. Set a read timeout on the
    /// stream first; a peer that never answers is then an `Io` error.
    pub fn finish_close(&mut self) -> Result<(), Error> {
        while self.state == State::CloseSent {
            self.read()?;
        }
        Ok(())
    }

    /// Whether we sent a Close frame and the peer has not answered yet.
    pub fn is_closing(&self) -> bool {
        self.state == State::CloseSent
    }

    /// Which end of the connection this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether messages can still be sent: no Close has been sent or received.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably. Reading or writing it directly breaks the framing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Gives back the stream.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Sends a Close frame with a status code and reason, or with none
    /// (`None`: an empty payload, §5.5.1).
    fn start_close(&mut self, close: Option<(CloseCode, &str)>) -> Result<(), Error> {
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
        self.state = State::CloseSent;
        self.flush()
    }

    /// Handles what a received message requires of us.
    fn on_message(&mut self, message: Message) -> Result<Message, Error> {
        match (&message, self.state) {
            // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
            // Pong frame in response", with "identical Application data" (§5.5.3).
            (Message::Ping(payload), State::Open) => {
                self.write_frame(OpCode::Pong, payload.clone())?;
            }
            // §5.5.1: "If an endpoint receives a Close frame and did not
            // previously send a Close frame, the endpoint MUST send a Close
            // frame in response." It echoes the status code it received.
            (Message::Close(frame), State::Open) => {
                let replied = self.queue_close(frame.as_ref().map(|f| (f.code, "")));
                self.state = State::Closed;
                // The peer may already be gone; the close is complete either way.
                if replied.is_ok() {
                    let _ = self.flush();
                }
            }
            // §7.1.2: our Close was answered; the closing handshake is complete.
            (Message::Close(_), State::CloseSent) => self.state = State::Closed,
            _ => {}
        }
        Ok(message)
    }

    /// Fails the connection (§7.1.7): sends a Close frame with the error's
    /// code, unless one was sent already, and stops reading.
    fn fail(&mut self, error: ProtocolError) -> Error {
        if self.state == State::Open {
            let reason = error.to_string();
            let close = (
                error.close_code(),
                truncate_reason(&reason, MAX_CLOSE_REASON),
            );
            if self.queue_close(Some(close)).is_ok() {
                let _ = self.flush();
            }
        }
        self.state = State::Closed;
        Error::Protocol(error)
    }

    /// Queues a Close frame; at most 125 bytes, so it is always buffered.
    fn queue_close(&mut self, close: Option<(CloseCode, &str)>) -> Result<(), Error> {
        let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
        if let Some((code, reason)) = close {
            CloseFrame {
                code,
                reason: reason.to_owned(),
            }
            .encode(&mut payload);
        }
        self.write_frame(OpCode::Close, payload)
    }

    fn mask_key(&mut self) -> Result<Option<[u8; 4]>, Error> {
        // §5.3: a client masks every frame; §5.1: a server MUST NOT mask.
        match self.role {
            Role::Client => Ok(Some(self.mask_keys.next()?)),
            Role::Server => Ok(None),
        }
    }

    fn write_frame(&mut self, opcode: OpCode, mut payload: Vec<u8>) -> Result<(), Error> {
        let mask = self.mask_key()?;
        if let Some(trace) = &mut self.trace {
            trace.sent(opcode, mask, &payload);
        }
        if payload.len() < DIRECT_WRITE_THRESHOLD {
            encode_frame(&mut self.write_buf, opcode, mask, &payload);
            return Ok(());
        }
        let header = FrameHeader::new(true, opcode, mask, payload.len() as u64);
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.write_buf.extend_from_slice(&head[..head_len]);
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        let result = write_all_vectored(&mut self.stream, &self.write_buf, &payload);
        self.write_buf.clear();
        result.map_err(|e| {
            self.state = State::Closed;
            Error::Io(e)
        })
    }
}

/// Writes `a` then `b`, in as few calls as the stream allows.
fn write_all_vectored<W: Write>(stream: &mut W, a: &[u8], b: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(a), IoSlice::new(b)];
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match stream.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Masking keys for a client (RFC 6455 §5.3, §10.3): each frame gets a fresh
/// key from a strong source the server cannot predict. Keys come from the
/// operating system's generator in batches, so there is no system call per frame.
#[derive(Debug)]
struct MaskKeys {
    batch: [u8; MASK_KEY_BATCH * 4],
    /// Where the next unused key starts; the batch's end when it is used up.
    next: usize,
}

/// Keys fetched per system call.
const MASK_KEY_BATCH: usize = 256;

impl Default for MaskKeys {
    fn default() -> MaskKeys {
        MaskKeys {
            batch: [0; MASK_KEY_BATCH * 4],
            next: MASK_KEY_BATCH * 4,
        }
    }
}

impl MaskKeys {
    fn next(&mut self) -> io::Result<[u8; 4]> {
        if self.next == self.batch.len() {
            // §10.3: the key MUST be unpredictable. Without the OS generator
            // there is no acceptable source, so its failure is an error.
            getrandom::fill(&mut self.batch)
                .map_err(|e| io::Error::other(format!("no random masking key: {e}")))?;
            self.next = 0;
        }
        let key = &self.batch[self.next..self.next + 4];
        self.next += 4;
        Ok([key[0], key[1], key[2], key[3]])
    }
}
