//! The `ws6455` command: a WebSocket echo server, and a chat server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ws6455::Limits;
use ws6455::server::chat::{self, Chat, ChatConfig};
use ws6455::server::{ServerConfig, Service, echo::Echo, listen_and_serve};

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
    },
    /// A chat with rooms: open http://ADDRESS/ or http://ADDRESS/ROOM in a browser.
    Chat {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// The largest message a client may send, in bytes (larger: close 1009).
        #[arg(long, default_value_t = chat::DEFAULT_MAX_MESSAGE)]
        max_message: u64,
        /// The most bytes waiting to be sent to one client (more: close 1008).
        #[arg(long, default_value_t = ChatConfig::default().outgoing_queue_bytes)]
        queue_bytes: usize,
        /// Seconds without a word from a client before it is pinged.
        #[arg(long, default_value_t = ChatConfig::default().ping_interval.as_secs_f64())]
        ping_interval: f64,
        /// Seconds a pinged client has to answer before it is closed with 1001.
        #[arg(long, default_value_t = ChatConfig::default().pong_timeout.as_secs_f64())]
        pong_timeout: f64,
        /// Do not log connects and disconnects.
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Echo {
        listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
        quiet: false,
    });
    match command {
        Command::Echo { listen, quiet } => {
            let config = ServerConfig {
                log: !quiet,
                ..ServerConfig::default()
            };
            eprintln!("ws6455 echo server listening on ws://{listen}");
            run(listen, config, Echo)
        }
        Command::Chat {
            listen,
            max_message,
            queue_bytes,
            ping_interval,
            pong_timeout,
            quiet,
        } => {
            let (Some(ping_interval), Some(pong_timeout)) =
                (seconds(ping_interval), seconds(pong_timeout))
            else {
                eprintln!("ws6455: --ping-interval and --pong-timeout take positive seconds");
                return ExitCode::FAILURE;
            };
            let config = ServerConfig {
                limits: Limits {
                    max_frame_size: max_message,
                    max_message_size: max_message,
                },
                log: !quiet,
                ..chat::server_config()
            };
            let chat_config = ChatConfig {
                outgoing_queue_bytes: queue_bytes,
                ping_interval,
                pong_timeout,
            };
            eprintln!("ws6455 chat: open http://{listen}/ (or http://{listen}/ROOM) in a browser");
            let service = Chat::new(chat_config, config.close_timeout);
            run(listen, config, service)
        }
    }
}

/// A positive, finite number of seconds as a duration.
fn seconds(value: f64) -> Option<Duration> {
    (value > 0.0).then(|| Duration::try_from_secs_f64(value).ok())?
}

fn run<S: Service>(listen: SocketAddr, config: ServerConfig, service: S) -> ExitCode {
    match listen_and_serve(listen, config, service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws6455: cannot serve on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}
