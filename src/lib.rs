//! # ws6455
//!
//! A from-scratch, strict implementation of the WebSocket protocol,
//! [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455), meant to be read
//! alongside the RFC. Each MUST is checked where the RFC states it, with the
//! section cited in a comment and a test named after it.
//!
//! The crate is layered the way the protocol is:
//!
//! | layer | module | does I/O |
//! |---|---|---|
//! | WebSocket URIs (§3) | [`ws_uri`] | no |
//! | opening handshake (§4) | [`handshake`] | no |
//! | frames (§5.2), masking (§5.3) | [`frame`], [`mask`] | no |
//! | close codes (§5.5.1, §7.4) | [`close`] | no |
//! | UTF-8 (§8.1) | [`utf8`] | no |
//! | messages, fragmentation, control frames (§5.4–§5.6) | [`message`] | no |
//! | the connection's state machine (§5.5, §7), bytes to send, extension hooks (§9) | [`engine`], [`outgoing`], [`extension`] | no |
//! | a blocking connection, and its two halves for two threads | [`connection`], [`split`], [`accept`](mod@accept), [`connect`](mod@connect) | yes |
//! | a thread-per-connection server | [`server`] | yes |
//! | watching frames go by | [`trace`] | prints, when asked |
//!
//! ```no_run
//! use std::net::TcpListener;
//! use ws6455::{Message, accept};
//!
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     std::thread::spawn(move || -> Result<(), ws6455::Error> {
//!         let (mut ws, _request) = accept(stream?)?;
//!         loop {
//!             match ws.read()? {
//!                 msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!                 Message::Close(_) => return Ok(()),
//!                 Message::Ping(_) | Message::Pong(_) => {}
//!             }
//!         }
//!     });
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub mod deflate;
mod error;
pub mod handshake;
mod io;
pub mod proto;
pub mod server;
mod trace;

pub use error::Error;
pub use handshake::http::{Request, Response};
pub use io::accept::{accept, accept_hdr, accept_with};
pub use io::connect::{ClientConfig, client_handshake, connect, connect_with};
pub use io::split::{ReadHalf, WriteHalf};
pub use io::stream::Stream;
#[cfg(feature = "tls")]
pub use io::tls;
pub use io::websocket::WebSocket;
pub use io::{SplitStream, Transport};
pub use proto::close::CloseCode;
pub use proto::close_frame::CloseFrame;
pub use proto::engine::Engine;
pub use proto::message::{Message, MessageRef};
pub use proto::{Limits, Role};
pub use server::config::ServerConfig;
