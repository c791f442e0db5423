//! `sse-floor`: the least work any SSE server must do on this machine, as a
//! third server for the fan-out and throughput scenarios.
//!
//! It is not a server anyone should run. It answers `GET /sse/{id}` with a
//! bare head and then, on every tick, builds each stream's event once and
//! writes it to every subscriber's socket from a tight loop on plain threads:
//! no runtime, no task per connection, no timers, no keep-alives, no replay,
//! no limits. What it measures is what the kernel, the loopback network and
//! the load generator cost, so that sse-hub's figures can be read against the
//! best this machine allows rather than against a target alone.
//!
//! Usage: `sse-floor [--addr 127.0.0.1:0] [--interval-ms 1000] [--writers 2]`
//! (see `--help`).
//! The first line on stdout is `listening on http://<address>`.

use clap::Parser;
use rand::Rng;
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Most bytes kept for a subscriber that cannot take an event at once; one
/// that owes more is dropped.
const MAX_PENDING: usize = 1 << 20;

/// Most bytes of a request head.
const MAX_HEAD: usize = 16 * 1024;

/// Most header lines parsed; a request with more is refused.
const MAX_HEADERS: usize = 32;

/// Most ticks written together when a writer fell behind (as sse-hub does).
const MAX_BATCH: usize = 16;

/// The response head: the same content type and caching as sse-hub's, no
/// chunking (the body ends when the connection does).
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache\r\nx-accel-buffering: no\r\n\r\n";

/// A bare write loop that measures the least any SSE server must spend per
/// delivery on this machine (see bench/RESULTS.md). Not a server to run.
#[derive(Debug, Parser)]
#[command(name = "sse-floor")]
struct Settings {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Time between two events of a stream, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Writer threads; the subscribers are spread over them.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    writers: u16,
}

/// One subscriber's socket and what it still owes it.
struct Subscriber {
    socket: TcpStream,
    pending: Vec<u8>,
}

/// One writer thread's subscribers: those it writes to, by stream id, and
/// those accepted since its last tick (so that accepting never waits for a
/// writer that is busy).
#[derive(Default)]
struct Shard {
    arrivals: Mutex<Vec<(Arc<str>, Subscriber)>>,
}

/// One tick's events: each stream's message, encoded once.
type Tick = Arc<Vec<(Arc<str>, Arc<[u8]>)>>;

/// Every stream ever joined, with the sequence id of its last event.
type Streams = Mutex<HashMap<Arc<str>, u64>>;

fn main() -> ExitCode {
    match run(Settings::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sse-floor: {message}");
            ExitCode::from(2)
        }
    }
}

/// Binds, then runs the accept loop, the ticker and the writers.
fn run(settings: Settings) -> Result<(), String> {
    let listener = TcpListener::bind(&settings.addr)
        .map_err(|error| format!("cannot listen on {}: {error}", settings.addr))?;
    let bound = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    println!("listening on http://{bound}");
    io::stdout().flush().map_err(|error| error.to_string())?;

    let streams: Arc<Streams> = Arc::default();
    let dropped = Arc::new(AtomicU64::new(0));
    let writers = usize::from(settings.writers);
    let mut shards = Vec::with_capacity(writers);
    let mut ticks = Vec::with_capacity(writers);
    for _ in 0..writers {
        let shard: Arc<Shard> = Arc::default();
        let (sender, receiver) = mpsc::channel::<Tick>();
        let (writer_shard, writer_dropped) = (Arc::clone(&shard), Arc::clone(&dropped));
        thread::spawn(move || write_ticks(&receiver, &writer_shard, &writer_dropped));
        shards.push(shard);
        ticks.push(sender);
    }
    let ticker_streams = Arc::clone(&streams);
    let interval = Duration::from_millis(settings.interval_ms);
    thread::spawn(move || tick(interval, &ticker_streams, &ticks));
    accept(&listener, &streams, &shards);
    Ok(())
}

/// Accepts connections, reads each request head and hands the socket to a
/// writer, round-robin.
fn accept(listener: &TcpListener, streams: &Streams, shards: &[Arc<Shard>]) {
    let mut next = 0;
    for connection in listener.incoming() {
        let Ok(mut socket) = connection else { continue };
        let Some(id) = read_stream_id(&mut socket) else {
            let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            continue;
        };
        if socket.write_all(HEAD).is_err() || socket.set_nonblocking(true).is_err() {
            continue;
        }
        let id: Arc<str> = {
            let mut known = lock(streams);
            match known.get_key_value(id.as_str()) {
                Some((existing, _)) => Arc::clone(existing),
                None => {
                    let id: Arc<str> = Arc::from(id);
                    known.insert(Arc::clone(&id), 0);
                    id
                }
            }
        };
        lock(&shards[next].arrivals).push((
            id,
            Subscriber {
                socket,
                pending: Vec::new(),
            },
        ));
        next = (next + 1) % shards.len();
    }
}

/// The id of a `GET /sse/{id}` request, read from its head.
fn read_stream_id(socket: &mut TcpStream) -> Option<String> {
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0_u8; 1024];
    loop {
        let read = socket.read(&mut buffer).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buffer[..read]);
        if head.len() > MAX_HEAD {
            return None;
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => return stream_id_of(&request),
            Ok(httparse::Status::Partial) => {}
            Err(_) => return None,
        }
    }
}

