//! `ws6455 echo --async`: the echo on tokio's multi-threaded runtime (a
//! worker per core, a task per connection), over the library's
//! `WebSocketStream`, with the blocking echo's options: limits,
//! permessage-deflate and subprotocols (the library's handshake, from the
//! same `ServerConfig`), the allowed origins, TLS, the connection log,
//! keepalive, releasing a quiet connection's buffers, a graceful shutdown
//! on SIGTERM or SIGINT with Close 1001 to every connection, the limits on
//! connections (all, and per client address, behind a trusted proxy by the
//! address it forwards for) and the trace. The opening handshake is the
//! library's, counted, answered and logged as the blocking server does it
//! (`Arrival::accept_async`).

use std::net::{SocketAddr, TcpListener as StdListener};
use std::pin::{Pin, pin};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use ws6455::proto::Direction;
use ws6455::server::{Admissions, Arrival, ConnectionLog, Echo, SHUTDOWN_REASON};
use ws6455::{AsyncStream, CloseCode, Error, Message, ServerConfig, StreamEvent, WebSocketStream};

use crate::origin::OriginChecked;
use crate::shut_down_on_signals;

/// The service that answers the opening handshake: the echo behind the
/// allowed origins, as the blocking `ws6455 echo` has it.
pub(crate) type Handshakes = OriginChecked<Echo>;

/// The first buffer for a message's pieces: small messages fit whole.
const FIRST_PIECE_SIZE: usize = 4 << 10;

/// The largest buffer for a message's pieces (as the blocking echo's).
const MAX_PIECE_SIZE: usize = 256 << 10;

/// Polling for a connection's next message instead of sleeping on it.
///
/// A task that waits for its socket sleeps in `epoll_wait` and is woken
/// when bytes come: a system call and a wakeup more than the blocking
/// echo's thread pays in its `read`, about 2 µs of each round trip here.
/// On a connection whose messages follow each other within `window` (a
/// client that sends its next message as soon as the echo is back), the
/// task instead yields to the runtime and tries its read again, for up to
/// `window`: between tries the runtime runs its other tasks and polls the
/// sockets without sleeping (`yield_now`), so the next message is read as
/// soon as it comes. A wait longer than `window` turns the polling off
/// until a wait is short again, so a connection of sparse messages pays
/// one window when its pace drops, not one per message. What the polling
/// takes is CPU time the worker would have slept through. Linux's own busy
/// polling of sockets (`net.core.busy_poll`) suggests 50 µs.
#[derive(Clone, Copy, Debug)]
struct BusyPoll {
    /// How long a wait is polled for; zero: never.
    window: Duration,
    /// Whether the last wait ended within `window`.
    last_wait_short: bool,
}

impl BusyPoll {
    fn new(window: Duration) -> BusyPoll {
        BusyPoll {
            window,
            last_wait_short: false,
        }
    }

    /// Whether the next wait begins by polling.
    fn polls(self) -> bool {
        self.last_wait_short
    }

    /// A wait ended after `waited`.
    fn waited(&mut self, waited: Duration) {
        self.last_wait_short = !self.window.is_zero() && waited <= self.window;
    }
}

/// Everything a connection's task shares with the others.
struct Shared {
    config: ServerConfig,
    /// The count of connections, by which they are admitted.
    admissions: Admissions,
    tls: Option<TlsAcceptor>,
    handshakes: Handshakes,
    /// How long a wait for the next message polls (see [`BusyPoll`]).
    busy_poll: Duration,
}

