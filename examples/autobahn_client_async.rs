//! The Autobahn|Testsuite client driver on tokio (feature `tokio`): as
//! `autobahn_client.rs`, over `connect_async` and `WebSocketStream`.
//!
//! ```sh
//! cargo run --release --features tokio --example autobahn_client_async -- ws://127.0.0.1:9001
//! ```

use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use ws6455::{Error, Message, connect_async};

/// The name the results are filed under in wstest's report.
const AGENT: &str = "ws6455";

/// How long to wait for the server to close TCP after the closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> ExitCode {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/');
    let count = match case_count(base).await {
        Ok(count) => count,
        Err(e) => {
            eprintln!("autobahn_client_async: cannot get the case count from {base}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("autobahn_client_async: running {count} cases against {base}");
    let mut ended_with_error = 0;
    for case in 1..=count {
        let uri = format!("{base}/runCase?case={case}&agent={AGENT}");
        // Many cases send something we must refuse, so an error here is
        // often the right outcome; wstest's report is the judge.
        if let Err(e) = run_case(&uri).await {
            ended_with_error += 1;
            println!("case {case}: {e}");
        }
    }
    println!("autobahn_client_async: {count} cases run, {ended_with_error} ended with an error");
    if let Err(e) = update_reports(base).await {
        eprintln!("autobahn_client_async: cannot update the reports: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = connect_async(&format!("{base}/getCaseCount")).await?;
    let reply = ws.next().await.ok_or("the server closed first")??;
    while ws.next().await.transpose()?.is_some() {}
    match reply {
        Message::Text(count) => Ok(count.trim().parse()?),
        other => Err(format!("expected the case count as text, got {other:?}").into()),
    }
}

/// Echoes every text and binary message until the connection closes.
async fn run_case(uri: &str) -> Result<(), Error> {
    let (mut ws, _) = connect_async(uri).await?;
    let mut result = Ok(());
    while let Some(message) = ws.next().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if let Err(e) = ws.send(message).await {
                    result = Err(e);
                    break;
                }
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_)) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // The server closes TCP first (RFC 6455 §7.1.1); give it the chance.
    let mut tcp = ws.into_inner();
    let mut rest = [0u8; 1024];
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while matches!(tcp.read(&mut rest).await, Ok(n) if n > 0) {}
    })
    .await;
    result
}

async fn update_reports(base: &str) -> Result<(), Error> {
    let (mut ws, _) = connect_async(&format!("{base}/updateReports?agent={AGENT}")).await?;
    while ws.next().await.transpose()?.is_some() {}
    Ok(())
}
