//! An echo server that browsers on other sites cannot use: RFC 6455 §10.2,
//! servers "that are not intended to process input from any web page but
//! only for certain sites SHOULD verify the |Origin| field".
//!
//! `cargo run --example origin_check [127.0.0.1:9001] [ORIGIN...]` serves
//! pages from the ORIGINs given (by default the server's own:
//! `http://HOST` for the `Host` the request names) and programs, which send
//! no `Origin`. A page from anywhere else is refused with 403 before the
//! 101, and the refusal is logged:
//!
//! ```text
//! listening on ws://127.0.0.1:9001
//! refused http://evil.example: 403
//! ```
//!
//! `accept_hdr` shows the request to the check before answering it; a
//! server on `ws6455::server::serve` does the same in `Service::admit`.

use std::net::TcpListener;

use ws6455::handshake::RequestError;
use ws6455::{Error, Message, Request, Response, ServerConfig, accept_hdr};

/// Whether a request may open a connection: no `Origin` (not a browser), or
/// one of `allowed`, or, with none given, the server's own.
fn check_origin(request: &Request, allowed: &[String]) -> Result<Vec<(String, Vec<u8>)>, Response> {
    let Some(origin) = request.header("Origin") else {
        return Ok(Vec::new());
    };
    let own = request
        .header("Host")
        .map(|host| [b"http://".as_slice(), host].concat());
    let admitted = match allowed.is_empty() {
        true => own.as_deref() == Some(origin),
        false => allowed.iter().any(|allowed| allowed.as_bytes() == origin),
    };
    match admitted {
        true => Ok(Vec::new()),
        false => Err(Response::text(
            403,
            "Forbidden",
            "pages from this origin may not connect",
        )),
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let allowed: Vec<String> = args.collect();
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let allowed = allowed.clone();
        std::thread::spawn(move || -> Result<(), Error> {
            let config = ServerConfig::default();
            let (mut ws, _request) = match accept_hdr(stream?, &config, |request| {
                check_origin(request, &allowed).inspect_err(|response| {
                    let origin = String::from_utf8_lossy(request.header("Origin").unwrap_or(b""));
                    println!("refused {origin}: {}", response.status);
                })
            }) {
                Ok(accepted) => accepted,
                Err(Error::Request(RequestError::Refused { .. })) => return Ok(()),
                Err(e) => return Err(e),
            };
            loop {
                match ws.read()? {
                    message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message)?,
                    Message::Close(_) => return Ok(()),
                    Message::Ping(_) | Message::Pong(_) => {} // Pings are answered for you
                }
            }
        });
    }
    Ok(())
}
