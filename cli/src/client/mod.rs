//! `ws6455 client URL`, in the habit of wscat and websocat: stdin lines
//! become messages, received messages go to stdout. Part of the `ws6455`
//! binary, not of the library.
//!
//! A thread reads stdin and hands lines over a channel. Each connection is
//! split ([`WebSocket::split`](ws6455::WebSocket::split)): the main thread blocks in [`ReadHalf::read`]
//! and prints what arrives, while a sending thread, scoped to the
//! connection, blocks on the channel until a line comes or the next ping
//! is due and sends through the [`WriteHalf`]. Neither polls.
//!
//! The session ends when the read half does (the server's Close, or an
//! error). The sending thread ends it early by shutting the socket down,
//! which wakes the read half: when the server leaves our Close unanswered
//! for `CLOSE_TIMEOUT`, or when a write fails. The session then tells the
//! sending thread through the same channel (`Event::SessionOver`), and
//! joins it before the next connection.

mod backoff;

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::net::Shutdown;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use crate::annotate::hex;
use backoff::{Backoff, random_fraction};
use ws6455::handshake::ResponseError;
use ws6455::{
    ClientConfig, CloseCode, CloseFrame, Error, Message, MessageRef, ReadHalf, WebSocket, WriteHalf,
};
use ws6455::{Stream, Transport};

/// How long to wait for the server's Close after ours, and then for it to
/// close TCP (RFC 6455 §7.1.1).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many bytes of a binary message are shown.
const BINARY_SHOWN: usize = 32;

/// A connection that lasts this long resets the backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// The payload of the pings `--ping-interval` sends.
const PING_PAYLOAD: &[u8] = b"ws6455";

/// What `ws6455 client` was asked to do.
#[derive(Debug)]
pub(crate) struct ClientOptions {
    pub(crate) url: String,
    pub(crate) binary: bool,
    pub(crate) ping_interval: Option<Duration>,
    /// At the end of stdin, how long the server must have sent nothing
    /// before we close: answers still in flight are printed first.
    pub(crate) linger: Duration,
    pub(crate) reconnect: bool,
    pub(crate) config: ClientConfig,
}

/// A line from stdin (without its line ending), or its end.
enum Input {
    Line(Vec<u8>),
    End,
}

/// What the channel carries to whoever waits on it: the sending thread of
/// the current connection, or `run` between connections.
enum Event {
    Stdin(Input),
    /// The connection's read half is done: its sending thread stops. The
    /// session sends exactly one, and its sending thread takes it, so none
    /// is left for the next connection.
    SessionOver,
}

/// How a connection ended.
enum SessionEnd {
    /// Stdin ended and we closed the connection with 1000.
    InputEnded,
    /// The server closed the connection with this Close.
    ClosedByServer(Option<CloseFrame>),
    /// The connection failed.
    Dropped(Error),
}

