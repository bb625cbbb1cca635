//! Full duplex on tokio: one connection read in one task and written from
//! others.
//!
//! [`WebSocketStream::split`] gives an [`AsyncReadHalf`] and an
//! [`AsyncWriteHalf`] sharing the connection. Each poll holds the
//! connection only while it runs (a poll never blocks), so a task waiting
//! to write never holds up the task reading, and the rules of the blocking
//! halves hold because both halves drive the one engine: its output queue
//! and its closing state.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Error;
use crate::io_async::stream::WebSocketStream;
use crate::proto::close::CloseCode;
use crate::proto::message::Message;

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Splits the connection into a half that receives and a half that
    /// sends, for use in separate tasks. Bytes already received and frames
    /// already queued carry over. The halves keep the blocking halves'
    /// rules ([`WebSocket::split`](crate::WebSocket::split)):
    ///
    /// - **Automatic answers never land inside another frame.** A Pong or a
    ///   Close reply is queued whole behind the frames queued before it, and
    ///   written by whichever half writes next: the read half writes what is
    ///   queued before it waits for input, so an application that only reads
    ///   still answers.
    /// - **Exactly one Close is sent**, whichever half starts the closing
    ///   handshake; after it the read half ends once the peer's Close (or
    ///   the end of TCP) arrives, and the write half refuses messages.
    /// - **A writer waiting for the peer never stops the reader.** The
    ///   connection is held only for the length of a poll; a write the
    ///   socket cannot take now leaves its bytes queued, and the task that
    ///   waits for them is woken when the socket takes them, whichever half
    ///   wrote them.
    /// - **Each writer keeps its order**: the write half may be cloned for
    ///   several tasks, each task's messages are queued in the order it
    ///   sends them, and the queue is written in order.
    pub fn split(self) -> (AsyncReadHalf<S>, AsyncWriteHalf<S>) {
        let shared = Arc::new(Mutex::new(self));
        (
            AsyncReadHalf {
                connection: Arc::clone(&shared),
            },
            AsyncWriteHalf { connection: shared },
        )
    }
}

/// One of the `Sink` polls of a [`WebSocketStream`].
type SinkPoll<S> = fn(Pin<&mut WebSocketStream<S>>, &mut Context<'_>) -> Poll<Result<(), Error>>;

/// Holds the connection for one poll.
fn hold<S>(connection: &Mutex<WebSocketStream<S>>) -> MutexGuard<'_, WebSocketStream<S>> {
    // A poll leaves the connection whole before anything in it can panic
    // (a waker's wake at worst): a poisoned lock holds a usable connection.
    connection.lock().unwrap_or_else(|p| p.into_inner())
}

/// The half of a split [`WebSocketStream`] that receives: a [`Stream`] of
/// the messages received. See [`WebSocketStream::split`].
#[derive(Debug)]
pub struct AsyncReadHalf<S> {
    connection: Arc<Mutex<WebSocketStream<S>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncReadHalf<S> {
    /// Gives back the memory the last messages grew, as
    /// [`WebSocketStream::release_buffers`] does. Call it when the
    /// connection goes quiet.
    pub fn release_buffers(&self) {
        hold(&self.connection).release_buffers();
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for AsyncReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *hold(&self.connection)).poll_next(cx)
    }
}

/// The half of a split [`WebSocketStream`] that sends: a [`Sink`] of
/// messages, which may be cloned for several tasks. See
/// [`WebSocketStream::split`].
#[derive(Debug)]
pub struct AsyncWriteHalf<S> {
    connection: Arc<Mutex<WebSocketStream<S>>>,
}

impl<S> Clone for AsyncWriteHalf<S> {
    fn clone(&self) -> Self {
        AsyncWriteHalf {
            connection: Arc::clone(&self.connection),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWriteHalf<S> {
    /// Starts the closing handshake with `code` and `reason`, as
    /// [`WebSocketStream::close`] does: the Close goes out behind what was
    /// queued before it. The read half then sees the peer's Close and ends.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        // Messages taken before the Close go before it.
        std::future::poll_fn(|cx| hold(&self.connection).poll_queue_waiting(cx)).await?;
        hold(&self.connection).queue_close(code, reason)?;
        std::future::poll_fn(|cx| self.poll_with(cx, WebSocketStream::poll_flush)).await
    }

    /// Runs one of the connection's `Sink` polls while holding it.
    fn poll_with(&self, cx: &mut Context<'_>, poll: SinkPoll<S>) -> Poll<Result<(), Error>> {
        poll(Pin::new(&mut *hold(&self.connection)), cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for AsyncWriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_with(cx, <WebSocketStream<S> as Sink<Message>>::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        Pin::new(&mut *hold(&self.connection)).start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_with(cx, <WebSocketStream<S> as Sink<Message>>::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_with(cx, <WebSocketStream<S> as Sink<Message>>::poll_close)
    }
}
