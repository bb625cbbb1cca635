//! The echo service: every text message comes back as text, every binary
//! message as binary. It answers each batch of frames decoded from one read
//! with one write (see [`crate::WebSocket::queue`]).

use crate::error::Error;
use crate::handshake::{Request, Response};
use crate::message::Message;
use crate::server::{Service, Upgraded};
use crate::transport::Transport;

/// Echoes every data message back to its sender.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl<T: Transport> Service<T> for Echo {
    fn plain_http(&self, _request: &Request) -> Response {
        let mut response = Response::text(
            426,
            "Upgrade Required",
            "This is the ws6455 WebSocket echo endpoint. Connect with a WebSocket client.",
        );
        response
            .headers
            .push(("Upgrade".to_owned(), b"websocket".to_vec()));
        response
            .headers
            .push(("Sec-WebSocket-Version".to_owned(), b"13".to_vec()));
        response
    }

    fn session(&self, connection: Upgraded<'_, T>, _request: &Request) -> Result<(), Error> {
        connection.with_websocket(|ws| {
            loop {
                match ws.read()? {
                    message @ (Message::Text(_) | Message::Binary(_)) => ws.queue(message)?,
                    Message::Ping(_) | Message::Pong(_) => {}
                    Message::Close(_) => return Ok(()),
                }
            }
        })
    }
}
