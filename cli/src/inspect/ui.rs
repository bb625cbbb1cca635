//! The live page (`--ui ADDR`), served by the library's own server
//! ([`ws6455::server::serve`]): `GET /` is the page (`page/`: plain HTML,
//! CSS and JavaScript, built into the binary), and a WebSocket to
//! [`EVENTS_PATH`] streams every event to it, each as one text message
//! holding the event's `--record` line (one JSON object).
//!
//! One thread, the fan-out, takes the events from the hub (an output of
//! full detail) and hands each to every page through the page's own queue,
//! bounded by bytes. It never waits for a page: when a page's queue is
//! full, a frame or a message is dropped for that page and counted, and
//! the page gets `{"kind":"dropped","count":N,...}` where the gap is, as
//! the hub does for its outputs; the few events that tell a connection's
//! story (its start, handshake, violations and end) have room beyond that
//! ([`Need`]). The events the hub itself dropped for the fan-out reach
//! every page as such a count too. So a slow browser slows nothing but its
//! own page.
//!
//! The fan-out also keeps the last events, at most [`HISTORY_EVENTS`] and
//! [`HISTORY_BYTES`] of them, which a page gets first when it connects: a
//! page opened late still lists the connections and shows the recent
//! frames. History and queue are handed over under one lock, so a page
//! misses none and gets none twice.
//!
//! The page sends nothing. Its WebSocket carries everything the inspected
//! connections carry, so it is admitted only from the page itself
//! (RFC 6455 §10.2: its `Origin` must name the `Host` it was reached at,
//! `origin.rs`), and only at a `Host` that is an IP address or `localhost`:
//! a site whose name an attacker points at this address (DNS rebinding)
//! would otherwise be a page of the same origin as the UI.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ws6455::server::{Service, Upgraded, serve};
use ws6455::{Error, Message, MessageRef, ReadHalf, Request, Response, ServerConfig, WriteHalf};

use super::event::{Dropped, Event};
use super::hub::{Feed, Hub};
use super::view::Detail;
use crate::origin::{OriginChecked, OriginPolicy};

/// The path of the page's WebSocket.
const EVENTS_PATH: &str = "/events";

/// How many of the last events a page gets when it connects.
const HISTORY_EVENTS: usize = 2000;

/// The most bytes of JSON the history holds; the oldest events go first.
/// One event is at most a few hundred KiB (a message's 64 KiB of text,
/// escaped), so the history holds dozens of the largest at least.
const HISTORY_BYTES: usize = 16 << 20;

/// The most bytes of JSON waiting for one page; more is dropped and counted.
const PAGE_QUEUE_BYTES: usize = 4 << 20;

/// The most pages connected at once: one more is answered 503.
const MAX_PAGES: usize = 16;

/// The largest message a page may send: it sends none, only its Close.
const MAX_PAGE_MESSAGE: u64 = 4 << 10;

/// While it sends the history, a page's connection is flushed whenever this
/// much waits to be written.
const FLUSH_BYTES: usize = 1 << 20;

/// Stack size of each page's reading thread: it only waits for the Close.
const READER_STACK_SIZE: usize = 64 << 10;

const PAGE_HTML: &str = include_str!("page/index.html");
const PAGE_JS: &str = include_str!("page/inspect.js");
const PAGE_CSS: &str = include_str!("page/inspect.css");

/// Serves the live page on `addr`, fed by a new output of `hub` (of full
/// detail); returns the address it listens on.
pub(crate) fn serve_page(addr: SocketAddr, hub: &mut Hub) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    // The hub's clock, for the `dropped` events of each page: started
    // `hub.now()` seconds ago.
    let started = Instant::now()
        .checked_sub(Duration::from_secs_f64(hub.now()))
        .unwrap_or_else(Instant::now);
    start(
        listener,
        hub.add_output(Detail::Full),
        started,
        Bounds::DEFAULT,
    )
}

