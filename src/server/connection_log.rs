//! The server's log: one line a person can read per event, as the servers
//! in the Node `ws` and Socket.IO tutorials print them, sent to the `log`
//! facade under the target [`TARGET`] (`ws6455::server`). The library
//! prints nothing itself: the application's logger decides what is shown,
//! and where.
//!
//! ```text
//! 127.0.0.1:50312: connected to /kitchen                                   (info)
//! 127.0.0.1:50312: received text (5 bytes) "hello"                          (debug)
//! 127.0.0.1:50312: disconnected after 2.4 s: the client closed with 1000 (normal closure) "bye"; 61 bytes in, 47 out
//! 127.0.0.1:50318: upgrade to /ws refused: 400: missing Sec-WebSocket-Key header (RFC 6455 §4.2.1)
//! 127.0.0.1:50320: upgrade to / refused: 503: too many connections
//! ```
//!
//! A handshake the service refused ([`Service::admit`](crate::server::Service::admit))
//! is logged with the first line of the refusal's body; one the server
//! refused itself (full, shutting down, or too many connections from one
//! address) with why.
//!
//! Connects, disconnects and refused handshakes are logged at
//! [`log::Level::Info`], each data message (its start) at
//! [`log::Level::Debug`], and a resource running out (threads, file
//! descriptors) at [`log::Level::Warn`]. Frames are the trace's (target
//! `ws6455::trace`).

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::proto::Direction;
use crate::proto::message::Message;
use crate::proto::sender::FirstClose;
use crate::proto::settings::Role;

/// How much of a message `--log-messages` shows: characters of a text, bytes
/// of a binary message.
const SHOWN_TEXT_CHARS: usize = 80;
const SHOWN_BINARY_BYTES: usize = 16;

/// The `log` target of the server's lines.
pub(crate) const TARGET: &str = "ws6455::server";

/// One connection's lines in the server's log, each after the peer's
/// address. The server writes the connect and disconnect lines; a session
/// adds what only it knows: the messages, the user's name (which the
/// connection's later lines carry after the address), and, for a session
/// that reads and writes on threads of its own, how the connection ended.
#[derive(Debug)]
pub struct ConnectionLog {
    peer: String,
    opened: Instant,
    ending: Mutex<Ending>,
}

/// What the disconnect line says, as the session reported it.
#[derive(Debug, Default)]
struct Ending {
    user: Option<String>,
    first_close: Option<FirstClose>,
    received: u64,
    sent: u64,
}

impl ConnectionLog {
    /// The log of a connection from `peer` (as its lines name it), opened
    /// now: for a server of one's own (on tokio, say) that logs as
    /// [`serve`](crate::server::serve) does.
    pub fn new(peer: String) -> ConnectionLog {
        ConnectionLog {
            peer,
            opened: Instant::now(),
            ending: Mutex::new(Ending::default()),
        }
    }

    /// The peer's address, as the log names it.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Names the connection by `client`, the address a trusted reverse proxy
    /// forwarded it for, followed by the proxy's: `192.0.2.1 via
    /// 10.0.0.2:41234`.
    pub(crate) fn forwarded_for(&mut self, client: IpAddr) {
        self.peer = format!("{client} via {}", self.peer);
    }

    /// Whether the application's logger takes each message's line: check
    /// before calling [`ConnectionLog::message`] on a busy path.
    #[inline]
    pub fn logs_messages(&self) -> bool {
        log::log_enabled!(target: TARGET, log::Level::Debug)
    }

    /// Logs `line` at info level after the peer's address (and the user's
    /// name, once known).
    pub fn line(&self, line: fmt::Arguments<'_>) {
        if log::log_enabled!(target: TARGET, log::Level::Info) {
            log::info!(target: TARGET, "{}: {line}", self.who());
        }
    }

    /// Logs a data message at debug level, its start only.
    pub fn message(&self, direction: Direction, message: &Message) {
        if !self.logs_messages() {
            return;
        }
        if let Some(shown) = describe_message(message) {
            let verb = match direction {
                Direction::Received => "received",
                Direction::Sent => "sent",
            };
            log::debug!(target: TARGET, "{}: {verb} {shown}", self.who());
        }
    }

    /// Names the connection's user from now on (the chat's name).
    pub fn user(&self, name: &str) {
        self.ending().user = Some(name.to_owned());
    }

