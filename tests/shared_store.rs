//! Several instances as one hub on a shared Redis (`--store redis://…`),
//! with the real binary: one log everywhere, one generator per stream,
//! fenced writes, failover, broker faults and nothing left behind. Each
//! test starts its own `redis-server` on a free port (never the machine's
//! shared one) and two or three servers on port 0; the test plays the load
//! balancer.

mod common;

use common::redis::{signal, TestRedis};
use common::{client, next_seen, open_stream, Seen, SseReader, TestServer, WAIT};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Lease time of every instance: short, so that takeovers are quick.
const LEASE_MS: u64 = 1000;

/// Interval of the generated events.
const INTERVAL_MS: u64 = 50;

/// Starts `n` instances on `redis`, named a, b, c…, with `extra` flags.
async fn instances(redis: &TestRedis, n: usize, extra: &[&str]) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for name in ["a", "b", "c"].into_iter().take(n) {
        servers.push(instance(redis, name, extra).await);
    }
    servers
}

/// Starts one instance on `redis` named `name`.
async fn instance(redis: &TestRedis, name: &str, extra: &[&str]) -> TestServer {
    instance_at(&redis.url(), name, extra).await
}

/// Starts one instance named `name` on the store at `url`.
async fn instance_at(url: &str, name: &str, extra: &[&str]) -> TestServer {
    let lease = LEASE_MS.to_string();
    let interval = INTERVAL_MS.to_string();
    let mut args = vec![
        "--store",
        url,
        "--instance-id",
        name,
        "--lease-ms",
        &lease,
        "--interval-ms",
        &interval,
        "--max-publish-rate",
        "0",
        "--max-connection-rate-per-ip",
        "0",
    ];
    args.extend_from_slice(extra);
    TestServer::start_with_secret(&args).await
}

/// Publishes `data` as `event` to `stream` through `server`: the status
/// and the answer.
async fn publish(server: &TestServer, stream: &str, event: &str, data: Value) -> (u16, Value) {
    publish_with_key(server, stream, event, data, None).await
}