/// The `{id}` of a parsed `GET /sse/{id}` request.
fn stream_id_of(request: &httparse::Request<'_, '_>) -> Option<String> {
    if request.method != Some("GET") {
        return None;
    }
    let target = request.path?.strip_prefix("/sse/")?;
    let id = target.split('?').next()?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// Every interval, encodes one event per stream and sends the tick to every
/// writer.
fn tick(interval: Duration, streams: &Streams, writers: &[Sender<Tick>]) {
    let mut random = rand::rng();
    let mut due = Instant::now() + interval;
    loop {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        due += interval;
        let timestamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let events: Vec<(Arc<str>, Arc<[u8]>)> = lock(streams)
            .iter_mut()
            .map(|(id, seq)| {
                *seq += 1;
                let number = random.random_range(1..=1000);
                let message = format!(
                    "id: {seq}\ndata: {{\"number\":{number},\"timestamp\":\"{timestamp}\",\"id\":\"{id}\"}}\n\n"
                );
                (Arc::clone(id), Arc::from(message.into_bytes()))
            })
            .collect();
        let tick: Tick = Arc::new(events);
        for writer in writers {
            if writer.send(Arc::clone(&tick)).is_err() {
                return;
            }
        }
    }
}

/// Writes each tick's events to this writer's subscribers. Ticks that queued
/// up while it was busy go out together: each stream's messages joined once,
/// one write per subscriber.
fn write_ticks(ticks: &Receiver<Tick>, shard: &Shard, dropped: &AtomicU64) {
    let mut subscribers: HashMap<Arc<str>, Vec<Subscriber>> = HashMap::new();
    while let Ok(first) = ticks.recv() {
        for (id, subscriber) in lock(&shard.arrivals).drain(..) {
            subscribers.entry(id).or_default().push(subscriber);
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match ticks.try_recv() {
                Ok(tick) => batch.push(tick),
                Err(_) => break,
            }
        }
        let mut joined: HashMap<&Arc<str>, Vec<u8>> = HashMap::new();
        for tick in &batch {
            for (id, message) in tick.iter() {
                joined.entry(id).or_default().extend_from_slice(message);
            }
        }
        for (id, messages) in joined {
            let Some(list) = subscribers.get_mut(id) else {
                continue;
            };
            let before = list.len();
            list.retain_mut(|subscriber| deliver(subscriber, &messages));
            let gone = (before - list.len()) as u64;
            if gone > 0 {
                let total = dropped.fetch_add(gone, Ordering::Relaxed) + gone;
                eprintln!("sse-floor: {total} subscribers dropped so far");
            }
        }
    }
}

/// One write of the message (after anything still owed); `false` drops the
/// subscriber.
fn deliver(subscriber: &mut Subscriber, message: &[u8]) -> bool {
    let bytes: &[u8] = if subscriber.pending.is_empty() {
        message
    } else {
        subscriber.pending.extend_from_slice(message);
        &subscriber.pending
    };
    let written = match subscriber.socket.write(bytes) {
        Ok(0) => return false,
        Ok(written) => written,
        Err(error) if error.kind() == ErrorKind::WouldBlock => 0,
        Err(_) => return false,
    };
    if written == bytes.len() {
        subscriber.pending.clear();
        return true;
    }
    let rest = bytes[written..].to_vec();
    subscriber.pending = rest;
    subscriber.pending.len() <= MAX_PENDING
}

/// Locks a mutex, taking over one a panicking thread left poisoned.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_stream_id_from_a_stream_request_only() {
        let id = |head: &str| {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            request.parse(head.as_bytes()).expect("a complete head");
            stream_id_of(&request)
        };
        assert_eq!(
            id("GET /sse/abc HTTP/1.1\r\nhost: x\r\n\r\n").as_deref(),
            Some("abc")
        );
        assert_eq!(
            id("GET /sse/s-1?lastEventId=4 HTTP/1.1\r\n\r\n").as_deref(),
            Some("s-1")
        );
        assert_eq!(id("GET /sse/ HTTP/1.1\r\n\r\n"), None);
        assert_eq!(id("GET /sse/a/b HTTP/1.1\r\n\r\n"), None);
        assert_eq!(id("POST /sse/abc HTTP/1.1\r\n\r\n"), None);
        assert_eq!(id("GET /api/stats HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn a_subscriber_that_stops_reading_is_kept_until_it_owes_too_much() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (socket, _) = listener.accept().expect("accept");
        socket.set_nonblocking(true).expect("nonblocking");
        let mut subscriber = Subscriber {
            socket,
            pending: Vec::new(),
        };
        // Far more than the socket buffers hold while nobody reads.
        let message = vec![b'x'; 64 * 1024];
        while subscriber.pending.is_empty() {
            assert!(
                deliver(&mut subscriber, &message),
                "dropped before its buffer filled"
            );
        }
        assert!(subscriber.pending.len() <= message.len());
        // Past the limit of what it may owe, it is dropped (the kernel may
        // first grow the socket's buffers by a few MiB, taking more).
        let mut kept = true;
        for _ in 0..((MAX_PENDING + 16 * 1024 * 1024) / message.len()) {
            kept = deliver(&mut subscriber, &message);
            if !kept {
                break;
            }
        }
        assert!(!kept, "a subscriber owing more than MAX_PENDING was kept");
        drop(client);
    }
}
