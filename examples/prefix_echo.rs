//! The Node `ws` echo of many tutorials on ws6455: every message comes back
//! as `Server received: <message>`
//! (`ws.on('message', m => ws.send(`Server received: ${m}`))`).
//!
//! `cargo run --example prefix_echo [127.0.0.1:9001]`, then
//! `echo hello | cargo run -- client ws://127.0.0.1:9001/` prints
//! `Server received: hello`.
//!
//! It runs on `ws6455::server::serve`, which gives each connection a thread,
//! a deadline for the opening handshake and a close handshake done right;
//! the `Service` says what to do with each connection. The server logs
//! connects and disconnects through the `log` facade; the few lines of
//! `Stderr` below print them.

use std::net::TcpListener;

use ws6455::Request;
use ws6455::ServerConfig;
use ws6455::server::{Service, Upgraded, serve};
use ws6455::{Error, Message};

/// Answers every message with `Server received: ` and the message.
struct PrefixEcho;

impl Service for PrefixEcho {
    fn session(&self, connection: Upgraded<'_>, _request: &Request) -> Result<(), Error> {
        connection.with_websocket(|ws| {
            loop {
                let answer = match ws.read()? {
                    Message::Text(text) => format!("Server received: {text}"),
                    Message::Binary(data) => format!("Server received: {} bytes", data.len()),
                    Message::Close(_) => return Ok(()),
                    Message::Ping(_) | Message::Pong(_) => continue, // Pings are answered for you
                };
                ws.send(Message::Text(answer))?;
            }
        })
    }
}

/// A logger that prints the server's lines (info and above) on stderr, as
/// they come.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{}", record.args());
        }
    }

    fn flush(&self) {}
}

fn main() -> std::io::Result<()> {
    log::set_logger(&Stderr).map_err(|e| std::io::Error::other(e.to_string()))?;
    log::set_max_level(log::LevelFilter::Info);
    let addr = std::env::args().nth(1);
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9001"))?;
    let server = serve(listener, ServerConfig::default(), PrefixEcho)?;
    println!("listening on ws://{}", server.local_addr());
    server.wait(); // serves until the process is stopped
    Ok(())
}
