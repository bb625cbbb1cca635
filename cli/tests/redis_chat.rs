//! `ws6455 chat --redis`: several chat processes sharing rooms through a
//! real `redis-server` (started here on a free loopback port, with no
//! persistence). Cross-instance broadcast, one order for everyone, unique
//! names and the nick race, presence, shared history, an instance killed
//! with SIGKILL, Redis stopped and restarted, and Redis unreachable at
//! start.
//!
//! Needs `redis-server` on the PATH (Debian's `redis-server` package;
//! `.ci/run` installs it).

#[path = "common/chat_client.rs"]
mod chat_client;
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use chat_client::Client;
use common::*;
use redis_server::RedisServer;
use serde_json::Value;
use ws6455::Message;
use ws6455::proto::OpCode;

/// A chat instance using `redis`.
fn chat(redis: &RedisServer) -> Ws6455Server {
    start_ws6455(&["chat", "--quiet", "--redis", &redis.url()])
}

/// A chat instance using `redis`, with [`NO_RATE_LIMIT`].
fn chat_unlimited(redis: &RedisServer) -> Ws6455Server {
    start_ws6455(
        &[
            &["chat", "--quiet", "--redis", &redis.url()][..],
            &NO_RATE_LIMIT,
        ]
        .concat(),
    )
}

#[test]
fn a_message_reaches_the_room_on_every_instance_sender_included() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut alice = Client::join(&one, "/kitchen");
    let mut bob = Client::join(&two, "/kitchen");
    let mut elsewhere = Client::join(&two, "/garden");
    alice.say("hello from one");
    let expected = (alice.name.clone(), "hello from one".to_owned());
    assert_eq!(alice.next_text(), expected);
    assert_eq!(bob.next_text(), expected);
    bob.say("and from two");
    let expected = (bob.name.clone(), "and from two".to_owned());
    assert_eq!(bob.next_text(), expected);
    assert_eq!(alice.next_text(), expected);
    // Rooms stay apart across instances too.
    elsewhere.say("garden only");
    assert_eq!(elsewhere.next_text().1, "garden only");
    alice.say("marker");
    assert_eq!(alice.next_text().1, "marker");
}

#[test]
fn four_clients_on_two_instances_see_two_senders_in_one_order() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat_unlimited(&redis), chat_unlimited(&redis));
    let mut clients = [
        Client::join(&one, "/order"),
        Client::join(&one, "/order"),
        Client::join(&two, "/order"),
        Client::join(&two, "/order"),
    ];
    const EACH: usize = 100;
    let senders: Vec<_> = [one.addr, two.addr]
        .into_iter()
        .enumerate()
        .map(|(i, addr)| {
            thread::spawn(move || {
                let mut ws = connect_to(addr, "/order");
                for n in 0..EACH {
                    ws.send(Message::Text(format!("{i}:{n}"))).unwrap();
                }
                ws
            })
        })
        .collect();
    let senders: Vec<_> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let orders: Vec<Vec<String>> = clients
        .iter_mut()
        .map(|client| (0..2 * EACH).map(|_| client.next_text().1).collect())
        .collect();
    for order in &orders[1..] {
        assert_eq!(order, &orders[0]);
    }
    // Each sender's own order is kept within the one order.
    for i in 0..2 {
        let mine: Vec<&String> = orders[0]
            .iter()
            .filter(|text| text.starts_with(&format!("{i}:")))
            .collect();
        let expected: Vec<String> = (0..EACH).map(|n| format!("{i}:{n}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
    drop(senders);
}

#[test]
fn guest_names_are_unique_across_instances() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let clients: Vec<Client> = (0..10)
        .map(|i| Client::join(if i % 2 == 0 { &one } else { &two }, "/names"))
        .collect();
    let mut names: Vec<&str> = clients.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 10, "{names:?}");
}

