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

// Lets `annotate.rs`, which the `ws6455` command compiles too, name this
// crate the same way in both.
extern crate self as ws6455;

/// `eprintln!` that cannot panic: a server whose stderr has gone away (a
/// closed pipe) keeps serving, and loses only its log lines.
macro_rules! log_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!` that cannot panic; see `log_line!`.
macro_rules! log_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod accept;
mod annotate;
pub mod close;
pub mod close_frame;
mod close_request;
pub mod connect;
pub mod connection;
pub mod decode;
pub mod deflate;
pub mod engine;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod opcode;
pub mod outgoing;
pub mod protocol_error;
mod read_buffer;
mod read_head;
pub mod server;
pub mod shared_message;
pub mod split;
pub mod tls;
pub mod trace;
pub mod transport;
pub mod utf8;
pub mod ws_uri;

pub use accept::{ServerConfig, accept, accept_with};
pub use close::CloseCode;
pub use close_frame::CloseFrame;
pub use connect::{ClientConfig, client_handshake, connect, connect_with};
pub use connection::WebSocket;
pub use engine::{Engine, FirstClose};
pub use error::{Error, HandshakeError, ProtocolError, ResponseError, UsageError};
pub use message::{Limits, Message, MessageRef, Role};
pub use shared_message::SharedMessage;
pub use split::{ReadHalf, SplitStream, WriteHalf};
pub use transport::Transport;
