//! A relay: WebSocket clients connect to it, and it connects each of them
//! to one upstream server and forwards every message between the two,
//! piece by piece, in both directions at once.
//!
//! Start an upstream (`cargo run --release -- echo`, on 127.0.0.1:9001; its
//! `--max-message` raises its own 64 MiB limit), then:
//!
//! ```text
//! cargo run --example relay -- --listen 127.0.0.1:9002 --upstream ws://127.0.0.1:9001/
//! echo hello | cargo run -- client ws://127.0.0.1:9002/
//! ```
//!
//! What it shows: streaming both ways with bounded memory. A message is
//! never held whole: [`ReadHalf::read_piece`] gives it as it arrives, in
//! pieces of at most one 64 KiB buffer, and each piece goes on at once as a
//! frame of the same message to the other side
//! ([`WriteHalf::send_piece`]), so a message of any size passes through a
//! few buffers per direction, and its first bytes reach the other side
//! before its last have arrived. No message limit applies by default (the
//! relay holds no message; `--max-message BYTES` sets one).
//!
//! Each connection is two hops, each a WebSocket connection of its own:
//! the client's to the relay, the relay's to the upstream (which the relay
//! opens while it answers the client's opening handshake: if the upstream
//! cannot be reached, the client gets 502 and no connection). Each hop
//! negotiates its own permessage-deflate, and the library answers each
//! hop's Pings itself (RFC 6455 §5.5.2), so Pings and Pongs are not passed
//! on. Each connection gets two threads, one per direction, over the two
//! halves of each hop ([`WebSocket::split`](ws6455::WebSocket::split)).
//!
//! Closing (RFC 6455 §7): a Close from either side is answered by the
//! library on that hop and passed on to the other side with the same code
//! and reason, whose answer ends the connection. When one side fails
//! instead (it breaks the protocol, which the library answers with the
//! Close its error calls for, or its connection drops), the relay closes
//! the other side with a code saying that the fault lies beyond the relay:
//! 1014 (Bad Gateway) to the client when the upstream failed, 1011
//! (Internal Error) to the upstream when the client did, with a reason
//! naming what happened. The failing side's code (1007, say) is not passed
//! on: the other side did nothing wrong.

use std::error::Error as StdError;
use std::fmt;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ws6455::proto::{StreamEvent, UsageError};
use ws6455::{
    ClientConfig, CloseCode, CloseFrame, Error, Limits, Message, ReadHalf, Response, ServerConfig,
    SplitStream, WriteHalf, accept_hdr, connect_with,
};

/// The piece buffer of each direction: the library's largest read buffer,
/// so that a piece takes whatever one read brought.
const PIECE_SIZE: usize = 64 << 10;

/// A client must send its whole opening request within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A write that the other end does not take for this long fails its side.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Once a side has been sent our Close, how long it may stay silent before
/// its answer is given up on.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the command line says.
struct Options {
    /// The address clients connect to.
    listen: String,
    /// The `ws://` or `wss://` URL of the server they are relayed to.
    upstream: String,
    /// The largest message (and frame) relayed, in bytes: `u64::MAX` for no limit.
    max_message: u64,
}

/// What the command line may say.
const USAGE: &str = "usage: relay [--listen ADDR] [--upstream URL] [--max-message BYTES]
  --listen ADDR        where clients connect (default 127.0.0.1:9002)
  --upstream URL       the server each client is relayed to (default ws://127.0.0.1:9001/)
  --max-message BYTES  the largest message (and frame) relayed (default: no limit)";

impl Options {
    /// Reads the flags, each followed by its value.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            listen: "127.0.0.1:9002".to_owned(),
            upstream: "ws://127.0.0.1:9001/".to_owned(),
            max_message: u64::MAX,
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--listen" => options.listen = value,
                "--upstream" => options.upstream = value,
                "--max-message" => {
                    options.max_message = value
                        .parse()
                        .map_err(|_| format!("--max-message {value}: not a number of bytes"))?;
                }
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

/// One end of a relayed connection.
#[derive(Clone, Copy, Debug)]
enum Side {
    /// The client that connected to the relay.
    Client,
    /// The server the relay connected to for it.
    Upstream,
}

impl Side {
    /// The end across the relay.
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Upstream,
            Side::Upstream => Side::Client,
        }
    }

    /// The code the relay closes the other side with when this side fails.
    fn failure_code(self) -> CloseCode {
        match self {
            // The server behind the relay, its gateway, failed.
            Side::Upstream => CloseCode::BAD_GATEWAY,
            Side::Client => CloseCode::INTERNAL_ERROR,
        }
    }

    /// The Close reason telling the other side how this side failed.
    fn failure_reason(self, error: &Error) -> String {
        match error {
            Error::Protocol(e) => format!("the {self} broke the protocol ({})", e.close_code().0),
            _ => format!("the {self} went away"),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Upstream => "upstream",
        })
    }
}

