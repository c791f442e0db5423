//! One stream's shared state: where its numbering stands, its replay ring,
//! its broadcast channel, its subscribers and live sinks, and the append that
//! puts an event through the store and out to all of them. The hub's module
//! doc states the contract.

use super::context::StreamContext;
use super::fanout::deliver;
use super::frame::Frame;
use super::live_sink::LiveSink;
use super::pace::Pace;
use super::ring::ReplayRing;
use super::sink_list::SinkList;
use super::snapshot::StreamSnapshot;
use super::sync::lock;
use crate::model::{GapNotice, StreamId};
use crate::server::sse::{encode_message, gap_message, KEEP_ALIVE};
use crate::server::stats::{add, bump};
use crate::server::store::{
    Appended, Durability, Lease, NewEvent, Publish, Seq, StoreError, StoredEvent,
};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{broadcast, oneshot, Notify};
use tokio::time::Instant;

/// A stream id's shared state.
pub(crate) struct Stream {
    id: StreamId,
    context: Arc<StreamContext>,
    sender: broadcast::Sender<Frame>,
    state: Mutex<StreamState>,
    /// Held across an append and its broadcast, so that events of this
    /// stream reach the ring and the channel in the order the store numbered
    /// them.
    append_order: tokio::sync::Mutex<()>,
    /// Published events waiting for the append lock, and where to answer
    /// each: whoever gets the lock appends all of them in one store call
    /// (one commit for a disk store), so that publishes to one stream
    /// share a commit instead of queueing for one each.
    waiting: Mutex<Vec<WaitingPublish>>,
    /// Signalled when the subscriber count goes 0 → 1 or 1 → 0, or the stream
    /// is retired, so the driver task reacts at once.
    pub(crate) wake: Notify,
    /// With a shared store: the newest id the log is known to reach, which
    /// a follow task brings the stream up to (see [`Stream::follow_to`]).
    follow_target: AtomicU64,
    /// A follow task runs.
    following: AtomicBool,
    /// With a shared store: events announced with their doorbell and not
    /// delivered yet, by id (at most [`ANNOUNCED_MAX`]): a follow task
    /// delivers them without reading the log.
    announced: Mutex<BTreeMap<Seq, StoredEvent>>,
    /// With a shared store: another instance released the stream's lease,
    /// so this one (if it waits for it) claims it now.
    pub(crate) lease_released: Notify,
}

/// The part of a stream that changes, behind its mutex.
struct StreamState {
    subscribers: usize,
    /// Sequence id of the newest event (0: none yet), or where the store's
    /// numbering stood when this life began.
    newest: Seq,
    /// Events published in this life of the stream (ids need not be
    /// consecutive from its start: see the store's *Ids across lives*).
    events: u64,
    /// The last `history` events.
    ring: ReplayRing,
    /// When the producer last started.
    started_at: SystemTime,
    /// When the newest event of this life was appended here.
    last_event_at: Option<SystemTime>,
    /// When the stream last sent anything (event or keep-alive).
    last_sent: Instant,
    /// Removed from the hub; its driver task must exit.
    retired: bool,
    /// An append is with the store: the stream may not be retired (and its
    /// log forgotten) under it, or the append would bring the log back.
    appending: bool,
    /// When the last subscriber left; `None` while anyone is subscribed.
    /// Under `--max-streams` pressure the stream idle longest goes first.
    idle_since: Option<Instant>,
    /// Subscribers the producer writes to itself while they are live.
    sinks: SinkList,
}

/// Announced events a stream holds for its follow task at most; beyond
/// it the oldest are read from the shared log instead.
const ANNOUNCED_MAX: usize = 1024;

/// A published event waiting to be appended, and its publisher's answer:
/// its id and whether the store answered its idempotency key from before.
type WaitingPublish = (
    Publish,
    oneshot::Sender<Result<Option<(Seq, bool)>, StoreError>>,
);

