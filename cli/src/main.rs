//! The `ws6455` command: a WebSocket echo server, a chat server, a client,
//! and tools for studying the protocol.

mod annotate;
mod asset;

/// `eprintln!` that cannot panic: a server whose stderr has gone away (a
/// closed pipe) keeps serving, and loses only its log lines.
macro_rules! log_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod async_echo;
mod chat;
mod client;
mod explain;
mod insecure;
mod inspect;
mod logger;
mod origin;

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rlimit::Resource;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use ws6455::deflate::DeflateConfig;
use ws6455::server::{Echo, Service, serve, serve_tls};
use ws6455::tls;
use ws6455::tls::{TlsError, TlsStream};
use ws6455::{ClientConfig, Limits, ServerConfig};

use crate::chat::{Chat, ChatConfig, RateConfig};
use crate::client::ClientOptions;
use crate::explain::{Negotiated, Verdict, explain_accept_key, explain_frames, parse_hex};
use crate::logger::Shown;
use crate::origin::{AllowedOrigin, OriginChecked, OriginPolicy, parse_allowed_origin};

/// A strict WebSocket (RFC 6455) implementation, and servers built on it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// The doc comments are clap's help texts, written for people: `[IPv6]:PORT`
// is a port on an IPv6 address, not a link.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Echo every message back to its sender (the default command).
    Echo {
        /// The address to listen on: HOST:PORT, [IPv6]:PORT, a name such as
        /// localhost:PORT, or a bare PORT (on 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:9001", value_parser = parse_listen)]
        listen: SocketAddr,
        /// The largest message a client may send, in bytes, inflated
        /// (larger: close 1009). Default 64 MiB.
        #[arg(long, value_name = "BYTES")]
        max_message: Option<u64>,
        /// The largest frame a client may send, in bytes (larger: close
        /// 1009). Default: the message limit if given, else 16 MiB.
        #[arg(long, value_name = "BYTES")]
        max_frame: Option<u64>,
        /// Serve on tokio (a worker thread per core) instead of a thread
        /// per connection.
        #[arg(long = "async")]
        on_tokio: bool,
        /// With --async: on a connection whose messages follow each other
        /// within this many microseconds, wait for the next one by polling
        /// for that long instead of sleeping, which cuts the round trip by
        /// the wakeup and spends otherwise idle CPU (0: never).
        #[arg(
            long,
            value_name = "MICROS",
            default_value_t = 50,
            requires = "on_tokio"
        )]
        busy_poll: u64,
        #[command(flatten)]
        server: ServerFlags,
    },
    /// Connect to a WebSocket server: stdin lines become text messages,
    /// received messages go to stdout. Closes with 1000 at the end of stdin.
    Client {
        /// The server, e.g. ws://127.0.0.1:9001/chat or wss://example.com/.
        url: String,
        /// Trust this certificate (PEM) for wss://, besides the usual public roots.
        #[arg(long, value_name = "FILE.pem")]
        ca: Option<PathBuf>,
        /// Accept any certificate for wss://: encrypted, but the server is
        /// not verified. For testing only.
        #[arg(long, conflicts_with = "ca")]
        insecure: bool,
        /// Send stdin lines as binary messages instead of text.
        #[arg(long)]
        binary: bool,
        /// Offer this subprotocol (repeat for more, in order of preference).
        #[arg(long, value_name = "NAME")]
        subprotocol: Vec<String>,
        /// Send this header field with the opening request (repeatable).
        #[arg(long, value_name = "'NAME: VALUE'", value_parser = parse_header)]
        header: Vec<(String, Vec<u8>)>,
        /// Send a ping every this many seconds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        ping_interval: Option<Duration>,
        /// At the end of stdin, wait until the server has sent nothing for
        /// this many seconds (or closes) before closing, so that answers
        /// still on their way are printed.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "1")]
        linger: Duration,
        /// When the connection drops, connect again, with exponential
        /// backoff and jitter.
        #[arg(long)]
        reconnect: bool,
        /// Print the opening handshake and every frame in and out to stderr,
        /// annotated field by field.
        #[arg(long)]
        trace: bool,
        /// Offer no permessage-deflate (RFC 7692), which is offered by default.
        #[arg(long)]
        no_deflate: bool,
    },
    /// Explain frames given in hex, byte by byte, and say why an invalid one
    /// is invalid (the exit status is then 1). A masked frame is judged as
    /// its server receives it, an unmasked one as its client does. E.g.
    /// `ws6455 decode 81 05 48 65 6c 6c 6f`.
    Decode {
        /// The bytes: `81 05 48`, `0x81 0x05 0x48`, `810548` or the RFC's `0x0100`.
        #[arg(required = true, num_args = 1.., value_name = "HEX")]
        hex: Vec<String>,
        /// The frames were sent with permessage-deflate (RFC 7692): inflate
        /// compressed messages (RSV1) and show their text.
        #[arg(long)]
        deflate: bool,
    },
    /// Write a self-signed certificate and its key for trying wss:// locally:
    /// for localhost, 127.0.0.1 and ::1, and any NAMES given.
    Cert {
        /// The folder to write cert.pem and key.pem to (made if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// More host names or IP addresses the certificate is for.
        names: Vec<String>,
    },
    /// Put this between a WebSocket client and its server: every byte is
    /// relayed unchanged both ways, and every frame is shown (stdout),
    /// explained and judged against RFC 6455 and RFC 7692, each violation
    /// with the side that committed it, its section and the close code a
    /// strict receiver sends. Connect the client to --listen as if it were
    /// the server.
    Inspect {
        /// The address clients connect to: HOST:PORT, [IPv6]:PORT,
        /// NAME:PORT, or a bare PORT (on 127.0.0.1).
        #[arg(long, value_parser = parse_listen, required_unless_present = "replay")]
        listen: Option<SocketAddr>,
        /// The server to relay to: ws://HOST[:PORT][/PATH] or wss://...
        /// Each request's Host is rewritten to it, and a request for / goes
        /// to PATH.
        #[arg(long, value_name = "URL", required_unless_present = "replay")]
        upstream: Option<String>,
        /// Show connections, violations and ends only, not every frame and
        /// message.
        #[arg(long)]
        quiet: bool,
        /// At the first violation, pass nothing more of it on and close both
        /// sides as a strict endpoint would: a Close with the code the rule
        /// calls for, then TCP. Without it, violations are reported and the
        /// bytes relayed all the same.
        #[arg(long)]
        strict: bool,
        /// Also write every event to this file, one JSON object per line.
        #[arg(long, value_name = "FILE.jsonl")]
        record: Option<PathBuf>,
        /// Serve a live page at this address (HOST:PORT or a bare PORT):
        /// the connections, and every frame, message and violation as it
        /// happens, over a WebSocket from the inspector.
        #[arg(long, value_name = "ADDR", value_parser = parse_listen, conflicts_with = "replay")]
        ui: Option<SocketAddr>,
        /// Show a recording made with --record, as the live view shows it.
        #[arg(long, value_name = "FILE.jsonl",
              conflicts_with_all = ["listen", "upstream", "strict", "record", "tls_cert", "ca", "insecure"])]
        replay: Option<PathBuf>,
        /// Trust this certificate (PEM) for a wss:// upstream, besides the
        /// usual public roots.
        #[arg(long, value_name = "FILE.pem")]
        ca: Option<PathBuf>,
        /// Accept any certificate from a wss:// upstream. For testing only.
        #[arg(long, conflicts_with = "ca")]
        insecure: bool,
        #[command(flatten)]
        tls: TlsFiles,
    },
    /// Compute the Sec-WebSocket-Accept for a Sec-WebSocket-Key, step by step.
    AcceptKey {
        /// The client's key, e.g. dGhlIHNhbXBsZSBub25jZQ==
        key: String,
    },
    /// A chat with rooms: open http://ADDRESS/ or http://ADDRESS/ROOM in a browser.
    Chat {
        /// The address to listen on: HOST:PORT, [IPv6]:PORT, a name such as
        /// localhost:PORT, or a bare PORT (on 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:9000", value_parser = parse_listen)]
        listen: SocketAddr,
        /// The largest message a client may send, in bytes (larger: close 1009).
        #[arg(long, default_value_t = chat::DEFAULT_MAX_MESSAGE)]
        max_message: u64,
        /// The longest text a client may say, in characters (longer: an
        /// error event; the client stays).
        #[arg(long, default_value_t = ChatConfig::default().max_text)]
        max_text: usize,
        /// How many of a room's last messages a newcomer is shown (0: none).
        #[arg(long, value_name = "N", default_value_t = ChatConfig::default().history)]
        history: usize,
        /// The most bytes waiting to be sent to one client (more: close 1008).
        #[arg(long, default_value_t = ChatConfig::default().outgoing_queue_bytes)]
        queue_bytes: usize,
        /// The most rooms this server holds at once (one more: 503). Each
        /// keeps its history, so this bounds their memory.
        #[arg(long, value_name = "N", default_value_t = ChatConfig::default().max_rooms)]
        max_rooms: usize,
        /// Texts (messages and commands) a client may send per second, on
        /// average. A text over the limit is dropped and the client told,
        /// at most once a second, to slow down (an error event with
        /// retry_after_ms); one that keeps sending more than twice the limit
        /// for 5 seconds is closed with 1008.
        #[arg(long, value_name = "N", default_value_t = RateConfig::default().messages_per_second,
              value_parser = clap::value_parser!(u32).range(1..))]
        rate: u32,
        /// Texts a client may send at once, after a pause. The byte limit
        /// allows as many seconds' worth at once (BURST / RATE).
        #[arg(long, value_name = "N", default_value_t = RateConfig::default().burst,
              value_parser = clap::value_parser!(u32).range(1..))]
        burst: u32,
        /// Bytes of text a client may send per second, on average (over the
        /// limit: as for --rate).
        #[arg(long, value_name = "BYTES", default_value_t = RateConfig::default().bytes_per_second,
              value_parser = clap::value_parser!(u64).range(1..))]
        rate_bytes: u64,
        /// Share the rooms with every other instance using this Redis, e.g.
        /// redis://127.0.0.1:6379 or redis://HOST:PORT/DB.
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// With --redis: seconds a room's keys (its history and sequence
        /// number) stay in Redis after its last member on any instance has
        /// left; a room joined again within them keeps its history. The
        /// guest counter expires as long after the last guest. At most a
        /// year; the default is 24 hours.
        #[arg(long, value_name = "SECONDS", value_parser = parse_room_ttl, default_value = "86400")]
        room_ttl: Duration,
        #[command(flatten)]
        server: ServerFlags,
    },
}

