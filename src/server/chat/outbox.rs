//! A connection's outgoing side: a queue of encoded frames bounded by bytes,
//! and the writer that drains it.
//!
//! The writer thread is the only thing that writes to the connection's
//! socket. Everything else hands it whole, encoded frames: broadcasts from
//! any room member's thread, Pongs and Close frames from the connection's
//! reader. Frames never interleave on the wire because one thread writes
//! them, each in full, in queue order.
//!
//! [`Outbox::push`] never blocks: it takes the outbox's lock, appends, and
//! wakes the writer. If the frames queued or being written would exceed the
//! capacity, it refuses with [`Refused::Full`] and the caller closes the
//! connection: a client that stops reading costs its room nothing but that
//! refusal.
//!
//! The closing handshake (RFC 6455 §7) runs through [`Outbox::close`]: it
//! drops the frames not yet started, puts the Close frame next, and accepts
//! nothing more (§5.5.1: after a Close, no more data frames). The writer
//! sends the frame it is writing, then the Close, then waits until the
//! reader is finished (it got the peer's Close, or the connection ended)
//! or the close timeout passes. Every wait is bounded: a peer that stops
//! reading or answering is cut off (`shutdown`, which also wakes the
//! reader) once its deadline passes.
//!
//! The writer also keeps the connection alive: when nothing has arrived
//! from the peer for the ping interval it sends a Ping, and when nothing
//! arrives within the pong timeout after that, it closes with 1001.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON, truncate_reason};
use crate::frame::{OpCode, encode_frame};
use crate::trace::{Direction, encoded_frame_event};

/// A whole server frame as it goes on the wire. Server frames are not masked
/// (RFC 6455 §5.1), so one encoding serves every member of a room.
pub(crate) type Frame = Arc<[u8]>;

/// Encodes one unmasked frame with FIN set.
pub(crate) fn server_frame(opcode: OpCode, payload: &[u8]) -> Frame {
    let mut wire = Vec::with_capacity(payload.len() + 10);
    encode_frame(&mut wire, opcode, None, payload);
    wire.into()
}

/// The writer takes at most this many frames from the queue per write call.
const BATCH_FRAMES: usize = 64;

/// A blocked write wakes this often to check its deadlines.
const WRITE_SLICE: Duration = Duration::from_millis(100);

/// When the writer pings, gives up, and closes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// A Ping goes out when nothing has arrived from the peer for this long.
    pub(crate) ping_interval: Duration,
    /// After a Ping, the peer must send something (its Pong) within this time.
    pub(crate) pong_timeout: Duration,
    /// A write that makes no progress for this long fails.
    pub(crate) write_timeout: Duration,
    /// After our Close is queued, the closing handshake must end within this time.
    pub(crate) close_timeout: Duration,
}

/// Why [`Outbox::push`] did not queue a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The frames queued and being written would exceed the capacity.
    Full,
    /// The connection is closing; no more frames are sent (§5.5.1).
    Closing,
}

/// Where the outgoing side is in its life.
#[derive(Debug)]
enum Phase {
    /// Frames are accepted.
    Open,
    /// A Close frame goes out after the frame being written; nothing more is accepted.
    CloseQueued { frame: Frame, deadline: Instant },
    /// Our Close is on the wire (or abandoned); waiting for the reader to finish.
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
    queue: VecDeque<Frame>,
    /// Bytes queued plus bytes taken by the writer and not yet written.
    bytes: usize,
    phase: Phase,
    liveness: Liveness,
    /// The reader has stopped: it got the peer's Close, or the connection ended.
    reading_done: bool,
    /// The writer is waiting on the condition variable and nobody has woken
    /// it yet; a push must wake it. (A busy or already woken writer takes
    /// the new frame on its next pass, and a broadcast saves a wake-up call
    /// per member.)
    writer_waiting: bool,
}

impl State {
    /// See [`Outbox::close`].
    fn queue_close(&mut self, code: Option<CloseCode>, reason: &str, timeout: Duration) {
        if !matches!(self.phase, Phase::Open) {
            return;
        }
        let mut payload = Vec::new();
        if let Some(code) = code {
            CloseFrame {
                code,
                reason: truncate_reason(reason, MAX_CLOSE_REASON).to_owned(),
            }
            .encode(&mut payload);
        }
        self.drop_queued();
        self.phase = Phase::CloseQueued {
            frame: server_frame(OpCode::Close, &payload),
            deadline: Instant::now() + timeout,
        };
    }

