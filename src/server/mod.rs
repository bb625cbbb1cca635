//! A thread-per-connection server over [`WebSocket`].
//!
//! Each accepted TCP connection gets its own OS thread with a small stack.
//! The thread reads the opening request under a deadline, lets the
//! [`Service`] answer it (or refuse it), runs the service's session, and
//! closes the TCP connection in the order RFC 6455 §7.1.1 asks of a server.
//!
//! A session receives the connection as [`Upgraded`]: the TCP stream, the
//! bytes that followed the request, and the configuration. Most services
//! run over a [`WebSocket`] with [`Upgraded::with_websocket`], which also
//! finishes a closing handshake the session started; one that reads and
//! writes on separate threads (the chat) builds its own halves from the
//! same parts.

pub mod chat;
pub mod echo;

use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::accept::{answer_upgrade, read_request, reject, write_response};
use crate::connection::WebSocket;
use crate::deadline::{DeadlineReader, discard_until_eof};
use crate::error::{Error, HandshakeError};
use crate::handshake::{HandshakeLimits, Request, Response, check_upgrade_request};
use crate::message::{Limits, Role};
use crate::trace::{self, Direction, PrintHttpWrites};

/// A connection whose opening handshake succeeded, handed to
/// [`Service::session`]. The server keeps the stream and closes it when the
/// session returns, so a session may lend it to threads it scopes to itself.
#[derive(Debug)]
pub struct Upgraded<'a> {
    /// The TCP stream, with no read timeout and the configured write timeout.
    pub stream: &'a TcpStream,
    /// Bytes the client sent after its opening request: the start of its
    /// first frames (RFC 6455 §4.1 asks clients to wait for the 101, so
    /// usually none).
    pub already_read: Vec<u8>,
    /// The server's configuration: limits, write and close timeouts.
    pub config: &'a ServerConfig,
    /// With `--trace`: what starts each trace line (the peer's address).
    pub trace_prefix: Option<String>,
}

impl<'a> Upgraded<'a> {
    /// Runs `session` over the connection as a server-side [`WebSocket`]
    /// with the configured limits, traced when the server traces. If the session sent a Close and returned
    /// before the peer answered, waits for the answer (RFC 6455 §7.1.2), but
    /// no longer than the close timeout.
    pub fn with_websocket(
        self,
        session: impl FnOnce(&mut WebSocket<&'a TcpStream>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut ws = WebSocket::from_raw(
            self.stream,
            Role::Server,
            self.config.limits,
            self.already_read,
        );
        if let Some(prefix) = self.trace_prefix {
            ws.set_trace(trace::print_to_stderr(prefix));
        }
        let result = session(&mut ws);
        if !ws.is_closing() {
            return result;
        }
        let waited = self
            .stream
            .set_read_timeout(Some(self.config.close_timeout));
        result
            .and(waited.map_err(Error::Io))
            .and_then(|()| ws.finish_close())
    }
}

/// How a server treats its connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Limits on the opening request.
    pub handshake_limits: HandshakeLimits,
    /// A client must finish its opening request within this time. Default 10 s.
    pub handshake_timeout: Duration,
    /// Limits on frames and messages.
    pub limits: Limits,
    /// A write to a client that does not read fails after this long. Default 30 s.
    pub write_timeout: Duration,
    /// How long to wait for the client to close its side after we close ours. Default 2 s.
    pub close_timeout: Duration,
    /// Stack size of each connection's thread. Default 128 KiB.
    pub thread_stack_size: usize,
    /// Log connects and disconnects to stderr. Default true.
    pub log: bool,
    /// Print each opening handshake and every frame of every connection to
    /// stderr, annotated (see [`crate::trace`]), each line after the peer's
    /// address. Default false.
    pub trace: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            write_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(2),
            thread_stack_size: 128 << 10,
            log: true,
            trace: false,
        }
    }
}

/// What a server does with its connections.
pub trait Service: Send + Sync + 'static {
    /// The answer to a request that is not a WebSocket upgrade at all: an
    /// HTTP/1.1 GET with a Host and no `Upgrade` header. Other methods never
    /// get here; they are answered 405 with `Allow: GET` (RFC 6455 §4.2.1).
    fn plain_http(&self, request: &Request) -> Response {
        let _ = request;
        Response::rejection(&HandshakeError::NotAnUpgrade)
    }

    /// Decides whether a valid upgrade request may open a session, before
    /// the 101 is sent. `Err(response)` refuses it with that response
    /// instead, for example a 400 for a path the service does not serve.
    /// Default: every valid upgrade request is admitted.
    fn admit(&self, request: &Request) -> Result<(), Response> {
        let _ = request;
        Ok(())
    }

    /// Chooses the subprotocol for an admitted upgrade request, from those
    /// the client offered. Default: none.
    fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        let _ = request;
        None
    }

    /// Runs one connection until it ends. The server closes the TCP
    /// connection afterwards.
    fn session(&self, connection: Upgraded<'_>, request: &Request) -> Result<(), Error>;
}

