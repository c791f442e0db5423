//! Publishes that a retry must not repeat: the answer given for each
//! `(stream, Idempotency-Key)` for [`KEY_LIFETIME`].
//!
//! Contract: the first publish with a key appends; every other one with the
//! same key on the same stream within the lifetime, whether it comes while
//! the first is still appending or after, gets the first one's sequence id
//! and appends nothing. A first publish that fails leaves no answer behind,
//! so a retry appends. Keys are kept in arrival order and expire from the
//! front; at most [`MAX_KEYS`] are held, the oldest going first beyond it.

use super::sync::lock;
use crate::model::StreamId;
use crate::server::store::Seq;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// How long a key's answer is kept.
pub const KEY_LIFETIME: Duration = crate::server::store::IDEMPOTENCY_LIFETIME;

/// Most keys kept at once, over all streams.
pub const MAX_KEYS: usize = 100_000;

/// One key's answer, once there is one.
type Answer = Arc<OnceCell<Seq>>;

/// The keys seen lately; see the module doc.
#[derive(Default)]
pub(crate) struct IdempotencyKeys {
    inner: Mutex<Keys>,
}

/// The table and its arrival order.
#[derive(Default)]
struct Keys {
    answers: HashMap<(StreamId, Box<str>), (Instant, Answer)>,
    order: VecDeque<(Instant, StreamId, Box<str>)>,
}

impl IdempotencyKeys {
    /// Runs `append` unless `key` was seen on `id` within the lifetime;
    /// returns the sequence id and whether it is a replayed answer.
    /// `append` answers the same: a shared store keeps the keys itself, and
    /// may answer one that a retry through another instance brought here.
    pub(crate) async fn once<E, F>(
        &self,
        id: &StreamId,
        key: &str,
        append: F,
    ) -> Result<(Seq, bool), E>
    where
        F: Future<Output = Result<(Seq, bool), E>>,
    {
        let answer = self.answer_for(id, key);
        let appended_here = AtomicBool::new(false);
        let replayed_by_store = AtomicBool::new(false);
        let seq = answer
            .get_or_try_init(|| async {
                appended_here.store(true, Ordering::Relaxed);
                let (seq, replayed) = append.await?;
                replayed_by_store.store(replayed, Ordering::Relaxed);
                Ok(seq)
            })
            .await?;
        let replayed =
            !appended_here.load(Ordering::Relaxed) || replayed_by_store.load(Ordering::Relaxed);
        Ok((*seq, replayed))
    }

    /// The answer cell of `key` on `id`, new if it was not seen lately.
    fn answer_for(&self, id: &StreamId, key: &str) -> Answer {
        let now = Instant::now();
        let mut keys = lock(&self.inner);
        keys.expire(now);
        let entry = (id.clone(), Box::<str>::from(key));
        if let Some((_, answer)) = keys.answers.get(&entry) {
            return Arc::clone(answer);
        }
        let answer = Answer::default();
        keys.order
            .push_back((now, entry.0.clone(), entry.1.clone()));
        keys.answers.insert(entry, (now, Arc::clone(&answer)));
        while keys.answers.len() > MAX_KEYS {
            keys.drop_oldest();
        }
        answer
    }
}

impl Keys {
    /// Forgets keys older than the lifetime.
    fn expire(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= KEY_LIFETIME)
        {
            self.drop_oldest();
        }
    }

    /// Forgets the oldest key.
    fn drop_oldest(&mut self) {
        if let Some((at, id, key)) = self.order.pop_front() {
            let entry = (id, key);
            // A key seen again after it expired has a newer entry.
            if self
                .answers
                .get(&entry)
                .is_some_and(|(when, _)| *when == at)
            {
                self.answers.remove(&entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn id(raw: &str) -> StreamId {
        StreamId::parse(raw).expect("id")
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_answers_once_per_stream_until_it_expires() {
        let keys = IdempotencyKeys::default();
        let next = AtomicU64::new(0);
        let append = || async { Ok::<_, ()>((next.fetch_add(1, Ordering::Relaxed) + 1, false)) };
        assert_eq!(keys.once(&id("a"), "k", append()).await, Ok((1, false)));
        assert_eq!(keys.once(&id("a"), "k", append()).await, Ok((1, true)));
        // Another stream, or another key, is another publish.
        assert_eq!(keys.once(&id("b"), "k", append()).await, Ok((2, false)));
        assert_eq!(keys.once(&id("a"), "k2", append()).await, Ok((3, false)));
        tokio::time::advance(KEY_LIFETIME).await;
        assert_eq!(keys.once(&id("a"), "k", append()).await, Ok((4, false)));
    }

    #[tokio::test]
    async fn a_failed_first_publish_leaves_no_answer() {
        let keys = IdempotencyKeys::default();
        let a = id("a");
        let failed = keys.once(&a, "k", async { Err::<(Seq, bool), _>("store down") });
        assert_eq!(failed.await, Err("store down"));
        let retried = keys.once(&a, "k", async { Ok::<_, &str>((7, false)) });
        assert_eq!(retried.await, Ok((7, false)));
    }

    #[tokio::test]
    async fn an_answer_the_store_replayed_is_a_replay_here_too() {
        // A shared store saw the key through another instance.
        let keys = IdempotencyKeys::default();
        let a = id("a");
        let first = keys.once(&a, "k", async { Ok::<_, ()>((9, true)) });
        assert_eq!(first.await, Ok((9, true)));
        let again = keys.once(&a, "k", async { Ok::<_, ()>((10, false)) });
        assert_eq!(again.await, Ok((9, true)));
    }
}
