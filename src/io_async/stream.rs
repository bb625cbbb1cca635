//! [`WebSocketStream`] is a [`Stream`] of received messages and a [`Sink`]
//! of messages to send, as tokio-tungstenite's is. Everything it holds
//! between polls lives in the struct: bytes received and not yet decoded,
//! frames queued and not yet written, a message waiting for room. So a
//! `next()` or a `send()` future dropped part-way loses no message and
//! leaves no half frame: what was read is decoded by the next poll, and
//! what was taken is written by the next flush.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::Error;
use crate::io::read_buffer::ReadBuffer;
use crate::io_async::wakers::{TaskWakers, Waiter, connection_waker};
use crate::proto::close::CloseCode;
use crate::proto::engine::Engine;
use crate::proto::message::{Message, MessageKind, Piece, StreamEvent};
use crate::proto::sender::FirstClose;
use crate::proto::settings::{Limits, Role};

/// How received data messages are given: whole, or in pieces into a
/// buffer of the caller's.
enum Decode<'a> {
    Whole,
    Pieces(&'a mut [u8]),
}

/// What one receive gave: a message (a control frame, when in pieces), or
/// a piece of a data message.
enum Received {
    Message(Message),
    Piece(Piece),
}

/// What one decoding of the bytes at hand gave.
enum Buffered {
    /// A message or a piece to give.
    Given(Received),
    /// Something to write before anything more is given (the Close reply,
    /// the Close that fails the connection).
    WriteFirst,
    /// An error that ends the connection at once.
    Failed(Error),
    /// The connection is over: nothing more will be received.
    Ended,
    /// Nothing more in the bytes at hand: read.
    Nothing,
}

/// The most a read into the stack takes, for a connection whose read
/// buffer was given back: room for a control frame or a small message.
const QUIET_READ: usize = 512;

