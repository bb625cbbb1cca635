//! `ws6455 client URL`, in the habit of wscat and websocat: stdin lines
//! become messages, received messages go to stdout. Part of the `ws6455`
//! binary, not of the library.
//!
//! A thread reads stdin and hands lines over a channel. The connection is
//! blocking and not split in halves, so the main thread reads it with a
//! short timeout and, between reads, sends what stdin gave and the pings.

use std::collections::VecDeque;
use std::io::{self, BufRead};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use ws6455::trace::hex;
use ws6455::{ClientConfig, CloseCode, CloseFrame, Error, Message, ResponseError, WebSocket};

/// How long one read waits before stdin and pings get their turn.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// How long to wait for the server's Close after ours, and then for it to
/// close TCP (RFC 6455 §7.1.1).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many bytes of a binary message are shown.
const BINARY_SHOWN: usize = 32;

/// The first reconnection delay, before jitter; it doubles up to `BACKOFF_MAX`.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A connection that lasts this long resets the backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// What `ws6455 client` was asked to do.
#[derive(Debug)]
pub(crate) struct ClientOptions {
    pub(crate) url: String,
    pub(crate) binary: bool,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) reconnect: bool,
    pub(crate) config: ClientConfig,
}

/// A line from stdin (without its line ending), or its end.
enum Input {
    Line(Vec<u8>),
    End,
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
    let input = spawn_stdin_reader();
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
                let end = session(ws, &input, &mut pending, &options);
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
                        match frame {
                            Some(CloseFrame { code, .. }) => {
                                eprintln!("closed by the server: {code}")
                            }
                            None => eprintln!("closed by the server, without a status code"),
                        }
                        if !options.reconnect {
                            return ExitCode::SUCCESS;
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
        let delay = backoff.next_delay(random_fraction());
        eprintln!("reconnecting in {:.1} s", delay.as_secs_f64());
        if wait_keeping_input(&input, &mut pending, delay) {
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

/// Reads stdin line by line on its own thread.
fn spawn_stdin_reader() -> Receiver<Input> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in io::stdin().lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if sender.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = sender.send(Input::End);
    });
    receiver
}

/// Runs one connection until stdin ends, the server closes, or it fails.
fn session(
    mut ws: WebSocket<TcpStream>,
    input: &Receiver<Input>,
    pending: &mut VecDeque<Input>,
    options: &ClientOptions,
) -> SessionEnd {
    if let Err(e) = ws.get_ref().set_read_timeout(Some(POLL_INTERVAL)) {
        return SessionEnd::Dropped(e.into());
    }
    let mut next_ping = options.ping_interval.map(|every| Instant::now() + every);
    let mut close_sent_at = None;
    loop {
        if close_sent_at.is_none() {
            if let Err(e) = send_input(&mut ws, input, pending, options.binary, &mut close_sent_at)
            {
                return SessionEnd::Dropped(e);
            }
        }
        if let (Some(at), Some(every)) = (next_ping, options.ping_interval) {
            if Instant::now() >= at && close_sent_at.is_none() {
                if let Err(e) = ws.send(Message::Ping(b"ws6455".to_vec())) {
                    return SessionEnd::Dropped(e);
                }
                next_ping = Some(at + every);
            }
        }
        match ws.read() {
            Ok(Message::Text(text)) => println!("{text}"),
            Ok(Message::Binary(data)) => println!("{}", binary_line(&data)),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(frame)) => {
                let _ = ws.wait_for_server_close(CLOSE_TIMEOUT);
                return match close_sent_at {
                    Some(_) => SessionEnd::InputEnded,
                    None => SessionEnd::ClosedByServer(frame),
                };
            }
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if close_sent_at.is_some_and(|at: Instant| at.elapsed() > CLOSE_TIMEOUT) {
                    eprintln!("the server did not answer our Close; closing anyway");
                    return SessionEnd::InputEnded;
                }
            }
            Err(e) => {
                let _ = ws.wait_for_server_close(CLOSE_TIMEOUT);
                return SessionEnd::Dropped(e);
            }
        }
    }
}

/// Sends every line stdin has given so far; at its end, starts the closing
/// handshake with 1000.
fn send_input(
    ws: &mut WebSocket<TcpStream>,
    input: &Receiver<Input>,
    pending: &mut VecDeque<Input>,
    binary: bool,
    close_sent_at: &mut Option<Instant>,
) -> Result<(), Error> {
    loop {
        let next = match pending.pop_front() {
            Some(item) => item,
            None => match input.try_recv() {
                Ok(item) => item,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => Input::End,
            },
        };
        match next {
            Input::Line(line) if binary => ws.queue(Message::Binary(line))?,
            Input::Line(line) => match String::from_utf8(line) {
                Ok(text) => ws.queue(Message::Text(text))?,
                Err(_) => eprintln!("not sent: the line is not UTF-8 (use --binary)"),
            },
            Input::End => {
                ws.close(CloseCode::NORMAL, "")?;
                *close_sent_at = Some(Instant::now());
                break;
            }
        }
    }
    ws.flush()
}

/// Waits `delay`, keeping what stdin gives meanwhile for the next
/// connection. Returns true if stdin ended with nothing left to send, so
/// there is no reason to connect again.
fn wait_keeping_input(
    input: &Receiver<Input>,
    pending: &mut VecDeque<Input>,
    delay: Duration,
) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match input.recv_timeout(left) {
            Ok(Input::Line(line)) => pending.push_back(Input::Line(line)),
            Ok(Input::End) | Err(RecvTimeoutError::Disconnected) => {
                if pending.is_empty() {
                    return true;
                }
                pending.push_back(Input::End);
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return false;
            }
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

/// Truncated binary exponential backoff with jitter (RFC 6455 §7.2.3: "The
/// first reconnect attempt SHOULD be delayed by a random amount of time",
/// later ones "by increasingly longer amounts of time").
#[derive(Debug, Default)]
struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The next delay: the base doubles with each attempt up to
    /// `BACKOFF_MAX`, and `random` (in 0..1) picks a point in its upper half.
    fn next_delay(&mut self, random: f64) -> Duration {
        let base = BACKOFF_START
            .saturating_mul(1 << self.attempts.min(16))
            .min(BACKOFF_MAX);
        self.attempts += 1;
        base.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
    }
}

/// A number in 0..1 from the operating system's generator.
fn random_fraction() -> f64 {
    getrandom::u32().map_or(0.5, |n| f64::from(n) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_7_2_3_reconnect_delay_grows_exponentially_with_jitter() {
        let mut backoff = Backoff::default();
        let highest: Vec<Duration> = (0..8).map(|_| backoff.next_delay(1.0)).collect();
        assert_eq!(
            highest,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000].map(Duration::from_millis)
        );
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay(0.0), Duration::from_millis(250));
        assert_eq!(backoff.next_delay(0.5), Duration::from_millis(750));
    }

    #[test]
    fn binary_messages_show_length_and_first_bytes() {
        assert_eq!(binary_line(&[1, 2, 255]), "[binary, 3 bytes] 01 02 ff");
        let long: Vec<u8> = (0..40).collect();
        assert!(binary_line(&long).starts_with("[binary, 40 bytes] 00 01 02"));
        assert!(binary_line(&long).ends_with("1e 1f …"));
    }
}