#[test]
fn two_instances_racing_for_one_nick_give_it_to_exactly_one() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    for round in 0..10 {
        let wanted = format!("zed{round}");
        let mut a = Client::join(&one, "/race");
        let mut b = Client::join(&two, "/race");
        // The same name, differing in case: one name ignoring case.
        let (to_a, to_b) = (wanted.clone(), wanted.to_uppercase());
        // Both requests written at once, as raw frames on the sockets.
        let racers = [
            (a.ws.get_ref().try_clone().unwrap(), to_a),
            (b.ws.get_ref().try_clone().unwrap(), to_b),
        ];
        let handles: Vec<_> = racers
            .into_iter()
            .map(|(mut stream, name)| {
                thread::spawn(move || {
                    let frame = masked(OpCode::Text, format!("/nick {name}").as_bytes());
                    stream.write_all(&frame).unwrap();
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        // Each gets either the nick (for itself) or an error, and both see
        // the winner's nick.
        let outcome = |client: &mut Client| loop {
            let event = client.event();
            match event["type"].as_str().unwrap() {
                "error" => break false,
                "nick" if event["from"] == client.name.as_str() => break true,
                _ => {}
            }
        };
        let (a_won, b_won) = (outcome(&mut a), outcome(&mut b));
        assert!(a_won ^ b_won, "round {round}: a {a_won}, b {b_won}");
        a.ws.close(ws6455::CloseCode::NORMAL, "").unwrap();
        b.ws.close(ws6455::CloseCode::NORMAL, "").unwrap();
    }
}

#[test]
fn the_welcome_lists_the_room_on_every_instance_and_joins_and_leaves_cross() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut alice = Client::join(&one, "/presence");
    let mut bob = Client::join(&two, "/presence");
    assert_eq!(bob.users(), vec![alice.name.clone(), bob.name.clone()]);
    let join = alice.next("join");
    assert_eq!(join["user"], bob.name.as_str());
    bob.ws.close(ws6455::CloseCode::NORMAL, "").unwrap();
    let leave = alice.next("leave");
    assert_eq!(leave["user"], bob.name.as_str());
    let carol = Client::join(&two, "/presence");
    assert_eq!(carol.users(), vec![alice.name.clone(), carol.name.clone()]);
}

#[test]
fn history_is_shared_a_joiner_on_any_instance_sees_it() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut alice = Client::join(&one, "/history");
    for text in ["first", "second", "third"] {
        alice.say(text);
        assert_eq!(alice.next_text().1, text);
    }
    let carol = Client::join(&two, "/history");
    assert_eq!(carol.history(), ["first", "second", "third"]);
}

#[test]
fn a_burst_said_at_once_crosses_instances_in_order_and_enters_the_history() {
    let redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut alice = Client::join(&one, "/burst");
    let mut bob = Client::join(&two, "/burst");
    assert_eq!(alice.next("join")["user"], bob.name.as_str());
    let guest = alice.name.clone();
    // One write: alice's instance reads the burst at once and publishes
    // each run of texts as one event. A line break inside a text stays in
    // its JSON string, escaped.
    for text in ["one", "two\nlines", "/nick alice", "three", "four"] {
        alice.ws.queue(Message::Text(text.to_owned())).unwrap();
    }
    alice.ws.flush().unwrap();
    let expected = [
        (guest.as_str(), "one"),
        (guest.as_str(), "two\nlines"),
        ("nick", "alice"),
        ("alice", "three"),
        ("alice", "four"),
    ];
    for client in [&mut alice, &mut bob] {
        let seen: Vec<(String, String)> = (0..expected.len())
            .map(|_| {
                let event = client.next_not_join_or_leave();
                match event["type"].as_str().unwrap() {
                    "nick" => ("nick".to_owned(), event["to"].as_str().unwrap().to_owned()),
                    _ => (
                        event["from"].as_str().unwrap().to_owned(),
                        event["text"].as_str().unwrap().to_owned(),
                    ),
                }
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(from, text)| ((*from).to_owned(), (*text).to_owned()))
            .collect();
        assert_eq!(seen, expected);
    }
    let carol = Client::join(&two, "/burst");
    assert_eq!(carol.history(), ["one", "two\nlines", "three", "four"]);
}

#[test]
fn the_members_of_a_killed_instance_leave_within_10_seconds() {
    let redis = RedisServer::start().unwrap();
    let one = chat(&redis);
    let mut two = Some(chat(&redis));
    let mut alice = Client::join(&one, "/crash");
    let bob = Client::join(two.as_ref().unwrap(), "/crash");
    assert_eq!(alice.next("join")["user"], bob.name.as_str());
    let killed = Instant::now();
    drop(two.take()); // SIGKILL: no goodbye.
    let leave = alice.next("leave");
    let took = killed.elapsed();
    assert_eq!(leave["user"], bob.name.as_str());
    assert!(took < Duration::from_secs(10), "{took:?}");
    eprintln!("a killed instance's member left after {took:?}");
    let carol = Client::join(&one, "/crash");
    assert!(!carol.users().contains(&bob.name), "{:?}", carol.users());
}

#[test]
fn without_redis_an_instance_delivers_locally_and_tells_the_sender_once_then_recovers() {
    let mut redis = RedisServer::start().unwrap();
    let (one, two) = (chat(&redis), chat(&redis));
    let mut alice = Client::join(&one, "/outage");
    let mut anne = Client::join(&one, "/outage");
    let mut bob = Client::join(&two, "/outage");
    redis.stop();
    thread::sleep(Duration::from_millis(300));
    alice.say("during the outage");
    // The message, and the error telling alice that only this instance got it.
    let (mut message, mut error) = (None, None);
    while message.is_none() || error.is_none() {
        let event = alice.event();
        match event["type"].as_str().unwrap() {
            "message" => message = Some(event),
            "error" => error = Some(event),
            _ => {}
        }
    }
    assert_eq!(message.unwrap()["text"], "during the outage");
    let reason = error.unwrap()["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("lost Redis"), "{reason}");
    assert_eq!(anne.next_text().1, "during the outage");
    alice.say("still out");
    // Once per outage: no second error comes with it.
    let event = alice.next_not_join_or_leave();
    assert_eq!(event["text"], "still out", "{event}");
    assert_eq!(anne.next_text().1, "still out");

    redis.start_again().unwrap();
    let back = Instant::now();
    // Delivery across instances is back within 5 s of Redis's return.
    let mut n = 0;
    let took = loop {
        n += 1;
        bob.say(&format!("probe {n}"));
        let deadline = Instant::now() + Duration::from_millis(250);
        let mut reached = false;
        alice
            .ws
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        while Instant::now() < deadline {
            match alice.ws.read() {
                Ok(Message::Text(text)) => {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    if event["type"] == "message" && event["from"] == bob.name.as_str() {
                        reached = true;
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => {}
            }
        }
        if reached {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back after 5 s"
        );
    };
    eprintln!("cross-instance delivery was back {took:?} after Redis restarted");
    // Bob, on the other instance, never got what was said during the outage.
    bob.ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    loop {
        let (from, text) = bob.next_text();
        assert!(
            from == bob.name,
            "{from}: {text} reached the other instance"
        );
        if text == format!("probe {n}") {
            break;
        }
    }
}

#[test]
fn redis_unreachable_at_start_is_an_error_naming_redis_and_the_url() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let output = Command::new(env!("CARGO_BIN_EXE_ws6455"))
        .args(["chat", "--listen", "127.0.0.1:0", "--redis", &url])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot reach Redis at {url}")),
        "{stderr}"
    );
}

#[test]
fn a_member_that_does_not_read_is_dropped_by_its_instance_and_the_room_goes_on() {
    let redis = RedisServer::start().unwrap();
    // Alice, on instance one, sends 2000 texts as fast as Bob reads them:
    // far more than the default rate limit takes.
    let one = chat_unlimited(&redis);
    let two = start_ws6455(&[
        "chat",
        "--quiet",
        "--redis",
        &redis.url(),
        "--queue-bytes",
        "65536",
    ]);
    let mut alice = Client::join(&one, "/flood");
    let mut bob = Client::join(&two, "/flood");
    // Completes its handshake on instance two, then never reads.
    let mut stalled = connect_raw(two.addr);
    stalled
        .write_all(upgrade_request_to(two.addr, "/flood").as_bytes())
        .unwrap();
    let text = "x".repeat(3000);
    // 6 MB: more than the stalled member's queue and both socket buffers hold.
    const SENT: usize = 2000;
    // Bob reads; the sender keeps within a few messages of him, so that a
    // slow test machine never makes him the member whose queue fills.
    let bob_has = Arc::new(AtomicUsize::new(0));
    let bob_count = Arc::clone(&bob_has);
    let reader = thread::spawn(move || {
        let (mut texts, mut left) = (0, Vec::new());
        while texts < SENT || left.is_empty() {
            let event = bob.event();
            match event["type"].as_str().unwrap() {
                "message" => {
                    texts += 1;
                    bob_count.store(texts, Ordering::Release);
                }
                "leave" => left.push(event["user"].as_str().unwrap().to_owned()),
                _ => {}
            }
        }
        (texts, left)
    });
    // Alice writes raw frames on her socket while her own copies are
    // drained, so that she is not the one who stops reading.
    let mut writing = alice.ws.get_ref().try_clone().unwrap();
    let drain = thread::spawn(move || {
        let mut own = 0;
        while own < SENT {
            if alice.event()["type"] == "message" {
                own += 1;
            }
        }
    });
    let frame = masked(OpCode::Text, text.as_bytes());
    for sent in 0..SENT {
        while sent > bob_has.load(Ordering::Acquire) + 8 {
            thread::sleep(Duration::from_micros(200));
        }
        writing.write_all(&frame).unwrap();
    }
    let (texts, left) = reader.join().unwrap();
    drain.join().unwrap();
    assert_eq!(texts, SENT);
    assert_eq!(
        left.len(),
        1,
        "the stalled member, closed with 1008: {left:?}"
    );
    drop(stalled);
}
