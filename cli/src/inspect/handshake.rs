//! The opening handshake through the inspector (RFC 6455 §4): the request
//! forwarded with only what must change changed, and both heads judged by
//! the library's own checks, the request as a server checks it (§4.2.1),
//! the response as a client does (§4.1).
//!
//! No I/O here: heads in, heads and verdicts out.

use ws6455::deflate::{DeflateConfig, DeflateParams};
use ws6455::handshake::{
    ClientHandshake, RequestError, WsUri, check_upgrade_request, parse_extensions,
};
use ws6455::{Request, Response};

use super::event::{DeflateSeen, RequestSeen, ResponseSeen, Side};

/// The request head as it goes upstream, and the two values changed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Forwarded {
    /// The head's bytes, the `\r\n\r\n` included.
    pub(crate) head: Vec<u8>,
    /// The request line as forwarded.
    pub(crate) line: String,
    /// The `Host` value forwarded.
    pub(crate) host: String,
}

/// Rewrites a request head for the upstream: the `Host` field's value
/// becomes the upstream's authority (RFC 9112 §3.2: the server the request
/// is for), and a request-target of exactly `/` becomes the upstream URL's
/// path. Every other byte is kept, header order and case included.
pub(crate) fn forward_request(head: &[u8], upstream: &WsUri) -> Forwarded {
    let host = upstream.host_header();
    let mut out = Vec::with_capacity(head.len() + host.len());
    let mut line_forwarded = String::new();
    let mut host_done = false;
    let body = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        if i == 0 {
            let rewritten = forward_request_line(line, upstream.resource_name());
            line_forwarded = String::from_utf8_lossy(&rewritten).into_owned();
            out.extend_from_slice(&rewritten);
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) if !host_done && line[..colon].eq_ignore_ascii_case(b"host") => {
                host_done = true;
                let value = &line[colon + 1..];
                let space = value.len() - value.trim_ascii_start().len();
                out.extend_from_slice(&line[..colon + 1 + space]);
                out.extend_from_slice(host.as_bytes());
            }
            _ => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(b"\r\n\r\n");
    Forwarded {
        head: out,
        line: line_forwarded,
        host,
    }
}

/// `GET / HTTP/1.1` becomes `GET /PATH HTTP/1.1` when the upstream URL
/// names a path; any other request line is kept.
fn forward_request_line(line: &[u8], upstream_path: &str) -> Vec<u8> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(b"/"), Some(version)) if upstream_path != "/" => {
            [method, b" ", upstream_path.as_bytes(), b" ", version].concat()
        }
        _ => line.to_vec(),
    }
}

/// A rule of the opening handshake one side broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HandshakeViolation {
    pub(crate) by: Side,
    pub(crate) rfc: String,
    /// The status a strict server refuses the request with.
    pub(crate) status: Option<u16>,
    pub(crate) what: String,
}

/// The section a message of the library's cites, `RFC 6455 §4.2.1` from
/// `... (RFC 6455 §4.2.1)`, or `fallback`.
fn section_cited(what: &str, fallback: &str) -> String {
    what.rfind("(RFC ")
        .and_then(|at| {
            what[at + 1..]
                .split_once(')')
                .map(|(cited, _)| cited.to_owned())
        })
        .unwrap_or_else(|| fallback.to_owned())
}

/// Whether a request asks for an upgrade at all: one with no `Upgrade`
/// field is a plain HTTP request (a page, a script), relayed unjudged.
pub(crate) fn asks_upgrade(request: &Request) -> bool {
    request.header("Upgrade").is_some()
}

/// What the request asked for, for judging the response: its key, its
/// subprotocols and whether it offered permessage-deflate.
pub(crate) struct Asked {
    handshake: Option<ClientHandshake>,
}

/// Judges an upgrade request as a strict server does (RFC 6455 §4.2.1),
/// and keeps what the response will be judged against.
pub(crate) fn judge_request(
    request: &Request,
    upstream: &WsUri,
) -> (Asked, Option<HandshakeViolation>) {
    let refused = |e: RequestError| HandshakeViolation {
        by: Side::Client,
        rfc: section_cited(&e.to_string(), "RFC 6455 §4.2.1"),
        status: Some(e.status()),
        what: e.to_string(),
    };
    let key = match check_upgrade_request(request) {
        Ok(key) => key,
        Err(e) => return (Asked { handshake: None }, Some(refused(e))),
    };
    let offers_deflate = match parse_extensions(request.header_values("Sec-WebSocket-Extensions")) {
        Ok(offers) => offers
            .iter()
            .any(|offer| offer.name.eq_ignore_ascii_case("permessage-deflate")),
        Err(e) => {
            let violation = HandshakeViolation {
                by: Side::Client,
                rfc: "RFC 6455 §9.1".to_owned(),
                status: Some(400),
                what: format!("Sec-WebSocket-Extensions: {e}"),
            };
            return (Asked { handshake: None }, Some(violation));
        }
    };
    let subprotocols: Vec<String> = request.subprotocols().map(str::to_owned).collect();
    match ClientHandshake::with_key(upstream, &subprotocols, &[], key) {
        // A client offering permessage-deflate with any parameters accepts
        // any valid answer that the default offer accepts.
        Ok(handshake) => {
            let handshake = handshake.with_deflate(offers_deflate.then(DeflateConfig::for_client));
            (
                Asked {
                    handshake: Some(handshake),
                },
                None,
            )
        }
        Err(e) => {
            let violation = HandshakeViolation {
                by: Side::Client,
                rfc: section_cited(&e.to_string(), "RFC 6455 §4.1"),
                status: Some(400),
                what: e.to_string(),
            };
            (Asked { handshake: None }, Some(violation))
        }
    }
}

