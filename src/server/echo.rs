//! The echo service: every text message comes back as text, every binary
//! message as binary. It answers each batch of frames decoded from one read
//! with one write (see [`crate::WebSocket::queue`]).
//!
//! With [`ServerConfig::ping_interval`](crate::ServerConfig::ping_interval)
//! set, a client from which nothing has arrived for that long gets a Ping,
//! and one that then stays silent for the pong timeout is closed with 1001.

use crate::error::Error;
use crate::handshake::http::{Request, Response};
use crate::io::transport::Transport;
use crate::proto::Direction;
use crate::proto::message::Message;
use crate::server::keepalive::Keepalive;
use crate::server::{Service, Upgraded};

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
        let log = connection.log();
        let mut keepalive = Keepalive::start(connection.stream(), connection.config())?;
        connection.with_websocket(|ws| {
            // A silent client's Close 1001 has gone out when the keepalive
            // gives up; `with_websocket` waits for its answer.
            while let Some(message) = keepalive.read(ws)? {
                match message {
                    message @ (Message::Text(_) | Message::Binary(_)) => {
                        if log.logs_messages() {
                            log.message(Direction::Received, &message);
                            log.message(Direction::Sent, &message);
                        }
                        ws.queue(message)?
                    }
                    Message::Ping(_) | Message::Pong(_) => {}
                    Message::Close(_) => return Ok(()),
                }
            }
            Ok(())
        })
    }
}