/// A WebSocket connection over an async stream: a [`Stream`] of the
/// messages received and a [`Sink`] of those to send.
///
/// Pings are answered with Pongs, and a Close with a Close, as the blocking
/// connection answers them; the answers are written by the next poll that
/// writes (reading polls write them too, so an application that only reads
/// still answers). The stream ends after the closing handshake, or after the
/// error that cut the connection short: the end of TCP before the closing
/// handshake's end is an [`Error::Io`] of kind `UnexpectedEof`, as the
/// blocking read reports it.
///
/// An echo over a loopback socket, with a client on the same runtime:
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use ws6455::{CloseCode, Message, accept_async, connect_async};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = tokio::spawn(async move {
///     let (tcp, _) = listener.accept().await?;
///     let (mut ws, _request) = accept_async(tcp).await?;
///     while let Some(message) = ws.next().await {
///         match message? {
///             message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
///             Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {} // answered for you
///         }
///     }
///     Ok::<(), ws6455::Error>(())
/// });
///
/// let (mut ws, _response) = connect_async(&format!("ws://{addr}/")).await?;
/// ws.send(Message::text("Hello")).await?;
/// assert_eq!(ws.next().await.transpose()?, Some(Message::text("Hello")));
/// ws.close(CloseCode::NORMAL, "").await?;
/// while let Some(message) = ws.next().await {
///     assert!(message?.is_close());
/// }
/// server.await??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Cancellation.** Everything the connection holds between polls lives in
/// this struct, so a `next()` or `send()` future dropped part-way (by a
/// `select!` or a timeout) leaves it whole:
/// - a message is taken off the stream only when `next()` returns it: bytes
///   read before the drop stay buffered for the next `next()`;
/// - a message given to `send()` is either taken whole, and written in
///   order by the next flush or send, or, when the future was dropped while
///   waiting for room in the queue, not taken at all: the wire never
///   carries half a frame, nor a frame cut short by a drop.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    stream: S,
    engine: Engine,
    read_buf: ReadBuffer,
    /// A protocol error, told once the Close it queued is written.
    failure: Option<Error>,
    /// The message that ended the closing handshake (the peer's Close),
    /// given once our answer to it is written.
    last_message: Option<Message>,
    /// A message taken by `start_send` that the queue had no room for yet.
    waiting: Option<Message>,
    /// The tasks waiting for a message and waiting to send.
    wakers: Arc<TaskWakers>,
    /// The waker the stream is polled with: it wakes every waiting task.
    connection_waker: Waker,
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
        let wakers = Arc::new(TaskWakers::default());
        WebSocketStream {
            stream,
            engine,
            read_buf: ReadBuffer::new(already_read),
            failure: None,
            last_message: None,
            waiting: None,
            connection_waker: connection_waker(&wakers),
            wakers,
        }
    }

    /// Starts the closing handshake with `code` and `reason` (RFC 6455
    /// §5.5.1): sends the Close, with whatever was queued before it. Read
    /// on until the stream ends to see the peer's Close.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_queue_waiting(cx)).await?;
        self.queue_close(code, reason)?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Reads the next piece of a data message into `out`, or the next
    /// control frame, without holding a message whole, as
    /// [`WebSocket::read_piece`](crate::WebSocket::read_piece) does: a data
    /// message comes as [`StreamEvent::Piece`]s, each with its bytes at the
    /// start of `out`, as soon as `out` is full, what was received so far is
    /// used up, or the message ends (the last piece says so). Pings are
    /// answered and given as [`StreamEvent::Control`], between pieces too; a
    /// Close as by `next()`, after which this returns [`Error::Closed`].
    /// The message limit ([`Limits::max_message_size`]) counts the bytes
    /// given out. Cancellation-safe: a piece is taken off the stream only
    /// when this returns it.
    pub async fn read_piece(&mut self, out: &mut [u8]) -> Result<StreamEvent, Error> {
        let mut decode = Decode::Pieces(out);
        match std::future::poll_fn(|cx| self.poll_receive(cx, &mut decode)).await {
            Some(Ok(Received::Piece(piece))) => Ok(StreamEvent::Piece(piece)),
            Some(Ok(Received::Message(message))) => Ok(StreamEvent::Control(message)),
            Some(Err(e)) => Err(e),
            None => Err(Error::Closed),
        }
    }

    /// Queues the next piece of a data message sent in pieces, as one frame
    /// (see [`Engine::send_piece`]): the message's first if none of it was
    /// sent, a continuation after, the last with FIN. While the queue is at
    /// its bound ([`Limits::max_write_buffer`]), what is queued is written
    /// first. Until the last piece, no other data message may be sent;
    /// control frames may, and go between the pieces. Cancellation-safe: a
    /// dropped future has queued the piece whole or not at all.
    pub async fn feed_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        if self.waiting.is_some() {
            std::future::poll_fn(|cx| self.poll_queue_waiting(cx)).await?;
        }
        if self.engine.write_buffer_full() {
            std::future::poll_fn(|cx| self.poll_write_queued_or_fail(cx)).await?;
        }
        match self.engine.send_piece(kind, payload, last) {
            // An empty queue takes a piece of any size.
            Err(Error::WriteBufferFull { .. }) => {
                std::future::poll_fn(|cx| self.poll_write_queued_or_fail(cx)).await?;
                self.engine.send_piece(kind, payload, last)
            }
            queued => queued,
        }
    }

    /// [`WebSocketStream::feed_piece`], then writes what is queued.
    pub async fn send_piece(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        self.feed_piece(kind, payload, last).await?;
        std::future::poll_fn(|cx| self.poll_write_queued_or_fail(cx)).await
    }

    /// Queues the Close that starts the closing handshake.
    pub(crate) fn queue_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.engine.close(code, reason)
    }

    /// Bytes queued and not yet written, a message waiting for room aside:
    /// what [`Limits::max_write_buffer`] bounds before [`Sink::poll_ready`]
    /// waits for the peer to read.
    pub fn queued_bytes(&self) -> usize {
        self.engine.queued_bytes()
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

    /// Queues the message that waits for room, writing what is queued
    /// until there is room for it (an empty queue takes any message).
    pub(crate) fn poll_queue_waiting(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        while let Some(message) = self.waiting.take() {
            match self.engine.send(message) {
                Err(Error::WriteBufferFull {
                    message: Some(message),
                    ..
                }) => {
                    self.waiting = Some(message);
                    ready!(self.poll_write_queued_or_fail(cx))?;
                }
                sent => return Poll::Ready(sent),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// [`WebSocketStream::poll_write_queued`] for a task sending: a write
    /// that fails for good ends the connection.
    fn poll_write_queued_or_fail(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        match ready!(self.poll_write_queued(Waiter::Sending, cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                self.engine.write_failed();
                Poll::Ready(Err(e.into()))
            }
        }
    }

    /// Decodes what was read, once, with no I/O: a message or a piece to
    /// give, or what has to happen first.
    fn decode_buffered(&mut self, decode: &mut Decode<'_>) -> Buffered {
        let unread = self.read_buf.unread_mut();
        let decoded = match decode {
            Decode::Whole => self
                .engine
                .receive(unread)
                .map(|progress| (progress.used, progress.message.map(Received::Message))),
            Decode::Pieces(out) => self.engine.receive_streamed(unread, out).map(|streamed| {
                let received = streamed.event.map(|event| match event {
                    StreamEvent::Piece(piece) => Received::Piece(piece),
                    StreamEvent::Control(message) => Received::Message(message),
                });
                (streamed.used, received)
            }),
        };
        match decoded {
            Ok((used, received)) => {
                self.read_buf.consume(used);
                match received {
                    // The Close that ends the closing handshake waits for
                    // our answer to be written.
                    Some(Received::Message(message)) if self.engine.is_closed() => {
                        self.last_message = Some(message);
                        Buffered::WriteFirst
                    }
                    Some(received) => Buffered::Given(received),
                    None => Buffered::Nothing,
                }
            }
            // §7.1.7: the Close that fails the connection is queued; the
            // error is told once it is written.
            Err(e @ Error::Protocol(_)) => {
                self.failure = Some(e);
                Buffered::WriteFirst
            }
            Err(Error::Closed) => Buffered::Ended,
            Err(e) => Buffered::Failed(e),
        }
    }

    /// [`WebSocketStream::read_piece`] on what was already read, with no
    /// I/O and no waiting: the next piece or control frame that the bytes
    /// at hand hold, or `None` when they hold nothing more, or when what
    /// comes next must first write (our answer to the peer's Close, the
    /// Close that fails the connection): `read_piece` then gives it. So an
    /// application that answers each read's messages together (an echo)
    /// takes them here, writes its answers, and awaits `read_piece` for
    /// more.
    pub fn read_piece_buffered(&mut self, out: &mut [u8]) -> Result<Option<StreamEvent>, Error> {
        if self.last_message.is_some() || self.failure.is_some() || self.engine.is_closed() {
            return Ok(None);
        }
        match self.decode_buffered(&mut Decode::Pieces(out)) {
            Buffered::Given(Received::Piece(piece)) => Ok(Some(StreamEvent::Piece(piece))),
            Buffered::Given(Received::Message(message)) => Ok(Some(StreamEvent::Control(message))),
            Buffered::Failed(e) => Err(e),
            Buffered::WriteFirst | Buffered::Ended | Buffered::Nothing => Ok(None),
        }
    }

    /// The receiving loop of [`Stream::poll_next`] and
    /// [`WebSocketStream::read_piece`]: decodes what was read, as whole
    /// messages or in pieces, writes what is queued when nothing more is
    /// decodable, and reads.
    fn poll_receive(
        &mut self,
        cx: &Context<'_>,
        decode: &mut Decode<'_>,
    ) -> Poll<Option<Result<Received, Error>>> {
        loop {
            // Our answer to the peer's Close goes out before the Close is
            // given; the peer may be gone already.
            if self.last_message.is_some() {
                if let Err(_gone) = ready!(self.poll_write_queued(Waiter::Receiving, cx)) {
                    self.engine.write_failed();
                }
                return Poll::Ready(self.last_message.take().map(|m| Ok(Received::Message(m))));
            }
            // The last frames (the Close that fails the connection, the
            // Close reply) must be out before the end is told.
            if self.failure.is_some() || self.engine.is_closed() {
                if let Err(e) = ready!(self.poll_write_queued(Waiter::Receiving, cx)) {
                    self.engine.write_failed();
                    self.failure = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
                return Poll::Ready(self.failure.take().map(Err));
            }
            match self.decode_buffered(decode) {
                Buffered::Given(received) => return Poll::Ready(Some(Ok(received))),
                Buffered::WriteFirst => continue,
                Buffered::Failed(e) => return Poll::Ready(Some(Err(e))),
                Buffered::Ended => return Poll::Ready(None),
                Buffered::Nothing => {}
            }
            // Nothing more to decode: what is queued (echoes fed, answers)
            // goes out before waiting for input, as a blocking read flushes
            // before it blocks; reading goes on while the stream takes it.
            if !self.engine.output().is_empty() {
                if let Poll::Ready(Err(e)) = self.poll_write_queued(Waiter::Receiving, cx) {
                    self.engine.write_failed();
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            self.wakers.register(Waiter::Receiving, cx);
            let io_cx = &mut Context::from_waker(&self.connection_waker);
            let read = if self.read_buf.is_released() {
                // A quiet connection's buffer stays given back while it
                // waits: the read that wakes it goes to the stack first.
                let mut quiet = [0; QUIET_READ];
                let mut free = ReadBuf::new(&mut quiet);
                ready!(Pin::new(&mut self.stream).poll_read(io_cx, &mut free)).map(|()| {
                    self.read_buf.take_read(free.filled());
                    free.filled().len()
                })
            } else {
                let mut free = ReadBuf::new(self.read_buf.free_space());
                let read = ready!(Pin::new(&mut self.stream).poll_read(io_cx, &mut free))
                    .map(|()| free.filled().len());
                if let Ok(n) = read {
                    self.read_buf.filled(n);
                }
                read
            };
            match read {
                // The end of TCP before the closing handshake's end: an
                // error, as the blocking read reports it; the stream ends
                // after it.
                Ok(0) => {
                    self.engine.read_failed();
                    return Poll::Ready(Some(Err(Error::Io(io::ErrorKind::UnexpectedEof.into()))));
                }
                Ok(_) => {}
                Err(e) => {
                    self.engine.read_failed();
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    /// Writes what is queued, as far as the stream takes it now, for the
    /// task waiting as `waiter`.
    fn poll_write_queued(&mut self, waiter: Waiter, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.wakers.register(waiter, cx);
        let cx = &mut Context::from_waker(&self.connection_waker);
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
        let received = ready!(self.get_mut().poll_receive(cx, &mut Decode::Whole));
        Poll::Ready(received.map(|received| {
            received.map(|received| match received {
                Received::Message(message) => message,
                // Only pieces are decoded into pieces.
                Received::Piece(_) => unreachable!("a whole message was decoded in pieces"),
            })
        }))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    /// Ready while what is queued is under the write buffer's bound
    /// ([`Limits::max_write_buffer`]); at it, queued bytes are written
    /// first.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_queue_waiting(cx))?;
        if !this.engine.write_buffer_full() {
            return Poll::Ready(Ok(()));
        }
        this.poll_write_queued_or_fail(cx)
    }

    /// Queues `message`. A message the queue has no room for yet (it is
    /// under the bound, but not by the message's size) waits, whole, in a
    /// place of its own until the queue has room: a message taken is never
    /// refused for room, as a `Sink` promises after `poll_ready`.
    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        match this.engine.send(message) {
            Err(Error::WriteBufferFull {
                message: Some(message),
                ..
            }) => {
                this.waiting = Some(message);
                Ok(())
            }
            sent => sent,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_queue_waiting(cx))?;
        this.poll_write_queued_or_fail(cx)
    }

    /// Sends a Close 1000 if none was sent, behind every message taken,
    /// and writes what is queued.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_queue_waiting(cx))?;
        if this.engine.is_open() {
            this.engine.close(CloseCode::NORMAL, "")?;
        }
        this.poll_write_queued_or_fail(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A client's frame for `text`, masked as a client's frames are.
    fn client_frame(text: &str) -> Vec<u8> {
        let mut client = Engine::new(Role::Client, Limits::default());
        client.send(Message::text(text)).unwrap();
        let mut wire = Vec::new();
        client.output().drain_into(&mut wire);
        wire
    }

    #[tokio::test]
    async fn a_quiet_connection_waits_for_input_with_no_read_buffer() {
        let (ours, mut peer) = tokio::io::duplex(4096);
        let mut ws = WebSocketStream::from_raw(ours, Role::Server, Limits::default(), Vec::new());
        peer.write_all(&client_frame(&"busy ".repeat(200)))
            .await
            .unwrap();
        assert!(ws.next().await.unwrap().is_ok());
        ws.release_buffers();
        let waiting = tokio::time::timeout(Duration::from_millis(20), ws.next()).await;
        assert!(waiting.is_err(), "nothing was sent");
        assert_eq!(ws.read_buf.capacity(), 0);
        // What wakes it arrives whole, however it is cut.
        let frame = client_frame("awake");
        peer.write_all(&frame[..3]).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(20), ws.next()).await;
        assert!(waiting.is_err(), "the frame is not whole yet");
        peer.write_all(&frame[3..]).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("awake"));
    }
}