/// Starts the fan-out's thread and the server on `listener`.
fn start(
    listener: TcpListener,
    feed: Feed,
    started: Instant,
    bounds: Bounds,
) -> io::Result<SocketAddr> {
    let fanout = Arc::new(Fanout::new(bounds, started));
    let addr = serve_pages(listener, Arc::clone(&fanout))?;
    thread::Builder::new()
        .name("inspect-ui".to_owned())
        .spawn(move || fan_out(&feed, &fanout))?;
    Ok(addr)
}

/// Serves the page, and `fanout`'s events to it, on `listener`.
fn serve_pages(listener: TcpListener, fanout: Arc<Fanout>) -> io::Result<SocketAddr> {
    let config = ServerConfig::default()
        .max_frame(MAX_PAGE_MESSAGE)
        .max_message(MAX_PAGE_MESSAGE)
        .max_connections(Some(MAX_PAGES));
    let server = serve(
        listener,
        config,
        OriginChecked::new(OriginPolicy::for_chat(Vec::new()), LivePage { fanout }),
    )?;
    // Dropped, the server runs on: as long as the process.
    Ok(server.local_addr())
}

/// The fan-out's thread: every event the hub brings, as its JSON line, to
/// the history and every page, until the hub is gone.
fn fan_out(feed: &Feed, fanout: &Fanout) {
    while let Some(event) = feed.recv() {
        if let Some(dropped) = feed.dropped_since() {
            fanout.publish(dropped.to_json().into(), Need::Essential);
        }
        fanout.publish(event.to_json().into(), Need::of(&event));
    }
}

/// How much the fan-out keeps: the history, and each page's queue.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// The most events the history holds.
    history_events: usize,
    /// The most bytes of JSON it holds.
    history_bytes: usize,
    /// The most bytes of JSON waiting for one page.
    page_queue_bytes: usize,
}

impl Bounds {
    /// The inspector's: [`HISTORY_EVENTS`], [`HISTORY_BYTES`], [`PAGE_QUEUE_BYTES`].
    const DEFAULT: Bounds = Bounds {
        history_events: HISTORY_EVENTS,
        history_bytes: HISTORY_BYTES,
        page_queue_bytes: PAGE_QUEUE_BYTES,
    };
}

/// The last events, and the pages connected.
struct Fanout {
    /// How much it keeps.
    bounds: Bounds,
    /// The hub's clock: `t` in events is seconds since then.
    started: Instant,
    /// The history and the pages, under one lock: a page subscribing gets
    /// the history up to the event its queue starts after.
    kept: Mutex<Kept>,
}

/// What [`Fanout`] guards.
#[derive(Default)]
struct Kept {
    /// The last events' JSON, oldest first.
    history: VecDeque<Arc<str>>,
    /// Their bytes.
    history_bytes: usize,
    /// The pages connected, each by its queue.
    pages: Vec<Arc<PageQueue>>,
}

