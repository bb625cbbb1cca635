//! The blocking layer: the protocol [`Engine`](crate::Engine) over a stream
//! that reads and writes, and the only layer that touches a socket.
//!
//! What a stream must offer ([`Transport`]: deadlines, shutting down, use
//! from two threads), TCP or TLS ([`Stream`](crate::Stream), [`tls`](crate::tls));
//! the connection ([`WebSocket`](crate::WebSocket)) and its two halves for
//! two threads ([`ReadHalf`](crate::ReadHalf), [`WriteHalf`](crate::WriteHalf),
//! over a [`SplitStream`]); the opening handshakes over a stream, the
//! server's ([`accept`](crate::accept), [`accept_hdr`](crate::accept_hdr),
//! [`accept_with`](crate::accept_with)) and the client's
//! ([`connect`](crate::connect), [`client_handshake`](crate::client_handshake)).

pub(crate) mod accept;
pub(crate) mod close_request;
pub(crate) mod connect;
pub(crate) mod quiet;
pub(crate) mod read_buffer;
pub(crate) mod read_head;
pub(crate) mod split;
pub(crate) mod stream;
#[cfg(feature = "tls")]
pub mod tls;
pub(crate) mod transport;
pub(crate) mod websocket;

pub use split::SplitStream;
pub use transport::Transport;
