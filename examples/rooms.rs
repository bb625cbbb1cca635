//! Socket.IO's rooms, and its clients that reconnect by themselves, on
//! ws6455.
//!
//! The server, `cargo run --example rooms [127.0.0.1:9001]`, puts each
//! client in the room its URL names (`ws://127.0.0.1:9001/kitchen`; `/` is
//! `lobby`) and moves it when it sends `join ROOM` (`socket.join(room)`).
//! Every other text goes to everyone in the sender's room, the sender
//! included, as `[room] text` (`io.to(room).emit`).
//!
//! The client, `cargo run --example rooms client ws://127.0.0.1:9001/kitchen`,
//! sends stdin's lines and prints what its room says. When the connection
//! drops it reconnects with backoff, as Socket.IO's client does, and rejoins
//! the room it was in. Stop the server, start it again, and watch.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ws6455::{CloseCode, Error, Message, WriteHalf, accept, connect};

/// Each client's room and the half that writes to it, by the client's id.
type Rooms = Mutex<HashMap<u64, (String, WriteHalf<TcpStream>)>>;

/// Connection attempts in a row the client makes before it gives up.
const ATTEMPTS: u32 = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, url] if mode == "client" => client(url),
        [] => server("127.0.0.1:9001"),
        [addr] => server(addr),
        _ => Err("usage: rooms [ADDR] | rooms client URL".into()),
    }
}

fn server(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    let rooms = Arc::new(Rooms::default());
    for (id, stream) in (0..).zip(listener.incoming()) {
        let rooms = Arc::clone(&rooms);
        thread::spawn(move || member(id, stream?, &rooms));
    }
    Ok(())
}

/// One client's connection: it joins its URL's room, then `join`s or talks.
fn member(id: u64, stream: TcpStream, rooms: &Rooms) -> Result<(), Error> {
    let (ws, request) = accept(stream)?;
    let (mut reader, writer) = ws.split()?;
    rooms.lock().unwrap().insert(id, (String::new(), writer));
    let room = request.path.trim_start_matches('/');
    join(rooms, id, if room.is_empty() { "lobby" } else { room });
    let ended = loop {
        match reader.read() {
            Ok(Message::Text(text)) => match text.strip_prefix("join ") {
                Some(room) => join(rooms, id, room.trim()),
                None => say(rooms, id, &text),
            },
            Ok(Message::Close(_)) => break Ok(()),
            Ok(_) => {} // binary messages are ignored; Pings are answered for you
            Err(e) => break Err(e),
        }
    };
    if let Some((room, _)) = rooms.lock().unwrap().remove(&id) {
        println!("client {id} left {room}");
    }
    ended
}

/// Moves client `id` to `room`, and tells it so.
fn join(rooms: &Rooms, id: u64, room: &str) {
    if let Some((current, writer)) = rooms.lock().unwrap().get_mut(&id) {
        *current = room.to_owned();
        println!("client {id} joined {room}");
        let _ = writer.send(Message::Text(format!("you are in {room}")));
    }
}

/// Sends `text` to everyone in client `id`'s room, dropping those it cannot reach.
fn say(rooms: &Rooms, id: u64, text: &str) {
    let mut rooms = rooms.lock().unwrap();
    let Some((room, _)) = rooms.get(&id) else {
        return;
    };
    let (room, text) = (room.clone(), format!("[{room}] {text}"));
    rooms.retain(|_, (theirs, writer)| {
        *theirs != room || writer.send(Message::Text(text.clone())).is_ok()
    });
}

/// Connects to `url`, sends stdin's lines and prints what arrives; when the
/// connection drops, reconnects after 0.1 s, and after each failed attempt
/// waits twice as long (up to 3.2 s), giving up after [`ATTEMPTS`] in a row.
fn client(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (lines, stdin) = mpsc::channel();
    thread::spawn(move || {
        std::io::stdin()
            .lines()
            .map_while(Result::ok)
            .try_for_each(|line| lines.send(line))
    });
    let mut joined: Option<String> = None; // the last `join ROOM` sent, to send again
    let mut failures = 0;
    loop {
        match connect(url) {
            Ok((ws, _response)) => {
                failures = 0;
                eprintln!("connected to {url}");
                let (mut reader, writer) = ws.split()?;
                let printer = thread::spawn(move || {
                    while let Ok(message) = reader.read() {
                        if let Message::Text(text) = message {
                            println!("{text}");
                        }
                    }
                });
                if let Some(join) = &joined {
                    let _ = writer.send(Message::Text(join.clone()));
                }
                // Sends lines until stdin ends or the connection drops.
                while !printer.is_finished() {
                    match stdin.recv_timeout(Duration::from_millis(100)) {
                        Ok(line) => {
                            if line.starts_with("join ") {
                                joined = Some(line.clone());
                            }
                            let _ = writer.send(Message::Text(line));
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {
                            writer.close(CloseCode::NORMAL, "")?;
                            let _ = printer.join(); // until the server's Close
                            return Ok(());
                        }
                    }
                }
                eprintln!("disconnected");
            }
            Err(e) if failures + 1 < ATTEMPTS => {
                failures += 1;
                eprintln!("cannot connect: {e}");
            }
            Err(e) => return Err(e.into()),
        }
        let delay = Duration::from_millis(100 << failures.min(5));
        eprintln!("reconnecting in {delay:?}");
        thread::sleep(delay);
    }
}
