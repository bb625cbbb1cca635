//! End-to-end echo benchmark: ws6455's echo server beside tungstenite's
//! blocking one, driven by the same load generator in one run; then
//! ws6455's echo over TLS (`serve_tls`) beside the same echo over TCP.
//!
//! Each server runs as a child process pinned to core 0; the load generator
//! runs pinned to core 1, except for the latency scenario, whose one client
//! thread shares core 0 with the server. For every scenario and server it
//! takes the median of three rounds. Run it with `cargo bench --bench
//! echo_load`, or `cargo bench --bench echo_load -- 16MiB` for the scenarios
//! whose names contain a word (spaces do not count: `"16 B"` is `16B`);
//! `-- wss` runs the TLS one.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use support::{FrameCounter, ServerKind, ServerProcess, frames, handshake, wss_handshake};
use ws6455::{SplitStream, Transport};

const ROUNDS: usize = 3;
const ROUND_TIME: Duration = Duration::from_secs(2);

struct Scenario {
    /// Whether the client shares the server's core (for latency).
    same_core: bool,
    name: &'static str,
    connections: usize,
    size: usize,
    window: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "8 conns x 16 B, window 64",
        connections: 8,
        size: 16,
        window: 64,
        same_core: false,
    },
    Scenario {
        name: "1 conn x 16 B, window 1, same core",
        connections: 1,
        size: 16,
        window: 1,
        same_core: true,
    },
    Scenario {
        name: "4 conns x 64 KiB, window 8",
        connections: 4,
        size: 64 << 10,
        window: 8,
        same_core: false,
    },
    Scenario {
        name: "1 conn x 16 MiB, window 1",
        connections: 1,
        size: 16 << 20,
        window: 1,
        same_core: false,
    },
];

/// The small-message load over TLS against ws6455's echo (`serve_tls`).
/// Its rounds alternate with rounds of the same load over TCP against
/// ws6455's echo, so the two figures and their ratio come from one run.
const WSS: Scenario = Scenario {
    name: "8 conns x 16 B, window 64, wss",
    connections: 8,
    size: 16,
    window: 64,
    same_core: false,
};

/// How the load generator reaches a server: WebSocket over TCP, or over TLS
/// with a configuration that trusts the server's certificate.
#[derive(Clone)]
enum Wire {
    Tcp,
    Tls(Arc<rustls::ClientConfig>),
}

impl Wire {
    fn of(server: &ServerProcess) -> Wire {
        match &server.tls {
            Some(tls) => Wire::Tls(Arc::clone(tls)),
            None => Wire::Tcp,
        }
    }
}

/// What one round measured.
#[derive(Clone, Default)]
struct Measured {
    messages_per_sec: f64,
    mib_per_sec: f64,
    /// Round-trip latencies, for window-1 scenarios.
    p50_us: f64,
    p99_us: f64,
    /// CPU used during the round, in cores: by the load generator (all its
    /// threads) and by the server process. Measured for the wss scenario.
    load_cpu: f64,
    server_cpu: f64,
}

fn main() {
    support::serve_if_asked();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    support::pin_self_to_load_core();
    println!(
        "echo_load: servers pinned to core 0, load to core 1: {}; median of {ROUNDS} rounds of {ROUND_TIME:?}",
        support::can_pin()
    );
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let chosen = |s: &Scenario| {
        words.is_empty()
            || words
                .iter()
                .any(|w| s.name.replace(' ', "").contains(&w.replace(' ', "")))
    };
    let mut table = Vec::new();
    for (i, scenario) in SCENARIOS.iter().enumerate().filter(|(_, s)| chosen(s)) {
        let mut row = Vec::new();
        for (j, kind) in ServerKind::ALL.into_iter().enumerate() {
            let server = ServerProcess::start(kind, 9700 + (i * 2 + j) as u16);
            let rounds = (0..ROUNDS)
                .map(|_| run_round(server.addr, &Wire::Tcp, scenario))
                .collect();
            row.push(median(rounds));
        }
        table.push((scenario, row));
    }
    if !table.is_empty() {
        print_table(&table);
    }
    if chosen(&WSS) {
        print_wss(&measure_wss());
    }
}

/// The round with the median message rate.
fn median(mut rounds: Vec<Measured>) -> Measured {
    rounds.sort_by(|a, b| a.messages_per_sec.total_cmp(&b.messages_per_sec));
    rounds[rounds.len() / 2].clone()
}

/// The wss scenario: (over TCP, over TLS), each the median of its rounds,
/// with the CPU both ends used.
fn measure_wss() -> (Measured, Measured) {
    let first_port = 9700 + 2 * SCENARIOS.len() as u16;
    let servers = [
        ServerProcess::start(ServerKind::Ws6455, first_port),
        ServerProcess::start(ServerKind::Ws6455Tls, first_port + 1),
    ];
    let mut rounds = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (server, rounds) in servers.iter().zip(&mut rounds) {
            let (load_before, server_before) = (support::own_cpu_time(), server.cpu_time());
            let started = Instant::now();
            let mut measured = run_round(server.addr, &Wire::of(server), &WSS);
            let secs = started.elapsed().as_secs_f64();
            measured.load_cpu = (support::own_cpu_time() - load_before).as_secs_f64() / secs;
            measured.server_cpu = (server.cpu_time() - server_before).as_secs_f64() / secs;
            rounds.push(measured);
        }
    }
    let [tcp, tls] = rounds;
    (median(tcp), median(tls))
}