/// How one direction ended: its source closed, or failed.
enum Ended {
    /// With this Close, which was passed on.
    Closed(Option<CloseFrame>),
    /// With this error; the other side was closed with the source's
    /// [`Side::failure_code`].
    Failed(Error),
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Closed(Some(frame)) => {
                write!(f, "closed with {} {:?}", frame.code, frame.reason)
            }
            Ended::Closed(None) => f.write_str("closed with no code"),
            Ended::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

/// One direction: forwards what `from` (the `source` side) sends to `to`,
/// piece by piece as it arrives, until `from` closes or fails; `back`
/// writes to `from`, to close it if `to` fails.
fn forward<A: SplitStream, B: SplitStream>(
    source: Side,
    from: &mut ReadHalf<A>,
    back: &WriteHalf<A>,
    to: &WriteHalf<B>,
) -> Ended {
    let mut buffer = vec![0; PIECE_SIZE];
    // Whether `to` still takes messages. Once it is closed or failed, what
    // `from` sends is read and dropped until its Close answers ours.
    let mut delivering = true;
    loop {
        let piece = match from.read_piece(&mut buffer) {
            Ok(StreamEvent::Piece(piece)) => piece,
            // RFC 6455 §5.5.1: the Close was answered on this hop; the
            // other side is closed the same way, and its answer ends the
            // other direction. (If that side closed first, this Close is
            // the answer to the one passed on, and there is nothing to do.)
            Ok(StreamEvent::Control(Message::Close(frame))) => {
                let _ = to.send(Message::Close(frame.clone()));
                return Ended::Closed(frame);
            }
            // Pings were answered on this hop; a Pong needs nothing.
            Ok(StreamEvent::Control(_)) => continue,
            Err(error) => {
                let _ = to.close(source.failure_code(), &source.failure_reason(&error));
                return Ended::Failed(error);
            }
        };
        // The first piece of a message may only announce its kind: its
        // bytes come in the next.
        if !delivering || (piece.len == 0 && !piece.last) {
            continue;
        }
        if let Err(error) = to.send_piece(piece.kind, &buffer[..piece.len], piece.last) {
            delivering = false;
            // `to` is closing: the other direction passes its Close to
            // `from`, or has. Otherwise `to` failed, and `from` is told so.
            let closing = matches!(
                error,
                Error::Closed | Error::Usage(UsageError::SendAfterClose)
            );
            if !closing {
                let target = source.other();
                let _ = back.close(target.failure_code(), &target.failure_reason(&error));
            }
        }
    }
}

/// What every connection is relayed with.
struct Settings {
    /// The URL of the upstream server.
    upstream: String,
    /// The client's hop: our limits, and permessage-deflate accepted.
    server: ServerConfig,
    /// The upstream's hop: our limits, and permessage-deflate offered.
    client: ClientConfig,
}

/// Relays one client: opens its upstream while answering its opening
/// handshake, then forwards both ways until both directions have ended.
fn relay(client_tcp: TcpStream, settings: &Settings) -> Result<(Ended, Ended), Box<dyn StdError>> {
    client_tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    client_tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut upstream = None;
    let accepted = accept_hdr(&client_tcp, &settings.server, |_request| {
        let connected = connect_with(&settings.upstream, &settings.client);
        let answer = match connected {
            Ok(_) => Ok(Vec::new()),
            Err(_) => Err(Response::text(
                502,
                "Bad Gateway",
                "the upstream cannot be reached",
            )),
        };
        upstream = Some(connected);
        answer
    });
    let (client, upstream) = match (accepted, upstream) {
        (Ok((client, _request)), Some(Ok((upstream, _response)))) => (client, upstream),
        // Refused with 502.
        (_, Some(Err(e))) => return Err(format!("the upstream cannot be reached: {e}").into()),
        // A bad request (answered with its 4xx), or a client gone.
        (Err(e), _) => return Err(format!("opening handshake: {e}").into()),
        // `accept_hdr` does not succeed without asking `admit`.
        (Ok(_), None) => return Err("the client was admitted without an upstream".into()),
    };
    client_tcp.set_read_timeout(None)?;
    let upstream_tcp = upstream.get_ref().tcp().try_clone()?;
    upstream_tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;

    let (mut client_reader, client_writer) = client.split()?;
    let (mut upstream_reader, upstream_writer) = upstream.split()?;
    let ended = thread::scope(|scope| {
        let downstream = scope.spawn(|| {
            let ended = forward(
                Side::Upstream,
                &mut upstream_reader,
                &upstream_writer,
                &client_writer,
            );
            // The client has been sent a Close: its answer is not waited for forever.
            let _ = client_tcp.set_read_timeout(Some(CLOSE_TIMEOUT));
            ended
        });
        let ended = forward(
            Side::Client,
            &mut client_reader,
            &client_writer,
            &upstream_writer,
        );
        let _ = upstream_tcp.set_read_timeout(Some(CLOSE_TIMEOUT));
        let downstream = downstream.join().unwrap_or_else(|_| {
            Ended::Failed(Error::Io(std::io::Error::other("relay thread panicked")))
        });
        (ended, downstream)
    });
    // Toward the client the relay is the server, which closes TCP first
    // (RFC 6455 §7.1.1); toward the upstream, it is the client.
    let _ = client_tcp.shutdown(Shutdown::Both);
    wait_for_upstream_close(&upstream_tcp);
    Ok(ended)
}

/// RFC 6455 §7.1.1: a client "SHOULD wait for a TCP Close from the
/// server", so that the server holds TIME_WAIT. Toward the upstream, the
/// relay is the client: it reads and drops what arrives until the upstream
/// closes TCP, or [`CLOSE_TIMEOUT`] passes.
fn wait_for_upstream_close(mut tcp: &TcpStream) {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut sink = [0; 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if tcp.set_read_timeout(Some(left)).is_err() || !matches!(tcp.read(&mut sink), Ok(1..)) {
            return;
        }
    }
}

fn main() -> Result<(), Box<dyn StdError>> {
    let options = Options::parse(std::env::args().skip(1)).map_err(|e| format!("{e}\n{USAGE}"))?;
    // A relayed message is never held whole: a frame or a message of any
    // size costs one piece buffer.
    let limits = Limits::default()
        .max_message_size(options.max_message)
        .max_frame_size(options.max_message);
    let settings = Arc::new(Settings {
        upstream: options.upstream,
        server: ServerConfig::default().limits(limits),
        client: ClientConfig::default().limits(limits),
    });
    let listener = TcpListener::bind(&options.listen)?;
    println!("listening on ws://{}", listener.local_addr()?);
    println!("relaying to {}", settings.upstream);
    for stream in listener.incoming() {
        let client_tcp = match stream {
            Ok(tcp) => tcp,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let settings = Arc::clone(&settings);
        thread::spawn(move || {
            let peer = client_tcp
                .peer_addr()
                .map_or_else(|_| "?".to_owned(), |addr| addr.to_string());
            match relay(client_tcp, &settings) {
                Ok((from_client, from_upstream)) => {
                    eprintln!("{peer}: client {from_client}; upstream {from_upstream}")
                }
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
    Ok(())
}
