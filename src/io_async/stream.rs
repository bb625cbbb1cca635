//! [`WebSocketStream`] is a [`Stream`] of received messages and a [`Sink`]
//! of messages to send, as tokio-tungstenite's is. Everything it holds
//! between polls lives in the struct: bytes received and not yet decoded,
//! frames queued and not yet written. So a `next()` or a `send()` future
//! dropped part-way loses no message and leaves no half frame: what was
//! read is decoded by the next poll, and what was queued is written by the
//! next flush.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::Error;
use crate::io::read_buffer::ReadBuffer;
use crate::proto::close::CloseCode;
use crate::proto::engine::Engine;
use crate::proto::message::Message;
use crate::proto::sender::FirstClose;
use crate::proto::settings::{Limits, Role};

/// A WebSocket connection over an async stream: a [`Stream`] of the
/// messages received and a [`Sink`] of those to send.
///
/// Pings are answered with Pongs, and a Close with a Close, as the blocking
/// connection answers them; the answers are written by the next poll that
/// writes (reading polls write them too, so an application that only reads
/// still answers). The stream ends after the closing handshake.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    stream: S,
    engine: Engine,
    read_buf: ReadBuffer,
    /// A protocol error, told once the Close it queued is written.
    failure: Option<Error>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// A connection over `stream`, whose opening handshake is done, in
    /// `role`; `already_read` are bytes read past the handshake.
    pub fn from_raw(stream: S, role: Role, limits: Limits, already_read: Vec<u8>) -> Self {
        WebSocketStream::from_engine(stream, Engine::new(role, limits), already_read)
    }

    /// A connection over `stream` driven by `engine` (with the extension
    /// the handshake agreed).
    pub fn from_engine(stream: S, engine: Engine, already_read: Vec<u8>) -> Self {
        WebSocketStream {
            stream,
            engine,
            read_buf: ReadBuffer::new(already_read),
            failure: None,
        }
    }

    /// Starts the closing handshake with `code` and `reason` (RFC 6455
    /// §5.5.1): sends the Close, with whatever was queued before it. Read
    /// on until the stream ends to see the peer's Close.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.engine.close(code, reason)?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Gives back the memory the last messages grew, as
    /// [`WebSocket::release_buffers`](crate::WebSocket::release_buffers)
    /// does: the read buffer (when it holds no unread bytes), the buffer the
    /// next message would be assembled in, and the output's (when nothing
    /// waits to be sent). Call it when the connection goes quiet.
    pub fn release_buffers(&mut self) {
        self.engine.release_buffers();
        self.read_buf.release();
    }

    /// Whether we sent a Close and the peer has not answered yet: read on
    /// (within a timeout of your choice) to finish the closing handshake.
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

    /// Bytes written to the stream so far, frames and all.
    pub fn bytes_sent(&self) -> u64 {
        self.engine.bytes_sent()
    }

    /// The stream under the connection (to see, say, whether it is TLS).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, given back: for what follows the closing handshake
    /// (waiting for the server to end TCP, RFC 6455 §7.1.1).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Writes what is queued, as far as the stream takes it now.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let output = self.engine.output();
        while !output.is_empty() {
            let mut slices = [io::IoSlice::new(&[]); 16];
            let filled = output.io_slices(&mut slices);
            match ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..filled])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => output.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // The last frames (the Close that fails the connection, the
            // Close reply) must be out before the end is told.
            if this.failure.is_some() || this.engine.is_closed() {
                if let Err(e) = ready!(this.poll_write_queued(cx)) {
                    this.engine.write_failed();
                    this.failure = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
                return Poll::Ready(this.failure.take().map(Err));
            }
            match this.engine.receive(this.read_buf.unread_mut()) {
                Ok(progress) => {
                    this.read_buf.consume(progress.used);
                    if let Some(message) = progress.message {
                        return Poll::Ready(Some(Ok(message)));
                    }
                }
                // §7.1.7: the Close that fails the connection is queued;
                // the error is told once it is written.
                Err(e @ Error::Protocol(_)) => {
                    this.failure = Some(e);
                    continue;
                }
                Err(Error::Closed) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            // Nothing more to decode: what is queued (echoes fed, answers)
            // goes out before waiting for input, as a blocking read flushes
            // before it blocks; reading goes on while the stream takes it.
            if !this.engine.output().is_empty() {
                if let Poll::Ready(Err(e)) = this.poll_write_queued(cx) {
                    this.engine.write_failed();
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            let stream = &mut this.stream;
            let mut free = ReadBuf::new(this.read_buf.free_space());
            match ready!(Pin::new(stream).poll_read(cx, &mut free)) {
                Ok(()) if free.filled().is_empty() => {
                    this.engine.read_failed();
                    return Poll::Ready(None);
                }
                Ok(()) => {
                    let n = free.filled().len();
                    this.read_buf.filled(n);
                }
                Err(e) => {
                    this.engine.read_failed();
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    /// Ready while what is queued is under the write buffer's bound
    /// ([`Limits::max_write_buffer`]); above it, queued bytes are written
    /// first.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.engine.write_buffer_full() {
            return Poll::Ready(Ok(()));
        }
        match ready!(this.poll_write_queued(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                this.engine.write_failed();
                Poll::Ready(Err(e.into()))
            }
        }
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().engine.send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        match ready!(this.poll_write_queued(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                this.engine.write_failed();
                Poll::Ready(Err(e.into()))
            }
        }
    }

    /// Sends a Close 1000 if none was sent, and writes what is queued.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.engine.is_open() {
            this.engine.close(CloseCode::NORMAL, "")?;
        }
        Pin::new(this).poll_flush(cx)
    }
}
