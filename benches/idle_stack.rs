//! The guard on an idle connection's stack: the server's thread per
//! connection blocks reading at a shallow depth, so that thousands of idle
//! connections cost two pages of stack each, not more. One frame more on
//! that path, a large buffer in one of its frames, or a deeper call before
//! the session reads (the opening handshake, building the connection) makes
//! every idle connection a page larger; this program then fails. Run with
//! `cargo bench --bench idle_stack` (`.ci/run` does).
//!
//! The budget is tight: the top of a thread's stack holds the thread's
//! descriptor and thread-locals (some 4.3 KiB here), which leaves less than
//! 4 KiB of the second page for every frame the thread ever has, down to
//! its blocking read and in every call made before it.
//!
//! It is a bench, not a test, because what it guards is the optimized
//! build's stack, as `ws6455 echo` runs: the unoptimized one of `cargo test`
//! has frames several times larger (six pages here where the optimized
//! build has two). It runs the library's server and `Echo` in this
//! process, so it guards the library's path; the `ws6455` binary adds its
//! own frames only around `Echo` (its origin check).
//!
//! It reads Linux's `/proc`: the connection thread's stack pointer while it
//! blocks (`/proc/self/task/<tid>/syscall`), and which pages of the mapping
//! holding it are resident (`/proc/self/maps` and `/proc/self/pagemap`).

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn main() {
    guard::main();
}

/// Elsewhere there is no `/proc` to read.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn main() {
    println!("idle_stack: reads Linux's /proc, on x86-64 or AArch64 only");
}

