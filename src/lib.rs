//! # ws6455
//!
//! A from-scratch, strict implementation of the WebSocket protocol,
//! [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455), and of
//! permessage-deflate, [RFC 7692](https://www.rfc-editor.org/rfc/rfc7692),
//! meant to be read alongside the RFCs. Each MUST is checked where the RFC
//! states it, with the section cited in a comment and a test named after it.
//!
//! # The layers
//!
//! The crate is layered the way the protocol is, and only the I/O layer
//! touches a socket:
//!
//! | layer | module | does I/O |
//! |---|---|---|
//! | frames (§5.2), masking (§5.3), UTF-8 (§8.1), close codes (§7.4), messages and fragmentation (§5.4), extension hooks (§9), the connection's state machine (§5.5, §7): bytes in, messages and bytes to send out | [`proto`], with [`Engine`], [`Message`], [`CloseCode`] at the root | no |
//! | the opening handshake (§4): one HTTP head parser, the server's and the client's checks, `ws://` URIs (§3), the extension header (§9.1) | [`handshake`], with [`Request`] and [`Response`] at the root | no |
//! | permessage-deflate (RFC 7692): configuration, negotiation, codec (feature `deflate`) | [`deflate`] | no |
//! | a blocking connection over any stream ([`Transport`]), its two halves for two threads, the handshakes over a stream, TCP or TLS (feature `tls`) | [`WebSocket`], [`ReadHalf`], [`WriteHalf`], [`accept`], [`accept_hdr`], [`connect`], `tls` | yes |
//! | a thread-per-connection server: config, graceful shutdown, keepalive, its log | [`server`], with [`ServerConfig`] at the root | yes |
//! | the same connection on tokio (feature `tokio`): a futures `Stream` and `Sink` over any `AsyncRead + AsyncWrite` stream, its two halves for two tasks, the handshakes over such a stream, the way in from hyper | `WebSocketStream`, `AsyncReadHalf`, `AsyncWriteHalf`, `accept_async`, `accept_hdr_async`, `connect_async`, `answer_upgrade` | yes |
//!
//! Errors live with the layer that raises them ([`proto::ProtocolError`],
//! [`handshake::RequestError`], [`handshake::ResponseError`], ...);
//! [`Error`] gathers them.
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate through flate2 with its
//!   zlib-rs backend. Without it, no connection compresses.
//! - `tls` (default): `wss://` through rustls with the *ring* provider,
//!   trusting webpki-roots' public roots. Without it, `wss://` is refused.
//!
//! - `tokio` (off): the connection on tokio, `WebSocketStream`, over the
//!   same [`Engine`]: the same limits, deflate and closing rules as the
//!   blocking [`WebSocket`]. Its example is on `WebSocketStream`.
//! - `tokio-tls` (off): `wss://` on tokio, through tokio-rustls over the
//!   same rustls configurations as `tls` (it turns on `tokio` and `tls`).
//!
//! With the default features, a crate that depends on this one builds 26
//! crates; with none, 15 (itself included).
//!
//! # Logging
//!
//! The library prints nothing. It logs through the [`log`] facade, and the
//! application's logger decides what is shown: a server's connects,
//! disconnects and refused handshakes at info level and each message at
//! debug level under the target `ws6455::server`, a resource running out
//! at warn level, and, when the logger takes [`log::Level::Trace`] for the
//! target `ws6455::trace`, every opening handshake and frame of every
//! connection, annotated field by field.
//!
//! # The protocol with no I/O
//!
//! [`Engine`] is the whole protocol: bytes in, messages and bytes to send
//! out, for event loops of your own. Two engines talk to each other here,
//! with nothing between them but byte vectors:
//!
//! ```
//! use ws6455::{Engine, Limits, Message, Role};
//!
//! let mut client = Engine::new(Role::Client, Limits::default());
//! let mut server = Engine::new(Role::Server, Limits::default());
//!
//! client.send(Message::text("Hello"))?;
//! let mut wire = Vec::new();
//! client.output().drain_into(&mut wire); // masked, as a client's frames are (§5.3)
//!
//! let progress = server.receive(&mut wire)?;
//! assert_eq!(progress.used, wire.len());
//! assert_eq!(progress.message, Some(Message::text("Hello")));
//! # Ok::<(), ws6455::Error>(())
//! ```
//!
//! # A server and a client
//!
//! Over a loopback socket, the echo of a tutorial:
//!
//! ```
//! use std::net::TcpListener;
//! use ws6455::{CloseCode, Message, accept, connect};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), ws6455::Error> {
//!     let (stream, _) = listener.accept()?;
//!     let (mut ws, _request) = accept(stream)?;
//!     loop {
//!         match ws.read()? {
//!             message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message)?,
//!             Message::Close(_) => return Ok(()),
//!             Message::Ping(_) | Message::Pong(_) => {} // Pings are answered for you
//!         }
//!     }
//! });
//!
//! let (mut ws, _response) = connect(&format!("ws://{addr}/"))?;
//! ws.send(Message::text("Hello"))?;
//! assert_eq!(ws.read()?.as_text(), Some("Hello"));
//! ws.close(CloseCode::NORMAL, "")?;
//! while !ws.read()?.is_close() {}
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`accept_hdr`] looks at the request before the 101: see its example,
//! which refuses a foreign `Origin` with 403.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub mod deflate;
mod error;
pub mod handshake;
mod io;
#[cfg(feature = "tokio")]
mod io_async;
pub mod proto;
pub mod server;
mod trace;

pub use error::Error;
pub use handshake::http::{Request, Response};
pub use io::accept::{UpgradeAnswer, accept, accept_hdr, accept_with, answer_upgrade};
pub use io::connect::{ClientConfig, client_handshake, connect, connect_with};
pub use io::split::{ReadHalf, WriteHalf};
pub use io::stream::Stream;
#[cfg(feature = "tls")]
pub use io::tls;
pub use io::websocket::WebSocket;
pub use io::{SplitStream, Transport};
#[cfg(feature = "tokio")]
pub use io_async::accept::{accept_async, accept_hdr_async};
#[cfg(feature = "tokio")]
pub use io_async::client_stream::AsyncStream;
#[cfg(feature = "tokio")]
pub use io_async::connect::{client_handshake_async, connect_async, connect_async_with};
#[cfg(feature = "tokio")]
pub use io_async::split::{AsyncReadHalf, AsyncWriteHalf};
#[cfg(feature = "tokio")]
pub use io_async::stream::WebSocketStream;
pub use proto::close::CloseCode;
pub use proto::close_frame::CloseFrame;
pub use proto::engine::Engine;
pub use proto::message::{Message, MessageKind, MessageRef, Piece, StreamEvent};
pub use proto::settings::{Limits, Role};
pub use server::config::ServerConfig;
