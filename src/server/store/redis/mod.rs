//! [`RedisStore`]: the store several instances share (`--store
//! redis://HOST:PORT[/DB]`), so that every instance behind a load balancer
//! serves one hub: the same events under the same ids everywhere, resume on
//! any instance, one generator per stream cluster-wide.
//!
//! # What lives in Redis
//! Per stream, under one hash tag (`keys.rs`): its mark (newest id, time of
//! the newest generated event), its log (a Redis Stream of the newest
//! `--history` events, entry id `<seq>-0`), its lease and its idempotency
//! keys. Appending is one Lua script (`append.lua`): fence check, numbering,
//! the log entry, the mark and the doorbell, atomically; claiming and
//! releasing a lease are two more (`claim.lua`, `release.lua`). Each
//! script's header states its keys, arguments, reply and invariant. Time in
//! the scripts is Redis's own (`TIME`), never an instance's clock.
//!
//! # What each instance keeps
//! The hub's rings and subscribers, the leases it holds (released at a
//! clean stop, so another instance takes over at once) and, per stream, the
//! highest id it has seen: if Redis loses a stream's mark (restarted with
//! no persistence), numbering restarts [`RESTART_MARGIN`] above that, never
//! under an id a client of this instance saw (they get `event: gap`).
//!
//! # Expiry
//! A stream's log expires `--retention-ms` after its last append, its lease
//! `--lease-ms` after its last renewal, an idempotency key after
//! [`IDEMPOTENCY_LIFETIME`]. The mark (two numbers) lives [`MARK_LIFETIME`]
//! past the last append, so that a stream that comes back after its log
//! expired numbers on above its old ids on whatever instance it comes back.
//!
//! # Links and timeouts
//! Commands go through one link (`link.rs`: redis-rs's `ConnectionManager`
//! for one server, its cluster client for `redis+cluster://`; both
//! reconnect by themselves); the doorbell listens on a second one, RESP3,
//! resubscribed after a reconnect (`doorbell.rs`), which also pings both
//! links every second and reports them to [`EventStore::health`]. Every
//! call is bounded by `RedisSettings::timeout`: a Redis that stops
//! answering gives [`StoreError::TimedOut`], never a stuck request. In a
//! cluster every key of a stream is in one slot (its hash tag), so each
//! script runs on that slot's node.

mod doorbell;
mod keys;
mod link;
mod reply;

use super::{
    append_one, AppendWatcher, Appended, Claim, Durability, EventStore, Lease, NewEvent, Publish,
    Seq, SharedLog, StoreError, StoreFuture, StoredEvent,
};
use crate::model::StreamId;
use keys::Keys;
use link::{Link, Target};
use redis::{RedisError, Script, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Ids skipped above the highest id an instance saw when a stream's mark
/// is gone from Redis: more than a follower can lag behind the log.
pub(crate) const RESTART_MARGIN: Seq = 1000;

/// How long a stream's mark outlives its last append.
const MARK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

static APPEND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("append.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("claim.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("release.lua")));

/// What the Redis store needs from the configuration.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// This instance's name in leases and logs (`--instance-id`).
    pub instance_id: String,
    /// How long a lease holds without renewal (`--lease-ms`).
    pub lease: Duration,
    /// What every key name starts with (`--key-prefix`).
    pub key_prefix: String,
    /// Events kept per stream (`--history`).
    pub history: usize,
    /// How long an idle stream's log is kept (`--retention-ms`).
    pub retention: Duration,
    /// Longest any call waits for Redis.
    pub timeout: Duration,
}

/// Why a Redis store cannot be set up (printed as one line, exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisSetupError {
    /// The URL does not name a Redis the client can use.
    #[error("--store {url}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The shared store; see the module doc. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// Everything behind a [`RedisStore`] handle.