pub(crate) fn run(options: ClientOptions) -> ExitCode {
    let (events_tx, mut events) = mpsc::channel();
    spawn_stdin_reader(events_tx.clone());
    let mut pending = VecDeque::new();
    let mut backoff = Backoff::default();
    loop {
        match ws6455::connect_with(&options.url, &options.config) {
            Ok((ws, response)) => {
                let connected_at = Instant::now();
                match response.header("Sec-WebSocket-Protocol") {
                    Some(protocol) => eprintln!(
                        "connected to {} (subprotocol {})",
                        options.url,
                        String::from_utf8_lossy(protocol)
                    ),
                    None => eprintln!("connected to {}", options.url),
                }
                let end = session(ws, &mut events, &events_tx, &mut pending, &options);
                // A connection that lasted starts the backoff afresh; one that
                // drops at once keeps it growing.
                if connected_at.elapsed() >= BACKOFF_RESET_AFTER {
                    backoff = Backoff::default();
                }
                match end {
                    SessionEnd::InputEnded => return ExitCode::SUCCESS,
                    SessionEnd::ClosedByServer(frame) => {
                        // RFC 6455 §5.5.1: the reason "is not guaranteed to be
                        // human readable, clients MUST NOT show it to end users"
                        // (--trace shows it, as it shows every payload).
                        let normal = match frame {
                            Some(CloseFrame { code, .. }) => {
                                eprintln!("closed by the server: {code}");
                                code == CloseCode::NORMAL || code == CloseCode::GOING_AWAY
                            }
                            None => {
                                eprintln!("closed by the server, without a status code");
                                false
                            }
                        };
                        if !options.reconnect {
                            // 1000 and 1001 are the ends a server means; any
                            // other code says something went wrong.
                            return if normal {
                                ExitCode::SUCCESS
                            } else {
                                ExitCode::FAILURE
                            };
                        }
                    }
                    SessionEnd::Dropped(Error::Io(e))
                        if e.kind() == io::ErrorKind::UnexpectedEof =>
                    {
                        eprintln!(
                            "connection lost: the server closed TCP without a Close frame \
                             (1006 abnormal closure, RFC 6455 §7.1.5)"
                        );
                        if !options.reconnect {
                            return ExitCode::FAILURE;
                        }
                    }
                    SessionEnd::Dropped(e) => {
                        eprintln!("connection lost: {e}");
                        if !options.reconnect {
                            return ExitCode::FAILURE;
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("ws6455: cannot connect to {}: {e}", options.url);
                if !options.reconnect || !worth_retrying(&e) {
                    return ExitCode::FAILURE;
                }
            }
        }
        if nothing_left_to_send(&pending) {
            // Stdin ended while the connection went down, with every line sent.
            return ExitCode::SUCCESS;
        }
        let delay = backoff.next_delay(random_fraction());
        eprintln!("reconnecting in {:.1} s", delay.as_secs_f64());
        if wait_keeping_input(&events, &mut pending, delay) {
            // Stdin ended while we were not connected: nothing left to send.
            return ExitCode::SUCCESS;
        }
    }
}

/// Whether connecting again may help: the network failed or the server did
/// not answer in time. A refusal (a status other than 101, a bad Accept, a
/// bad URL) would only be repeated.
fn worth_retrying(error: &Error) -> bool {
    matches!(
        error,
        Error::Io(_) | Error::Response(ResponseError::Timeout)
    )
}

/// Whether stdin has ended and every line it gave has been sent: the end is
/// all that is pending (it is always last).
fn nothing_left_to_send(pending: &VecDeque<Input>) -> bool {
    matches!(pending.front(), Some(Input::End))
}

/// Reads stdin line by line on its own thread.
fn spawn_stdin_reader(events: Sender<Event>) {
    thread::spawn(move || {
        for line in io::stdin().lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if events.send(Event::Stdin(Input::Line(line))).is_err() {
                return;
            }
        }
        let _ = events.send(Event::Stdin(Input::End));
    });
}

/// Runs one connection until stdin ends, the server closes, or it fails.
/// The sending thread it starts has ended when it returns.
fn session(
    ws: WebSocket<Stream>,
    events: &mut Receiver<Event>,
    events_tx: &Sender<Event>,
    pending: &mut VecDeque<Input>,
    options: &ClientOptions,
) -> SessionEnd {
    // A handle of our own on the socket, to shut it down and to wait for
    // the server to close TCP once the halves are done.
    let socket = match ws.get_ref().try_clone() {
        Ok(socket) => socket,
        Err(e) => return SessionEnd::Dropped(e.into()),
    };
    let (mut reader, writer) = match ws.split() {
        Ok(halves) => halves,
        Err(e) => return SessionEnd::Dropped(e),
    };
    let stopping = Mutex::new(Stopping::default());
    let heard = Mutex::new(Instant::now());
    thread::scope(|scope| {
        let sending = Sending {
            ws: writer,
            socket: &socket,
            stopping: &stopping,
            heard: &heard,
            linger: options.linger,
            events,
            pending,
            binary: options.binary,
            ping_interval: options.ping_interval,
        };
        let sending = scope.spawn(move || sending.run());
        let read = read_until_close(&mut reader, &heard);
        let stopped = lock(&stopping).session_over();
        // The channel never disconnects while `run` holds `events_tx`.
        let _ = events_tx.send(Event::SessionOver);
        if !matches!(stopped, Some(Stop::NoCloseAnswer)) {
            wait_for_tcp_close(&socket, CLOSE_TIMEOUT);
        }
        // Our side closes now; a write still blocked on a server that stopped
        // reading fails, so the sending thread ends.
        let _ = socket.shutdown(Shutdown::Both);
        let close_sent = sending
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (read, stopped) {
            (Ok(_), _) if close_sent => SessionEnd::InputEnded,
            (Ok(frame), _) => SessionEnd::ClosedByServer(frame),
            (Err(_), Some(Stop::NoCloseAnswer)) => {
                eprintln!("the server did not answer our Close; closing anyway");
                SessionEnd::InputEnded
            }
            (Err(_), Some(Stop::Failed(e))) | (Err(e), None) => SessionEnd::Dropped(e),
        }
    })
}

/// Prints the messages that arrive until the server's Close, which it
/// returns, or an error, noting in `heard` when each arrived. Pings are
/// answered by the read half itself.
fn read_until_close(
    reader: &mut ReadHalf<Stream>,
    heard: &Mutex<Instant>,
) -> Result<Option<CloseFrame>, Error> {
    loop {
        let message = reader.read()?;
        *heard.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        match message {
            Message::Text(text) => println!("{text}"),
            Message::Binary(data) => println!("{}", binary_line(&data)),
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(frame) => return Ok(frame),
        }
    }
}

/// RFC 6455 §7.1.1: the client "SHOULD wait for a TCP Close from the
/// server". Discards whatever arrives until the server closes TCP, or
/// `timeout` passes; a reset counts as closed.
fn wait_for_tcp_close(socket: &Stream, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return;
        }
        let mut stream = socket;
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Why the sending thread shut the connection down.
enum Stop {
    /// The server did not answer our Close within `CLOSE_TIMEOUT`.
    NoCloseAnswer,
    /// A write failed.
    Failed(Error),
}

/// What the session and its sending thread share: why the sending thread
/// shut the connection down, and whether the session is over, after which
/// the sending thread's failures are the session's own doing.
#[derive(Default)]
struct Stopping {
    over: bool,
    stop: Option<Stop>,
}

impl Stopping {
    /// Marks the session over; returns why the sending thread stopped it, if it did.
    fn session_over(&mut self) -> Option<Stop> {
        self.over = true;
        self.stop.take()
    }
}

fn lock(stopping: &Mutex<Stopping>) -> std::sync::MutexGuard<'_, Stopping> {
    // Every change to it is complete before anything can panic.
    stopping.lock().unwrap_or_else(|p| p.into_inner())
}

/// How the sending thread's sending ended.
enum Sent {
    /// Stdin ended and our Close went out.
    Close,
    /// The connection can no longer carry messages.
    Unusable,
    /// The session told us it is over.
    SessionOver,
}

/// The sending thread of one connection.
struct Sending<'a> {
    ws: WriteHalf<Stream>,
    socket: &'a Stream,
    stopping: &'a Mutex<Stopping>,
    /// When the last message from the server arrived.
    heard: &'a Mutex<Instant>,
    linger: Duration,
    events: &'a mut Receiver<Event>,
    pending: &'a mut VecDeque<Input>,
    binary: bool,
    ping_interval: Option<Duration>,
}

