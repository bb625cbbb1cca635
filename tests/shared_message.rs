//! A message sent on many connections (`SharedMessage`): made once in the
//! form each connection's extension gives it where the settings agree, and
//! received intact by every peer, whatever its permessage-deflate settings.
#![cfg(feature = "deflate")]

mod common;

use common::{receive_all, take_output};
use ws6455::Engine;
use ws6455::deflate::DeflateParams;
use ws6455::deflate::extension;
use ws6455::proto::SharedMessage;
use ws6455::{Limits, Message, Role};

/// Server and client ends of one connection, with permessage-deflate
/// agreed as `params` (`None`: no extension).
fn pair(params: Option<DeflateParams>) -> (Engine, Engine) {
    let end = |role| match &params {
        Some(params) => Engine::with_extension(role, Limits::default(), extension(params, role, 1)),
        None => Engine::new(role, Limits::default()),
    };
    (end(Role::Server), end(Role::Client))
}

fn params(server_bits: u8, server_no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover,
        client_no_context_takeover: true,
        server_max_window_bits: server_bits,
        client_max_window_bits: 15,
    }
}

fn broadcast_text() -> String {
    r#"{"type":"message","room":"lobby","from":"guest-1","text":"hello, everyone"}"#.repeat(20)
}

/// The forms `message` holds, as its `Debug` shows them.
fn forms(message: &SharedMessage) -> String {
    let debug = format!("{message:?}");
    let at = debug.find("forms: ").expect("Debug shows the forms");
    debug[at..].trim_end_matches(" }").to_owned()
}

#[test]
fn connections_with_the_same_settings_send_one_compressed_form() {
    let text = broadcast_text();
    let message = SharedMessage::text(text.clone());
    let mut wires = Vec::new();
    for _ in 0..3 {
        let (mut server, mut client) = pair(Some(params(15, true)));
        server.send_shared(&message).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(wire[0] & 0x40, 0x40, "RSV1: the message went compressed");
        assert!(
            wire.len() < text.len() / 4,
            "{} bytes on the wire",
            wire.len()
        );
        assert_eq!(
            receive_all(&mut client, &wire).unwrap(),
            [Message::Text(text.clone())]
        );
        wires.push(wire);
    }
    assert!(wires.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(forms(&message), "forms: 1");
}

#[test]
fn each_window_size_gets_its_own_form() {
    let text = broadcast_text();
    let message = SharedMessage::text(text.clone());
    for bits in [8, 9, 12, 15, 12] {
        let (mut server, mut client) = pair(Some(params(bits, true)));
        server.send_shared(&message).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(
            receive_all(&mut client, &wire).unwrap(),
            [Message::Text(text.clone())],
            "server_max_window_bits={bits}"
        );
    }
    // 8 and 9 compress alike: zlib's smallest window is 9 bits.
    assert_eq!(forms(&message), "forms: 3");
}

#[test]
fn a_connection_keeping_its_context_compresses_for_itself() {
    let texts = [broadcast_text(), broadcast_text() + "!", broadcast_text()];
    let (mut server, mut client) = pair(Some(params(15, false)));
    for text in &texts {
        let message = SharedMessage::text(text.clone());
        server.send_shared(&message).unwrap();
        assert_eq!(forms(&message), "forms: 0");
        let wire = take_output(&mut server);
        assert_eq!(
            receive_all(&mut client, &wire).unwrap(),
            [Message::Text(text.clone())]
        );
    }
}

#[test]
fn without_an_extension_the_payload_goes_as_it_is() {
    let message = SharedMessage::binary(vec![7u8; 300]);
    let (mut server, mut client) = pair(None);
    server.send_shared(&message).unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire.len(), 4 + 300);
    assert_eq!(
        receive_all(&mut client, &wire).unwrap(),
        [Message::Binary(vec![7u8; 300])]
    );
    assert_eq!(forms(&message), "forms: 0");
}

#[test]
fn an_incompressible_message_goes_uncompressed_to_everyone() {
    // xorshift32: bytes with no repetition for DEFLATE to find.
    let mut state = 0x9e37_79b9u32;
    let data: Vec<u8> = (0..2000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let message = SharedMessage::binary(data.clone());
    for _ in 0..2 {
        let (mut server, mut client) = pair(Some(params(15, true)));
        server.send_shared(&message).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(wire[0] & 0x40, 0, "RSV1 clear: sent as it is");
        assert_eq!(
            receive_all(&mut client, &wire).unwrap(),
            [Message::Binary(data.clone())]
        );
    }
}

#[test]
fn a_client_masks_the_shared_form_with_its_own_key() {
    let text = broadcast_text();
    let message = SharedMessage::text(text.clone());
    let mut wires = Vec::new();
    for _ in 0..2 {
        let mut client_params = params(15, true);
        client_params.client_no_context_takeover = true;
        let (mut server, mut client) = pair(Some(client_params));
        client.send_shared(&message).unwrap();
        let wire = take_output(&mut client);
        assert_eq!(
            receive_all(&mut server, &wire).unwrap(),
            [Message::Text(text.clone())]
        );
        wires.push(wire);
    }
    assert_ne!(wires[0], wires[1], "each frame masked with a fresh key");
    assert_eq!(forms(&message), "forms: 1");
}

#[test]
fn the_trace_shows_a_shared_message_sent_compressed() {
    let text = broadcast_text();
    let message = SharedMessage::text(text.clone());
    let (mut server, _) = pair(Some(params(15, true)));
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&lines);
    server.set_trace(move |event| kept.lock().unwrap().push(event.to_string()));
    server.send_shared(&message).unwrap();
    let lines = lines.lock().unwrap();
    let expected = format!(
        "> compressed text message (RSV1): {} bytes inflated, ",
        text.len()
    );
    assert!(lines[0].starts_with(&expected), "{lines:#?}");
    assert!(
        lines[1].starts_with("> text FIN=1 RSV1-3=100 "),
        "{lines:#?}"
    );
}
