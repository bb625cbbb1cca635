//! Who may open a connection, decided without I/O: one implementation
//! for the thread-per-connection server and for servers on tokio.
//!
//! [`Admissions`] counts a server's connections as they arrive, before
//! their requests are read: all of them ([`ServerConfig::max_connections`]:
//! one more is answered 503) and those from each client address
//! ([`ServerConfig::max_connections_per_ip`]: one more is answered 429, and
//! one more than twice the share is closed unanswered; see `addresses.rs`).
//! Each connection holds an [`Arrival`], its places in those counts, given
//! back when it is dropped. Behind a trusted reverse proxy
//! ([`ServerConfig::trust_proxy`]) a client is counted, and named in the
//! log, by the address the proxy forwarded it for, once its request is
//! read. Once the server shuts down ([`Admissions::stop`]), every opening
//! handshake still to be answered is answered 503.
//!
//! The arrival answers the opening handshake's server-side questions (503,
//! 429) before the service is asked (`Arrival::answers`), and writes the
//! handshake's line in the connection's log (`Arrival::log_handshake`):
//! "connected to /", "plain HTTP GET / answered 426", "upgrade to /
//! refused: 403: ...".

use std::cell::{Cell, OnceCell};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::handshake::http::{Request, Response};
use crate::io::accept::{Admission, Answers, Refusal};
use crate::io::transport::Transport;
use crate::server::Service;
use crate::server::addresses::{
    AddressCounts, AddressKey, AddressSlot, Standing, forwarded_client,
};
use crate::server::config::ServerConfig;
use crate::server::connection_log::ConnectionLog;
use crate::server::running::Throttled;

/// How long a client turned away (503, 429) is asked to wait before trying
/// again (`Retry-After`, in seconds).
const RETRY_AFTER_SECONDS: u32 = 1;

/// A server's count of its connections, by which it admits them or turns
/// them away: see the module documentation. For a server of one's own (on
/// tokio, with `Arrival::accept_async`) that admits as
/// [`serve`](crate::server::serve) does; shared by its connections' tasks.
#[derive(Debug)]
pub struct Admissions {
    /// [`ServerConfig::max_connections`].
    max_connections: Option<usize>,
    /// [`ServerConfig::trust_proxy`].
    trust_proxy: bool,
    /// The connections holding an [`Arrival`] now.
    open: Arc<AtomicUsize>,
    /// The connections from each address, with
    /// [`ServerConfig::max_connections_per_ip`].
    per_address: Option<Arc<AddressCounts>>,
    /// Set by [`Admissions::stop`].
    stopping: Arc<AtomicBool>,
    /// The line for connections closed unanswered, at most once a second.
    far_over: Mutex<Throttled>,
}

impl Admissions {
    /// No connections yet, admitted as `config` says.
    pub fn new(config: &ServerConfig) -> Admissions {
        Admissions {
            max_connections: config.max_connections,
            trust_proxy: config.trust_proxy,
            open: Arc::new(AtomicUsize::new(0)),
            per_address: config
                .max_connections_per_ip
                .map(|max| Arc::new(AddressCounts::new(max))),
            stopping: Arc::new(AtomicBool::new(false)),
            far_over: Mutex::new(Throttled::default()),
        }
    }

    /// Counts a connection from `peer` as it is accepted, before its request
    /// is read, for as long as the result lives (drop it when the
    /// connection is closed). `None` when its address holds twice its share
    /// of connections already, those being answered 429 counted: close it
    /// unanswered, so that one address cannot hold more than twice its
    /// share of the server (logged at warn level, at most once a second).
    pub fn arrive(&self, peer: SocketAddr) -> Option<Arrival> {
        let open = OpenPlace::enter(&self.open);
        // Behind a trusted proxy the TCP peer is the proxy: its clients are
        // counted once their requests name them, in `Arrival::answers`.
        let counted = match &self.per_address {
            Some(counts) if !self.trust_proxy => Some(counts.enter(peer.ip())),
            _ => None,
        };
        let standing = counted.as_ref().map(|slot| (slot.standing(), slot.key()));
        let turned_away = match standing {
            Some((Standing::FarOver, key)) => {
                self.far_over
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .log(format_args!(
                        "closed a connection from {key} unanswered: \
                         twice its share of connections are open"
                    ));
                return None;
            }
            Some((Standing::Over, key)) => Some(TurnedAway::TooManyFrom(key)),
            _ if self.max_connections.is_some_and(|max| open.at_once > max) => {
                Some(TurnedAway::Full)
            }
            _ => None,
        };
        Some(Arrival {
            peer: Some(peer),
            trust_proxy: self.trust_proxy,
            stopping: Some(Arc::clone(&self.stopping)),
            turned_away: Cell::new(turned_away),
            forwarded_counts: self.per_address.clone().filter(|_| self.trust_proxy),
            forwarded: Cell::new(None),
            _open: Some(open),
            _counted: counted,
            forwarded_slot: OnceCell::new(),
        })
    }

