//! The `ws6455` command: a WebSocket echo server.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ws6455::server::{ServerConfig, echo::Echo, listen_and_serve};

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
            if let Err(e) = listen_and_serve(listen, config, Echo) {
                eprintln!("ws6455: cannot serve on {listen}: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
    }
}