/// Serves the echo on `listener` until SIGTERM or SIGINT, then closes every
/// connection with 1001 and waits for them as the blocking server does.
pub(crate) fn run(
    listener: StdListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: ServerConfig,
    handshakes: Handshakes,
    busy_poll: Duration,
    banner: String,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ws6455 echo --async: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stop, stopped) = watch::channel(false);
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)
        })
        .and_then(|listener| {
            shut_down_on_signals(move || {
                let _ = stop.send(true);
            })?;
            Ok(listener)
        });
    let listener = match listener {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("ws6455: cannot serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Only once SIGTERM shuts down gracefully (see `run` in main.rs).
    log_line!("{banner}");
    let shared = Arc::new(Shared {
        tls: tls.map(TlsAcceptor::from),
        admissions: Admissions::new(&config),
        config,
        handshakes,
        busy_poll,
    });
    let report = runtime.block_on(serve(listener, shared, stopped));
    if log::log_enabled!(log::Level::Info) {
        log_line!(
            "ws6455: shut down; {} connection(s) open: {} closed in time, {} cut at the deadline",
            report.connections,
            report.connections - report.cut,
            report.cut
        );
    }
    ExitCode::SUCCESS
}

/// What the shutdown found and did.
struct Report {
    /// Connections running when it began.
    connections: usize,
    /// Those still running at the deadline, whose tasks were dropped.
    cut: usize,
}

/// Accepts connections until `stopped` turns true; then stops accepting,
/// lets every connection send its Close 1001, and waits for them until the
/// shutdown timeout, cutting those left.
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) -> Report {
    let mut connections = JoinSet::new();
    loop {
        // Ended tasks leave the set as new ones come.
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    // None: its address holds twice its share already; it
                    // is closed unanswered (and logged).
                    if let Some(arrival) = shared.admissions.arrive(peer) {
                        let (shared, stopped) = (Arc::clone(&shared), stopped.clone());
                        connections.spawn(connection(tcp, peer, arrival, shared, stopped));
                    }
                }
                Err(e) => {
                    // Out of descriptors, or a connection reset before
                    // accept: keep serving the others.
                    log::warn!(target: "ws6455::server", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = stop_asked(&mut stopped) => break,
        }
    }
    drop(listener);
    // Handshakes still under way are answered 503.
    shared.admissions.stop();
    while connections.try_join_next().is_some() {}
    let running = connections.len();
    let deadline = Instant::now() + shared.config.shutdown_timeout;
    while tokio::time::timeout_at(deadline, connections.join_next())
        .await
        .is_ok_and(|joined| joined.is_some())
    {}
    let cut = connections.len();
    // Dropping a task drops its socket: the connection is cut.
    connections.shutdown().await;
    Report {
        connections: running,
        cut,
    }
}

/// Returns once the shutdown is asked for (at once if it was already).
async fn stop_asked(stopped: &mut watch::Receiver<bool>) {
    // An error: the sender is gone, with the process.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// One connection, holding its places in the counts (`arrival`): the TLS
/// handshake within the handshake timeout, the opening handshake, the echo,
/// the closing handshake, and the TCP close in the order RFC 6455 §7.1.1
/// asks of a server; logged as the blocking server logs.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    mut arrival: Arrival,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let config = &shared.config;
    let mut log = ConnectionLog::new(peer.to_string());
    let stream = match &shared.tls {
        None => AsyncStream::Plain(tcp),
        Some(acceptor) => match timeout(config.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => AsyncStream::Tls(Box::new(tls.into())),
            Ok(Err(e)) => return log.line(format_args!("during the opening handshake: {e}")),
            Err(_) => {
                return log.line(format_args!(
                    "during the opening handshake: no TLS handshake within {:?}",
                    config.handshake_timeout
                ));
            }
        },
    };
    let opened = arrival.accept_async(stream, config, &shared.handshakes, &mut log);
    let mut ws = match opened.await {
        Ok((ws, _request)) => ws,
        Err(stream) => return linger_close(stream, config.close_timeout).await,
    };
    let busy_poll = BusyPoll::new(shared.busy_poll);
    let mut result = echo(&mut ws, config, busy_poll, &log, &mut stopped).await;
    if ws.is_closing() && result.is_ok() {
        // RFC 6455 §7.1.2: our Close (the keepalive's, the shutdown's)
        // waits for the client's, within the close timeout.
        result = match timeout(config.close_timeout, finish_close(&mut ws)).await {
            Ok(finished) => finished,
            Err(_) => Err(Error::Io(std::io::ErrorKind::TimedOut.into())),
        };
    }
    log.ended(
        ws.first_close().cloned(),
        ws.bytes_received(),
        ws.bytes_sent(),
    );
    log.disconnected(&result);
    linger_close(ws.into_inner(), config.close_timeout).await;
}

/// Reads until the client's Close answers ours, discarding messages.
async fn finish_close(ws: &mut WebSocketStream<AsyncStream>) -> Result<(), Error> {
    while ws.is_closing() {
        match ws.next().await {
            Some(message) => drop(message?),
            None => break,
        }
    }
    Ok(())
}

/// RFC 6455 §7.1.1: the server closes the TCP connection first, without
/// losing its last frames: our side is shut down, and what the client
/// still sends is read and dropped until it closes its side or `timeout`.
async fn linger_close(mut stream: AsyncStream, timeout_after: Duration) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let _ = timeout(timeout_after, async {
        while let Ok(1..) = stream.read(&mut sink).await {}
    })
    .await;
}

/// How long the client has been silent, as the keepalive counts it (the
/// blocking server's `Silence`, in `src/server/keepalive.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Silence {
    /// Something arrived lately: the buffers are kept.
    Busy,
    /// Nothing arrived for `release_idle_after` (or nothing yet): the
    /// buffers were given back; the Ping is due after `until_ping`.
    Quiet { until_ping: Option<Duration> },
    /// Nothing arrived for the ping interval; a Ping went out.
    Pinged,
}