/// What `echo` and `chat` take alike.
#[derive(Args, Debug)]
struct ServerFlags {
    /// Do not log connects, disconnects and refused handshakes.
    #[arg(long)]
    quiet: bool,
    /// Log each message too (its start), received and sent.
    #[arg(long, conflicts_with = "quiet")]
    log_messages: bool,
    /// Seconds without a word from a client before it is pinged.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "30")]
    ping_interval: Duration,
    /// Seconds a pinged client has to answer before it is closed with 1001.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "10")]
    pong_timeout: Duration,
    /// Print every opening handshake and every frame in and out to
    /// stderr, annotated field by field.
    #[arg(long)]
    trace: bool,
    /// Decline permessage-deflate (RFC 7692), which is accepted by default.
    #[arg(long)]
    no_deflate: bool,
    /// Let web pages of this origin connect (repeatable), e.g.
    /// `https://example.com` or `http://localhost:8080`; '*' lets any page
    /// connect. A handshake from a page of another origin is refused with
    /// 403 (RFC 6455 §10.2). Programs, which send no Origin, always may.
    /// Without it, echo lets any page connect, and chat only its own (the
    /// origin that names the Host it was reached at, over http or https);
    /// the chat's own page stays allowed besides those given.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_allowed_origin)]
    allowed_origins: Vec<AllowedOrigin>,
    /// On SIGTERM or SIGINT, seconds to wait for the closing handshakes
    /// (Close 1001 to every client) before cutting the connections left.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "5")]
    shutdown_timeout: Duration,
    /// The most connections at once from one client address (an IPv6
    /// client is counted by its /64), those still in their opening
    /// handshake included; the next handshake gets 429 with Retry-After.
    /// 0: no limit. Default: 64 for chat, none for echo.
    #[arg(long, value_name = "N")]
    max_connections_per_ip: Option<usize>,
    /// The most connections at once, from all addresses; the next
    /// handshake gets 503 with Retry-After. Default: none.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// The server is behind a reverse proxy that appends the client's
    /// address to X-Forwarded-For: count and log each connection by that
    /// address (the last entry), or by the proxy's if there is none.
    /// Without this flag the header is ignored, as anyone can send it.
    /// Slow handshakes are then the proxy's to bound.
    #[arg(long)]
    trust_proxy: bool,
    #[command(flatten)]
    tls: TlsFiles,
}