impl Sending<'_> {
    /// Sends until stdin ends or the connection is done, then waits for the
    /// session to be over. Returns whether we sent the Close.
    fn run(mut self) -> bool {
        match self.send_input() {
            Sent::SessionOver => false,
            Sent::Unusable => {
                self.wait_for_session_over(None);
                false
            }
            Sent::Close => {
                self.wait_for_session_over(Some(Instant::now() + CLOSE_TIMEOUT));
                true
            }
        }
    }

    /// Sends the pending lines, then each line stdin gives and the pings, in
    /// the order they come; at the end of stdin, starts the closing
    /// handshake with 1000. What cannot be sent because the connection is
    /// closed stays pending for the next one.
    fn send_input(&mut self) -> Sent {
        let mut next_ping = self.ping_interval.map(|every| Instant::now() + every);
        let mut queued = false;
        loop {
            let input = match self.pending.pop_front() {
                Some(input) => input,
                None => match self.events.try_recv() {
                    Ok(Event::Stdin(input)) => input,
                    Ok(Event::SessionOver) => return Sent::SessionOver,
                    Err(TryRecvError::Disconnected) => Input::End,
                    Err(TryRecvError::Empty) => {
                        // Everything given so far is queued: write it before waiting.
                        if queued {
                            if let Err(e) = self.ws.flush() {
                                return self.fail(e);
                            }
                            queued = false;
                        }
                        match self.wait(next_ping) {
                            Some(Event::Stdin(input)) => input,
                            Some(Event::SessionOver) => return Sent::SessionOver,
                            None => {
                                if let Err(e) = self.ws.queue(Message::Ping(PING_PAYLOAD.to_vec()))
                                {
                                    return self.fail(e);
                                }
                                queued = true;
                                let now = Instant::now();
                                next_ping = next_ping.zip(self.ping_interval).map(|(at, every)| {
                                    // A late ping moves the next ones on rather than bringing a burst.
                                    if at + every > now {
                                        at + every
                                    } else {
                                        now + every
                                    }
                                });
                                continue;
                            }
                        }
                    }
                },
            };
            match input {
                Input::Line(line) => {
                    let message = if self.binary {
                        MessageRef::Binary(&line)
                    } else {
                        match std::str::from_utf8(&line) {
                            Ok(text) => MessageRef::Text(text),
                            Err(_) => {
                                eprintln!("not sent: the line is not UTF-8 (use --binary)");
                                continue;
                            }
                        }
                    };
                    match self.ws.queue_ref(message) {
                        Ok(()) => queued = true,
                        Err(e) => {
                            self.pending.push_front(Input::Line(line));
                            return self.fail(e);
                        }
                    }
                }
                Input::End => {
                    // What is queued goes out before we wait for its answers.
                    if queued {
                        if let Err(e) = self.ws.flush() {
                            self.pending.push_front(Input::End);
                            return self.fail(e);
                        }
                    }
                    if self.linger_for_answers() {
                        self.pending.push_front(Input::End);
                        return Sent::SessionOver;
                    }
                    match self.ws.close(CloseCode::NORMAL, "") {
                        Ok(()) => return Sent::Close,
                        Err(e) => {
                            self.pending.push_front(Input::End);
                            return self.fail(e);
                        }
                    }
                }
            }
        }
    }

    /// Stdin has ended: waits until the server has sent nothing for the
    /// linger time (since the end of stdin, or its last message), so that
    /// answers still in flight arrive before our Close. Returns true if the
    /// session ended meanwhile (the server closed).
    fn linger_for_answers(&mut self) -> bool {
        let ended = Instant::now();
        loop {
            let last = (*self.heard.lock().unwrap_or_else(|p| p.into_inner())).max(ended);
            let left = (last + self.linger).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.events.recv_timeout(left) {
                Ok(Event::SessionOver) => return true,
                // Nothing follows the end of stdin.
                Ok(Event::Stdin(_)) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Waits for an event until the next ping is due (`None`).
    fn wait(&mut self, next_ping: Option<Instant>) -> Option<Event> {
        let Some(at) = next_ping else {
            return Some(self.events.recv().unwrap_or(Event::Stdin(Input::End)));
        };
        match self
            .events
            .recv_timeout(at.saturating_duration_since(Instant::now()))
        {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Event::Stdin(Input::End)),
        }
    }

    /// The connection cannot take `error`'s message. `Closed` means the read
    /// half is done (or about to be) and the session ends by itself;
    /// anything else fails the connection, which the read half must see.
    fn fail(&self, error: Error) -> Sent {
        if !matches!(error, Error::Closed) {
            self.stop(Stop::Failed(error));
        }
        Sent::Unusable
    }

    /// Shuts the socket down, which ends the blocked read, unless the
    /// session is over already or was stopped.
    fn stop(&self, why: Stop) {
        let mut stopping = lock(self.stopping);
        if !stopping.over && stopping.stop.is_none() {
            stopping.stop = Some(why);
            let _ = self.socket.shutdown(Shutdown::Both);
        }
    }

    /// Waits for the session to be over, keeping the lines stdin gives
    /// meanwhile for the next connection. With a deadline for the server's
    /// answer to our Close, stops the connection when it passes.
    fn wait_for_session_over(&mut self, mut close_deadline: Option<Instant>) {
        loop {
            let event = match close_deadline {
                Some(deadline) => match self
                    .events
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => {
                        self.stop(Stop::NoCloseAnswer);
                        close_deadline = None;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match self.events.recv() {
                    Ok(event) => event,
                    Err(_) => return,
                },
            };
            match event {
                Event::SessionOver => return,
                Event::Stdin(input) => self.pending.push_back(input),
            }
        }
    }
}

/// Waits `delay`, keeping what stdin gives meanwhile for the next
/// connection. Returns true if stdin ended with nothing left to send, so
/// there is no reason to connect again.
fn wait_keeping_input(
    events: &Receiver<Event>,
    pending: &mut VecDeque<Input>,
    delay: Duration,
) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Stdin(Input::Line(line))) => pending.push_back(Input::Line(line)),
            Ok(Event::Stdin(Input::End)) | Err(RecvTimeoutError::Disconnected) => {
                if pending.is_empty() {
                    return true;
                }
                pending.push_back(Input::End);
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return false;
            }
            // Every session's sending thread takes its own; none is left here.
            Ok(Event::SessionOver) => {}
            Err(RecvTimeoutError::Timeout) => return false,
        }
    }
}

/// A binary message as its length and the first bytes in hex.
fn binary_line(data: &[u8]) -> String {
    let shown = &data[..data.len().min(BINARY_SHOWN)];
    let more = if data.len() > shown.len() { " …" } else { "" };
    format!("[binary, {} bytes] {}{more}", data.len(), hex(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_messages_show_length_and_first_bytes() {
        assert_eq!(binary_line(&[1, 2, 255]), "[binary, 3 bytes] 01 02 ff");
        let long: Vec<u8> = (0..40).collect();
        assert!(binary_line(&long).starts_with("[binary, 40 bytes] 00 01 02"));
        assert!(binary_line(&long).ends_with("1e 1f …"));
    }
}
