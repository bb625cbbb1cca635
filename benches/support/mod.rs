//! What the end-to-end benchmarks share: the two echo servers under test
//! (and ws6455's over TLS), run as child processes of the bench binary
//! pinned to their own core, and a cheap client side (`load.rs`: a
//! handshake over TCP or TLS, pre-encoded frames, a frame counter).

#![allow(dead_code)] // each bench binary uses its own subset

mod load;

pub use load::*;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use ws6455::deflate::DeflateConfig;
use ws6455::tls::TlsStream;

/// The servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `ws6455 echo`: the crate's thread-per-connection echo service.
    Ws6455,
    /// tungstenite's blocking API, one thread per connection, `read` then `send`.
    Tungstenite,
    /// `ws6455 echo --no-deflate`.
    Ws6455NoDeflate,
    /// `ws6455 echo` with permessage-deflate's dedicated-context setting
    /// (`context_takeover: true`).
    Ws6455ContextTakeover,
    /// `ws6455 echo` over TLS (`serve_tls`), with a self-signed certificate
    /// for `localhost` that [`ServerProcess::start`] makes.
    Ws6455Tls,
}

impl ServerKind {
    /// The servers compared with each other.
    pub const ALL: [ServerKind; 2] = [ServerKind::Ws6455, ServerKind::Tungstenite];

    const EVERY: [ServerKind; 5] = [
        ServerKind::Ws6455,
        ServerKind::Tungstenite,
        ServerKind::Ws6455NoDeflate,
        ServerKind::Ws6455ContextTakeover,
        ServerKind::Ws6455Tls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Ws6455 => "ws6455",
            ServerKind::Tungstenite => "tungstenite",
            ServerKind::Ws6455NoDeflate => "ws6455-no-deflate",
            ServerKind::Ws6455ContextTakeover => "ws6455-context-takeover",
            ServerKind::Ws6455Tls => "ws6455-wss",
        }
    }

    fn from_name(name: &str) -> Option<ServerKind> {
        ServerKind::EVERY.into_iter().find(|k| k.name() == name)
    }
}

/// If this process was started as a server (`--serve KIND PORT`, and for
/// TLS the certificate and key files), serves forever and never returns.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--serve") else {
        return;
    };
    let kind = ServerKind::from_name(&args[at + 1]).expect("unknown server kind");
    let listener = TcpListener::bind(("127.0.0.1", args[at + 2].parse::<u16>().unwrap())).unwrap();
    let deflate = match kind {
        ServerKind::Tungstenite => {
            serve_tungstenite(listener);
            std::process::exit(0);
        }
        ServerKind::Ws6455 | ServerKind::Ws6455Tls => Some(DeflateConfig::for_server()),
        ServerKind::Ws6455NoDeflate => None,
        ServerKind::Ws6455ContextTakeover => {
            Some(DeflateConfig::for_server().context_takeover(true))
        }
    };
    let config = ws6455::ServerConfig::default().deflate(deflate);
    let echo = ws6455::server::Echo;
    let server = if kind == ServerKind::Ws6455Tls {
        let (cert_file, key_file) = (Path::new(&args[at + 3]), Path::new(&args[at + 4]));
        let tls = ws6455::tls::server_config(cert_file, key_file).unwrap();
        ws6455::server::serve_tls(listener, tls, config, echo)
    } else {
        ws6455::server::serve(listener, config, echo)
    };
    server.unwrap().wait();
    std::process::exit(0);
}

/// The peer: tungstenite's documented blocking server, with `TCP_NODELAY`
/// like ours, echoing each data message with `send` (write and flush).
fn serve_tungstenite(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = tungstenite::accept(stream) else {
                return;
            };
            while let Ok(message) = ws.read() {
                if (message.is_text() || message.is_binary()) && ws.send(message).is_err() {
                    return;
                }
            }
        });
    }
}

/// Whether there are cores enough to keep server and load generator apart.
/// Decided once: after we pin ourselves, our own affinity shows one core.
pub fn can_pin() -> bool {
    static CAN_PIN: OnceLock<bool> = OnceLock::new();
    *CAN_PIN.get_or_init(|| {
        thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
            && Command::new("taskset").arg("--version").output().is_ok()
    })
}

/// Pins this process (and the threads it starts from now on) to core 1.
pub fn pin_self_to_load_core() {
    if can_pin() {
        let pid = std::process::id().to_string();
        let _ = Command::new("taskset")
            .args(["-a", "-cp", "1", &pid])
            .stdout(Stdio::null())
            .status();
    }
}

/// Pins the calling thread to core 0, beside the server: latency is measured
/// with both ends on one core, so no cross-core wake-up is timed.
pub fn pin_this_thread_to_server_core() {
    if can_pin() {
        let thread = std::fs::read_link("/proc/thread-self").unwrap();
        let tid = thread.file_name().unwrap().to_string_lossy().into_owned();
        let _ = Command::new("taskset")
            .args(["-cp", "0", &tid])
            .stdout(Stdio::null())
            .status();
    }
}

/// A server child process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// For a TLS server: a client configuration that trusts its certificate.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ServerProcess {
    /// Starts `kind` on `port`, pinned to core 0 where possible.
    pub fn start(kind: ServerKind, port: u16) -> ServerProcess {
        let exe = std::env::current_exe().unwrap();
        let mut args = vec![
            "--serve".to_owned(),
            kind.name().to_owned(),
            port.to_string(),
        ];
        // The certificate's files live until the server has read them.
        let mut certificate_dir = None;
        let mut tls = None;
        if kind == ServerKind::Ws6455Tls {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
            let dir =
                std::env::temp_dir().join(format!("ws6455-bench-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
            std::fs::write(&cert_file, made.cert.pem()).unwrap();
            std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
            args.push(cert_file.display().to_string());
            args.push(key_file.display().to_string());
            tls = Some(ws6455::tls::client_config(vec![made.cert.der().clone()]).unwrap());
            certificate_dir = Some(dir);
        }
        let mut command = if can_pin() {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let child = command.args(args).stdout(Stdio::null()).spawn().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} did not start",
                kind.name()
            );
            thread::sleep(Duration::from_millis(20));
        }
        if let Some(dir) = certificate_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        ServerProcess { child, addr, tls }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process has had, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// CPU time the process has used so far (user and system, all threads).
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(&self.pid().to_string())
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time this process has used so far (user and system, all threads,
/// those that ended included).
pub fn own_cpu_time() -> Duration {
    cpu_time_of("self")
}

/// utime + stime from `/proc/PID/stat`, counted in ticks of 1/100 s (Linux's
/// `USER_HZ`).
fn cpu_time_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses: utime and
    // stime are the 14th and 15th of the line.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Opens a WebSocket connection over TLS (`wss://`) to the server that
/// `tls` trusts, as `localhost`, and returns the stream after the 101.
pub fn wss_handshake(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> io::Result<TlsStream> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = TlsStream::client(tcp, Arc::clone(tls), name)?;
    stream.handshake()?;
    upgrade(stream, addr)
}