/// The guard, on Linux.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod guard {
    use std::fs;
    use std::io::{Read, Seek, SeekFrom};
    use std::net::TcpListener;
    use std::thread;
    use std::time::{Duration, Instant};

    use ws6455::deflate::DeflateConfig;
    use ws6455::server::{Echo, serve};
    use ws6455::{ClientConfig, Message, ServerConfig, Stream, WebSocket};

    /// The size of a page on the platforms this runs on.
    const PAGE_SIZE: u64 = 4096;

    /// The most pages of an idle connection's stack that may be resident: the
    /// top one, holding the thread's descriptor and thread-locals, and one for
    /// the frames down to the blocking read.
    const MAX_RESIDENT_STACK_PAGES: u64 = 2;

    /// The system calls a connection's thread blocks reading in: `read` and
    /// `recvfrom`.
    #[cfg(target_arch = "x86_64")]
    const READ_SYSCALLS: [u64; 2] = [0, 45];
    #[cfg(target_arch = "aarch64")]
    const READ_SYSCALLS: [u64; 2] = [63, 207];

    pub(crate) fn main() {
        if std::env::args().any(|a| a == "--list") {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = serve(listener, ServerConfig::default(), Echo).unwrap();
        let uri = format!("ws://{}/", server.local_addr());
        let mut seen = Vec::new();
        // One connection first, whose thread also runs what the process does
        // once (the first lock of a pool, the first look at the logger...):
        // among thousands of connections, only one thread pays for that.
        let _first = ws6455::connect(&uri).unwrap();
        report(&mut seen, "the first connection");

        // The guarded case, as the shared harness's idle case opens them: no
        // permessage-deflate offered, nothing sent.
        let plain = ClientConfig::default().deflate(None);
        let _fresh = ws6455::connect_with(&uri, &plain).unwrap();
        let fresh_pages = report(&mut seen, "a fresh idle connection");

        // Measured, not guarded: the pages the busiest moment touched stay.
        let compressed = ClientConfig::default().deflate(Some(DeflateConfig::for_client()));
        let _fresh_deflate = ws6455::connect_with(&uri, &compressed).unwrap();
        report(&mut seen, "a fresh idle connection, deflate");
        let _used = connect_and_echo(&uri, &plain);
        report(&mut seen, "idle after four 4 KiB echoes");
        let _used_deflate = connect_and_echo(&uri, &compressed);
        report(&mut seen, "idle after four 4 KiB echoes, deflate");

        assert!(
            fresh_pages <= MAX_RESIDENT_STACK_PAGES,
            "a fresh idle connection's thread has {fresh_pages} stack pages resident, at most \
             {MAX_RESIDENT_STACK_PAGES} allowed: look for large locals or new frames on the way \
             from the connection's thread to its blocking read, and in the opening handshake"
        );
    }

    /// A connection that echoed four messages of about 4 KiB and is idle now.
    fn connect_and_echo(uri: &str, config: &ClientConfig) -> WebSocket<Stream> {
        let (mut ws, _) = ws6455::connect_with(uri, config).unwrap();
        for n in 0..4 {
            let text = format!("{n:04} {}", "ws6455 ".repeat(585));
            ws.send(Message::Text(text.clone())).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(text));
        }
        ws
    }

    /// Prints how many stack pages the newest connection's thread (one not in
    /// `seen`) has resident once it blocks reading, and returns that count.
    fn report(seen: &mut Vec<String>, what: &str) -> u64 {
        let (tid, stack_pointer) = blocked_reader(seen);
        seen.push(tid);
        let (range, end, resident) = resident_pages_around(stack_pointer);
        println!(
            "idle_stack: {what}: {} stack pages resident (at {resident:?} KiB from the top of \
             {range}); it blocks {} bytes from the top",
            resident.len(),
            end - stack_pointer,
        );
        resident.len() as u64
    }

    /// The id and stack pointer of a connection thread not in `seen`, once it
    /// blocks reading.
    fn blocked_reader(seen: &[String]) -> (String, u64) {
        let started = Instant::now();
        loop {
            let blocked = connection_threads()
                .into_iter()
                .filter(|tid| !seen.contains(tid))
                .find_map(|tid| blocked_in_read(&tid).map(|sp| (tid, sp)));
            if let Some(blocked) = blocked {
                return blocked;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no new connection thread blocked reading"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The ids of this process's threads that the server runs connections on.
    fn connection_threads() -> Vec<String> {
        fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|tid| {
                fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                    .is_ok_and(|name| name.trim() == "ws6455-conn")
            })
            .collect()
    }

    /// If thread `tid` is blocked in a read, its stack pointer. Linux shows a
    /// blocked thread's system call as its number, six arguments, the stack
    /// pointer and the program counter.
    fn blocked_in_read(tid: &str) -> Option<u64> {
        let syscall = fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
        let fields: Vec<&str> = syscall.split_whitespace().collect();
        let number: u64 = fields.first()?.parse().ok()?;
        if fields.len() != 9 || !READ_SYSCALLS.contains(&number) {
            return None;
        }
        u64::from_str_radix(fields[7].trim_start_matches("0x"), 16).ok()
    }

    /// The mapping of this process that holds `address`: its address range,
    /// its end, and which of its pages are resident, each as its distance in
    /// KiB from the end (where a thread's stack starts).
    fn resident_pages_around(address: u64) -> (String, u64, Vec<u64>) {
        let maps = fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let Some((range, _)) = line.split_once(' ') else {
                continue;
            };
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
            else {
                continue;
            };
            if (start..end).contains(&address) {
                return (range.to_owned(), end, resident_pages(start, end));
            }
        }
        panic!("no mapping holds the stack pointer {address:#x}");
    }

    /// The pages between `start` and `end` that are resident, as their
    /// distance in KiB from `end`: bit 63 of a page's entry in
    /// `/proc/self/pagemap` says whether it is present.
    fn resident_pages(start: u64, end: u64) -> Vec<u64> {
        let mut pagemap = fs::File::open("/proc/self/pagemap").unwrap();
        let mut resident = Vec::new();
        for page in (start..end).step_by(PAGE_SIZE as usize) {
            let mut entry = [0u8; 8];
            pagemap.seek(SeekFrom::Start(page / PAGE_SIZE * 8)).unwrap();
            pagemap.read_exact(&mut entry).unwrap();
            if u64::from_le_bytes(entry) >> 63 == 1 {
                resident.push((end - page) >> 10);
            }
        }
        resident
    }
}
