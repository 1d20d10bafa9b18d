//! The embed's tests: node's unit tests of its modules, then real-browser tests that drive
//! headless Chromium (through `playwright-core`) against this crate's server binary and a
//! static blog served from another origin. See `embed/test/browser/CI.md`.
//!
//! Without Node, `embed/node_modules` or Chromium the test says what is missing and passes,
//! so `cargo test` works on a machine with Rust alone; CI sets
//! `AFTERWORD_TEST_REQUIRE_BROWSER=1` to make anything missing a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

/// The browser: `AFTERWORD_TEST_CHROMIUM`, else Debian's headless shell when installed
/// (package `chromium-headless-shell`: the same engine without the desktop browser around
/// it; the browser tests took a quarter of the CPU time with it, 48 s against 206 s,
/// measured here), else Debian's `chromium`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("AFTERWORD_TEST_CHROMIUM").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What is missing for the browser tests, if anything.
fn missing(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !node_available() {
        missing.push("node (20 or later) on PATH".to_owned());
    }
    if !root.join("embed/node_modules/playwright-core").is_dir() {
        missing.push("embed/node_modules/playwright-core (run `npm ci` in embed/)".to_owned());
    }
    let chromium = chromium();
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (`apt-get install -y chromium-headless-shell` or `chromium`, or set AFTERWORD_TEST_CHROMIUM)",
            chromium.display()
        ));
    }
    missing
}

/// Runs `node ARGS` in `root`; on failure prints everything node said and panics.
fn node(root: &Path, args: &[&str]) {
    let started = std::time::Instant::now();
    let out = Command::new("node")
        .args(args)
        .current_dir(root)
        .env("AFTERWORD_BIN", BIN)
        .env("AFTERWORD_TEST_CHROMIUM", chromium())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // libtest shows a failed test's output; print all of node's, the TAP report included.
        println!("{stdout}");
        eprintln!("{stderr}");
        panic!(
            "node {} failed ({}) after {:.0?}; its output is above",
            args.join(" "),
            out.status,
            started.elapsed()
        );
    }
    // The summary lines, visible with --nocapture.
    for line in stdout.lines().filter(|l| l.starts_with("# ")) {
        println!("{line}");
    }
    println!(
        "node {} passed in {:.0?}",
        args.join(" "),
        started.elapsed()
    );
}

/// Whether the browser tests can run here; panics when CI requires them and they cannot.
fn ready(root: &Path) -> bool {
    let missing = missing(root);
    if missing.is_empty() {
        return true;
    }
    let msg = format!("browser tests need {}", missing.join(", "));
    if std::env::var("AFTERWORD_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("AFTERWORD_TEST_REQUIRE_BROWSER=1 but the {msg}");
    }
    println!("skipped: {msg}");
    false
}

#[test]
fn embed_unit_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if ready(root) && root.join("embed/test/unit").is_dir() {
        node(root, &["--test", "embed/test/unit/"]);
    }
}

/// The browser test files, in [`PARTS`] shares: each share is a test of its own, so that
/// they run beside each other and beside the rest of the suite (most of their time is
/// spent waiting on the browser and the server), while the files of one share run one
/// after another. File `i` of the sorted list goes to share `i % PARTS`.
const PARTS: usize = 3;

fn browser_part(part: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !ready(root) {
        return;
    }
    let mut files: Vec<String> = std::fs::read_dir(root.join("embed/test/browser"))
        .expect("embed/test/browser")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    let mine: Vec<String> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| i % PARTS == part)
        .map(|(_, name)| format!("embed/test/browser/{name}"))
        .collect();
    assert!(!mine.is_empty(), "no browser test files for part {part}");
    let mut args = vec!["--test", "--test-concurrency=1", "--test-timeout=120000"];
    args.extend(mine.iter().map(String::as_str));
    node(root, &args);
}

#[test]
fn embed_browser_tests_1_of_3() {
    browser_part(0);
}

#[test]
fn embed_browser_tests_2_of_3() {
    browser_part(1);
}

#[test]
fn embed_browser_tests_3_of_3() {
    browser_part(2);
}
