//! A connection's outgoing side: a queue of events bounded by bytes, and the
//! writer thread that drains it into the connection's [`WriteHalf`].
//!
//! Every event is one JSON text, serialized once and shared (an
//! `Arc<SharedMessage>`) by the outboxes of everyone it goes to, and
//! compressed at most once for all of them where their permessage-deflate
//! settings agree. [`Outbox::push`] never blocks: it
//! takes the outbox's lock, appends, and wakes the writer if it sleeps. If
//! the events queued or being written would exceed the capacity, it refuses
//! with [`Refused::Full`] and the caller closes the connection: a client
//! that stops reading costs its room nothing but that refusal.
//!
//! The writer thread is the only one that waits on the peer. It takes a
//! batch of events, queues each on the connection ([`WriteHalf::queue_shared`]
//! copies the shared text, or its compressed form, behind its frame header), and flushes them in one
//! write; their bytes count against the outbox until that flush is done.
//! The read half's automatic answers (a Pong, the reply to the peer's Close,
//! the Close that fails the connection) are queued on the same connection,
//! so frames never interleave. The read half writes an answer itself only
//! when no write is under way, and gives up on it after one slice of the
//! write timeout, leaving it queued; so the reader wakes the writer after
//! each one ([`Outbox::answer_queued`], [`Outbox::read_half_closed`]) to
//! make sure it goes out.
//!
//! The closing handshake (RFC 6455 §7) runs through [`Outbox::close`] (our
//! Close) or [`Outbox::read_half_closed`] (the read half's): the events not
//! yet taken are dropped and nothing more is accepted (§5.5.1: after a
//! Close, no more data frames). The writer finishes the batch it is writing,
//! sends the Close, then waits until the reader is finished (it got the
//! peer's Close, or the connection ended) or the close timeout passes. The
//! connection itself sends exactly one Close, whichever side asks first.
//!
//! Every wait is bounded. The socket's write timeout is a short slice
//! ([`WRITE_SLICE`]): a flush that meets it keeps the unwritten bytes queued
//! and returns, and the writer checks its deadlines before flushing again.
//! A peer that takes no bytes for the write timeout, or has not finished the
//! closing handshake by its deadline, is cut off (`shutdown`, which also
//! wakes the reader).
//!
//! The writer also keeps the connection alive: when nothing has arrived
//! from the peer for the ping interval it sends a Ping, and when nothing
//! arrives within the pong timeout after that, it closes with 1001.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ws6455::CloseCode;
use ws6455::CloseFrame;
use ws6455::Error;
use ws6455::Message;
use ws6455::Transport;
use ws6455::proto::SharedMessage;
use ws6455::{SplitStream, WriteHalf};

/// The writer takes at most this many events from the queue per flush.
const BATCH_EVENTS: usize = 64;

/// The socket's write timeout: a blocked write wakes this often to let the
/// writer check its deadlines.
const WRITE_SLICE: Duration = Duration::from_millis(100);

/// The connection's socket as its two halves use it. The read half reads the
/// stream itself; the write half writes through this, which counts the bytes
/// the socket takes, so a flush that timed out tells a slow peer (the count
/// moved) from a stalled one.
pub(crate) struct Socket<'s, T: Transport> {
    stream: &'s T,
    written: &'s AtomicU64,
}

impl<T: Transport> Clone for Socket<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Transport> Copy for Socket<'_, T> {}

impl<'s, T: Transport> Socket<'s, T> {
    /// The socket, with its write timeout set to [`WRITE_SLICE`]; `written`
    /// counts the bytes written to it.
    pub(crate) fn new(stream: &'s T, written: &'s AtomicU64) -> io::Result<Socket<'s, T>> {
        stream.set_write_timeout(Some(WRITE_SLICE))?;
        Ok(Socket { stream, written })
    }

    fn bytes_written(self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn counted(self, written: io::Result<usize>) -> io::Result<usize> {
        if let Ok(n) = written {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        written
    }
}

impl<T: Transport> Read for Socket<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.by_ref().read(buf)
    }
}

impl<T: Transport> Write for Socket<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.stream.by_ref().write(buf);
        self.counted(written)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let written = self.stream.by_ref().write_vectored(bufs);
        self.counted(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.by_ref().flush()
    }
}

