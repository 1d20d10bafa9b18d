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

fn chromium() -> PathBuf {
    std::env::var_os("AFTERWORD_TEST_CHROMIUM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
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
            "Chromium at {} (`apt-get install -y chromium`, or set AFTERWORD_TEST_CHROMIUM)",
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

#[test]
fn embed_unit_and_browser_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing = missing(root);
    if !missing.is_empty() {
        let msg = format!("browser tests need {}", missing.join(", "));
        if std::env::var("AFTERWORD_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("AFTERWORD_TEST_REQUIRE_BROWSER=1 but the {msg}");
        }
        println!("skipped: {msg}");
        return;
    }
    if root.join("embed/test/unit").is_dir() {
        node(root, &["--test", "embed/test/unit/"]);
    }
    node(
        root,
        &[
            "--test",
            "--test-concurrency=1",
            "--test-timeout=120000",
            "embed/test/browser/",
        ],
    );
}
