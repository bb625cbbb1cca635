//! Where events go: the live view, the recording and the page, each fed
//! through a bounded queue by the relaying threads and drained by a thread
//! of its own. A relaying thread never waits for an output: when an
//! output's queue is full, the event is dropped and counted, and the
//! output says how many it dropped before its next event. So a slow
//! terminal, disk or browser slows nothing but itself. When every output
//! that shows frames is full, the watchers do not even describe frames and
//! messages: they count them, and the count is added to the dropped.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::event::{Dropped, Event};
use super::view::{self, Detail};

/// How often an output looks for events while they keep coming.
const POLL: Duration = Duration::from_millis(5);

/// How many looks that find nothing before an output waits to be woken:
/// 200 ms of quiet.
const POLLS_BEFORE_WAITING: u32 = 40;

/// How many events an output's queue holds.
const QUEUE_EVENTS: usize = 8192;

/// How many of those places only connections, handshakes, violations and
/// ends may take: frames and messages are dropped first, so that an output
/// that falls behind still shows who connected, what broke and how each
/// connection ended.
const RESERVED_EVENTS: usize = 1024;

/// How many bytes of payload and text the events in an output's queue may
/// hold together: a peer decides how large its messages are, and a
/// stalled output (a paused terminal) must not keep more than this.
const QUEUE_BYTES: usize = 16 << 20;

/// The outputs, and the clock events are stamped by.
pub(crate) struct Hub {
    started: Instant,
    outputs: Vec<Output>,
    /// Held while events are handed to the outputs, so that every output
    /// gets them in the same order: a recording replays as the live view
    /// showed it.
    in_order: Mutex<()>,
}

/// One output's end of its queue.
struct Output {
    queue: SyncSender<Arc<Event>>,
    detail: Detail,
    dropped: Arc<AtomicU64>,
    /// The bytes the events in the queue hold ([`Event::weight`]).
    queued: Arc<AtomicUsize>,
    /// The events in the queue.
    queued_events: Arc<AtomicUsize>,
}

impl Output {
    /// Whether the queue has room for another frame or message.
    fn has_room_for_detail(&self, weight: usize) -> bool {
        self.queued_events.load(Ordering::Relaxed) < QUEUE_EVENTS - RESERVED_EVENTS
            && self.queued.load(Ordering::Relaxed) + weight <= QUEUE_BYTES
    }
}

/// What an output's thread reads: the events, and how many were dropped
/// since it last looked.
pub(crate) struct Feed {
    events: Receiver<Arc<Event>>,
    dropped: Arc<AtomicU64>,
    queued: Arc<AtomicUsize>,
    queued_events: Arc<AtomicUsize>,
    started: Instant,
}

impl Feed {
    /// The next event, waiting for one; `None` once every sender is gone.
    ///
    /// While events keep coming it looks again every [`POLL`] rather than
    /// wait on the queue: a relaying thread that hands an event to a
    /// waiting output must wake it, which on a busy machine costs the relay
    /// more than the event does. After [`POLLS_BEFORE_WAITING`] looks that
    /// found nothing, it waits, and the next event wakes it.
    pub(crate) fn recv(&self) -> Option<Arc<Event>> {
        for _ in 0..POLLS_BEFORE_WAITING {
            match self.events.try_recv() {
                Ok(event) => {
                    self.taken(&event);
                    return Some(event);
                }
                Err(TryRecvError::Empty) => thread::sleep(POLL),
                Err(TryRecvError::Disconnected) => return None,
            }
        }
        let event = self.events.recv().ok()?;
        self.taken(&event);
        Some(event)
    }

    /// The next event if one is queued.
    pub(crate) fn try_recv(&self) -> Option<Arc<Event>> {
        let event = self.events.try_recv().ok()?;
        self.taken(&event);
        Some(event)
    }

