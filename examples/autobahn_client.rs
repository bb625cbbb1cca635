//! The Autobahn|Testsuite client driver. `wstest -m fuzzingserver` plays a
//! server that misbehaves in every way the suite knows; this asks it how
//! many cases there are, runs each one echoing every message back, and asks
//! it to write its report. `autobahn/run.sh client` starts wstest and runs
//! this:
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```

use std::process::ExitCode;
use std::time::Duration;

use ws6455::{Error, Message, WebSocket, connect};

/// The name the results are filed under in wstest's report.
const AGENT: &str = "ws6455";

/// How long to wait for the server to close TCP after the closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/');
    let count = match case_count(base) {
        Ok(count) => count,
        Err(e) => {
            eprintln!("autobahn_client: cannot get the case count from {base}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("autobahn_client: running {count} cases against {base}");
    let mut ended_with_error = 0;
    for case in 1..=count {
        let uri = format!("{base}/runCase?case={case}&agent={AGENT}");
        // Many cases send something we must refuse, so an error here is
        // often the right outcome; wstest's report is the judge.
        if let Err(e) = run_case(&uri) {
            ended_with_error += 1;
            println!("case {case}: {e}");
        }
    }
    println!("autobahn_client: {count} cases run, {ended_with_error} ended with an error");
    if let Err(e) = update_reports(base) {
        eprintln!("autobahn_client: cannot update the reports: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = connect(&format!("{base}/getCaseCount"))?;
    let reply = ws.read()?;
    until_closed(&mut ws)?;
    ws.wait_for_server_close(CLOSE_TIMEOUT)?;
    match reply {
        Message::Text(count) => Ok(count.trim().parse()?),
        other => Err(format!("expected the case count as text, got {other:?}").into()),
    }
}

/// Echoes every text and binary message until the connection closes.
fn run_case(uri: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(uri)?;
    let result = echo(&mut ws);
    // The server closes TCP first (RFC 6455 §7.1.1); give it the chance.
    let _ = ws.wait_for_server_close(CLOSE_TIMEOUT);
    result
}

fn echo<S: std::io::Read + std::io::Write>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    loop {
        match ws.read()? {
            // Queued, not sent: read() flushes before it blocks, so a burst
            // of messages is answered with one write.
            message @ (Message::Text(_) | Message::Binary(_)) => ws.queue(message)?,
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Ok(()),
        }
    }
}

fn update_reports(base: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(&format!("{base}/updateReports?agent={AGENT}"))?;
    until_closed(&mut ws)?;
    let _ = ws.wait_for_server_close(CLOSE_TIMEOUT);
    Ok(())
}

/// Reads until the server's Close, ignoring anything else.
fn until_closed<S: std::io::Read + std::io::Write>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while !matches!(ws.read()?, Message::Close(_)) {}
    Ok(())
}
