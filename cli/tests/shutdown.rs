//! Graceful shutdown: the library's `Server::shutdown`, and `ws6455 echo`
//! and `ws6455 chat` on SIGTERM and SIGINT, as real child processes.
//!
//! RFC 6455 §7.4.1: 1001 "indicates that an endpoint is 'going away', such
//! as a server going down". Every client must see that Close, not a dropped
//! connection (1006).

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws6455::ServerConfig;
use ws6455::server::{Echo, SHUTDOWN_REASON, serve};
use ws6455::{CloseCode, CloseFrame, Message, WebSocket};

/// Reads until the server's Close; its frame.
fn close_from_server(ws: &mut WebSocket<TcpStream>) -> Option<CloseFrame> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame,
            Ok(_) => {}
            Err(e) => panic!("no Close from the server: {e}"),
        }
    }
}

fn going_away() -> Option<CloseFrame> {
    Some(CloseFrame {
        code: CloseCode::GOING_AWAY,
        reason: SHUTDOWN_REASON.to_owned(),
    })
}

/// `n` echo clients, each having had one echo (so each is past its handshake).
fn echo_clients(addr: SocketAddr, n: usize) -> Vec<WebSocket<TcpStream>> {
    (0..n)
        .map(|i| {
            let mut ws = connect(addr);
            ws.send(Message::Text(format!("hello {i}"))).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(format!("hello {i}")));
            ws
        })
        .collect()
}

/// Each client reads on a thread of its own until the server's Close
/// (answering it, as a client does), and gives its frame.
fn await_closes(clients: Vec<WebSocket<TcpStream>>) -> Vec<thread::JoinHandle<Option<CloseFrame>>> {
    clients
        .into_iter()
        .map(|mut ws| thread::spawn(move || close_from_server(&mut ws)))
        .collect()
}

#[test]
fn shutdown_closes_every_idle_connection_with_1001_and_reports_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve(listener, ServerConfig::default(), Echo).unwrap();
    let clients = await_closes(echo_clients(server.local_addr(), 20));
    let report = server.shutdown();
    assert_eq!(
        (report.connections, report.ended_in_time, report.cut),
        (20, 20, 0)
    );
    for client in clients {
        assert_eq!(client.join().unwrap(), going_away());
    }
}

#[test]
fn a_connection_busy_echoing_is_closed_with_1001_too() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve(listener, ServerConfig::default(), Echo).unwrap();
    let addr = server.local_addr();
    let sender = thread::spawn(move || {
        let mut ws = connect(addr);
        // Keep the server's thread busy: a message in flight at all times.
        let mut echoed = 0u64;
        loop {
            if ws.send(Message::Binary(vec![7; 1000])).is_err() {
                break;
            }
            match ws.read() {
                Ok(Message::Binary(_)) => echoed += 1,
                Ok(Message::Close(frame)) => return (frame, echoed),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => panic!("no Close from the server: {e}"),
            }
        }
        (close_from_server(&mut ws), echoed)
    });
    thread::sleep(Duration::from_millis(200));
    let report = server.shutdown();
    let (frame, echoed) = sender.join().unwrap();
    assert!(echoed > 0);
    assert_eq!(frame, going_away());
    assert_eq!(report.cut, 0, "{report}");
}

#[test]
fn a_client_that_never_answers_the_close_is_cut_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = ServerConfig::default().shutdown_timeout(Duration::from_millis(300));
    let server = serve(listener, config, Echo).unwrap();
    let addr = server.local_addr();
    let answering = await_closes(echo_clients(addr, 1));
    // Completes its handshake, then never reads or writes again.
    let mut silent = connect_for_raw_frames(addr);
    let started = Instant::now();
    let report = server.shutdown();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        (report.connections, report.ended_in_time, report.cut),
        (2, 1, 1)
    );
    for client in answering {
        assert_eq!(client.join().unwrap(), going_away());
    }
    // The silent client still gets the Close, then the end of the stream.
    assert_eq!(expect_close(&mut silent), Some(1001));
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
}

