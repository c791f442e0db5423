//! Bad configuration prints one clear line and exits with code 2.

mod common;

use common::TestServer;
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sse-hub"));
    command.env("SSE_HUB_STORE", "memory").args(args);
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
        "--generate",
        "--private-streams",
        "--max-event-bytes",
        "--max-publish-rate",
        "--jwt-secret",
        "--jwt-secret-file",
        "SSE_HUB_JWT_SECRET",
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

#[test]
fn bad_token_settings_are_rejected() {
    assert_rejected(
        &run(&["--private-streams", "a*b"], &[]),
        "--private-streams: the stream pattern 'a*b'",
    );
    assert_rejected(
        &run(&["--jwt-secret-file", "/nonexistent/secret"], &[]),
        "--jwt-secret-file /nonexistent/secret",
    );
    assert_rejected(
        &run(&["--jwt-secret", ""], &[]),
        "the token secret is empty",
    );
    assert_rejected(
        &run(
            &["--jwt-secret", "a", "--jwt-secret-file", "/etc/hostname"],
            &[],
        ),
        "--jwt-secret",
    );
    assert_rejected(
        &run(&["--max-event-bytes", "0"], &[]),
        "--max-event-bytes must be at least 1",
    );
}

#[test]
fn the_token_command_needs_a_secret_and_a_grant() {
    assert_rejected(
        &run(&["token", "--publish", "*"], &[]),
        "no token secret configured",
    );
    assert_rejected(
        &run(&["token"], &[("SSE_HUB_JWT_SECRET", "s")]),
        "the token would grant nothing",
    );
    assert_rejected(
        &run(&["token", "--publish", "a*b", "--jwt-secret", "s"], &[]),
        "a*b",
    );
    assert_rejected(
        &run(
            &[
                "token",
                "--publish",
                "*",
                "--ttl",
                "soon",
                "--jwt-secret",
                "s",
            ],
            &[],
        ),
        "soon",
    );
}

/// A token from `sse-hub token`, with the secret from a file, is accepted by
/// a server with that secret in its environment.
#[tokio::test]
async fn a_minted_token_is_accepted_by_a_server_with_the_same_secret() {
    let dir = std::env::temp_dir().join(format!("sse-hub-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{}\n", common::SECRET)).expect("secret written");
    let path = file.to_str().expect("UTF-8 path").to_owned();
    let minted = run(
        &[
            "token",
            "--publish",
            "orders-*",
            "--ttl",
            "10m",
            "--sub",
            "ci",
            "--jwt-secret-file",
            &path,
        ],
        &[],
    );
    assert_eq!(minted.status.code(), Some(0), "{minted:?}");
    let token = String::from_utf8(minted.stdout).expect("UTF-8");
    let token = token.trim();
    let server = TestServer::start_with_secret(&["--generate", "none", "--log", "warn"]).await;
    let publish = |id: &str| {
        reqwest::Client::new()
            .post(server.url(&format!("/api/streams/{id}/events")))
            .bearer_auth(token)
            .json(&serde_json::json!({"data": 1}))
            .send()
    };
    assert_eq!(publish("orders-1").await.expect("sent").status(), 201);
    assert_eq!(publish("billing").await.expect("sent").status(), 403);
    let _ = std::fs::remove_dir_all(&dir);
}
