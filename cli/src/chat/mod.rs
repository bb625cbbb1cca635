//! The chat service: rooms by URL path, JSON events, and a browser page.
//!
//! A WebSocket upgrade to `/` joins room `lobby`; to `/kitchen`, room
//! `kitchen`. A room name is one path segment of 1 to 64 ASCII letters,
//! digits, `_` or `-` (the query string is ignored); any other path is
//! refused with 400 before the 101. A plain GET of a room's path returns
//! the chat page; its script and style sheet live at `/chat.js` and
//! `/chat.css` (names no room can have). Other paths get 404, and other
//! methods 405 (from the server, before any service is asked).
//!
//! # Protocol
//!
//! The server sends JSON text frames (see `chat/event.rs`): a `welcome`
//! first, then `message`, `join`, `leave`, `nick` and `error` events. Every
//! text message a client sends is delivered as a `message` to everyone in
//! its room, the sender included, in the order the server received them,
//! stamped with `ts`, the time the server took it (milliseconds since the
//! Unix epoch).
//!
//! The welcome carries the room's `history`: its last messages (50,
//! [`ChatConfig::history`]), oldest first, each the `message` event exactly
//! as it was broadcast; the live ones follow it, none missed and none
//! twice. History lives in memory as long as the room: a room is dropped,
//! and its history with it, when its last member leaves. (With `--redis`,
//! it lives in Redis, and stays [`ChatConfig::room_ttl`] longer.)
//! `/nick NAME` renames the sender (1 to 32 letters or digits of any script,
//! `_` or `-`, unique in the room ignoring case); a refused name, or any other
//! text starting with `/`, gets an `error` to the sender alone.
//!
//! Every text, command or not, counts against the sender's rate limit
//! (`chat/rate.rs`, [`ChatConfig::rate`]): by default 10 a second, 30 at
//! once, and 64 KiB of text a second. A text over it is dropped, not said,
//! and the sender gets an `error` with a `retry_after_ms` field (at most one
//! a second), which the page keys on to hold its send button for that long.
//! A sender that goes on at more than twice the limit for five seconds in a
//! row is closed with 1008 "sending too fast". Each instance limits its own
//! members, with `--redis` too.
//!
//! Binary messages are refused: the chat speaks JSON text, a binary message
//! has no text to show, so the connection is closed with 1003 (RFC 6455
//! §7.4.1: "a type of data it cannot accept (e.g., an endpoint that
//! understands only text data MAY send this if it receives a binary
//! message)").
//!
//! # Threads and the write side
//!
//! Each connection is a [`WebSocket`](ws6455::WebSocket) split into its two halves
//! ([`WebSocket::split`](ws6455::WebSocket::split)), each used by one thread. The server's connection
//! thread holds the [`ReadHalf`]: it reads messages and acts on each, while
//! the library answers Pings and Closes by itself and fails the connection
//! with the right close code when the client breaks the protocol. A writer
//! thread, scoped to the session, holds the
//! [`WriteHalf`](ws6455::WriteHalf) and does the waiting on a slow client:
//! broadcasts reach it through the connection's outbox (`chat/outbox.rs`),
//! a queue of shared JSON texts bounded by bytes; it writes them in batches,
//! pings an idle client, and sends the Close the chat decides on. All frames
//! go through the one write half, so they never interleave, and the
//! connection sends exactly one Close, whichever side closes first.
//!
//! The reader never waits behind the writer. An automatic answer goes out
//! with the write under way, or the reader writes it itself when there is
//! none; if that write times out (one slice of the socket's write timeout,
//! see `chat/outbox.rs`), the answer stays queued, and in any case the
//! reader wakes the writer to make sure it is sent.
//!
//! With `--trace`, the connection prints every frame it sends and receives.
//!
//! # Slow consumers and limits
//!
//! Each outbox holds at most [`ChatConfig::outgoing_queue_bytes`] (1 MiB by
//! default) of events (their JSON text) queued or being written.
//! Broadcasting pushes into outboxes without blocking; a member whose
//! outbox is full is closed with 1008 "outgoing queue full" and removed
//! from its room at once, so a client that stops reading never slows the
//! others. If it does not finish the closing handshake within the close
//! timeout, its TCP connection is cut.
//!
//! An instance holds at most [`ChatConfig::max_rooms`] rooms (1000): an
//! upgrade that would open one more is refused with 503 and `Retry-After`
//! (or, if other handshakes took the last rooms after it was admitted,
//! closed with 1013 "try again later"). A command line is at most 64
//! characters, and no error repeats more of it; a text at most
//! [`ChatConfig::max_text`] characters; so every event the server sends
//! has a bounded size, whatever a client sends.
//!
//! A message over the server's message limit ([`server_config`]: 64 KiB)
//! fails the connection with 1009 (§7.4.1). A client from which nothing
//! has arrived for [`ChatConfig::ping_interval`] (30 s) gets a Ping; if
//! nothing arrives within [`ChatConfig::pong_timeout`] (10 s) after that,
//! it is closed with 1001.
//!
//! One address may hold at most [`DEFAULT_MAX_CONNECTIONS_PER_IP`] (64)
//! connections at once, those still in their opening handshake included;
//! one more is answered 429 ([`ServerConfig::max_connections_per_ip`]: an
//! IPv6 client is counted by its /64). That is a household or an office
//! behind one NAT, each with a few tabs open, and not one host holding
//! every connection the server can take.
//!
//! # Many instances
//!
//! With `--redis URL`, rooms are shared by every instance using that Redis:
//! events go out through Redis and come back to each instance in one
//! order, and names, presence and history live there (`chat/bus/redis/`).
//! Connections, outboxes and the slow-consumer rule stay with each instance.

