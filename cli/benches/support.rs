//! What the programs' benchmarks share: a cheap client side (a handshake
//! over TCP, pre-encoded frames) and a raised open-file limit.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

/// Opens a WebSocket connection and returns the stream after the 101.
pub fn handshake(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    upgrade(stream, addr)
}

/// Sends the opening request on `stream` and reads the response to its end.
fn upgrade(mut stream: TcpStream, addr: SocketAddr) -> io::Result<TcpStream> {
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
    let mut one = vec![0x82];
    match size {
        0..=125 => one.push(0x80 | size as u8),
        126..=0xffff => {
            one.push(0x80 | 126);
            one.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            one.push(0x80 | 127);
            one.extend_from_slice(&(size as u64).to_be_bytes());
        }
    }
    let key = [1, 2, 3, 4];
    one.extend_from_slice(&key);
    one.extend((0..size).map(|i| b'x' ^ key[i % 4]));
    one.repeat(count)
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
