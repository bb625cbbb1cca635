//! A thread-per-connection server over [`WebSocket`].
//!
//! Each accepted TCP connection gets its own OS thread with a small stack.
//! The thread reads the opening request under a deadline, lets the
//! [`Service`] answer it (or refuse it), runs the service's session, and
//! closes the TCP connection in the order RFC 6455 §7.1.1 asks of a server.
//!
//! The server counts its connections as they arrive, before their opening
//! requests are read: all of them ([`ServerConfig::max_connections`]: one
//! more is answered 503) and those from each client address
//! ([`ServerConfig::max_connections_per_ip`]: one more is answered 429; see
//! `admission.rs`). Behind a trusted reverse proxy
//! ([`ServerConfig::trust_proxy`]) a client is counted, and named in the
//! log, by the address the proxy forwarded it for, once its request is read.
//!
//! A session receives the connection as [`Upgraded`]: the TCP stream, the
//! bytes that followed the request, and the configuration. Most services
//! run over a [`WebSocket`] with [`Upgraded::with_websocket`], which also
//! finishes a closing handshake the session started; one that reads and
//! writes on separate threads (the chat) builds its own halves from the
//! same parts.

pub(crate) mod addresses;
pub(crate) mod admission;
pub(crate) mod config;
pub(crate) mod connection_log;
pub(crate) mod echo;
pub(crate) mod keepalive;
pub(crate) mod running;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::deflate::config::DeflateParams;
use crate::error::Error;
use crate::handshake::http::{Request, Response};
use crate::handshake::server::RequestError;
use crate::io::accept::{Opened, respond_under_deadline, server_websocket};
use crate::io::close_request::CloseRequest;
#[cfg(feature = "tls")]
use crate::io::tls::TlsStream;
use crate::io::transport::{Transport, discard_until_eof};
use crate::io::websocket::WebSocket;
use crate::server::config::ServerConfig;
use crate::trace;
pub use admission::{Admissions, Arrival};
pub use connection_log::ConnectionLog;
pub use echo::Echo;
use running::{Connections, accept_loop};
pub use running::{SHUTDOWN_REASON, Server, ShutdownHandle, ShutdownReport};

/// A connection whose opening handshake succeeded, handed to
/// [`Service::session`]. The server keeps the stream and closes it when the
/// session returns, so a session may lend it to threads it scopes to itself.
#[derive(Debug)]
pub struct Upgraded<'a, T: Transport = TcpStream> {
    stream: &'a T,
    /// Bytes the client sent after its opening request: the start of its
    /// first frames (RFC 6455 §4.1 asks clients to wait for the 101, so
    /// usually none).
    already_read: Vec<u8>,
    config: &'a ServerConfig,
    /// When tracing: what starts each trace line (the peer's address).
    trace_prefix: Option<String>,
    /// permessage-deflate's parameters, if the handshake agreed to it.
    deflate: Option<DeflateParams>,
    log: &'a ConnectionLog,
    /// How the server's shutdown closes a session over [`Upgraded::with_websocket`].
    close_request: Option<Arc<CloseRequest>>,
}

impl<'a, T: Transport> Upgraded<'a, T> {
    /// The stream, with no read timeout and the configured write timeout.
    pub fn stream(&self) -> &'a T {
        self.stream
    }

    /// The server's configuration: limits, timeouts, keepalive.
    pub fn config(&self) -> &'a ServerConfig {
        self.config
    }

    /// The connection's lines in the server's log.
    pub fn log(&self) -> &'a ConnectionLog {
        self.log
    }

    /// Runs `session` over the connection as a server-side [`WebSocket`]
    /// with the configured limits and the permessage-deflate the handshake
    /// agreed, traced when the logger takes trace lines. The server's
    /// shutdown sends it Close 1001 even while it blocks reading. If the
    /// session sent a Close and returned before the peer answered, waits
    /// for the answer (RFC 6455 §7.1.2), but no longer than the close
    /// timeout; then logs how the connection ended.
    pub fn with_websocket(
        self,
        session: impl FnOnce(&mut WebSocket<T::Ref<'a>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let (stream, config, log) = (self.stream, self.config, self.log);
        let close_request = self.close_request.clone();
        // On the heap, and built there by a call of its own: in this frame,
        // the connection (or the copy it is built in) made the thread's
        // stack one page deeper, resident for as long as the connection
        // idles (see `benches/idle_stack.rs`).
        let mut ws = self.into_boxed_websocket(stream.by_ref());
        if let Some(close_request) = close_request {
            ws.watch_close_request(close_request);
        }
        let mut result = session(&mut ws);
        if ws.is_closing() {
            let waited = stream.set_read_timeout(Some(config.close_timeout));
            result = result
                .and(waited.map_err(Error::Io))
                .and_then(|()| ws.finish_close());
        }
        log.ended(
            ws.first_close().cloned(),
            ws.bytes_received(),
            ws.bytes_sent(),
        );
        result
    }

    /// [`Upgraded::into_websocket`] on the heap.
    fn into_boxed_websocket<S: Read + Write>(self, stream: S) -> Box<WebSocket<S>> {
        server_websocket(
            stream,
            self.config,
            self.deflate.as_ref(),
            self.already_read,
            self.trace_prefix,
        )
    }

    /// The connection as a server-side [`WebSocket`] over `stream`, a
    /// handle on [`Upgraded::stream`] (for example one that counts what it
    /// writes), with the configured limits, the permessage-deflate the
    /// handshake agreed and the bytes that followed the request; traced when
    /// the logger takes trace lines. For a session that reads and writes on
    /// threads of its own ([`WebSocket::split`]): it closes its connection
    /// at [`Service::shutting_down`], and reports how the connection ended
    /// with [`ConnectionLog::ended`].
    pub fn into_websocket<S: Read + Write>(self, stream: S) -> WebSocket<S> {
        *self.into_boxed_websocket(stream)
    }
}