struct Inner {
    settings: RedisSettings,
    keys: Keys,
    /// Where Redis is.
    target: Target,
    /// The command link.
    commands: Link,
    /// Per stream, the highest id this instance has seen (the floor if
    /// Redis loses the stream's mark). Removed when the hub forgets it.
    seen: Mutex<HashMap<StreamId, Seq>>,
    /// Leases this instance holds, by stream: released at the close.
    leases: Mutex<HashMap<StreamId, Arc<str>>>,
    /// Why the links are down, if they are (`None`: both answer).
    trouble: Mutex<Trouble>,
    /// Who hears the doorbell.
    watcher: Mutex<Option<Weak<dyn AppendWatcher>>>,
    /// Ends the background task.
    stop: CancellationToken,
    /// Whether the background task runs.
    listening: std::sync::atomic::AtomicBool,
}

/// The state of the two links, as the last pings found them.
#[derive(Debug, Default, Clone)]
struct Trouble {
    commands: Option<String>,
    doorbell: Option<String>,
}

/// Locks `mutex`; a poisoned lock still holds consistent data (every
/// critical section here is one map or field update).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisStore {
    /// Sets up the store on `settings.url`. Nothing is sent yet: the links
    /// connect on first use and reconnect by themselves, so a Redis that is
    /// down at start makes the store unhealthy, not the server fail.
    pub fn open(settings: RedisSettings) -> Result<Self, RedisSetupError> {
        let refused = |reason: String| RedisSetupError::Url {
            url: settings.url.clone(),
            reason,
        };
        let target = Target::parse(&settings.url).map_err(refused)?;
        let commands = Link::open(&target, settings.timeout, None)
            .map_err(|error| refused(error.to_string()))?;
        let inner = Arc::new(Inner {
            keys: Keys::new(&settings.key_prefix),
            settings,
            target,
            commands,
            seen: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            trouble: Mutex::new(Trouble {
                commands: Some("not connected yet".to_owned()),
                doorbell: Some("not connected yet".to_owned()),
            }),
            watcher: Mutex::new(None),
            stop: CancellationToken::new(),
            listening: std::sync::atomic::AtomicBool::new(false),
        });
        Ok(Self { inner })
    }

    /// The key names (tests look at Redis directly).
    #[cfg(test)]
    fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}