/// What the 101 agreed, as the judges of the frames need it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agreement {
    pub(crate) subprotocol: Option<String>,
    pub(crate) deflate: Option<DeflateParams>,
}

/// Judges the server's answer as a strict client does (RFC 6455 §4.1).
/// `Ok(None)` means it is not a 101: the upgrade was refused, and that
/// breaks no rule.
pub(crate) fn judge_response(
    asked: &Asked,
    response: &Response,
) -> Result<Option<Agreement>, HandshakeViolation> {
    if response.status != 101 {
        return Ok(None);
    }
    let Some(handshake) = &asked.handshake else {
        // The request was not one a server may accept; what the server
        // agreed to is read without the checks it cannot be held to.
        return Ok(Some(Agreement::default()));
    };
    match handshake.check_response(response) {
        Ok(agreed) => Ok(Some(Agreement {
            subprotocol: agreed.subprotocol,
            deflate: agreed.deflate,
        })),
        Err(e) => Err(HandshakeViolation {
            by: Side::Server,
            rfc: section_cited(&e.to_string(), "RFC 6455 §4.1"),
            status: None,
            what: e.to_string(),
        }),
    }
}

/// A request head as the record shows it.
pub(crate) fn request_seen(request: &Request, forwarded: &Forwarded) -> RequestSeen {
    RequestSeen {
        line: format!(
            "{} {} HTTP/1.{}",
            request.method, request.path, request.minor_version
        ),
        headers: fields(&request.headers),
        forwarded_line: forwarded.line.clone(),
        forwarded_host: forwarded.host.clone(),
    }
}

/// A response head as the record shows it.
pub(crate) fn response_seen(response: &Response) -> ResponseSeen {
    ResponseSeen {
        line: format!("HTTP/1.1 {} {}", response.status, response.reason),
        status: response.status,
        headers: fields(&response.headers),
    }
}

/// The agreed permessage-deflate parameters as the record shows them.
pub(crate) fn deflate_seen(params: &DeflateParams) -> DeflateSeen {
    DeflateSeen {
        server_no_context_takeover: params.server_no_context_takeover,
        client_no_context_takeover: params.client_no_context_takeover,
        server_max_window_bits: params.server_max_window_bits,
        client_max_window_bits: params.client_max_window_bits,
    }
}

fn fields(headers: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> WsUri {
        WsUri::parse(s).unwrap()
    }

    #[test]
    fn only_host_changes_and_the_rest_is_kept_byte_for_byte() {
        let head = b"GET /chat?x=1 HTTP/1.1\r\nhOsT:  127.0.0.1:9000\r\nUpgrade: websocket\r\nX-Host: keep\r\n\r\n";
        let forwarded = forward_request(head, &uri("ws://example.com:8080/"));
        assert_eq!(
            forwarded.head,
            b"GET /chat?x=1 HTTP/1.1\r\nhOsT:  example.com:8080\r\nUpgrade: websocket\r\nX-Host: keep\r\n\r\n"
        );
        assert_eq!(forwarded.line, "GET /chat?x=1 HTTP/1.1");
        assert_eq!(forwarded.host, "example.com:8080");
    }

    #[test]
    fn a_target_of_slash_goes_to_the_upstream_path() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let forwarded = forward_request(head, &uri("ws://127.0.0.1:9000/lobby"));
        assert_eq!(
            forwarded.head,
            b"GET /lobby HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"
        );
        let other = forward_request(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", &uri("ws://h/lobby"));
        assert_eq!(other.line, "GET /x HTTP/1.1");
    }

    #[test]
    fn rfc6455_4_2_1_a_request_without_a_key_is_the_clients_violation() {
        let request = Request {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            minor_version: 1,
            headers: vec![
                ("Host".to_owned(), b"h".to_vec()),
                ("Upgrade".to_owned(), b"websocket".to_vec()),
                ("Connection".to_owned(), b"Upgrade".to_vec()),
                ("Sec-WebSocket-Version".to_owned(), b"13".to_vec()),
            ],
        };
        let (_, violation) = judge_request(&request, &uri("ws://h/"));
        let violation = violation.unwrap();
        assert_eq!(violation.by, Side::Client);
        assert_eq!(violation.rfc, "RFC 6455 §4.2.1");
        assert_eq!(violation.status, Some(400));
    }
}