/// What a server does with its connections, over transport `T` (TCP unless
/// said otherwise).
pub trait Service<T: Transport = TcpStream>: Send + Sync + 'static {
    /// The answer to a request that is not a WebSocket upgrade at all: an
    /// HTTP/1.1 GET with a Host and no `Upgrade` header. Other methods never
    /// get here; they are answered 405 with `Allow: GET` (RFC 6455 §4.2.1).
    fn plain_http(&self, request: &Request) -> Response {
        let _ = request;
        Response::rejection(&RequestError::NotAnUpgrade)
    }

    /// Decides whether a valid upgrade request may open a session, before
    /// the 101 is sent, as [`accept_hdr`](crate::accept_hdr)'s callback
    /// does: `Ok(fields)` admits it, with these header fields added to the
    /// 101 (a cookie, say); `Err(response)` refuses it with that response
    /// instead, for example a 403 for a foreign `Origin` (RFC 6455 §10.2)
    /// or a 400 for a path the service does not serve; the server's log
    /// line for the refusal repeats the first line of its body. Default:
    /// every valid upgrade request is admitted, with nothing added.
    fn admit(&self, request: &Request) -> Result<Vec<(String, Vec<u8>)>, Response> {
        let _ = request;
        Ok(Vec::new())
    }

    /// Chooses the subprotocol for an admitted upgrade request, from those
    /// the client offered. Default: none, and then the server takes the
    /// first of [`ServerConfig::subprotocols`] the client offered, if any.
    fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        let _ = request;
        None
    }

    /// Runs one connection until it ends. The server closes the TCP
    /// connection afterwards.
    fn session(&self, connection: Upgraded<'_, T>, request: &Request) -> Result<(), Error>;

    /// The server has begun to shut down (see [`Server::shutdown`]). The
    /// server sends Close 1001 on every session over
    /// [`Upgraded::with_websocket`] by itself; a service whose sessions
    /// read and write on threads of their own (over split halves) sends
    /// theirs here, so that the server can wait for their closing
    /// handshakes. Default: nothing.
    fn shutting_down(&self) {}
}

/// Starts serving: accepts TCP connections on a thread of its own, and runs
/// each on another, until [`Server::shutdown`].
pub fn serve<S: Service>(
    listener: TcpListener,
    config: ServerConfig,
    service: S,
) -> io::Result<Server> {
    serve_over(listener, config, service, Ok)
}

/// [`serve`] over TLS (`wss://`, with the feature `tls`): each connection's
/// thread runs the TLS handshake first, within the opening handshake's
/// deadline.
#[cfg(feature = "tls")]
pub fn serve_tls<S: Service<TlsStream>>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: ServerConfig,
    service: S,
) -> io::Result<Server> {
    serve_over(listener, config, service, move |tcp| {
        TlsStream::server(tcp, Arc::clone(&tls))
    })
}

/// Starts the accept loop on a thread of its own; each TCP connection gets
/// a thread that runs it over the transport `open` makes of it.
fn serve_over<T: Transport, S: Service<T>>(
    listener: TcpListener,
    config: ServerConfig,
    service: S,
    open: impl Fn(TcpStream) -> io::Result<T> + Send + Sync + 'static,
) -> io::Result<Server> {
    let local_addr = listener.local_addr()?;
    let service = Arc::new(service);
    let admissions = Arc::new(Admissions::new(&config));
    let on_shutdown = {
        let admissions = Arc::clone(&admissions);
        let service = Arc::clone(&service);
        Box::new(move || {
            admissions.stop();
            service.shutting_down()
        })
    };
    let connections = Arc::new(Connections::new(local_addr, &config, on_shutdown));
    let config = Arc::new(config);
    let open = Arc::new(open);
    let accepting = Arc::clone(&connections);
    let accept_thread = thread::Builder::new()
        .name("ws6455-accept".to_owned())
        .spawn(move || {
            accept_loop(listener, &accepting, |stream| {
                let _ = stream.set_nodelay(true);
                start_connection(stream, &accepting, &config, &service, &open, &admissions)
            })
        })?;
    connections.set_accept_thread(accept_thread);
    Ok(Server::new(local_addr, connections))
}