/// [`publish`] with an `Idempotency-Key`.
async fn publish_with_key(
    server: &TestServer,
    stream: &str,
    event: &str,
    data: Value,
    key: Option<&str>,
) -> (u16, Value) {
    let token = common::token(&["*"], &[], 600);
    let mut request = client()
        .post(server.url(&format!("/api/streams/{stream}/events")))
        .bearer_auth(token)
        .json(&json!({ "event": event, "data": data }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `/api/stats` of `server`, one counter.
async fn stat(server: &TestServer, name: &str) -> u64 {
    server.get_json("/api/stats").await[name]
        .as_u64()
        .unwrap_or_else(|| panic!("/api/stats has {name}"))
}

/// Which of `servers` leads `stream`'s generation (the one whose stats say
/// it leads a stream), once exactly one does.
async fn leader(servers: &[&TestServer]) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut leading = Vec::new();
        for (index, server) in servers.iter().enumerate() {
            if stat(server, "leading_streams").await == 1 {
                leading.push(index);
            }
        }
        if let [only] = leading[..] {
            return only;
        }
        assert!(Instant::now() < deadline, "no single leader: {leading:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The stream's newest id as Redis holds it.
fn mark(redis: &TestRedis, stream: &str) -> u64 {
    redis
        .cli(&["HGET", &format!("sse-hub:{{{stream}}}:mark"), "seq"])
        .parse()
        .unwrap_or(0)
}

/// The next `n` messages of `reader` (events and gap notices).
async fn take(reader: &mut SseReader, n: usize) -> Vec<Seen> {
    let mut seen = Vec::with_capacity(n);
    while seen.len() < n {
        seen.push(next_seen(reader).await.expect("the stream goes on"));
    }
    seen
}

/// Asserts that `seen` has consecutive ids (no gap notice, no jump, no
/// duplicate).
fn assert_consecutive(seen: &[Seen], who: &str) {
    assert!(
        seen.iter().all(|message| message.id > 0),
        "{who}: a gap notice: {seen:?}"
    );
    let ids: Vec<u64> = seen.iter().map(|message| message.id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{who}: ids not consecutive: {ids:?}"
    );
}

/// Asserts that every id seen by several clients came with the same event
/// and data, and returns everything seen by id.
fn assert_identical(all: &[&[Seen]]) -> BTreeMap<u64, Seen> {
    let mut by_id: BTreeMap<u64, Seen> = BTreeMap::new();
    for seen in all {
        for message in seen.iter().filter(|message| message.id > 0) {
            if let Some(earlier) = by_id.get(&message.id) {
                assert_eq!(
                    earlier, message,
                    "two clients got id {} differently",
                    message.id
                );
            }
            by_id.insert(message.id, message.clone());
        }
    }
    by_id
}

/// Waits until `check` holds, polling every 50 ms, for at most `within`.
async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_serves_one_log_and_a_client_resumes_on_any() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 3, &[]).await;
    let stream = "shared";
    let mut readers = Vec::new();
    for server in &servers {
        readers.push(open_stream(server, stream, None).await);
    }
    let mut seen: Vec<Vec<Seen>> = Vec::new();
    for reader in &mut readers {
        seen.push(take(reader, 3).await);
    }
    // Published through a: b and c get it too, under the same id.
    let (status, answer) = publish(&servers[0], stream, "note", json!({"from": "a"})).await;
    assert_eq!(status, 201, "{answer}");
    let published = answer["id"].as_u64().expect("an id");
    for (reader, seen) in readers.iter_mut().zip(&mut seen) {
        while seen.last().map(|message| message.id) < Some(published + 3) {
            seen.push(next_seen(reader).await.expect("goes on"));
        }
    }
    for (seen, who) in seen.iter().zip(["a", "b", "c"]) {
        assert_consecutive(seen, who);
        let note = seen.iter().find(|message| message.id == published);
        assert_eq!(
            note.map(|message| (message.event.as_deref(), message.data.as_str())),
            Some((Some("note"), r#"{"from":"a"}"#)),
            "{who} got the published event"
        );
    }
    let by_id = assert_identical(&[&seen[0], &seen[1], &seen[2]]);
    // A client of a moves to b with its Last-Event-ID: no gap, no duplicate.
    let last = seen[0].last().expect("seen").id;
    let mut moved = open_stream(&servers[1], stream, Some(last)).await;
    let resumed = take(&mut moved, 5).await;
    assert_eq!(resumed[0].id, last + 1, "{resumed:?}");
    assert_consecutive(&resumed, "moved to b");
    let more = take(&mut readers[0], 5).await;
    let all: Vec<Seen> = by_id.into_values().chain(more).collect();
    assert_identical(&[&all, &resumed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_generator_per_stream_hands_over_and_stops_with_the_last_client() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &[]).await;
    let stream = "generated";
    let mut readers = vec![
        open_stream(&servers[0], stream, None).await,
        open_stream(&servers[1], stream, None).await,
    ];
    for reader in &mut readers {
        take(reader, 5).await;
    }
    let lead = leader(&[&servers[0], &servers[1]]).await;
    let other = 1 - lead;
    // The leader's client leaves: the other instance takes over within the
    // lease's retry time, and its client sees the cadence go on.
    drop(readers.remove(lead));
    let before = take(&mut readers[0], 1).await;
    let started = Instant::now();
    until("the other instance leads", WAIT, || async {
        stat(&servers[other], "leading_streams").await == 1
    })
    .await;
    let after = take(&mut readers[0], 10).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_consecutive(&[before, after].concat(), "the remaining client");
    assert_eq!(stat(&servers[lead], "leading_streams").await, 0);
    // The last client leaves: nobody generates; every generated event is one
    // step of the sequence (one generator at a time).
    drop(readers);
    until("the lease is released", WAIT, || async {
        redis.cli(&["EXISTS", &format!("sse-hub:{{{stream}}}:lease")]) == "0"
    })
    .await;
    let stopped = mark(&redis, stream);
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 6)).await;
    assert_eq!(mark(&redis, stream), stopped, "generation stopped");
    let generated =
        stat(&servers[0], "events_generated").await + stat(&servers[1], "events_generated").await;
    assert_eq!(
        generated, stopped,
        "events generated = the sequence's advance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_is_fenced_and_no_id_is_written_twice() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &[]).await;
    let stream = "fenced";
    let mut readers = vec![
        open_stream(&servers[0], stream, None).await,
        open_stream(&servers[1], stream, None).await,
    ];
    let mut seen = vec![
        take(&mut readers[0], 3).await,
        take(&mut readers[1], 3).await,
    ];
    let lead = leader(&[&servers[0], &servers[1]]).await;
    let other = 1 - lead;
    let pid = servers[lead].child.id().expect("running");
    signal(pid, "STOP");
    // The other instance takes over once the lease expires.
    until("the other instance leads", WAIT, || async {
        stat(&servers[other], "leading_streams").await == 1
    })
    .await;
    seen[other].extend(take(&mut readers[other], 5).await);
    signal(pid, "CONT");
    // Its first tick after the pause is refused, and it stops generating.
    until("the paused leader's append is fenced", WAIT, || async {
        stat(&servers[lead], "fenced_appends").await >= 1
    })
    .await;
    until("the paused leader stops leading", WAIT, || async {
        stat(&servers[lead], "leading_streams").await == 0
    })
    .await;
    for (reader, seen) in readers.iter_mut().zip(&mut seen) {
        seen.extend(take(reader, 10).await);
    }
    assert_consecutive(&seen[other], "the new leader's client");
    assert_consecutive(&seen[lead], "the paused leader's client");
    assert_identical(&[&seen[0], &seen[1]]);
    drop(readers);
    until("generation stops", WAIT, || async {
        redis.cli(&["EXISTS", &format!("sse-hub:{{{stream}}}:lease")]) == "0"
    })
    .await;
    let generated =
        stat(&servers[0], "events_generated").await + stat(&servers[1], "events_generated").await;
    assert_eq!(generated, mark(&redis, stream), "no id written twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_hands_over_within_the_lease_and_its_clients_resume_without_a_gap() {
    let redis = TestRedis::start().await;
    let mut servers = instances(&redis, 3, &[]).await;
    let stream = "failover";
    let mut readers = Vec::new();
    for server in &servers {
        readers.push(open_stream(server, stream, None).await);
    }
    let mut seen = Vec::new();
    for reader in &mut readers {
        seen.push(take(reader, 3).await);
    }
    let lead = leader(&[&servers[0], &servers[1], &servers[2]]).await;
    let survivor = (lead + 1) % 3;
    servers[lead].child.start_kill().expect("kill -9");
    let killed = Instant::now();
    servers[lead].child.wait().await.expect("dead");
    // The newest id the dead leader wrote: the next one is the new leader's.
    let at_kill = mark(&redis, stream);
    // The survivors' clients: the new leader's first event comes within the
    // lease, one retry and one interval (plus this machine's scheduling).
    loop {
        let next = next_seen(&mut readers[survivor]).await.expect("goes on");
        let new = next.id > at_kill;
        seen[survivor].push(next);
        if new {
            break;
        }
    }
    let waited = killed.elapsed();
    assert!(
        waited <= Duration::from_millis(LEASE_MS + 500 + INTERVAL_MS + 300),
        "the new leader's first event came {waited:?} after the kill"
    );
    // The dead instance's client: its stream ends.
    while let Some(message) = next_seen(&mut readers[lead]).await {
        seen[lead].push(message);
    }
    // The dead instance's client reconnects to a survivor with its id.
    let last = seen[lead].last().expect("seen").id;
    let mut moved = open_stream(&servers[survivor], stream, Some(last)).await;
    let resumed = take(&mut moved, 5).await;
    assert_eq!(resumed[0].id, last + 1, "{resumed:?}");
    assert_consecutive(&resumed, "the moved client");
    for index in (0..3).filter(|index| *index != lead) {
        seen[index].extend(take(&mut readers[index], 3).await);
        assert_consecutive(&seen[index], "a survivor's client");
    }
    assert_identical(&[&seen[0], &seen[1], &seen[2], &resumed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_doorbell_link_or_a_lost_notification_is_repaired_from_the_log() {
    let redis = TestRedis::start().await;
    // Only published events on this stream.
    let servers = instances(&redis, 2, &["--generate", "gen-*"]).await;
    let stream = "door";
    let mut reader = open_stream(&servers[1], stream, None).await;
    let (status, _) = publish(&servers[0], stream, "n", json!(1)).await;
    assert_eq!(status, 201);
    let first = take(&mut reader, 1).await;
    // Every pub/sub connection is cut; the next (and last) publish is
    // announced to nobody, yet b's client gets it.
    redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    let (status, _) = publish(&servers[0], stream, "n", json!(2)).await;
    assert_eq!(status, 201);
    let second = take(&mut reader, 1).await;
    let (status, _) = publish(&servers[0], stream, "n", json!(3)).await;
    assert_eq!(status, 201);
    let third = take(&mut reader, 1).await;
    // A notification that never comes (appended as the script does, without
    // ringing): b's check of its streams finds it in the log.
    let next = third[0].id + 1;
    let log = format!("sse-hub:{{{stream}}}:log");
    redis.cli(&[
        "XADD",
        &log,
        &format!("{next}-0"),
        "e",
        "n",
        "d",
        "4",
        "t",
        "0",
    ]);
    redis.cli(&[
        "HSET",
        &format!("sse-hub:{{{stream}}}:mark"),
        "seq",
        &next.to_string(),
    ]);
    let fourth = take(&mut reader, 1).await;
    let seen = [first, second, third, fourth].concat();
    assert_consecutive(&seen, "b's client");
    let data: Vec<&str> = seen.iter().map(|message| message.data.as_str()).collect();
    assert_eq!(data, ["1", "2", "3", "4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_paused_for_five_seconds_degrades_health_refuses_publishes_and_recovers() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &["--generate", "gen-*"]).await;
    let stream = "paused";
    let mut reader = open_stream(&servers[1], stream, None).await;
    let (status, _) = publish(&servers[0], stream, "n", json!(1)).await;
    assert_eq!(status, 201);
    let mut seen = take(&mut reader, 1).await;
    signal(redis.pid(), "STOP");
    let paused = Instant::now();
    for server in &servers {
        until("/healthz says degraded", WAIT, || async {
            let response = client().get(server.url("/healthz")).send().await;
            let Ok(response) = response else { return false };
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            status == 503 && body["status"] == "degraded" && body["store"].is_string()
        })
        .await;
    }
    // Refused: not acknowledged. (Redis may still run it when it resumes:
    // it had received it. A retry with the same key cannot repeat it.)
    let (status, body) = publish_with_key(&servers[0], stream, "n", json!(2), Some("k2")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_unavailable")),
        "{body}"
    );
    // Five seconds in all; the stream stays open meanwhile.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(paused.elapsed())).await;
    signal(redis.pid(), "CONT");
    for server in &servers {
        until("/healthz is ok again", WAIT, || async {
            let response = client().get(server.url("/healthz")).send().await;
            response.is_ok_and(|response| response.status() == 200)
        })
        .await;
    }
    // The retry goes through the other instance: Redis keeps the keys.
    let (status, body) = publish_with_key(&servers[1], stream, "n", json!(2), Some("k2")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = publish(&servers[0], stream, "n", json!(3)).await;
    assert_eq!(status, 201, "{body}");
    seen.extend(take(&mut reader, 2).await);
    assert_consecutive(&seen, "the client kept open through the pause");
    let data: Vec<&str> = seen.iter().map(|message| message.data.as_str()).collect();
    assert_eq!(data, ["1", "2", "3"], "each publish once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_empty_never_serves_other_data_under_an_old_id() {
    let mut redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &[]).await;
    let stream = "restarted";
    let mut readers = [
        open_stream(&servers[0], stream, None).await,
        open_stream(&servers[1], stream, None).await,
    ];
    let mut seen = vec![
        take(&mut readers[0], 5).await,
        take(&mut readers[1], 5).await,
    ];
    let oldest = seen[0][0].id;
    redis.restart_empty().await;
    for (reader, seen) in readers.iter_mut().zip(&mut seen) {
        // Events go on (after a gap notice for the ids skipped).
        let before = seen.last().expect("seen").id;
        loop {
            let message = next_seen(reader).await.expect("goes on");
            let new = message.id > before + 1;
            seen.push(message);
            if new {
                break;
            }
        }
        seen.extend(take(reader, 3).await);
    }
    // A client resuming with an old id gets what was kept of the old life
    // (the same data), a gap notice, then new ids: never other data under
    // an old id.
    let mut resumed_reader = open_stream(&servers[1], stream, Some(oldest)).await;
    let resumed = take(&mut resumed_reader, 8).await;
    let mut all: Vec<&[Seen]> = seen.iter().map(Vec::as_slice).collect();
    all.push(&resumed);
    assert_identical(&all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_last_client_leaves_everywhere_nothing_is_left_behind() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &["--retention-ms", "1500"]).await;
    let stream = "leaving";
    let mut readers = vec![
        open_stream(&servers[0], stream, None).await,
        open_stream(&servers[1], stream, None).await,
    ];
    for reader in &mut readers {
        take(reader, 2).await;
    }
    drop(readers);
    let left = Instant::now();
    until(
        "the lease is gone",
        Duration::from_millis(LEASE_MS + 500),
        || async { redis.cli(&["EXISTS", &format!("sse-hub:{{{stream}}}:lease")]) == "0" },
    )
    .await;
    for server in &servers {
        until("/api/streams is empty", Duration::from_secs(2), || async {
            server.get_json("/api/streams").await == json!([])
        })
        .await;
    }
    until("the log expires", Duration::from_secs(4), || async {
        redis.cli(&["EXISTS", &format!("sse-hub:{{{stream}}}:log")]) == "0"
    })
    .await;
    assert!(
        left.elapsed() >= Duration::from_millis(1400),
        "not before the retention"
    );
    let mark_ttl: i64 = redis
        .cli(&["PTTL", &format!("sse-hub:{{{stream}}}:mark")])
        .parse()
        .expect("a number");
    assert!(mark_ttl > 0, "the mark expires too (later): {mark_ttl}");
}

/// CPU time (user + system, in clock ticks) the process `pid` has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm ends")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the comm.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_finds_events_gone_from_the_log_tells_its_clients_and_goes_on() {
    let redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &["--generate", "gen-*", "--retention-ms", "800"]).await;
    let stream = "expiring";
    let mut reader = open_stream(&servers[1], stream, None).await;
    let (status, _) = publish(&servers[0], stream, "n", json!(1)).await;
    assert_eq!(status, 201);
    let mut seen = take(&mut reader, 1).await;
    // b stops; its announcements are lost (its link is cut) and the log
    // expires meanwhile; only the stream's numbering is left.
    let pid = servers[1].child.id().expect("running");
    signal(pid, "STOP");
    redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    for n in 2..=4 {
        let (status, _) = publish(&servers[0], stream, "n", json!(n)).await;
        assert_eq!(status, 201);
    }
    let log = format!("sse-hub:{{{stream}}}:log");
    until("the log expires", WAIT, || async {
        redis.cli(&["EXISTS", &log]) == "0"
    })
    .await;
    signal(pid, "CONT");
    let notice = next_seen(&mut reader).await.expect("goes on");
    assert_eq!(
        (notice.id, notice.event.as_deref(), notice.data.as_str()),
        (0, Some("gap"), r#"{"first":2,"last":4}"#)
    );
    let (status, _) = publish(&servers[0], stream, "n", json!(5)).await;
    assert_eq!(status, 201);
    seen.extend(take(&mut reader, 1).await);
    assert_eq!((seen[1].id, seen[1].data.as_str()), (5, "5"));
    // Nothing left spinning on b (a follow task that makes no progress
    // must stop).
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let used = cpu_ticks(pid) - before;
    assert!(used < 30, "b used {used} ticks in a second while idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_loses_its_data_an_instance_raises_the_numbering_above_what_its_clients_had() {
    let mut redis = TestRedis::start().await;
    let servers = instances(&redis, 2, &["--generate", "gen-*"]).await;
    let stream = "renumbered";
    let mut reader = open_stream(&servers[0], stream, None).await;
    for n in 1..=5 {
        let (status, _) = publish(&servers[0], stream, "n", json!(n)).await;
        assert_eq!(status, 201);
    }
    let mut seen = take(&mut reader, 5).await;
    redis.restart_empty().await;
    // a's check finds the numbering gone and raises it above what its
    // client had; b, which never knew the stream, then numbers on above it.
    until("the numbering is raised", WAIT, || async {
        mark(&redis, stream) > 5
    })
    .await;
    // b's own link to Redis may still be reconnecting: a 503 stored
    // nothing, and a publisher retries it under the same key.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (status, answer) = loop {
        let (status, answer) =
            publish_with_key(&servers[1], stream, "n", json!(6), Some("six")).await;
        if status != 503 || tokio::time::Instant::now() > deadline {
            break (status, answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_u64().expect("an id");
    assert!(id > 5, "a new id, above every id a's client had: {id}");
    let mut next = next_seen(&mut reader).await.expect("goes on");
    if next.event.as_deref() == Some("gap") {
        next = next_seen(&mut reader).await.expect("goes on");
    }
    assert_eq!((next.id, next.data.as_str()), (id, "6"));
    seen.push(next);
    assert_identical(&[&seen]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_every_instance_serves_one_log() {
    let cluster = common::redis::TestCluster::start().await;
    let url = cluster.url();
    let mut servers = Vec::new();
    for name in ["a", "b"] {
        servers.push(instance_at(&url, name, &[]).await);
    }
    // Streams whose keys land in different slots, so on different nodes.
    let mut open = Vec::new();
    for stream in ["cluster-a", "cluster-b", "cluster-c"] {
        let mut readers = [
            open_stream(&servers[0], stream, None).await,
            open_stream(&servers[1], stream, None).await,
        ];
        let mut seen = [
            take(&mut readers[0], 3).await,
            take(&mut readers[1], 3).await,
        ];
        let (status, answer) = publish(&servers[0], stream, "note", json!({"on": stream})).await;
        assert_eq!(status, 201, "{answer}");
        let published = answer["id"].as_u64().expect("an id");
        for (reader, seen) in readers.iter_mut().zip(&mut seen) {
            while seen.last().map(|message| message.id) < Some(published + 2) {
                seen.push(next_seen(reader).await.expect("goes on"));
            }
            assert_consecutive(seen, stream);
            assert!(
                seen.iter()
                    .any(|message| message.id == published
                        && message.event.as_deref() == Some("note"))
            );
        }
        assert_identical(&[&seen[0], &seen[1]]);
        // A client of a moves to b with its Last-Event-ID.
        let last = seen[0].last().expect("seen").id;
        let mut moved = open_stream(&servers[1], stream, Some(last)).await;
        let resumed = take(&mut moved, 3).await;
        assert_eq!(resumed[0].id, last + 1, "{resumed:?}");
        assert_consecutive(&resumed, "moved to b");
        open.push(readers);
    }
    let leading =
        stat(&servers[0], "leading_streams").await + stat(&servers[1], "leading_streams").await;
    assert_eq!(leading, 3, "one generator per stream across the instances");
}