mod bus;
mod event;
mod history;
mod outbox;
mod rate;
mod room;

pub use rate::RateConfig;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bus::Bus;
use bus::local::LocalBus;
use bus::redis::RedisBus;
use event::{Event, MAX_ROOM_LEN, is_name};
use outbox::{Outbox, Refused, Socket, Timing};
use rate::{RateLimit, TOO_FAST, Verdict};
use room::{Membership, QUEUE_FULL, Rooms, TOO_MANY_ROOMS};
use ws6455::CloseCode;
use ws6455::Error;
use ws6455::Message;
use ws6455::ReadHalf;
use ws6455::ServerConfig;
use ws6455::Transport;
use ws6455::proto::Direction;
use ws6455::proto::SharedMessage;
use ws6455::server::{ConnectionLog, Service, Upgraded};
use ws6455::{Request, Response};

/// The room of the path `/`.
pub const LOBBY: &str = "lobby";

/// The chat's default limit on a client's message: 64 KiB.
pub const DEFAULT_MAX_MESSAGE: u64 = 64 << 10;

/// The longest [`ChatConfig::room_ttl`]: a year.
pub const MAX_ROOM_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The chat's own settings; the server's (limits, write and close timeouts)
/// are in [`ServerConfig`].
#[derive(Clone, Copy, Debug)]
pub struct ChatConfig {
    /// The most bytes of events (their JSON text) waiting for one client; a
    /// client whose queue would grow past this is closed with 1008. Default 1 MiB.
    pub outgoing_queue_bytes: usize,
    /// A client from which nothing has arrived for this long is pinged. Default 30 s.
    pub ping_interval: Duration,
    /// A pinged client that sends nothing for this long is closed with 1001. Default 10 s.
    pub pong_timeout: Duration,
    /// The longest text a client may say, in characters; a longer one is
    /// answered with an `error` event, and the client stays. The welcome
    /// announces it. Default 4000.
    pub max_text: usize,
    /// How many of a room's last messages its welcome carries, for whoever
    /// joins late; 0 keeps none. A room keeps at most this many, and at most
    /// half of [`ChatConfig::outgoing_queue_bytes`] of their JSON, dropping
    /// the oldest first, so the welcome fits in a newcomer's queue with room
    /// to spare. Default 50.
    pub history: usize,
    /// The most rooms this instance holds at once: an upgrade to a room
    /// that would be one more is refused with 503. Each room keeps its
    /// history (up to half of [`ChatConfig::outgoing_queue_bytes`]), so
    /// this bounds the memory rooms take. Default 1000.
    pub max_rooms: usize,
    /// How fast each member may send: texts over it are dropped, and a
    /// member far over it for long is closed with 1008 (`chat/rate.rs`).
    /// Default 10 texts a second, 30 at once, and 64 KiB a second.
    pub rate: RateConfig,
    /// With Redis: how long a room's keys (its history and sequence
    /// number) stay after its last member, on any instance, has left; a
    /// room joined again within this keeps its history, and one joined
    /// later starts afresh. The guest counter expires as long after the
    /// last guest. At most [`MAX_ROOM_TTL`] (longer is taken as that).
    /// Default 24 hours.
    pub room_ttl: Duration,
}

impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            outgoing_queue_bytes: 1 << 20,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            max_text: 4000,
            history: 50,
            max_rooms: 1000,
            rate: RateConfig::default(),
            room_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The chat's default limit on the connections open at once from one
/// client address: 64.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;

/// The server's defaults, with the chat's message limit (64 KiB) and its
/// limit on the connections from one address (64).
pub fn server_config() -> ServerConfig {
    ServerConfig::default()
        .max_frame(DEFAULT_MAX_MESSAGE)
        .max_message(DEFAULT_MAX_MESSAGE)
        .max_connections_per_ip(Some(DEFAULT_MAX_CONNECTIONS_PER_IP))
}

/// Stack size of each connection's writer thread: it only moves bytes.
const WRITER_STACK_SIZE: usize = 64 << 10;

const PAGE_HTML: &str = include_str!("page/index.html");
const PAGE_JS: &str = include_str!("page/chat.js");
const PAGE_CSS: &str = include_str!("page/chat.css");

/// The chat service; see the module documentation.
#[derive(Debug)]
pub struct Chat {
    config: ChatConfig,
    rooms: Arc<Rooms>,
}

impl Chat {
    /// A chat with no rooms yet. `close_timeout` bounds how long a client
    /// dropped for a full queue may take to close (use the server's). With
    /// `redis` (a URL), rooms are shared with every other instance using
    /// that Redis (see `chat/bus/redis/`); it must be reachable now.
    pub fn new(
        config: ChatConfig,
        close_timeout: Duration,
        redis: Option<&str>,
    ) -> Result<Chat, Box<dyn std::error::Error>> {
        let bus: Arc<dyn Bus> = match redis {
            Some(url) => Arc::new(RedisBus::connect(
                url,
                config.history,
                config.room_ttl.min(MAX_ROOM_TTL),
            )?),
            None => Arc::new(LocalBus::new()),
        };
        let rooms = Arc::new(Rooms::new(&config, close_timeout, Arc::clone(&bus)));
        bus.start(Arc::<Rooms>::clone(&rooms))?;
        Ok(Chat { config, rooms })
    }