impl ServerFlags {
    /// `base` with permessage-deflate, pings, shutdown and the connection
    /// limits as the flags say; without `--max-connections-per-ip`, `base`'s
    /// limit per address stands.
    fn apply(&self, base: ServerConfig) -> ServerConfig {
        let max_connections_per_ip = match self.max_connections_per_ip {
            None => base.max_connections_per_ip,
            Some(0) => None,
            Some(max) => Some(max),
        };
        base.deflate(deflate_unless(self.no_deflate, DeflateConfig::for_server()))
            .ping_interval(Some(self.ping_interval))
            .pong_timeout(self.pong_timeout)
            .shutdown_timeout(self.shutdown_timeout)
            .max_connections_per_ip(max_connections_per_ip)
            .max_connections(self.max_connections)
            .trust_proxy(self.trust_proxy)
    }

    /// What the server's log shows.
    fn shown(&self) -> Shown {
        Shown::for_server(self.quiet, self.log_messages, self.trace)
    }
}

/// A server's certificate and key: given both, it serves `wss://` (and the
/// chat its page over `https://`).
#[derive(Args, Debug)]
struct TlsFiles {
    /// The certificate chain, PEM, leaf first (`ws6455 cert` makes one).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TlsFiles {
    /// The TLS configuration, if the files were given.
    fn server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => tls::server_config(cert, key).map(Some),
            _ => Ok(None),
        }
    }
}