impl<'s, T: Transport> SplitStream for Socket<'s, T> {
    type Reader = T::Ref<'s>;
    type Writer = Socket<'s, T>;

    fn split_stream(self) -> io::Result<(T::Ref<'s>, Socket<'s, T>)> {
        Ok((self.stream.by_ref(), self))
    }
}

/// The connection's write half, as the writer thread holds it.
pub(crate) type Writer<'s, T> = WriteHalf<Socket<'s, T>>;

/// When the writer pings, gives up, and closes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// A Ping goes out when nothing has arrived from the peer for this long.
    pub(crate) ping_interval: Duration,
    /// After a Ping, the peer must send something (its Pong) within this time.
    pub(crate) pong_timeout: Duration,
    /// A flush during which the peer takes no bytes for this long fails.
    pub(crate) write_timeout: Duration,
    /// After a Close is under way, the closing handshake must end within this time.
    pub(crate) close_timeout: Duration,
}

/// Why [`Outbox::push`] did not queue an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The events queued and being written would exceed the capacity.
    Full,
    /// The connection is closing; no more events are sent (§5.5.1).
    Closing,
}

/// Whose Close frame the writer sends.
#[derive(Clone, Debug)]
enum CloseFrom {
    /// Ours, with this code and reason: the writer starts the closing handshake.
    Us(CloseCode, String),
    /// The read half's, already queued on the connection: its answer to the
    /// peer's Close (§5.5.1), or the Close that failed the connection (§7.1.7).
    ReadHalf,
}

/// Where the outgoing side is in its life.
#[derive(Debug)]
enum Phase {
    /// Events are accepted.
    Open,
    /// A Close goes out after the batch being written; nothing more is accepted.
    CloseQueued { close: CloseFrom, deadline: Instant },
    /// The Close is on the wire (or abandoned); waiting for the reader to finish.
    CloseSent { deadline: Instant },
    /// The writer has stopped.
    Finished,
}

/// Whether the writer is waiting for an answer to its Ping.
#[derive(Clone, Copy, Debug)]
enum Liveness {
    /// Something arrived from the peer at this time.
    HeardAt(Instant),
    /// A Ping went out at this time and nothing has arrived since.
    PingSentAt(Instant),
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Arc<SharedMessage>>,
    /// Bytes of events queued, plus those taken by the writer and not yet written.
    bytes: usize,
    phase: Phase,
    liveness: Liveness,
    /// The read half queued an answer that may still be waiting for a flush.
    answer_waiting: bool,
    /// The reader has stopped: it got the peer's Close, or the connection ended.
    reading_done: bool,
    /// The writer is waiting on the condition variable and nobody has woken
    /// it yet; a push must wake it. (A busy or already woken writer takes
    /// the new event on its next pass, and a broadcast saves a wake-up call
    /// per member.)
    writer_waiting: bool,
}

impl State {
    /// See [`Outbox::close`].
    fn queue_close(&mut self, close: CloseFrom, timeout: Duration) {
        if !matches!(self.phase, Phase::Open) {
            return;
        }
        self.drop_queued();
        self.phase = Phase::CloseQueued {
            close,
            deadline: Instant::now() + timeout,
        };
    }

    fn drop_queued(&mut self) {
        let dropped: usize = self.queue.drain(..).map(|e| e.len()).sum();
        self.bytes -= dropped;
    }
}

/// A connection's bounded outgoing queue; see the module documentation.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
}

/// What the writer does next.
enum Task {
    Write(Vec<Arc<SharedMessage>>),
    /// Send what the read half queued.
    Flush,
    Ping,
    Close(CloseFrom),
    Stop(Stop),
}

/// Why the writer stops.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// The closing handshake finished, or the reader ended the connection.
    Done,
    /// The peer did not finish the closing handshake in time, or a write stalled or failed.
    CutOff,
}

