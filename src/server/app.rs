//! The composition root: builds the store, the hub with its producer, the
//! transports and the router from the [`Settings`], and serves them until
//! told to stop, within a grace period.

use super::config::Settings;
use super::http::{
    is_embedded, metrics_router, router, warm_up, AppState, Metrics, PublishRate, StatsFrames,
};
use super::hub::{Hub, HubParts, Producer};
use super::producers::RandomNumbers;
use super::stats::Stats;
use super::store::{
    DiskError, DiskSettings, DiskStore, EventStore, MemoryStore, RedisSettings, RedisSetupError,
    RedisStore, StoreLocation,
};
use super::transport::direct::encode_chunk;
use super::transport::{accept_private, DirectPath, Gateway, Handoffs, ServedTimeouts};
use leptos::config::LeptosOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for open responses to finish before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// How long a connection axum serves may sit with no byte moving either way
/// before it is closed (longer if `--keep-alive-ms` or `--write-timeout-ms`
/// is long). Between requests the head deadline closes it sooner; this
/// bounds the rest (a response body that stopped moving).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the token printed at start (with a random secret) is valid.
const START_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Longest any call to the disk store waits for the disk.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest any call to Redis waits for its answer (a publish gets 503 when
/// Redis does not answer within it).
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections the gateway may have handed over before axum takes them.
const HANDOFF_QUEUE: usize = 1024;

/// Connections the metrics listener may have waiting for hyper; beyond it
/// new ones are closed.
const PRIVATE_QUEUE: usize = 64;

/// Pending connections the kernel queues before `accept` (capped by
/// `net.core.somaxconn`); high so that a burst of reconnecting clients after a
/// restart is not refused.
const LISTEN_BACKLOG: u32 = 8192;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The site configuration could not be read.
    #[error("cannot read the site configuration: {0}")]
    Site(#[source] leptos::config::errors::LeptosConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why the store `--store` names cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The disk store cannot be opened.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The Redis store cannot be set up.
    #[error(transparent)]
    Redis(#[from] RedisSetupError),
}

/// Opens the store `settings` name: the disk store (created if missing),
/// the memory store, or the Redis store (connecting on first use).
pub fn open_store(settings: &Settings) -> Result<Arc<dyn EventStore>, OpenStoreError> {
    match &settings.store.location {
        StoreLocation::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreLocation::Redis(url) => {
            let redis = RedisSettings {
                url: url.clone(),
                instance_id: settings.store.instance_id.clone(),
                lease: settings.hub.lease,
                key_prefix: settings.store.key_prefix.clone(),
                history: settings.hub.history,
                retention: settings.hub.retention,
                timeout: REDIS_TIMEOUT,
            };
            Ok(Arc::new(RedisStore::open(redis)?))
        }
        StoreLocation::Disk(dir) => {
            let disk = DiskSettings {
                history: settings.hub.history,
                flush: settings.store.flush,
                retention: settings.hub.retention,
                timeout: STORE_TIMEOUT,
            };
            Ok(Arc::new(DiskStore::open(dir, disk)?))
        }
    }
}

/// Builds the application state for `settings` on `store`: the hub with
/// the random-number producer, and the direct path; cancelling `shutdown`
/// ends every stream. What [`serve`] runs, and what tests and the fuzz
/// targets drive without a socket.
pub fn build_state(
    settings: &Settings,
    leptos_options: LeptosOptions,
    store: Arc<dyn EventStore>,
    shutdown: CancellationToken,
) -> AppState {
    let producer =
        Arc::new(RandomNumbers::new(settings.random.clone()).only_for(settings.generate.clone()));
    build_state_producing(settings, leptos_options, store, producer, shutdown)
}

/// [`build_state`] with another producer: for the differential fuzz target,
/// which needs streams whose events it knows.
pub fn build_state_producing(
    settings: &Settings,
    leptos_options: LeptosOptions,
    store: Arc<dyn EventStore>,
    producer: Arc<dyn Producer>,
    shutdown: CancellationToken,
) -> AppState {
    let stats = Arc::new(Stats::default());
    let parts = HubParts {
        store,
        producer,
        sink_framing: encode_chunk,
        stats: Arc::clone(&stats),
    };
    let hub = Hub::new(settings.hub.clone(), parts, shutdown.clone());
    let publish_rate = Arc::new(PublishRate::new(settings.http.publish.max_publish_rate));
    let direct = DirectPath::new(
        settings.transport.write_timeout,
        settings.transport.retry,
        stats,
        shutdown,
        TaskTracker::new(),
    );
    let metrics = Metrics::new(hub.clone());
    AppState {
        leptos_options,
        hub,
        http: Arc::new(settings.http.clone()),
        direct,
        publish_rate,
        metrics,
        public_metrics: settings.metrics_addr.is_none(),
        stats_frames: StatsFrames::default(),
    }
}

/// Reads the site options: from the build's environment when built by
/// cargo-leptos, else from `Cargo.toml` in the working directory.
fn leptos_options() -> Result<LeptosOptions, ServeError> {
    let built_by_cargo_leptos = option_env!("LEPTOS_OUTPUT_NAME").is_some()
        || std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let source = if built_by_cargo_leptos {
        None
    } else {
        Some("Cargo.toml")
    };
    leptos::config::get_configuration(source)
        .map(|conf| conf.leptos_options)
        .map_err(ServeError::Site)
}

/// Binds, prints `listening on http://<addr>` as the first line on stdout
/// (then, with no secret configured, `token: <jwt>`), and
/// serves until `stop` resolves; then ends every stream and returns within
/// [`SHUTDOWN_GRACE`].
pub async fn serve(
    settings: Settings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut leptos_options = leptos_options()?;
    let tcp = bind(settings.addr, settings.transport.send_buffer_bytes).map_err(|source| {
        ServeError::Bind {
            addr: settings.addr,
            source,
        }
    })?;
    let bound = tcp.local_addr()?;
    leptos_options.site_addr = bound;

    // Opened after the bind, so that a server that cannot listen leaves
    // the store alone; before anything is served.
    let store = open_store(&settings)?;
    let shutdown = CancellationToken::new();
    let state = build_state(
        &settings,
        leptos_options,
        Arc::clone(&store),
        shutdown.clone(),
    );
    // With no secret configured, nobody could make a token: one for the
    // random secret, granting everything for a day, is printed.
    let start_token = if settings.random_secret {
        let keys = &settings.http.auth.keys;
        let minted = keys.mint(&["*"], &["*"], START_TOKEN_TTL, Some("sse-hub start"));
        Some(minted.map_err(|error| std::io::Error::other(error.to_string()))?)
    } else {
        None
    };
    let (handoff, handoffs) = tokio::sync::mpsc::channel(HANDOFF_QUEUE);
    // A stream is never silent for longer than the keep-alive interval, and
    // a slow reader is the write timeout's business.
    let write_timeout = settings.transport.write_timeout;
    let idle_timeout = IDLE_TIMEOUT
        .max(settings.hub.keep_alive * 2)
        .max(write_timeout + Duration::from_secs(1));
    let timeouts = ServedTimeouts {
        write: write_timeout,
        idle: idle_timeout,
        head: settings.transport.head_timeout,
    };
    let served = Handoffs::new(handoffs, timeouts, Arc::clone(state.hub.stats()));
    let socket_tasks = state.direct.socket_tasks().clone();
    let gateway = Gateway::new(
        tcp,
        state.clone(),
        state.direct.clone(),
        &settings.transport,
        handoff,
    );
    // Bound before anything is printed, so that a bad --metrics-addr
    // exits 2 like a bad --addr.
    let metrics_listener = match settings.metrics_addr {
        Some(addr) => {
            let listener = bind(addr, None).map_err(|source| ServeError::Bind { addr, source })?;
            Some((listener.local_addr()?, listener))
        }
        None => None,
    };
    let metrics_app = metrics_router(state.clone());
    let stats = Arc::clone(state.hub.stats());
    let budget = gateway.budget();
    let app = router(state);

    {
        // For whoever started the server: one that stopped reading (a
        // closed pipe) does not stop it.
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{bound}");
        if let Some(token) = &start_token {
            let _ = writeln!(stdout, "token: {token}");
        }
        if let Some((addr, _)) = &metrics_listener {
            let _ = writeln!(stdout, "metrics on http://{addr}/metrics");
        }
        let _ = stdout.flush();
    }
    tracing::info!(addr = %bound, embedded_site = is_embedded(), "serving");
    warm_up();

    let trigger = shutdown.clone();
    tokio::spawn(async move {
        stop.await;
        trigger.cancel();
    });
    if let Some((_, listener)) = metrics_listener {
        // The scraper's listener: same socket budget and connection
        // timeouts as the public one, its own router.
        let (private_handoff, private_handoffs) = tokio::sync::mpsc::channel(PRIVATE_QUEUE);
        let private = Handoffs::new(private_handoffs, timeouts, Arc::clone(&stats));
        tokio::spawn(accept_private(
            listener,
            budget,
            private_handoff,
            shutdown.clone(),
        ));
        tokio::spawn(private.serve(metrics_app, shutdown.clone()));
    }
    let accepting = tokio::spawn(gateway.run());
    let axum_connections = served.serve(app, shutdown.clone());
    let everything = async {
        axum_connections.await;
        // The gateway stops at once on shutdown; its connection tasks end
        // their streams cleanly.
        let _ = accepting.await;
        socket_tasks.close();
        socket_tasks.wait().await;
        Ok::<(), ServeError>(())
    };
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let served = tokio::select! {
        result = everything => result,
        () = deadline => {
            tracing::warn!("connections still open after the grace period; exiting anyway");
            Ok(())
        }
    };
    // Whatever happened above, what was appended goes to disk.
    match store.close().await {
        Ok(()) => tracing::info!(store = store.kind(), "store closed"),
        Err(error) => tracing::error!(%error, "the store could not be closed cleanly"),
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the listening socket. The send buffer size set here is inherited by
/// every accepted connection.
fn bind(
    addr: std::net::SocketAddr,
    send_buffer: Option<u32>,
) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // Allows a quick restart while old connections sit in TIME_WAIT; Linux
    // still refuses to bind a port another socket listens on.
    socket.set_reuseaddr(true)?;
    if let Some(bytes) = send_buffer {
        socket.set_send_buffer_size(bytes)?;
    }
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