impl Silence {
    /// How long the next read waits before the silence counts.
    fn waits(self, config: &ServerConfig) -> Option<Duration> {
        match self {
            Silence::Busy => busy_wait(config),
            Silence::Quiet { until_ping } => until_ping,
            Silence::Pinged => Some(config.pong_timeout),
        }
    }
}

/// Every text and binary message back to its sender, until the client's
/// Close, the keepalive's Close 1001 to a client that stayed silent after
/// a Ping, or the shutdown's Close 1001. Messages are echoed piece by
/// piece, as the blocking echo echoes them, so a message of any size costs
/// one piece's buffer; whole, only when the log shows each message.
async fn echo(
    ws: &mut WebSocketStream<AsyncStream>,
    config: &ServerConfig,
    mut busy_poll: BusyPoll,
    log: &ConnectionLog,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut silence = Silence::Quiet {
        until_ping: config.ping_interval,
    };
    // Kept from one wait to the next, so that a wait registers nothing
    // new: the shutdown's signal, and the keepalive's timer.
    let mut stop = pin!(stop_asked(stopped));
    let mut timer = pin!(sleep_until(Instant::now()));
    if log.logs_messages() {
        let next =
            async |ws: &mut WebSocketStream<AsyncStream>, _: &mut (), _quiet| ws.next().await;
        loop {
            let message = match ws.next().now_or_never() {
                Some(message) => message,
                None => match wait_for(
                    ws,
                    config,
                    (&mut silence, &mut busy_poll),
                    &mut (),
                    next,
                    (stop.as_mut(), timer.as_mut()),
                )
                .await?
                {
                    Some(message) => message,
                    None => return Ok(()),
                },
            };
            silence = Silence::Busy;
            let Some(message) = message else {
                return Ok(());
            };
            match message? {
                message @ (Message::Text(_) | Message::Binary(_)) => {
                    log.message(Direction::Received, &message);
                    log.message(Direction::Sent, &message);
                    ws.feed(message).await?
                }
                // Pings are answered, and a Close replied to, by the stream.
                Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
            }
        }
    }
    // The piece buffer: none until a message comes, then grown while
    // pieces fill it, and given back when the connection goes quiet.
    let mut buffer = Vec::new();
    let read_piece = async |ws: &mut WebSocketStream<AsyncStream>, buffer: &mut Vec<u8>, quiet| {
        if quiet {
            *buffer = Vec::new();
        }
        ws.read_piece(buffer).await
    };
    loop {
        // What one read of the socket brought is echoed with one write:
        // the pieces at hand are queued, and written before waiting.
        let event = match ws.read_piece_buffered(&mut buffer).transpose() {
            Some(event) => event,
            None => {
                match wait_for(
                    ws,
                    config,
                    (&mut silence, &mut busy_poll),
                    &mut buffer,
                    read_piece,
                    (stop.as_mut(), timer.as_mut()),
                )
                .await?
                {
                    Some(event) => event,
                    None => return Ok(()),
                }
            }
        };
        silence = Silence::Busy;
        match event {
            // A message begins: its bytes need a buffer.
            Ok(StreamEvent::Piece(piece)) if piece.len == 0 && !piece.last => {
                if buffer.is_empty() {
                    buffer.resize(FIRST_PIECE_SIZE, 0);
                }
            }
            Ok(StreamEvent::Piece(piece)) => {
                ws.feed_piece(piece.kind, &buffer[..piece.len], piece.last)
                    .await?;
                if piece.len == buffer.len() && buffer.len() < MAX_PIECE_SIZE {
                    buffer.resize(buffer.len() * 2, 0);
                }
            }
            // Pings are answered, and a Close replied to, by the stream.
            Ok(StreamEvent::Control(_)) => {}
            Err(Error::Closed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Writes the echoes queued, then waits for the next thing `read` reads
/// from the connection (a message, a piece), with what its reading needs
/// (`state`: a piece's buffer), told whether the connection had gone
/// quiet; `None` once the connection was closed for the shutdown or the
/// keepalive. While it waits, the keepalive counts the silence (`silence`)
/// on `timer`, and the shutdown is watched for (`stop`); a busy connection
/// whose last wait was short polls first (`busy_poll`).
async fn wait_for<State, Event>(
    ws: &mut WebSocketStream<AsyncStream>,
    config: &ServerConfig,
    (silence, busy_poll): (&mut Silence, &mut BusyPoll),
    state: &mut State,
    mut read: impl AsyncFnMut(&mut WebSocketStream<AsyncStream>, &mut State, bool) -> Event,
    (mut stop, mut timer): (Pin<&mut impl Future<Output = ()>>, Pin<&mut Sleep>),
) -> Result<Option<Event>, Error> {
    loop {
        let quiet = *silence != Silence::Busy;
        ws.flush().await?;
        // The silence counts from here. The timer, armed for an earlier
        // wait, is moved only when it would go off late or went off: a busy
        // connection moves it once per silence it waits for, not per wait.
        let began = Instant::now();
        let due = silence.waits(config).map(|waits| began + waits);
        if let Some(due) = due {
            if timer.is_elapsed() || timer.deadline() > due {
                timer.as_mut().reset(due);
            }
        }
        if !quiet && busy_poll.polls() {
            let until = began + busy_poll.window;
            loop {
                // A read dropped part-way loses nothing (the stream's
                // cancellation rule): the bytes stay buffered.
                if let Some(event) = read(ws, state, quiet).now_or_never() {
                    return Ok(Some(event));
                }
                if Instant::now() >= until {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        loop {
            tokio::select! {
                biased;
                () = stop.as_mut() => {
                    // RFC 6455 §7.4.1: 1001, "a server going down"; the
                    // client's answer is awaited by the caller.
                    ws.close(CloseCode::GOING_AWAY, SHUTDOWN_REASON).await?;
                    return Ok(None);
                }
                event = read(ws, state, quiet) => {
                    busy_poll.waited(began.elapsed());
                    *silence = Silence::Busy;
                    return Ok(Some(event));
                }
                () = timer.as_mut(), if due.is_some() => match due {
                    // Armed for an earlier wait: this silence is shorter.
                    Some(due) if Instant::now() < due => timer.as_mut().reset(due),
                    _ => break,
                },
            }
        }
        match on_silence(ws, config, *silence).await? {
            Some(next) => *silence = next,
            None => return Ok(None),
        }
    }
}

/// How long a busy connection waits before its silence counts: until it
/// goes quiet, or until its Ping is due, whichever comes first.
fn busy_wait(config: &ServerConfig) -> Option<Duration> {
    match (config.release_idle_after, config.ping_interval) {
        (Some(release), Some(interval)) => Some(release.min(interval)),
        (release, interval) => release.or(interval),
    }
}

/// Moves on after `silence` lasted its time, as the blocking keepalive
/// does: a busy connection gives back its buffers (and is pinged if its
/// Ping is due), a quiet one is pinged, and a pinged one is closed with
/// 1001. `None` once that Close went out.
async fn on_silence(
    ws: &mut WebSocketStream<AsyncStream>,
    config: &ServerConfig,
    silence: Silence,
) -> Result<Option<Silence>, Error> {
    match silence {
        Silence::Busy => {
            if config.release_idle_after.is_some() {
                ws.release_buffers();
            }
            let waited = busy_wait(config).unwrap_or_default();
            match config.ping_interval.map(|i| i.saturating_sub(waited)) {
                Some(Duration::ZERO) => ping(ws).await.map(Some),
                until_ping => Ok(Some(Silence::Quiet { until_ping })),
            }
        }
        Silence::Quiet { .. } => ping(ws).await.map(Some),
        Silence::Pinged => {
            let reason = format!("no pong within {:?}", config.pong_timeout);
            ws.close(CloseCode::GOING_AWAY, &reason).await?;
            Ok(None)
        }
    }
}

/// RFC 6455 §5.5.2: a Ping to a silent client, "as a means to verify that
/// the remote endpoint is still responsive".
async fn ping(ws: &mut WebSocketStream<AsyncStream>) -> Result<Silence, Error> {
    ws.send(Message::Ping(Vec::new())).await?;
    Ok(Silence::Pinged)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(50);

    #[test]
    fn busy_poll_begins_once_a_wait_was_short() {
        let mut busy_poll = BusyPoll::new(WINDOW);
        assert!(
            !busy_poll.polls(),
            "a new connection sleeps on its first wait"
        );
        busy_poll.waited(Duration::from_micros(12));
        assert!(busy_poll.polls());
        busy_poll.waited(WINDOW);
        assert!(busy_poll.polls());
    }

    #[test]
    fn busy_poll_stops_after_a_wait_longer_than_its_window() {
        let mut busy_poll = BusyPoll::new(WINDOW);
        busy_poll.waited(Duration::from_micros(12));
        busy_poll.waited(WINDOW + Duration::from_micros(1));
        assert!(!busy_poll.polls());
        busy_poll.waited(Duration::from_micros(12));
        assert!(busy_poll.polls(), "polling again once the pace is back");
    }

    #[test]
    fn busy_poll_of_zero_never_polls() {
        let mut busy_poll = BusyPoll::new(Duration::ZERO);
        busy_poll.waited(Duration::ZERO);
        assert!(!busy_poll.polls());
    }
}
