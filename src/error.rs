//! Errors, split by who is at fault (see STYLE.md): the peer broke the
//! protocol or one of our limits ([`ProtocolError`], which maps to the close
//! code sent before the TCP connection is closed), a client's opening
//! handshake was refused by us ([`RequestError`], which maps to the HTTP
//! status we answer), the server's answer to our opening handshake fails it
//! ([`ResponseError`]), or the caller misused the API ([`UsageError`], and
//! [`UriError`] for a URI we cannot connect to).

use std::{fmt, io};

use crate::handshake::client::ResponseError;
use crate::handshake::server::RequestError;
use crate::handshake::uri::UriError;
#[cfg(feature = "tls")]
use crate::io::tls::config::TlsError;
use crate::proto::message::Message;
use crate::proto::{ProtocolError, UsageError};

/// Everything that can end or refuse a WebSocket operation: the errors of
/// each layer, gathered. It is matched exhaustively only inside this crate;
/// a new variant is not a breaking change.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed. A peer that drops the connection without a Close
    /// frame shows up as [`io::ErrorKind::UnexpectedEof`].
    Io(io::Error),
    /// The opening handshake was refused; the HTTP answer has been sent.
    Request(RequestError),
    /// The peer broke the protocol; the Close frame with
    /// [`ProtocolError::close_code`] has been sent.
    Protocol(ProtocolError),
    /// The server's answer to our opening handshake fails the connection (client side).
    Response(ResponseError),
    /// The caller misused the API; nothing was sent.
    Usage(UsageError),
    /// The URI to connect to is not a `ws://` URI we can use; nothing was sent.
    Uri(UriError),
    /// TLS failed: the handshake (a certificate that does not verify, say),
    /// or making a configuration.
    #[cfg(feature = "tls")]
    Tls(TlsError),
    /// The message was not queued: [`Limits::max_write_buffer`] bytes or
    /// more wait to be sent already, because the peer reads slowly or not
    /// at all. Nothing was lost: the message is given back (for a message
    /// sent by reference, the caller still holds it), and the connection
    /// stays open; flush, or try again later.
    ///
    /// [`Limits::max_write_buffer`]: crate::Limits::max_write_buffer
    WriteBufferFull {
        /// The message, when it was given by value.
        message: Option<Message>,
        /// The bytes waiting to be sent.
        queued: usize,
    },
    /// The connection is closed: the close handshake finished or the
    /// connection failed, and nothing more can be read or written.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Request(e) => write!(f, "handshake refused: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Response(e) => write!(f, "opening handshake failed: {e}"),
            Error::Usage(e) => write!(f, "usage error: {e}"),
            Error::Uri(e) => write!(f, "invalid URI: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.fmt(f),
            Error::WriteBufferFull { queued, .. } => {
                write!(f, "write buffer full: {queued} bytes wait to be sent")
            }
            Error::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Request(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Response(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::Uri(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            Error::WriteBufferFull { .. } | Error::Closed => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Error {
        Error::Request(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Error {
        Error::Response(e)
    }
}

#[cfg(feature = "tls")]
impl From<TlsError> for Error {
    fn from(e: TlsError) -> Error {
        Error::Tls(e)
    }
}

impl From<UriError> for Error {
    fn from(e: UriError) -> Error {
        Error::Uri(e)
    }
}