impl Inner {
    /// Runs `call` within the timeout, mapping Redis's errors to the
    /// store's (`FENCED` from the append script to [`StoreError::Fenced`]).
    async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.settings.timeout, call).await {
            Err(_) => Err(StoreError::TimedOut { operation }),
            Ok(Err(error)) if error.code() == Some("FENCED") => Err(StoreError::Fenced),
            // The link's own response timeout (the same length) may fire
            // first: the same answer.
            Ok(Err(error)) if error.is_timeout() => Err(StoreError::TimedOut { operation }),
            Ok(Err(error)) => Err(StoreError::Unavailable(format!(
                "redis {operation}: {error}"
            ))),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// Raises what this instance has seen of `stream` to `seq`.
    fn saw(&self, stream: &StreamId, seq: Seq) {
        let mut seen = lock(&self.seen);
        match seen.get_mut(stream) {
            Some(newest) => *newest = (*newest).max(seq),
            None => {
                seen.insert(stream.clone(), seq);
            }
        }
    }

    /// Runs the append script for `events` on `stream`, fenced by `token`
    /// when it is a generated append: each event's id and whether it was a
    /// replayed idempotent answer, and Redis's time of the append.
    async fn append(
        &self,
        stream: &StreamId,
        events: &[Publish],
        token: Option<&str>,
    ) -> Result<(i64, Vec<(Seq, bool)>), StoreError> {
        let floor = lock(&self.seen).get(stream).copied().unwrap_or(0);
        self.append_above(stream, events, token, floor).await
    }

    /// [`Inner::append`] with an explicit floor (see `append.lua`).
    async fn append_above(
        &self,
        stream: &StreamId,
        events: &[Publish],
        token: Option<&str>,
        floor: Seq,
    ) -> Result<(i64, Vec<(Seq, bool)>), StoreError> {
        let keys = &self.keys;
        let mut invocation = APPEND.prepare_invoke();
        invocation
            .key(keys.mark(stream))
            .key(keys.log(stream))
            .key(keys.lease(stream));
        for key in events.iter().filter_map(|(_, key)| key.as_deref()) {
            invocation.key(keys.idempotency(stream, key));
        }
        invocation
            .arg(token.unwrap_or(""))
            .arg(floor)
            .arg(RESTART_MARGIN)
            .arg(self.settings.history.max(1))
            .arg(millis(self.settings.retention))
            .arg(millis(MARK_LIFETIME.max(self.settings.retention)))
            .arg(keys.channel())
            .arg(stream.as_str())
            .arg(millis(super::IDEMPOTENCY_LIFETIME))
            .arg(events.len());
        for (event, key) in events {
            invocation
                .arg(if key.is_some() { "1" } else { "0" })
                .arg(event.event.as_deref().unwrap_or(""))
                .arg(event.data.as_ref());
        }
        let mut link = self.commands.clone();
        let reply: Value = self
            .run("append", invocation.invoke_async(&mut link))
            .await?;
        let numbers = reply::numbers(reply).map_err(malformed)?;
        let (now, results) = numbers
            .split_first()
            .filter(|(_, results)| results.len() == events.len() * 2)
            .ok_or_else(|| malformed(reply::Malformed("an append's reply".to_owned())))?;
        let mut appended = Vec::with_capacity(events.len());
        for pair in results.chunks_exact(2) {
            let seq = Seq::try_from(pair[0])
                .map_err(|_| malformed(reply::Malformed("a negative id".to_owned())))?;
            appended.push((seq, pair[1] == 1));
        }
        if let Some(newest) = appended.iter().map(|(seq, _)| *seq).max() {
            self.saw(stream, newest);
        }
        Ok((*now, appended))
    }

    /// The stored form of `events` appended at Redis time `now`.
    fn stored(events: Vec<NewEvent>, appended: &[(Seq, bool)], now: i64) -> Vec<StoredEvent> {
        events
            .into_iter()
            .zip(appended)
            .map(|(event, &(seq, _))| StoredEvent {
                seq,
                event: event.event,
                data: event.data,
                at: reply::redis_time(now),
            })
            .collect()
    }

    /// Releases `token`'s lease of `stream` (if it still holds).
    async fn release(&self, stream: &StreamId, token: &str) -> Result<(), StoreError> {
        let mut link = self.commands.clone();
        let mut invocation = RELEASE.prepare_invoke();
        invocation
            .key(self.keys.lease(stream))
            .arg(token)
            .arg(self.keys.channel())
            .arg(stream.as_str());
        self.run("release", invocation.invoke_async::<i64>(&mut link))
            .await
            .map(|_| ())
    }
}

/// A duration in whole milliseconds, at least 1 (Redis refuses a TTL of 0).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A reply the store cannot read: the call did nothing it can rely on.
fn malformed(error: reply::Malformed) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

