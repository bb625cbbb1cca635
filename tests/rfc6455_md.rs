//! Keeps RFC6455.md true: every function it names as enforcing a
//! requirement exists, every test it names as proving one is a test, and
//! every test named after a section of the RFC is listed in it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The identifiers the crate declares, and the names of its tests.
struct Declared {
    items: HashSet<String>,
    tests: HashSet<String>,
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn declared() -> Declared {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut declared = Declared {
        items: HashSet::new(),
        tests: HashSet::new(),
    };
    for file in files {
        declared
            .items
            .insert(file.file_stem().unwrap().to_string_lossy().into_owned());
        let source = fs::read_to_string(&file).unwrap();
        let mut previous = "";
        for line in source.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if ["fn", "struct", "enum", "trait", "type", "mod", "const"].contains(&pair[0]) {
                    let name: String = pair[1]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if pair[0] == "fn" && previous == "#[test]" {
                        declared.tests.insert(name.clone());
                    }
                    declared.items.insert(name);
                }
            }
            if !line.trim().is_empty() {
                previous = line.trim();
            }
        }
    }
    declared
}

/// The text between backticks in `cell`.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// For every table in RFC6455.md: the cells of the columns called `column`.
fn column_cells<'a>(markdown: &'a str, column: &str) -> Vec<(usize, &'a str)> {
    let mut cells = Vec::new();
    let mut index = None;
    for (number, line) in markdown.lines().enumerate() {
        if !line.starts_with('|') {
            index = None;
            continue;
        }
        let row: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if row.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        match index {
            None => index = Some(row.iter().position(|c| *c == column)),
            Some(Some(i)) => cells.push((number + 1, row[i])),
            Some(None) => {}
        }
    }
    cells
}

fn rfc6455_md() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RFC6455.md")).unwrap()
}

#[test]
fn every_enforcing_function_exists() {
    let declared = declared();
    let markdown = rfc6455_md();
    let cells = column_cells(&markdown, "enforced by");
    assert!(cells.len() > 50, "the tables were not found");
    for (line, cell) in cells {
        for span in code_spans(cell) {
            for segment in span.split("::") {
                assert!(
                    declared.items.contains(segment),
                    "RFC6455.md line {line}: `{span}` is not in the code ({segment:?})"
                );
            }
        }
    }
}

#[test]
fn every_proving_test_exists() {
    let declared = declared();
    let markdown = rfc6455_md();
    let cells = column_cells(&markdown, "proved by");
    assert!(cells.len() > 50, "the tables were not found");
    for (line, cell) in cells {
        for span in code_spans(cell) {
            assert!(
                declared.tests.contains(span),
                "RFC6455.md line {line}: `{span}` is not a test"
            );
        }
    }
}

#[test]
fn every_test_named_after_a_section_is_listed() {
    let markdown = rfc6455_md();
    let mut missing: Vec<String> = declared()
        .tests
        .into_iter()
        .filter(|name| name.starts_with("rfc6455_"))
        .filter(|name| !markdown.contains(&format!("`{name}`")))
        .collect();
    missing.sort();
    assert!(missing.is_empty(), "not in RFC6455.md: {missing:#?}");
}
