//! The load side of the end-to-end benchmarks, which the programs' benches
//! share (by path): a handshake over TCP or TLS, pre-encoded frames, a frame
//! counter, and a raised open-file limit.

#![allow(dead_code)] // each bench binary uses its own subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use ws6455::proto::{FrameHeader, OpCode};

/// Opens a WebSocket connection and returns the stream after the 101.
pub fn handshake(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    upgrade(stream, addr)
}

/// Sends the opening request on `stream` and reads the response to its end.
pub(crate) fn upgrade<S: Read + Write>(mut stream: S, addr: SocketAddr) -> io::Result<S> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    // Byte by byte to the blank line, so no frame bytes are swallowed (the
    // server sends none before we do anyway).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other("handshake refused"));
    }
    Ok(stream)
}

/// `count` copies of one masked binary frame of `size` bytes. The key is
/// fixed: this is a load generator, and servers cannot tell.
pub fn frames(size: usize, count: usize) -> Vec<u8> {
    let payload = vec![b'x'; size];
    let mut one = Vec::new();
    FrameHeader::new(true, OpCode::Binary, Some([1, 2, 3, 4]), size as u64)
        .encode_frame(&payload, &mut one);
    one.repeat(count)
}

/// Counts whole unmasked frames in a byte stream that arrives in pieces,
/// skipping payloads without looking at them.
#[derive(Default)]
pub struct FrameCounter {
    header: Vec<u8>,
    payload_left: u64,
}

impl FrameCounter {
    /// Feeds received bytes; returns how many frames they completed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut done = 0;
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skip = self.payload_left.min(bytes.len() as u64);
                self.payload_left -= skip;
                bytes = &bytes[skip as usize..];
                if self.payload_left == 0 {
                    done += 1;
                }
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            let need = match self.header.get(1).map(|b| b & 0x7F) {
                None => continue,
                Some(126) => 4,
                Some(127) => 10,
                Some(_) => 2,
            };
            if self.header.len() < need {
                continue;
            }
            let h = &self.header;
            self.payload_left = match need {
                2 => u64::from(h[1] & 0x7F),
                4 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                _ => u64::from_be_bytes(h[2..10].try_into().unwrap()),
            };
            self.header.clear();
            if self.payload_left == 0 {
                done += 1;
            }
        }
        done
    }
}

/// Makes sure this process may open `limit` file descriptors, re-running
/// itself under `prlimit` if the soft limit is lower. Returns false if this
/// run is not the one to go on: the re-run did the work, or the limit
/// cannot be raised (which `bench` says).
pub fn ensure_fd_limit(bench: &str, limit: u64) -> bool {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if soft >= limit {
        return true;
    }
    if std::env::var_os("WS6455_BENCH_REEXEC").is_some() {
        println!("{bench}: cannot raise the open-file limit to {limit} (it is {soft}); skipped");
        return false;
    }
    let status = Command::new("prlimit")
        .arg(format!("--nofile={limit}:{limit}"))
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .env("WS6455_BENCH_REEXEC", "1")
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => {
            println!("{bench}: cannot raise the open-file limit to {limit} (it is {soft}); skipped")
        }
    }
    false
}
