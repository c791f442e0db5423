//! The suite every [`EventStore`] must pass: [`run`] takes a factory that
//! builds a fresh, empty store keeping a given history, and checks the
//! module contract (`store/mod.rs`) on it: numbering, independence of
//! streams, `after` boundaries, trimming, atomicity under concurrent
//! appends, and forgetting. Each implementation's own tests call it. A
//! shared store also runs [`run_shared`], with a factory of two instances
//! on one backend: one log, announcements, leases and fencing.

use super::{AppendWatcher, Claim, Durability, EventStore, NewEvent, Seq, StoreError};
use crate::model::StreamId;
use bytes::Bytes;
use std::sync::Arc;

/// Builds an empty store keeping at least this many events per stream.
pub(crate) type Factory<'a> = &'a dyn Fn(usize) -> Box<dyn EventStore>;

/// Runs every check, each on a fresh store.
pub(crate) async fn run(factory: Factory<'_>) {
    numbers_each_stream_from_one_in_append_order(factory(10)).await;
    concurrent_appends_get_distinct_consecutive_ids(factory(1000)).await;
    if factory(10).shared().is_some() {
        forgetting_leaves_the_shared_numbering(factory(10)).await;
    } else {
        forgetting_takes_effect_at_once(factory(10)).await;
    }
    appends_return_the_event_as_given(factory(10)).await;
    if factory(10).keeps_history() {
        keeps_the_event_type_and_data(factory(10)).await;
        after_starts_right_after_the_given_id_and_respects_the_limit(factory(10)).await;
        keeps_at_least_the_newest_history(factory(5)).await;
    } else {
        offers_nothing_after_an_id(factory(10)).await;
    }
}

/// A stream id the tests know to be valid.
pub(crate) fn id(raw: &str) -> StreamId {
    StreamId::parse(raw).expect("valid id")
}

/// An unnamed event with `data`.
pub(crate) fn event(data: &str) -> NewEvent {
    NewEvent {
        event: None,
        data: Bytes::from(data.to_owned()),
    }
}

async fn append(store: &dyn EventStore, stream: &StreamId, data: &str) -> Seq {
    store
        .append(stream, event(data), Durability::Batched)
        .await
        .expect("append")
        .seq
}

async fn seqs_after(
    store: &dyn EventStore,
    stream: &StreamId,
    after: Seq,
    limit: usize,
) -> Vec<Seq> {
    let events = store.after(stream, after, limit).await.expect("after");
    events.iter().map(|event| event.seq).collect()
}

async fn numbers_each_stream_from_one_in_append_order(store: Box<dyn EventStore>) {
    let (a, b) = (id("a"), id("b"));
    assert_eq!(
        store.newest(&a).await.expect("newest"),
        None,
        "unknown stream"
    );
    for expected in 1..=3 {
        assert_eq!(append(&*store, &a, "x").await, expected);
    }
    assert_eq!(append(&*store, &b, "y").await, 1, "streams are independent");
    assert_eq!(store.newest(&a).await.expect("newest"), Some(3));
    assert_eq!(store.newest(&b).await.expect("newest"), Some(1));
}

async fn appends_return_the_event_as_given(store: Box<dyn EventStore>) {
    let typed = NewEvent {
        event: Some("build.done".into()),
        data: Bytes::from_static(b"[1,2]"),
    };
    let stored = store
        .append(&id("s"), typed.clone(), Durability::Immediate)
        .await
        .expect("append");
    assert_eq!(
        (stored.seq, stored.event, stored.data),
        (1, typed.event, typed.data)
    );
}

async fn offers_nothing_after_an_id(store: Box<dyn EventStore>) {
    let s = id("s");
    append(&*store, &s, "x").await;
    assert!(seqs_after(&*store, &s, 0, 100).await.is_empty());
}

async fn keeps_the_event_type_and_data(store: Box<dyn EventStore>) {
    let s = id("s");
    let typed = NewEvent {
        event: Some("order.paid".into()),
        data: Bytes::from_static(b"{\"total\":12}"),
    };
    let stored = store
        .append(&s, typed.clone(), Durability::Immediate)
        .await
        .expect("append");
    let read = store.after(&s, 0, 10).await.expect("after");
    assert_eq!(read, vec![stored.clone()]);
    assert_eq!((stored.event, stored.data), (typed.event, typed.data));
}

