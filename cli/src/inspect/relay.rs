//! One inspected connection: the opening handshake forwarded and judged,
//! then every byte relayed unchanged in both directions, each direction on
//! a thread of its own and watched as it goes.
//!
//! A chunk read from one side is watched, its events handed to the
//! outputs, and then written to the other side, so that the view shows
//! each frame before any answer to it. Without `--strict` every byte is
//! written all the same; with it, a frame that breaks a rule is not passed
//! on, and both sides are closed as a strict endpoint closes (RFC 6455
//! §7.1.7): a Close with the code the rule calls for, then TCP.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use rustls::pki_types::ServerName;
use ws6455::handshake::{Host, RequestParser, ResponseParser, WsUri};
use ws6455::proto::Decoded;
use ws6455::tls::TlsStream;
use ws6455::{CloseCode, Engine, Limits, Request, Role, Stream, Transport};

use super::event::{Connection, End, Event, Handshake, Side, Violation};
use super::handshake::{
    Agreement, HandshakeViolation, asks_upgrade, deflate_seen, forward_request, judge_request,
    judge_response, request_seen, response_seen,
};
use super::hub::Hub;
use super::watch::{Failed, Watcher};

/// Bytes read from a side at a time.
const CHUNK: usize = 64 << 10;

/// How long a side has to send its opening handshake head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long, after a strict close, the sides have to close their ends.
const STRICT_CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Where every connection is relayed to.
pub(crate) struct Upstream {
    /// The URL, for the record.
    pub(crate) url: String,
    pub(crate) uri: WsUri,
    /// For `wss://`.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

/// What every connection shares.
pub(crate) struct Inspector {
    pub(crate) upstream: Upstream,
    /// `--strict`: close both sides at the first violation.
    pub(crate) strict: bool,
    pub(crate) hub: Hub,
}

/// Inspects connection number `conn` from `client` to its end.
pub(crate) fn inspect(inspector: &Inspector, conn: u64, client: Stream, peer: SocketAddr) {
    let hub = &inspector.hub;
    hub.publish([Event::Connection(Connection {
        conn,
        t: hub.now(),
        client: peer.to_string(),
        upstream: inspector.upstream.url.clone(),
    })]);
    let how = match relay_connection(inspector, conn, client) {
        Ok(how) => how,
        Err(e) => format!("error: {e}"),
    };
    hub.publish([Event::End(End {
        conn,
        t: hub.now(),
        how,
    })]);
}

/// The connection from its first byte to its last; returns how it ended.
fn relay_connection(inspector: &Inspector, conn: u64, client: Stream) -> io::Result<String> {
    let hub = &inspector.hub;
    let upstream_info = &inspector.upstream;
    Transport::set_read_timeout(&client, Some(HEAD_TIMEOUT))?;
    let (head, request, client_early) = match read_request(&client) {
        Ok(read) => read,
        Err(HeadFailed::Io(e)) => return Err(e),
        Err(HeadFailed::Malformed(what, bytes)) => {
            // Not HTTP as a server reads it: relayed as it is, unjudged.
            hub.publish([violation(
                conn,
                hub,
                HandshakeViolation {
                    by: Side::Client,
                    rfc: "RFC 6455 §4.2.1".to_owned(),
                    status: Some(400),
                    what,
                },
            )]);
            let upstream = connect_upstream(upstream_info)?;
            (&upstream).write_all(&bytes)?;
            return Ok(relay_raw(client, upstream));
        }
    };
    let forwarded = forward_request(&head, &upstream_info.uri);
    let upstream = match connect_upstream(upstream_info) {
        Ok(upstream) => upstream,
        Err(e) => {
            let body = format!("ws6455 inspect: cannot reach {}: {e}\n", upstream_info.url);
            let _ = write!(
                &client,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            return Ok(format!(
                "the upstream is unreachable ({e}); the client got 502"
            ));
        }
    };
    (&upstream).write_all(&forwarded.head)?;
    if !asks_upgrade(&request) {
        (&upstream).write_all(&client_early)?;
        let how = relay_raw(client, upstream);
        return Ok(format!(
            "a plain HTTP request ({}), relayed: {how}",
            forwarded.line
        ));
    }
    let (asked, request_violation) = judge_request(&request, &upstream_info.uri);
    if let Some(v) = request_violation {
        hub.publish([violation(conn, hub, v)]);
    }
    if !client_early.is_empty() {
        // They wait for the 101 here, and go on after it.
        hub.publish([violation(
            conn,
            hub,
            HandshakeViolation {
                by: Side::Client,
                rfc: "RFC 6455 §4.1".to_owned(),
                status: None,
                what: format!(
                    "{} bytes sent after the opening request and before the response: \"the client \
                 MUST wait for a response from the server before sending any further data\"",
                    client_early.len()
                ),
            },
        )]);
    }
    Transport::set_read_timeout(&upstream, Some(HEAD_TIMEOUT))?;
    let (response, upstream_read, head_len) = match read_response(&upstream) {
        Ok(read) => read,
        Err(HeadFailed::Io(e)) => return Err(e),
        Err(HeadFailed::Malformed(what, bytes)) => {
            hub.publish([violation(
                conn,
                hub,
                HandshakeViolation {
                    by: Side::Server,
                    rfc: "RFC 6455 §4.1".to_owned(),
                    status: None,
                    what,
                },
            )]);
            (&upstream).write_all(&client_early)?;
            (&client).write_all(&bytes)?;
            return Ok(relay_raw(client, upstream));
        }
    };
    // The answer's head goes back exactly as it came. What came after each
    // head is passed on once, below: with the frames, watched (and under
    // --strict judged before it goes), or raw if the upgrade is refused.
    (&client).write_all(&upstream_read[..head_len])?;
    let agreement = match judge_response(&asked, &response) {
        Ok(agreement) => agreement,
        Err(v) => {
            hub.publish([violation(conn, hub, v)]);
            Some(Agreement::default())
        }
    };
    hub.publish([Event::Handshake(Box::new(Handshake {
        conn,
        t: hub.now(),
        request: request_seen(&request, &forwarded),
        response: Some(response_seen(&response)),
        subprotocol: agreement.as_ref().and_then(|a| a.subprotocol.clone()),
        deflate: agreement
            .as_ref()
            .and_then(|a| a.deflate.as_ref().map(deflate_seen)),
    }))]);
    let Some(agreement) = agreement else {
        (&upstream).write_all(&client_early)?;
        (&client).write_all(&upstream_read[head_len..])?;
        let how = relay_raw(client, upstream);
        return Ok(format!(
            "the upgrade was refused with {}; {how}",
            response.status
        ));
    };
    Transport::set_read_timeout(&client, None)?;
    Transport::set_read_timeout(&upstream, None)?;
    let connection = Relayed {
        client: Outlet::new(client),
        server: Outlet::new(upstream),
    };
    let watcher = |from| {
        let watcher = Watcher::new(conn, from, agreement.deflate.as_ref());
        match inspector.strict {
            true => watcher.frame_by_frame(),
            false => watcher,
        }
    };
    let (server_watcher, client_watcher) = (watcher(Side::Server), watcher(Side::Client));
    let server_early = upstream_read[head_len..].to_vec();
    let (from_client, from_server) = thread::scope(|scope| {
        let from_server = scope.spawn(|| {
            relay_direction(
                inspector,
                &connection,
                Side::Server,
                server_watcher,
                server_early,
            )
        });
        let from_client = relay_direction(
            inspector,
            &connection,
            Side::Client,
            client_watcher,
            client_early,
        );
        let from_server = from_server
            .join()
            .unwrap_or_else(|_| DirectionEnd::panicked());
        (from_client, from_server)
    });
    Ok(how_it_ended(&from_client, &from_server))
}

/// Why a head could not be read.
enum HeadFailed {
    Io(io::Error),
    /// Not a head a strict end accepts: why, and the bytes read.
    Malformed(String, Vec<u8>),
}

/// Reads the client's request head: the head's bytes, the request, and the
/// bytes that came after it.
fn read_request(client: &Stream) -> Result<(Vec<u8>, Request, Vec<u8>), HeadFailed> {
    let mut parser = RequestParser::new(Default::default());
    let mut bytes = Vec::new();
    loop {
        read_more(client, &mut bytes)?;
        match parser.parse(&bytes) {
            Ok(Decoded::Complete(request, len)) => {
                let early = bytes.split_off(len);
                return Ok((bytes, request, early));
            }
            Ok(Decoded::NeedMore) => {}
            Err(e) => return Err(HeadFailed::Malformed(e.to_string(), bytes)),
        }
    }
}

/// Reads the upstream's response head: the response, every byte read, and
/// where the head ends in them.
fn read_response(upstream: &Stream) -> Result<(ws6455::Response, Vec<u8>, usize), HeadFailed> {
    let mut parser = ResponseParser::new(Default::default());
    let mut bytes = Vec::new();
    loop {
        read_more(upstream, &mut bytes)?;
        match parser.parse(&bytes) {
            Ok(Decoded::Complete(response, len)) => return Ok((response, bytes, len)),
            Ok(Decoded::NeedMore) => {}
            Err(e) => return Err(HeadFailed::Malformed(e.to_string(), bytes)),
        }
    }
}

/// Appends what one read brings; the end of the stream before a head is
/// whole is an error.
fn read_more(stream: &Stream, bytes: &mut Vec<u8>) -> Result<(), HeadFailed> {
    let mut chunk = [0; 4096];
    match (&*stream).read(&mut chunk) {
        Ok(0) => Err(HeadFailed::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection ended before its opening handshake's head did",
        ))),
        Ok(n) => {
            bytes.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) => Err(HeadFailed::Io(e)),
    }
}

