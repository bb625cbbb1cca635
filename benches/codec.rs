//! Microbenchmarks of the sans-I/O core, each beside its baseline:
//! frame headers, unmasking (against a byte loop and a plain copy), UTF-8
//! validation (against `std::str::from_utf8`), and the engine receiving many
//! small frames from one buffer. Run with `cargo bench --bench codec`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ws6455::proto::{Decoded, FrameHeader, MAX_HEADER_LEN, OpCode, Utf8Validator, apply_mask};
use ws6455::{Engine, Limits, Role};

fn frame_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_header");
    for len in [16u64, 1000, 100_000] {
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: len,
        };
        let mut wire = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut wire);
        group.bench_with_input(BenchmarkId::new("decode", len), &wire[..n], |b, wire| {
            b.iter(|| match FrameHeader::decode(black_box(wire)) {
                Ok(Decoded::Complete(h, used)) => (h.payload_len, used),
                _ => unreachable!(),
            })
        });
        group.bench_with_input(BenchmarkId::new("encode", len), &header, |b, header| {
            let mut out = [0u8; MAX_HEADER_LEN];
            b.iter(|| black_box(header).encode(&mut out))
        });
    }
    group.finish();
}

/// RFC 6455 §5.3's byte-at-a-time definition: octet i of the payload is
/// XORed with octet (i MOD 4) of the key, counting from `offset`.
fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[offset.wrapping_add(i) & 3];
    }
}

fn unmasking(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for size in [16usize, 1 << 10, 64 << 10, 1 << 20] {
        let mut data = vec![0x5Au8; size];
        let source = vec![0x5Au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("words", size), |b| {
            b.iter(|| apply_mask(black_box(&mut data), [1, 2, 3, 4], 0))
        });
        group.bench_function(BenchmarkId::new("byte_loop", size), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut data), [1, 2, 3, 4], 0))
        });
        group.bench_function(BenchmarkId::new("plain_copy", size), |b| {
            b.iter(|| black_box(&mut data).copy_from_slice(black_box(&source)))
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let size = 64 << 10;
    let inputs = [
        ("ascii", "a".repeat(size)),
        ("mixed", "héllo wörld, κόσμε! ".repeat(size / 25)),
        ("4_byte_heavy", "𝄞😀𐍈a".repeat(size / 13)),
    ];
    for (name, text) in &inputs {
        let bytes = text.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("incremental", name), bytes, |b, bytes| {
            b.iter(|| {
                let mut validator = Utf8Validator::new();
                validator.feed(black_box(bytes)).unwrap();
                validator.finish().unwrap();
            })
        });
        group.bench_with_input(
            BenchmarkId::new("std_from_utf8", name),
            bytes,
            |b, bytes| b.iter(|| std::str::from_utf8(black_box(bytes)).unwrap().len()),
        );
    }
    group.finish();
}

fn decode_small_frames(c: &mut Criterion) {
    let mut wire = Vec::new();
    for i in 0..1000u32 {
        FrameHeader::new(true, OpCode::Binary, Some(i.to_be_bytes()), 16)
            .encode_frame(&[b'x'; 16], &mut wire);
    }
    let mut group = c.benchmark_group("engine_receive");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_frames_of_16_bytes", |b| {
        let mut input = wire.clone();
        b.iter(|| {
            input.copy_from_slice(&wire);
            let mut engine = Engine::new(Role::Server, Limits::default());
            let mut at = 0;
            let mut messages = 0;
            while at < input.len() {
                let progress = engine.receive(&mut input[at..]).unwrap();
                at += progress.used;
                messages += usize::from(progress.message.is_some());
            }
            assert_eq!(messages, 1000);
        })
    });
    group.finish();
}

criterion_group!(benches, frame_header, unmasking, utf8, decode_small_frames);
criterion_main!(benches);