/// What `ws6455` with no command runs: `ws6455 echo`, with every default
/// exactly as the options declare it.
fn default_command() -> Command {
    Cli::parse_from(["ws6455", "echo"])
        .command
        .expect("`echo` is a command")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(default_command);
    match command {
        Command::Echo {
            listen,
            max_message,
            max_frame,
            on_tokio,
            busy_poll,
            server,
        } => {
            let defaults = Limits::default();
            let config = server.apply(
                ServerConfig::default()
                    .max_message(max_message.unwrap_or(defaults.max_message_size))
                    .max_frame(max_frame.or(max_message).unwrap_or(defaults.max_frame_size)),
            );
            logger::install(server.shown());
            let policy = OriginPolicy::for_echo(server.allowed_origins.clone());
            let service = OriginChecked::new(policy, Echo);
            if on_tokio {
                let busy_poll = Duration::from_micros(busy_poll);
                return run_async_echo(listen, &server, config, service, busy_poll);
            }
            run(listen, &server.tls, config, service, |addr, secure| {
                let scheme = if secure { "wss" } else { "ws" };
                format!("ws6455 echo server listening on {scheme}://{addr}")
            })
        }
        Command::Chat {
            listen,
            max_message,
            max_text,
            history,
            queue_bytes,
            max_rooms,
            rate,
            burst,
            rate_bytes,
            redis,
            room_ttl,
            server,
        } => {
            let config = server.apply(
                chat::server_config()
                    .max_frame(max_message)
                    .max_message(max_message),
            );
            logger::install(server.shown());
            let chat_config = ChatConfig {
                outgoing_queue_bytes: queue_bytes,
                ping_interval: server.ping_interval,
                pong_timeout: server.pong_timeout,
                max_text,
                history,
                max_rooms,
                rate: RateConfig {
                    messages_per_second: rate,
                    burst,
                    bytes_per_second: rate_bytes,
                },
                room_ttl,
            };
            let service = match Chat::new(chat_config, config.close_timeout, redis.as_deref()) {
                Ok(chat) => {
                    OriginChecked::new(OriginPolicy::for_chat(server.allowed_origins.clone()), chat)
                }
                Err(e) => {
                    eprintln!("ws6455 chat: {e}");
                    return ExitCode::FAILURE;
                }
            };
            run(listen, &server.tls, config, service, |addr, secure| {
                let scheme = if secure { "https" } else { "http" };
                format!(
                    "ws6455 chat: open {scheme}://{addr}/ (or {scheme}://{addr}/ROOM) in a browser"
                )
            })
        }
        Command::Client {
            url,
            ca,
            insecure,
            binary,
            subprotocol,
            header,
            ping_interval,
            linger,
            reconnect,
            trace,
            no_deflate,
        } => {
            logger::install(Shown {
                level: log::LevelFilter::Warn,
                trace,
            });
            let tls = match client_tls(ca.as_deref(), insecure) {
                Ok(tls) => tls,
                Err(e) => {
                    eprintln!("ws6455: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut config = ClientConfig::default()
                .subprotocols(subprotocol)
                .deflate(deflate_unless(no_deflate, DeflateConfig::for_client()))
                .tls(tls);
            config.headers = header;
            client::run(ClientOptions {
                url,
                binary,
                ping_interval,
                linger,
                reconnect,
                config,
            })
        }
        Command::Decode { hex, deflate } => match parse_hex(&hex.join(" ")) {
            Ok(bytes) => {
                let negotiated = match deflate {
                    true => Negotiated::Deflate,
                    false => Negotiated::Nothing,
                };
                let explanation = explain_frames(&bytes, negotiated);
                print!("{}", explanation.text);
                match explanation.verdict {
                    Verdict::Valid | Verdict::Incomplete => ExitCode::SUCCESS,
                    Verdict::Invalid => ExitCode::FAILURE,
                }
            }
            Err(e) => {
                eprintln!("ws6455 decode: {e}");
                ExitCode::from(2)
            }
        },
        Command::Cert { out, names } => match write_certificate(&out, names) {
            Ok(message) => {
                print!("{message}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ws6455 cert: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Inspect {
            listen,
            upstream,
            quiet,
            strict,
            record,
            ui,
            replay,
            ca,
            insecure,
            tls,
        } => {
            if let Some(path) = replay {
                return inspect::replay(&path, quiet);
            }
            let (Some(listen), Some(upstream)) = (listen, upstream) else {
                eprintln!("ws6455 inspect: --listen and --upstream are needed");
                return ExitCode::from(2);
            };
            let (upstream_tls, tls) =
                match (client_tls(ca.as_deref(), insecure), tls.server_config()) {
                    (Ok(upstream_tls), Ok(tls)) => (upstream_tls, tls),
                    (Err(e), _) | (_, Err(e)) => {
                        eprintln!("ws6455 inspect: {e}");
                        return ExitCode::from(2);
                    }
                };
            inspect::run(inspect::InspectOptions {
                listen,
                upstream,
                upstream_tls,
                tls,
                quiet,
                strict,
                record,
                ui,
            })
        }
        Command::AcceptKey { key } => {
            print!("{}", explain_accept_key(&key));
            ExitCode::SUCCESS
        }
    }
}

/// How many open files a server asks for: a thread-per-connection server
/// holds one per connection.
const WANTED_OPEN_FILES: u64 = 1 << 16;

/// Raises the limit on open files (`RLIMIT_NOFILE`) towards
/// [`WANTED_OPEN_FILES`]: the hard limit too where that is allowed (root,
/// or `CAP_SYS_RESOURCE`), else the soft limit up to the hard one. The soft
/// limit before and after, if it changed.
fn raise_open_file_limit() -> Option<(u64, u64)> {
    let (soft, hard) = Resource::NOFILE.get().ok()?;
    if soft >= WANTED_OPEN_FILES {
        return None;
    }
    if hard < WANTED_OPEN_FILES
        && Resource::NOFILE
            .set(WANTED_OPEN_FILES, WANTED_OPEN_FILES)
            .is_ok()
    {
        return Some((soft, WANTED_OPEN_FILES));
    }
    let raised = WANTED_OPEN_FILES.min(hard);
    (raised > soft && Resource::NOFILE.set(raised, hard).is_ok()).then_some((soft, raised))
}

/// Binds `listen` and serves on it, over TLS if `tls` names the files, first
/// printing `banner` for the address actually bound (port 0 picks a free
/// one) and whether it is TLS. A certificate or key that cannot be used is
/// an error naming the file.
fn run<S: Service<TcpStream> + Service<TlsStream>>(
    listen: SocketAddr,
    tls: &TlsFiles,
    config: ServerConfig,
    service: S,
    banner: impl FnOnce(SocketAddr, bool) -> String,
) -> ExitCode {
    let tls = match tls.server_config() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("ws6455: {e}");
            return ExitCode::from(2);
        }
    };
    let log = log::log_enabled!(log::Level::Info);
    if let Some((before, after)) = raise_open_file_limit() {
        if log {
            log_line!("ws6455: open files allowed: {after} (was {before})");
        }
    }
    let served = TcpListener::bind(listen).and_then(|listener| {
        let (addr, secure) = (listener.local_addr()?, tls.is_some());
        let server = match tls {
            Some(tls) => serve_tls(listener, tls, config, service),
            None => serve(listener, config, service),
        }?;
        let handle = server.shutdown_handle();
        shut_down_on_signals(move || handle.shutdown())?;
        // Only once SIGTERM shuts down gracefully: whoever waits for this
        // line (a supervisor, a test) may send it at once.
        log_line!("{}", banner(addr, secure));
        Ok(server)
    });
    match served {
        Ok(server) => {
            let report = server.wait();
            if log {
                log_line!("ws6455: shut down; {report}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ws6455: cannot serve on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `ws6455 echo --async`: as [`run`] (the TLS files, the open-file limit,
/// the banner, the exit status), serving on tokio.
fn run_async_echo(
    listen: SocketAddr,
    server: &ServerFlags,
    config: ServerConfig,
    service: async_echo::Handshakes,
    busy_poll: Duration,
) -> ExitCode {
    let tls = match server.tls.server_config() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("ws6455: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some((before, after)) = raise_open_file_limit() {
        if log::log_enabled!(log::Level::Info) {
            log_line!("ws6455: open files allowed: {after} (was {before})");
        }
    }
    let listener = match TcpListener::bind(listen).and_then(|l| l.local_addr().map(|a| (l, a))) {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("ws6455: cannot serve on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (listener, addr) = listener;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let banner = format!("ws6455 echo server on tokio listening on {scheme}://{addr}");
    async_echo::run(listener, tls, config, service, busy_poll, banner)
}

/// On the first SIGTERM or SIGINT, asks the server to shut down gracefully
/// (`shutdown`); on a second, exits at once, as a process killed by that
/// signal would report it (128 + its number).
pub(crate) fn shut_down_on_signals(shutdown: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("ws6455-signals".to_owned())
        .spawn(move || {
            for (count, signal) in signals.forever().enumerate() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                if count == 0 {
                    log_line!(
                        "ws6455: {name}: shutting down, closing every connection with 1001 \
                         (a second signal exits at once)"
                    );
                    shutdown();
                } else {
                    log_line!("ws6455: {name} again: exiting now");
                    std::process::exit(128 + signal);
                }
            }
        })?;
    Ok(())
}

/// The client's TLS configuration for `--ca` or `--insecure`; `None` for
/// the default (the usual public roots).
fn client_tls(
    ca: Option<&Path>,
    insecure: bool,
) -> Result<Option<Arc<rustls::ClientConfig>>, TlsError> {
    if insecure {
        eprintln!(
            "ws6455: --insecure: the server's certificate is not verified; \
             anyone between us can read and change this connection"
        );
        return Ok(Some(insecure::insecure_client_config()));
    }
    match ca {
        Some(ca) => tls::client_config(tls::load_certificates(ca)?).map(Some),
        None => Ok(None),
    }
}

/// Writes a self-signed certificate for the local names and `more` into
/// `dir`, and returns what to tell the user: the files and how to use them.
fn write_certificate(dir: &Path, more: Vec<String>) -> Result<String, String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    names.extend(more);
    let made = rcgen::generate_simple_self_signed(names.clone()).map_err(|e| e.to_string())?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let write = |path: &Path, contents: String| {
        std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    write(&cert, made.cert.pem())?;
    write(&key, made.signing_key.serialize_pem())?;
    let (cert, key) = (cert.display(), key.display());
    Ok(format!(
        "wrote {cert} and {key}: a self-signed certificate for {names}\n\
         \n\
         ws6455 echo --tls-cert {cert} --tls-key {key}\n\
         ws6455 client wss://localhost:9001/ --ca {cert}\n\
         ws6455 chat --tls-cert {cert} --tls-key {key}   # then https://localhost:9000/\n\
         \n\
         Browsers do not trust it until told to: add {cert} to their certificates, or \
         accept the warning once.\n",
        names = names.join(", ")
    ))
}

/// `Name: value`, as given to `--header`.
fn parse_header(text: &str) -> Result<(String, Vec<u8>), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not 'Name: value'"))?;
    Ok((name.trim().to_owned(), value.trim().as_bytes().to_vec()))
}

/// `config`, unless `--no-deflate` turned permessage-deflate off.
fn deflate_unless(no_deflate: bool, config: DeflateConfig) -> Option<DeflateConfig> {
    (!no_deflate).then_some(config)
}

/// `--listen`: `HOST:PORT`, `[IPv6]:PORT`, `NAME:PORT` (resolved; its first
/// address), or a bare `PORT`, meaning 127.0.0.1.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let port = text
            .parse::<u16>()
            .map_err(|_| format!("{text:?} is not a port (0 to 65535)"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let usage = "expected HOST:PORT, [IPv6]:PORT, NAME:PORT or PORT";
    match text.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.parse::<u16>().is_ok() => text
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {name:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{name:?} resolves to no address")),
        _ => Err(format!("{text:?}: {usage}")),
    }
}

/// A positive number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(duration)) if !duration.is_zero() => Ok(duration),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

/// `--room-ttl`: a positive number of seconds, at most
/// [`chat::MAX_ROOM_TTL`].
fn parse_room_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_seconds(text)?;
    match ttl <= chat::MAX_ROOM_TTL {
        true => Ok(ttl),
        false => Err(format!(
            "{text:?} is more than a year ({} seconds)",
            chat::MAX_ROOM_TTL.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_an_address_a_name_or_a_bare_port() {
        let v4: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        assert_eq!(parse_listen("127.0.0.1:9001"), Ok(v4));
        assert_eq!(parse_listen("9001"), Ok(v4));
        assert_eq!(
            parse_listen("[::1]:9001"),
            Ok("[::1]:9001".parse().unwrap())
        );
        assert!(parse_listen("localhost:9001").unwrap().ip().is_loopback());
        assert_eq!(parse_listen("0.0.0.0:0"), Ok("0.0.0.0:0".parse().unwrap()));
        for bad in ["", "70000", "localhost", ":80", "host:port", "::1:80x"] {
            let error = parse_listen(bad).unwrap_err();
            assert!(!error.contains('\n'), "{bad:?}: {error}");
        }
        assert!(
            parse_listen("no-such-host.invalid:80")
                .unwrap_err()
                .contains("cannot resolve")
        );
    }

    #[test]
    fn header_arguments_are_name_colon_value() {
        assert_eq!(
            parse_header("Origin: http://example.com"),
            Ok(("Origin".to_owned(), b"http://example.com".to_vec()))
        );
        assert!(parse_header("no colon").is_err());
    }

    #[test]
    fn no_command_is_echo_with_its_declared_defaults() {
        let Command::Echo { listen, server, .. } = default_command() else {
            panic!("the default command is not echo");
        };
        assert_eq!(listen, SocketAddr::from(([127, 0, 0, 1], 9001)));
        assert_eq!(server.ping_interval, Duration::from_secs(30));
        assert_eq!(server.pong_timeout, Duration::from_secs(10));
        assert_eq!(server.shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn busy_poll_is_an_option_of_the_echo_on_tokio_only() {
        assert!(Cli::try_parse_from(["ws6455", "echo", "--busy-poll", "10"]).is_err());
        for (args, micros) in [
            (&["ws6455", "echo", "--async"][..], 50),
            (&["ws6455", "echo", "--async", "--busy-poll", "0"][..], 0),
        ] {
            let Some(Command::Echo { busy_poll, .. }) = Cli::parse_from(args).command else {
                panic!("`echo` is a command");
            };
            assert_eq!(busy_poll, micros, "{args:?}");
        }
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "nan", "inf", "1e300", "x"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_room_ttl_is_positive_at_most_a_year_and_a_day_by_default() {
        assert_eq!(parse_room_ttl("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_room_ttl("31536000"), Ok(chat::MAX_ROOM_TTL));
        for bad in ["0", "31536001", "1e12", "x"] {
            assert!(parse_room_ttl(bad).is_err(), "{bad}");
        }
        let Some(Command::Chat { room_ttl, .. }) = Cli::parse_from(["ws6455", "chat"]).command
        else {
            panic!("`chat` is a command");
        };
        assert_eq!(room_ttl, ChatConfig::default().room_ttl);
        assert_eq!(room_ttl, Duration::from_secs(24 * 60 * 60));
    }
}
