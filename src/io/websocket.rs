//! The blocking connection: [`WebSocket`], the protocol [`Engine`] over any
//! `Read + Write` stream.
//!
//! This is the only layer that does I/O. Reads are buffered: one `read` call
//! may bring many frames, and every one of them is decoded before the next
//! call. Writes are corked: messages queued with [`WebSocket::queue`] (and
//! automatic replies such as Pongs) collect in the engine's output, which is
//! written in one call when [`WebSocket::read`] has decoded everything it
//! holds and is about to block, or on [`WebSocket::flush`].
//!
//! On a non-blocking stream, a `read` that meets `WouldBlock` returns it and
//! can be called again (while over 64 KiB wait to be sent and the stream
//! takes none, that `WouldBlock` is the write's: call `flush` when the
//! stream is writable); a `send`, `queue` or `flush` that meets it has taken
//! the message all the same: what was not written stays queued, and the
//! next [`WebSocket::flush`] continues where the last write stopped.

use std::io::{self, IoSlice, Read, Write};

use std::sync::Arc;

use crate::error::Error;
use crate::io::close_request::{BeforeRead, CloseRequest};
use crate::io::read_buffer::ReadBuffer;
use crate::proto::Outgoing;
use crate::proto::TraceEvent;
use crate::proto::close::CloseCode;
use crate::proto::engine::Engine;
use crate::proto::message::{Message, MessageKind, MessageRef, StreamEvent};
use crate::proto::sender::FirstClose;
use crate::proto::settings::{Limits, Role};

/// A message whose payload is at least this large is written as soon as it
/// is queued, straight from its own buffer.
const DIRECT_WRITE_THRESHOLD: usize = 16 << 10;

/// While more than this waits to be sent and the stream takes none of it,
/// [`WebSocket::read`] returns the write's error instead of reading on.
const MAX_UNSENT_WHILE_READING: usize = 64 << 10;

/// A WebSocket connection over a blocking stream, as a server or a client.
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) stream: S,
    pub(crate) engine: Engine,
    pub(crate) read_buf: ReadBuffer,
    /// Set by a server that can be shut down: another thread may send the
    /// Close while this one reads (see [`crate::io::close_request`]).
    close_request: Option<Arc<CloseRequest>>,
}