impl Fanout {
    /// No history and no pages yet; `t` counts from `started`.
    fn new(bounds: Bounds, started: Instant) -> Fanout {
        Fanout {
            bounds,
            started,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The history and the pages, locked.
    fn kept(&self) -> MutexGuard<'_, Kept> {
        // Every change to it is complete before anything that could panic.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `event` in the history, forgetting the oldest beyond the
    /// bounds, and offers it to every page; forgets the pages that left.
    /// Never waits for a page.
    fn publish(&self, event: Arc<str>, need: Need) {
        let mut kept = self.kept();
        kept.history_bytes += event.len();
        kept.history.push_back(Arc::clone(&event));
        while kept.history.len() > self.bounds.history_events
            || kept.history_bytes > self.bounds.history_bytes
        {
            match kept.history.pop_front() {
                Some(oldest) => kept.history_bytes -= oldest.len(),
                None => break,
            }
        }
        kept.pages.retain(|page| page.offer(&event, need));
    }

    /// A new page: the history so far, and its queue, which gets every
    /// event after those.
    fn subscribe(&self) -> (Vec<Arc<str>>, Arc<PageQueue>) {
        let page = Arc::new(PageQueue::new(self.bounds.page_queue_bytes));
        let mut kept = self.kept();
        kept.pages.push(Arc::clone(&page));
        (kept.history.iter().cloned().collect(), page)
    }

    /// The event that tells a page it missed `count` events.
    fn dropped(&self, count: u64) -> String {
        Event::Dropped(Dropped {
            t: self.started.elapsed().as_secs_f64(),
            count,
        })
        .to_json()
    }
}

/// How much a page needs an event: it can tell the whole story of a
/// connection only from all of its essential ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// A connection, its handshake, a violation, an end, or a count of
    /// events dropped: a handful a connection, where a busy one has
    /// thousands of frames. Without them the page would show an ended
    /// connection as open, or miss a violation, so a full queue still
    /// takes them, up to twice its capacity.
    Essential,
    /// A frame or a message: dropped, and counted, when the queue is full.
    Detail,
}

impl Need {
    /// How much pages need `event`.
    fn of(event: &Event) -> Need {
        match event {
            Event::Connection(_)
            | Event::Handshake(_)
            | Event::Violation(_)
            | Event::End(_)
            | Event::Dropped(_) => Need::Essential,
            Event::Frame(_) | Event::Message(_) => Need::Detail,
        }
    }
}

/// The events waiting for one page.
struct PageQueue {
    /// The most bytes of JSON it holds for detail; essential events may
    /// take as much again.
    capacity: usize,
    /// The events, and where some were dropped.
    pending: Mutex<Pending>,
    /// Signalled when an event arrives or the page leaves.
    ready: Condvar,
}

/// What [`PageQueue`] guards.
#[derive(Default)]
struct Pending {
    /// What the page is sent next, in order.
    queued: VecDeque<Queued>,
    /// The bytes of the events queued.
    bytes: usize,
    /// The page's connection ended: nothing more is queued.
    left: bool,
}

/// One thing a page is sent.
#[derive(Clone, Debug, PartialEq)]
enum Queued {
    /// An event's JSON.
    Event(Arc<str>),
    /// This many events were dropped here.
    Missed(u64),
}

impl PageQueue {
    /// An empty queue of `capacity` bytes for detail.
    fn new(capacity: usize) -> PageQueue {
        PageQueue {
            capacity,
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
        }
    }

