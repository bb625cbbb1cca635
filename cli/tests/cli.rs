//! The `ws6455` command as a user runs it: `client` against the echo
//! server, `decode` on RFC 6455 §5.7's examples, `accept-key` on §4.2.2's.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ws6455::{Message, ServerConfig};

/// Runs `ws6455 args...` with `stdin`, and gives up after 10 seconds.
fn ws6455(args: &[&str], stdin: &[u8]) -> Output {
    run(args, Some(stdin))
}

/// Runs `ws6455 args...` with `stdin`, or with a stdin that stays open
/// until it exits, and gives up after 10 seconds.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let open_stdin = match stdin {
        Some(bytes) => {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
            None
        }
        None => child.stdin.take(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ws6455 {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(open_stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn client_round_trips_stdin_lines_and_closes_with_1000() {
    let url = format!("ws://{}/", start_echo());
    let output = ws6455(&["client", &url], "hello\nκόσμε\n".as_bytes());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "hello\nκόσμε\n");
}

#[test]
fn client_trace_shows_the_handshake_and_every_frame() {
    let url = format!("ws://{}/", start_echo());
    let output = ws6455(&["client", "--trace", &url], b"hello\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let trace = text(&output.stderr);
    for expected in [
        "> GET / HTTP/1.1\n",
        "> Sec-WebSocket-Version: 13\n",
        "< HTTP/1.1 101 Switching Protocols\n",
        "> text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=",
        "< text FIN=1 RSV1-3=000 opcode=0x1 MASK=0 len=5 (7-bit) payload: 68 65 6c 6c 6f \"hello\"\n",
        "= 1000 normal closure\n",
    ] {
        assert!(trace.contains(expected), "{expected:?} in\n{trace}");
    }
}

#[test]
fn client_and_echo_compress_with_permessage_deflate_unless_told_not_to() {
    let url = format!("ws://{}/", start_echo());
    let line = "compress me, compress me, compress me, compress me, compress me\n";
    let output = ws6455(&["client", "--trace", &url], line.as_bytes());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), line);
    let trace = text(&output.stderr);
    for expected in [
        "> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\n",
        "< Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\n",
        "> text FIN=1 RSV1-3=100 opcode=0x1 MASK=1",
        "< text FIN=1 RSV1-3=100 opcode=0x1 MASK=0",
    ] {
        assert!(trace.contains(expected), "{expected:?} in\n{trace}");
    }

    let output = ws6455(
        &["client", "--trace", "--no-deflate", &url],
        line.as_bytes(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), line);
    let trace = text(&output.stderr);
    assert!(!trace.contains("Sec-WebSocket-Extensions"), "{trace}");
    assert!(!trace.contains("RSV1-3=100"), "{trace}");
}

#[test]
fn client_binary_sends_lines_as_binary_and_shows_them_in_hex() {
    let url = format!("ws://{}/", start_echo());
    let output = ws6455(&["client", "--binary", &url], b"hello\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "[binary, 5 bytes] 68 65 6c 6c 6f\n");
}

#[test]
fn client_reports_a_refused_handshake() {
    let addr = start_echo();
    let output = ws6455(
        &["client", &format!("ws://{addr}/"), "--header", "Host: x"],
        b"",
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("\"Host\" is set by the opening handshake"));
    let output = ws6455(&["client", "https://127.0.0.1:1/"], b"");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("is not a WebSocket scheme: use ws:// or wss://"));
}

#[test]
fn decode_explains_the_rfc_examples() {
    let output = ws6455(
        &[
            "decode", "0x81", "0x05", "0x48", "0x65", "0x6c", "0x6c", "0x6f",
        ],
        b"",
    );
    assert!(output.status.success());
    let explanation = text(&output.stdout);
    assert!(explanation.contains("opcode=0x1  text"), "{explanation}");
    assert!(
        explanation.ends_with("valid: a whole text message, \"Hello\"\n"),
        "{explanation}"
    );

    let output = ws6455(&["decode", "81 85 37 fa 21 3d 7f 9f 4d 51 58"], b"");
    assert!(text(&output.stdout).contains("unmasked: 48 65 6c 6c 6f"));
}

#[test]
fn decode_deflate_inflates_a_compressed_message() {
    // RFC 7692 §7.2.3.1: "Hello" compressed, as a server sends it.
    let hello = "c1 07 f2 48 cd c9 c9 07 00";
    let output = ws6455(&["decode", "--deflate", hello], b"");
    assert!(output.status.success());
    assert!(
        text(&output.stdout).ends_with(
            "valid: a whole text message, compressed: 7 bytes on the wire, \
             inflated to 5 bytes, \"Hello\"\n"
        ),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn decode_says_why_a_frame_is_invalid() {
    let output = ws6455(&["decode", "c1 02 68 69"], b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout)
            .contains("invalid: RSV1 set but no extension negotiated (RFC 6455 §5.2)"),
        "{}",
        text(&output.stdout)
    );
    let output = ws6455(&["decode", "xyz"], b"");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn decode_judges_each_frame_by_its_own_mask_bit() {
    // RFC 6455 §5.7's "Hello" from a client (masked), then from a server.
    let output = ws6455(
        &[
            "decode",
            "81 85 37 fa 21 3d 7f 9f 4d 51 58",
            "81 05 48 65 6c 6c 6f",
        ],
        b"",
    );
    let explanation = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{explanation}");
    let server = &explanation[explanation.find("frame 2, from byte 11:").unwrap()..];
    assert!(
        server.contains("MASK=0      the payload is not masked: sent by a server"),
        "{explanation}"
    );
    assert!(
        server.ends_with("valid: a whole text message, \"Hello\"\n"),
        "{explanation}"
    );
    assert_eq!(
        explanation.matches("valid: a whole text message").count(),
        2
    );
}

#[test]
fn decode_exits_0_for_an_incomplete_frame() {
    let output = ws6455(&["decode", "81 05 48"], b"");
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).ends_with("incomplete: 1 of the 5 payload bytes are here\n"));
}

#[test]
fn decode_names_the_incomplete_byte_of_an_odd_number_of_hex_digits() {
    for (args, message) in [
        (
            &["decode", "8105f"][..],
            "ws6455 decode: \"8105f\": odd number of hex digits: byte 2, \"f\", is incomplete\n",
        ),
        (
            &["decode", "81", "0", "48"][..],
            "ws6455 decode: \"0\": odd number of hex digits: byte 1, \"0\", is incomplete\n",
        ),
    ] {
        let output = ws6455(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(text(&output.stderr), message, "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn accept_key_shows_the_sha1_on_the_way() {
    let output = ws6455(&["accept-key", "dGhlIHNhbXBsZSBub25jZQ=="], b"");
    assert!(output.status.success());
    let steps = text(&output.stdout);
    assert!(
        steps.contains("b37a4f2cc0624f1690f64606cf385945b2bec4ea"),
        "{steps}"
    );
    assert!(
        steps.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{steps}"
    );
}

/// Closes every connection at once with its code and a reason.
struct CloseWithReason(u16);

impl ws6455::server::Service for CloseWithReason {
    fn session(
        &self,
        connection: ws6455::server::Upgraded<'_>,
        _request: &ws6455::Request,
    ) -> Result<(), ws6455::Error> {
        connection.with_websocket(|ws| {
            ws.close(ws6455::CloseCode(self.0), "internal detail")?;
            while !matches!(ws.read()?, ws6455::Message::Close(_)) {}
            Ok(())
        })
    }
}

#[test]
fn rfc6455_5_5_1_client_does_not_show_the_close_reason() {
    let url = format!(
        "ws://{}/",
        start_server(ServerConfig::default(), CloseWithReason(4000))
    );
    let output = run(&["client", &url], None);
    let shown = text(&output.stderr);
    assert!(shown.contains("closed by the server: 4000"), "{shown}");
    assert!(!shown.contains("internal detail"), "{shown}");
}

#[test]
fn client_exits_0_after_1000_or_1001_and_1_after_any_other_close() {
    for (code, status) in [(1000, 0), (1001, 0), (1011, 1), (4000, 1)] {
        let url = format!(
            "ws://{}/",
            start_server(ServerConfig::default(), CloseWithReason(code))
        );
        let output = run(&["client", &url], None);
        assert_eq!(output.status.code(), Some(status), "close {code}");
    }
}

test_both_echoes!(
    echo_trace_shows_the_handshake_and_frames_both_ways_on =>
    echo_trace_shows_the_handshake_and_frames_both_ways,
    echo_trace_shows_the_handshake_and_frames_both_ways_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_trace_shows_the_handshake_and_frames_both_ways_on(flavour: &[&str]) {
    use ws6455::{CloseCode, Message};

    let server = start_ws6455(&[&["echo", "--trace", "--quiet", "--no-deflate"], flavour].concat());
    let mut ws = connect_to(server.addr, "/traced");
    ws.send(Message::Text("hello".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("hello".into()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    ws.finish_close().unwrap();
    let trace = server.stop();
    for expected in [
        "< GET /traced HTTP/1.1\n",
        "> HTTP/1.1 101 Switching Protocols\n",
        "< text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=",
        " len=5 (7-bit) payload: 68 65 6c 6c 6f \"hello\"\n",
        "> text FIN=1 RSV1-3=000 opcode=0x1 MASK=0 len=5 (7-bit) payload: 68 65 6c 6c 6f \"hello\"\n",
        "< close FIN=1",
        "> close FIN=1",
    ] {
        assert!(trace.contains(expected), "{expected:?} in\n{trace}");
    }
    // Each line of a connection starts with the peer's address.
    let peer = format!("127.0.0.1:{} ", ws.get_ref().local_addr().unwrap().port());
    assert!(
        trace.contains(&format!("{peer}< GET /traced HTTP/1.1\n")),
        "{peer:?} in\n{trace}"
    );
}

#[test]
fn chat_trace_shows_frames_both_ways() {
    use std::net::SocketAddr;
    use ws6455::{CloseCode, Message};

    // Port 0: the server binds a free port and its first line names it.
    let server = start_ws6455(&["chat", "--trace", "--quiet"]);
    let addr: SocketAddr = server.addr;
    let mut ws = connect_to(addr, "/kitchen");
    assert!(matches!(ws.read().unwrap(), Message::Text(t) if t.contains("\"welcome\"")));
    ws.send(Message::Text("hello".into())).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Text(t) if t.contains("\"hello\"")));
    ws.close(CloseCode::NORMAL, "").unwrap();
    ws.finish_close().unwrap();
    let trace = server.stop();
    for expected in [
        "< GET /kitchen HTTP/1.1\n",
        "> HTTP/1.1 101 Switching Protocols\n",
        "< text FIN=1 RSV1-3=000 opcode=0x1 MASK=1 key=",
        " len=5 (7-bit) payload: 68 65 6c 6c 6f \"hello\"\n",
        "> text FIN=1 RSV1-3=000 opcode=0x1 MASK=0 len=",
        "< close FIN=1",
        "> close FIN=1",
    ] {
        assert!(trace.contains(expected), "{expected:?} in\n{trace}");
    }
}

test_both_echoes!(
    echo_max_message_closes_a_longer_message_with_1009_on =>
    echo_max_message_closes_a_longer_message_with_1009,
    echo_max_message_closes_a_longer_message_with_1009_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_max_message_closes_a_longer_message_with_1009_on(flavour: &[&str]) {
    let server = start_ws6455(
        &[
            &["echo"],
            flavour,
            &["--quiet", "--no-deflate", "--max-message", "10"],
        ]
        .concat(),
    );
    let (mut ws, _) = ws6455::connect(&format!("ws://{}/", server.addr)).unwrap();
    ws.send(Message::Text("0123456789".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("0123456789".into()));
    // The frame limit follows the message limit: 11 bytes in one frame is refused.
    ws.send(Message::Text("0123456789+".into())).unwrap();
    match ws.read() {
        Ok(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, ws6455::CloseCode::MESSAGE_TOO_BIG)
        }
        other => panic!("{other:?}"),
    }
}

test_both_echoes!(
    echo_max_connections_answers_one_more_with_503_and_retry_after_on =>
    echo_max_connections_answers_one_more_with_503_and_retry_after,
    echo_max_connections_answers_one_more_with_503_and_retry_after_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_max_connections_answers_one_more_with_503_and_retry_after_on(flavour: &[&str]) {
    let server = start_ws6455(&[&["echo", "--quiet", "--max-connections", "1"], flavour].concat());
    let (mut first, _) = ws6455::connect(&format!("ws://{}/", server.addr)).unwrap();
    let answer = http_exchange(server.addr, upgrade_request(server.addr).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
    first.send(Message::Text("still served".into())).unwrap();
    assert_eq!(first.read().unwrap(), Message::Text("still served".into()));
    first.close(ws6455::CloseCode::NORMAL, "").unwrap();
    assert!(matches!(first.read().unwrap(), Message::Close(_)));
    first.wait_for_server_close(Duration::from_secs(2)).unwrap();
    // Once the first has gone, there is room again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect_raw(server.addr);
        stream
            .write_all(upgrade_request(server.addr).as_bytes())
            .unwrap();
        let answer = read_response_head(&mut stream);
        if answer.starts_with("HTTP/1.1 101 ") {
            break;
        }
        assert!(Instant::now() < deadline, "{answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn chat_max_connections_answers_one_more_with_503_and_retry_after() {
    let server = start_ws6455(&["chat", "--quiet", "--max-connections", "1"]);
    let (_first, _) = ws6455::connect(&format!("ws://{}/", server.addr)).unwrap();
    let answer = http_exchange(server.addr, upgrade_request(server.addr).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
}

/// A connection to `addr` that sends the start of an opening request and
/// then nothing (a slowloris).
fn stall(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let mut stream = connect_raw(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    stream
}

/// The head of the answer to a valid opening request for `addr`, with
/// `fields` (each ending in CRLF) added; and the connection, kept open by
/// the caller while it counts.
fn upgrade_with(addr: std::net::SocketAddr, fields: &str) -> (String, std::net::TcpStream) {
    let request = upgrade_request(addr);
    let head = request.strip_suffix("\r\n").unwrap();
    let mut stream = connect_raw(addr);
    stream
        .write_all(format!("{head}{fields}\r\n").as_bytes())
        .unwrap();
    (read_response_head(&mut stream), stream)
}

/// Whether `addr`, a server no connection is open to yet, answers 429 once
/// `held` connections that stall in their opening request are open from
/// 127.0.0.1.
fn refuses_after(addr: std::net::SocketAddr, held: usize) -> bool {
    let _stalled: Vec<_> = (0..held).map(|_| stall(addr)).collect();
    let (head, _) = upgrade_with(addr, "");
    match head.split(' ').nth(1) {
        Some("429") => {
            assert!(head.contains("Retry-After: 1\r\n"), "{head}");
            true
        }
        Some("101") => false,
        _ => panic!("{head}"),
    }
}

test_both_echoes!(
    echo_max_connections_per_ip_answers_one_more_with_429_and_has_no_default_on =>
    echo_max_connections_per_ip_answers_one_more_with_429_and_has_no_default,
    echo_max_connections_per_ip_answers_one_more_with_429_and_has_no_default_async
);

/// The test, on the blocking echo or (`["--async"]`) the async one.
fn echo_max_connections_per_ip_answers_one_more_with_429_and_has_no_default_on(flavour: &[&str]) {
    let limited = start_ws6455(
        &[
            &["echo", "--quiet", "--max-connections-per-ip", "2"],
            flavour,
        ]
        .concat(),
    );
    assert!(refuses_after(limited.addr, 2));
    let unlimited = start_ws6455(&[&["echo", "--quiet"], flavour].concat());
    assert!(!refuses_after(unlimited.addr, 100));
}

#[test]
fn chat_allows_64_connections_per_address_by_default_and_0_lifts_the_limit() {
    // A server each: the places of one check's connections are given back
    // only once the server has seen them close.
    let default = start_ws6455(&["chat", "--quiet"]);
    assert!(!refuses_after(default.addr, 63));
    let default = start_ws6455(&["chat", "--quiet"]);
    assert!(refuses_after(default.addr, 64));
    let unlimited = start_ws6455(&["chat", "--quiet", "--max-connections-per-ip", "0"]);
    assert!(!refuses_after(unlimited.addr, 100));
    let one = start_ws6455(&["chat", "--quiet", "--max-connections-per-ip", "1"]);
    assert!(refuses_after(one.addr, 1));
}

#[test]
fn trust_proxy_counts_the_clients_x_forwarded_for_names_on_echo_and_chat() {
    for command in ["echo", "chat"] {
        trust_proxy_counts_the_clients_x_forwarded_for_names_on(&[command]);
    }
}

#[test]
fn trust_proxy_counts_the_clients_x_forwarded_for_names_on_echo_async() {
    trust_proxy_counts_the_clients_x_forwarded_for_names_on(&["echo", "--async"]);
}

/// The test, on `command` (`["echo", "--async"]`: the async echo).
fn trust_proxy_counts_the_clients_x_forwarded_for_names_on(command: &[&str]) {
    let args = [command, &["--quiet", "--max-connections-per-ip", "1"]].concat();
    let trusting = start_ws6455(&[&args[..], &["--trust-proxy"]].concat());
    let (first, _first) = upgrade_with(trusting.addr, "X-Forwarded-For: 192.0.2.1\r\n");
    assert!(first.starts_with("HTTP/1.1 101 "), "{command:?}: {first}");
    let (other, _other) = upgrade_with(trusting.addr, "X-Forwarded-For: 192.0.2.2\r\n");
    assert!(other.starts_with("HTTP/1.1 101 "), "{command:?}: {other}");
    let (again, _) = upgrade_with(trusting.addr, "X-Forwarded-For: 192.0.2.1\r\n");
    assert!(again.starts_with("HTTP/1.1 429 "), "{command:?}: {again}");

    let ignoring = start_ws6455(&args);
    let (first, _first) = upgrade_with(ignoring.addr, "X-Forwarded-For: 192.0.2.1\r\n");
    assert!(first.starts_with("HTTP/1.1 101 "), "{command:?}: {first}");
    let (other, _) = upgrade_with(ignoring.addr, "X-Forwarded-For: 192.0.2.2\r\n");
    assert!(other.starts_with("HTTP/1.1 429 "), "{command:?}: {other}");
}

/// Answers each text message from another thread after a pause, as a
/// server that hands work off does, and answers a Close at once: what it
/// had not answered by then is never sent.
struct AnswersLater;

impl ws6455::server::Service for AnswersLater {
    fn session(
        &self,
        connection: ws6455::server::Upgraded<'_>,
        _request: &ws6455::Request,
    ) -> Result<(), ws6455::Error> {
        let stream = connection.stream();
        let ws = connection.into_websocket(stream);
        let (mut reader, writer) = ws.split()?;
        std::thread::scope(|scope| {
            loop {
                match reader.read() {
                    Ok(Message::Text(text)) => {
                        let writer = writer.clone();
                        scope.spawn(move || {
                            std::thread::sleep(Duration::from_millis(150));
                            let _ = writer.send(Message::Text(text));
                        });
                    }
                    Ok(Message::Close(_)) | Err(_) => return Ok(()),
                    Ok(_) => {}
                }
            }
        })
    }
}

#[test]
fn client_waits_for_answers_in_flight_at_the_end_of_stdin() {
    let addr = start_server(ServerConfig::default(), AnswersLater);
    let started = Instant::now();
    let output = ws6455(&["client", &format!("ws://{addr}/")], b"a\nb\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a", "b"]);
    // The answers (150 ms), then a second of quiet, then the close.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1100), "{took:?}");
}

/// The soft limit on open files of process `pid`, from /proc.
#[cfg(target_os = "linux")]
fn open_files_soft_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_server_raises_its_open_files_limit_as_far_as_the_hard_limit_allows() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // Started with a soft limit of 1024, as a default Linux login has it.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn 1024 && exec {} echo --listen 127.0.0.1:0",
            env!("CARGO_BIN_EXE_ws6455")
        ))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no banner");
    }
    let soft = open_files_soft_limit(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let hard: u64 = String::from_utf8(
        Command::new("bash")
            .args(["-c", "ulimit -Hn"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap_or(u64::MAX);
    assert_eq!(soft, hard.min(65536));
}
