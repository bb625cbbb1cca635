//! `wss://` over loopback: the echo server over TLS with certificates made
//! here, TLS 1.3 and 1.2, close_notify, certificates the client refuses, a
//! silent TLS client, plaintext on the TLS port, a split connection read
//! and written from two threads, and how many records a batch becomes.
#![cfg(feature = "tls")]

mod common;

use std::io::{IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{frame, masked, upgrade_request};
use rustls::ClientConnection;
use rustls::pki_types::{CertificateDer, ServerName};
use ws6455::ServerConfig;
use ws6455::handshake::WsUri;
use ws6455::proto::OpCode;
use ws6455::server::{Echo, serve_tls};
use ws6455::tls;
use ws6455::tls::TlsStream;
use ws6455::{ClientConfig, CloseCode, Message, client_handshake, connect_with};
use ws6455::{Stream, Transport};

/// A self-signed certificate for `names`, written as PEM files in a fresh
/// folder: (certificate file, key file, the certificate).
fn certificate(names: &[&str]) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "ws6455-tls-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
    (cert_file, key_file, made.cert.der().clone())
}

/// The echo server over TLS on a free port, with `config`.
fn start_wss(config: ServerConfig) -> (SocketAddr, CertificateDer<'static>) {
    let (cert_file, key_file, cert) = certificate(&["localhost", "127.0.0.1"]);
    let tls = tls::server_config(&cert_file, &key_file).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = serve_tls(listener, tls, config, Echo).unwrap().local_addr();
    (addr, cert)
}

/// A rustls client configuration trusting `cert` only, for `versions`.
fn trusting(
    cert: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    // The library's provider, ring, which rustls deprecates (see src/io/tls/config.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn tls_connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>, name: &str) -> TlsStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    TlsStream::client(tcp, config, name).unwrap()
}

fn uri(addr: SocketAddr) -> WsUri {
    WsUri::parse(&format!("ws://{addr}/")).unwrap()
}

#[test]
fn echo_over_tls_1_3_and_1_2() {
    let (addr, cert) = start_wss(ServerConfig::default());
    for (version, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let stream = tls_connect(addr, trusting(&cert, &[version]), "localhost");
        stream.handshake().unwrap();
        assert_eq!(stream.protocol_version(), Some(expected));
        let (mut ws, _) =
            client_handshake(stream.clone(), &uri(addr), &ClientConfig::default()).unwrap();
        let text = "over TLS ".repeat(2000);
        ws.send(Message::Text(text.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(text));
        ws.send(Message::Binary(vec![9; 100_000])).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![9; 100_000]));
        ws.close(CloseCode::NORMAL, "done").unwrap();
        assert!(matches!(ws.read().unwrap(), Message::Close(_)));
        // RFC 8446 §6.1: the server sent close_notify before closing TCP, so
        // the stream ends cleanly rather than with UnexpectedEof.
        let mut rest = Vec::new();
        assert_eq!((&stream).read_to_end(&mut rest).unwrap(), 0);
    }
}

#[test]
fn the_server_offers_alpn_http_1_1() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let mut config = (*trusting(&cert, &[&rustls::version::TLS13])).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let stream = tls_connect(addr, Arc::new(config), "localhost");
    stream.handshake().unwrap();
    assert_eq!(stream.alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
}

#[test]
fn an_untrusted_certificate_is_refused_by_the_client() {
    let (addr, _cert) = start_wss(ServerConfig::default());
    let config = tls::client_config(Vec::new()).unwrap();
    let stream = tls_connect(addr, config, "localhost");
    let error = stream.handshake().unwrap_err().to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[test]
fn a_certificate_for_another_name_is_refused_by_the_client() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let stream = tls_connect(
        addr,
        trusting(&cert, &[&rustls::version::TLS13]),
        "example.com",
    );
    let error = stream.handshake().unwrap_err().to_string();
    assert!(
        error.contains("not valid for name \"example.com\""),
        "{error}"
    );
}