impl<S: Read + Write> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done. `already_read` holds
    /// bytes received after the handshake (they are the first frames).
    pub fn from_raw(stream: S, role: Role, limits: Limits, already_read: Vec<u8>) -> WebSocket<S> {
        WebSocket::from_engine(stream, Engine::new(role, limits), already_read)
    }

    /// Wraps a stream whose opening handshake is done, with an engine set up
    /// for it (an extension, a trace). `already_read` holds bytes received
    /// after the handshake.
    pub fn from_engine(stream: S, engine: Engine, already_read: Vec<u8>) -> WebSocket<S> {
        WebSocket {
            stream,
            engine,
            read_buf: ReadBuffer::new(already_read),
            close_request: None,
        }
    }

    /// Lets another thread close this connection through `request`.
    pub(crate) fn watch_close_request(&mut self, request: Arc<CloseRequest>) {
        self.close_request = Some(request);
    }

    /// Shows `observe` every frame this connection sends or receives from now
    /// on: its header and the start of its payload, unmasked, and each
    /// message compressed, whole (see [`TraceEvent`]), whose `Display` is
    /// the line `ws6455 --trace` prints. Without an observer, nothing is
    /// spent on tracing.
    pub fn set_trace(&mut self, observe: impl FnMut(&TraceEvent<'_>) + Send + 'static) {
        self.engine.set_trace(observe);
    }

    /// Reads the next message. Pings are answered with a Pong automatically
    /// and still returned; a Close is answered and returned, after which the
    /// connection is closed and further calls return [`Error::Closed`].
    ///
    /// A protocol error fails the connection (§7.1.7): the matching Close
    /// frame is sent before the error is returned.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            let progress = match self.engine.receive(self.read_buf.unread_mut()) {
                Ok(progress) => progress,
                Err(e @ Error::Protocol(_)) => {
                    // The Close that fails the connection; the error stands either way.
                    let _ = self.flush();
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            self.read_buf.consume(progress.used);
            if let Some(message) = progress.message {
                if self.engine.is_closed() {
                    // Our answer to the peer's Close; the peer may be gone already.
                    let _ = self.flush();
                }
                return Ok(message);
            }
            self.wait_for_input()?;
        }
    }

    /// Reads the next piece of a data message into `out`, or the next
    /// control frame, without holding a message whole (see
    /// [`Engine::receive_streamed`]): a data message comes as
    /// [`StreamEvent::Piece`]s, the first of which says its kind, each with
    /// its bytes at the start of `out`, as soon as `out` is full, what was
    /// received so far is used up, or the message ends (the last piece says
    /// so). A text message's pieces may cut a character in two; each byte
    /// was checked to begin valid UTF-8, and a text that turns invalid fails
    /// the connection at that byte (1007), as [`WebSocket::read`] does.
    ///
    /// Pings are answered and returned as [`StreamEvent::Control`], between
    /// pieces too, and a Close as in [`WebSocket::read`]. The message limit
    /// ([`Limits::max_message_size`]) counts the bytes given out; raise it
    /// (to `u64::MAX` for none) to read messages of any size in pieces.
    /// `out` should not be empty; its size bounds a piece (the read buffer's
    /// largest, 256 KiB, is a good size for large messages).
    pub fn read_piece(&mut self, out: &mut [u8]) -> Result<StreamEvent, Error> {
        // With nothing received to decode, wait for input before decoding:
        // the decoder's frames then stay off the stack of a connection
        // that waits (see `benches/idle_stack.rs`).
        if self.read_buf.unread_mut().is_empty()
            && !self.engine.streams_without_input()
            && self.engine.is_open()
        {
            self.wait_for_input()?;
        }
        loop {
            let streamed = match self
                .engine
                .receive_streamed(self.read_buf.unread_mut(), out)
            {
                Ok(streamed) => streamed,
                Err(e @ Error::Protocol(_)) => {
                    // The Close that fails the connection; the error stands either way.
                    let _ = self.flush();
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            self.read_buf.consume(streamed.used);
            if let Some(event) = streamed.event {
                if self.engine.is_closed() {
                    // Our answer to the peer's Close; the peer may be gone already.
                    let _ = self.flush();
                }
                return Ok(event);
            }
            self.wait_for_input()?;
        }
    }

    /// With everything received decoded: writes what is queued, then reads
    /// more from the stream (or sends the Close another thread asked for).
    fn wait_for_input(&mut self) -> Result<(), Error> {
        // Everything received is decoded: send what was queued before
        // blocking. What the stream does not take now stays queued, and
        // reading goes on, unless that is already much: a peer that
        // sends without reading must not grow our queue without end.
        match self.flush() {
            Err(Error::Io(e))
                if is_retryable(&e) && self.engine.output().len() <= MAX_UNSENT_WHILE_READING => {}
            other => other?,
        }
        let watched = match &self.close_request {
            Some(request) if self.engine.is_open() && self.engine.output().is_empty() => {
                match request.enter_read() {
                    BeforeRead::Read => true,
                    BeforeRead::SendClose(code, reason) => return self.close(code, reason),
                }
            }
            _ => false,
        };
        let filled = self.read_buf.fill_from(&mut self.stream);
        if watched {
            self.count_close_sent_for_us()?;
        }
        match filled {
            Ok(0) => {
                self.engine.read_failed();
                Err(Error::Io(io::ErrorKind::UnexpectedEof.into()))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => {
                if !is_retryable(&e) {
                    self.engine.read_failed();
                }
                Err(Error::Io(e))
            }
        }
    }

    /// After a read entered with [`CloseRequest::enter_read`]: if another
    /// thread wrote our Close meanwhile, the engine counts it as sent. Its
    /// bytes are on the wire already, so they leave the engine's output
    /// (which was empty); the trace still shows the frame.
    #[inline(never)]
    fn count_close_sent_for_us(&mut self) -> Result<(), Error> {
        let Some(request) = &self.close_request else {
            return Ok(());
        };
        if let Some((code, reason)) = request.leave_read() {
            self.engine.close(code, reason)?;
            let written = self.engine.output().len();
            self.engine.output().advance(written);
        }
        Ok(())
    }

    /// Queues a message and flushes it.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues a message to be written with the next flush (which
    /// [`WebSocket::read`] does before it blocks). A large payload is written
    /// at once, straight from the message, after whatever was queued before.
    pub fn queue(&mut self, message: Message) -> Result<(), Error> {
        let large = match &message {
            Message::Text(text) => text.len() >= DIRECT_WRITE_THRESHOLD,
            Message::Binary(data) => data.len() >= DIRECT_WRITE_THRESHOLD,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => false,
        };
        self.engine.send(message)?;
        if large { self.flush() } else { Ok(()) }
    }

    /// Queues the next piece of a data message sent in pieces, as one frame
    /// (see [`Engine::send_piece`]): the message's first if none of it was
    /// sent, a continuation after, the last with FIN. A piece of 16 KiB or
    /// more is written at once, after whatever was queued before; smaller
    /// ones wait for the next flush. Until the last piece, no other data
    /// message may be sent; control frames may, and go between the pieces.
    pub fn queue_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        self.engine.send_piece(kind, payload, last)?;
        if payload.len() >= DIRECT_WRITE_THRESHOLD {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Sends the next piece of a data message sent in pieces, as
    /// [`WebSocket::queue_piece`] queues it, and flushes.
    pub fn send_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        self.engine.send_piece(kind, payload, last)?;
        self.flush()
    }

    /// Sends a data message of `kind` whose payload is read from `payload`
    /// to its end, in frames of at most `piece_size` bytes (before any
    /// compression), holding one piece at a time; returns the payload's
    /// length. A reader whose length is a multiple of `piece_size` ends the
    /// message with an empty frame. If reading `payload` fails, the error is
    /// returned as [`Error::Io`] and the message is left unfinished: send
    /// its last piece with [`WebSocket::send_piece`], or close.
    pub fn send_from<R: Read>(
        &mut self,
        kind: MessageKind,
        payload: R,
        piece_size: usize,
    ) -> Result<u64, Error> {
        send_pieces_from(payload, piece_size, |piece, last| {
            self.send_piece(kind, piece, last)
        })
    }

    /// Sends a data message whose payload is borrowed: it is copied into the
    /// output and flushed.
    pub fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), Error> {
        self.engine.send_ref(message)?;
        self.flush()
    }

    /// Writes everything queued. On a non-blocking stream, an
    /// `Io(WouldBlock)` error means some is still queued: call again when
    /// the stream is writable.
    pub fn flush(&mut self) -> Result<(), Error> {
        let written = write_output(self.engine.output(), &mut self.stream);
        if let Err(e) = &written {
            if !is_retryable(e) {
                self.engine.write_failed();
            }
        }
        written.map_err(Error::Io)
    }

    /// Starts the closing handshake (§7.1.2): sends a Close frame with `code`
    /// and `reason`. Keep calling [`WebSocket::read`] until it returns the
    /// peer's Close (or an error); messages that arrive meanwhile are returned.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.engine.close(code, reason)?;
        self.flush()
    }

    /// Finishes a closing handshake we started (§7.1.2): reads, discarding
    /// messages, until the peer's Close arrives. Set a read timeout on the
    /// stream first; a peer that never answers is then an `Io` error.
    pub fn finish_close(&mut self) -> Result<(), Error> {
        while self.engine.is_closing() {
            self.read()?;
        }
        Ok(())
    }

    /// Whether we sent a Close frame and the peer has not answered yet.
    pub fn is_closing(&self) -> bool {
        self.engine.is_closing()
    }

    /// The connection's first Close frame, once one was sent or received:
    /// who sent it, with what code and reason.
    pub fn first_close(&self) -> Option<&FirstClose> {
        self.engine.first_close()
    }

    /// Bytes received on the stream so far, frames and all.
    pub fn bytes_received(&self) -> u64 {
        self.read_buf.received()
    }

    /// The bytes waiting to be sent: what a write did not take yet (a
    /// non-blocking stream, a write timeout). Past
    /// [`Limits::max_write_buffer`], sends are refused with
    /// [`Error::WriteBufferFull`] until [`WebSocket::flush`] makes room.
    pub fn queued_bytes(&self) -> usize {
        self.engine.queued_bytes()
    }

    /// Bytes written to the stream so far, frames and all.
    pub fn bytes_sent(&self) -> u64 {
        self.engine.bytes_sent()
    }

    /// Which end of the connection this is.
    pub fn role(&self) -> Role {
        self.engine.role()
    }

    /// Whether messages can still be sent: no Close has been sent or received.
    pub fn is_open(&self) -> bool {
        self.engine.is_open()
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
}

/// Reads `payload` to its end in pieces of `piece_size` bytes (the last
/// possibly shorter, or empty), giving each to `send` with whether it is
/// the last; returns the bytes read.
pub(crate) fn send_pieces_from<R: Read>(
    mut payload: R,
    piece_size: usize,
    mut send: impl FnMut(&[u8], bool) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut piece = vec![0; piece_size.max(1)];
    let mut total = 0;
    loop {
        let mut filled = 0;
        while filled < piece.len() {
            match payload.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        let last = filled < piece.len();
        send(&piece[..filled], last)?;
        total += filled as u64;
        if last {
            return Ok(total);
        }
    }
}

/// Whether an I/O error leaves the connection usable: the call can be made
/// again (a non-blocking stream that is not ready, a timeout).
pub(crate) fn is_retryable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Writes `output` to `stream`, in as few calls as the stream allows, then
/// flushes the stream. Stops at the first error with the rest still queued.
///
/// Never inlined: its slices stay off the stack of a reader that flushes
/// before it blocks (see `benches/idle_stack.rs`).
#[inline(never)]
pub(crate) fn write_output<W: Write>(output: &mut Outgoing, stream: &mut W) -> io::Result<()> {
    while !output.is_empty() {
        let mut slices = [IoSlice::new(&[]); 16];
        let filled = output.io_slices(&mut slices);
        match stream.write_vectored(&slices[..filled]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => output.advance(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}
