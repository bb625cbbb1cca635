//! How a server treats its connections: [`ServerConfig`], for
//! [`accept_with`](crate::accept_with) and the thread-per-connection
//! [`serve`](crate::server::serve) alike.

use std::time::Duration;

use crate::deflate;
use crate::deflate::config::{DeflateConfig, DeflateParams};
use crate::handshake::HandshakeLimits;
use crate::handshake::http::Request;
use crate::proto::engine::Engine;
use crate::proto::settings::{Limits, Role};

/// How a server treats its connections: the opening handshake's limits and
/// deadline, the subprotocols it speaks, the limits on frames and messages,
/// permessage-deflate, and (for [`serve`](crate::server::serve)) its
/// timeouts, keepalive, shutdown and limits on connections. Built from its
/// defaults:
///
/// ```
/// use std::time::Duration;
/// use ws6455::ServerConfig;
///
/// let config = ServerConfig::default()
///     .max_message(1 << 20)
///     .subprotocols(["chat.v2", "chat.v1"])
///     .ping_interval(Some(Duration::from_secs(20)));
/// assert_eq!(config.limits.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Limits on the opening request.
    pub handshake_limits: HandshakeLimits,
    /// A client must finish its opening request within this time. Default 10 s.
    pub handshake_timeout: Duration,
    /// The subprotocols this server speaks, in order of preference: the
    /// first of them the client offers is chosen (§4.2.2), unless a
    /// [`crate::server::Service`] chooses. Default none.
    pub subprotocols: Vec<String>,
    /// Limits on frames and messages.
    pub limits: Limits,
    /// A write to a client that does not read fails after this long. Default 30 s.
    pub write_timeout: Duration,
    /// How long to wait for the client to close its side after we close ours. Default 2 s.
    pub close_timeout: Duration,
    /// Stack size of each connection's thread. Default 128 KiB.
    pub thread_stack_size: usize,
    /// permessage-deflate (RFC 7692) as this server accepts it, or `None` to
    /// decline every offer. Default [`DeflateConfig::for_server`].
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// The most connections `serve` runs at once; the opening handshake of
    /// one more is answered 503 with `Retry-After`. Default `None`: no limit
    /// but the system's (threads, file descriptors).
    pub max_connections: Option<usize>,
    /// The most connections `serve` runs at once from one client address:
    /// an IPv4 address, or the /64 an IPv6 address is in (an IPv4-mapped
    /// IPv6 address counts as the IPv4 one). Connections still in their
    /// opening handshake count, so that one address that opens connections
    /// and sends nothing (a slowloris) cannot fill the server: the opening
    /// handshake of one more is answered 429 with `Retry-After`, and one
    /// more beyond twice the limit (those being answered 429 counted) is
    /// closed as soon as it is accepted, unanswered. Behind a trusted proxy
    /// ([`ServerConfig::trust_proxy`]) the count is by the forwarded address,
    /// taken once the request has been read. Default `None`: no limit.
    pub max_connections_per_ip: Option<usize>,
    /// Whether `serve` runs behind a reverse proxy it trusts, whose
    /// connections carry the client's address in `X-Forwarded-For`: the
    /// last entry, the one the proxy appended, is then taken as the
    /// client's, for [`ServerConfig::max_connections_per_ip`] and the log;
    /// a request without that field, or whose last entry is not an address,
    /// is counted and logged by the proxy's address instead. Since the
    /// client is known only once its request has been read, the proxy must
    /// bound slow opening handshakes itself. Default `false`: the field is
    /// ignored, as anyone can send it.
    pub trust_proxy: bool,
    /// A client from which nothing has arrived for this long is sent a Ping
    /// (RFC 6455 §5.5.2: "a means to verify that the remote endpoint is
    /// still responsive"), by the services that keep connections alive
    /// ([`Echo`](crate::server::Echo)). Default `None`: never.
    pub ping_interval: Option<Duration>,
    /// A pinged client that sends nothing for this long is closed with 1001.
    /// Default 10 s.
    pub pong_timeout: Duration,
    /// A client from which nothing has arrived for this long is taken to
    /// have gone quiet: its connection gives back the buffers its last
    /// messages grew ([`WebSocket::release_buffers`](crate::WebSocket::release_buffers)),
    /// in the services that keep connections alive
    /// ([`Echo`](crate::server::Echo)), so that an idle connection costs no
    /// more than a fresh one. The read timeout that measures it is set only
    /// when a connection turns busy or quiet, never per message, so a
    /// connection pays for it at most once per this long. Short, because
    /// memory given back is resident still until another connection
    /// allocates it: the sooner a connection gives back, the sooner the
    /// next busy one reuses it. Default 100 ms; `None`: connections keep
    /// their buffers.
    pub release_idle_after: Option<Duration>,
    /// At shutdown ([`crate::server::Server::shutdown`]), how long the
    /// closing handshakes may take before the connections still open are
    /// cut. Default 5 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            subprotocols: Vec::new(),
            limits: Limits::default(),
            write_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(2),
            thread_stack_size: 128 << 10,
            max_connections: None,
            max_connections_per_ip: None,
            trust_proxy: false,
            ping_interval: None,
            pong_timeout: Duration::from_secs(10),
            release_idle_after: Some(Duration::from_millis(100)),
            shutdown_timeout: Duration::from_secs(5),
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateConfig::for_server()),
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::handshake_limits`].
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> ServerConfig {
        self.handshake_limits = limits;
        self
    }

    /// Sets [`ServerConfig::handshake_timeout`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::subprotocols`], in order of preference.
    pub fn subprotocols<I>(mut self, subprotocols: I) -> ServerConfig
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`ServerConfig::limits`].
    pub fn limits(mut self, limits: Limits) -> ServerConfig {
        self.limits = limits;
        self
    }

    /// Sets the largest message a client may send ([`Limits::max_message_size`]).
    pub fn max_message(mut self, bytes: u64) -> ServerConfig {
        self.limits = self.limits.max_message_size(bytes);
        self
    }

    /// Sets the largest frame a client may send ([`Limits::max_frame_size`]).
    pub fn max_frame(mut self, bytes: u64) -> ServerConfig {
        self.limits = self.limits.max_frame_size(bytes);
        self
    }

    /// Sets how much may wait to be sent to a client ([`Limits::max_write_buffer`]).
    pub fn max_write_buffer(mut self, bytes: usize) -> ServerConfig {
        self.limits = self.limits.max_write_buffer(bytes);
        self
    }

    /// Sets [`ServerConfig::write_timeout`].
    pub fn write_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::close_timeout`].
    pub fn close_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::thread_stack_size`].
    pub fn thread_stack_size(mut self, bytes: usize) -> ServerConfig {
        self.thread_stack_size = bytes;
        self
    }

    /// Sets [`ServerConfig::deflate`]: `None` declines permessage-deflate.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> ServerConfig {
        self.deflate = deflate;
        self
    }

    /// Sets [`ServerConfig::max_connections`].
    pub fn max_connections(mut self, max: Option<usize>) -> ServerConfig {
        self.max_connections = max;
        self
    }

    /// Sets [`ServerConfig::max_connections_per_ip`].
    pub fn max_connections_per_ip(mut self, max: Option<usize>) -> ServerConfig {
        self.max_connections_per_ip = max;
        self
    }

    /// Sets [`ServerConfig::trust_proxy`]: `true` only when every connection
    /// comes through a reverse proxy that appends to `X-Forwarded-For`.
    pub fn trust_proxy(mut self, trusted: bool) -> ServerConfig {
        self.trust_proxy = trusted;
        self
    }

    /// Sets [`ServerConfig::ping_interval`].
    pub fn ping_interval(mut self, interval: Option<Duration>) -> ServerConfig {
        self.ping_interval = interval;
        self
    }

    /// Sets [`ServerConfig::pong_timeout`].
    pub fn pong_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.pong_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::release_idle_after`].
    pub fn release_idle_after(mut self, quiet: Option<Duration>) -> ServerConfig {
        self.release_idle_after = quiet;
        self
    }

    /// Sets [`ServerConfig::shutdown_timeout`].
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.shutdown_timeout = timeout;
        self
    }

    /// The protocol engine for a connection this server accepted, with the
    /// permessage-deflate parameters the handshake agreed, if any.
    pub(crate) fn engine(&self, agreed: Option<&DeflateParams>) -> Engine {
        deflate::engine(Role::Server, self.limits, agreed, self.deflate_config())
    }

    /// permessage-deflate as this server accepts it, if it does.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate_config(&self) -> Option<&DeflateConfig> {
        self.deflate.as_ref()
    }

    /// Without the codec, a server accepts no permessage-deflate.
    #[cfg(not(feature = "deflate"))]
    pub(crate) fn deflate_config(&self) -> Option<&DeflateConfig> {
        None
    }

    /// The first of [`ServerConfig::subprotocols`] the client offered.
    pub(crate) fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        self.subprotocols
            .iter()
            .find(|ours| request.subprotocols().any(|offered| offered == *ours))
            .cloned()
    }
}