#[test]
fn a_silent_tls_client_is_dropped_at_the_handshake_deadline() {
    let config = ServerConfig::default().handshake_timeout(Duration::from_millis(500));
    let (addr, _) = start_wss(config);
    let mut silent = TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut sink = Vec::new();
    // The server hangs up: EOF, or a reset.
    let _ = silent.read_to_end(&mut sink);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

#[test]
fn a_client_trickling_its_tls_hello_is_dropped_at_the_deadline_too() {
    let config = ServerConfig::default().handshake_timeout(Duration::from_millis(600));
    let (addr, _) = start_wss(config);
    let trickler = TcpStream::connect(addr).unwrap();
    let mut writing = trickler.try_clone().unwrap();
    // The start of a TLS handshake record, a byte at a time, until refused.
    thread::spawn(move || {
        for byte in [0x16u8, 0x03, 0x01, 0x02, 0x00].iter().cycle() {
            if writing.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    trickler
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server ends its side (EOF) once the deadline has passed, long
    // before the 517-byte record could arrive (some 50 s); the upper bound
    // leaves room for a loaded machine.
    let mut sink = [0u8; 64];
    while matches!((&trickler).read(&mut sink), Ok(n) if n > 0) {}
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

#[test]
fn plaintext_on_the_tls_port_closes_that_connection_only() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let mut plain = TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(common::upgrade_request(addr).as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    // At most a TLS alert record (content type 21), never an HTTP answer.
    assert!(answer.is_empty() || answer[0] == 21, "{answer:02x?}");
    // The server goes on serving.
    let stream = tls_connect(
        addr,
        trusting(&cert, &[&rustls::version::TLS13]),
        "localhost",
    );
    let (mut ws, _) = client_handshake(stream, &uri(addr), &ClientConfig::default()).unwrap();
    ws.send(Message::Text("still here".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("still here".into()));
}

#[test]
fn a_split_tls_connection_is_read_and_written_from_two_threads_under_load() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let stream = tls_connect(
        addr,
        trusting(&cert, &[&rustls::version::TLS13]),
        "localhost",
    );
    stream.set_read_timeout(None).unwrap();
    let (ws, _) = client_handshake(stream, &uri(addr), &ClientConfig::default()).unwrap();
    let (mut reader, writer) = ws.split().unwrap();
    const MESSAGES: usize = 3000;
    let message = |i: usize| format!("{i:06} {}", "x".repeat(i % 3000));
    let sending = thread::spawn(move || {
        for i in 0..MESSAGES {
            writer.send(Message::Text(message(i))).unwrap();
            if i % 500 == 0 {
                writer.send(Message::Ping(b"p".to_vec())).unwrap();
            }
        }
        writer
    });
    let mut received = 0;
    while received < MESSAGES {
        match reader.read().unwrap() {
            Message::Text(text) => {
                assert_eq!(text, message(received));
                received += 1;
            }
            Message::Pong(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let writer = sending.join().unwrap();
    writer.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(reader.read().unwrap(), Message::Close(_)));
}

#[test]
fn rfc6455_4_1_wss_connects_over_tls_to_the_uris_host() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let config = ClientConfig::default().tls(Some(trusting(&cert, &[&rustls::version::TLS13])));
    let uri = format!("wss://localhost:{}/", addr.port());
    let (mut ws, response) = connect_with(&uri, &config).unwrap();
    assert_eq!(response.status, 101);
    assert!(matches!(ws.get_ref(), Stream::Tls(_)));
    ws.send(Message::Text("secure".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("secure".into()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    ws.wait_for_server_close(Duration::from_secs(2)).unwrap();
}

#[test]
fn rfc6455_4_1_wss_fails_when_the_certificate_does_not_verify() {
    let (addr, _) = start_wss(ServerConfig::default());
    // The default: the usual public roots, which do not hold a test certificate.
    let result = connect_with(
        &format!("wss://localhost:{}/", addr.port()),
        &ClientConfig::default(),
    );
    let Err(error) = result else {
        panic!("a certificate no root vouches for was accepted");
    };
    let error = error.to_string();
    assert!(
        error.contains("TLS handshake with localhost") && error.contains("UnknownIssuer"),
        "{error}"
    );
}

/// Sends 40 messages of 3,000 bytes as soon as the connection opens, each in
/// its own TLS record, then waits for the Close.
struct Burst;

impl ws6455::server::Service<TlsStream> for Burst {
    fn session(
        &self,
        connection: ws6455::server::Upgraded<'_, TlsStream>,
        _request: &ws6455::Request,
    ) -> Result<(), ws6455::Error> {
        connection.with_websocket(|ws| {
            for i in 0..40u8 {
                ws.send(Message::Binary(vec![i; 3000]))?;
            }
            while !matches!(ws.read()?, Message::Close(_)) {}
            Ok(())
        })
    }
}

#[test]
fn many_records_arriving_in_one_read_are_taken_a_record_at_a_time() {
    // rustls holds one record's plaintext at a time: a read from the socket
    // that brings several must not hand them all over at once.
    let (cert_file, key_file, cert) = certificate(&["localhost"]);
    let tls = tls::server_config(&cert_file, &key_file).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = serve_tls(listener, tls, ServerConfig::default(), Burst)
        .unwrap()
        .local_addr();
    let stream = tls_connect(
        addr,
        trusting(&cert, &[&rustls::version::TLS13]),
        "localhost",
    );
    let (mut ws, _) = client_handshake(stream, &uri(addr), &ClientConfig::default()).unwrap();
    // Everything arrives and waits in the socket before the first read.
    thread::sleep(Duration::from_millis(300));
    for i in 0..40u8 {
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![i; 3000]));
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
}

#[test]
fn shutdown_closes_a_wss_connection_with_1001_while_it_reads() {
    let (cert_file, key_file, cert) = certificate(&["localhost"]);
    let tls = tls::server_config(&cert_file, &key_file).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve_tls(listener, tls, ServerConfig::default(), Echo).unwrap();
    let addr = server.local_addr();
    let stream = tls_connect(
        addr,
        trusting(&cert, &[&rustls::version::TLS13]),
        "localhost",
    );
    let (mut ws, _) = client_handshake(stream, &uri(addr), &ClientConfig::default()).unwrap();
    ws.send(Message::Text("before".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("before".into()));
    let reader = thread::spawn(move || ws.read().unwrap());
    let report = server.shutdown();
    let Message::Close(Some(frame)) = reader.join().unwrap() else {
        panic!("expected a Close with a code");
    };
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    assert_eq!((report.ended_in_time, report.cut), (1, 0), "{report}");
}

/// A rustls client with nothing between it and the socket, so that a test
/// sees the records as they arrive: connected to `addr`, handshake done.
fn raw_tls_client(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
) -> (TcpStream, ClientConnection) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let config = trusting(cert, &[&rustls::version::TLS13]);
    let mut session = ClientConnection::new(config, name).unwrap();
    while session.is_handshaking() {
        session.complete_io(&mut tcp).unwrap();
    }
    (tcp, session)
}

/// Sends `plaintext` as one write, so rustls seals it as one record.
fn send_in_one_record(tcp: &mut TcpStream, session: &mut ClientConnection, plaintext: &[u8]) {
    session.writer().write_all(plaintext).unwrap();
    while session.wants_write() {
        session.write_tls(tcp).unwrap();
    }
}

/// Reads whole TLS records one at a time (a 5-byte header, then as many
/// bytes as it says) and hands each to `session`, until one brings
/// plaintext; returns that plaintext. Records that bring none (TLS 1.3
/// session tickets) are skipped.
fn next_plaintext_record(tcp: &mut TcpStream, session: &mut ClientConnection) -> Vec<u8> {
    loop {
        let mut record = vec![0; 5];
        tcp.read_exact(&mut record).unwrap();
        let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
        record.resize(5 + len, 0);
        tcp.read_exact(&mut record[5..]).unwrap();
        let mut rest = &record[..];
        while !rest.is_empty() {
            session.read_tls(&mut rest).unwrap();
        }
        let state = session.process_new_packets().unwrap();
        let mut plaintext = vec![0; state.plaintext_bytes_to_read()];
        if !plaintext.is_empty() {
            session.reader().read_exact(&mut plaintext).unwrap();
            return plaintext;
        }
    }
}

/// Reads records until `len` bytes of plaintext came; returns them and how
/// many records carried them.
fn plaintext_in_records(
    tcp: &mut TcpStream,
    session: &mut ClientConnection,
    len: usize,
) -> (Vec<u8>, usize) {
    let (mut plaintext, mut records) = (Vec::new(), 0);
    while plaintext.len() < len {
        plaintext.extend(next_plaintext_record(tcp, session));
        records += 1;
    }
    (plaintext, records)
}

#[test]
fn a_vectored_write_is_sealed_in_as_few_records_as_16_kib_allows() {
    let (cert_file, key_file, cert) = certificate(&["localhost"]);
    let tls = tls::server_config(&cert_file, &key_file).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // (slices, bytes in each, records expected): a batch of small frames,
    // then 60 KiB, which needs four records of at most 16 KiB.
    let batches = [(64, 22, 1), (3072, 20, 4)];
    let server = thread::spawn(move || {
        let stream = TlsStream::server(listener.accept().unwrap().0, tls).unwrap();
        stream.handshake().unwrap();
        for (i, (slices, size, _)) in batches.into_iter().enumerate() {
            let bytes: Vec<Vec<u8>> = (0..slices).map(|j| vec![(i + j) as u8; size]).collect();
            let bufs: Vec<IoSlice<'_>> = bytes.iter().map(|b| IoSlice::new(b)).collect();
            assert_eq!((&stream).write_vectored(&bufs).unwrap(), slices * size);
        }
        stream
    });
    let (mut tcp, mut session) = raw_tls_client(addr, &cert);
    for (i, (slices, size, expected)) in batches.into_iter().enumerate() {
        let (plaintext, records) = plaintext_in_records(&mut tcp, &mut session, slices * size);
        let sent: Vec<u8> = (0..slices)
            .flat_map(|j| vec![(i + j) as u8; size])
            .collect();
        assert!(plaintext == sent, "batch {i} came back changed");
        assert_eq!(
            records, expected,
            "batch {i}: {slices} slices of {size} bytes"
        );
    }
    drop(server.join().unwrap());
}

#[test]
fn the_echoes_of_a_batch_of_frames_come_back_in_one_tls_record() {
    let (addr, cert) = start_wss(ServerConfig::default());
    let (mut tcp, mut session) = raw_tls_client(addr, &cert);
    send_in_one_record(&mut tcp, &mut session, upgrade_request(addr).as_bytes());
    let response = next_plaintext_record(&mut tcp, &mut session);
    assert!(response.starts_with(b"HTTP/1.1 101"), "{response:?}");
    assert!(response.ends_with(b"\r\n\r\n"), "{response:?}");
    // 32 frames of 16 bytes: the batch fits the server's first read buffer
    // (1 KiB), so one read brings it all and the echo writes it once.
    let batch = masked(OpCode::Binary, &[7; 16]).repeat(32);
    for _ in 0..3 {
        send_in_one_record(&mut tcp, &mut session, &batch);
        let mut echo = Vec::new();
        echo.extend(frame(OpCode::Binary, None, &[7; 16]));
        let echoes = echo.repeat(32);
        let (plaintext, records) = plaintext_in_records(&mut tcp, &mut session, echoes.len());
        assert!(plaintext == echoes, "the echoes came back changed");
        assert_eq!(records, 1, "32 echoes in {records} TLS records");
    }
}