#[test]
fn after_shutdown_nothing_is_accepted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve(listener, ServerConfig::default(), Echo).unwrap();
    let addr = server.local_addr();
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_handle_from_another_thread_ends_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve(listener, ServerConfig::default(), Echo).unwrap();
    let clients = await_closes(echo_clients(server.local_addr(), 3));
    let handle = server.shutdown_handle();
    let waiting = thread::spawn(move || server.wait());
    thread::sleep(Duration::from_millis(50));
    assert!(!waiting.is_finished());
    handle.shutdown();
    assert_eq!(waiting.join().unwrap().ended_in_time, 3);
    for client in clients {
        assert_eq!(client.join().unwrap(), going_away());
    }
}

/// Connects `n` clients to a `ws6455` process, signals it, and returns the
/// close codes they saw (0 for none: the connection dropped), the exit
/// status, and its stderr.
fn signal_with_clients(
    server: Ws6455Server,
    n: usize,
    signal: &str,
    first_read: impl Fn(&mut WebSocket<TcpStream>),
) -> (Vec<u16>, Option<i32>, String) {
    let mut clients: Vec<_> = (0..n)
        .map(|_| {
            let mut ws = connect(server.addr);
            first_read(&mut ws);
            ws
        })
        .collect();
    server.signal(signal);
    let codes = clients
        .iter_mut()
        .map(|ws| {
            loop {
                match ws.read() {
                    Ok(Message::Close(frame)) => break frame.map_or(1005, |f| f.code.0),
                    Ok(_) => {}
                    Err(_) => break 0,
                }
            }
        })
        .collect();
    let (status, stderr) = server.wait_for_exit(Duration::from_secs(10));
    (codes, status.code(), stderr)
}

test_both_echoes!(
    echo_on_sigterm_closes_50_clients_with_1001_and_exits_0_on =>
    echo_on_sigterm_closes_50_clients_with_1001_and_exits_0,
    echo_on_sigterm_closes_50_clients_with_1001_and_exits_0_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_on_sigterm_closes_50_clients_with_1001_and_exits_0_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo"], flavour, &[]].concat());
    let (codes, status, stderr) = signal_with_clients(server, 50, "TERM", |ws| {
        ws.send(Message::Text("hi".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("hi".into()));
    });
    assert_eq!(codes, vec![1001; 50]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(
        stderr.contains("50 connection(s) open: 50 closed in time, 0 cut"),
        "{stderr}"
    );
}

#[test]
fn chat_on_sigint_closes_50_clients_with_1001_and_exits_0() {
    let server = start_ws6455(&["chat"]);
    let (codes, status, stderr) = signal_with_clients(server, 50, "INT", |ws| {
        // The welcome.
        assert!(matches!(ws.read().unwrap(), Message::Text(_)));
    });
    assert_eq!(codes, vec![1001; 50]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("SIGINT"), "{stderr}");
}

test_both_echoes!(
    a_second_signal_exits_at_once_on =>
    a_second_signal_exits_at_once,
    a_second_signal_exits_at_once_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn a_second_signal_exits_at_once_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo"], flavour, &["--shutdown-timeout", "30"]].concat());
    // A client that never answers the Close holds the shutdown open.
    let _silent = connect_for_raw_frames(server.addr);
    server.signal("TERM");
    thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    let started = Instant::now();
    let (status, stderr) = server.wait_for_exit(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(128 + 15), "{stderr}");
    assert!(stderr.contains("exiting now"), "{stderr}");
}

#[test]
fn a_server_whose_stderr_is_gone_keeps_serving_and_still_shuts_down_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(["echo", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).unwrap();
    let addr: SocketAddr = banner.rsplit("://").next().unwrap().trim().parse().unwrap();
    // The log's reader goes away: every line the server logs from now on
    // meets a closed pipe.
    drop(stderr);
    for _ in 0..3 {
        let mut ws = connect(addr);
        ws.send(Message::Text("still here".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("still here".into()));
        drop(ws);
    }
    let mut ws = connect(addr);
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(close_from_server(&mut ws), going_away());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
}
