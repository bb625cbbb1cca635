//! Keeping a connection alive (RFC 6455 §5.5.2: a Ping "MAY be sent ... as
//! a means to verify that the remote endpoint is still responsive"): a peer
//! from which nothing has arrived for [`ServerConfig::ping_interval`] is
//! sent a Ping, and one that then sends nothing for
//! [`ServerConfig::pong_timeout`] is closed with 1001. Before that, one
//! from which nothing has arrived for [`ServerConfig::release_idle_after`]
//! gives back the buffers its last messages grew. The stream's read
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

/// How long the peer has been silent, as far as the read timeout tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Silence {
    /// Something arrived lately: the connection keeps its buffers, and the
    /// read timeout waits for it to go quiet (or for the ping interval).
    Busy,
    /// Nothing arrived for [`ServerConfig::release_idle_after`] (or nothing
    /// yet): the buffers were given back, and the read timeout waits for
    /// the rest of the ping interval, if pings are sent.
    Quiet,
    /// Nothing arrived for the ping interval; a Ping went out.
    Pinged,
}

/// One connection's keepalive, as [`ServerConfig`] asks.
#[derive(Debug)]
pub(crate) struct Keepalive<'a, T: Transport> {
    stream: &'a T,
    interval: Option<Duration>,
    pong_timeout: Duration,
    release_after: Option<Duration>,
    silence: Silence,
}

impl<'a, T: Transport> Keepalive<'a, T> {
    /// Starts measuring `stream`'s silence. A fresh connection counts as
    /// quiet: it has nothing to give back.
    pub(crate) fn start(stream: &'a T, config: &ServerConfig) -> io::Result<Keepalive<'a, T>> {
        if let Some(interval) = config.ping_interval {
            stream.set_read_timeout(Some(interval))?;
        }
        Ok(Keepalive {
            stream,
            interval: config.ping_interval,
            pong_timeout: config.pong_timeout,
            release_after: config.release_idle_after,
            silence: Silence::Quiet,
        })
    }

    /// How long a busy connection's read waits before the silence counts:
    /// until it goes quiet, or until its Ping is due, whichever comes first.
    fn busy_timeout(&self) -> Option<Duration> {
        match (self.release_after, self.interval) {
            (Some(release), Some(interval)) => Some(release.min(interval)),
            (release, interval) => release.or(interval),
        }
    }

    /// The next message from `ws` (a connection over this stream), giving
    /// back its buffers when the peer goes quiet and pinging the peer when
    /// it falls silent. `None` once the peer stayed silent after the Ping:
    /// the Close 1001 has been sent. The read timeout changes only when the
    /// silence does, so a busy connection's messages cost no system call.
    #[inline]
    pub(crate) fn read<S: Read + Write>(
        &mut self,
        ws: &mut WebSocket<S>,
    ) -> Result<Option<Message>, Error> {
        self.read_with(ws, |ws, _quiet| ws.read())
    }

    /// [`Keepalive::read`] with `read` reading `ws`: the next message, or
    /// the next piece of one ([`WebSocket::read_piece`]). `read` is told
    /// whether the connection is quiet (its buffers given back, or none
    /// grown yet), so that it gives back buffers of its own too.
    #[inline]
    pub(crate) fn read_with<S: Read + Write, R>(
        &mut self,
        ws: &mut WebSocket<S>,
        mut read: impl FnMut(&mut WebSocket<S>, bool) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        loop {
            match read(ws, self.silence != Silence::Busy) {
                Ok(message) => {
                    if self.silence != Silence::Busy {
                        self.stream.set_read_timeout(self.busy_timeout())?;
                        self.silence = Silence::Busy;
                    }
                    return Ok(Some(message));
                }
                Err(Error::Io(e)) if is_timeout(&e) && self.waits_with_timeout() => {
                    if !self.on_silence(ws)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the read timeout is set in the current state, so that a
    /// timeout is the silence it measures.
    fn waits_with_timeout(&self) -> bool {
        match self.silence {
            Silence::Busy => self.busy_timeout().is_some(),
            Silence::Quiet => self.interval.is_some(),
            Silence::Pinged => true,
        }
    }

    /// Moves on after the read timed out: a busy connection goes quiet
    /// (giving back its buffers) or is pinged, a quiet one is pinged, and a
    /// pinged one is closed with 1001. Returns whether the connection goes
    /// on.
    #[inline(never)]
    fn on_silence<S: Read + Write>(&mut self, ws: &mut WebSocket<S>) -> Result<bool, Error> {
        match self.silence {
            Silence::Busy => {
                let waited = self.busy_timeout().unwrap_or_default();
                if self.release_after.is_some() {
                    ws.release_buffers();
                }
                match self
                    .interval
                    .map(|interval| interval.saturating_sub(waited))
                {
                    Some(Duration::ZERO) => self.ping(ws)?,
                    rest_of_interval => {
                        self.stream.set_read_timeout(rest_of_interval)?;
                        self.silence = Silence::Quiet;
                    }
                }
            }
            Silence::Quiet => self.ping(ws)?,
            Silence::Pinged => {
                let reason = format!("no pong within {:?}", self.pong_timeout);
                ws.close(CloseCode::GOING_AWAY, &reason)?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Pings the silent peer, which has the pong timeout to answer.
    fn ping<S: Read + Write>(&mut self, ws: &mut WebSocket<S>) -> Result<(), Error> {
        ws.send(Message::Ping(Vec::new()))?;
        self.stream.set_read_timeout(Some(self.pong_timeout))?;
        self.silence = Silence::Pinged;
        Ok(())
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
