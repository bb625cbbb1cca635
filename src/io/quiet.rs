//! What a connection gives back when it goes quiet.
//!
//! While messages flow, a connection keeps what they needed for the next
//! ones: a read buffer grown for a burst, the buffer its last message was
//! assembled in, the output's copy buffer. That saves an allocation per
//! message, but an idle connection would then hold its busiest moment's
//! memory for as long as it idles. [`WebSocket::release_buffers`] gives it
//! back ([`ReadHalf::release_buffers`](crate::ReadHalf::release_buffers)
//! the read half's, for a split connection); the server's keepalive calls
//! it once a connection has been silent for
//! [`ServerConfig::release_idle_after`](crate::ServerConfig::release_idle_after).

use std::io::{Read, Write};

use crate::io::websocket::WebSocket;

impl<S: Read + Write> WebSocket<S> {
    /// Gives back the memory the last messages grew: the read buffer (when
    /// it holds no unread bytes; the next read starts small again), the
    /// buffer the next message would be assembled in, and the output's
    /// buffers (when nothing waits to be sent). Call it when the connection
    /// goes quiet: an idle connection then holds no more than a fresh one,
    /// and the next messages allocate again. With permessage-deflate's
    /// context takeover the contexts stay: they are the connection's state.
    pub fn release_buffers(&mut self) {
        self.engine.release_buffers();
        self.read_buf.release();
    }

    /// The bytes the connection's buffers hold room for, for tests of what
    /// a quiet connection keeps.
    #[cfg(test)]
    fn held_bytes(&mut self) -> usize {
        self.engine.held_bytes() + self.read_buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    use crate::{ClientConfig, CloseCode, Message, ServerConfig, WebSocket, accept_with};

    /// A JSON text of about 4 KiB, different for each `n`.
    fn json_message(n: usize) -> String {
        let items: Vec<String> = (0..80)
            .map(|i| {
                format!(
                    r#"{{"id":{},"user":"guest-{}","text":"message {i} of {n}"}}"#,
                    n * 100 + i,
                    i % 7
                )
            })
            .collect();
        format!(r#"{{"items":[{}]}}"#, items.join(","))
    }

    /// Echoes one message on the server end.
    fn echo_one(ws: &mut WebSocket<TcpStream>) {
        let message = ws.read().unwrap();
        assert!(message.is_text());
        ws.send(message).unwrap();
    }

    /// What the server end of a connection holds fresh, after four 4 KiB
    /// echoes, and after [`WebSocket::release_buffers`]; the connection
    /// then echoes two more messages and closes normally.
    fn held_fresh_used_released(server: ServerConfig, client: ClientConfig) -> [usize; 3] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("ws://{}/", listener.local_addr().unwrap());
        let client = thread::spawn(move || {
            let (mut ws, _) = crate::connect_with(&uri, &client).unwrap();
            for n in 0..6 {
                let text = json_message(n);
                assert!((4000..4400).contains(&text.len()), "{}", text.len());
                ws.send(Message::Text(text.clone())).unwrap();
                assert_eq!(ws.read().unwrap(), Message::Text(text));
            }
            ws.close(CloseCode::NORMAL, "done").unwrap();
            ws.finish_close().unwrap();
        });
        let (stream, _) = listener.accept().unwrap();
        let (mut ws, _) = accept_with(stream, &server).unwrap();
        let fresh = ws.held_bytes();
        for _ in 0..4 {
            echo_one(&mut ws);
        }
        let used = ws.held_bytes();
        ws.release_buffers();
        let released = ws.held_bytes();
        for _ in 0..2 {
            echo_one(&mut ws);
        }
        assert!(ws.read().unwrap().is_close());
        client.join().unwrap();
        [fresh, used, released]
    }

    /// Checks that a connection set up by `server` and `client` gives back
    /// what four echoes grew, and echoes on.
    fn check_release(setting: &str, server: ServerConfig, client: ClientConfig) {
        let [fresh, used, released] = held_fresh_used_released(server, client);
        assert!(
            used > fresh,
            "{setting}: {used} bytes held after use, {fresh} fresh"
        );
        assert!(
            released <= fresh,
            "{setting}: {released} bytes held released, {fresh} fresh"
        );
    }

    #[test]
    fn a_released_connection_holds_no_more_than_a_fresh_one_and_echoes_on() {
        let server = ServerConfig::default();
        #[cfg(feature = "deflate")]
        let server = server.deflate(None);
        check_release("no deflate", server, ClientConfig::default());
    }

    #[test]
    fn a_released_read_half_holds_no_more_than_a_fresh_one_and_reads_on() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("ws://{}/", listener.local_addr().unwrap());
        let client = thread::spawn(move || {
            let (mut ws, _) = crate::connect(&uri).unwrap();
            for n in 0..6 {
                let text = json_message(n);
                ws.send(Message::Text(text.clone())).unwrap();
                assert_eq!(ws.read().unwrap(), Message::Text(text));
            }
            ws.close(CloseCode::NORMAL, "done").unwrap();
            ws.finish_close().unwrap();
        });
        let (stream, _) = listener.accept().unwrap();
        let (ws, _) = accept_with(stream, &ServerConfig::default()).unwrap();
        let (mut read, write) = ws.split().unwrap();
        let echo_one = |read: &mut crate::ReadHalf<TcpStream>| {
            let message = read.read().unwrap();
            assert!(message.is_text());
            write.send(message).unwrap();
        };
        let fresh = read.held_bytes();
        for _ in 0..4 {
            echo_one(&mut read);
        }
        let used = read.held_bytes();
        read.release_buffers();
        let released = read.held_bytes();
        for _ in 0..2 {
            echo_one(&mut read);
        }
        assert!(read.read().unwrap().is_close());
        client.join().unwrap();
        assert!(used > fresh, "{used} bytes held after use, {fresh} fresh");
        assert!(
            released <= fresh,
            "{released} bytes held released, {fresh} fresh"
        );
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn a_released_deflate_connection_holds_no_more_than_a_fresh_one_and_echoes_on() {
        use crate::deflate::DeflateConfig;
        let client = || ClientConfig::default().deflate(Some(DeflateConfig::for_client()));
        check_release("default deflate", ServerConfig::default(), client());
        let takeover = DeflateConfig::for_server().context_takeover(true);
        let server = ServerConfig::default().deflate(Some(takeover));
        check_release("deflate with context takeover", server, client());
    }
}
