//! The echo service: every text message comes back as text, every binary
//! message as binary. It echoes a message as it arrives, piece by piece
//! ([`crate::WebSocket::read_piece`]): each run of payload bytes received
//! goes back as a frame of the reply, so a message of any size passes
//! through a buffer of at most 256 KiB, and the reply's first bytes leave
//! before the message's last arrive. A text that turns invalid part-way is
//! failed with 1007 at that byte, its valid start echoed already (the
//! reply stays unfinished). Small pieces decoded from one read go back in
//! one write (see [`crate::WebSocket::queue_piece`]).
//!
//! With each message logged (debug level), messages are read whole, to be
//! shown whole.
//!
//! With [`ServerConfig::ping_interval`](crate::ServerConfig::ping_interval)
//! set, a client from which nothing has arrived for that long gets a Ping,
//! and one that then stays silent for the pong timeout is closed with 1001.

use crate::error::Error;
use crate::handshake::http::{Request, Response};
use crate::io::transport::Transport;
use crate::io::websocket::WebSocket;
use crate::proto::Direction;
use crate::proto::message::{Message, StreamEvent};
use crate::server::keepalive::Keepalive;
use crate::server::{Service, Upgraded};
use std::io::{Read, Write};

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
            if !log.logs_messages() {
                return echo_pieces(ws, &mut keepalive);
            }
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

/// The piece buffer's size once a message arrives: a small message comes
/// back in one frame.
const FIRST_PIECE_SIZE: usize = 4 << 10;

/// The piece buffer's largest size: the read buffer's largest. In the
/// shared harness's `huge` case (16 MiB messages), 256 KiB pieces echoed
/// at 0.81 × tcp-floor where 64 KiB pieces did at 0.77 (one run, 5 rounds).
const MAX_PIECE_SIZE: usize = 256 << 10;

/// Echoes every data message piece by piece, as it arrives, until the
/// client's Close (or the keepalive's). The piece buffer is given back when
/// the connection goes quiet: a quiet connection waits for the next message
/// with none, and takes one when the message's first header is in.
fn echo_pieces<S: Read + Write, T: Transport>(
    ws: &mut WebSocket<S>,
    keepalive: &mut Keepalive<'_, T>,
) -> Result<(), Error> {
    let mut buffer = Vec::new();
    // A silent client's Close 1001 has gone out when the keepalive gives
    // up; `with_websocket` waits for its answer.
    while let Some(event) = keepalive.read_with(ws, |ws, quiet| {
        if quiet {
            buffer = Vec::new();
        }
        ws.read_piece(&mut buffer)
    })? {
        match event {
            // A piece with no bytes: the message's kind, or a buffer to take.
            StreamEvent::Piece(piece) if piece.len == 0 && !piece.last => {
                if buffer.is_empty() {
                    buffer.resize(FIRST_PIECE_SIZE, 0);
                }
            }
            StreamEvent::Piece(piece) => {
                ws.queue_piece(piece.kind, &buffer[..piece.len], piece.last)?;
                // A piece that filled the buffer: the message is large, and
                // larger pieces cost fewer frames and writes.
                if piece.len == buffer.len() && buffer.len() < MAX_PIECE_SIZE {
                    buffer.resize(buffer.len() * 2, 0);
                }
            }
            StreamEvent::Control(Message::Close(_)) => return Ok(()),
            // Pings are answered for us; Pongs need nothing.
            StreamEvent::Control(_) => {}
        }
    }
    Ok(())
}
