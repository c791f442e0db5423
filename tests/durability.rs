//! The disk store through the real binary: a clean restart (SIGTERM) loses
//! nothing, a crash (`kill -9`) under load loses nothing acknowledged and
//! never reissues an id, a store that cannot be used is refused with exit
//! code 2, and `sse-hub store stats|compact` report on it.

mod common;

use common::{client, next_seen, open_stream as open, Seen, TestServer, SECRET, WAIT};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What each client (stream, number) saw.
type SeenBy = HashMap<(&'static str, usize), Vec<Seen>>;

fn store_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--store".to_owned(),
        dir.display().to_string(),
        "--jwt-secret".to_owned(),
        SECRET.to_owned(),
        "--max-publish-rate".to_owned(),
        "0".to_owned(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    args
}

async fn start(args: &[String]) -> TestServer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start(&args).await
}

/// Publishes `data` as `event` to `stream`; the acknowledged id, or `None`
/// when the request got no answer (the server is gone). Any answer other
/// than `201` fails the test: a publisher that stopped at a refusal would
/// make the load lighter than the test says.
async fn publish(
    http: &reqwest::Client,
    server_base: &str,
    token: &str,
    stream: &str,
    event: &str,
    data: Value,
) -> Option<u64> {
    let response = http
        .post(format!("{server_base}/api/streams/{stream}/events"))
        .bearer_auth(token)
        .json(&json!({ "event": event, "data": data }))
        .send()
        .await
        .ok()?;
    let status = response.status();
    let body: Value = response.json().await.ok()?;
    assert_eq!(status, 201, "publish to {stream}: {body}");
    body["id"].as_u64()
}

