//! `ws6455 inspect`: a proxy to put between any WebSocket client and any
//! server, which relays every byte unchanged and shows every frame they
//! exchange, explained and judged.
//!
//! - `relay.rs`: each connection, the handshake forwarded and the bytes
//!   relayed both ways (the only file here that touches a socket, with
//!   this one's listener);
//! - `handshake.rs`: the request as forwarded, both heads judged (§4);
//! - `watch.rs`: one direction's frames, cut as sent and judged as received;
//! - `event.rs`: what is seen, as values, and as JSON lines;
//! - `hub.rs`: the outputs, each behind a bounded queue;
//! - `view.rs`: events as the lines a person reads, live or replayed;
//! - `replay.rs`: a recording, shown again;
//! - `ui.rs` (with `page/`): the live page, fed over a WebSocket.

mod event;
mod handshake;
mod hub;
mod relay;
mod replay;
mod ui;
mod view;
mod watch;

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use ws6455::Stream;
use ws6455::handshake::WsUri;
use ws6455::tls::TlsStream;

use hub::Hub;
use relay::{Inspector, Upstream};
use view::Detail;

pub(crate) use replay::replay;

/// What `ws6455 inspect` was asked to do.
pub(crate) struct InspectOptions {
    pub(crate) listen: SocketAddr,
    /// The upstream's URL, `ws://` or `wss://`.
    pub(crate) upstream: String,
    /// Its TLS configuration for `wss://` (`--ca`, `--insecure`), or `None`
    /// for the usual public roots.
    pub(crate) upstream_tls: Option<Arc<rustls::ClientConfig>>,
    /// `--tls-cert`/`--tls-key`: clients connect with `wss://`.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// `--quiet`: the live view shows connections, violations and ends only.
    pub(crate) quiet: bool,
    pub(crate) strict: bool,
    pub(crate) record: Option<PathBuf>,
    /// `--ui`: where to serve the live page.
    pub(crate) ui: Option<SocketAddr>,
}

/// How long the outputs get, after SIGINT or SIGTERM, to write what they hold.
const FLUSH_GRACE: Duration = Duration::from_millis(200);

/// Runs the inspector until SIGINT or SIGTERM.
pub(crate) fn run(options: InspectOptions) -> ExitCode {
    let uri = match WsUri::parse(&options.upstream) {
        Ok(uri) => uri,
        Err(e) => {
            eprintln!("ws6455 inspect: --upstream {}: {e}", options.upstream);
            return ExitCode::from(2);
        }
    };
    let upstream_tls = match (uri.is_secure(), options.upstream_tls) {
        (false, _) => None,
        (true, Some(config)) => Some(config),
        (true, None) => match ws6455::tls::client_config(Vec::new()) {
            Ok(config) => Some(config),
            Err(e) => {
                eprintln!("ws6455 inspect: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut hub = Hub::new();
    let detail = match options.quiet {
        true => Detail::Quiet,
        false => Detail::Full,
    };
    let mut outputs = vec![hub::print_to_stdout(hub.add_output(detail))];
    if let Some(path) = &options.record {
        match File::create(path) {
            Ok(file) => outputs.push(hub::record_to(file, hub.add_output(Detail::Full))),
            Err(e) => {
                eprintln!("ws6455 inspect: --record {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let page = match options.ui {
        None => None,
        Some(addr) => match ui::serve_page(addr, &mut hub) {
            Ok(served) => Some(served),
            Err(e) => {
                eprintln!("ws6455 inspect: cannot serve the live page on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let listener = match TcpListener::bind(options.listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("ws6455 inspect: cannot listen on {}: {e}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = exit_on_signals() {
        eprintln!("ws6455 inspect: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    let addr = listener.local_addr().unwrap_or(options.listen);
    let scheme = if options.tls.is_some() { "wss" } else { "ws" };
    log_line!(
        "ws6455 inspect listening on {scheme}://{addr}, relaying to {}",
        options.upstream
    );
    if let Some(addr) = page {
        log_line!("ws6455 inspect: the live page is at http://{addr}/");
    }
    let inspector = Arc::new(Inspector {
        upstream: Upstream {
            url: options.upstream,
            uri,
            tls: upstream_tls,
        },
        strict: options.strict,
        hub,
    });
    // The outputs' threads run as long as the process: it ends by a signal.
    drop(outputs);
    accept_forever(&listener, &inspector, options.tls.as_ref())
}

/// Accepts clients, each inspected on a thread of its own.
fn accept_forever(
    listener: &TcpListener,
    inspector: &Arc<Inspector>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> ! {
    let mut conn = 0u64;
    loop {
        let (tcp, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: wait, and try again.
                log_line!("ws6455 inspect: accept: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        conn += 1;
        let _ = tcp.set_nodelay(true);
        let client = match tls {
            Some(config) => match TlsStream::server(tcp, Arc::clone(config)) {
                Ok(tls) => Stream::Tls(tls),
                Err(e) => {
                    log_line!("ws6455 inspect: #{conn}: TLS: {e}");
                    continue;
                }
            },
            None => Stream::Plain(tcp),
        };
        let inspector = Arc::clone(inspector);
        let spawned = thread::Builder::new()
            .name(format!("inspect-{conn}"))
            .spawn(move || relay::inspect(&inspector, conn, client, peer));
        if let Err(e) = spawned {
            log_line!("ws6455 inspect: #{conn}: cannot start a thread: {e}");
        }
    }
}

/// On SIGINT or SIGTERM, gives the outputs a moment to write what they
/// hold (each flushes whenever its queue runs empty), then exits.
fn exit_on_signals() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    thread::Builder::new()
        .name("inspect-signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                thread::sleep(FLUSH_GRACE);
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}