    /// The server is shutting down: from now on every opening handshake,
    /// those under way included, is answered 503.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}

/// A connection's place in [`Admissions`]' count of all connections.
#[derive(Debug)]
struct OpenPlace {
    open: Arc<AtomicUsize>,
    /// How many connections were open, this one included, when it arrived.
    at_once: usize,
}

impl OpenPlace {
    fn enter(open: &Arc<AtomicUsize>) -> OpenPlace {
        let at_once = open.fetch_add(1, Ordering::AcqRel) + 1;
        OpenPlace {
            open: Arc::clone(open),
            at_once,
        }
    }
}

impl Drop for OpenPlace {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection as [`Admissions`] met it: its places in the counts (given
/// back when this is dropped), whether it is turned away already, and,
/// behind a trusted proxy, the client its request names. With the feature
/// `tokio`, `Arrival::accept_async` runs its opening handshake.
#[derive(Debug)]
pub struct Arrival {
    /// The TCP peer, if known.
    peer: Option<SocketAddr>,
    /// [`ServerConfig::trust_proxy`].
    trust_proxy: bool,
    /// Whether the server shuts down ([`Admissions::stop`]), for a counted
    /// connection.
    stopping: Option<Arc<AtomicBool>>,
    /// Why the server turns it away, if it does already.
    turned_away: Cell<Option<TurnedAway>>,
    /// Behind a trusted proxy, the per-address count, which the connection
    /// enters once its request names the client.
    forwarded_counts: Option<Arc<AddressCounts>>,
    /// Behind a trusted proxy, the client its request names, if it names one.
    forwarded: Cell<Option<IpAddr>>,
    /// Its place among all connections, held until this is dropped.
    _open: Option<OpenPlace>,
    /// Its place among its address's, counted by the TCP peer, held until
    /// this is dropped.
    _counted: Option<AddressSlot>,
    /// Its place among the forwarded client's.
    forwarded_slot: OnceCell<AddressSlot>,
}

impl Arrival {
    /// A connection that is not counted (see
    /// [`handle_connection`](crate::server::handle_connection)), from `peer`.
    pub(crate) fn uncounted(peer: Option<SocketAddr>, config: &ServerConfig) -> Arrival {
        Arrival {
            peer,
            trust_proxy: config.trust_proxy,
            stopping: None,
            turned_away: Cell::new(None),
            forwarded_counts: None,
            forwarded: Cell::new(None),
            _open: None,
            _counted: None,
            forwarded_slot: OnceCell::new(),
        }
    }

    /// The connection's log, naming its TCP peer.
    pub(crate) fn connection_log(&self) -> ConnectionLog {
        ConnectionLog::new(
            self.peer
                .map_or_else(|| "unknown peer".to_owned(), |peer| peer.to_string()),
        )
    }

    /// What starts each of its trace lines: the peer's address.
    pub(crate) fn trace_prefix(&self) -> String {
        self.peer
            .map_or_else(|| "unknown peer ".to_owned(), |peer| format!("{peer} "))
    }

    /// Behind a trusted proxy, notes the client `request` names.
    fn note_forwarded(&self, request: &Request) {
        if self.trust_proxy {
            self.forwarded.set(forwarded_client(request));
        }
    }

    /// The server's answers to the opening request: the service's, unless
    /// the server turns the connection away (503, 429), which it decides
    /// once the request is read (behind a trusted proxy, by the client the
    /// request names).
    // Three closures, each written out by its signature: no alias can
    // name an `impl` type.
    #[allow(clippy::type_complexity)]
    pub(crate) fn answers<'a, T: Transport, S: Service<T>>(
        &'a self,
        config: &'a ServerConfig,
        service: &'a S,
    ) -> Answers<
        impl FnOnce(&Request) -> Response + 'a,
        impl FnOnce(&Request) -> Admission + 'a,
        impl FnOnce(&Request) -> Option<String> + 'a,
    > {
        Answers {
            plain_http: move |request: &Request| {
                self.note_forwarded(request);
                service.plain_http(request)
            },
            admit: move |request: &Request| {
                self.note_forwarded(request);
                match self.turned_away_now() {
                    Some(why) => Err(why.response()),
                    None => service.admit(request),
                }
            },
            choose_subprotocol: move |request: &Request| {
                (service.choose_subprotocol(request)).or_else(|| config.choose_subprotocol(request))
            },
        }
    }

    /// Why the server turns away the connection whose valid upgrade request
    /// was just read, if it does: the server shuts down, it was turned away
    /// on arrival, or (behind a trusted proxy) the client the request names
    /// holds its share already.
    fn turned_away_now(&self) -> Option<TurnedAway> {
        let stopping = (self.stopping.as_ref()).is_some_and(|s| s.load(Ordering::Acquire));
        if stopping {
            self.turned_away.set(Some(TurnedAway::ShuttingDown));
        }
        let client = self.forwarded.get().or(self.peer.map(|peer| peer.ip()));
        if let (None, Some(counts), Some(client)) =
            (self.turned_away.get(), &self.forwarded_counts, client)
        {
            let slot = counts.enter(client);
            match slot.standing() {
                Standing::Within => drop(self.forwarded_slot.set(slot)),
                Standing::Over | Standing::FarOver => self
                    .turned_away
                    .set(Some(TurnedAway::TooManyFrom(slot.key()))),
            }
        }
        self.turned_away.get()
    }

    /// Writes how the opening handshake ended in `log`: behind a trusted
    /// proxy, naming the client from now on; then "connected to" the
    /// request's path, or why no connection opened.
    pub(crate) fn log_handshake(
        &self,
        log: &mut ConnectionLog,
        outcome: Result<&Request, Refusal>,
    ) {
        if let Some(client) = self.forwarded.get() {
            log.forwarded_for(client);
        }
        match outcome {
            Ok(request) => log.line(format_args!("connected to {}", request.path)),
            Err(Refusal::Http { path, status }) => {
                log.line(format_args!("plain HTTP GET {path} answered {status}"));
            }
            Err(Refusal::NotAdmitted {
                path,
                status,
                reason,
            }) => match (self.turned_away.get(), reason.is_empty()) {
                // The server's own refusal, which names the address it counted.
                (Some(why), _) => {
                    log.line(format_args!("upgrade to {path} refused: {status}: {why}"))
                }
                (None, true) => log.line(format_args!("upgrade to {path} refused: {status}")),
                (None, false) => log.line(format_args!(
                    "upgrade to {path} refused: {status}: {reason}"
                )),
            },
            Err(Refusal::Invalid { path, error }) => {
                let status = error.status();
                match path {
                    Some(path) => {
                        log.line(format_args!("upgrade to {path} refused: {status}: {error}"))
                    }
                    None => log.line(format_args!("opening handshake refused: {status}: {error}")),
                }
            }
            Err(Refusal::Failed(e)) => log.line(format_args!("during the opening handshake: {e}")),
        }
    }
}

/// Why a server answers a valid upgrade request itself, before its service
/// is asked: 503 or 429.
#[derive(Clone, Copy, Debug)]
enum TurnedAway {
    /// [`ServerConfig::max_connections`] are open already: 503.
    Full,
    /// The server is shutting down: 503.
    ShuttingDown,
    /// [`ServerConfig::max_connections_per_ip`] are open from this address
    /// already: 429.
    TooManyFrom(AddressKey),
}

impl TurnedAway {
    /// The answer, with `Retry-After` and a one-line body.
    fn response(self) -> Response {
        let mut response = match self {
            TurnedAway::Full => Response::text(
                503,
                "Service Unavailable",
                "too many connections; try again later",
            ),
            TurnedAway::ShuttingDown => Response::text(
                503,
                "Service Unavailable",
                "the server is shutting down; try again later",
            ),
            // RFC 6585 §4: 429 "indicates that the user has sent too many
            // requests in a given amount of time", and MAY say how long to
            // wait with Retry-After.
            TurnedAway::TooManyFrom(_) => Response::text(
                429,
                "Too Many Requests",
                "too many connections from your address; try again later",
            ),
        };
        response.headers.push((
            "Retry-After".to_owned(),
            RETRY_AFTER_SECONDS.to_string().into_bytes(),
        ));
        response
    }
}

/// Why, for the log: "too many connections from 192.0.2.1".
impl fmt::Display for TurnedAway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnedAway::Full => write!(f, "too many connections"),
            TurnedAway::ShuttingDown => write!(f, "the server is shutting down"),
            TurnedAway::TooManyFrom(key) => write!(f, "too many connections from {key}"),
        }
    }
}