impl EventStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn keeps_history(&self) -> bool {
        true
    }

    fn newest<'a>(&'a self, stream: &'a StreamId) -> StoreFuture<'a, Option<Seq>> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut link = inner.commands.clone();
            let mark = inner.keys.mark(stream);
            let reply: Value = inner
                .run(
                    "newest",
                    redis::cmd("HGET")
                        .arg(mark)
                        .arg("seq")
                        .query_async(&mut link),
                )
                .await?;
            let newest = reply::optional_seq(reply).map_err(malformed)?;
            if let Some(newest) = newest {
                inner.saw(stream, newest);
            }
            // A mark Redis lost: where this instance saw the stream stand.
            Ok(newest.or_else(|| lock(&inner.seen).get(stream).copied()))
        })
    }

    fn append<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        durability: Durability,
    ) -> StoreFuture<'a, StoredEvent> {
        append_one(self, stream, event, durability)
    }

    fn append_all<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<NewEvent>,
        _durability: Durability,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        // Written by the script before it answers: as durable as Redis is.
        Box::pin(async move {
            let publishes = events.into_iter().map(|event| (event, None)).collect();
            let appended = self.append_published(stream, publishes).await?;
            // Without idempotency keys nothing is replayed.
            Ok(appended
                .into_iter()
                .filter_map(|appended| match appended {
                    Appended::Stored(stored) => Some(stored),
                    Appended::Replayed(_) => None,
                })
                .collect())
        })
    }

    fn append_published<'a>(
        &'a self,
        stream: &'a StreamId,
        events: Vec<Publish>,
    ) -> StoreFuture<'a, Vec<Appended>> {
        Box::pin(async move {
            let (now, appended) = self.inner.append(stream, &events, None).await?;
            Ok(events
                .into_iter()
                .zip(appended)
                .map(|((event, _), (seq, replayed))| {
                    if replayed {
                        Appended::Replayed(seq)
                    } else {
                        Appended::Stored(StoredEvent {
                            seq,
                            event: event.event,
                            data: event.data,
                            at: reply::redis_time(now),
                        })
                    }
                })
                .collect())
        })
    }

    fn after<'a>(
        &'a self,
        stream: &'a StreamId,
        after: Seq,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(async move {
            let inner = &self.inner;
            // The log holds about `--history` events (trimmed with `~`, so
            // a little more): the oldest `limit` after the id, as asked.
            let count = limit.min(i64::MAX as usize);
            if count == 0 {
                return Ok(Vec::new());
            }
            let mut link = inner.commands.clone();
            let mut read = redis::cmd("XRANGE");
            read.arg(inner.keys.log(stream))
                .arg(format!("({after}-0"))
                .arg("+")
                .arg("COUNT")
                .arg(count);
            let reply: Value = inner.run("after", read.query_async(&mut link)).await?;
            let events = reply::log_entries(reply).map_err(malformed)?;
            if let Some(last) = events.last() {
                inner.saw(stream, last.seq);
            }
            Ok(events)
        })
    }

    fn forget(&self, stream: &StreamId) {
        // The log is shared: it expires in Redis by itself. This instance
        // only stops remembering the stream.
        lock(&self.inner.seen).remove(stream);
    }

    fn release(&self, stream: &StreamId) {
        // Asked about, then refused at --max-streams: nothing to remember.
        lock(&self.inner.seen).remove(stream);
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let held: Vec<(StreamId, Arc<str>)> = lock(&self.inner.leases).drain().collect();
            // Handed over at once rather than after they expire.
            let releases = held
                .iter()
                .map(|(stream, token)| self.inner.release(stream, token));
            let results = futures_util::future::join_all(releases).await;
            self.inner.stop.cancel();
            results
                .into_iter()
                .collect::<Result<Vec<()>, _>>()
                .map(|_| ())
        })
    }

    fn health(&self) -> Result<(), String> {
        let trouble = lock(&self.inner.trouble).clone();
        match (trouble.commands, trouble.doorbell) {
            (None, None) => Ok(()),
            (Some(reason), _) => Err(format!("redis: {reason}")),
            (None, Some(reason)) => Err(format!("redis pub/sub: {reason}")),
        }
    }

    fn shared(&self) -> Option<&dyn SharedLog> {
        Some(self)
    }
}