async fn sigterm_and_wait(server: &mut TestServer) {
    let pid = server.child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exited = tokio::time::timeout(WAIT, server.child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exited.success(), "a clean stop exits 0: {exited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_restart_loses_nothing_and_every_client_resumes_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().expect("dir");
    let args = store_args(dir.path(), &["--interval-ms", "50", "--history", "1000"]);
    let mut server = start(&args).await;
    let token = common::token(&["*"], &[], 600);
    let http = client();
    let streams = ["roll-a", "roll-b", "roll-c", "roll-d", "roll-e"];
    // 50 clients, 10 per stream: half leave early (so that after the
    // restart they resume from far back, from the disk), half stay until
    // the server stops.
    let mut readers = Vec::new();
    for stream in streams {
        for n in 0..10 {
            readers.push((stream, n, open(&server, stream, None).await));
        }
    }
    let seen: Arc<Mutex<SeenBy>> = Arc::default();
    let mut tasks = Vec::new();
    for (stream, n, mut reader) in readers {
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let wanted = if n < 5 { 4 } else { usize::MAX };
            let mut got = Vec::new();
            while got.len() < wanted {
                match next_seen(&mut reader).await {
                    Some(message) => got.push(message),
                    None => break,
                }
            }
            seen.lock().expect("lock").insert((stream, n), got);
        }));
    }
    // Published events between the generated ones, acknowledged.
    for stream in streams {
        for k in 0..3 {
            let id = publish(
                &http,
                &server.base,
                &token,
                stream,
                "note",
                json!({ "k": k }),
            )
            .await;
            assert!(id.is_some(), "published to {stream}");
        }
    }
    // Everyone has seen a few events; the stayers keep reading.
    common::eventually("the early clients have their events", || {
        let seen = Arc::clone(&seen);
        async move { seen.lock().expect("lock").len() >= 25 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // more events flow to the stayers
    sigterm_and_wait(&mut server).await;
    for task in tasks {
        task.await.expect("reader");
    }
    let before = seen.lock().expect("lock").clone();
    // What each stream issued before the stop, by id, as its stayers saw it.
    let mut issued: HashMap<&str, BTreeMap<u64, Seen>> = HashMap::new();
    for ((stream, _), got) in &before {
        for message in got {
            assert_ne!(
                message.event.as_deref(),
                Some("gap"),
                "no gap before the stop"
            );
            let known = issued.entry(stream).or_default().entry(message.id);
            known.or_insert_with(|| message.clone());
        }
    }

    let server = start(&args).await;
    // Missed while nobody was connected: published after the restart.
    let mut published_after = HashMap::new();
    for stream in streams {
        let id = publish(
            &http,
            &server.base,
            &token,
            stream,
            "after",
            json!({ "s": stream }),
        )
        .await;
        published_after.insert(stream, id.expect("published after the restart"));
    }
    for ((stream, n), got) in before {
        let last = got.last().expect("saw something").id;
        let stayed_until = issued[stream].keys().next_back().copied().expect("ids");
        let mut reader = open(&server, stream, Some(last)).await;
        let mut expected = last + 1;
        loop {
            let message = tokio::time::timeout(WAIT, next_seen(&mut reader))
                .await
                .expect("in time")
                .expect("stream open");
            assert_ne!(
                message.event.as_deref(),
                Some("gap"),
                "client {n} of {stream} resuming after {last}: {message:?}"
            );
            assert_eq!(
                message.id, expected,
                "client {n} of {stream}: consecutive ids"
            );
            if let Some(known) = issued[stream].get(&message.id) {
                assert_eq!(&message, known, "the same event under the same id");
            } else {
                assert!(message.id > stayed_until, "only new events are new");
            }
            expected += 1;
            // Past the event published after the restart, and one the
            // generator made after it: the sequence goes on.
            if message.id > published_after[stream] {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_under_load_loses_nothing_acknowledged_and_never_reuses_an_id() {
    let dir = tempfile::tempdir().expect("dir");
    let args = store_args(dir.path(), &["--interval-ms", "10", "--history", "20000"]);
    let mut server = start(&args).await;
    let token = common::token(&["*"], &[], 600);
    let stream = "crash";
    // A client that records everything until the crash.
    let mut reader = open(&server, stream, None).await;
    let watched: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let watcher = {
        let watched = Arc::clone(&watched);
        tokio::spawn(async move {
            while let Some(message) = next_seen(&mut reader).await {
                watched.lock().expect("lock").push(message);
            }
        })
    };
    // 10 publishers, 5,000 events in all; the server is killed midway.
    let acked: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut publishers = Vec::new();
    for p in 0..10 {
        let (acked, count, token, base) = (
            Arc::clone(&acked),
            Arc::clone(&count),
            token.clone(),
            server.base.clone(),
        );
        publishers.push(tokio::spawn(async move {
            // One keep-alive connection per publisher, as a real one keeps.
            let http = reqwest::Client::new();
            for k in 0..500 {
                let data = json!({ "publisher": p, "k": k });
                let event = format!("p{p}");
                let Some(id) = publish(&http, &base, &token, stream, &event, data.clone()).await
                else {
                    return;
                };
                count.fetch_add(1, Ordering::AcqRel);
                acked.lock().expect("lock").push(Seen {
                    id,
                    event: Some(event),
                    data: data.to_string(),
                });
            }
        }));
    }
    common::eventually("half the publishes are acknowledged", || {
        let count = Arc::clone(&count);
        async move { count.load(Ordering::Acquire) >= 2500 }
    })
    .await;
    server.child.start_kill().expect("kill -9");
    server.child.wait().await.expect("dead");
    for publisher in publishers {
        publisher.await.expect("publisher");
    }
    watcher.await.expect("watcher");
    let acked = acked.lock().expect("lock").clone();
    let watched = watched.lock().expect("lock").clone();
    assert!(acked.len() >= 2500 && acked.len() < 5000, "{}", acked.len());

    let server = start(&args).await;
    check_resume_after_crash(&server, stream, &watched, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_at_most_the_flush_window_of_generated_events_and_tells_of_it() {
    // Only generated events, committed every 2 s: a kill -9 loses the
    // last of them, which clients had already been sent.
    let dir = tempfile::tempdir().expect("dir");
    let args = store_args(
        dir.path(),
        &["--interval-ms", "10", "--store-flush-ms", "2000"],
    );
    let mut server = start(&args).await;
    let stream = "generated";
    let mut reader = open(&server, stream, None).await;
    let mut watched = Vec::new();
    while watched.len() < 30 {
        watched.push(next_seen(&mut reader).await.expect("an event"));
    }
    server.child.start_kill().expect("kill -9");
    server.child.wait().await.expect("dead");
    while let Some(message) = next_seen(&mut reader).await {
        watched.push(message);
    }
    let server = start(&args).await;
    check_resume_after_crash(&server, stream, &watched, &[]).await;
}

/// After a crash: a client resuming from the oldest id it had gets every
/// kept event after it (each acknowledged one among them, every id it saw
/// with the same event), a gap notice for ids the crash took, never an
/// event under such an id, and then new ids above every old one.
async fn check_resume_after_crash(
    server: &TestServer,
    stream: &str,
    watched: &[Seen],
    acked: &[Seen],
) {
    let first_watched = watched.first().expect("the client saw events").id;
    let newest_before = watched
        .iter()
        .map(|seen| seen.id)
        .chain(acked.iter().map(|seen| seen.id))
        .max()
        .expect("ids");
    // Resume from the oldest id the client had: everything after it that
    // the store kept, a gap notice for what the crash lost, then new ids.
    let mut reader = open(server, stream, Some(first_watched)).await;
    let mut replayed: BTreeMap<u64, Seen> = BTreeMap::new();
    let mut gaps = Vec::new();
    let first_new = loop {
        let message = tokio::time::timeout(WAIT, next_seen(&mut reader))
            .await
            .expect("in time")
            .expect("stream open");
        if message.event.as_deref() == Some("gap") {
            let notice: Value = serde_json::from_str(&message.data).expect("gap JSON");
            gaps.push((
                notice["first"].as_u64().expect("first"),
                notice["last"].as_u64().expect("last"),
            ));
            continue;
        }
        if message.id > newest_before {
            break message.id;
        }
        assert!(
            replayed.insert(message.id, message.clone()).is_none(),
            "each id once: {}",
            message.id
        );
    };
    // (The resume starts after the client's first id: that one it has.)
    for ack in acked.iter().filter(|ack| ack.id > first_watched) {
        assert_eq!(
            replayed.get(&ack.id),
            Some(ack),
            "acknowledged {} is kept",
            ack.id
        );
    }
    for seen in watched.iter().filter(|seen| seen.id > first_watched) {
        if let Some(kept) = replayed.get(&seen.id) {
            assert_eq!(kept, seen, "id {} names the same event as before", seen.id);
        } else {
            assert!(
                gaps.iter()
                    .any(|(first, last)| (*first..=*last).contains(&seen.id)),
                "id {} is either kept or in a gap notice: {gaps:?}",
                seen.id
            );
        }
    }
    for (first, last) in &gaps {
        assert!(
            replayed.range(first..=last).next().is_none(),
            "no event is sent under an id of a gap"
        );
    }
    eprintln!(
        "acked {} watched {} replayed {} gaps {gaps:?} first new {first_new}",
        acked.len(),
        watched.len(),
        replayed.len()
    );
    assert!(first_new > newest_before, "new ids are above all old ones");
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sse-hub"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// Asserts exit code 2 and one stderr line naming `path` and `reason`.
fn assert_refused(output: &Output, path: &Path, reason: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains(reason), "{reason:?} in {stderr:?}");
}

fn serve_args(dir: &Path) -> Vec<String> {
    vec![
        "--addr".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--store".to_owned(),
        dir.display().to_string(),
    ]
}

#[test]
fn a_store_that_cannot_be_used_stops_the_server_with_exit_code_2_and_is_left_alone() {
    let root = tempfile::tempdir().expect("dir");
    // Damaged: the file is not a store.
    let damaged = root.path().join("damaged");
    std::fs::create_dir(&damaged).expect("mkdir");
    let junk: Vec<u8> = (0..100_000u32).map(|n| (n * 31 % 256) as u8).collect();
    std::fs::write(damaged.join("sse-hub.redb"), &junk).expect("write");
    let args = serve_args(&damaged);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(&run(&args), &damaged, "not an sse-hub store");
    assert_eq!(
        std::fs::read(damaged.join("sse-hub.redb")).expect("read"),
        junk
    );

    // A file where the directory should be.
    let file = root.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let args = serve_args(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(&run(&args), &file, "not a directory");

    // A directory the server may not read (as root, the server runs as
    // nobody: root reads everything).
    let locked_out = root.path().join("locked-out");
    std::fs::create_dir(&locked_out).expect("mkdir");
    let mut command = if running_as_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        command.arg(env!("CARGO_BIN_EXE_sse-hub"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_sse-hub"))
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked_out, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let output = command
        .args(serve_args(&locked_out))
        .output()
        .expect("binary runs");
    std::fs::set_permissions(&locked_out, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_refused(&output, &locked_out, "Permission denied");
}

/// Whether this process runs as root (whom file permissions do not stop).
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().nth(1))
        == Some("0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_store_is_refused_and_the_store_commands_report_on_it() {
    let dir = tempfile::tempdir().expect("dir");
    let args = store_args(dir.path(), &["--interval-ms", "50"]);
    let mut server = start(&args).await;
    let token = common::token(&["*"], &[], 600);
    let http = client();
    for stream in ["stats-a", "stats-b"] {
        for k in 0..3 {
            let id = publish(&http, &server.base, &token, stream, "x", json!(k)).await;
            assert!(id.is_some());
        }
    }
    let second = serve_args(dir.path());
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    assert_refused(&run(&second), dir.path(), "store in use by another process");
    let path = dir.path().display().to_string();
    assert_refused(
        &run(&["store", "stats", &path]),
        dir.path(),
        "store in use by another process",
    );
    sigterm_and_wait(&mut server).await;

    let stats = run(&["store", "stats", &path]);
    let out = String::from_utf8_lossy(&stats.stdout);
    assert_eq!(stats.status.code(), Some(0), "{out} {:?}", stats.stderr);
    assert!(out.contains("streams: 2\n"), "{out}");
    assert!(out.contains("events: 6\n"), "{out}");
    assert!(out.contains("bytes: "), "{out}");
    let compact = run(&["store", "compact", &path]);
    assert_eq!(compact.status.code(), Some(0), "{compact:?}");
    assert!(String::from_utf8_lossy(&compact.stdout).contains("bytes before"));
    let missing = dir.path().join("nothing-here");
    assert_refused(
        &run(&["store", "stats", &missing.display().to_string()]),
        &missing,
        "no store there",
    );
    // Everything is still there after the compaction.
    let server = start(&args).await;
    let mut reader = open(&server, "stats-a", Some(1)).await;
    let replayed = [
        next_seen(&mut reader).await.expect("2"),
        next_seen(&mut reader).await.expect("3"),
    ];
    assert_eq!(
        replayed.map(|seen| (seen.id, seen.data)),
        [(2, "1".to_owned()), (3, "2".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_found_damaged_while_serving_is_refused_and_reported_never_served_as_healthy() {
    let root = tempfile::tempdir().expect("dir");
    let healthy = root.path().join("healthy");
    let mut server = start(&store_args(&healthy, &["--generate", "none"])).await;
    let token = common::token(&["*"], &[], 600);
    let http = client();
    for k in 0..50 {
        let stream = format!("s{}", k % 5);
        let id = publish(&http, &server.base, &token, &stream, "x", json!(k)).await;
        assert!(id.is_some());
    }
    sigterm_and_wait(&mut server).await;

    // Pages that redb reads only when a stream is asked for (at 8192) or
    // when the writer sweeps (at 16384): opening the store succeeds, and
    // redb panics on the page later.
    for offset in [8192u64, 16384] {
        let damaged = root.path().join(format!("damaged-{offset}"));
        std::fs::create_dir(&damaged).expect("mkdir");
        let mut bytes = std::fs::read(healthy.join("sse-hub.redb")).expect("read");
        let start_at = usize::try_from(offset).expect("small");
        for byte in &mut bytes[start_at..start_at + 512] {
            *byte ^= 0x5a;
        }
        std::fs::write(damaged.join("sse-hub.redb"), &bytes).expect("write");

        assert_refused(
            &run(&["store", "stats", &damaged.display().to_string()]),
            &damaged,
            "the store is damaged",
        );
        // Damage redb finds as it opens the file (a debug build checks
        // more there) stops the start; otherwise the server runs and must
        // report the damage as soon as it meets it.
        let Some(server) =
            start_unless_refused(&store_args(&damaged, &["--generate", "none"])).await
        else {
            continue;
        };
        let resumed = http
            .get(format!("{}/sse/s0", server.base))
            .header("Last-Event-ID", "3")
            .send()
            .await
            .expect("answered");
        assert_eq!(resumed.status(), 503, "offset {offset}");
        let published = http
            .post(format!("{}/api/streams/fresh/events", server.base))
            .bearer_auth(&token)
            .json(&json!({ "data": 1 }))
            .send()
            .await
            .expect("answered");
        assert_eq!(published.status(), 503, "offset {offset}");
        let health = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("answered");
        assert_eq!(
            health.status(),
            503,
            "offset {offset}: a load balancer must see it"
        );
        let health: Value = health.json().await.expect("JSON");
        assert_eq!(health["status"], "degraded", "{health}");
        assert!(
            health["store"]
                .as_str()
                .is_some_and(|reason| reason.contains("the store is damaged")),
            "{health}"
        );
    }
}

/// A server started by [`start_unless_refused`], killed on drop.
struct Started {
    _child: tokio::process::Child,
    _log: tempfile::NamedTempFile,
    base: String,
}

/// Starts the server, or asserts that it refused its store as damaged
/// (exit code 2 and the reason) and returns `None`.
async fn start_unless_refused(args: &[String]) -> Option<Started> {
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-hub"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log.reopen().expect("log file"))
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a line or the exit in time")
        .expect("stdout readable");
    if let Some(first) = first {
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        // The rest of stdout (the token line) fits the pipe's buffer.
        return Some(Started {
            _child: child,
            _log: log,
            base,
        });
    }
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    let stderr = std::fs::read_to_string(log.path()).expect("log");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the store is damaged"), "{stderr}");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_commands_find_the_store_as_the_server_does_and_refuse_what_is_no_store() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("store");
    let mut server = start(&store_args(&store, &["--generate", "none"])).await;
    let token = common::token(&["*"], &[], 600);
    for k in 0..3 {
        let id = publish(&client(), &server.base, &token, "cli", "x", json!(k)).await;
        assert!(id.is_some());
    }
    sigterm_and_wait(&mut server).await;
    let path = store.display().to_string();

    // `--store` and SSE_HUB_STORE (trimmed, as the server trims it) name
    // the store when the command names none.
    let stats = run(&["--store", &path, "store", "stats"]);
    assert_eq!(stats.status.code(), Some(0), "{stats:?}");
    assert!(String::from_utf8_lossy(&stats.stdout).contains("events: 3\n"));
    let from_env = Command::new(env!("CARGO_BIN_EXE_sse-hub"))
        .env("SSE_HUB_STORE", format!(" {path} "))
        .args(["store", "stats"])
        .output()
        .expect("binary runs");
    assert_eq!(from_env.status.code(), Some(0), "{from_env:?}");
    assert!(String::from_utf8_lossy(&from_env.stdout).contains("events: 3\n"));

    // Two different stores, no command, or a store that is no directory.
    let other = dir.path().join("other").display().to_string();
    assert_refused(
        &run(&["--store", &path, "store", "stats", &other]),
        Path::new(&other),
        "two stores given",
    );
    let bare = run(&["store"]);
    let stderr = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(bare.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("stats") && stderr.contains("compact"),
        "{stderr}"
    );
    assert_refused(
        &run(&["store", "compact", "memory"]),
        Path::new("memory"),
        "not a disk store",
    );

    // An empty file is no store: never made a new one in its place.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    std::fs::write(empty.join("sse-hub.redb"), b"").expect("write");
    let serve = serve_args(&empty);
    let serve: Vec<&str> = serve.iter().map(String::as_str).collect();
    assert_refused(&run(&serve), &empty, "is empty");
    assert_eq!(
        std::fs::metadata(empty.join("sse-hub.redb"))
            .expect("still there")
            .len(),
        0
    );
}

/// The ids and data of the next `n` messages on `reader` (0 for a gap).
async fn next_n(reader: &mut common::SseReader, n: usize) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let message = tokio::time::timeout(WAIT, next_seen(reader))
            .await
            .expect("in time")
            .expect("stream open");
        seen.push((message.id, message.data));
    }
    seen
}

/// Published events only, on a store with a 3 s retention time.
fn retention_args(dir: &Path) -> Vec<String> {
    store_args(dir, &["--generate", "none", "--retention-ms", "3000"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_with_a_subscriber_keeps_its_history_across_a_crash() {
    // Retention counts from when the last subscriber leaves: a crash is
    // that moment (to within a round of the sweep, 1 s here), not the
    // stream's newest event, however long ago that was.
    let dir = tempfile::tempdir().expect("dir");
    let args = retention_args(dir.path());
    let mut server = start(&args).await;
    let token = common::token(&["*"], &[], 600);
    let mut listener = open(&server, "quiet", None).await;
    for k in 1..=3 {
        let id = publish(&client(), &server.base, &token, "quiet", "x", json!(k)).await;
        assert_eq!(id, Some(k));
    }
    assert_eq!(next_n(&mut listener, 3).await.len(), 3);
    // Longer than the retention time with the subscriber there and no
    // event: the stream is not idle.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    server.child.start_kill().expect("kill -9");
    server.child.wait().await.expect("exited");
    drop(listener);

    let server = start(&args).await;
    let mut resumed = open(&server, "quiet", Some(1)).await;
    assert_eq!(
        next_n(&mut resumed, 2).await,
        [(2, "2".to_owned()), (3, "3".to_owned())],
        "the acknowledged events are still there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_does_not_restart_an_idle_streams_retention_time() {
    let dir = tempfile::tempdir().expect("dir");
    let args = retention_args(dir.path());
    let mut server = start(&args).await;
    let token = common::token(&["*"], &[], 600);
    let published = tokio::time::Instant::now();
    for k in 1..=2 {
        let id = publish(&client(), &server.base, &token, "idle", "x", json!(k)).await;
        assert_eq!(id, Some(k));
    }
    // Idle (nobody subscribed) for 2 s, then a clean stop and a restart;
    // 3.5 s after the last event the stream is past its retention time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sigterm_and_wait(&mut server).await;
    let server = start(&args).await;
    tokio::time::sleep_until(published + Duration::from_millis(3500)).await;
    let mut resumed = open(&server, "idle", Some(1)).await;
    let first = next_n(&mut resumed, 1).await;
    assert_eq!(
        first[0].0, 0,
        "forgotten at its retention time: a gap notice, not event 2: {first:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_crash_gets_the_first_answer_of_its_idempotency_key() {
    let dir = tempfile::tempdir().expect("dir");
    let args = store_args(dir.path(), &["--generate", "none"]);
    let token = common::token(&["*"], &[], 600);
    let http = client();
    let keyed = |base: String| {
        http.post(format!("{base}/api/streams/orders/events"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "order-17-paid")
            .json(&json!({ "event": "order.paid", "data": 17 }))
            .send()
    };
    let mut server = start(&args).await;
    let first = keyed(server.base.clone()).await.expect("answered");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("JSON");
    server.child.start_kill().expect("kill -9");
    server.child.wait().await.expect("exited");

    let server = start(&args).await;
    let retry = keyed(server.base.clone()).await.expect("answered");
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|value| value.to_str().ok()),
        Some("true")
    );
    let retry: Value = retry.json().await.expect("JSON");
    assert_eq!(retry, first, "the first answer again");
    // Resuming after the first event: only a gap notice (the ids the
    // crash skipped) stands before the next publish, no second copy.
    let first_id = first["id"].as_u64().expect("id");
    let mut reader = open(&server, "orders", Some(first_id)).await;
    let next = publish(&http, &server.base, &token, "orders", "x", json!(1)).await;
    let seen = loop {
        let seen = tokio::time::timeout(WAIT, next_seen(&mut reader))
            .await
            .expect("in time")
            .expect("open");
        if seen.event.as_deref() != Some("gap") {
            break seen;
        }
    };
    assert_eq!(Some(seen.id), next, "nothing else was appended: {seen:?}");
}