fn violation(conn: u64, hub: &Hub, v: HandshakeViolation) -> Event {
    Event::Violation(Violation {
        conn,
        t: hub.now(),
        by: v.by,
        rfc: v.rfc,
        close_code: None,
        status: v.status,
        what: v.what,
    })
}

/// Opens the connection to the upstream: TCP, and TLS for `wss://`,
/// verified as `ws6455 client` verifies.
fn connect_upstream(upstream: &Upstream) -> io::Result<Stream> {
    let uri = &upstream.uri;
    let tcp = match uri.host() {
        Host::Name(name) => TcpStream::connect((name.as_str(), uri.port()))?,
        Host::V4(ip) => TcpStream::connect((IpAddr::V4(*ip), uri.port()))?,
        Host::V6(ip) => TcpStream::connect((IpAddr::V6(*ip), uri.port()))?,
    };
    let _ = tcp.set_nodelay(true);
    let Some(config) = &upstream.tls else {
        return Ok(Stream::Plain(tcp));
    };
    let name = match uri.host() {
        Host::Name(name) => ServerName::try_from(name.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        Host::V4(ip) => ServerName::from(IpAddr::V4(*ip)),
        Host::V6(ip) => ServerName::from(IpAddr::V6(*ip)),
    };
    let tls = TlsStream::client(tcp, Arc::clone(config), name)?;
    Transport::set_read_timeout(&tls, Some(HEAD_TIMEOUT))?;
    tls.handshake()?;
    Ok(Stream::Tls(tls))
}

/// Relays bytes both ways, unread, until both directions end: for what is
/// not a WebSocket connection (a page, a refused upgrade). Returns how it
/// ended.
fn relay_raw(client: Stream, upstream: Stream) -> String {
    let _ = Transport::set_read_timeout(&client, None);
    let _ = Transport::set_read_timeout(&upstream, None);
    thread::scope(|scope| {
        let up = scope.spawn(|| copy_raw(&upstream, &client));
        let down = copy_raw(&client, &upstream);
        let up = up.join().unwrap_or_else(|_| "panicked".to_owned());
        format!("client → server {down}, server → client {up}")
    })
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s direction.
fn copy_raw(from: &Stream, to: &Stream) -> String {
    let mut chunk = vec![0; CHUNK];
    let mut total = 0u64;
    loop {
        match (&*from).read(&mut chunk) {
            Ok(0) => {
                let _ = Transport::shutdown(to, Shutdown::Write);
                return format!("{total} bytes");
            }
            Ok(n) => {
                total += n as u64;
                if let Err(e) = (&*to).write_all(&chunk[..n]) {
                    let _ = Transport::shutdown(from, Shutdown::Both);
                    return format!("{total} bytes, then {e}");
                }
            }
            Err(e) => {
                let _ = Transport::shutdown(to, Shutdown::Both);
                return format!("{total} bytes, then {e}");
            }
        }
    }
}

/// A relayed WebSocket connection: its two sides, each written under a
/// lock, so that a strict close can put a Close between the frames relayed
/// from the other thread.
struct Relayed {
    client: Outlet,
    server: Outlet,
}

impl Relayed {
    fn outlet(&self, side: Side) -> &Outlet {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

/// One side's stream, and what has been written to it.
struct Outlet {
    stream: Stream,
    written: Mutex<Written>,
}

/// What has been written to a side.
struct Written {
    /// The bytes so far end at a frame's end (known with `--strict`, which
    /// watches before it writes).
    at_frame_boundary: bool,
    /// A strict close ended it: nothing more is written.
    ended: bool,
}

impl Outlet {
    fn new(stream: Stream) -> Outlet {
        Outlet {
            stream,
            written: Mutex::new(Written {
                at_frame_boundary: true,
                ended: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one direction ended.
struct DirectionEnd {
    /// The Close its sender sent: when, and its code.
    close: Option<(f64, Option<u16>)>,
    /// When its stream ended, and how.
    ended_at: f64,
    how: String,
}

impl DirectionEnd {
    fn panicked() -> DirectionEnd {
        DirectionEnd {
            close: None,
            ended_at: f64::MAX,
            how: "its relaying thread panicked".to_owned(),
        }
    }
}

/// Relays what `from` sends to the other side until `from` ends, watching
/// it. `early` came with the opening handshake's head and is passed on
/// first.
fn relay_direction(
    inspector: &Inspector,
    connection: &Relayed,
    from: Side,
    mut watcher: Watcher,
    early: Vec<u8>,
) -> DirectionEnd {
    let hub = &inspector.hub;
    let source = &connection.outlet(from).stream;
    let sink = connection.outlet(from.other());
    let mut chunk = vec![0; CHUNK];
    let mut events = Vec::new();
    let mut relayed = 0u64;
    let mut pending = early;
    let how = loop {
        let n = if pending.is_empty() {
            match (&*source).read(&mut chunk) {
                Ok(0) => {
                    let _ = Transport::shutdown(&sink.stream, Shutdown::Write);
                    break format!("the {} closed TCP", from.name());
                }
                Ok(n) => n,
                Err(e) => {
                    let _ = Transport::shutdown(&sink.stream, Shutdown::Both);
                    break format!("reading from the {} failed: {e}", from.name());
                }
            }
        } else {
            let n = pending.len().min(CHUNK);
            chunk[..n].copy_from_slice(&pending[..n]);
            pending.drain(..n);
            n
        };
        // When the bytes arrived: before they are passed on, so that an
        // answer to them is never stamped earlier than they are.
        let t = hub.now();
        let bytes = &chunk[..n];
        let detail = hub.wants_detail();
        let counted = !detail && hub.shows_detail();
        // Shown before passed on: the view has a frame before any answer
        // to it, which the other direction's thread may read at once.
        let failed = watcher.watch(bytes, t, detail, &mut events);
        hub.publish(events.drain(..));
        let written = match inspector.strict {
            true => write_strictly(connection, from, &watcher, bytes, relayed, failed),
            false => write_to(sink, bytes),
        };
        if counted {
            hub.count_dropped_detail(watcher.take_undescribed());
        }
        relayed += n as u64;
        if let Err(e) = written {
            let _ = Transport::shutdown(source, Shutdown::Both);
            break format!("writing to the {} failed: {e}", from.other().name());
        }
    };
    DirectionEnd {
        close: watcher.close_seen(),
        ended_at: hub.now(),
        how,
    }
}

/// Writes relayed bytes, unless a strict close has ended the side.
fn write_to(outlet: &Outlet, bytes: &[u8]) -> io::Result<()> {
    let written = outlet.lock();
    if written.ended {
        return Ok(());
    }
    (&outlet.stream).write_all(bytes)
}

/// `--strict`: writes the bytes that keep the rules; at the first
/// violation, writes none of its frame and closes both sides.
fn write_strictly(
    connection: &Relayed,
    from: Side,
    watcher: &Watcher,
    bytes: &[u8],
    relayed: u64,
    failed: Option<Failed>,
) -> io::Result<()> {
    let sink = connection.outlet(from.other());
    let Some(failed) = failed else {
        let mut written = sink.lock();
        if written.ended {
            return Ok(());
        }
        (&sink.stream).write_all(bytes)?;
        written.at_frame_boundary = watcher.at_frame_boundary();
        return Ok(());
    };
    // The bad frame's bytes that came before this chunk are gone already.
    let good = usize::try_from(failed.frame_start.saturating_sub(relayed))
        .map_or(bytes.len(), |n| n.min(bytes.len()));
    {
        let mut written = sink.lock();
        if !written.ended {
            (&sink.stream).write_all(&bytes[..good])?;
            written.at_frame_boundary = failed.frame_start >= relayed;
        }
    }
    strict_close(connection, from, failed);
    Ok(())
}

/// Closes both sides as a strict receiver of `violator`'s frames would:
/// a Close with the rule's code to each side that is at a frame's end,
/// then the end of TCP, giving each side a moment to close its own.
fn strict_close(connection: &Relayed, violator: Side, failed: Failed) {
    let code = failed.close_code.unwrap_or(CloseCode::PROTOCOL_ERROR.0);
    let reason = format!(
        "the {} broke a rule (ws6455 inspect --strict)",
        violator.name()
    );
    for side in [violator, violator.other()] {
        let outlet = connection.outlet(side);
        let mut written = outlet.lock();
        if !written.ended && written.at_frame_boundary {
            // The inspector speaks as the server to the client, and as a
            // client (masking, RFC 6455 §5.3) to the server.
            let role = match side {
                Side::Client => Role::Server,
                Side::Server => Role::Client,
            };
            let mut engine = Engine::new(role, Limits::default());
            if engine.close(CloseCode(code), &reason).is_ok() {
                let mut frame = Vec::new();
                engine.output().drain_into(&mut frame);
                let _ = (&outlet.stream).write_all(&frame);
            }
        }
        written.ended = true;
        let _ = Transport::shutdown(&outlet.stream, Shutdown::Write);
    }
    // Each side has a moment to close its end; then both are cut, which
    // also ends a read already waiting on either.
    let streams = [&connection.client.stream, &connection.server.stream];
    let handles: Vec<Stream> = streams.iter().filter_map(|s| s.try_clone().ok()).collect();
    thread::spawn(move || {
        thread::sleep(STRICT_CLOSE_GRACE);
        for stream in &handles {
            let _ = Transport::shutdown(stream, Shutdown::Both);
        }
    });
}

/// The closing handshake as it went, and who ended TCP.
fn how_it_ended(from_client: &DirectionEnd, from_server: &DirectionEnd) -> String {
    let closes = match (from_client.close, from_server.close) {
        (None, None) => "no closing handshake".to_owned(),
        (Some((_, code)), None) => {
            format!("the client sent Close {}; the server none", code_text(code))
        }
        (None, Some((_, code))) => {
            format!("the server sent Close {}; the client none", code_text(code))
        }
        (Some((tc, cc)), Some((ts, sc))) => {
            let (first, first_code, second, second_code) = if tc <= ts {
                ("client", cc, "server", sc)
            } else {
                ("server", sc, "client", cc)
            };
            format!(
                "closing handshake: the {first} sent Close {}, the {second} answered {}",
                code_text(first_code),
                code_text(second_code)
            )
        }
    };
    let (first, second) = if from_client.ended_at <= from_server.ended_at {
        (from_client, from_server)
    } else {
        (from_server, from_client)
    };
    format!("{closes}; {}, then {}", first.how, second.how)
}

fn code_text(code: Option<u16>) -> String {
    match code {
        Some(code) => code.to_string(),
        None => "without a code".to_owned(),
    }
}
