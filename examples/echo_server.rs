//! The README's echo server: the library's blocking API in a dozen lines.
//! (`ws6455 echo` is the production version: corked writes, limits, logging.)

use std::net::TcpListener;
use ws6455::{Message, accept};

fn main() -> std::io::Result<()> {
    for stream in TcpListener::bind("127.0.0.1:9001")?.incoming() {
        std::thread::spawn(move || -> Result<(), ws6455::Error> {
            let (mut ws, _request) = accept(stream?)?;
            loop {
                match ws.read()? {
                    msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
                    Message::Close(_) => return Ok(()),
                    Message::Ping(_) | Message::Pong(_) => {} // pings are answered for you
                }
            }
        });
    }
    Ok(())
}
