//! A `redis-server` of its own on a free loopback port, with no
//! persistence, for the tests and benches that share rooms through Redis.
//! Included by path (`#[path = ...] mod redis_server;`) where needed, so the
//! other test binaries do not carry it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A `redis-server` on a free loopback port; stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits until it answers, or says why it could not.
    pub fn start() -> Result<RedisServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("no free port for redis-server: {e}"))?
            .port();
        let mut redis = RedisServer { child: None, port };
        redis.start_again()?;
        Ok(redis)
    }

    /// Starts the server (again) on the same port, empty, and waits until
    /// it answers.
    pub fn start_again(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}; apt-get install redis-server"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            if Instant::now() > deadline {
                return Err(format!("redis-server did not answer on port {}", self.port));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Whether it answers a PING now.
    pub fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Kills the server; [`RedisServer::start_again`] brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
