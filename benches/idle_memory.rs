//! Idle memory: the resident memory each idle connection costs the echo
//! server, for ws6455 beside tungstenite, and a check that ws6455's echo
//! server holds 10,000 concurrent connections. Run with
//! `cargo bench --bench idle_memory`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use support::{ServerKind, ServerProcess, frames, handshake};

const IDLE_CONNECTIONS: usize = 5000;
const CONCURRENT_CONNECTIONS: usize = 10_000;
/// File descriptors needed by this process (one per client socket) and the server.
const FD_LIMIT: u64 = CONCURRENT_CONNECTIONS as u64 + 1000;

fn main() {
    support::serve_if_asked();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !support::ensure_fd_limit("idle_memory", FD_LIMIT) {
        return;
    }
    println!(
        "idle_memory: RSS growth of the echo server process over {IDLE_CONNECTIONS} idle connections"
    );
    for (i, kind) in ServerKind::ALL.into_iter().enumerate() {
        let server = ServerProcess::start(kind, 9750 + i as u16);
        // One connection first, so start-up allocations are not counted.
        let warm = handshake(server.addr).unwrap();
        thread::sleep(Duration::from_millis(200));
        let before = server.rss_kib();
        let idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
            .map(|_| handshake(server.addr).unwrap())
            .collect();
        thread::sleep(Duration::from_secs(1));
        let after = server.rss_kib();
        println!(
            "  {:<12} {:>8} KiB -> {:>8} KiB: {:.1} KiB per idle connection",
            kind.name(),
            before,
            after,
            (after - before) as f64 / IDLE_CONNECTIONS as f64
        );
        drop((warm, idle));
    }

    let server = ServerProcess::start(ServerKind::Ws6455, 9760);
    let mut held: Vec<TcpStream> = Vec::with_capacity(CONCURRENT_CONNECTIONS);
    for _ in 0..CONCURRENT_CONNECTIONS {
        match handshake(server.addr) {
            Ok(stream) => held.push(stream),
            Err(e) => {
                println!(
                    "  ws6455 refused connection {} of {CONCURRENT_CONNECTIONS}: {e}",
                    held.len() + 1
                );
                return;
            }
        }
    }
    // Every 100th connection echoes a message while all are open.
    let message = frames(16, 1);
    let mut echoed = 0;
    for stream in held.iter_mut().step_by(100) {
        stream.write_all(&message).unwrap();
        let mut reply = [0u8; 18];
        stream.read_exact(&mut reply).unwrap();
        echoed += usize::from(reply[1] == 16);
    }
    println!(
        "  ws6455 held {} concurrent connections ({} KiB RSS); {echoed}/{} sampled connections echoed",
        held.len(),
        server.rss_kib(),
        held.len() / 100
    );
}
