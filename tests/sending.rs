//! What a connection refuses to send or to go on with, on either end:
//! RFC 6455's rules for the sender (§4.2.2, §5.5, §5.5.1, §7.1.7, §7.4.1).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::thread;

use common::*;
use ws6455::handshake::ResponseError;
use ws6455::proto::OpCode;
use ws6455::proto::UsageError;
use ws6455::server::{Service, Upgraded};
use ws6455::{CloseCode, Error, Limits, Message, Role, WebSocket, connect};
use ws6455::{Request, ServerConfig};

#[test]
fn rfc6455_5_5_1_no_data_frames_after_a_close() {
    let (mut ws, _) = connect(&format!("ws://{}/", start_echo())).unwrap();
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(
        ws.send(Message::Text("late".into())),
        Err(Error::Usage(UsageError::SendAfterClose))
    ));
    assert!(matches!(ws.read(), Ok(Message::Close(_))));
}

#[test]
fn rfc6455_5_5_control_payload_over_125_bytes_is_refused() {
    let (mut ws, _) = connect(&format!("ws://{}/", start_echo())).unwrap();
    assert!(matches!(
        ws.send(Message::Ping(vec![0; 126])),
        Err(Error::Usage(UsageError::ControlPayloadTooLong(126)))
    ));
    assert!(matches!(
        ws.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(Error::Usage(UsageError::ControlPayloadTooLong(126)))
    ));
    ws.send(Message::Ping(vec![0; 125])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(vec![0; 125]));
}

#[test]
fn rfc6455_7_4_1_reserved_close_codes_are_not_sent() {
    let (mut ws, _) = connect(&format!("ws://{}/", start_echo())).unwrap();
    for code in [1004, 1005, 1006, 1015, 999, 5000] {
        assert!(
            matches!(
                ws.close(CloseCode(code), ""),
                Err(Error::Usage(UsageError::InvalidCloseCode(c))) if c == code
            ),
            "{code}"
        );
    }
    assert!(ws.is_open());
}

#[test]
fn rfc6455_7_1_7_nothing_is_processed_after_failing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut wire = vec![0x83, 0x00]; // reserved opcode 3
        wire.extend(frame(OpCode::Text, None, b"after the error"));
        stream.write_all(&wire).unwrap();
        let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    });
    let mut ws = WebSocket::from_raw(
        connect_raw(addr),
        Role::Client,
        Limits::default(),
        Vec::new(),
    );
    assert!(matches!(ws.read(), Err(Error::Protocol(_))));
    assert!(matches!(ws.read(), Err(Error::Closed)));
    assert!(matches!(
        ws.send(Message::Text("x".into())),
        Err(Error::Closed)
    ));
}

/// Chooses a subprotocol nobody offered.
struct ChoosesUnoffered;

impl Service for ChoosesUnoffered {
    fn choose_subprotocol(&self, _request: &Request) -> Option<String> {
        Some("bogus".to_owned())
    }

    fn session(&self, _connection: Upgraded<'_>, _request: &Request) -> Result<(), Error> {
        Ok(())
    }
}

#[test]
fn rfc6455_4_2_2_server_only_chooses_an_offered_subprotocol() {
    let addr = start_server(ServerConfig::default(), ChoosesUnoffered);
    let result = connect(&format!("ws://{addr}/"));
    assert!(
        matches!(
            &result,
            Err(Error::Response(ResponseError::NotSwitchingProtocols {
                status: 500,
                ..
            }))
        ),
        "{result:?}"
    );
}
