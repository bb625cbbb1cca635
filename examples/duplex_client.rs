//! One connection read on one thread and written from two others.
//!
//! Start the echo server (`cargo run --release`), then:
//! `cargo run --example duplex_client [ws://127.0.0.1:9001/]`
//!
//! Two writer threads each send five numbered messages through clones of
//! the `WriteHalf`; the main thread reads the echoes with the `ReadHalf`,
//! and each writer's messages come back in the order it sent them. When
//! both writers are done, the main thread closes; the read half returns
//! the server's answering Close.

use std::thread;
use std::time::Duration;

use ws6455::{CloseCode, Error, Message, connect};

fn main() -> Result<(), Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let (ws, _response) = connect(&uri)?;
    let (mut read_half, write_half) = ws.split()?;

    let writers: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|name| {
            let write_half = write_half.clone();
            thread::spawn(move || -> Result<(), Error> {
                for n in 1..=5 {
                    write_half.send(Message::Text(format!("{name} {n}")))?;
                    thread::sleep(Duration::from_millis(10));
                }
                Ok(())
            })
        })
        .collect();

    for _ in 0..10 {
        println!("{:?}", read_half.read()?);
    }
    for writer in writers {
        writer.join().expect("a writer thread panicked")?;
    }
    write_half.close(CloseCode::NORMAL, "done")?;
    // The echo server answers with its own Close; pongs and the like would
    // be read (and answered) on the way.
    while !matches!(read_half.read()?, Message::Close(_)) {}
    println!("closed");
    Ok(())
}