/// How a generated event's append goes through the store (published
/// events go through `append_waiting`).
enum AppendMode<'a> {
    /// Through [`EventStore::append`](crate::server::store::EventStore::append).
    Local(Durability),
    /// A generated event through a shared store, fenced by this lease.
    Fenced(&'a Lease),
}

/// What a new subscriber gets from [`Stream::join`].
pub(crate) struct Joined {
    /// Live events from now on.
    pub(crate) receiver: broadcast::Receiver<Frame>,
    /// Messages to send before any live event: a gap notice and the replay.
    pub(crate) backlog: VecDeque<Bytes>,
    /// Sequence id of the newest event the subscriber has (or needs not get).
    pub(crate) last_seq: Seq,
    /// Subscribers including this one.
    pub(crate) subscribers: usize,
    /// Ids the ring no longer holds that the subscriber asked for, from the
    /// first to the one before the ring's oldest: the store may have them.
    pub(crate) missing: Option<(Seq, Seq)>,
}

impl Stream {
    /// A stream with no subscriber whose newest event is `newest` (0: none);
    /// the hub starts its driver.
    pub(crate) fn new(id: StreamId, newest: Seq, context: &Arc<StreamContext>) -> Arc<Self> {
        let (sender, _) = broadcast::channel(context.channel_capacity);
        let stream = Arc::new(Self {
            id,
            context: Arc::clone(context),
            sender,
            state: Mutex::new(StreamState {
                subscribers: 0,
                newest,
                events: 0,
                ring: ReplayRing::new(context.history),
                started_at: SystemTime::now(),
                last_event_at: None,
                last_sent: Instant::now(),
                retired: false,
                appending: false,
                idle_since: Some(Instant::now()),
                sinks: SinkList::default(),
            }),
            append_order: tokio::sync::Mutex::new(()),
            waiting: Mutex::new(Vec::new()),
            wake: Notify::new(),
            follow_target: AtomicU64::new(0),
            following: AtomicBool::new(false),
            announced: Mutex::new(BTreeMap::new()),
            lease_released: Notify::new(),
        });
        context.idle_streams.fetch_add(1, Ordering::AcqRel);
        stream
    }

    /// The stream's id.
    pub(crate) fn id(&self) -> &StreamId {
        &self.id
    }

    /// The counters the stream updates.
    pub(crate) fn stats(&self) -> &crate::server::stats::Stats {
        &self.context.stats
    }

    /// The calls of the store's shared log, if it is shared.
    pub(crate) fn shared_log(&self) -> Option<&dyn crate::server::store::SharedLog> {
        self.context.store.shared()
    }

    /// Events its ring keeps (`--history`).
    pub(crate) fn history(&self) -> usize {
        self.context.history
    }

    /// Registers a subscriber and hands it the replay it needs.
    ///
    /// `resume_after` of 0 or above where the stream's numbering stands is
    /// treated as a fresh connection (no replay); one at or below it that the
    /// ring no longer holds gets a gap notice. For a stream new to this
    /// process that floor is above every id a forgotten stream issued (the
    /// store cannot tell a forgotten id from one never used without keeping
    /// a record per forgotten stream), so such a client is told of a gap.
    ///
    /// `ahead` (a shared store whose log could not be read) is an id the
    /// client has though this instance has not delivered it yet: the
    /// client gets only events after it, as the stream reaches them.
    pub(crate) fn join(&self, resume_after: Option<Seq>, ahead: Option<Seq>) -> Joined {
        let mut state = lock(&self.state);
        state.subscribers += 1;
        if state.idle_since.take().is_some() {
            self.context.idle_streams.fetch_sub(1, Ordering::AcqRel);
            self.context.store.busy(&self.id, true);
        }
        if state.subscribers == 1 {
            self.wake.notify_one();
        }
        // Subscribed under the lock the append holds while broadcasting:
        // nothing can be sent between the replay snapshot and this receiver.
        let receiver = self.sender.subscribe();
        let newest = state.newest;
        // Ids start at 1: 0 was never issued either.
        let resume_from = resume_after.filter(|last| (1..=newest).contains(last));
        let (backlog, missing) = match resume_from {
            Some(last) => {
                let oldest_held = state.ring.oldest().unwrap_or(newest + 1);
                let missing = (last + 1 < oldest_held).then_some((last + 1, oldest_held - 1));
                let replay = state.ring.messages_after(last, newest);
                let stats = &self.context.stats;
                // With ids missing, the ring's first message is their gap
                // notice, not an event.
                let notice = u64::from(missing.is_some());
                add(
                    &stats.replayed_events,
                    (replay.len() as u64).saturating_sub(notice),
                );
                add(&stats.gap_notices, notice);
                (replay, missing)
            }
            None => (VecDeque::new(), None),
        };
        Joined {
            receiver,
            backlog,
            last_seq: newest.max(ahead.unwrap_or(0)),
            subscribers: state.subscribers,
            missing,
        }
    }