/// Gives a new TCP connection a thread that runs it, counted in
/// `admissions`, or closes it unanswered when its address holds twice its
/// share already. Fails when no thread can be had: the connection is then
/// closed unanswered too.
fn start_connection<T: Transport, S: Service<T>>(
    stream: TcpStream,
    connections: &Arc<Connections<T>>,
    config: &Arc<ServerConfig>,
    service: &Arc<S>,
    open: &Arc<impl Fn(TcpStream) -> io::Result<T> + Send + Sync + 'static>,
    admissions: &Admissions,
) -> io::Result<()> {
    let arrival = match stream.peer_addr() {
        Ok(peer) => match admissions.arrive(peer) {
            Some(arrival) => arrival,
            None => return Ok(()),
        },
        Err(_) => Arrival::uncounted(None, config),
    };
    let (connections, config, service, open) = (
        Arc::clone(connections),
        Arc::clone(config),
        Arc::clone(service),
        Arc::clone(open),
    );
    // On the heap: the thread's first frame holds what its closure takes,
    // under every read its connection blocks in, and an idle connection
    // keeps two stack pages at most (`benches/idle_stack.rs`).
    let arrival = Box::new(arrival);
    thread::Builder::new()
        .name("ws6455-conn".to_owned())
        .stack_size(config.thread_stack_size)
        .spawn(move || {
            let transport = match open(stream) {
                Ok(transport) => Arc::new(transport),
                Err(e) => {
                    return log::warn!(target: connection_log::TARGET, "cannot set up a connection: {e}");
                }
            };
            let registered = connections.register(Arc::clone(&transport));
            let close_request = Arc::clone(&registered.close_request);
            serve_connection(
                &*transport,
                &config,
                &*service,
                &arrival,
                Some(close_request),
            );
            drop(registered);
            // Its places in the counts are given back only now, with the
            // thread's.
            drop(arrival);
        })
        .map(drop)
}

/// Runs one connection on the current thread: the opening handshake under
/// its deadline, the service's session, and the closing of the transport
/// in the order RFC 6455 §7.1.1 asks of a server. Connections are counted
/// ([`ServerConfig::max_connections`],
/// [`ServerConfig::max_connections_per_ip`]) only by [`serve`]; behind a
/// trusted proxy ([`ServerConfig::trust_proxy`]) the log names the
/// forwarded client here too.
pub fn handle_connection<T: Transport, S: Service<T>>(
    stream: T,
    config: &ServerConfig,
    service: &S,
) {
    let arrival = Arrival::uncounted(stream.peer_addr().ok(), config);
    serve_connection(&stream, config, service, &arrival, None);
}

/// [`handle_connection`] for a connection that `arrival` describes,
/// answered 503 or 429 when the server turns it away. `close_request`: how
/// the server's shutdown closes a session over [`Upgraded::with_websocket`],
/// for a server that can shut down.
fn serve_connection<T: Transport, S: Service<T>>(
    stream: &T,
    config: &ServerConfig,
    service: &S,
    arrival: &Arrival,
    close_request: Option<Arc<CloseRequest>>,
) {
    let mut log = arrival.connection_log();
    let trace_prefix = trace::enabled().then(|| arrival.trace_prefix());
    let answers = arrival.answers(config, service);
    let opened = respond_under_deadline(stream, config, answers, trace_prefix.as_deref());
    match opened {
        Ok(Opened {
            request,
            already_read,
            deflate,
        }) => {
            arrival.log_handshake(&mut log, Ok(&request));
            let connection = Upgraded {
                stream,
                already_read,
                config,
                trace_prefix,
                deflate,
                log: &log,
                close_request,
            };
            let result = service.session(connection, &request);
            log.disconnected(&result);
        }
        Err(refusal) => arrival.log_handshake(&mut log, Err(refusal)),
    }
    linger_close(stream, config.close_timeout);
}

/// Closes the connection without losing our last frames: RFC 6455 §7.1.1
/// says the server closes the TCP connection first. Closing a socket with
/// unread input makes the kernel send a reset, which can destroy the Close
/// frame we just sent before the peer reads it. So: shut down our side, read
/// and discard until the peer closes its side or `timeout` passes, then close.
fn linger_close<T: Transport>(stream: &T, timeout: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    // The peer may never close, or reset; we close either way.
    let _ = discard_until_eof(stream, Instant::now() + timeout);
}
