//! Every protocol error a client can commit gets its close code in a Close
//! frame before the server closes the TCP connection (RFC 6455 §7.1.7).

mod common;

use std::io::Write;
use std::thread;
use std::time::Duration;

use common::*;
use ws6455::proto::{FrameHeader, MAX_HEADER_LEN, OpCode};

fn close_code_for(wire: &[u8]) -> Option<u16> {
    let mut stream = connect_for_raw_frames(start_echo());
    stream.write_all(wire).unwrap();
    expect_close(&mut stream)
}

#[test]
fn rfc6455_5_1_unmasked_client_frame_is_1002() {
    let mut wire = Vec::new();
    wire.extend(frame(OpCode::Text, None, b"unmasked"));
    assert_eq!(close_code_for(&wire), Some(1002));
}

#[test]
fn rfc6455_5_2_rsv_bits_without_extension_are_1002() {
    for rsv in [0x40, 0x20, 0x10] {
        assert_eq!(
            close_code_for(&masked_raw(0x81 | rsv, b"x")),
            Some(1002),
            "rsv {rsv:#x}"
        );
    }
}

#[test]
fn rfc6455_5_2_reserved_opcodes_are_1002() {
    for op in [0x3, 0x7, 0xB, 0xF] {
        assert_eq!(
            close_code_for(&masked_raw(0x80 | op, b"")),
            Some(1002),
            "opcode {op:#x}"
        );
    }
}

#[test]
fn rfc6455_5_2_non_minimal_length_is_1002() {
    // 5 bytes announced in the 16-bit field.
    let wire = [0x82, 0xFE, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5];
    assert_eq!(close_code_for(&wire), Some(1002));
}

#[test]
fn rfc6455_5_4_continuation_without_message_is_1002() {
    assert_eq!(close_code_for(&masked_raw(0x80, b"orphan")), Some(1002));
}

#[test]
fn rfc6455_5_4_new_message_inside_fragmented_message_is_1002() {
    let mut wire = masked_raw(0x01, b"first");
    wire.extend(masked_raw(0x81, b"second"));
    assert_eq!(close_code_for(&wire), Some(1002));
}

#[test]
fn rfc6455_5_5_fragmented_control_frame_is_1002() {
    assert_eq!(close_code_for(&masked_raw(0x09, b"ping")), Some(1002));
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_is_1002() {
    let mut wire = Vec::new();
    // The encoder would refuse nothing here: build the header by hand.
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Ping,
        mask: Some([1, 2, 3, 4]),
        payload_len: 126,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    wire.extend_from_slice(&head[..n]);
    wire.extend_from_slice(&[0; 126]);
    assert_eq!(close_code_for(&wire), Some(1002));
}

#[test]
fn rfc6455_8_1_invalid_utf8_text_is_1007() {
    assert_eq!(
        close_code_for(&masked(OpCode::Text, &[b'a', 0xFF, b'b'])),
        Some(1007)
    );
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_before_the_frame_is_complete() {
    // Announce 1000 bytes of text, send 6 bytes whose fourth is invalid, and
    // never send the rest: the Close must come anyway.
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Text,
        mask: Some([0; 4]),
        payload_len: 1000,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut stream = connect_for_raw_frames(start_echo());
    stream.write_all(&head[..n]).unwrap();
    stream
        .write_all(&[b'o', b'k', b' ', 0xF8, b'x', b'y'])
        .unwrap();
    assert_eq!(expect_close(&mut stream), Some(1007));
}

#[test]
fn rfc6455_8_1_character_cut_short_at_message_end_is_1007() {
    assert_eq!(
        close_code_for(&masked(OpCode::Text, &[b'a', 0xE2, 0x82])),
        Some(1007)
    );
}

#[test]
fn rfc6455_5_5_1_one_byte_close_payload_is_1002() {
    assert_eq!(close_code_for(&masked(OpCode::Close, &[0x03])), Some(1002));
}

#[test]
fn rfc6455_7_4_1_invalid_close_codes_are_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            close_code_for(&masked(OpCode::Close, &code.to_be_bytes())),
            Some(1002),
            "code {code}"
        );
    }
}

#[test]
fn rfc6455_5_5_1_close_reason_not_utf8_is_1007() {
    assert_eq!(
        close_code_for(&masked(OpCode::Close, &[0x03, 0xE8, 0xFF, 0xFE])),
        Some(1007)
    );
}

#[test]
fn rfc6455_10_4_frame_over_limit_is_1009_before_its_payload_arrives() {
    // Announce 1 TiB and send nothing more: refused at once, never allocated.
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: Some([0; 4]),
        payload_len: 1 << 40,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    assert_eq!(close_code_for(&head[..n]), Some(1009));
}

#[test]
fn rfc6455_10_4_message_over_limit_across_fragments_is_1009() {
    use ws6455::ServerConfig;
    use ws6455::server::Echo;
    let config = ServerConfig::default().limits(
        ws6455::Limits::default()
            .max_frame_size(1000)
            .max_message_size(2500),
    );
    let addr = start_server(config, Echo);
    let mut stream = connect_for_raw_frames(addr);
    let mut wire = masked_raw(0x02, &[0; 1000]);
    wire.extend(masked_raw(0x00, &[0; 1000]));
    wire.extend(masked_raw(0x80, &[0; 1000]));
    stream.write_all(&wire).unwrap();
    assert_eq!(expect_close(&mut stream), Some(1009));
}

#[test]
fn protocol_error_after_slow_start_still_gets_its_close() {
    // The bad frame arrives one byte at a time.
    let mut stream = connect_for_raw_frames(start_echo());
    for byte in masked_raw(0x83, b"reserved") {
        stream.write_all(&[byte]).unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(expect_close(&mut stream), Some(1002));
}