    /// Records how the connection ended, for the disconnect line: its first
    /// Close, and the bytes it received and sent.
    pub fn ended(&self, first_close: Option<FirstClose>, received: u64, sent: u64) {
        let mut ending = self.ending();
        ending.first_close = first_close;
        ending.received = received;
        ending.sent = sent;
    }

    fn ending(&self) -> std::sync::MutexGuard<'_, Ending> {
        self.ending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn who(&self) -> String {
        match &self.ending().user {
            Some(user) => format!("{} ({user})", self.peer),
            None => self.peer.clone(),
        }
    }

    /// The disconnect line, once the session returned `result`: how long
    /// the connection lasted, how it ended ([`ConnectionLog::ended`]) and
    /// the bytes it moved.
    pub fn disconnected(&self, result: &Result<(), Error>) {
        if !log::log_enabled!(target: TARGET, log::Level::Info) {
            return;
        }
        let ending = self.ending();
        let mut line = format!("disconnected after {}: ", seconds(self.opened.elapsed()));
        let _ = match &ending.first_close {
            Some(close) => write!(line, "{}", describe_close(close)),
            None => write!(line, "no closing handshake (1006)"),
        };
        if let Err(e) = result {
            let _ = write!(line, " ({e})");
        }
        let _ = write!(line, "; {} bytes in, {} out", ending.received, ending.sent);
        drop(ending);
        self.line(format_args!("{line}"));
    }
}

/// "the client closed with 1000 (normal closure) "bye"".
fn describe_close(close: &FirstClose) -> String {
    let who = match close.sent_by {
        Role::Client => "the client",
        Role::Server => "the server",
    };
    match &close.frame {
        Some(frame) if frame.reason.is_empty() => {
            format!("{who} closed with {}", frame.code)
        }
        Some(frame) => format!("{who} closed with {} {:?}", frame.code, frame.reason),
        None => format!("{who} closed with no code (1005)"),
    }
}

/// "2.4 s", "35 ms".
fn seconds(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{} ms", elapsed.as_millis())
    } else {
        format!("{:.1} s", elapsed.as_secs_f64())
    }
}

/// `text (5 bytes) "hello"`; `binary (1000 bytes) 07 07 … `; `None` for a
/// control message.
fn describe_message(message: &Message) -> Option<String> {
    match message {
        Message::Text(text) => {
            let shown: String = text.chars().take(SHOWN_TEXT_CHARS).collect();
            let more = if shown.len() < text.len() { "…" } else { "" };
            Some(format!("text ({} bytes) {shown:?}{more}", text.len()))
        }
        Message::Binary(data) => {
            let mut shown = String::new();
            for byte in data.iter().take(SHOWN_BINARY_BYTES) {
                let _ = write!(shown, " {byte:02x}");
            }
            let more = if data.len() > SHOWN_BINARY_BYTES {
                " …"
            } else {
                ""
            };
            Some(format!("binary ({} bytes){shown}{more}", data.len()))
        }
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::close::CloseCode;
    use crate::proto::close_frame::CloseFrame;

    #[test]
    fn a_close_says_who_sent_it_and_what_its_code_means() {
        let close = FirstClose {
            sent_by: Role::Client,
            frame: Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye".to_owned(),
            }),
        };
        assert_eq!(
            describe_close(&close),
            "the client closed with 1000 (normal closure) \"bye\""
        );
        let empty = FirstClose {
            sent_by: Role::Server,
            frame: None,
        };
        assert_eq!(
            describe_close(&empty),
            "the server closed with no code (1005)"
        );
    }

    #[test]
    fn a_long_message_is_shown_truncated() {
        let text = Message::Text("é".repeat(100));
        let shown = describe_message(&text).unwrap();
        assert!(shown.starts_with("text (200 bytes) \""), "{shown}");
        assert!(shown.ends_with("\"…"), "{shown}");
        assert_eq!(shown.matches('é').count(), SHOWN_TEXT_CHARS);
        let binary = Message::Binary(vec![7; 20]);
        assert_eq!(
            describe_message(&binary).unwrap(),
            format!("binary (20 bytes){} …", " 07".repeat(16))
        );
        assert_eq!(describe_message(&Message::Ping(vec![])), None);
    }
}