    /// Unregisters a subscriber; returns how many remain.
    pub(crate) fn leave(&self) -> usize {
        let mut state = lock(&self.state);
        state.subscribers = state.subscribers.saturating_sub(1);
        if state.subscribers == 0 && state.idle_since.is_none() {
            state.idle_since = Some(Instant::now());
            self.context.idle_streams.fetch_add(1, Ordering::AcqRel);
            self.context.store.busy(&self.id, false);
            self.wake.notify_one();
        }
        state.subscribers
    }

    /// For a lagging subscriber that has everything up to `last_seq`: the
    /// messages it missed (with a gap notice if some are gone) and the newest
    /// sequence id they reach.
    pub(crate) fn catch_up(&self, last_seq: Seq) -> (VecDeque<Bytes>, Seq) {
        let state = lock(&self.state);
        let missed = state.ring.messages_after(last_seq, state.newest);
        // A client that fell behind the ring gets a gap notice first.
        let oldest = state.ring.oldest().unwrap_or(state.newest + 1);
        if last_seq < state.newest && last_seq + 1 < oldest {
            bump(&self.context.stats.gap_notices);
        }
        (missed, state.newest)
    }

    /// Up to `limit` events after `after` from the store, encoded: for a
    /// resume older than the ring.
    pub(crate) async fn stored_after(
        &self,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<(Seq, Bytes)>, StoreError> {
        let events = self.context.store.after(&self.id, after, limit).await?;
        Ok(events
            .iter()
            .map(|event| (event.seq, encode(event)))
            .collect())
    }

    /// Appends `event` through the store, then records and broadcasts it;
    /// `None` (and nothing appended) when the stream was retired meanwhile.
    /// `pace` says whether the producer is on time: only then does this
    /// write the event to the live sinks itself (see [`LiveSink`]); a late
    /// producer means the server is busy, and the sinks' tasks, which write
    /// whatever is due at once, take the writing back.
    ///
    /// It runs in a task of its own: a store may issue the id before it
    /// has finished (the disk store waits for a commit after queueing the
    /// event), and a producer dropped meanwhile (its last subscriber left)
    /// must not leave a stored event that was never broadcast.
    pub(crate) async fn append(
        self: &Arc<Self>,
        event: NewEvent,
        pace: Pace,
        durability: Durability,
    ) -> Result<Option<Seq>, StoreError> {
        let stream = Arc::clone(self);
        let appending = tokio::spawn(async move {
            stream
                .append_now(event, pace, AppendMode::Local(durability))
                .await
        });
        appending.await.unwrap_or_else(|failed| {
            Err(StoreError::Unavailable(format!(
                "the append was dropped: {failed}"
            )))
        })
    }

    /// [`Stream::append`] for a generated event through a shared store:
    /// refused ([`StoreError::Fenced`]) unless `lease` still holds.
    pub(crate) async fn append_fenced(
        self: &Arc<Self>,
        event: NewEvent,
        pace: Pace,
        lease: Lease,
    ) -> Result<Option<Seq>, StoreError> {
        let stream = Arc::clone(self);
        let appending = tokio::spawn(async move {
            stream
                .append_now(event, pace, AppendMode::Fenced(&lease))
                .await
        });
        appending.await.unwrap_or_else(|failed| {
            Err(StoreError::Unavailable(format!(
                "the append was dropped: {failed}"
            )))
        })
    }

    /// [`Stream::append`]'s work.
    async fn append_now(
        &self,
        event: NewEvent,
        pace: Pace,
        mode: AppendMode<'_>,
    ) -> Result<Option<Seq>, StoreError> {
        let _in_order = self.append_order.lock().await;
        let Some(_appending) = Appending::start(self) else {
            return Ok(None);
        };
        let store = &self.context.store;
        let started = Instant::now();
        let stored = match mode {
            AppendMode::Local(durability) => store.append(&self.id, event, durability).await,
            AppendMode::Fenced(lease) => match store.shared() {
                Some(shared) => shared.append_generated(&self.id, event, lease).await,
                None => Err(StoreError::Fenced),
            },
        };
        // Counted here, in the append's own task: a producer dropped while
        // it waited (its lease lost) does not lose the count.
        let stats = &self.context.stats;
        stats.observe_append(started.elapsed());
        let stored = match stored {
            Ok(stored) => {
                bump(&stats.events_generated);
                stored
            }
            Err(StoreError::Fenced) => {
                bump(&stats.fenced_appends);
                return Err(StoreError::Fenced);
            }
            Err(error) => {
                bump(&stats.store_errors);
                return Err(error);
            }
        };
        let seq = stored.seq;
        self.deliver_in_order(std::slice::from_ref(&stored), pace)
            .await;
        Ok(Some(seq))
    }

    /// Appends a published event ([`Durability::Immediate`]) with every
    /// other one waiting for this stream (see `waiting`), then records and
    /// broadcasts them in id order; returns its id and whether the store
    /// answered its idempotency `key` from before (nothing appended), or
    /// `None` when the stream was retired meanwhile. The appending runs in
    /// a task of its own, so a publisher that goes away cannot cut the
    /// others' append short.
    pub(crate) async fn append_published(
        self: &Arc<Self>,
        event: NewEvent,
        key: Option<Box<str>>,
    ) -> Result<Option<(Seq, bool)>, StoreError> {
        let (answer, answered) = oneshot::channel();
        lock(&self.waiting).push(((event, key), answer));
        let stream = Arc::clone(self);
        tokio::spawn(async move { stream.append_waiting().await });
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the append was dropped".to_owned())))
    }

    /// Appends everything waiting (possibly nothing: an earlier call took
    /// it), under the append lock.
    async fn append_waiting(&self) {
        let _in_order = self.append_order.lock().await;
        let batch = std::mem::take(&mut *lock(&self.waiting));
        if batch.is_empty() {
            return;
        }
        let (events, answers): (Vec<Publish>, Vec<_>) = batch.into_iter().unzip();
        let Some(_appending) = Appending::start(self) else {
            for answer in answers {
                let _ = answer.send(Ok(None));
            }
            return;
        };
        let started = Instant::now();
        let appended = self.context.store.append_published(&self.id, events).await;
        let stats = &self.context.stats;
        stats.observe_append(started.elapsed());
        if appended.is_err() {
            bump(&stats.store_errors);
        }
        match appended {
            Ok(appended) => {
                let stored: Vec<StoredEvent> = appended
                    .iter()
                    .filter_map(|appended| match appended {
                        Appended::Stored(stored) => Some(stored.clone()),
                        Appended::Replayed(_) => None,
                    })
                    .collect();
                self.deliver_in_order(&stored, Pace::OnTime).await;
                for (appended, answer) in appended.into_iter().zip(answers) {
                    let result = match appended {
                        Appended::Stored(stored) => (stored.seq, false),
                        Appended::Replayed(seq) => (seq, true),
                    };
                    let _ = answer.send(Ok(Some(result)));
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }

    /// Records and broadcasts `stored` (appended under the append lock, in
    /// id order). With a shared store, another instance may have appended
    /// just before: what the log holds between this stream's newest and
    /// the first of them is delivered first, so that subscribers get ids
    /// in order with no gap.
    async fn deliver_in_order(&self, stored: &[StoredEvent], pace: Pace) {
        if let Some(first) = stored.first() {
            let newest = self.newest();
            if self.context.store.shared().is_some() && first.seq > newest.saturating_add(1) {
                self.fill(newest, first.seq - 1).await;
            }
        }
        for event in stored {
            self.publish(event, pace);
        }
    }

    /// Delivers what the shared log holds after `from` up to `to`, under
    /// the append lock (the caller holds it): announced events as they
    /// are, the others read from the log. A store that fails leaves the
    /// rest: the next event's delivery names the hole in a gap notice.
    async fn fill(&self, from: Seq, to: Seq) {
        let mut newest = from;
        while newest < to {
            let next = {
                let mut announced = lock(&self.announced);
                *announced = announced.split_off(&(newest + 1));
                announced.remove(&(newest + 1))
            };
            if let Some(event) = next {
                self.publish(&event, Pace::OnTime);
                newest = event.seq;
                continue;
            }
            let wanted = usize::try_from(to - newest)
                .unwrap_or(usize::MAX)
                .min(self.context.history);
            let events = match self.context.store.after(&self.id, newest, wanted).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(stream = %self.id, %error, "could not read the shared log");
                    return;
                }
            };
            let Some(last) = events.last().map(|event| event.seq) else {
                // The log holds nothing after `newest` though it reaches
                // `to`: those events are gone (the log expired or Redis lost
                // it). Subscribers are told, and the stream stands at `to`.
                self.skip_to(to);
                return;
            };
            for event in events.iter().filter(|event| event.seq <= to) {
                self.publish(event, Pace::OnTime);
            }
            newest = last;
        }
    }

    /// With a shared store: `event` was announced with its doorbell; kept
    /// for the follow task (see `announced`) unless delivered already.
    pub(crate) fn announced(&self, event: StoredEvent) {
        if event.seq <= self.newest() {
            return;
        }
        let mut announced = lock(&self.announced);
        announced.insert(event.seq, event);
        while announced.len() > ANNOUNCED_MAX {
            announced.pop_first();
        }
    }

    /// With a shared store: the log reaches `target` (a doorbell, or a
    /// check found it): makes sure a follow task brings the stream there.
    /// Announcements that come while one runs only raise its target, so a
    /// busy stream has one task, not one per event.
    pub(crate) fn follow_to(self: &Arc<Self>, target: Seq) {
        self.follow_target.fetch_max(target, Ordering::AcqRel);
        if target <= self.newest() || self.following.swap(true, Ordering::AcqRel) {
            return;
        }
        let stream = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let target = stream.follow_target.load(Ordering::Acquire);
                let before = stream.newest();
                stream.catch_up_to(target).await;
                stream.following.store(false, Ordering::Release);
                // A target raised after the load above, whose caller saw a
                // task running: this one goes on (unless another started).
                // A pass that got nowhere (the store failed, the stream was
                // forgotten) ends it: the next announcement or the check
                // every second tries again.
                let behind = stream.follow_target.load(Ordering::Acquire) > stream.newest();
                let progressed = stream.newest() > before;
                if !behind
                    || !progressed
                    || stream.is_retired()
                    || stream.following.swap(true, Ordering::AcqRel)
                {
                    return;
                }
            }
        });
    }

    /// Delivers what the shared log holds up to `target`, in order, under
    /// the append lock.
    pub(crate) async fn catch_up_to(&self, target: Seq) {
        if self.context.store.shared().is_none() {
            return;
        }
        let _in_order = self.append_order.lock().await;
        let newest = self.newest();
        if target > newest && !self.is_retired() {
            self.fill(newest, target).await;
        } else {
            // Announcements of this instance's own appends can come before
            // the append is delivered: nothing to keep of them.
            let mut announced = lock(&self.announced);
            *announced = announced.split_off(&(newest + 1));
        }
    }

    /// With a shared store: whether its log reaches `seq` (`None`: the
    /// store does not answer).
    pub(crate) async fn log_reaches(&self, seq: Seq) -> Option<bool> {
        let shared = self.context.store.shared()?;
        let ids = [self.id.clone()];
        let newest = shared.newest_of(&ids).await.ok()?;
        Some(
            newest
                .first()
                .copied()
                .flatten()
                .is_some_and(|newest| newest >= seq),
        )
    }

    /// The newest id this stream has delivered (or where its numbering
    /// stood when it was created).
    pub(crate) fn newest(&self) -> Seq {
        lock(&self.state).newest
    }

    /// Records a stored event in the ring and sends it to every subscriber.
    ///
    /// An event at or below the newest one was delivered already (a shared
    /// log read twice) and is skipped; one that jumps ahead of the newest
    /// carries a gap notice for the ids between (a shared log that lost
    /// them: trimmed past a follower far behind, or a Redis that lost its
    /// data), so that live subscribers hear of the hole too.
    fn publish(&self, stored: &StoredEvent, pace: Pace) {
        let seq = stored.seq;
        let event = encode(stored);
        let mut state = lock(&self.state);
        if seq <= state.newest {
            return;
        }
        let bytes = if seq > state.newest + 1 {
            let mut both = BytesMut::from(
                &gap_message(GapNotice {
                    first: state.newest + 1,
                    last: seq - 1,
                })[..],
            );
            both.extend_from_slice(&event);
            both.freeze()
        } else {
            event
        };
        state.events += 1;
        state.last_event_at = Some(SystemTime::now());
        // Counted once per event, for every subscriber at once.
        let subscribers = state.subscribers as u64;
        let copy_bytes = bytes.len() as u64;
        self.send_message(state, seq, bytes, pace);
        let stats = &self.context.stats;
        bump(&stats.events_sent);
        add(&stats.deliveries, subscribers);
        add(&stats.delivered_bytes, subscribers * copy_bytes);
    }

    /// Records message `bytes` as the stream's id `seq` (its newest) in the
    /// ring and sends it to every subscriber; `state` is the stream's
    /// locked state, let go before sinks are written.
    fn send_message(
        &self,
        mut state: std::sync::MutexGuard<'_, StreamState>,
        seq: Seq,
        bytes: Bytes,
        pace: Pace,
    ) {
        state.newest = state.newest.max(seq);
        state.ring.push(seq, bytes.clone());
        state.last_sent = Instant::now();
        let sinks = state.sinks.snapshot();
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(Frame::Event {
            seq,
            bytes: bytes.clone(),
        });
        drop(state);
        match pace {
            Pace::OnTime if !sinks.is_empty() => {
                deliver(sinks, Some(seq), (self.context.sink_framing)(&bytes));
            }
            Pace::OnTime => {}
            Pace::Late => sinks.iter().for_each(|sink| sink.hand_back(seq)),
        }
    }

    /// Records that the events after the stream's newest up to `to` are
    /// gone, and tells subscribers with a gap notice (sent as the stream's
    /// message for id `to`, so it is replayed and skipped like one).
    fn skip_to(&self, to: Seq) {
        let state = lock(&self.state);
        if to <= state.newest {
            return;
        }
        let first = state.newest + 1;
        tracing::warn!(stream = %self.id, first, last = to, "events missing from the shared log");
        let notice = gap_message(GapNotice { first, last: to });
        self.send_message(state, to, notice, Pace::OnTime);
        bump(&self.context.stats.gap_notices);
    }

    /// Broadcasts a keep-alive comment.
    pub(crate) fn keep_alive(&self) {
        let sinks = {
            let mut state = lock(&self.state);
            state.last_sent = Instant::now();
            let _ = self.sender.send(Frame::KeepAlive);
            state.sinks.snapshot()
        };
        if !sinks.is_empty() {
            deliver(sinks, None, (self.context.sink_framing)(&KEEP_ALIVE));
        }
    }

    /// When the stream last sent an event or a keep-alive.
    pub(crate) fn last_sent(&self) -> Instant {
        lock(&self.state).last_sent
    }

    /// Registers a subscriber's sink, which the producer writes to while it
    /// is live; returns its registration number.
    pub(crate) fn register_sink(&self, sink: Arc<LiveSink>) -> u64 {
        lock(&self.state).sinks.insert(sink)
    }

    /// Forgets a sink registered with [`Stream::register_sink`].
    pub(crate) fn unregister_sink(&self, key: u64) {
        lock(&self.state).sinks.remove(key);
    }

    /// Makes `sink` live if `last_seq` is the stream's newest event, so that
    /// the producer writes every later one; returns whether it did.
    pub(crate) fn go_live(&self, sink: &LiveSink, last_seq: Seq) -> bool {
        // Under the lock the append publishes under: no event can fall
        // between the check and the handover.
        let state = lock(&self.state);
        if state.newest != last_seq {
            return false;
        }
        sink.go_live(last_seq);
        true
    }

    /// Whether an append is with the store right now.
    #[cfg(test)]
    pub(crate) fn is_appending(&self) -> bool {
        lock(&self.state).appending
    }

    /// Subscribers right now.
    pub(crate) fn subscriber_count(&self) -> usize {
        lock(&self.state).subscribers
    }

    /// When the last subscriber left, if no one is subscribed now.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        lock(&self.state).idle_since
    }

    /// A published event was appended: if nobody is subscribed, the idle
    /// spell (and with it the retention time, and the eviction order)
    /// starts again from now.
    pub(crate) fn note_published(&self) {
        let mut state = lock(&self.state);
        if state.subscribers == 0 && !state.retired {
            state.idle_since = Some(Instant::now());
            self.wake.notify_one();
        }
    }

    /// Whether the stream was removed from the hub.
    pub(crate) fn is_retired(&self) -> bool {
        lock(&self.state).retired
    }

    /// Records that the producer (re)started now; the keep-alive clock
    /// starts with it.
    pub(crate) fn mark_started(&self) {
        let mut state = lock(&self.state);
        state.started_at = SystemTime::now();
        state.last_sent = Instant::now();
    }

    /// Marks the stream retired if it has no subscriber; returns whether it did.
    /// The caller holds the hub's map lock and removes the stream from it.
    pub(crate) fn retire_if_idle(&self) -> bool {
        let mut state = lock(&self.state);
        if state.subscribers > 0 || state.appending {
            return false;
        }
        if !state.retired {
            state.retired = true;
            self.context.idle_streams.fetch_sub(1, Ordering::AcqRel);
            self.wake.notify_one();
        }
        true
    }

    /// A consistent view for the API.
    pub(crate) fn snapshot(&self) -> StreamSnapshot {
        let state = lock(&self.state);
        StreamSnapshot {
            id: self.id.clone(),
            subscribers: state.subscribers,
            events: state.events,
            started_at: state.started_at,
            last_event_at: state.last_event_at,
        }
    }
}

/// Marks a stream as appending while it lives (see
/// `StreamState::appending`), so that it cannot be retired under the append,
/// even when the append is cancelled.
struct Appending<'a>(&'a Stream);

impl<'a> Appending<'a> {
    /// Marks `stream` as appending, unless it was retired already.
    fn start(stream: &'a Stream) -> Option<Self> {
        let mut state = lock(&stream.state);
        if state.retired {
            return None;
        }
        state.appending = true;
        Some(Self(stream))
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).appending = false;
    }
}

/// The SSE message of a stored event, encoded once for every subscriber.
fn encode(event: &StoredEvent) -> Bytes {
    let data = String::from_utf8_lossy(&event.data);
    encode_message(Some(event.seq), event.event.as_deref(), &data)
}
