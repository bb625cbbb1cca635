//! Helpers for the programs' tests: the library's own socket-level helpers
//! (one source, `tests/common/mod.rs`: a server on an ephemeral port, a
//! hand-written client handshake, raw frames), and a `ws6455` process.

#![allow(dead_code)] // each test file uses its own subset of these helpers

#[path = "../../../tests/common/mod.rs"]
mod library;

#[allow(unused_imports)] // as above: not every test file uses the library's helpers
pub use library::*;

/// Two tests of one body, `$body(flags: &[&str])`: `$blocking` against
/// `ws6455 echo` (no flags), `$on_tokio` against `ws6455 echo --async`.
#[allow(unused_macros)] // as above: not every test file tests both echoes
macro_rules! test_both_echoes {
    ($body:ident => $blocking:ident, $on_tokio:ident) => {
        #[test]
        fn $blocking() {
            $body(&[]);
        }

        #[test]
        fn $on_tokio() {
            $body(&["--async"]);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use test_both_echoes;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A `ws6455` server process on a free port, killed when dropped so that a
/// failing test leaves no server behind.
pub struct Ws6455Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The rest of its stderr, after the line naming its address.
    pub stderr: BufReader<ChildStderr>,
}

/// Starts `ws6455 ARGS --listen 127.0.0.1:0`: the server binds a free port
/// and its first line on stderr names it.
pub fn start_ws6455(args: &[&str]) -> Ws6455Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The banner may come after other lines (the chat's "Redis reached").
    let mut banner = String::new();
    let addr = loop {
        banner.clear();
        if stderr.read_line(&mut banner).unwrap() == 0 {
            panic!("ws6455 {args:?} exited without naming its address");
        }
        let addr = banner
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.trim().parse().ok());
        if let Some(addr) = addr {
            break addr;
        }
    };
    Ws6455Server {
        child,
        addr,
        stderr,
    }
}

impl Ws6455Server {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server; returns what it wrote to stderr after its first line.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        rest
    }
}

impl Ws6455Server {
    /// Sends the server process `signal` (`"TERM"`, `"INT"`), as `kill` does.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to exit; its status and the
    /// rest of its stderr.
    pub fn wait_for_exit(mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(10));
        };
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        (status, rest)
    }
}

impl Drop for Ws6455Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rate limits no test meets, for the tests that flood the chat on
/// purpose: the limit itself is tested in `flood.rs`.
pub const NO_RATE_LIMIT: [&str; 6] = [
    "--rate",
    "1000000000",
    "--burst",
    "1000000000",
    "--rate-bytes",
    "1000000000000",
];

/// The next JSON event from the chat, skipping Pings (which the client
/// answers) and Pongs.
pub fn next_event<S: std::io::Read + std::io::Write>(
    ws: &mut ws6455::WebSocket<S>,
) -> serde_json::Value {
    loop {
        match ws.read().unwrap() {
            ws6455::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            ws6455::Message::Ping(_) | ws6455::Message::Pong(_) => {}
            other => panic!("expected an event, got {other:?}"),
        }
    }
}