impl Outbox {
    /// An empty, open outbox that holds at most `capacity` bytes of events.
    pub(crate) fn new(capacity: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                phase: Phase::Open,
                liveness: Liveness::HeardAt(Instant::now()),
                answer_waiting: false,
                reading_done: false,
                writer_waiting: false,
            }),
            changed: Condvar::new(),
            capacity,
        }
    }

    /// Queues an event for the writer. Never blocks.
    pub(crate) fn push(&self, event: &Arc<SharedMessage>) -> Result<(), Refused> {
        self.push_all(std::iter::once(event))
    }

    /// Queues `events` for the writer, in order, all or none, and wakes it
    /// once: a burst pushed together goes out in one write rather than in
    /// a write each. Never blocks.
    pub(crate) fn push_all<'e>(
        &self,
        events: impl Iterator<Item = &'e Arc<SharedMessage>> + Clone,
    ) -> Result<(), Refused> {
        let mut state = self.lock();
        if !matches!(state.phase, Phase::Open) {
            return Err(Refused::Closing);
        }
        let bytes: usize = events.clone().map(|event| event.len()).sum();
        if state.bytes + bytes > self.capacity {
            return Err(Refused::Full);
        }
        state.bytes += bytes;
        state.queue.extend(events.cloned());
        self.wake_writer(&mut state);
        Ok(())
    }

    /// Starts the closing handshake from our side with `code` and `reason`
    /// (the chat's own, all short enough for a Close frame): events not yet taken by the writer are
    /// dropped, the Close goes next, and nothing more is accepted. Does
    /// nothing if a Close is already under way.
    pub(crate) fn close(&self, code: CloseCode, reason: &str, timeout: Duration) {
        let reason = reason.to_owned();
        self.lock()
            .queue_close(CloseFrom::Us(code, reason), timeout);
        self.changed.notify_one();
    }

    /// Records that the read half queued a Close (an answer to the peer's,
    /// or a failure's): as with [`Outbox::close`], except that the writer
    /// only sends the Close that is already queued.
    pub(crate) fn read_half_closed(&self, timeout: Duration) {
        self.lock().queue_close(CloseFrom::ReadHalf, timeout);
        self.changed.notify_one();
    }

    /// Records that the read half queued an automatic answer (a Pong): the
    /// writer flushes the connection so that it goes out even if the read
    /// half could not write it.
    pub(crate) fn answer_queued(&self) {
        let mut state = self.lock();
        state.answer_waiting = true;
        self.wake_writer(&mut state);
    }

    /// Whether events are still accepted: no Close is under way.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.lock().phase, Phase::Open)
    }

    /// Records that something arrived from the peer: it is alive.
    pub(crate) fn heard_from_peer(&self) {
        self.lock().liveness = Liveness::HeardAt(Instant::now());
    }

    /// Records that the reader has stopped. Unless a Close is under way, the
    /// peer is gone and the writer stops without writing what is queued.
    pub(crate) fn reading_finished(&self) {
        self.lock().reading_done = true;
        self.changed.notify_one();
    }

    fn wake_writer(&self, state: &mut State) {
        if state.writer_waiting {
            // One wake-up is enough: the writer takes everything queued when it runs.
            state.writer_waiting = false;
            self.changed.notify_one();
        }
    }

    /// Writes queued events through `write` until the connection is over.
    /// When a peer does not finish in time, shuts the socket down, which
    /// also ends the reader's blocking read.
    pub(crate) fn run_writer<T: Transport>(
        &self,
        write: Writer<'_, T>,
        socket: Socket<'_, T>,
        timing: &Timing,
    ) {
        if self.write_until_stopped(&write, socket, timing) == Stop::CutOff {
            // Wakes the reader too: its blocking read returns at once.
            let _ = socket.stream.shutdown(Shutdown::Both);
        }
        let mut state = self.lock();
        state.phase = Phase::Finished;
        state.drop_queued();
    }

    fn write_until_stopped<T: Transport>(
        &self,
        write: &Writer<'_, T>,
        socket: Socket<'_, T>,
        timing: &Timing,
    ) -> Stop {
        loop {
            let written = match self.next_task(timing) {
                Task::Stop(stop) => return stop,
                Task::Write(events) => {
                    for event in &events {
                        // Refused once the read half has answered the
                        // peer's Close or failed the connection: the rest
                        // is not sent, and the flush sends that Close.
                        if write.queue_shared(event).is_err() {
                            break;
                        }
                    }
                    let written = self.flush(write, socket, timing);
                    // Events count against the outbox until written.
                    self.lock().bytes -= events.iter().map(|e| e.len()).sum::<usize>();
                    written
                }
                Task::Flush => self.flush(write, socket, timing),
                Task::Ping => match write.queue(Message::Ping(Vec::new())) {
                    Ok(()) => self.flush(write, socket, timing),
                    // The read half has closed the connection meanwhile.
                    Err(_) => Ok(()),
                },
                Task::Close(close) => {
                    if let CloseFrom::Us(code, reason) = close {
                        // Refused when the read half's Close went first: the
                        // connection sends one Close, and the flush sends it.
                        let close = Some(CloseFrame { code, reason });
                        let _ = write.queue(Message::Close(close));
                    }
                    self.flush(write, socket, timing)
                }
            };
            if written.is_err() {
                return Stop::CutOff;
            }
        }
    }

    /// Waits for the next thing to do.
    fn next_task(&self, timing: &Timing) -> Task {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if matches!(state.phase, Phase::Open) && state.reading_done {
                // The peer is gone without a closing handshake: nobody reads what is queued.
                return Task::Stop(Stop::Done);
            }
            if !state.queue.is_empty() {
                let take = state.queue.len().min(BATCH_EVENTS);
                // The flush after the batch sends the read half's answers too.
                state.answer_waiting = false;
                return Task::Write(state.queue.drain(..take).collect());
            }
            if state.answer_waiting {
                state.answer_waiting = false;
                return Task::Flush;
            }
            let wake_at = match state.phase {
                Phase::Open => match state.liveness {
                    Liveness::HeardAt(at) if now >= at + timing.ping_interval => {
                        state.liveness = Liveness::PingSentAt(now);
                        return Task::Ping;
                    }
                    Liveness::HeardAt(at) => at + timing.ping_interval,
                    Liveness::PingSentAt(at) if now >= at + timing.pong_timeout => {
                        let reason = format!("no pong within {:?}", timing.pong_timeout);
                        let close = CloseFrom::Us(CloseCode::GOING_AWAY, reason);
                        state.queue_close(close, timing.close_timeout);
                        continue;
                    }
                    Liveness::PingSentAt(at) => at + timing.pong_timeout,
                },
                Phase::CloseQueued {
                    ref close,
                    deadline,
                } => {
                    let close = close.clone();
                    state.phase = Phase::CloseSent { deadline };
                    return Task::Close(close);
                }
                Phase::CloseSent { .. } if state.reading_done => return Task::Stop(Stop::Done),
                Phase::CloseSent { deadline } if now >= deadline => {
                    return Task::Stop(Stop::CutOff);
                }
                Phase::CloseSent { deadline } => deadline,
                Phase::Finished => return Task::Stop(Stop::Done),
            };
            state.writer_waiting = true;
            state = self
                .changed
                .wait_timeout(state, wake_at.saturating_duration_since(now))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            state.writer_waiting = false;
        }
    }

    /// Writes everything queued on the connection, flushing again each time
    /// a write times out ([`WRITE_SLICE`]). Fails when the peer takes no
    /// bytes for the write timeout, or once a Close is under way and its
    /// deadline has passed.
    fn flush<T: Transport>(
        &self,
        write: &Writer<'_, T>,
        socket: Socket<'_, T>,
        timing: &Timing,
    ) -> Result<(), Error> {
        let mut written = socket.bytes_written();
        let mut progress_at = Instant::now();
        loop {
            match write.flush() {
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = Instant::now();
                    if socket.bytes_written() != written {
                        written = socket.bytes_written();
                        progress_at = now;
                    }
                    let stalled = now >= progress_at + timing.write_timeout;
                    if stalled || self.close_deadline_passed(now) {
                        return Err(Error::Io(e));
                    }
                }
                flushed => return flushed,
            }
        }
    }

    fn close_deadline_passed(&self, now: Instant) -> bool {
        match self.lock().phase {
            Phase::CloseQueued { deadline, .. } | Phase::CloseSent { deadline } => now >= deadline,
            Phase::Open | Phase::Finished => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every point a panic could leave it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
