//! The Redis store against the conformance suite (one instance, and two
//! on one Redis), and what only it promises: keys under one hash tag that
//! expire, numbering that survives Redis losing its data, and health that
//! follows the link. Each test starts a private `redis-server` (Debian's
//! package) on a free port, never the machine's shared one.

use super::*;
use crate::server::store::conformance::{self, event, id};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A private `redis-server` with no persistence, killed when dropped.
pub(crate) struct TestRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts one on a free port and waits until it answers.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Self::start_on(port, dir.path());
        let redis = Self { child, port, dir };
        redis.wait_until_it_answers().await;
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_until_it_answers(&self) {
        let client = redis::Client::open(self.url()).expect("url");
        for _ in 0..200 {
            if let Ok(mut link) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut link)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} does not answer", self.port);
    }

    /// Kills it and starts an empty one on the same port.
    pub(crate) async fn restart_empty(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let restarted = Self::start_on(self.port, self.dir.path());
        self.child = restarted;
        self.wait_until_it_answers().await;
    }

    /// A redis-server with no persistence on `port`, working in `dir`.
    fn start_on(port: u16, dir: &std::path::Path) -> Child {
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (make setup installs it)")
    }

    /// A plain connection for looking at keys.
    pub(crate) async fn link(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connects")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings for a store on `url` under `prefix`.
fn settings(url: &str, prefix: &str, instance: &str, history: usize) -> RedisSettings {
    RedisSettings {
        url: url.to_owned(),
        instance_id: instance.to_owned(),
        lease: Duration::from_millis(1000),
        key_prefix: prefix.to_owned(),
        history,
        retention: Duration::from_secs(60),
        timeout: Duration::from_secs(1),
    }
}

/// A fresh key prefix per store, so that stores on one Redis start empty.
fn fresh_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("test{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_alone_and_as_two_instances() {
    let redis = TestRedis::start().await;
    let url = redis.url();
    conformance::run(&|history| {
        let store = RedisStore::open(settings(&url, &fresh_prefix(), "a", history));
        Box::new(store.expect("opens"))
    })
    .await;
    conformance::run_shared(&|history| {
        let prefix = fresh_prefix();
        let a = RedisStore::open(settings(&url, &prefix, "a", history)).expect("opens");
        let b = RedisStore::open(settings(&url, &prefix, "b", history)).expect("opens");
        (Box::new(a), Box::new(b))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streams_keys_share_its_hash_tag_and_expire() {
    let redis = TestRedis::start().await;
    let store = RedisStore::open(settings(&redis.url(), "p", "a", 10)).expect("opens");
    let s = id("s-1");
    store
        .append(&s, event("x"), Durability::Immediate)
        .await
        .expect("append");
    let shared = store.shared().expect("shared");
    let Claim::Held(lease) = shared.claim(&s, None).await.expect("claim") else {
        panic!("a free lease is claimed");
    };
    let keys = store.keys();
    let mut link = redis.link().await;
    let mut names: Vec<String> = redis::cmd("KEYS")
        .arg("p:*")
        .query_async(&mut link)
        .await
        .expect("keys");
    names.sort();
    assert_eq!(names, vec!["p:{s-1}:lease", "p:{s-1}:log", "p:{s-1}:mark"]);
    let ttl = |key: String| {
        let mut link = link.clone();
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut link)
                .await
                .expect("pttl")
        }
    };
    assert!(
        (50_000..=60_000).contains(&ttl(keys.log(&s)).await),
        "the log: the retention"
    );
    assert!(
        ttl(keys.mark(&s)).await > 3_600_000,
        "the mark outlives the log"
    );
    assert!(
        (1..=1000).contains(&ttl(keys.lease(&s)).await),
        "the lease: its time"
    );
    shared.release(&s, lease);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ttl(keys.lease(&s)).await != -2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a released lease is gone"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_lost_its_data_never_gets_an_old_id_again() {
    let mut redis = TestRedis::start().await;
    let store = RedisStore::open(settings(&redis.url(), "p", "a", 10)).expect("opens");
    let s = id("s");
    for _ in 0..5 {
        store
            .append(&s, event("old"), Durability::Immediate)
            .await
            .expect("append");
    }
    redis.restart_empty().await;
    // The link reconnects by itself; the first calls may still fail.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let seq = loop {
        match store.append(&s, event("new"), Durability::Immediate).await {
            Ok(stored) => break stored.seq,
            Err(error) => {
                assert!(tokio::time::Instant::now() < deadline, "{error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(
        seq,
        5 + RESTART_MARGIN + 1,
        "above every id seen, by the margin"
    );
    assert_eq!(store.newest(&s).await.expect("newest"), Some(seq));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_link_and_calls_time_out_when_redis_is_gone() {
    let mut redis = TestRedis::start().await;
    let store = RedisStore::open(settings(&redis.url(), "p", "a", 10)).expect("opens");
    let watcher: Arc<dyn AppendWatcher> = Arc::new(NoWatcher);
    store
        .shared()
        .expect("shared")
        .watch(Arc::downgrade(&watcher));
    let healthy = |store: &RedisStore| store.health().is_ok();
    wait_for("healthy at first", || healthy(&store)).await;
    let _ = redis.child.kill();
    let _ = redis.child.wait();
    wait_for("unhealthy without redis", || !healthy(&store)).await;
    let started = tokio::time::Instant::now();
    let refused = store
        .append(&id("s"), event("x"), Durability::Immediate)
        .await;
    assert!(refused.is_err(), "nothing acknowledged that is not stored");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
    redis.child = TestRedis::start_on(redis.port, redis.dir.path());
    redis.wait_until_it_answers().await;
    wait_for("healthy again", || healthy(&store)).await;
    store
        .append(&id("s"), event("x"), Durability::Immediate)
        .await
        .expect("appends again");
}

/// A watcher that ignores everything.
struct NoWatcher;

impl AppendWatcher for NoWatcher {
    fn appended(&self, _stream: &StreamId, _newest: Seq, _event: Option<StoredEvent>) {}
    fn lease_released(&self, _stream: &StreamId) {}
    fn resync(&self) {}
}

/// Polls `check` until it holds (10 s at most).
async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_url_the_client_cannot_use_is_refused_with_its_reason() {
    let refused = RedisStore::open(settings("redis://", "p", "a", 10));
    assert!(matches!(refused, Err(RedisSetupError::Url { .. })));
}
