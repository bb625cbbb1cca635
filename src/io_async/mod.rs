//! The connection on tokio (feature `tokio`): the same [`Engine`](crate::Engine)
//! as the blocking [`WebSocket`](crate::WebSocket), driven by an async stream
//! instead of a blocking one, and the opening handshake over such a stream.
//!
//! A server inside another HTTP server (hyper, and so axum) leaves the
//! request to it: [`answer_upgrade`](crate::answer_upgrade) answers the
//! request head with the 101 (or the refusal) to send, deciding it as
//! [`accept_async`](crate::accept_async) does, and once the HTTP server
//! hands over the upgraded stream,
//! [`WebSocketStream::from_agreed`](crate::WebSocketStream::from_agreed)
//! makes the connection that 101 agreed to (`examples/hyper_upgrade.rs`).

pub(crate) mod accept;
pub(crate) mod client_stream;
pub(crate) mod connect;
pub(crate) mod read_head;
pub(crate) mod split;
pub(crate) mod stream;
#[cfg(feature = "tokio-tls")]
pub(crate) mod tls;
pub(crate) mod wakers;
