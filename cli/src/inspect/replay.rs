//! `ws6455 inspect --replay FILE.jsonl`: a recording shown as the live
//! view showed it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use super::event::Event;
use super::view::{self, Detail};

/// Prints the recording at `path`, every event or (`quiet`) connections,
/// violations and ends only. A line that is not an event stops it, naming
/// the line.
pub(crate) fn replay(path: &Path, quiet: bool) -> ExitCode {
    let detail = match quiet {
        true => Detail::Quiet,
        false => Detail::Full,
    };
    match replay_lines(path, detail) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws6455 inspect --replay {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn replay_lines(path: &Path, detail: Detail) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut out = BufWriter::new(io::stdout().lock());
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let event = Event::from_json(&line).map_err(|e| format!("line {}: {e}", number + 1))?;
        if detail.shows(&event) {
            out.write_all(view::lines(&event).as_bytes())
                .map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}
