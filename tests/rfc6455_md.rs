//! Keeps RFC6455.md and RFC7692.md true: every function they name as
//! enforcing a requirement exists, every test they name as proving one is a
//! test, and every test named after a section of an RFC is listed in its file.

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
    for dir in ["src", "tests", "examples", "cli/src", "cli/tests"] {
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
                    if pair[0] == "fn"
                        && (previous == "#[test]" || previous.starts_with("#[tokio::test"))
                    {
                        declared.tests.insert(name.clone());
                    }
                    declared.items.insert(name);
                }
            }
            if !line.trim().is_empty() {
                previous = line.trim();
            }
        }
        declared.tests.extend(tests_of_both_echoes(&source));
    }
    declared
}

/// The tests that each call of the CLI's tests' `test_both_echoes!`
/// declares in `source`: the two names after its arrow.
fn tests_of_both_echoes(source: &str) -> Vec<String> {
    source
        .split("test_both_echoes!(")
        .skip(1)
        .filter_map(|call| call.split_once(')'))
        .filter_map(|(arguments, _)| arguments.split_once("=>"))
        .flat_map(|(_, names)| names.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The text between backticks in `cell`.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// For every table in `markdown`: the cells of the columns called `column`.
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

/// Each traceability file, the prefix of the tests named after a section of
/// its RFC, and fewer rows than its tables surely have.
const FILES: [(&str, &str, usize); 2] = [
    ("RFC6455.md", "rfc6455_", 50),
    ("RFC7692.md", "rfc7692_", 15),
];

fn read(file: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// The cells of `column` in `file`, which must have more than `rows` of them.
fn cells_of<'a>(file: &str, markdown: &'a str, column: &str, rows: usize) -> Vec<(usize, &'a str)> {
    let cells = column_cells(markdown, column);
    assert!(cells.len() > rows, "{file}: the tables were not found");
    cells
}

#[test]
fn every_enforcing_function_exists() {
    let declared = declared();
    for (file, _, rows) in FILES {
        let markdown = read(file);
        for (line, cell) in cells_of(file, &markdown, "enforced by", rows) {
            for span in code_spans(cell) {
                for segment in span.split("::") {
                    assert!(
                        declared.items.contains(segment),
                        "{file} line {line}: `{span}` is not in the code ({segment:?})"
                    );
                }
            }
        }
    }
}

#[test]
fn every_proving_test_exists() {
    let declared = declared();
    for (file, _, rows) in FILES {
        let markdown = read(file);
        for (line, cell) in cells_of(file, &markdown, "proved by", rows) {
            for span in code_spans(cell) {
                assert!(
                    declared.tests.contains(span),
                    "{file} line {line}: `{span}` is not a test"
                );
            }
        }
    }
}

#[test]
fn every_test_named_after_a_section_is_listed() {
    let tests = declared().tests;
    for (file, prefix, _) in FILES {
        let markdown = read(file);
        let mut missing: Vec<&String> = tests
            .iter()
            .filter(|name| name.starts_with(prefix))
            .filter(|name| !markdown.contains(&format!("`{name}`")))
            .collect();
        missing.sort();
        assert!(missing.is_empty(), "not in {file}: {missing:#?}");
    }
}
