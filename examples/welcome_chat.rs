//! The Node `ws` chat of many tutorials on ws6455: each new client is
//! greeted with `{"type":"welcome","message":"Welcome to the chat!"}`, and
//! every message a client sends goes to all the others
//! (`wss.clients.forEach`, skipping `client === ws`).
//!
//! `cargo run --example welcome_chat [127.0.0.1:9001]`, then in two other
//! terminals `cargo run -- client ws://127.0.0.1:9001/`: each prints the
//! welcome, then what the other types.
//!
//! As in `broadcast_chat`, each connection is split: its thread reads, and
//! its `WriteHalf` joins the list of clients that every thread sends to.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use serde::Serialize;
use ws6455::{Error, Message, WriteHalf, accept};

/// The greeting. A struct keeps its fields in this order on the wire
/// (`serde_json::json!` would sort the keys).
#[derive(Serialize)]
struct Welcome {
    r#type: &'static str,
    message: &'static str,
}

/// Everyone connected: an id to tell them apart, and the half that writes.
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

/// One client's connection: the welcome, then its messages passed on.
fn chat(id: u64, stream: TcpStream, clients: &Clients) -> Result<(), Error> {
    let (ws, _request) = accept(stream)?;
    let (mut reader, writer) = ws.split()?;
    let welcome = Welcome {
        r#type: "welcome",
        message: "Welcome to the chat!",
    };
    let welcome = serde_json::to_string(&welcome).expect("strings always serialize");
    writer.send(Message::Text(welcome))?;
    clients.lock().unwrap().push((id, writer));
    println!("client {id} connected");
    let result = loop {
        match reader.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                // Everyone but the sender; a client that cannot be reached leaves the list.
                let mut clients = clients.lock().unwrap();
                clients
                    .retain(|(other, writer)| *other == id || writer.send(message.clone()).is_ok());
            }
            Ok(Message::Close(_)) => break Ok(()),
            Ok(Message::Ping(_) | Message::Pong(_)) => {} // Pings are answered for you
            Err(e) => break Err(e),
        }
    };
    clients.lock().unwrap().retain(|(other, _)| *other != id);
    println!("client {id} disconnected");
    result
}
