//! A client of `ws6455 chat` for the tests that run several instances
//! (`redis_chat.rs`, `redis_expiry.rs`): it joins a room on an instance and
//! reads the JSON events. Included by path (`#[path = ...] mod
//! chat_client;`) where needed, like `redis_server.rs`.

#![allow(dead_code)] // each test file uses its own subset of these methods

use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use ws6455::{CloseCode, Message, WebSocket};

use crate::common::{Ws6455Server, connect_to, next_event};

/// A chat client that has read its welcome.
pub struct Client {
    pub ws: WebSocket<TcpStream>,
    /// The guest name the welcome gave it.
    pub name: String,
    pub welcome: Value,
}

impl Client {
    /// Joins room `path` on `server`, and reads the welcome.
    pub fn join(server: &Ws6455Server, path: &str) -> Client {
        let mut ws = connect_to(server.addr, path);
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let welcome = next_event(&mut ws);
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let name = welcome["you"].as_str().unwrap().to_owned();
        Client { ws, name, welcome }
    }

    pub fn say(&mut self, text: &str) {
        self.ws.send(Message::Text(text.to_owned())).unwrap();
    }

    /// Says `text`, and waits for it to come back.
    pub fn say_and_wait(&mut self, text: &str) {
        self.say(text);
        loop {
            let event = self.event();
            if event["type"] == "message" && event["text"] == text {
                return;
            }
        }
    }

    pub fn event(&mut self) -> Value {
        next_event(&mut self.ws)
    }

    /// The next event of type `kind`, skipping others.
    pub fn next(&mut self, kind: &str) -> Value {
        loop {
            let event = self.event();
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// The next event that is not a join or a leave.
    pub fn next_not_join_or_leave(&mut self) -> Value {
        loop {
            let event = self.event();
            if event["type"] != "join" && event["type"] != "leave" {
                return event;
            }
        }
    }

    /// The sender and the text of the next message event.
    pub fn next_text(&mut self) -> (String, String) {
        let event = self.next("message");
        (
            event["from"].as_str().unwrap().to_owned(),
            event["text"].as_str().unwrap().to_owned(),
        )
    }

    /// The texts of the welcome's history, oldest first.
    pub fn history(&self) -> Vec<&str> {
        self.welcome["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect()
    }

    /// The names in the welcome's list of users.
    pub fn users(&self) -> Vec<String> {
        self.welcome["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user.as_str().unwrap().to_owned())
            .collect()
    }

    /// Closes with 1000 and waits for the server's Close.
    pub fn leave(mut self) {
        self.ws.close(CloseCode::NORMAL, "").unwrap();
        while let Ok(message) = self.ws.read() {
            if let Message::Close(_) = message {
                return;
            }
        }
    }
}
