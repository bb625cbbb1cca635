//! A WebSocket echo inside a hyper 1.x server (feature `tokio`): hyper
//! serves a page at `/`, and the page's script opens `/ws`, which hyper
//! upgrades and ws6455 speaks on. axum's handlers sit on the same hyper
//! upgrade, so this is also the way in from axum.
//!
//! ```sh
//! cargo run --features tokio --example hyper_upgrade [127.0.0.1:8080]
//! ```
//!
//! prints the address it listens on (`listening on http://ADDR`); open it
//! in a browser. The steps for `/ws`:
//!
//! 1. the request head, as hyper parsed it, becomes a [`ws6455::Request`];
//! 2. [`answer_upgrade`] checks it (RFC 6455 §4.2.1), chooses the
//!    subprotocol and answers permessage-deflate's offer: a 101, or the
//!    refusal with its status (426 for a request that is no upgrade);
//! 3. hyper sends that response, and on a 101 hands the connection over
//!    (`hyper::upgrade::on`), which [`WebSocketStream::from_agreed`] turns
//!    into the connection the 101 agreed to.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use ws6455::{Message, Request, Response, ServerConfig, WebSocketStream, answer_upgrade};

/// The subprotocol this echo speaks, which the page asks for.
const SUBPROTOCOL: &str = "echo";

/// The page at `/`: it opens `/ws` on the host it came from, sends what is
/// typed and shows what comes back.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>ws6455 in hyper</title>
<input id="text" value="Hello" autofocus> <button id="send">send</button>
<pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const ws = new WebSocket(`ws://${location.host}/ws`, "echo");
ws.onopen = () => log(`open, subprotocol ${ws.protocol}, extensions ${ws.extensions}`);
ws.onmessage = (event) => log(`echo: ${event.data}`);
ws.onclose = (event) => log(`closed: ${event.code}`);
document.getElementById("send").onclick = () => ws.send(document.getElementById("text").value);
</script>
"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let config = Arc::new(ServerConfig::default().subprotocols([SUBPROTOCOL]));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let config = Arc::clone(&config);
        tokio::spawn(async move {
            let service = service_fn(move |req| route(req, peer, Arc::clone(&config)));
            // Without `with_upgrades`, hyper keeps the connection to itself
            // and the upgrade never completes.
            let served = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(e) = served.await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Answers one HTTP request: the page, the upgrade, or 404.
async fn route(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
) -> Result<hyper::Response<String>, hyper::http::Error> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => hyper::Response::builder()
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(PAGE.to_owned()),
        (_, "/ws") => upgrade(req, peer, config),
        _ => hyper::Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("not found\n".to_owned()),
    }
}

/// Answers a request for `/ws` as RFC 6455 §4.2.2 says, and on a 101
/// starts the echo on the connection hyper hands over once it sent it.
fn upgrade(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
) -> Result<hyper::Response<String>, hyper::http::Error> {
    let answer = answer_upgrade(request_head(&req), &config);
    match answer.agreed {
        Ok(agreed) => {
            println!(
                "{peer}: upgraded, subprotocol {:?}, permessage-deflate {}",
                agreed.subprotocol.as_deref().unwrap_or("none"),
                agreed.deflate.is_some()
            );
            tokio::spawn(async move {
                // Resolves once hyper has written the 101; bytes the client
                // sent after its request come first out of `Upgraded`.
                let upgraded = match hyper::upgrade::on(req).await {
                    Ok(upgraded) => upgraded,
                    Err(e) => return eprintln!("{peer}: upgrade failed: {e}"),
                };
                let ws = WebSocketStream::from_agreed(TokioIo::new(upgraded), &agreed, &config);
                match echo(ws).await {
                    Ok(()) => println!("{peer}: connection ended"),
                    Err(e) => println!("{peer}: {e}"),
                }
            });
        }
        Err(e) => println!("{peer}: refused with {}: {e}", answer.response.status),
    }
    to_hyper(answer.response)
}

/// The request's head as ws6455 reads it: method, target, HTTP version and
/// every header field, each value on its own (hyper keeps a repeated field
/// as several values, which is how a second `Sec-WebSocket-Key` is seen).
fn request_head(req: &hyper::Request<Incoming>) -> Request {
    Request {
        method: req.method().to_string(),
        path: req.uri().to_string(),
        minor_version: u8::from(req.version() >= Version::HTTP_11),
        headers: req
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect(),
    }
}

/// ws6455's response as hyper sends it (hyper writes its own reason
/// phrase, and adds `Date`). Its bodies are one line of text.
fn to_hyper(answer: Response) -> Result<hyper::Response<String>, hyper::http::Error> {
    let mut response = hyper::Response::builder().status(answer.status);
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    response.body(String::from_utf8_lossy(&answer.body).into_owned())
}

/// Sends back every text and binary message until the closing handshake
/// ends the stream (the Close is answered by the stream itself).
async fn echo<S>(mut ws: WebSocketStream<S>) -> Result<(), ws6455::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
            Message::Close(_) | Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Ok(())
}
