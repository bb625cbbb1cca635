//! The connection on tokio (feature `tokio`): the same [`Engine`](crate::Engine)
//! as the blocking [`WebSocket`](crate::WebSocket), driven by an async stream
//! instead of a blocking one, and the opening handshake over such a stream.

pub(crate) mod accept;
pub(crate) mod client_stream;
pub(crate) mod connect;
pub(crate) mod stream;
#[cfg(feature = "tokio-tls")]
pub(crate) mod tls;
