//! A running server: its connections, and shutting it down gracefully.
//!
//! [`serve`](super::serve) returns a [`Server`]. Its accept loop runs on a
//! thread of its own and each connection on another; the server keeps a
//! list of the connections running, so that [`Server::shutdown`] can:
//!
//! 1. stop accepting (the listening socket is closed; a handshake already
//!    under way is answered 503);
//! 2. send every open connection a Close with 1001 "server shutting down"
//!    (RFC 6455 §7.4.1: "an endpoint is 'going away', such as a server
//!    going down"), and wait for the closing handshakes (§7.1.2) until
//!    [`ServerConfig::shutdown_timeout`] has passed;
//! 3. cut the TCP connections of those still open then, and return what
//!    happened: a [`ShutdownReport`].
//!
//! A session over [`Upgraded::with_websocket`](super::Upgraded::with_websocket)
//! needs nothing for this: its Close is sent for it, even while its thread
//! is blocked reading (see `close_request.rs`). A service that reads and
//! writes on threads of its own (over split halves) closes its sessions in
//! [`Service::shutting_down`](super::Service::shutting_down).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::io::close_request::CloseRequest;
use crate::io::transport::Transport;
use crate::proto::close::CloseCode;
use crate::server::config::ServerConfig;
use crate::server::connection_log::TARGET;

/// The reason in the Close 1001 a shutting-down server sends.
pub const SHUTDOWN_REASON: &str = "server shutting down";

/// How many threads send the Closes at shutdown: a client that reads
/// nothing can hold one of them until its write times out.
const CLOSING_THREADS: usize = 4;

/// How long to wait, after cutting the connections still open at the
/// deadline, for their threads to notice and end.
const CUT_GRACE: Duration = Duration::from_secs(1);

/// A server accepting connections on its own thread; see the module
/// documentation. Dropping it leaves it running (as a detached thread).
pub struct Server {
    local_addr: SocketAddr,
    control: Arc<dyn Control>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Asks a [`Server`] to shut down, from any thread (a signal handler's, a
/// test's). Clone it freely.
#[derive(Clone)]
pub struct ShutdownHandle {
    control: Arc<dyn Control>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle").finish_non_exhaustive()
    }
}

/// What a shutdown did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections running when the shutdown began.
    pub connections: usize,
    /// Of those, the ones that ended before the deadline: closing handshake
    /// done, or the client gone.
    pub ended_in_time: usize,
    /// The ones whose TCP connections were cut at the deadline.
    pub cut: usize,
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connection(s) open: {} closed in time, {} cut at the deadline",
            self.connections, self.ended_in_time, self.cut
        )
    }
}

impl Server {
    pub(crate) fn new(local_addr: SocketAddr, control: Arc<dyn Control>) -> Server {
        Server {
            local_addr,
            control,
        }
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that asks this server to shut down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            control: Arc::clone(&self.control),
        }
    }

    /// Shuts the server down gracefully (see the module documentation) and
    /// says how it went.
    pub fn shutdown(self) -> ShutdownReport {
        self.control.ask();
        self.wait()
    }

    /// Serves until a [`ShutdownHandle`] asks for a shutdown, then carries
    /// it out on this thread and says how it went.
    pub fn wait(self) -> ShutdownReport {
        self.control.wait_for_ask();
        self.control.shut_down()
    }
}

impl ShutdownHandle {
    /// Asks for the shutdown, which [`Server::wait`] carries out. Returns
    /// at once; asking again does nothing more.
    pub fn shutdown(&self) {
        self.control.ask();
    }
}

/// What [`Server`] needs of the connections, whatever their transport.
pub(crate) trait Control: Send + Sync {
    /// Asks for the shutdown.
    fn ask(&self);
    /// Waits until the shutdown is asked for.
    fn wait_for_ask(&self);
    /// Stops accepting, closes every connection, waits, cuts the rest.
    fn shut_down(&self) -> ShutdownReport;
}

