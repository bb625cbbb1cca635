//! The Node `ws` server of many tutorials that logs what happens on each
//! connection, on ws6455: `console.log` on `connection`, on `message` and
//! on `close`.
//!
//! `cargo run --example logging_server [127.0.0.1:9001]`, then
//! `echo hello | cargo run -- client ws://127.0.0.1:9001/chat` logs
//!
//! ```text
//! client connected: 127.0.0.1:40112 asked for /chat
//! received: hello
//! client disconnected: 127.0.0.1:40112 closed with 1000 (normal closure)
//! ```
//!
//! A client that goes away without a Close is logged with the error
//! instead. The library's own log lines go to the `log` facade, which has
//! no logger here: this program logs to stdout itself.

use std::net::TcpListener;

use ws6455::Request;
use ws6455::ServerConfig;
use ws6455::server::{Service, Upgraded, serve};
use ws6455::{Error, Message};

/// Logs each connection's opening, messages and end.
struct Logger;

impl Service for Logger {
    fn session(&self, connection: Upgraded<'_>, request: &Request) -> Result<(), Error> {
        let peer = connection.stream().peer_addr()?;
        println!("client connected: {peer} asked for {}", request.path);
        let ended = connection.with_websocket(|ws| {
            loop {
                match ws.read()? {
                    Message::Text(text) => println!("received: {text}"),
                    Message::Binary(data) => println!("received {} bytes", data.len()),
                    Message::Close(frame) => {
                        let code =
                            frame.map_or("no code".to_owned(), |frame| frame.code.to_string());
                        println!("client disconnected: {peer} closed with {code}");
                        return Ok(());
                    }
                    Message::Ping(_) | Message::Pong(_) => {} // Pings are answered for you
                }
            }
        });
        if let Err(e) = &ended {
            println!("client disconnected: {peer}: {e}");
        }
        ended
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9001"))?;
    let server = serve(listener, ServerConfig::default(), Logger)?;
    println!("listening on ws://{}", server.local_addr());
    server.wait(); // serves until the process is stopped
    Ok(())
}
