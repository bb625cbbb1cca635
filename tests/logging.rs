//! The library logs through the `log` facade and prints nothing itself:
//! with a logger installed, a server's connection events arrive at info
//! level under `ws6455::server`, each message at debug, and with trace
//! level under `ws6455::trace` every opening handshake and frame, each line
//! after the peer's address.

mod common;

use std::sync::{Mutex, OnceLock};

use common::start_echo;
use log::{Level, LevelFilter, Log, Metadata, Record};
use ws6455::{CloseCode, Message, connect};

/// Every record logged in this test binary: (target, level, line).
struct Recorder(Mutex<Vec<(String, Level, String)>>);

impl Log for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let line = (
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        );
        self.0.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::new(Recorder(Mutex::new(Vec::new()))));
        log::set_logger(recorder).unwrap();
        log::set_max_level(LevelFilter::Trace);
        recorder
    })
}

/// The lines logged about the connection from local port `port`, with
/// their target and level, once the server has said how it ended.
fn lines_of(port: u16) -> Vec<(String, Level, String)> {
    let peer = format!("127.0.0.1:{port}");
    for _ in 0..500 {
        let lines: Vec<_> = recorder()
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, line)| line.starts_with(&peer))
            .cloned()
            .collect();
        if lines
            .iter()
            .any(|(_, _, line)| line.contains(": disconnected after "))
        {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no disconnect line for {peer}");
}

/// Echoes one text over a fresh connection to a fresh echo server, closes,
/// and returns the client's local port.
fn echo_once(text: &str) -> u16 {
    recorder();
    let addr = start_echo();
    let (mut ws, _) = connect(&format!("ws://{addr}/logged")).unwrap();
    let port = ws.get_ref().tcp().local_addr().unwrap().port();
    ws.send(Message::text(text)).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text(text));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    while !ws.read().unwrap().is_close() {}
    port
}

#[test]
fn connection_events_are_info_and_messages_debug_under_ws6455_server() {
    let lines = lines_of(echo_once("hello"));
    let server: Vec<_> = lines
        .iter()
        .filter(|(target, _, _)| target == "ws6455::server")
        .map(|(_, level, line)| (*level, line.split_once(": ").unwrap().1))
        .collect();
    assert!(
        server.contains(&(Level::Info, "connected to /logged")),
        "{server:#?}"
    );
    assert!(
        server.contains(&(Level::Debug, "received text (5 bytes) \"hello\"")),
        "{server:#?}"
    );
    assert!(
        server.iter().any(|(level, line)| *level == Level::Info
            && line.starts_with("disconnected after ")
            && line.contains("the client closed with 1000 (normal closure) \"bye\"")),
        "{server:#?}"
    );
}

#[test]
fn a_traced_server_logs_its_handshake_and_every_frame_and_still_echoes() {
    let lines = lines_of(echo_once("traced"));
    let trace: Vec<&str> = lines
        .iter()
        .filter(|(target, level, _)| target == "ws6455::trace" && *level == Level::Trace)
        .map(|(_, _, line)| line.split_once(' ').unwrap().1)
        .collect();
    assert!(trace.contains(&"< GET /logged HTTP/1.1"), "{trace:#?}");
    assert!(
        trace.contains(&"> HTTP/1.1 101 Switching Protocols"),
        "{trace:#?}"
    );
    assert!(
        trace
            .iter()
            .any(|line| line.starts_with("< text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 ")),
        "{trace:#?}"
    );
    assert!(
        trace
            .iter()
            .any(|line| line.starts_with("> close FIN=1 RSV1-3=000 opcode=0x8 MASK=0 ")),
        "{trace:#?}"
    );
}
