//! Keeping a connection alive (RFC 6455 §5.5.2: a Ping "MAY be sent ... as
//! a means to verify that the remote endpoint is still responsive"): a peer
//! from which nothing has arrived for [`ServerConfig::ping_interval`] is
//! sent a Ping, and one that then sends nothing for
//! [`ServerConfig::pong_timeout`] is closed with 1001. The stream's read
//! timeout measures the silence, so an idle connection costs no timer and
//! no thread beyond its own.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::error::Error;
use crate::io::transport::Transport;
use crate::io::websocket::WebSocket;
use crate::proto::close::CloseCode;
use crate::proto::message::Message;
use crate::server::config::ServerConfig;

/// Whether a silent peer has been pinged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    /// Something arrived within the ping interval (or no pings are sent).
    Heard,
    /// Nothing arrived for the ping interval; a Ping went out.
    Pinged,
}

/// One connection's keepalive, as [`ServerConfig`] asks.
#[derive(Debug)]
pub(crate) struct Keepalive<'a, T: Transport> {
    stream: &'a T,
    interval: Option<Duration>,
    pong_timeout: Duration,
    liveness: Liveness,
}

impl<'a, T: Transport> Keepalive<'a, T> {
    /// Starts measuring `stream`'s silence.
    pub(crate) fn start(stream: &'a T, config: &ServerConfig) -> io::Result<Keepalive<'a, T>> {
        if let Some(interval) = config.ping_interval {
            stream.set_read_timeout(Some(interval))?;
        }
        Ok(Keepalive {
            stream,
            interval: config.ping_interval,
            pong_timeout: config.pong_timeout,
            liveness: Liveness::Heard,
        })
    }

    /// The next message from `ws` (a connection over this stream), pinging
    /// the peer when it falls silent. `None` once the peer stayed silent
    /// after the Ping: the Close 1001 has been sent.
    #[inline]
    pub(crate) fn read<S: Read + Write>(
        &mut self,
        ws: &mut WebSocket<S>,
    ) -> Result<Option<Message>, Error> {
        self.read_with(ws, WebSocket::read)
    }

    /// [`Keepalive::read`] with `read` reading `ws`: the next message, or
    /// the next piece of one ([`WebSocket::read_piece`]).
    #[inline]
    pub(crate) fn read_with<S: Read + Write, R>(
        &mut self,
        ws: &mut WebSocket<S>,
        mut read: impl FnMut(&mut WebSocket<S>) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        loop {
            match read(ws) {
                Ok(message) => {
                    if let (Liveness::Pinged, Some(interval)) = (self.liveness, self.interval) {
                        self.stream.set_read_timeout(Some(interval))?;
                        self.liveness = Liveness::Heard;
                    }
                    return Ok(Some(message));
                }
                Err(Error::Io(e)) if self.interval.is_some() && is_timeout(&e) => {
                    match self.liveness {
                        Liveness::Heard => {
                            ws.send(Message::Ping(Vec::new()))?;
                            self.stream.set_read_timeout(Some(self.pong_timeout))?;
                            self.liveness = Liveness::Pinged;
                        }
                        Liveness::Pinged => {
                            let reason = format!("no pong within {:?}", self.pong_timeout);
                            ws.close(CloseCode::GOING_AWAY, &reason)?;
                            return Ok(None);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
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