fn run_round(addr: SocketAddr, wire: &Wire, scenario: &Scenario) -> Measured {
    if scenario.window == 1 {
        let (size, same_core, wire) = (scenario.size, scenario.same_core, wire.clone());
        return thread::spawn(move || {
            if same_core {
                support::pin_this_thread_to_server_core();
            }
            match wire {
                Wire::Tcp => ping_pong(handshake(addr).unwrap(), size),
                Wire::Tls(tls) => ping_pong(wss_handshake(addr, &tls).unwrap(), size),
            }
        })
        .join()
        .unwrap();
    }
    let workers: Vec<_> = (0..scenario.connections)
        .map(|_| {
            let (size, window, wire) = (scenario.size, scenario.window, wire.clone());
            thread::spawn(move || match wire {
                Wire::Tcp => windowed(handshake(addr).unwrap(), size, window),
                Wire::Tls(tls) => windowed(wss_handshake(addr, &tls).unwrap(), size, window),
            })
        })
        .collect();
    let messages: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let secs = ROUND_TIME.as_secs_f64();
    Measured {
        messages_per_sec: messages as f64 / secs,
        mib_per_sec: (messages as f64 * scenario.size as f64) / secs / f64::from(1 << 20),
        ..Measured::default()
    }
}

/// Keeps `window` messages in flight on one connection for [`ROUND_TIME`];
/// returns how many came back. A reader thread counts echoes and hands the
/// writer one credit per echo, so neither side can block the other. Over
/// TLS, each write of frames is sealed as one record.
fn windowed<S>(stream: S, size: usize, window: usize) -> u64
where
    S: SplitStream,
    S::Reader: 'static,
    S::Writer: Transport,
{
    let (mut reader, mut writer) = stream.split_stream().unwrap();
    let batch = frames(size, window);
    let frame_len = batch.len() / window;
    let (credits, returned) = mpsc::channel::<u64>();
    let deadline = Instant::now() + ROUND_TIME;
    let counting = thread::spawn(move || {
        let mut counter = FrameCounter::default();
        let mut buf = vec![0u8; 256 << 10];
        let mut echoed = 0u64;
        while Instant::now() < deadline {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let done = counter.feed(&buf[..n]);
            echoed += done;
            if done > 0 && credits.send(done).is_err() {
                break;
            }
        }
        echoed
    });
    writer.write_all(&batch).unwrap();
    while let Ok(done) = returned.recv() {
        let mut done = done as usize;
        while let Ok(more) = returned.try_recv() {
            done += more as usize;
        }
        let mut left = done;
        while left > 0 {
            let now = left.min(window);
            if writer.write_all(&batch[..now * frame_len]).is_err() {
                break;
            }
            left -= now;
        }
    }
    let echoed = counting.join().unwrap();
    let _ = writer.shutdown(Shutdown::Both);
    echoed
}

/// One message at a time: the round-trip latency, and throughput for large ones.
fn ping_pong<S: Read + Write>(mut stream: S, size: usize) -> Measured {
    let frame = frames(size, 1);
    let mut counter = FrameCounter::default();
    let mut buf = vec![0u8; 256 << 10];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < ROUND_TIME {
        let sent = Instant::now();
        stream.write_all(&frame).unwrap();
        loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "server closed the connection");
            if counter.feed(&buf[..n]) > 0 {
                break;
            }
        }
        latencies.push(sent.elapsed());
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let messages = latencies.len() as f64;
    Measured {
        messages_per_sec: messages / secs,
        mib_per_sec: messages * size as f64 / secs / f64::from(1 << 20),
        p50_us: at(0.5),
        p99_us: at(0.99),
        ..Measured::default()
    }
}

fn print_table(table: &[(&Scenario, Vec<Measured>)]) {
    println!();
    println!(
        "| scenario | ws6455 msgs/s | ws6455 MiB/s | tungstenite msgs/s | tungstenite MiB/s | ratio | latency p50 / p99 (ws6455 vs tungstenite) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (scenario, row) in table {
        let (ours, theirs) = (&row[0], &row[1]);
        let latency = if scenario.window == 1 {
            format!(
                "{:.1} / {:.1} µs vs {:.1} / {:.1} µs",
                ours.p50_us, ours.p99_us, theirs.p50_us, theirs.p99_us
            )
        } else {
            String::new()
        };
        println!(
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {:.2}x | {} |",
            scenario.name,
            ours.messages_per_sec,
            ours.mib_per_sec,
            theirs.messages_per_sec,
            theirs.mib_per_sec,
            ours.messages_per_sec / theirs.messages_per_sec,
            latency
        );
    }
}

fn print_wss((tcp, tls): &(Measured, Measured)) {
    println!();
    println!(
        "| scenario | ws6455 ws:// msgs/s | ws6455 wss:// msgs/s | wss / ws | load CPU ws / wss | server CPU ws / wss |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.0} | {:.0} | {:.2} | {:.0} % / {:.0} % | {:.0} % / {:.0} % |",
        WSS.name,
        tcp.messages_per_sec,
        tls.messages_per_sec,
        tls.messages_per_sec / tcp.messages_per_sec,
        tcp.load_cpu * 100.0,
        tls.load_cpu * 100.0,
        tcp.server_cpu * 100.0,
        tls.server_cpu * 100.0,
    );
}
