//! Churn: `ws6455 echo`, as the command line runs it, holding idle
//! connections while others are opened and closed at a steady rate. Each
//! churned connection does the opening handshake, echoes one message and
//! closes with the closing handshake. The bench compares the server before
//! and after: resident memory, threads and open file descriptors, which
//! should be back where they were; then checks that the idle connections
//! still echo.
//!
//! `cargo bench --bench churn` runs 1,000 connections a second for 60 s on
//! top of 5,000 idle ones; `CHURN_SECS`, `CHURN_RATE` and `CHURN_IDLE`
//! change those. Pings are off (`--ping-interval` of a day): the idle
//! clients here never read, so they would not answer them. With
//! `CHURN_ASYNC=1` the server is `ws6455 echo --async`, the echo on tokio:
//! issue 24 asks that it too end the soak with its RSS within 10 % and its
//! descriptors back.

#[path = "../../benches/support/load.rs"]
mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{frames, handshake};

/// Threads opening churned connections, each its share of the rate.
const WORKERS: u32 = 8;
/// A masked Close with code 1000, and the server's answer: a Close with 1000.
const CLOSE: [u8; 8] = [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2];
const CLOSE_ANSWER: [u8; 4] = [0x88, 0x02, 0x03, 0xe8];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (secs, rate, idle) = (
        setting("CHURN_SECS", 60),
        setting("CHURN_RATE", 1000),
        setting("CHURN_IDLE", 5000) as usize,
    );
    let on_tokio = match std::env::var("CHURN_ASYNC").as_deref() {
        Ok("1") => true,
        Ok("0") | Err(_) => false,
        Ok(other) => panic!("CHURN_ASYNC: {other:?} is not 1 or 0"),
    };
    if !support::ensure_fd_limit("churn", idle as u64 + 2000) {
        return;
    }
    println!(
        "churn: {rate} connections/s opened, echoed and closed for {secs} s, \
         on top of {idle} idle ones, against `ws6455 echo{}`",
        if on_tokio { " --async" } else { "" }
    );
    let server = EchoProcess::start(on_tokio);
    // One connection first, so start-up allocations are not counted.
    let warm = handshake(server.addr).unwrap();
    assert!(echoes(&warm).unwrap());
    let held: Vec<TcpStream> = (0..idle).map(|_| handshake(server.addr).unwrap()).collect();
    thread::sleep(Duration::from_secs(1));
    let before = server.usage();

    let (opened, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (opened, failed) = (Arc::clone(&opened), Arc::clone(&failed));
            let addr = server.addr;
            let every = Duration::from_secs_f64(f64::from(WORKERS) / rate as f64);
            // Workers start staggered, so the connections are spread evenly.
            let first = started + every / WORKERS * worker;
            thread::spawn(move || {
                let mut next = first;
                while next < started + Duration::from_secs(secs) {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    next += every;
                    match churn_once(addr) {
                        Ok(()) => opened.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let took = started.elapsed();
    // The last connections' threads end once their clients are gone.
    thread::sleep(Duration::from_secs(2));
    let after = server.usage();
    let (opened, failed) = (
        opened.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    println!(
        "  churned: {opened} connections in {:.1} s ({:.0}/s), {failed} failed",
        took.as_secs_f64(),
        opened as f64 / took.as_secs_f64()
    );
    let growth = (after.rss_kib as f64 / before.rss_kib as f64 - 1.0) * 100.0;
    println!(
        "  RSS: {} KiB before, {} KiB after ({growth:+.1} %)",
        before.rss_kib, after.rss_kib
    );
    println!(
        "  threads: {} before, {} after; open descriptors: {} before, {} after",
        before.threads, after.threads, before.fds, after.fds
    );
    let mut sampled = 0;
    let mut echoed = 0;
    for stream in held.iter().step_by(100) {
        sampled += 1;
        echoed += usize::from(echoes(stream).unwrap_or(false));
    }
    println!("  idle connections: {echoed}/{sampled} sampled echoed after the churn");
}

/// One churned connection: handshake, one echo, closing handshake.
fn churn_once(addr: SocketAddr) -> io::Result<()> {
    let mut stream = handshake(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    if !echoes(&stream)? {
        return Err(io::Error::other("wrong echo"));
    }
    stream.write_all(&CLOSE)?;
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer)?;
    if answer != CLOSE_ANSWER {
        return Err(io::Error::other("wrong Close answer"));
    }
    Ok(())
}

/// Sends one 16-byte message and reads its echo: whether it came back whole.
fn echoes(mut stream: &TcpStream) -> io::Result<bool> {
    stream.write_all(&frames(16, 1))?;
    let mut reply = [0u8; 18];
    stream.read_exact(&mut reply)?;
    Ok(reply[..2] == [0x82, 16] && reply[2..].iter().all(|&b| b == b'x'))
}

/// The `ws6455 echo` process; killed when dropped.
struct EchoProcess {
    child: Child,
    addr: SocketAddr,
}

/// What the server holds at one moment.
#[derive(Clone, Copy)]
struct Usage {
    rss_kib: u64,
    threads: u64,
    fds: usize,
}

impl EchoProcess {
    /// Starts `ws6455 echo` on a free port, `--async` if `on_tokio`, and
    /// waits until it accepts connections.
    fn start(on_tokio: bool) -> EchoProcess {
        // A free port: bound, then let go for the server to take.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
            .args(["echo", "--quiet", "--ping-interval", "86400", "--listen"])
            .arg(addr.to_string())
            .args(on_tokio.then_some("--async"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "ws6455 echo{} did not start",
                if on_tokio { " --async" } else { "" }
            );
            thread::sleep(Duration::from_millis(20));
        }
        EchoProcess { child, addr }
    }

    fn usage(&self) -> Usage {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        Usage {
            rss_kib: field("VmRSS:"),
            threads: field("Threads:"),
            fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count(),
        }
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
