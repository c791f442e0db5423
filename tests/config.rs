//! Bad configuration prints one clear line and exits with code 2.

mod common;

use common::TestServer;
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-hub"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("binary runs")
}

/// Asserts exit code 2, a single stderr line containing `needle`, no panic.
fn assert_rejected(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn min_above_max_is_rejected() {
    assert_rejected(
        &run(&["--min", "10", "--max", "5"], &[]),
        "--min (10) must not be greater than --max (5)",
    );
}

#[test]
fn zero_interval_is_rejected() {
    assert_rejected(
        &run(&["--interval-ms", "0"], &[]),
        "--interval-ms must be at least 1",
    );
}

#[test]
fn unparsable_address_is_rejected() {
    assert_rejected(&run(&["--addr", "not-an-address"], &[]), "not-an-address");
}

#[test]
fn non_numeric_value_is_rejected() {
    assert_rejected(&run(&["--max", "lots"], &[]), "lots");
}

#[test]
fn settings_are_read_from_the_environment_too() {
    assert_rejected(
        &run(&[], &[("SSE_HUB_INTERVAL_MS", "0")]),
        "--interval-ms must be at least 1",
    );
}

#[test]
fn bad_log_filter_is_rejected() {
    assert_rejected(&run(&["--log", "[[["], &[]), "--log");
}

#[test]
fn help_documents_every_flag() {
    let output = run(&["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--interval-ms",
        "--min",
        "--max",
        "--cors-origins",
        "--log",
        "--history",
        "--retention-ms",
        "--keep-alive-ms",
        "--retry-ms",
        "--max-streams",
        "--max-connections",
        "--max-connections-per-ip",
        "--write-timeout-ms",
        "--send-buffer-bytes",
        "SSE_HUB_INTERVAL_MS",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }
}

/// A port that is already taken is a configuration error, not a crash.
#[tokio::test]
async fn port_in_use_is_rejected() {
    let server = TestServer::start(&[]).await;
    let addr = server.addr().to_owned();
    let output = tokio::task::spawn_blocking(move || run(&["--addr", &addr], &[]))
        .await
        .expect("joined");
    assert_rejected(&output, "cannot listen on");
}

#[test]
fn a_bad_generate_pattern_is_rejected() {
    assert_rejected(
        &run(&["--generate", "orders-*,a*b"], &[]),
        "--generate: the stream pattern 'a*b' has a '*' before its end",
    );
}
