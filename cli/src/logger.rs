//! The programs' log on stderr: the library's lines (through the `log`
//! facade), a line each, exactly as they are written, and nothing else.
//!
//! What is shown follows the flags: connects, disconnects and refused
//! handshakes (info) unless `--quiet`; each message (debug) with
//! `--log-messages`; frames and opening handshakes (the target
//! `ws6455::trace`) with `--trace`, even when quiet; a resource running out
//! (warn) always. A line that cannot be written (stderr gone: a closed
//! pipe) is dropped, so a server whose log reader went away keeps serving.

use std::io::Write as _;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The target of the library's trace lines.
const TRACE_TARGET: &str = "ws6455::trace";

/// What the flags ask to be shown.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shown {
    /// The most detailed level shown, trace lines aside.
    pub(crate) level: LevelFilter,
    /// Whether trace lines are shown.
    pub(crate) trace: bool,
}

impl Shown {
    /// What a server shows, given `--quiet`, `--log-messages` and `--trace`.
    pub(crate) fn for_server(quiet: bool, log_messages: bool, trace: bool) -> Shown {
        let level = match (quiet, log_messages) {
            (true, _) => LevelFilter::Warn,
            (false, true) => LevelFilter::Debug,
            (false, false) => LevelFilter::Info,
        };
        Shown { level, trace }
    }
}

struct Stderr(Shown);

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        match metadata.target() {
            TRACE_TARGET => self.0.trace && metadata.level() <= Level::Trace,
            _ => metadata.level() <= self.0.level,
        }
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(std::io::stderr().lock(), "{}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger, once, at the start of a command.
pub(crate) fn install(shown: Shown) {
    let logger: &'static Stderr = Box::leak(Box::new(Stderr(shown)));
    if log::set_logger(logger).is_ok() {
        let most = match shown.trace {
            true => LevelFilter::Trace,
            false => shown.level,
        };
        log::set_max_level(most);
    }
}
