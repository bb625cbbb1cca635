//! `ws6455 echo --async`: the echo on tokio, over the library's
//! `WebSocketStream` (issue 24; for now without TLS, keepalive, the
//! connection log or graceful shutdown).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use ws6455::{Error, Message, ServerConfig, accept_hdr_async};

/// Serves the echo on `listen` until the process is stopped.
pub(crate) fn run(listen: SocketAddr, config: ServerConfig) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ws6455 echo --async: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("ws6455: cannot serve on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(listen);
        log_line!("ws6455 echo server listening on ws://{addr} (async)");
        let config = Arc::new(config);
        loop {
            match listener.accept().await {
                Ok((tcp, _peer)) => {
                    let config = Arc::clone(&config);
                    tokio::spawn(async move {
                        let _ = echo(tcp, &config).await;
                    });
                }
                Err(e) => log_line!("ws6455 echo --async: accept: {e}"),
            }
        }
    })
}

/// One connection: every text and binary message back to its sender.
async fn echo(tcp: TcpStream, config: &ServerConfig) -> Result<(), Error> {
    let _ = tcp.set_nodelay(true);
    let (mut ws, _request) = accept_hdr_async(tcp, config, |_| Ok(Vec::new())).await?;
    loop {
        // What was received in one read is echoed with one write: echoes
        // are queued while messages are at hand, and flushed before waiting.
        let message = match ws.next().now_or_never() {
            Some(message) => message,
            None => {
                ws.flush().await?;
                ws.next().await
            }
        };
        let Some(message) = message else {
            return Ok(());
        };
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.feed(message).await?,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
        }
    }
}