async fn after_starts_right_after_the_given_id_and_respects_the_limit(store: Box<dyn EventStore>) {
    let s = id("s");
    for n in 1..=6 {
        append(&*store, &s, &n.to_string()).await;
    }
    assert_eq!(
        seqs_after(&*store, &s, 0, 100).await,
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(seqs_after(&*store, &s, 4, 100).await, vec![5, 6]);
    assert_eq!(seqs_after(&*store, &s, 1, 2).await, vec![2, 3], "limit");
    assert!(seqs_after(&*store, &s, 6, 100).await.is_empty(), "newest");
    assert!(seqs_after(&*store, &s, 60, 100).await.is_empty(), "beyond");
    assert!(seqs_after(&*store, &id("none"), 0, 100).await.is_empty());
    let data: Vec<Bytes> = store
        .after(&s, 2, 1)
        .await
        .expect("after")
        .into_iter()
        .map(|event| event.data)
        .collect();
    assert_eq!(
        data,
        vec![Bytes::from_static(b"3")],
        "each id keeps its data"
    );
}

async fn keeps_at_least_the_newest_history(store: Box<dyn EventStore>) {
    let s = id("s");
    for n in 1..=12 {
        append(&*store, &s, &n.to_string()).await;
    }
    let kept = seqs_after(&*store, &s, 0, 100).await;
    assert!(kept.ends_with(&[8, 9, 10, 11, 12]), "{kept:?}");
    assert!(
        kept.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive: {kept:?}"
    );
    // Asking from before the kept history returns what is kept, no error.
    assert_eq!(seqs_after(&*store, &s, 1, 100).await.last(), Some(&12));
}

async fn concurrent_appends_get_distinct_consecutive_ids(store: Box<dyn EventStore>) {
    let store: Arc<dyn EventStore> = Arc::from(store);
    let s = id("s");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, s) = (Arc::clone(&store), s.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..100 {
                    got.push(append(&*store, &s, "x").await);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let got = task.await.expect("task");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "one appender's ids rise"
        );
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<_>>(), "every id once");
    assert_eq!(store.newest(&s).await.expect("newest"), Some(800));
}

async fn forgetting_takes_effect_at_once(store: Box<dyn EventStore>) {
    let (s, other) = (id("s"), id("other"));
    append(&*store, &s, "x").await;
    append(&*store, &other, "y").await;
    let old = append(&*store, &s, "x2").await;
    store.forget(&s);
    let floor = store.newest(&s).await.expect("newest");
    assert!(
        floor.is_some_and(|floor| floor >= old),
        "a forgotten stream's numbering stands at or above its old ids: {floor:?}"
    );
    assert!(seqs_after(&*store, &s, 0, 100).await.is_empty());
    assert_eq!(
        store.newest(&other).await.expect("newest"),
        Some(1),
        "others kept"
    );
    let again = append(&*store, &s, "z").await;
    assert!(
        again > old,
        "a new life's ids are above the old life's ({again} after {old})"
    );
}

/// A shared log can be forgotten by one instance only: its numbering (and
/// log, until it expires) stays for the others, and the stream numbers on.
async fn forgetting_leaves_the_shared_numbering(store: Box<dyn EventStore>) {
    let s = id("s");
    append(&*store, &s, "x").await;
    let old = append(&*store, &s, "x2").await;
    store.forget(&s);
    assert_eq!(store.newest(&s).await.expect("newest"), Some(old));
    assert_eq!(append(&*store, &s, "z").await, old + 1);
}

/// Builds two instances on one fresh backend, keeping this many events.
pub(crate) type PairFactory<'a> = &'a dyn Fn(usize) -> (Box<dyn EventStore>, Box<dyn EventStore>);

/// The shared-store checks, each on a fresh pair of instances.
pub(crate) async fn run_shared(pair: PairFactory<'_>) {
    two_instances_append_to_one_log(pair(1000)).await;
    an_instance_hears_the_other_appending(pair(10)).await;
    one_instance_holds_a_lease_and_a_lost_one_is_fenced(pair(10)).await;
}