/// The connections of one server, over transport `T`.
pub(crate) struct Connections<T: Transport> {
    listening: SocketAddr,
    shutdown_timeout: Duration,
    /// Called once when the shutdown begins: the service's own closing.
    on_shutdown: Box<dyn Fn() + Send + Sync>,
    /// Set when the shutdown begins (in [`Control::shut_down`]): the accept
    /// loop stops, and new handshakes are refused.
    stopping: AtomicBool,
    /// The thread that runs [`accept_loop`], joined at shutdown.
    accept_thread: Mutex<Option<JoinHandle<()>>>,
    state: Mutex<State<T>>,
    /// Signalled when the shutdown is asked for, and when a connection ends.
    changed: Condvar,
}

struct State<T: Transport> {
    asked: bool,
    next_id: u64,
    live: HashMap<u64, Live<T>>,
}

/// A connection running, as the server sees it from outside its thread.
struct Live<T: Transport> {
    transport: Arc<T>,
    close_request: Arc<CloseRequest>,
}

impl<T: Transport> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live {
            transport: Arc::clone(&self.transport),
            close_request: Arc::clone(&self.close_request),
        }
    }
}

/// A connection's place in [`Connections`]: it leaves the list when this
/// is dropped, at the end of the connection's thread.
pub(crate) struct Registered<T: Transport> {
    connections: Arc<Connections<T>>,
    id: u64,
    pub(crate) close_request: Arc<CloseRequest>,
}