    /// Reads and acts on the client's messages until the connection ends.
    /// The messages that arrived in one read are taken together, and their
    /// texts said as one burst ([`Membership::say`]): every member's writer
    /// wakes once for all of them, and sends them in one write. Each text
    /// is first weighed against the member's `rate` limit.
    fn read_messages<T: Transport>(
        &self,
        read: &mut ReadHalf<Socket<'_, T>>,
        member: &mut Membership,
        outbox: &Outbox,
        rate: &mut RateLimit,
        timing: &Timing,
        log: &ConnectionLog,
    ) -> Result<(), Error> {
        let mut said = Vec::new();
        loop {
            // Block only when no text is waiting to be said.
            let received = match said.is_empty() {
                true => read.read().map(Some),
                false => read.read_buffered(),
            };
            let message = match received {
                Ok(Some(message)) => {
                    log.message(Direction::Received, &message);
                    message
                }
                Ok(None) => {
                    say_all(member, &mut said);
                    continue;
                }
                Err(e) => {
                    say_all(member, &mut said);
                    if let Error::Protocol(_) = e {
                        // RFC 6455 §7.1.7: the read half queued the Close
                        // with the error's code, and reads no further.
                        outbox.read_half_closed(timing.close_timeout);
                    }
                    return Err(e);
                }
            };
            outbox.heard_from_peer();
            if !matches!(message, Message::Text(_)) {
                say_all(member, &mut said);
            }
            match message {
                // §5.5.1: after our Close, data that still arrives is dropped.
                Message::Text(_) | Message::Binary(_) if !outbox.is_open() => {}
                Message::Text(text) => match rate.check(text.len(), Instant::now()) {
                    Verdict::Pass => self.on_text(member, outbox, text, &mut said, timing, log),
                    Verdict::Drop => {}
                    Verdict::SlowDown { retry_after } => {
                        self.slow_down(retry_after, member, outbox, &mut said, timing);
                    }
                    Verdict::TooFast => {
                        say_all(member, &mut said);
                        // RFC 6455 §7.4.1: 1008, a message that violates
                        // the server's policy. The disconnect line logs it.
                        outbox.close(CloseCode::POLICY_VIOLATION, TOO_FAST, timing.close_timeout);
                    }
                },
                Message::Binary(_) => outbox.close(
                    CloseCode::UNSUPPORTED_DATA,
                    "binary messages are not accepted; send text",
                    timing.close_timeout,
                ),
                // §5.5.2: the read half queued the Pong; the writer makes
                // sure it goes out.
                Message::Ping(_) => outbox.answer_queued(),
                Message::Pong(_) => {}
                // §5.5.1: the read half answered the Close (echoing its code)
                // unless we sent one; either way the closing handshake is
                // now complete.
                Message::Close(_) => {
                    outbox.read_half_closed(timing.close_timeout);
                    return Ok(());
                }
            }
        }
    }

    /// Tells the sender of a text over its rate limit, which was dropped,
    /// to slow down, after what was said before that text.
    fn slow_down(
        &self,
        retry_after: Duration,
        member: &mut Membership,
        outbox: &Outbox,
        said: &mut Vec<String>,
        timing: &Timing,
    ) {
        say_all(member, said);
        let reason = self.config.rate.slow_down_reason();
        let slow_down = Event::SlowDown {
            reason: &reason,
            // Rounded up: waiting that long is enough.
            retry_after_ms: u64::try_from(retry_after.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u64::MAX),
        }
        .message();
        push_or_close(outbox, &slow_down, timing);
    }

    /// Acts on a text: one to say joins `said`; a command, or the refusal
    /// of a text, comes after what was said before it.
    fn on_text(
        &self,
        member: &mut Membership,
        outbox: &Outbox,
        text: String,
        said: &mut Vec<String>,
        timing: &Timing,
        log: &ConnectionLog,
    ) {
        let refusal = match Command::parse(&text) {
            Command::Say => {
                let characters = text.chars().count();
                if characters <= self.config.max_text {
                    said.push(text);
                    return;
                }
                format!(
                    "the message has {characters} characters; the most is {}",
                    self.config.max_text
                )
            }
            Command::Nick(name) => {
                say_all(member, said);
                match member.rename(name) {
                    Ok(()) => {
                        log.line(format_args!("renamed to {}", member.name()));
                        log.user(member.name());
                        return;
                    }
                    Err(e) => e.to_string(),
                }
            }
            Command::Unknown(command) => {
                format!("unknown command /{command}; the only command is /nick NAME")
            }
            Command::TooLong => {
                format!("a command is at most {MAX_COMMAND_CHARS} characters long")
            }
        };
        say_all(member, said);
        let error = Event::Error { reason: &refusal }.message();
        push_or_close(outbox, &error, timing);
    }
}

