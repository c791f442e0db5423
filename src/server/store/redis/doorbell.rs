//! The store's background task: listens to the doorbell channel on a link
//! of its own (RESP3, resubscribed by the client after a reconnect) and
//! tells the watcher of every append, and pings both links every second so
//! that `/healthz` reflects them and a dropped doorbell link reconnects
//! even when nothing else is sent on it.
//!
//! Contract: the doorbell is at most once. After the link drops and comes
//! back (or when it first comes up) the watcher is told to resync, since
//! whatever was announced meanwhile is lost; the hub's own periodic check
//! of its streams catches a lost last announcement that no reconnect
//! marks.

use super::link::Link;
use super::reply::{doorbell, Announcement};
use super::{lock, Inner};
use redis::{PushInfo, PushKind, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often both links are pinged.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Starts the task; it ends when the store closes.
pub(super) fn spawn(inner: Arc<Inner>) {
    tokio::spawn(async move {
        let stop = inner.stop.clone();
        tokio::select! {
            () = stop.cancelled() => {}
            () = listen(&inner) => {}
        }
    });
}

/// Connects the doorbell link, subscribes, then hears announcements and
/// pings until the store closes.
async fn listen(inner: &Inner) {
    let (pushes, mut heard) = mpsc::unbounded_channel::<PushInfo>();
    let mut link = match Link::open(&inner.target, inner.settings.timeout, Some(pushes)) {
        Ok(link) => link,
        Err(error) => {
            lock(&inner.trouble).doorbell = Some(error.to_string());
            tracing::error!(%error, "the redis doorbell link cannot be set up");
            return;
        }
    };
    let channel = inner.keys.channel();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            push = heard.recv() => match push {
                Some(push) => hear(inner, push),
                None => return,
            },
            _ = ping.tick() => {
                // Down (never up yet, dropped, or a ping failed): subscribe
                // again, which the client would otherwise only do when it
                // reconnects by itself.
                if lock(&inner.trouble).doorbell.is_some() {
                    subscribe(inner, &mut link, &channel).await;
                }
                check(inner, &mut link).await;
            }
        }
    }
}

/// Subscribes to the doorbell (again). On success the link is up, and
/// since announcements made while it was down are lost, every followed
/// stream is checked.
async fn subscribe(inner: &Inner, link: &mut Link, channel: &str) {
    let trouble = match tokio::time::timeout(inner.settings.timeout, link.subscribe(channel)).await
    {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(format!("cannot subscribe: {error}")),
        Err(_) => Some("subscribing timed out".to_owned()),
    };
    let up = trouble.is_none();
    lock(&inner.trouble).doorbell = trouble;
    if up {
        tracing::info!(channel, "listening to the redis doorbell");
        resync(inner);
    }
}

/// Acts on one push from the doorbell link.
fn hear(inner: &Inner, push: PushInfo) {
    match push.kind {
        PushKind::Message => {
            let announced = match push.data.get(1) {
                Some(Value::BulkString(payload)) => doorbell(payload),
                _ => None,
            };
            // Not recorded as seen here: announcements come for every
            // stream of every instance, and only the ones this instance
            // reads (and forgets) may be remembered.
            let watcher = watcher(inner);
            match (announced, watcher) {
                (Some(Announcement::Appended(stream, event)), Some(watcher)) => {
                    watcher.appended(&stream, event.seq, Some(event));
                }
                (Some(Announcement::LeaseReleased(stream)), Some(watcher)) => {
                    watcher.lease_released(&stream);
                }
                _ => {}
            }
        }
        PushKind::Disconnection => {
            tracing::warn!(
                "the redis doorbell link dropped; announcements until it is back are lost"
            );
            lock(&inner.trouble).doorbell = Some("the link dropped".to_owned());
        }
        // Resubscribed by the client after a reconnect: what was announced
        // while the link was down is lost.
        PushKind::Subscribe if lock(&inner.trouble).doorbell.take().is_some() => {
            tracing::info!("the redis doorbell link is back");
            resync(inner);
        }
        _ => {}
    }
}

/// Pings both links and records what they answered.
async fn check(inner: &Inner, doorbell_link: &mut Link) {
    let mut commands = inner.commands.clone();
    let (commands, doorbell) = tokio::join!(ping(inner, &mut commands), ping(inner, doorbell_link));
    let mut trouble = lock(&inner.trouble);
    if trouble.commands.is_some() != commands.is_some() {
        match &commands {
            Some(reason) => tracing::warn!(%reason, "redis does not answer"),
            None => tracing::info!("redis answers again"),
        }
    }
    trouble.commands = commands;
    // The doorbell link counts as up again only once it is subscribed.
    if doorbell.is_some() {
        trouble.doorbell = doorbell;
    }
}

/// `None` when the link answered a `PING` in time, else why not.
async fn ping(inner: &Inner, link: &mut Link) -> Option<String> {
    let ping = redis::cmd("PING");
    match tokio::time::timeout(inner.settings.timeout, ping.query_async::<Value>(link)).await {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("no answer in time".to_owned()),
    }
}

/// Tells the watcher to check every followed stream.
fn resync(inner: &Inner) {
    if let Some(watcher) = watcher(inner) {
        watcher.resync();
    }
}

fn watcher(inner: &Inner) -> Option<Arc<dyn super::AppendWatcher>> {
    lock(&inner.watcher)
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
}