/// Accepts connections forever, one thread each.
pub fn serve<S: Service>(
    listener: TcpListener,
    config: ServerConfig,
    service: S,
) -> io::Result<()> {
    let service = Arc::new(service);
    let config = Arc::new(config);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors or a connection reset before accept:
                // keep serving the others.
                eprintln!("accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let (service, config) = (Arc::clone(&service), Arc::clone(&config));
        let spawned = thread::Builder::new()
            .name("ws6455-conn".to_owned())
            .stack_size(config.thread_stack_size)
            .spawn(move || handle_connection(stream, &config, &*service));
        if let Err(e) = spawned {
            eprintln!("cannot start a thread for a connection: {e}");
        }
    }
    Ok(())
}

/// Runs one connection on the current thread.
pub fn handle_connection<S: Service>(stream: TcpStream, config: &ServerConfig, service: &S) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown peer".to_owned(), |a| a.to_string());
    let trace_prefix = config.trace.then(|| format!("{peer} "));
    let outcome = match opening_handshake(&stream, config, service, &trace_prefix) {
        Ok((request, already_read)) => {
            if config.log {
                eprintln!("{peer}: connected to {}", request.path);
            }
            let connection = Upgraded {
                stream: &stream,
                already_read,
                config,
                trace_prefix,
            };
            Outcome::Session(service.session(connection, &request))
        }
        Err(outcome) => outcome,
    };
    if config.log {
        match &outcome {
            Outcome::Http(status) => eprintln!("{peer}: plain HTTP request answered {status}"),
            Outcome::NotAdmitted(status) => {
                eprintln!("{peer}: upgrade request not admitted, answered {status}")
            }
            Outcome::Refused(e @ Error::Handshake(_)) => eprintln!("{peer}: {e}"),
            Outcome::Refused(e) => eprintln!("{peer}: during the opening handshake: {e}"),
            Outcome::Session(Ok(())) => eprintln!("{peer}: disconnected"),
            Outcome::Session(Err(e)) => eprintln!("{peer}: disconnected: {e}"),
        }
    }
    linger_close(&stream, config.close_timeout);
}

/// How a connection ended.
enum Outcome {
    /// A plain HTTP request was answered with this status.
    Http(u16),
    /// The service did not admit a valid upgrade request and answered with this status.
    NotAdmitted(u16),
    /// The opening handshake failed (and was answered, where it could be).
    Refused(Error),
    /// A WebSocket session ran and ended so.
    Session(Result<(), Error>),
}

/// Reads the opening request under the handshake deadline and answers it,
/// printing both when tracing. Returns the upgrade request and the bytes
/// after it, or how it ended.
fn opening_handshake<S: Service>(
    stream: &TcpStream,
    config: &ServerConfig,
    service: &S,
    trace_prefix: &Option<String>,
) -> Result<(Request, Vec<u8>), Outcome> {
    let _ = stream.set_nodelay(true);
    stream
        .set_write_timeout(Some(config.write_timeout))
        .map_err(|e| Outcome::Refused(e.into()))?;
    let mut reader = DeadlineReader {
        stream,
        deadline: Instant::now() + config.handshake_timeout,
    };
    let mut plain = stream;
    let mut traced;
    let mut writer: &mut dyn Write = match trace_prefix {
        Some(prefix) => {
            traced = PrintHttpWrites::new(stream, prefix.clone());
            &mut traced
        }
        None => &mut plain,
    };
    let (request, already_read) = match read_request(&mut reader, config.handshake_limits) {
        Ok(parts) => parts,
        Err(Error::Handshake(e)) => return Err(Outcome::Refused(reject(&mut writer, e))),
        Err(e) => return Err(Outcome::Refused(e)),
    };
    if let Some(prefix) = trace_prefix {
        let mut wire = Vec::new();
        request.encode(&mut wire);
        eprint!("{}", trace::http_lines(prefix, Direction::Received, &wire));
    }
    let key = match check_upgrade_request(&request) {
        Ok(key) => key,
        Err(HandshakeError::NotAnUpgrade) => {
            let response = service.plain_http(&request);
            let _ = write_response(&mut writer, &response);
            return Err(Outcome::Http(response.status));
        }
        Err(e) => return Err(Outcome::Refused(reject(&mut writer, e))),
    };
    if let Err(response) = service.admit(&request) {
        let _ = write_response(&mut writer, &response);
        return Err(Outcome::NotAdmitted(response.status));
    }
    let subprotocol = service.choose_subprotocol(&request);
    answer_upgrade(&mut writer, &request, &key, subprotocol.as_deref())
        .map_err(Outcome::Refused)?;
    stream
        .set_read_timeout(None)
        .map_err(|e| Outcome::Refused(e.into()))?;
    Ok((request, already_read))
}

/// Closes the TCP connection without losing our last frames: RFC 6455 §7.1.1
/// says the server closes the TCP connection first. Closing a socket with
/// unread input makes the kernel send a reset, which can destroy the Close
/// frame we just sent before the peer reads it. So: shut down our side, read
/// and discard until the peer closes its side or `timeout` passes, then close.
fn linger_close(stream: &TcpStream, timeout: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    // The peer may never close, or reset; we close either way.
    let _ = discard_until_eof(stream, Instant::now() + timeout);
}