/// Reads, dropping any data, until the client answers the Close the chat
/// sent, or the connection fails.
fn read_until_closed<T: Transport>(
    read: &mut ReadHalf<Socket<'_, T>>,
    outbox: &Outbox,
    timing: &Timing,
) -> Result<(), Error> {
    loop {
        match read.read() {
            // §5.5.1: after our Close, data that still arrives is dropped.
            Ok(Message::Text(_) | Message::Binary(_) | Message::Pong(_)) => {}
            Ok(Message::Ping(_)) => outbox.answer_queued(),
            Ok(Message::Close(_)) => {
                outbox.read_half_closed(timing.close_timeout);
                return Ok(());
            }
            Err(e) => {
                if let Error::Protocol(_) = e {
                    outbox.read_half_closed(timing.close_timeout);
                }
                return Err(e);
            }
        }
    }
}

/// Says the texts in `said` to the room, as one burst, and empties it.
fn say_all(member: &mut Membership, said: &mut Vec<String>) {
    if !said.is_empty() {
        member.say(said);
        said.clear();
    }
}

/// Queues an event for this connection alone, closing it with 1008 if its
/// queue is full.
fn push_or_close(outbox: &Outbox, event: &Arc<SharedMessage>, timing: &Timing) {
    if outbox.push(event) == Err(Refused::Full) {
        outbox.close(
            CloseCode::POLICY_VIOLATION,
            QUEUE_FULL,
            timing.close_timeout,
        );
    }
}

/// What a client's text message asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    /// Broadcast it.
    Say,
    /// `/nick NAME`: rename.
    Nick(&'a str),
    /// `/WORD ...` for any other word.
    Unknown(&'a str),
    /// A line starting with `/` longer than [`MAX_COMMAND_CHARS`]: no
    /// command is that long, and its error does not repeat it.
    TooLong,
}

/// The longest command line, `/` included, in characters: `/nick` and the
/// longest name fit with room to spare.
const MAX_COMMAND_CHARS: usize = 64;

impl Command<'_> {
    fn parse(text: &str) -> Command<'_> {
        let Some(line) = text.strip_prefix('/') else {
            return Command::Say;
        };
        if text.chars().nth(MAX_COMMAND_CHARS).is_some() {
            return Command::TooLong;
        }
        let (word, argument) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match word {
            "nick" => Command::Nick(argument.trim()),
            _ => Command::Unknown(word),
        }
    }
}

/// The room a request path names: `/` is the lobby, `/NAME` is room NAME.
/// The query string is not part of it.
fn room_of(target: &str) -> Option<&str> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match path.strip_prefix('/')? {
        "" => Some(LOBBY),
        name if is_name(name, MAX_ROOM_LEN) => Some(name),
        _ => None,
    }
}

fn not_a_room(target: &str) -> String {
    format!(
        "{target} is not a chat room: use / for the lobby, or /NAME where NAME is 1 to \
         {MAX_ROOM_LEN} ASCII letters, digits, '_' or '-'"
    )
}

/// The 503 answer to an upgrade that would open one room more than `max_rooms`.
fn too_many_rooms(max_rooms: usize) -> Response {
    let mut response = Response::text(
        503,
        "Service Unavailable",
        &format!(
            "this server holds its most rooms ({max_rooms}); join a room that has people in it, \
             or try again later"
        ),
    );
    response
        .headers
        .push(("Retry-After".to_owned(), b"10".to_vec()));
    response
}

/// A `200 OK` with a built-in file.
fn asset(content_type: &str, body: &str) -> Response {
    crate::asset::asset(content_type, body, &[])
}

impl<T: Transport> Service<T> for Chat {
    fn plain_http(&self, request: &Request) -> Response {
        let path = request
            .path
            .split_once('?')
            .map_or(&*request.path, |(p, _)| p);
        match path {
            "/chat.js" => asset("text/javascript; charset=utf-8", PAGE_JS),
            "/chat.css" => asset("text/css; charset=utf-8", PAGE_CSS),
            _ if room_of(path).is_some() => asset("text/html; charset=utf-8", PAGE_HTML),
            _ => Response::text(404, "Not Found", &not_a_room(path)),
        }
    }

    fn admit(&self, request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        match room_of(&request.path) {
            Some(room) if self.rooms.has_room_for(room) => Ok(Vec::new()),
            Some(_) => Err(too_many_rooms(self.config.max_rooms)),
            None => Err(Response::text(
                400,
                "Bad Request",
                &not_a_room(&request.path),
            )),
        }
    }