    /// Counts `event` out of the queue.
    fn taken(&self, event: &Event) {
        self.queued.fetch_sub(event.weight(), Ordering::Relaxed);
        self.queued_events.fetch_sub(1, Ordering::Relaxed);
    }

    /// The `dropped` event to write before the next one, if events were
    /// dropped since the last call.
    pub(crate) fn dropped_since(&self) -> Option<Event> {
        match self.dropped.swap(0, Ordering::Relaxed) {
            0 => None,
            count => Some(Event::Dropped(Dropped {
                t: self.started.elapsed().as_secs_f64(),
                count,
            })),
        }
    }
}

impl Hub {
    /// A hub with no outputs yet; its clock starts now.
    pub(crate) fn new() -> Hub {
        Hub {
            started: Instant::now(),
            outputs: Vec::new(),
            in_order: Mutex::new(()),
        }
    }

    /// Seconds since the hub was made.
    pub(crate) fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Adds an output that takes the events `detail` shows, and returns
    /// what its thread reads.
    pub(crate) fn add_output(&mut self, detail: Detail) -> Feed {
        let (queue, events) = sync_channel(QUEUE_EVENTS);
        let dropped = Arc::new(AtomicU64::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        let queued_events = Arc::new(AtomicUsize::new(0));
        self.outputs.push(Output {
            queue,
            detail,
            dropped: Arc::clone(&dropped),
            queued: Arc::clone(&queued),
            queued_events: Arc::clone(&queued_events),
        });
        Feed {
            events,
            dropped,
            queued,
            queued_events,
            started: self.started,
        }
    }

    /// Whether frames and messages are to be described now: some output
    /// shows them and has room. If none does, the watchers judge without
    /// describing; if those that do are full, what they would have been
    /// sent is counted with [`Hub::count_dropped_detail`].
    pub(crate) fn wants_detail(&self) -> bool {
        self.outputs
            .iter()
            .any(|o| o.detail == Detail::Full && o.has_room_for_detail(0))
    }

    /// Whether some output shows frames and messages, room or not.
    pub(crate) fn shows_detail(&self) -> bool {
        self.outputs.iter().any(|o| o.detail == Detail::Full)
    }

    /// Counts `count` frames and messages as dropped by every output that
    /// shows them: they were not described, as all those outputs were full.
    pub(crate) fn count_dropped_detail(&self, count: u64) {
        for output in self.outputs.iter().filter(|o| o.detail == Detail::Full) {
            output.dropped.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// Hands each event to every output that shows it, dropping it for an
    /// output whose queue is full.
    pub(crate) fn publish(&self, events: impl IntoIterator<Item = Event>) {
        let mut events = events.into_iter().peekable();
        if events.peek().is_none() {
            return;
        }
        let _in_order = self.in_order.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            let event = Arc::new(event);
            for output in &self.outputs {
                if !output.detail.shows(&event) {
                    continue;
                }
                let weight = event.weight();
                let essential = Detail::Quiet.shows(&event);
                if !essential && !output.has_room_for_detail(weight) {
                    output.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match output.queue.try_send(Arc::clone(&event)) {
                    Ok(()) => {
                        output.queued.fetch_add(weight, Ordering::Relaxed);
                        output.queued_events.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                    Err(TrySendError::Full(_)) => {
                        output.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Writes what `feed` brings with `write_one`, flushing whenever the queue
/// is empty, until every sender is gone or writing fails.
fn drain(
    feed: &Feed,
    out: &mut impl Write,
    write_one: impl Fn(&mut dyn Write, &Event) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let event = match feed.try_recv() {
            Some(event) => event,
            None => {
                out.flush()?;
                match feed.recv() {
                    Some(event) => event,
                    None => return Ok(()),
                }
            }
        };
        if let Some(dropped) = feed.dropped_since() {
            write_one(out, &dropped)?;
        }
        write_one(out, &event)?;
    }
}

/// Starts the live view's thread: each event's lines on stdout.
pub(crate) fn print_to_stdout(feed: Feed) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut out = BufWriter::with_capacity(64 << 10, io::stdout().lock());
        let _ = drain(&feed, &mut out, |out, event| {
            out.write_all(view::lines(event).as_bytes())
        });
    })
}

/// Starts the recording's thread: each event as a line of JSON in `file`.
pub(crate) fn record_to(file: File, feed: Feed) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut out = BufWriter::with_capacity(64 << 10, file);
        if let Err(e) = drain(&feed, &mut out, |out, event| {
            writeln!(out, "{}", event.to_json())
        }) {
            log_line!("ws6455 inspect: the recording stopped: {e}");
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::inspect::event::End;

    /// A frame event of `bytes` payload bytes.
    fn frame(bytes: usize) -> Event {
        Event::Frame(crate::inspect::event::Frame {
            conn: 1,
            from: crate::inspect::event::Side::Client,
            t: 0.0,
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: 2,
            masked: true,
            key: Some([0; 4]),
            length: bytes as u64,
            length_field: "16-bit".to_owned(),
            header_hex: Vec::new(),
            payload_hex: vec![0; bytes],
            payload_shown: bytes,
        })
    }

    #[test]
    fn a_full_output_drops_frames_but_keeps_room_for_a_connections_end() {
        let mut hub = Hub::new();
        let feed = hub.add_output(Detail::Full);
        hub.publish((0..QUEUE_EVENTS).map(|_| frame(16)));
        assert!(!hub.wants_detail());
        let end = Event::End(End {
            conn: 1,
            t: 0.0,
            how: "the client closed TCP".to_owned(),
        });
        hub.publish([end.clone()]);
        let taken: Vec<Arc<Event>> = std::iter::from_fn(|| feed.try_recv()).collect();
        assert_eq!(taken.len(), QUEUE_EVENTS - RESERVED_EVENTS + 1);
        assert_eq!(*taken[taken.len() - 1], end);
        assert!(matches!(
            feed.dropped_since(),
            Some(Event::Dropped(Dropped { count, .. })) if count == RESERVED_EVENTS as u64
        ));
        assert!(hub.wants_detail(), "the queue, taken, has room again");
    }

    #[test]
    fn an_output_holds_at_most_its_bytes_of_payload() {
        let mut hub = Hub::new();
        let feed = hub.add_output(Detail::Full);
        let per_frame = 64 << 10;
        hub.publish((0..QUEUE_BYTES / per_frame + 10).map(|_| frame(per_frame)));
        let taken = std::iter::from_fn(|| feed.try_recv()).count();
        assert!(
            taken * per_frame <= QUEUE_BYTES,
            "{taken} frames of 64 KiB kept"
        );
        assert!(
            taken >= QUEUE_BYTES / per_frame - 1,
            "only {taken} frames kept"
        );
    }

    #[test]
    fn every_output_gets_the_events_in_the_same_order() {
        // Connections' threads publishing at once, again and again: an
        // event handed to one output and not yet to the other while
        // another thread's goes to both would show in some round.
        let conns = 4;
        for _round in 0..10 {
            let mut hub = Hub::new();
            let live = hub.add_output(Detail::Full);
            let record = hub.add_output(Detail::Full);
            let start = Barrier::new(conns);
            thread::scope(|scope| {
                for conn in 1..=conns as u64 {
                    let (hub, start) = (&hub, &start);
                    scope.spawn(move || {
                        start.wait();
                        for n in 0..(QUEUE_EVENTS / conns) as u64 {
                            hub.publish([Event::End(End {
                                conn,
                                t: 0.0,
                                how: n.to_string(),
                            })]);
                        }
                    });
                }
            });
            drop(hub);
            let live: Vec<Arc<Event>> = live.events.iter().collect();
            let record: Vec<Arc<Event>> = record.events.iter().collect();
            assert_eq!(live.len(), QUEUE_EVENTS);
            assert!(
                live == record,
                "the outputs got the events in different orders"
            );
        }
    }
}
