//! Full duplex: one connection read on one thread and written from others.
//!
//! [`WebSocket::split`] gives a [`ReadHalf`] and a [`WriteHalf`]; its
//! documentation says what they promise. They share the engine's sending
//! side, the one place where the closing state lives, behind two locks:
//! one held briefly to queue a frame, one held while the stream takes the
//! bytes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::error::Error;
use crate::io::read_buffer::ReadBuffer;
use crate::io::websocket::{WebSocket, is_retryable, send_pieces_from, write_output};
use crate::proto::Outgoing;
use crate::proto::SharedMessage;
use crate::proto::close::CloseCode;
use crate::proto::engine::Receiver;
use crate::proto::message::{Message, MessageKind, MessageRef, StreamEvent};
use crate::proto::sender::{FirstClose, Sender};

/// A stream whose two directions can be used from two threads at once.
pub trait SplitStream: Read + Write {
    /// The end the read half reads from.
    type Reader: Read + Send;
    /// The end the write half writes to.
    type Writer: Write + Send;

    /// Separates the two ends.
    fn split_stream(self) -> io::Result<(Self::Reader, Self::Writer)>;
}

/// Two handles on one socket (`try_clone`): reads and writes do not wait for each other.
impl SplitStream for TcpStream {
    type Reader = TcpStream;
    type Writer = TcpStream;

    fn split_stream(self) -> io::Result<(TcpStream, TcpStream)> {
        let writer = self.try_clone()?;
        Ok((self, writer))
    }
}

/// A borrowed socket reads and writes through shared references.
impl<'a> SplitStream for &'a TcpStream {
    type Reader = &'a TcpStream;
    type Writer = &'a TcpStream;

    fn split_stream(self) -> io::Result<(&'a TcpStream, &'a TcpStream)> {
        Ok((self, self))
    }
}

impl<S: SplitStream> WebSocket<S> {
    /// Splits the connection into a half that reads and a half that writes,
    /// for use on separate threads. Bytes already received and frames
    /// already queued carry over.
    ///
    /// [`WebSocket::split`] gives a [`ReadHalf`], which owns the receiving side
    /// of the engine, and a [`WriteHalf`], which any number of threads may
    /// clone and use at once. They share the engine's sending side, the one
    /// place where the closing state lives, so:
    ///
    /// - **Automatic answers never land inside another frame.** A Pong or a
    ///   Close reply from the read half is queued as a whole frame behind the
    ///   frames queued before it, and written by whoever writes next.
    /// - **Exactly one Close is sent**, whichever half starts the closing
    ///   handshake, and after it both halves report the connection closed.
    /// - **A blocked writer never stops the reader.** Writing is one lock,
    ///   held while the stream takes the bytes; the read half never waits for
    ///   it. When a writer holds it, the read half's answers are left queued and
    ///   that writer sends them before it lets go; when nobody does, the read
    ///   half writes them itself.
    /// - **Each writer keeps its order**: a thread's messages are queued in the
    ///   order it sends them, and the queue is written in order.
    ///
    /// The stream must be usable from two threads at once: [`SplitStream`] says
    /// how to get its reading and writing ends.
    pub fn split(self) -> Result<(ReadHalf<S>, WriteHalf<S>), Error> {
        let (receiver, sender) = self.engine.into_sides();
        let (reader, writer) = self.stream.split_stream()?;
        let shared = Arc::new(Shared {
            sender: Mutex::new(sender),
            writing: Mutex::new(Writing {
                stream: writer,
                in_flight: Outgoing::default(),
            }),
        });
        let read_half = ReadHalf {
            stream: reader,
            receiver,
            read_buf: self.read_buf,
            shared: Arc::clone(&shared),
        };
        Ok((read_half, WriteHalf { shared }))
    }
}

/// What both halves share: the sending side of the engine, and the writing end.
struct Shared<W> {
    /// Held briefly, to queue a frame or look at the closing state.
    sender: Mutex<Sender>,
    /// Held while the stream takes bytes.
    writing: Mutex<Writing<W>>,
}

/// The writing end and the bytes taken from the queue but not yet written.
struct Writing<W> {
    stream: W,
    in_flight: Outgoing,
}

impl<W: Write> Shared<W> {
    fn sender(&self) -> MutexGuard<'_, Sender> {
        // Every change to the sender is complete before it can panic.
        self.sender.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes everything queued, waiting for another writer to finish first.
    fn flush(&self) -> Result<(), Error> {
        let writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        self.write_queued(writing)?;
        self.flush_if_free()
    }

    /// Writes everything queued unless another thread is writing (which then
    /// writes it before it lets go).
    fn flush_if_free(&self) -> Result<(), Error> {
        loop {
            let writing = match self.writing.try_lock() {
                Ok(writing) => writing,
                Err(TryLockError::WouldBlock) => return Ok(()),
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            };
            self.write_queued(writing)?;
            // A frame queued while we wrote, by a thread that found us
            // writing and left it to us: we let go, so look again.
            if self.sender().output().is_empty() {
                return Ok(());
            }
        }
    }