impl SharedLog for RedisStore {
    fn watch(&self, watcher: Weak<dyn AppendWatcher>) {
        *lock(&self.inner.watcher) = Some(watcher);
        if !self
            .inner
            .listening
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            doorbell::spawn(Arc::clone(&self.inner));
        }
    }

    fn claim<'a>(
        &'a self,
        stream: &'a StreamId,
        held: Option<&'a Lease>,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let inner = &self.inner;
            let token: Arc<str> = match held {
                Some(lease) => Arc::clone(&lease.token),
                None => Arc::from(format!(
                    "{}:{:016x}",
                    inner.settings.instance_id,
                    rand::random::<u64>()
                )),
            };
            let mut invocation = CLAIM.prepare_invoke();
            invocation
                .key(inner.keys.lease(stream))
                .key(inner.keys.mark(stream))
                .arg(token.as_ref())
                .arg(millis(inner.settings.lease));
            let mut link = inner.commands.clone();
            let reply: Value = inner
                .run("claim", invocation.invoke_async(&mut link))
                .await?;
            let numbers = reply::numbers(reply).map_err(malformed)?;
            let [held_now, now, tick, expires] = numbers[..] else {
                return Err(malformed(reply::Malformed("a claim's reply".to_owned())));
            };
            if held_now != 1 {
                if held.is_some() {
                    lock(&inner.leases).remove(stream);
                }
                let expires_in = Duration::from_millis(u64::try_from(expires).unwrap_or(0));
                return Ok(Claim::Busy { expires_in });
            }
            lock(&inner.leases).insert(stream.clone(), Arc::clone(&token));
            let since_last_tick =
                (tick >= 0).then(|| Duration::from_millis(u64::try_from(now - tick).unwrap_or(0)));
            Ok(Claim::Held(Lease {
                token,
                since_last_tick,
            }))
        })
    }

    fn release(&self, stream: &StreamId, lease: Lease) {
        let inner = Arc::clone(&self.inner);
        let stream = stream.clone();
        // Best effort: a lease that is not released expires by itself. It
        // stays in the held list until released, so that a release the
        // runtime never got to run is done by the close.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                match inner.release(&stream, &lease.token).await {
                    Ok(()) => {
                        let mut leases = lock(&inner.leases);
                        if leases.get(&stream) == Some(&lease.token) {
                            leases.remove(&stream);
                        }
                    }
                    Err(error) => {
                        tracing::debug!(stream = %stream, %error, "a lease was left to expire");
                    }
                }
            });
        }
    }

    fn append_generated<'a>(
        &'a self,
        stream: &'a StreamId,
        event: NewEvent,
        lease: &'a Lease,
    ) -> StoreFuture<'a, StoredEvent> {
        Box::pin(async move {
            let publishes = vec![(event, None)];
            let (now, appended) = self
                .inner
                .append(stream, &publishes, Some(&lease.token))
                .await?;
            let events = publishes.into_iter().map(|(event, _)| event).collect();
            Inner::stored(events, &appended, now)
                .pop()
                .ok_or_else(|| StoreError::Unavailable("nothing was appended".to_owned()))
        })
    }

    fn raise_floor<'a>(&'a self, stream: &'a StreamId, floor: Seq) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.inner.saw(stream, floor);
            self.inner
                .append_above(stream, &[], None, floor)
                .await
                .map(|_| ())
        })
    }

    fn newest_of<'a>(&'a self, streams: &'a [StreamId]) -> StoreFuture<'a, Vec<Option<Seq>>> {
        Box::pin(async move {
            if streams.is_empty() {
                return Ok(Vec::new());
            }
            let inner = &self.inner;
            let replies: Vec<Value> = if inner.target.is_cluster() {
                // The marks live in many slots: one command each, at once.
                let reads = streams.iter().map(|stream| {
                    let mut link = inner.commands.clone();
                    let mut read = redis::cmd("HGET");
                    read.arg(inner.keys.mark(stream)).arg("seq");
                    async move { read.query_async::<Value>(&mut link).await }
                });
                let all = futures_util::future::try_join_all(reads);
                inner.run("newest_of", all).await?
            } else {
                let mut pipe = redis::pipe();
                for stream in streams {
                    pipe.cmd("HGET").arg(inner.keys.mark(stream)).arg("seq");
                }
                let mut link = inner.commands.clone();
                inner.run("newest_of", pipe.query_async(&mut link)).await?
            };
            if replies.len() != streams.len() {
                return Err(malformed(reply::Malformed(
                    "a pipeline's length".to_owned(),
                )));
            }
            replies
                .into_iter()
                .map(|reply| reply::optional_seq(reply).map_err(malformed))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