    fn session(&self, connection: Upgraded<'_, T>, request: &Request) -> Result<(), Error> {
        let room = room_of(&request.path).expect("admit refuses paths that name no room");
        let (stream, config, log) = (connection.stream(), connection.config(), connection.log());
        let timing = Timing {
            ping_interval: self.config.ping_interval,
            pong_timeout: self.config.pong_timeout,
            write_timeout: config.write_timeout,
            close_timeout: config.close_timeout,
        };
        let written = AtomicU64::new(0);
        let socket = Socket::new(stream, &written)?;
        let ws = connection.into_websocket(socket);
        let (mut read, write) = ws.split()?;
        let closing = write.clone();
        let outbox = Arc::new(Outbox::new(self.config.outgoing_queue_bytes));
        let result = thread::scope(|scope| {
            let (writer_outbox, timing) = (&*outbox, &timing);
            thread::Builder::new()
                .name("ws6455-chat-writer".to_owned())
                .stack_size(WRITER_STACK_SIZE)
                .spawn_scoped(scope, move || {
                    writer_outbox.run_writer(write, socket, timing)
                })?;
            let Ok(mut member) = self.rooms.join(room, Arc::clone(&outbox)) else {
                // Other handshakes opened the last rooms after this one was admitted.
                outbox.close(
                    CloseCode::TRY_AGAIN_LATER,
                    TOO_MANY_ROOMS,
                    timing.close_timeout,
                );
                let result = read_until_closed(&mut read, &outbox, timing);
                outbox.reading_finished();
                return result;
            };
            log.line(format_args!(
                "joined {} as {}",
                member.room_name(),
                member.name()
            ));
            log.user(member.name());
            let mut rate = RateLimit::new(self.config.rate, Instant::now());
            let result =
                self.read_messages(&mut read, &mut member, &outbox, &mut rate, timing, log);
            self.rooms.leave(member);
            outbox.reading_finished();
            result
        });
        log.ended(
            closing.first_close(),
            read.bytes_received(),
            written.load(Ordering::Relaxed),
        );
        result
    }

    fn shutting_down(&self) {
        self.rooms.close_everyone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_rooms() {
        assert_eq!(room_of("/"), Some(LOBBY));
        assert_eq!(room_of("/kitchen"), Some("kitchen"));
        assert_eq!(room_of("/kitchen?since=3"), Some("kitchen"));
        assert_eq!(
            room_of(&format!("/{}", "r".repeat(64))).map(str::len),
            Some(64)
        );
        for bad in [
            "",
            "kitchen",
            "/kitchen/",
            "/a/b",
            "/chat.js",
            "/k%20itchen",
            "//",
            &format!("/{}", "r".repeat(65)),
        ] {
            assert_eq!(room_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn slash_starts_a_command() {
        assert_eq!(Command::parse("hello"), Command::Say);
        assert_eq!(Command::parse(""), Command::Say);
        assert_eq!(Command::parse("/nick alice"), Command::Nick("alice"));
        assert_eq!(Command::parse("/nick  alice "), Command::Nick("alice"));
        assert_eq!(Command::parse("/nick"), Command::Nick(""));
        assert_eq!(Command::parse("/nick a b"), Command::Nick("a b"));
        assert_eq!(Command::parse("/me waves"), Command::Unknown("me"));
        assert_eq!(Command::parse("/nickalice"), Command::Unknown("nickalice"));
        let longest = format!("/{}", "é".repeat(MAX_COMMAND_CHARS - 1));
        assert_eq!(Command::parse(&longest), Command::Unknown(&longest[1..]));
        assert_eq!(Command::parse(&format!("{longest}x")), Command::TooLong);
        assert_eq!(
            Command::parse(&format!("/nick {}", "a".repeat(100))),
            Command::TooLong
        );
        // Only commands: a long text is said (or refused by --max-text).
        assert_eq!(Command::parse(&"a".repeat(100)), Command::Say);
    }
}