    /// With the writing lock held: writes what is in flight, then what is
    /// queued, until nothing is left. The sender's lock is taken only to
    /// move queued frames over, never while the stream is written.
    fn write_queued(&self, mut writing: MutexGuard<'_, Writing<W>>) -> Result<(), Error> {
        let Writing { stream, in_flight } = &mut *writing;
        loop {
            if in_flight.is_empty() {
                let mut sender = self.sender();
                in_flight.append(sender.output());
                sender.set_queued_elsewhere(in_flight.len());
                if in_flight.is_empty() {
                    return Ok(());
                }
            }
            if let Err(e) = write_output(in_flight, stream) {
                let mut sender = self.sender();
                // What the write took no longer counts against the limit.
                sender.set_queued_elsewhere(in_flight.len());
                if !is_retryable(&e) {
                    sender.set_closed();
                }
                return Err(Error::Io(e));
            }
        }
    }
}

/// The half of a split connection that reads; see [`WebSocket::split`].
pub struct ReadHalf<S: SplitStream> {
    stream: S::Reader,
    receiver: Receiver,
    read_buf: ReadBuffer,
    shared: Arc<Shared<S::Writer>>,
}

impl<S: SplitStream> std::fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

impl<S: SplitStream> ReadHalf<S> {
    /// Reads the next message, as [`WebSocket::read`] does: Pings are
    /// answered and returned, a Close is answered (unless we sent one) and
    /// returned, after which this returns [`Error::Closed`]; a protocol
    /// error fails the connection with its Close. The answers go out
    /// through the write half's queue, behind whole frames.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if let Some(message) = self.read_buffered()? {
                return Ok(message);
            }
            self.fill()?;
        }
    }

    /// Reads the next piece of a data message into `out`, or the next
    /// control frame, as [`WebSocket::read_piece`] does; the answers go out
    /// through the write half's queue, behind whole frames.
    pub fn read_piece(&mut self, out: &mut [u8]) -> Result<StreamEvent, Error> {
        loop {
            if !self.shared.sender().can_read() {
                return Err(Error::Closed);
            }
            let decoded = self
                .receiver
                .decode_streamed(self.read_buf.unread_mut(), out);
            let answered = match decoded {
                // Data, a Pong or nothing yet: nothing for the sender to answer.
                Ok(streamed) if !streamed.asks_an_answer() => Ok(streamed),
                decoded => {
                    let answered = self.shared.sender().on_received_streamed(decoded);
                    // The peer may be gone already; what was read stands.
                    let _ = self.shared.flush_if_free();
                    answered
                }
            };
            let streamed = answered?;
            self.read_buf.consume(streamed.used);
            if let Some(event) = streamed.event {
                return Ok(event);
            }
            self.fill()?;
        }
    }

    /// One read from the stream into the read buffer.
    fn fill(&mut self) -> Result<(), Error> {
        match self.read_buf.fill_from(&mut self.stream) {
            Ok(0) => {
                self.shared.sender().set_closed();
                Err(Error::Io(io::ErrorKind::UnexpectedEof.into()))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => {
                if !is_retryable(&e) {
                    self.shared.sender().set_closed();
                }
                Err(Error::Io(e))
            }
        }
    }

    /// The next message, if the bytes already received complete one;
    /// `Ok(None)` if they do not. It never reads from the stream, so it
    /// never blocks: after a blocking [`ReadHalf::read`], it takes the
    /// messages that arrived in the same read, for a reader that handles
    /// them as one batch. Everything else is as in [`ReadHalf::read`].
    pub fn read_buffered(&mut self) -> Result<Option<Message>, Error> {
        if !self.shared.sender().can_read() {
            return Err(Error::Closed);
        }
        let decoded = self.receiver.decode(self.read_buf.unread_mut());
        let answered = match decoded {
            // Data, a Pong or nothing yet: nothing for the sender to answer.
            Ok(progress) if !progress.asks_an_answer() => Ok(progress),
            decoded => {
                let answered = self.shared.sender().on_received(decoded);
                // The peer may be gone already; what was read stands.
                let _ = self.shared.flush_if_free();
                answered
            }
        };
        let progress = answered?;
        self.read_buf.consume(progress.used);
        Ok(progress.message)
    }

    /// Whether the closing handshake is over or the connection failed.
    pub fn is_closed(&self) -> bool {
        self.shared.sender().is_closed()
    }

    /// Bytes received on the stream so far, frames and all.
    pub fn bytes_received(&self) -> u64 {
        self.read_buf.received()
    }

    /// Gives back the memory the last messages received grew, as
    /// [`WebSocket::release_buffers`] does for a whole connection: the read
    /// buffer (when it holds no unread bytes; the next read starts small
    /// again) and the buffer the next message would be assembled in. Call
    /// it when the connection goes quiet.
    pub fn release_buffers(&mut self) {
        self.receiver.release_buffers();
        self.read_buf.release();
    }

    /// The bytes the read half's buffers hold room for, for tests of what a
    /// quiet connection keeps.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.receiver.held_bytes() + self.read_buf.capacity()
    }
}