async fn two_instances_append_to_one_log((a, b): (Box<dyn EventStore>, Box<dyn EventStore>)) {
    let (a, b): (Arc<dyn EventStore>, Arc<dyn EventStore>) = (Arc::from(a), Arc::from(b));
    let s = id("s");
    let tasks: Vec<_> = [&a, &b, &a, &b]
        .into_iter()
        .map(|store| {
            let (store, s) = (Arc::clone(store), s.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..50 {
                    got.push(append(&*store, &s, "x").await);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=200).collect::<Vec<_>>(),
        "every id once, across instances"
    );
    assert_eq!(
        seqs_after(&*b, &s, 195, 100).await,
        vec![196, 197, 198, 199, 200]
    );
    assert_eq!(a.newest(&s).await.expect("newest"), Some(200));
}

/// The longest lease a pair factory may configure.
const LEASE: std::time::Duration = std::time::Duration::from_secs(5);

/// Records what a watcher is told.
#[derive(Default)]
struct Heard {
    appended: std::sync::Mutex<Vec<(StreamId, Seq)>>,
    released: std::sync::Mutex<Vec<StreamId>>,
    told: tokio::sync::Notify,
}

impl AppendWatcher for Heard {
    fn appended(&self, stream: &StreamId, newest: Seq, _event: Option<super::StoredEvent>) {
        self.appended
            .lock()
            .expect("lock")
            .push((stream.clone(), newest));
        self.told.notify_one();
    }

    fn lease_released(&self, stream: &StreamId) {
        self.released.lock().expect("lock").push(stream.clone());
        self.told.notify_one();
    }

    fn resync(&self) {}
}

async fn an_instance_hears_the_other_appending((a, b): (Box<dyn EventStore>, Box<dyn EventStore>)) {
    let heard = Arc::new(Heard::default());
    let watcher: Arc<dyn AppendWatcher> = heard.clone();
    b.shared().expect("shared").watch(Arc::downgrade(&watcher));
    let s = id("s");
    // Until b listens, appends go unheard; the doorbell is at most once.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let seq = append(&*a, &s, "x").await;
        let told =
            tokio::time::timeout(std::time::Duration::from_millis(200), heard.told.notified());
        if told.await.is_ok() {
            let last = heard.appended.lock().expect("lock").last().cloned();
            assert_eq!(last, Some((s.clone(), seq)), "the newest id of the stream");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b never heard a's appends"
        );
    }
}

async fn one_instance_holds_a_lease_and_a_lost_one_is_fenced(
    (a, b): (Box<dyn EventStore>, Box<dyn EventStore>),
) {
    let s = id("s");
    let (shared_a, shared_b) = (a.shared().expect("shared"), b.shared().expect("shared"));
    let heard = Arc::new(Heard::default());
    let watcher: Arc<dyn AppendWatcher> = heard.clone();
    shared_b.watch(Arc::downgrade(&watcher));
    let Claim::Held(lease) = shared_a.claim(&s, None).await.expect("claim") else {
        panic!("a free lease is claimed");
    };
    assert_eq!(lease.since_last_tick, None, "never generated");
    match shared_b.claim(&s, None).await.expect("claim") {
        Claim::Busy { expires_in } => assert!(
            expires_in > std::time::Duration::ZERO && expires_in <= LEASE,
            "held by a for at most its time to live: {expires_in:?}"
        ),
        Claim::Held(_) => panic!("b claimed a's lease"),
    }
    let renewed = shared_a.claim(&s, Some(&lease)).await.expect("renew");
    assert_eq!(renewed, Claim::Held(lease.clone()));
    let stored = shared_a
        .append_generated(&s, event("tick"), &lease)
        .await
        .expect("the leader appends");
    assert_eq!(stored.seq, 1);
    // a gives it up and it is announced; b takes it; a's old lease is fenced.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut held = lease.clone();
    loop {
        shared_a.release(&s, held.clone());
        let told =
            tokio::time::timeout(std::time::Duration::from_millis(200), heard.told.notified());
        if told.await.is_ok() && heard.released.lock().expect("lock").contains(&s) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the release is announced"
        );
        // b's link may not have listened yet (announcements are at most
        // once): a takes the lease again and releases it again.
        held = loop {
            if let Claim::Held(again) = shared_a.claim(&s, None).await.expect("claim") {
                break again;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
    }
    // (An announcement heard may be of an earlier release, a's next claim
    // being still held: b claims until the last release has run.)
    let taken = loop {
        if let Claim::Held(taken) = shared_b.claim(&s, None).await.expect("claim") {
            break taken;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the released lease is free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(taken.since_last_tick.is_some(), "the cadence goes on");
    assert_eq!(
        shared_a.append_generated(&s, event("late"), &lease).await,
        Err(StoreError::Fenced)
    );
    assert!(
        matches!(
            shared_a.claim(&s, Some(&lease)).await,
            Ok(Claim::Busy { .. })
        ),
        "lost"
    );
    assert_eq!(
        a.newest(&s).await.expect("newest"),
        Some(1),
        "nothing written by a"
    );
}
