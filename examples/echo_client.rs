//! The README's client: connect, send, read the echo, close the way RFC 6455
//! asks (our Close, the server's, then the server closes TCP first).
//! Start `ws6455 echo` first.

use ws6455::{CloseCode, Message, connect};

fn main() -> Result<(), ws6455::Error> {
    let (mut ws, _response) = connect("ws://127.0.0.1:9001/")?;
    ws.send(Message::Text("Hello".into()))?;
    println!("{:?}", ws.read()?); // Text("Hello")
    ws.close(CloseCode::NORMAL, "")?;
    while !matches!(ws.read()?, Message::Close(_)) {}
    ws.wait_for_server_close(std::time::Duration::from_secs(2))?; // the server closes TCP first (§7.1.1)
    Ok(())
}