/// The half of a split connection that writes; see [`WebSocket::split`]. Clone
/// it for every thread that sends: all clones write to the same connection.
pub struct WriteHalf<S: SplitStream> {
    shared: Arc<Shared<S::Writer>>,
}

impl<S: SplitStream> Clone for WriteHalf<S> {
    fn clone(&self) -> Self {
        WriteHalf {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: SplitStream> std::fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf")
            .field("sender", &*self.shared.sender())
            .finish_non_exhaustive()
    }
}

impl<S: SplitStream> WriteHalf<S> {
    /// Sends a message: queues it, then writes everything queued, waiting
    /// for another thread's write to finish first. A `Close` starts the
    /// closing handshake. On a non-blocking stream, `Io(WouldBlock)` means
    /// the message was taken and waits for [`WriteHalf::flush`].
    pub fn send(&self, message: Message) -> Result<(), Error> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues a message for the next flush, without writing.
    pub fn queue(&self, message: Message) -> Result<(), Error> {
        self.shared.sender().send(message)
    }

    /// Queues the next piece of a data message sent in pieces, as one frame,
    /// for the next flush (see [`WebSocket::queue_piece`]). Until its last
    /// piece, no clone may send another data message
    /// ([`UsageError::MessageUnfinished`](crate::proto::UsageError::MessageUnfinished));
    /// the read half's Pongs and any clone's Pings and Close go out between
    /// the pieces.
    pub fn queue_piece(&self, kind: MessageKind, payload: &[u8], last: bool) -> Result<(), Error> {
        self.shared.sender().send_piece(kind, payload, last)
    }

    /// Sends the next piece of a data message sent in pieces: queues it,
    /// then writes everything queued.
    pub fn send_piece(&self, kind: MessageKind, payload: &[u8], last: bool) -> Result<(), Error> {
        self.queue_piece(kind, payload, last)?;
        self.flush()
    }

    /// Sends a data message whose payload is read from `payload` to its end,
    /// in pieces of at most `piece_size` bytes, as
    /// [`WebSocket::send_from`] does; returns the payload's length.
    pub fn send_from<R: Read>(
        &self,
        kind: MessageKind,
        payload: R,
        piece_size: usize,
    ) -> Result<u64, Error> {
        send_pieces_from(payload, piece_size, |piece, last| {
            self.send_piece(kind, piece, last)
        })
    }

    /// Queues a data message whose payload is borrowed (it is copied), for
    /// the next flush.
    pub fn queue_ref(&self, message: MessageRef<'_>) -> Result<(), Error> {
        self.shared.sender().send_ref(message)
    }

    /// Queues a message sent on many connections, for the next flush; see
    /// [`SharedMessage`] (a compressed form is made once for all of them).
    pub fn queue_shared(&self, message: &SharedMessage) -> Result<(), Error> {
        self.shared.sender().send_shared(message)
    }

    /// Starts the closing handshake (§7.1.2) with `code` and `reason`, unless
    /// either half has sent a Close already, and writes it. The read half
    /// returns the peer's answer.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.sender().close(Some((code, reason)))?;
        self.flush()
    }

    /// Writes everything queued, by any clone or by the read half's answers.
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.flush()
    }

    /// Whether messages can still be sent: no Close has been sent or received.
    pub fn is_open(&self) -> bool {
        self.shared.sender().is_open()
    }

    /// Whether the closing handshake is over or the connection failed.
    pub fn is_closed(&self) -> bool {
        self.shared.sender().is_closed()
    }

    /// The connection's first Close frame, once either half sent or
    /// received one: who sent it, with what code and reason.
    pub fn first_close(&self) -> Option<FirstClose> {
        self.shared.sender().first_close().cloned()
    }

    /// The bytes waiting to be sent, queued by any clone or by the read
    /// half's answers, or taken by a write still under way. Past
    /// [`Limits::max_write_buffer`](crate::Limits::max_write_buffer), sends
    /// are refused with [`Error::WriteBufferFull`] until the writes catch up.
    pub fn queued_bytes(&self) -> usize {
        self.shared.sender().queued_bytes()
    }

    /// Bytes written to the stream so far, frames and all. Waits for a
    /// write under way to finish. (Every byte goes out through the writing
    /// end's own queue, which counts them.)
    pub fn bytes_sent(&self) -> u64 {
        let writing = self
            .shared
            .writing
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        writing.in_flight.total_written()
    }
}
