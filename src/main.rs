//! The `ws6455` command: a WebSocket echo server, a client, and tools for
//! studying the protocol.

mod cli_client;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ws6455::ClientConfig;
use ws6455::explain::{explain_accept_key, explain_frames, parse_hex};
use ws6455::server::{ServerConfig, echo::Echo, listen_and_serve};

use crate::cli_client::ClientOptions;

/// A strict WebSocket (RFC 6455) implementation, and servers built on it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Echo every message back to its sender (the default command).
    Echo {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: SocketAddr,
        /// Do not log connects and disconnects.
        #[arg(long)]
        quiet: bool,
        /// Print every opening handshake and every frame in and out to
        /// stderr, annotated field by field.
        #[arg(long)]
        trace: bool,
    },
    /// Connect to a WebSocket server: stdin lines become text messages,
    /// received messages go to stdout. Closes with 1000 at the end of stdin.
    Client {
        /// The server, e.g. ws://127.0.0.1:9001/chat (wss:// needs TLS: not yet).
        url: String,
        /// Send stdin lines as binary messages instead of text.
        #[arg(long)]
        binary: bool,
        /// Offer this subprotocol (repeat for more, in order of preference).
        #[arg(long, value_name = "NAME")]
        subprotocol: Vec<String>,
        /// Send this header field with the opening request (repeatable).
        #[arg(long, value_name = "'NAME: VALUE'", value_parser = parse_header)]
        header: Vec<(String, Vec<u8>)>,
        /// Send a ping every this many seconds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        ping_interval: Option<Duration>,
        /// When the connection drops, connect again, with exponential
        /// backoff and jitter.
        #[arg(long)]
        reconnect: bool,
        /// Print the opening handshake and every frame in and out to stderr,
        /// annotated field by field.
        #[arg(long)]
        trace: bool,
    },
    /// Explain frames given in hex, byte by byte, and say why an invalid one
    /// is invalid. E.g. `ws6455 decode 81 05 48 65 6c 6c 6f`.
    Decode {
        /// The bytes: `81 05 48`, `0x81 0x05 0x48`, `810548` or the RFC's `0x0100`.
        #[arg(required = true, num_args = 1.., value_name = "HEX")]
        hex: Vec<String>,
    },
    /// Compute the Sec-WebSocket-Accept for a Sec-WebSocket-Key, step by step.
    AcceptKey {
        /// The client's key, e.g. dGhlIHNhbXBsZSBub25jZQ==
        key: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Echo {
        listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
        quiet: false,
        trace: false,
    });
    match command {
        Command::Echo {
            listen,
            quiet,
            trace,
        } => {
            let config = ServerConfig {
                log: !quiet,
                trace,
                ..ServerConfig::default()
            };
            eprintln!("ws6455 echo server listening on ws://{listen}");
            if let Err(e) = listen_and_serve(listen, config, Echo) {
                eprintln!("ws6455: cannot serve on {listen}: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Command::Client {
            url,
            binary,
            subprotocol,
            header,
            ping_interval,
            reconnect,
            trace,
        } => cli_client::run(ClientOptions {
            url,
            binary,
            ping_interval,
            reconnect,
            config: ClientConfig {
                subprotocols: subprotocol,
                headers: header,
                trace,
                ..ClientConfig::default()
            },
        }),
        Command::Decode { hex } => match parse_hex(&hex.join(" ")) {
            Ok(bytes) => {
                print!("{}", explain_frames(&bytes));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ws6455 decode: {e}");
                ExitCode::from(2)
            }
        },
        Command::AcceptKey { key } => {
            print!("{}", explain_accept_key(&key));
            ExitCode::SUCCESS
        }
    }
}

/// `Name: value`, as given to `--header`.
fn parse_header(text: &str) -> Result<(String, Vec<u8>), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not 'Name: value'"))?;
    Ok((name.trim().to_owned(), value.trim().as_bytes().to_vec()))
}

/// A positive number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(duration)) if !duration.is_zero() => Ok(duration),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_arguments_are_name_colon_value() {
        assert_eq!(
            parse_header("Origin: http://example.com"),
            Ok(("Origin".to_owned(), b"http://example.com".to_vec()))
        );
        assert!(parse_header("no colon").is_err());
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "nan", "inf", "1e300", "x"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
