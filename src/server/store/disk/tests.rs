//! The disk store against the conformance suite, and what only a durable
//! store promises: what survives a close, a crash and the retention time,
//! the reservation that keeps ids unique, failures, and a bounded file.

use super::request::Fault;
use super::writer::RESERVE;
use super::*;
use crate::server::store::conformance::{self, event, id};
use bytes::Bytes;
use redb::{ReadableDatabase, ReadableTable};

fn settings(history: usize) -> DiskSettings {
    DiskSettings {
        history,
        flush: Duration::from_millis(20),
        retention: Duration::from_secs(300),
        timeout: Duration::from_secs(5),
    }
}

impl DiskStore {
    /// A store in a fresh temporary directory, removed with the store.
    fn temporary(settings: DiskSettings) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut store = Self::open(dir.path(), settings).expect("opens");
        store._dir = Some(dir);
        store
    }
}

async fn append(store: &DiskStore, stream: &StreamId, data: &str, durability: Durability) -> Seq {
    store
        .append(stream, event(data), durability)
        .await
        .expect("append")
        .seq
}

async fn kept(store: &DiskStore, stream: &StreamId) -> Vec<(Seq, String)> {
    store
        .after(stream, 0, usize::MAX)
        .await
        .expect("after")
        .into_iter()
        .map(|event| (event.seq, String::from_utf8_lossy(&event.data).into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_with_its_history_checks() {
    conformance::run(&|history| Box::new(DiskStore::temporary(settings(history)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_keeps_everything_and_the_numbering_goes_on_with_no_gap() {
    let dir = tempfile::tempdir().expect("dir");
    let s = id("s");
    {
        let store = DiskStore::open(dir.path(), settings(100)).expect("opens");
        store.newest(&s).await.expect("newest");
        for n in 1..=5 {
            append(&store, &s, &format!("g{n}"), Durability::Batched).await;
        }
        let typed = NewEvent {
            event: Some("order.paid".into()),
            data: Bytes::from_static(b"{\"total\":3}"),
        };
        let published = store
            .append(&s, typed, Durability::Immediate)
            .await
            .expect("publish");
        assert_eq!(published.seq, 6);
        store.close().await.expect("close");
        assert!(
            store
                .append(&s, event("late"), Durability::Batched)
                .await
                .is_err(),
            "a closed store takes no appends"
        );
    }
    let store = DiskStore::open(dir.path(), settings(100)).expect("reopens");
    assert_eq!(store.newest(&s).await.expect("newest"), Some(6), "no gap");
    let events = store.after(&s, 4, 10).await.expect("after");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event.as_deref(), Some("order.paid"));
    assert_eq!(events[1].data, Bytes::from_static(b"{\"total\":3}"));
    assert_eq!(append(&store, &s, "next", Durability::Batched).await, 7);
    assert_eq!(
        kept(&store, &s).await.first(),
        Some(&(1, "g1".to_owned())),
        "history kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_batch_ids_go_on_above_every_id_issued_and_the_lost_ones_are_not_there() {
    let dir = tempfile::tempdir().expect("dir");
    let s = id("s");
    let issued;
    {
        let store = DiskStore::open(dir.path(), settings(100)).expect("opens");
        for n in 1..=10 {
            append(&store, &s, &format!("kept{n}"), Durability::Batched).await;
        }
        store.flush().await.expect("flush");
        // From here on nothing reaches the disk, as after a crash; the
        // generated events are still issued (sent to clients).
        store.fault(Fault::FailCommits);
        let mut last = 0;
        for n in 1..=5 {
            last = append(&store, &s, &format!("lost{n}"), Durability::Batched).await;
        }
        issued = last;
        assert_eq!(issued, 15);
        let published = store
            .append(&s, event("publish"), Durability::Immediate)
            .await;
        assert!(
            matches!(published, Err(StoreError::Unavailable(_))),
            "a publish that cannot be made durable is refused: {published:?}"
        );
    }
    let store = DiskStore::open(dir.path(), settings(100)).expect("reopens");
    let newest = store.newest(&s).await.expect("newest").expect("some");
    assert!(
        newest > issued && newest <= 10 + RESERVE,
        "numbering stands above every issued id: {newest}"
    );
    let kept = kept(&store, &s).await;
    assert_eq!(kept.len(), 10, "the committed ones are kept: {kept:?}");
    assert!(kept.iter().all(|(_, data)| data.starts_with("kept")));
    let next = append(&store, &s, "after", Durability::Batched).await;
    assert!(next > issued + 1, "never reissued: {next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_idle_past_the_retention_time_is_forgotten_at_the_next_start() {
    let dir = tempfile::tempdir().expect("dir");
    let mut short = settings(100);
    short.retention = Duration::from_millis(50);
    let (idle, asked) = (id("idle"), id("asked"));
    {
        let store = DiskStore::open(dir.path(), short).expect("opens");
        for stream in [&idle, &asked] {
            append(&store, stream, "x", Durability::Batched).await;
            append(&store, stream, "y", Durability::Batched).await;
        }
        store.close().await.expect("close");
    }
    std::thread::sleep(Duration::from_millis(60));
    let store = DiskStore::open(dir.path(), short).expect("reopens");
    let floor = store.newest(&asked).await.expect("newest");
    assert_eq!(floor, Some(2), "stands at the floor of its old life");
    assert!(kept(&store, &asked).await.is_empty(), "its events are gone");
    assert!(append(&store, &asked, "z", Durability::Batched).await > 2);
    // The one nobody asks for is swept.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        store.flush().await.expect("flush");
        let rows = store
            .read("rows", |db| read_row(db, "idle"))
            .await
            .expect("read");
        if rows.is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the sweep forgets it");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_counts_from_the_newest_event_though_the_row_is_older() {
    // A row is written when its stream opens, not with every append: after
    // a crash, a stream whose row is older than the retention time but
    // whose newest event is not is kept, when asked for and by the sweep.
    let dir = tempfile::tempdir().expect("dir");
    let mut short = settings(100);
    short.retention = Duration::from_millis(1000);
    let (asked, swept) = (id("asked"), id("swept"));
    {
        let store = DiskStore::open(dir.path(), short).expect("opens");
        for stream in [&asked, &swept] {
            append(&store, stream, "early", Durability::Batched).await;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        for stream in [&asked, &swept] {
            append(&store, stream, "late", Durability::Batched).await;
        }
        store.flush().await.expect("flush");
        // Dropped without a close: as after a crash, no row is rewritten.
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = DiskStore::open(dir.path(), short).expect("reopens");
    // The writer sweeps at its start and right after a commit: by the
    // second flush's answer the first pass is over.
    store.flush().await.expect("flush");
    store.flush().await.expect("flush");
    let row = store
        .read("row", |db| read_row(db, "swept"))
        .await
        .expect("read");
    assert!(row.is_some(), "the sweep kept a stream with a recent event");
    let data: Vec<String> = kept(&store, &asked)
        .await
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    assert!(data.ends_with(&["early".into(), "late".into()]), "{data:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_stops_answering_times_out_and_a_failed_commit_refuses_later_appends() {
    let mut quick = settings(10);
    quick.timeout = Duration::from_millis(300);
    let store = DiskStore::temporary(quick);
    let s = id("s");
    append(&store, &s, "x", Durability::Immediate).await;
    store.fault(Fault::Stall(Duration::from_millis(500)));
    let stalled = store.append(&s, event("y"), Durability::Immediate).await;
    assert_eq!(
        stalled,
        Err(StoreError::TimedOut {
            operation: "append"
        })
    );
    // The writer comes back within the next wait; the append that timed
    // out was not acknowledged, but its id was used and it is stored.
    store.flush().await.expect("the writer answers again");
    assert_eq!(
        kept(&store, &s).await,
        vec![(1, "x".to_owned()), (2, "y".to_owned())]
    );
    store.fault(Fault::FailCommits);
    let failed = store.append(&s, event("z"), Durability::Immediate).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    let refused = store.append(&s, event("w"), Durability::Batched).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
}

#[test]
fn a_store_that_cannot_be_opened_is_refused_with_its_reason_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let refused = DiskStore::open(&file, settings(10)).err().expect("refused");
    assert!(refused.to_string().contains("not a directory"), "{refused}");

    let garbage = dir.path().join("garbage");
    std::fs::create_dir(&garbage).expect("mkdir");
    let junk: Vec<u8> = (0..64 * 1024).map(|n| (n * 7 % 251) as u8).collect();
    std::fs::write(garbage.join(FILE_NAME), &junk).expect("write");
    let refused = DiskStore::open(&garbage, settings(10))
        .err()
        .expect("refused");
    assert!(
        refused.to_string().contains("not an sse-hub store"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read(garbage.join(FILE_NAME)).expect("read"),
        junk,
        "never replaced"
    );

    let used = dir.path().join("used");
    let _first = DiskStore::open(&used, settings(10)).expect("opens");
    let second = DiskStore::open(&used, settings(10)).err().expect("refused");
    assert_eq!(
        second,
        DiskError::InUse {
            path: used.display().to_string()
        }
    );
    assert!(second
        .to_string()
        .contains("store in use by another process"));
}

/// The store's pages in use and the file's size, once everything queued
/// is committed.
async fn footprint(store: &DiskStore, dir: &Path) -> (u64, u64) {
    store.flush().await.expect("flush");
    let used = store
        .read("stats", |db| {
            let write = db.begin_write()?;
            let stats = write.stats()?;
            write.abort()?;
            Ok(stats.allocated_pages() * stats.page_size() as u64)
        })
        .await
        .expect("stats");
    let file = std::fs::metadata(dir.join(FILE_NAME)).expect("file").len();
    (used, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_stops_growing_over_rounds_of_the_same_workload() {
    // 10 rounds of 500 streams x 1,000 events (history 100); each round's
    // streams are forgotten before the next, as retention would.
    let dir = tempfile::tempdir().expect("dir");
    let mut explicit = settings(100);
    explicit.flush = Duration::from_secs(3600);
    let store = DiskStore::open(dir.path(), explicit).expect("opens");
    let payload =
        "{\"number\":123,\"timestamp\":\"2026-12-01T00:00:00.000Z\",\"id\":\"stream-000\"}";
    let (mut used_full, mut files) = (Vec::new(), Vec::new());
    for round in 0..10 {
        let streams: Vec<StreamId> = (0..500).map(|n| id(&format!("r{round}-s{n}"))).collect();
        for stream in &streams {
            store.newest(stream).await.expect("newest");
        }
        for pass in 0..1000 {
            for stream in &streams {
                store
                    .append(stream, event(payload), Durability::Batched)
                    .await
                    .expect("append");
            }
            // A commit every 25,000 events, as the flush interval would at
            // 250,000 events a second.
            if pass % 50 == 49 {
                store.flush().await.expect("flush");
            }
        }
        let (used, file) = footprint(&store, dir.path()).await;
        used_full.push(used);
        files.push(file);
        for stream in &streams {
            store.forget(stream);
        }
        let (used, file) = footprint(&store, dir.path()).await;
        assert!(
            used < 1 << 20,
            "round {round}: forgotten streams leave {used} bytes in use"
        );
        files.push(file);
    }
    // Trimmed to the history: each round holds the same data.
    let first = used_full[1] as f64;
    assert!(
        used_full
            .iter()
            .skip(2)
            .all(|&used| used as f64 <= first * 1.10),
        "pages in use at the end of each round: {used_full:?}"
    );
    // The file's free pages are reused: it stays within what the workload
    // needs. (redb gives trailing free space back lazily and grows by
    // allocator steps, so a file's size moves by up to about half of it
    // between rounds; measured 15-32 MB for 6 MB of data.)
    let early = files.iter().take(4).copied().max().expect("sizes") as f64;
    assert!(
        files.iter().skip(4).all(|&file| file as f64 <= early * 2.0),
        "file sizes: {files:?}"
    );
    let figures = {
        store.close().await.expect("close");
        drop(store);
        figures(dir.path()).expect("figures")
    };
    assert_eq!((figures.streams, figures.events), (0, 0), "{figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_the_history_keeps_its_count_across_the_hole_in_the_ids() {
    let dir = tempfile::tempdir().expect("dir");
    let s = id("s");
    {
        let store = DiskStore::open(dir.path(), settings(5)).expect("opens");
        for n in 1..=4 {
            append(&store, &s, &format!("old{n}"), Durability::Batched).await;
        }
        store.flush().await.expect("flush");
        store.fault(Fault::FailCommits);
        append(&store, &s, "lost", Durability::Batched).await;
    }
    let store = DiskStore::open(dir.path(), settings(5)).expect("reopens");
    // Above every id issued (5, the lost one), within one reservation.
    let newest = store.newest(&s).await.expect("newest").expect("some");
    assert!((5..=5 + RESERVE).contains(&newest), "{newest}");
    for n in 1..=3 {
        append(&store, &s, &format!("new{n}"), Durability::Batched).await;
    }
    let ids: Vec<Seq> = kept(&store, &s)
        .await
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(
        ids,
        vec![3, 4, newest + 1, newest + 2, newest + 3],
        "the newest five events, not the newest five ids"
    );
}

#[tokio::test]
async fn a_writer_that_meets_a_damaged_page_refuses_the_store_and_health_says_why() {
    // Between commits (a sweep's read) and inside one.
    for fault in [Fault::Panic, Fault::PanicInCommits] {
        let store = DiskStore::temporary(settings(100));
        let s = id("damaged-writer");
        store.newest(&s).await.expect("newest");
        assert_eq!(store.health(), Ok(()));
        store.fault(fault);
        let published = store.append(&s, event("x"), Durability::Immediate).await;
        assert!(
            matches!(published, Err(StoreError::Unavailable(_))),
            "{fault:?}: {published:?}"
        );
        let health = store.health().expect_err("reported");
        assert!(
            health.contains("the store is damaged"),
            "{fault:?}: {health}"
        );
        assert!(health.contains("a damaged page"), "{fault:?}: {health}");
    }
}

#[tokio::test]
async fn a_read_that_meets_a_damaged_page_refuses_the_store_and_health_says_why() {
    let store = DiskStore::temporary(settings(100));
    let read = store
        .read("a test read", |_| -> Result<(), redb::Error> {
            panic!("a damaged page")
        })
        .await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    let health = store.health().expect_err("reported");
    assert!(health.contains("the store is damaged"), "{health}");
    let published = store
        .append(&id("after"), event("x"), Durability::Immediate)
        .await;
    assert!(
        matches!(published, Err(StoreError::Unavailable(_))),
        "no more appends: {published:?}"
    );
}

/// Publishes `data` with idempotency `key`: its id and whether it was
/// answered from before.
async fn publish_keyed(store: &DiskStore, stream: &StreamId, data: &str, key: &str) -> (Seq, bool) {
    let appended = store
        .append_published(stream, vec![(event(data), Some(key.into()))])
        .await
        .expect("append");
    match appended.as_slice() {
        [Appended::Stored(stored)] => (stored.seq, false),
        [Appended::Replayed(seq)] => (*seq, true),
        other => panic!("one answer: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_answered_after_a_restart_and_go_with_their_stream() {
    let dir = tempfile::tempdir().expect("dir");
    let s = id("keyed");
    {
        let store = DiskStore::open(dir.path(), settings(100)).expect("opens");
        store.newest(&s).await.expect("newest");
        assert_eq!(
            publish_keyed(&store, &s, "paid", "order-17").await,
            (1, false)
        );
        assert_eq!(
            publish_keyed(&store, &s, "shipped", "order-18").await,
            (2, false)
        );
        // No close: a crash after the acknowledgement.
    }
    let store = DiskStore::open(dir.path(), settings(100)).expect("reopens");
    store.newest(&s).await.expect("newest");
    assert_eq!(
        publish_keyed(&store, &s, "paid again", "order-17").await,
        (1, true)
    );
    let batch = store
        .append_published(
            &s,
            vec![
                (event("new"), Some("order-19".into())),
                (event("shipped again"), Some("order-18".into())),
                (event("unkeyed"), None),
            ],
        )
        .await
        .expect("append");
    let answers: Vec<(Seq, bool)> = batch
        .iter()
        .map(|appended| match appended {
            Appended::Stored(stored) => (stored.seq, false),
            Appended::Replayed(seq) => (*seq, true),
        })
        .collect();
    // (After the crash new ids start above the reservation.)
    let [(new, false), (2, true), (unkeyed, false)] = answers[..] else {
        panic!("in order, the known key answered: {answers:?}");
    };
    assert!(2 < new && new < unkeyed, "{answers:?}");
    assert_eq!(
        kept(&store, &s)
            .await
            .iter()
            .map(|(_, data)| data.as_str())
            .collect::<Vec<_>>(),
        ["paid", "shipped", "new", "unkeyed"],
        "nothing appended twice"
    );
    // A forgotten stream's keys go with it: its next life appends.
    store.forget(&s);
    store.flush().await.expect("flush");
    let newest = store.newest(&s).await.expect("newest").unwrap_or(0);
    let (seq, replayed) = publish_keyed(&store, &s, "next life", "order-17").await;
    assert!(!replayed && seq > newest, "{seq} after {newest}");
}

#[test]
fn an_idempotency_key_is_answered_for_its_lifetime_only() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open_database(dir.path(), true).expect("opens");
    let now = SystemTime::now();
    let write = db.begin_write().expect("write");
    {
        let mut keys = write.open_table(tables::KEYS).expect("table");
        keys.insert(("s", "k"), (7, millis(now))).expect("insert");
    }
    write.commit().expect("commit");
    let asked = [Some(Box::<str>::from("k")), None, Some("other".into())];
    assert_eq!(
        read_keys(&db, "s", &asked, now).expect("read"),
        [Some(7), None, None]
    );
    let later = now + crate::server::store::IDEMPOTENCY_LIFETIME + Duration::from_secs(1);
    assert_eq!(
        read_keys(&db, "s", &asked, later).expect("read"),
        [None, None, None],
        "expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_expired_idempotency_keys_and_keeps_the_others() {
    let dir = tempfile::tempdir().expect("dir");
    let now = millis(SystemTime::now());
    let old = now - tables::key_lifetime_ms() - 1000;
    {
        // As an earlier run left them: one key too old, one fresh.
        let db = open_database(dir.path(), true).expect("opens");
        let write = db.begin_write().expect("write");
        {
            let mut keys = write.open_table(tables::KEYS).expect("table");
            let mut by_time = write.open_table(tables::KEYS_BY_TIME).expect("table");
            for (key, at) in [("old", old), ("fresh", now)] {
                keys.insert(("s", key), (1, at)).expect("insert");
                by_time.insert((at, "s", key), ()).expect("insert");
            }
        }
        write.commit().expect("commit");
    }
    let store = DiskStore::open(dir.path(), settings(100)).expect("opens");
    let left = || async {
        store
            .read("keys left", |db| {
                let read = db.begin_read()?;
                let keys = read.open_table(tables::KEYS)?;
                let mut left = Vec::new();
                for entry in keys.iter()? {
                    let (key, _) = entry?;
                    left.push(key.value().1.to_owned());
                }
                Ok(left)
            })
            .await
            .expect("read")
    };
    // The sweep's first round runs as the store opens.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while left().await.len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", left().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left().await, ["fresh"]);
}
