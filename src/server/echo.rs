//! The echo service: every text message comes back as text, every binary
//! message as binary. It answers each batch of frames decoded from one read
//! with one write (see [`crate::WebSocket::queue`]).
//!
//! With [`ServerConfig::ping_interval`](crate::ServerConfig::ping_interval)
//! set, a client from which nothing has arrived for that long gets a Ping,
//! and one that then stays silent for the pong timeout is closed with 1001.

use std::io;
use std::time::Duration;

use crate::close::CloseCode;
use crate::error::Error;
use crate::handshake::{Request, Response};
use crate::message::Message;
use crate::server::{Direction, Service, Upgraded};
use crate::transport::Transport;

/// Echoes every data message back to its sender.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

/// Whether the echo has pinged a silent client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    /// Something arrived within the ping interval (or no pings are sent).
    Heard,
    /// Nothing arrived for the ping interval; a Ping went out.
    Pinged,
}

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
        let (stream, log) = (connection.stream, connection.log);
        let (ping_interval, pong_timeout) = (
            connection.config.ping_interval,
            connection.config.pong_timeout,
        );
        // The socket's read timeout is the time without a byte from the client.
        let wait_for = |timeout: Duration| stream.set_read_timeout(Some(timeout));
        if let Some(interval) = ping_interval {
            wait_for(interval)?;
        }
        let mut liveness = Liveness::Heard;
        connection.with_websocket(|ws| {
            loop {
                let message = match (ws.read(), ping_interval) {
                    (Ok(message), _) => message,
                    (Err(Error::Io(e)), Some(_)) if is_timeout(&e) => {
                        match liveness {
                            // RFC 6455 §5.5.2: "A Ping frame MAY be sent ...
                            // as a means to verify that the remote endpoint is
                            // still responsive."
                            Liveness::Heard => {
                                ws.send(Message::Ping(Vec::new()))?;
                                wait_for(pong_timeout)?;
                                liveness = Liveness::Pinged;
                            }
                            Liveness::Pinged => {
                                let reason = format!("no pong within {pong_timeout:?}");
                                ws.close(CloseCode::GOING_AWAY, &reason)?;
                                // `with_websocket` waits for the client's
                                // Close, under the close timeout.
                                return Ok(());
                            }
                        }
                        continue;
                    }
                    (Err(e), _) => return Err(e),
                };
                if let (Liveness::Pinged, Some(interval)) = (liveness, ping_interval) {
                    wait_for(interval)?;
                    liveness = Liveness::Heard;
                }
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
        })
    }
}

/// Whether a read failed for the read timeout (Unix says `WouldBlock`,
/// Windows `TimedOut`).
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
