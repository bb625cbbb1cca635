//! A raw peer for the tests on tokio: our end of a loopback socket as a
//! `WebSocketStream`, the peer's a plain blocking socket.

use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use ws6455::{Limits, Role, WebSocketStream};

/// Our end as a server-side `WebSocketStream` with `limits` over a loopback
/// socket, and the peer's raw (blocking) socket.
pub async fn raw_peer(limits: Limits) -> (WebSocketStream<tokio::net::TcpStream>, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || TcpStream::connect(addr).unwrap());
    let (ours, _) = listener.accept().await.unwrap();
    let peer = peer.join().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let ws = WebSocketStream::from_raw(ours, Role::Server, limits, Vec::new());
    (ws, peer)
}