impl<T: Transport> Connections<T> {
    pub(crate) fn new(
        listening: SocketAddr,
        config: &ServerConfig,
        on_shutdown: Box<dyn Fn() + Send + Sync>,
    ) -> Connections<T> {
        Connections {
            listening,
            shutdown_timeout: config.shutdown_timeout,
            on_shutdown,
            stopping: AtomicBool::new(false),
            accept_thread: Mutex::new(None),
            state: Mutex::new(State {
                asked: false,
                next_id: 0,
                live: HashMap::new(),
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // Every change to the state is complete before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the server is shutting down.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Puts a connection on the list, for as long as the result lives.
    pub(crate) fn register(self: &Arc<Self>, transport: Arc<T>) -> Registered<T> {
        let close_request = Arc::new(CloseRequest::new(CloseCode::GOING_AWAY, SHUTDOWN_REASON));
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        state.live.insert(
            id,
            Live {
                transport,
                close_request: Arc::clone(&close_request),
            },
        );
        Registered {
            connections: Arc::clone(self),
            id,
            close_request,
        }
    }

    /// Keeps the thread that runs [`accept_loop`], to join at shutdown.
    pub(crate) fn set_accept_thread(&self, thread: JoinHandle<()>) {
        *self
            .accept_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(thread);
    }

    /// Stops the accept loop and waits for it to end, which closes the
    /// listening socket.
    fn stop_accepting(&self) {
        if self.wake_accept_loop().is_err() {
            // It stops at its next connection instead.
            return;
        }
        let thread = self
            .accept_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Wakes the accept loop, blocked in `accept`, by connecting to it.
    fn wake_accept_loop(&self) -> io::Result<()> {
        let mut address = self.listening;
        if address.ip().is_unspecified() {
            address.set_ip(match address {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        TcpStream::connect_timeout(&address, Duration::from_secs(1)).map(drop)
    }

    /// Sends the Close on each connection from a few threads, so that one
    /// client that reads nothing holds up only its own.
    fn ask_all_to_close(live: Vec<Live<T>>) {
        let queue = Arc::new(Mutex::new(live));
        for _ in 0..CLOSING_THREADS {
            let queue = Arc::clone(&queue);
            let spawned = thread::Builder::new()
                .name("ws6455-shutdown".to_owned())
                .stack_size(64 << 10)
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
                        let Some(connection) = next else { break };
                        let asked = connection.close_request.ask(connection.transport.by_ref());
                        if asked.is_err() {
                            // The Close did not go out whole: the connection is broken.
                            let _ = connection.transport.shutdown(Shutdown::Both);
                        }
                    }
                });
            if spawned.is_err() {
                // No thread to spare: the deadline cuts those left.
                break;
            }
        }
    }

    /// Waits until no connection is left or `deadline` passes; the number left.
    fn wait_until_empty(&self, deadline: Instant) -> usize {
        let mut state = self.state();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if state.live.is_empty() || left.is_zero() {
                return state.live.len();
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl<T: Transport> Control for Connections<T> {
    fn ask(&self) {
        self.state().asked = true;
        self.changed.notify_all();
    }

    fn wait_for_ask(&self) {
        let mut state = self.state();
        while !state.asked {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn shut_down(&self) -> ShutdownReport {
        if self.stopping.swap(true, Ordering::AcqRel) {
            // Shut down already: nothing is left to close.
            return ShutdownReport {
                connections: 0,
                ended_in_time: 0,
                cut: 0,
            };
        }
        self.stop_accepting();
        let deadline = Instant::now() + self.shutdown_timeout;
        (self.on_shutdown)();
        let live: Vec<Live<T>> = self.state().live.values().cloned().collect();
        let connections = live.len();
        Self::ask_all_to_close(live);
        let left = self.wait_until_empty(deadline);
        for connection in self.state().live.values() {
            // Wakes a thread blocked reading or writing: its session ends.
            let _ = connection.transport.shutdown(Shutdown::Both);
        }
        self.wait_until_empty(Instant::now() + CUT_GRACE);
        ShutdownReport {
            connections,
            ended_in_time: connections.saturating_sub(left),
            cut: left,
        }
    }
}

impl<T: Transport> Drop for Registered<T> {
    fn drop(&mut self) {
        self.connections.state().live.remove(&self.id);
        self.connections.changed.notify_all();
    }
}

/// Accepts connections until the server stops, giving each to `start`,
/// which fails when no thread can be had for it.
pub(crate) fn accept_loop<T: Transport>(
    listener: TcpListener,
    connections: &Connections<T>,
    mut start: impl FnMut(TcpStream) -> io::Result<()>,
) {
    let mut accept_failed = Throttled::default();
    let mut start_failed = Throttled::default();
    for stream in listener.incoming() {
        if connections.is_stopping() {
            break;
        }
        match stream {
            Ok(stream) => match start(stream) {
                Ok(()) => {}
                Err(e) => {
                    // Out of threads (or of memory for one): the connection
                    // is closed unanswered; the others go on.
                    start_failed.log(format_args!("cannot start a thread for a connection: {e}"));
                }
            },
            Err(e) => {
                // Out of file descriptors or a connection reset before accept:
                // keep serving the others.
                accept_failed.log(format_args!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A log line for a failure that can repeat thousands of times a second
/// when a resource runs out (file descriptors, threads): at most one a
/// second, saying how many more there were.
#[derive(Debug, Default)]
pub(crate) struct Throttled {
    last: Option<Instant>,
    since_last: u64,
}

impl Throttled {
    pub(crate) fn log(&mut self, line: fmt::Arguments<'_>) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now < last + Duration::from_secs(1))
        {
            self.since_last += 1;
            return;
        }
        match std::mem::take(&mut self.since_last) {
            0 => log::warn!(target: TARGET, "{line}"),
            more => log::warn!(target: TARGET, "{line} (and {more} more since the last such line)"),
        }
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_line_is_logged_once_a_second_and_counts_the_rest() {
        let mut throttled = Throttled::default();
        throttled.log(format_args!("accept failed: test"));
        let first = throttled.last;
        throttled.log(format_args!("accept failed: test"));
        throttled.log(format_args!("accept failed: test"));
        assert_eq!(throttled.last, first);
        assert_eq!(throttled.since_last, 2);
        throttled.last = first.map(|at| at - Duration::from_secs(2));
        throttled.log(format_args!("accept failed: test"));
        assert_eq!(throttled.since_last, 0);
    }
}