    fn drop_queued(&mut self) {
        let dropped: usize = self.queue.drain(..).map(|f| f.len()).sum();
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
    Write(Vec<Frame>),
    Ping,
    Close(Frame),
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
    /// An empty, open outbox that holds at most `capacity` bytes of frames.
    pub(crate) fn new(capacity: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                phase: Phase::Open,
                liveness: Liveness::HeardAt(Instant::now()),
                reading_done: false,
                writer_waiting: false,
            }),
            changed: Condvar::new(),
            capacity,
        }
    }

    /// Queues a frame for the writer. Never blocks.
    pub(crate) fn push(&self, frame: &Frame) -> Result<(), Refused> {
        let mut state = self.lock();
        if !matches!(state.phase, Phase::Open) {
            return Err(Refused::Closing);
        }
        if state.bytes + frame.len() > self.capacity {
            return Err(Refused::Full);
        }
        state.bytes += frame.len();
        state.queue.push_back(Arc::clone(frame));
        if state.writer_waiting {
            // One wake-up is enough: the writer takes everything queued when it runs.
            state.writer_waiting = false;
            self.changed.notify_one();
        }
        Ok(())
    }

    /// Starts the closing handshake from our side, or answers the peer's
    /// (RFC 6455 §5.5.1): frames not yet started are dropped, the Close frame
    /// goes next, and nothing more is accepted. `None` sends a Close without
    /// a status code. Does nothing if a Close is already under way.
    pub(crate) fn close(&self, code: Option<CloseCode>, reason: &str, timeout: Duration) {
        let mut state = self.lock();
        state.queue_close(code, reason, timeout);
        self.changed.notify_one();
    }

    /// Whether frames are still accepted: no Close is under way.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.lock().phase, Phase::Open)
    }

    /// Records that bytes arrived from the peer: it is alive.
    pub(crate) fn heard_from_peer(&self) {
        self.lock().liveness = Liveness::HeardAt(Instant::now());
    }

    /// Records that the reader has stopped. Unless a Close is under way, the
    /// peer is gone and the writer stops without writing what is queued.
    pub(crate) fn reading_finished(&self) {
        self.lock().reading_done = true;
        self.changed.notify_one();
    }

    /// Writes queued frames to `stream` until the connection is over. When a
    /// peer does not finish in time, shuts the stream down, which also ends
    /// the reader's blocking read. With a `trace_prefix`, prints each frame
    /// as it is written (`--trace`).
    pub(crate) fn run_writer(
        &self,
        stream: &TcpStream,
        timing: &Timing,
        trace_prefix: Option<&str>,
    ) {
        let stop = match stream.set_write_timeout(Some(WRITE_SLICE)) {
            Ok(()) => self.write_until_stopped(stream, timing, trace_prefix),
            Err(_) => Stop::CutOff,
        };
        if stop == Stop::CutOff {
            // Wakes the reader too: its blocking read returns at once.
            let _ = stream.shutdown(Shutdown::Both);
        }
        let mut state = self.lock();
        state.phase = Phase::Finished;
        state.drop_queued();
    }

    fn write_until_stopped(
        &self,
        stream: &TcpStream,
        timing: &Timing,
        trace_prefix: Option<&str>,
    ) -> Stop {
        loop {
            // Queued frames count against the outbox's bytes until written.
            let (frames, queued) = match self.next_task(timing) {
                Task::Stop(stop) => return stop,
                Task::Write(frames) => (frames, true),
                Task::Ping => (vec![server_frame(OpCode::Ping, b"")], false),
                Task::Close(frame) => (vec![frame], false),
            };
            if let Some(prefix) = trace_prefix {
                for event in frames
                    .iter()
                    .filter_map(|f| encoded_frame_event(Direction::Sent, f))
                {
                    eprintln!("{prefix}{event}");
                }
            }
            let written = self.write_frames(stream, &frames, timing);
            if queued {
                self.lock().bytes -= frames.iter().map(|f| f.len()).sum::<usize>();
            }
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
                let take = state.queue.len().min(BATCH_FRAMES);
                return Task::Write(state.queue.drain(..take).collect());
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
                        let code = Some(CloseCode::GOING_AWAY);
                        state.queue_close(code, &reason, timing.close_timeout);
                        continue;
                    }
                    Liveness::PingSentAt(at) => at + timing.pong_timeout,
                },
                Phase::CloseQueued {
                    ref frame,
                    deadline,
                } => {
                    let frame = Arc::clone(frame);
                    state.phase = Phase::CloseSent { deadline };
                    return Task::Close(frame);
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

    /// Writes `frames` in full, in as few calls as the socket allows. Fails
    /// when the peer takes nothing for the write timeout, or once a Close is
    /// under way and its deadline has passed.
    fn write_frames(
        &self,
        mut stream: &TcpStream,
        frames: &[Frame],
        timing: &Timing,
    ) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = frames.iter().map(|f| IoSlice::new(f)).collect();
        let mut slices = &mut slices[..];
        let mut progress_at = Instant::now();
        loop {
            if slices.is_empty() {
                return Ok(());
            }
            match stream.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    IoSlice::advance_slices(&mut slices, n);
                    progress_at = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = Instant::now();
                    let stalled = now >= progress_at + timing.write_timeout;
                    if stalled || self.close_deadline_passed(now) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                Err(e) => return Err(e),
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
