//! Socket.IO's "get started" chat on ws6455: the server logs each user who
//! comes and goes and every message, and sends every message to everyone
//! connected, the sender included (`io.emit`).
//!
//! `cargo run --example broadcast_chat [127.0.0.1:9001]`, then in two other
//! terminals `cargo run -- client ws://127.0.0.1:9001/`, and type in either.
//!
//! Each connection is split: its own thread reads, and its `WriteHalf` goes
//! into the list every thread broadcasts to. A client whose send fails is
//! taken off the list. Sends are blocking and made under the list's lock,
//! as simple as Socket.IO's loop but held up by a client that stops reading;
//! `ws6455 chat` gives each client a bounded queue and a writer thread.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use ws6455::{Error, Message, WriteHalf, accept};

/// Everyone connected: an id to leave the list by, and the half that writes.
type Clients = Mutex<Vec<(u64, WriteHalf<TcpStream>)>>;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9001"))?;
    println!("listening on ws://{}", listener.local_addr()?);
    let clients = Arc::new(Clients::default());
    for (id, stream) in (0..).zip(listener.incoming()) {
        let clients = Arc::clone(&clients);
        thread::spawn(move || chat(id, stream?, &clients));
    }
    Ok(())
}

/// One user's connection, from the opening handshake to the Close.
fn chat(id: u64, stream: TcpStream, clients: &Clients) -> Result<(), Error> {
    let (ws, _request) = accept(stream)?;
    let (mut reader, writer) = ws.split()?;
    clients.lock().unwrap().push((id, writer));
    println!("A new user connected");
    let result = loop {
        match reader.read() {
            Ok(Message::Text(text)) => {
                println!("message: {text}");
                broadcast(clients, &text);
            }
            Ok(Message::Close(_)) => break Ok(()),
            Ok(_) => {} // binary messages are ignored; Pings are answered for you
            Err(e) => break Err(e),
        }
    };
    clients.lock().unwrap().retain(|(other, _)| *other != id);
    println!("user disconnected");
    result
}

/// Sends `text` to every client, dropping those it cannot reach.
fn broadcast(clients: &Clients, text: &str) {
    let mut clients = clients.lock().unwrap();
    clients.retain(|(_, writer)| writer.send(Message::Text(text.to_owned())).is_ok());
}
