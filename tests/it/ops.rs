//! Running it as a service: the container's health check, JSON logs with request ids that
//! error answers carry too, `afterword doctor`, `/metrics`.

use std::process::Command;
use std::time::Duration;

use crate::cli::{command, Server};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

#[test]
fn healthcheck_passes_while_the_server_answers_and_fails_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    let check = || {
        Command::new(BIN)
            .arg("healthcheck")
            .env_remove("AFTERWORD_CONFIG")
            .env("AFTERWORD_LISTEN", &server.addr)
            .output()
            .unwrap()
    };
    let ok = check();
    assert!(ok.status.success(), "{ok:?}");
    server.signal(libc::SIGTERM);
    let addr = server.addr.clone();
    server.wait();
    let gone = Command::new(BIN)
        .arg("healthcheck")
        .env_remove("AFTERWORD_CONFIG")
        .env("AFTERWORD_LISTEN", &addr)
        .output()
        .unwrap();
    assert!(!gone.status.success());
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("does not answer"), "{said}");
    // A wildcard listen address is probed on loopback.
    assert_eq!(
        afterword::doctor::local_address("0.0.0.0:8080".parse().unwrap()),
        "127.0.0.1:8080".parse().unwrap()
    );
    assert_eq!(
        afterword::doctor::local_address("[::]:8080".parse().unwrap()),
        "[::1]:8080".parse().unwrap()
    );
}

/// The lines of a server's log until one satisfies `done` (bounded).
fn log_until(server: &Server, done: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = server.stderr.recv_timeout(Duration::from_secs(10)) {
        let hit = done(&line);
        seen.push(line);
        if hit {
            return seen;
        }
    }
    panic!("no such log line in {seen:#?}");
}

#[test]
fn json_logs_carry_the_request_id_that_error_answers_show() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_LOG_FORMAT", "json");
    let server = Server::start(cmd);
    let answer = server.get("/api/v1/comments?site=nosuchsite&slug=/a/");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let header = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no X-Request-Id in {answer}"))
        .trim()
        .to_owned();
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unknown_site");
    assert_eq!(body["error"]["request_id"], header.as_str(), "{body}");
    // The log line for it: JSON, with the id, the status and the path.
    let lines = log_until(&server, |l| l.contains(&header));
    let line: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(line["span"]["request_id"], header.as_str(), "{line}");
    assert_eq!(line["fields"]["status"], 404, "{line}");
    assert_eq!(line["span"]["path"], "/api/v1/comments", "{line}");
    assert_eq!(line["level"], "INFO");
    // Every line is JSON, not only the request's.
    for l in &lines {
        assert!(serde_json::from_str::<Value>(l).is_ok(), "not JSON: {l}");
    }
    // A different request gets a different id; a 405 carries one too.
    let other = server.get("/embed.js?x");
    assert!(other.contains("x-request-id: "), "{other}");
    assert!(!other.contains(&header));
}

#[test]
fn a_bad_log_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .arg("serve")
        .env("AFTERWORD_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("AFTERWORD_LOG_FORMAT: `yaml` must be \"text\" or \"json\""),
        "{said}"
    );
}