    /// What waits, locked; every change to it is complete before anything
    /// that could panic.
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event`, or counts it as missed, where it would have been,
    /// if the queue has no room for it; false once the page has left. An
    /// empty queue takes any event, however large.
    fn offer(&self, event: &Arc<str>, need: Need) -> bool {
        let mut pending = self.pending();
        if pending.left {
            return false;
        }
        let room = match need {
            Need::Detail => self.capacity,
            Need::Essential => 2 * self.capacity,
        };
        if pending.bytes + event.len() <= room || pending.queued.is_empty() {
            pending.bytes += event.len();
            pending.queued.push_back(Queued::Event(Arc::clone(event)));
        } else if let Some(Queued::Missed(count)) = pending.queued.back_mut() {
            *count += 1;
        } else {
            pending.queued.push_back(Queued::Missed(1));
        }
        self.ready.notify_one();
        true
    }

    /// Waits for something to send, and takes all there is; `None` once
    /// the page has left.
    fn take(&self) -> Option<VecDeque<Queued>> {
        let mut pending = self.pending();
        while !pending.left && pending.queued.is_empty() {
            pending = self
                .ready
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.left {
            return None;
        }
        pending.bytes = 0;
        Some(std::mem::take(&mut pending.queued))
    }

    /// The page's connection ended: forget what waits, and wake its writer.
    fn leave(&self) {
        let mut pending = self.pending();
        pending.left = true;
        pending.queued.clear();
        pending.bytes = 0;
        self.ready.notify_all();
    }
}

/// The page's server.
struct LivePage {
    /// Where each page's session gets its events.
    fanout: Arc<Fanout>,
}

/// A `200 OK` with a built-in file. The page loads nothing from elsewhere,
/// runs no script but its own, and is framed by no other page: what it
/// shows is what the inspected peers sent, and it stays text.
fn asset(content_type: &str, body: &str) -> Response {
    let policy = (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    crate::asset::asset(content_type, body, &[policy])
}

/// Whether `host` (a `Host` value) names an IP address or `localhost`,
/// with or without a port: names no other site can make its own.
fn is_address_or_localhost(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, rest)) if rest.is_empty() || rest.starts_with(':') => {
                return v6.parse::<Ipv6Addr>().is_ok();
            }
            _ => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

impl Service<TcpStream> for LivePage {
    fn plain_http(&self, request: &Request) -> Response {
        let path = request
            .path
            .split_once('?')
            .map_or(&*request.path, |(path, _)| path);
        match path {
            "/" => asset("text/html; charset=utf-8", PAGE_HTML),
            "/inspect.js" => asset("text/javascript; charset=utf-8", PAGE_JS),
            "/inspect.css" => asset("text/css; charset=utf-8", PAGE_CSS),
            _ => Response::text(
                404,
                "Not Found",
                "the inspector's live page is at /, its events at /events",
            ),
        }
    }

    fn admit(&self, request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        if request.path != EVENTS_PATH {
            return Err(Response::text(
                404,
                "Not Found",
                "the inspector's events are at /events",
            ));
        }
        if !request.header("Host").is_some_and(is_address_or_localhost) {
            return Err(Response::text(
                403,
                "Forbidden",
                "the inspector's events are served to an IP address or localhost only, \
                 not to a name another site could point here",
            ));
        }
        Ok(Vec::new())
    }

    fn session(
        &self,
        connection: Upgraded<'_, TcpStream>,
        _request: &Request,
    ) -> Result<(), Error> {
        let (stream, log) = (connection.stream(), connection.log());
        let (mut read, write) = connection.into_websocket(stream).split()?;
        let (history, page) = self.fanout.subscribe();
        let result = thread::scope(|scope| {
            let reader = thread::Builder::new()
                .name("inspect-ui-page".to_owned())
                .stack_size(READER_STACK_SIZE)
                .spawn_scoped(scope, || {
                    let result = read_until_closed(&mut read);
                    page.leave();
                    result
                });
            let reader = match reader {
                Ok(reader) => reader,
                Err(e) => {
                    page.leave();
                    return Err(Error::Io(e));
                }
            };
            let sent = send_events(&write, &history, &page, &self.fanout);
            page.leave();
            if sent.is_err() {
                // The page is gone or stuck: its reader stops too.
                let _ = stream.shutdown(Shutdown::Both);
            }
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(Error::Io(io::Error::other("the reader panicked"))));
            sent.and(read)
        });
        log.ended(
            write.first_close(),
            read.bytes_received(),
            write.bytes_sent(),
        );
        result
    }
}

/// Reads until the page's Close (which the read half answers) or the end
/// of the connection; a page sends nothing else.
fn read_until_closed(read: &mut ReadHalf<&TcpStream>) -> Result<(), Error> {
    loop {
        if let Message::Close(_) = read.read()? {
            return Ok(());
        }
    }
}

/// Sends the page the history, then everything its queue gets, each
/// batch in one write; until the page leaves or a write fails.
fn send_events(
    write: &WriteHalf<&TcpStream>,
    history: &[Arc<str>],
    page: &PageQueue,
    fanout: &Fanout,
) -> Result<(), Error> {
    for event in history {
        write.queue_ref(MessageRef::Text(event))?;
        if write.queued_bytes() >= FLUSH_BYTES {
            write.flush()?;
        }
    }
    write.flush()?;
    while let Some(batch) = page.take() {
        for queued in batch {
            match queued {
                Queued::Event(event) => write.queue_ref(MessageRef::Text(&event))?,
                Queued::Missed(count) => write.queue(Message::Text(fanout.dropped(count)))?,
            }
        }
        write.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::event::{Connection, End};
    use ws6455::{ClientConfig, Transport};

    fn json(n: u64) -> Arc<str> {
        Event::End(End {
            conn: n,
            t: 0.0,
            how: "x".repeat(10),
        })
        .to_json()
        .into()
    }

    fn small_bounds(page_queue_bytes: usize) -> Bounds {
        Bounds {
            history_events: 5,
            history_bytes: 1 << 20,
            page_queue_bytes,
        }
    }

    /// What a page is sent for `events`.
    fn sent(events: impl IntoIterator<Item = u64>) -> VecDeque<Queued> {
        events.into_iter().map(|n| Queued::Event(json(n))).collect()
    }

    #[test]
    fn a_late_page_gets_the_last_events_then_the_live_ones() {
        let fanout = Fanout::new(small_bounds(1 << 20), Instant::now());
        for n in 1..=8 {
            fanout.publish(json(n), Need::Detail);
        }
        let (history, page) = fanout.subscribe();
        assert_eq!(history, (4..=8).map(json).collect::<Vec<_>>());
        fanout.publish(json(9), Need::Detail);
        assert_eq!(page.take().unwrap(), sent([9]));
    }

    #[test]
    fn the_history_keeps_to_its_bytes() {
        let one = json(1).len();
        let fanout = Fanout::new(
            Bounds {
                history_events: 100,
                history_bytes: 3 * one,
                page_queue_bytes: 1 << 20,
            },
            Instant::now(),
        );
        for n in 1..=6 {
            fanout.publish(json(n), Need::Detail);
        }
        assert_eq!(fanout.subscribe().0, (4..=6).map(json).collect::<Vec<_>>());
    }

    #[test]
    fn a_slow_page_drops_and_counts_and_the_others_miss_nothing() {
        let one = json(1).len();
        let fanout = Fanout::new(small_bounds(3 * one), Instant::now());
        let (_, slow) = fanout.subscribe();
        let (_, other) = fanout.subscribe();
        // The slow page takes nothing while ten events come: publishing
        // never waits for it.
        for n in 1..=10 {
            fanout.publish(json(n), Need::Detail);
            if n % 2 == 0 {
                assert_eq!(other.take().unwrap(), sent([n - 1, n]));
            }
        }
        let mut expected = sent(1..=3);
        expected.push_back(Queued::Missed(7));
        assert_eq!(slow.take().unwrap(), expected);
        // Taken, its queue takes events again, and counts afresh.
        fanout.publish(json(11), Need::Detail);
        assert_eq!(slow.take().unwrap(), sent([11]));
        let dropped = fanout.dropped(7);
        assert!(
            dropped.starts_with("{\"kind\":\"dropped\",\"t\":"),
            "{dropped}"
        );
        assert!(dropped.ends_with(",\"count\":7}"), "{dropped}");
    }

    #[test]
    fn each_gap_is_counted_where_it_happened() {
        let fanout = Fanout::new(small_bounds(100), Instant::now());
        let (_, page) = fanout.subscribe();
        let big: Arc<str> = "b".repeat(80).into();
        let small: Arc<str> = "s".repeat(10).into();
        // An empty queue takes anything; the next big one has no room,
        // the small one after it has.
        for event in [&big, &big, &small, &big, &big] {
            fanout.publish(Arc::clone(event), Need::Detail);
        }
        assert_eq!(
            page.take().unwrap(),
            [
                Queued::Event(big),
                Queued::Missed(1),
                Queued::Event(small),
                Queued::Missed(2),
            ]
        );
    }

    #[test]
    fn a_full_queue_still_takes_a_connections_end_and_its_violations() {
        let one = json(1).len();
        let fanout = Fanout::new(small_bounds(2 * one), Instant::now());
        let (_, page) = fanout.subscribe();
        for n in 1..=4 {
            fanout.publish(json(n), Need::Detail);
        }
        // The room essential events have beyond the queue's capacity.
        for n in 5..=7 {
            fanout.publish(json(n), Need::Essential);
        }
        fanout.publish(json(8), Need::Detail);
        let mut expected = sent(1..=2);
        expected.push_back(Queued::Missed(2));
        expected.extend(sent(5..=6));
        expected.push_back(Queued::Missed(2));
        assert_eq!(page.take().unwrap(), expected);
        assert_eq!(
            Need::of(&Event::from_json(&json(1)).unwrap()),
            Need::Essential
        );
    }

    #[test]
    fn a_page_that_left_is_forgotten_and_its_writer_wakes() {
        let fanout = Fanout::new(small_bounds(1 << 20), Instant::now());
        let (_, page) = fanout.subscribe();
        let waiting = {
            let page = Arc::clone(&page);
            thread::spawn(move || page.take())
        };
        page.leave();
        assert_eq!(waiting.join().unwrap(), None);
        fanout.publish(json(1), Need::Detail);
        assert!(fanout.kept().pages.is_empty());
    }

    #[test]
    fn only_an_address_or_localhost_is_a_host_the_events_are_served_to() {
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "[::1]:9",
            "[::1]",
            "10.1.2.3:80",
        ] {
            assert!(is_address_or_localhost(host.as_bytes()), "{host}");
        }
        for host in [
            "example.com:8080",
            "localhost.example.com",
            "127.0.0.1.nip.io:80",
            "[::1",
            "[::1]x",
            "[example]:80",
            "",
        ] {
            assert!(!is_address_or_localhost(host.as_bytes()), "{host}");
        }
    }

    /// Starts the page's server on a free port of 127.0.0.1, fed by a hub.
    fn started(bounds: Bounds) -> (Hub, SocketAddr) {
        let mut hub = Hub::new();
        let feed = hub.add_output(Detail::Full);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = start(listener, feed, Instant::now(), bounds).unwrap();
        (hub, addr)
    }

    fn connection(conn: u64) -> Event {
        Event::Connection(Connection {
            conn,
            t: 0.0,
            client: "127.0.0.1:1".to_owned(),
            upstream: "ws://127.0.0.1:2/".to_owned(),
        })
    }

    /// Reads the next text message as an event.
    fn next_event(ws: &mut ws6455::WebSocket<ws6455::Stream>) -> Event {
        match ws.read().unwrap() {
            Message::Text(text) => Event::from_json(&text).unwrap(),
            other => panic!("not a text: {other:?}"),
        }
    }

    #[test]
    fn a_page_connecting_late_gets_the_history_then_the_live_events_over_a_websocket() {
        let (hub, addr) = started(Bounds::DEFAULT);
        let url = format!("ws://{addr}{EVENTS_PATH}");
        hub.publish([connection(1), connection(2)]);
        let (mut early, _) = ws6455::connect(&url).unwrap();
        assert_eq!(next_event(&mut early), connection(1));
        assert_eq!(next_event(&mut early), connection(2));
        // The fan-out has taken both: the late page gets them as history.
        let (mut late, _) = ws6455::connect(&url).unwrap();
        assert_eq!(next_event(&mut late), connection(1));
        assert_eq!(next_event(&mut late), connection(2));
        hub.publish([connection(3)]);
        assert_eq!(next_event(&mut early), connection(3));
        assert_eq!(next_event(&mut late), connection(3));
    }

    #[test]
    fn the_page_and_its_script_are_served_and_other_paths_are_not() {
        let (_hub, addr) = started(Bounds::DEFAULT);
        for (path, status, content_type) in [
            ("/", 200, "text/html"),
            ("/inspect.js", 200, "text/javascript"),
            ("/inspect.css", 200, "text/css"),
            ("/nothing", 404, "text/plain"),
        ] {
            let head = http_get(addr, path, &format!("127.0.0.1:{}", addr.port()));
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status} ")),
                "{path}: {head}"
            );
            assert!(
                head.to_ascii_lowercase()
                    .contains(&format!("content-type: {content_type}")),
                "{path}: {head}"
            );
        }
    }

    #[test]
    fn a_page_that_stops_reading_is_told_how_many_events_it_missed_and_in_order() {
        let fanout = Arc::new(Fanout::new(
            Bounds {
                history_events: 10,
                history_bytes: 1 << 20,
                page_queue_bytes: 256 << 10,
            },
            Instant::now(),
        ));
        let addr = serve_pages(
            TcpListener::bind("127.0.0.1:0").unwrap(),
            Arc::clone(&fanout),
        )
        .unwrap();
        // Uncompressed, so that what waits fills the sockets' buffers.
        let mut config = ClientConfig::default();
        config.deflate = None;
        let (mut page, _) =
            ws6455::connect_with(&format!("ws://{addr}{EVENTS_PATH}"), &config).unwrap();
        page.get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while fanout.kept().pages.is_empty() {
            assert!(Instant::now() < deadline, "the page never subscribed");
            thread::sleep(Duration::from_millis(1));
        }
        // 64 MiB while the page reads nothing: more than its queue and the
        // sockets' buffers hold (net.ipv4.tcp_wmem and tcp_rmem cap those:
        // 4 and 32 MiB where this was written). Publishing never waits.
        // The events are published as detail, as frames are.
        let events = 4000;
        let how = "x".repeat(16 << 10);
        for conn in 1..=events {
            let event = Event::End(End {
                conn,
                t: 0.0,
                how: how.clone(),
            });
            fanout.publish(event.to_json().into(), Need::Detail);
        }
        // Now it reads: each event in order, and after each gap the count
        // of what it missed, so that every event is accounted for.
        let (mut next, mut missed, mut gaps) = (1, 0, 0);
        while next <= events {
            match next_event(&mut page) {
                Event::End(End { conn, .. }) => {
                    assert_eq!(conn, next);
                    next += 1;
                }
                Event::Dropped(Dropped { count, .. }) => {
                    next += count;
                    missed += count;
                    gaps += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(next, events + 1);
        assert!(gaps >= 1 && missed > 0, "{gaps} gaps, {missed} missed");
    }

    /// The head of the answer to a GET of `path` with `Host: host`.
    fn http_get(addr: SocketAddr, path: &str, host: &str) -> String {
        use std::io::{Read, Write};
        let mut tcp = TcpStream::connect(addr).unwrap();
        write!(
            tcp,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        answer
            .split_once("\r\n\r\n")
            .map_or(answer.clone(), |(head, _)| head.to_owned())
    }

    /// The status line of the answer to an upgrade request for `path`
    /// with `Host: host` and, if given, `Origin: origin`.
    fn upgrade_status(addr: SocketAddr, path: &str, host: &str, origin: Option<&str>) -> String {
        use std::io::{Read, Write};
        let mut tcp = TcpStream::connect(addr).unwrap();
        let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
        write!(
            tcp,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{origin}\r\n"
        )
        .unwrap();
        let mut answer = [0; 64];
        let n = tcp.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
        answer.lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn the_events_go_to_the_page_itself_only() {
        let (_hub, addr) = started(Bounds::DEFAULT);
        let port = addr.port();
        let own_host = format!("127.0.0.1:{port}");
        let own = format!("http://{own_host}");
        let status =
            |path: &str, host: &str, origin: Option<&str>| upgrade_status(addr, path, host, origin);
        assert_eq!(
            status(EVENTS_PATH, &own_host, Some(&own)),
            "HTTP/1.1 101 Switching Protocols"
        );
        // A program, with no Origin, and the page at localhost.
        assert_eq!(
            status(EVENTS_PATH, &own_host, None),
            "HTTP/1.1 101 Switching Protocols"
        );
        let localhost = format!("localhost:{port}");
        assert_eq!(
            status(
                EVENTS_PATH,
                &localhost,
                Some(&format!("http://{localhost}"))
            ),
            "HTTP/1.1 101 Switching Protocols"
        );
        // RFC 6455 §10.2: another site's page.
        assert_eq!(
            status(EVENTS_PATH, &own_host, Some("http://example.com")),
            "HTTP/1.1 403 Forbidden"
        );
        // A name pointed at this address: Origin and Host agree, and still no.
        let rebound = format!("attacker.example:{port}");
        assert_eq!(
            status(EVENTS_PATH, &rebound, Some(&format!("http://{rebound}"))),
            "HTTP/1.1 403 Forbidden"
        );
        assert_eq!(
            status("/elsewhere", &own_host, Some(&own)),
            "HTTP/1.1 404 Not Found"
        );
    }
}
