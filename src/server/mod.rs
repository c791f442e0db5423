//! Everything that only runs on the server (`ssr`): configuration, the hub,
//! the HTTP routes and the process lifecycle.
//!
//! [`router`] builds the whole application from an [`AppState`], separate
//! from [`main`], so tests can serve it on an ephemeral port.

mod api;
pub mod config;
mod direct_stream;
mod error;
mod gateway;
mod generator;
mod handed_socket;
mod http_chunk;
pub mod hub;
#[cfg(test)]
mod hub_tests;
pub mod listener;
mod live_sink;
mod memory;
mod open_sockets;
pub mod request_head;
mod shutdown;
mod sse;
pub mod sse_frame;
pub mod stats;
mod stream;
mod subscription;

use crate::app::{shell, App};
use axum::extract::FromRef;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::routing::{any, get};
use axum::Router;
use clap::Parser;
use config::{Config, CorsPolicy, Settings};
use gateway::Gateway;
use hub::Hub;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use listener::{Client, HubListener};
use stats::Stats;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use subscription::Subscription;

/// How long shutdown waits for open responses to finish before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// How long a keep-alive connection axum serves may sit with no byte moving
/// either way before it is closed (longer if `--keep-alive-ms` or
/// `--write-timeout-ms` is long).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long exiting waits for the runtime's remaining tasks after `serve`.
const RUNTIME_EXIT_WAIT: Duration = Duration::from_millis(200);

/// Connections the gateway may have handed over before axum takes them.
const HANDOFF_QUEUE: usize = 1024;

/// Exit code for a configuration the server cannot run with.
const EXIT_BAD_CONFIG: u8 = 2;

/// What every handler can reach, injected through axum state.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the built site lives and how to render it.
    pub leptos_options: LeptosOptions,
    /// The stream hub.
    pub hub: Hub,
    /// The validated configuration.
    pub settings: Arc<Settings>,
    /// Every task that owns a client socket outside hyper (the gateway's
    /// connection tasks, direct streams, refusals), so that shutdown can wait
    /// for each to end its response cleanly.
    pub(crate) socket_tasks: TaskTracker,
}

impl AppState {
    /// Creates the hub for `settings`; cancelling `shutdown` ends every stream.
    pub fn new(
        settings: Settings,
        leptos_options: LeptosOptions,
        shutdown: CancellationToken,
    ) -> Self {
        let hub = Hub::new(settings.hub.clone(), Arc::new(Stats::default()), shutdown);
        Self {
            leptos_options,
            hub,
            settings: Arc::new(settings),
            socket_tasks: TaskTracker::new(),
        }
    }
}

/// Builds the application: API and stream routes, the Leptos pages, static
/// files, and JSON errors for unknown API paths and wrong methods.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/sse/", get(sse::missing_stream_id))
        .route("/sse/{id}", get(sse::stream_events))
        .route("/api/streams", get(api::list_streams))
        .route("/api/stats", get(api::stats))
        .route("/healthz", get(api::health))
        // Unknown paths under the API get its JSON 404, with its CORS
        // headers and uncompressed, like every other API answer.
        .route("/api", any(api::not_found))
        .route("/api/{*rest}", any(api::not_found))
        .route("/sse", any(api::not_found))
        .route("/sse/{id}/{*rest}", any(api::not_found))
        .layer(cors_layer(&state.settings.cors));
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    // Pages and static files (the WASM bundle above all) are compressed; the
    // API and the streams are not (an event stream must never be buffered).
    let site = Router::new()
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new());
    Router::new()
        .merge(api)
        .merge(site)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
}

/// CORS for the API and streams, from `--cors-origins`.
fn cors_layer(policy: &CorsPolicy) -> CorsLayer {
    let origins = match policy {
        CorsPolicy::Any => AllowOrigin::any(),
        policy => {
            let policy = policy.clone();
            AllowOrigin::predicate(move |origin: &HeaderValue, _| policy.allows(origin.as_bytes()))
        }
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET])
        .allow_headers([
            HeaderName::from_static("last-event-id"),
            header::CACHE_CONTROL,
        ])
}

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
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// The process entry point: parse and validate the configuration, set up
/// logging, serve until SIGINT/SIGTERM. Bad configuration prints one line and
/// exits with code 2.
pub fn main() -> ExitCode {
    let config = match Config::try_parse() {
        Ok(config) => config,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            let rendered = error.render().to_string();
            let first_line = rendered.lines().next().unwrap_or("invalid arguments");
            return fail(first_line.trim_start_matches("error: "));
        }
    };
    let settings = match config.validate() {
        Ok(settings) => settings,
        Err(error) => return fail(&error.to_string()),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&settings.log) {
        Ok(filter) => filter,
        Err(error) => {
            return fail(&format!(
                "--log {:?} is not a valid filter: {error}",
                settings.log
            ))
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    memory::use_one_arena();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    let served = runtime.block_on(serve(settings, shutdown::signal()));
    // Tasks still running (a file read on the blocking pool, say) do not hold
    // the exit up: `serve` already waited its grace period for them.
    runtime.shutdown_timeout(RUNTIME_EXIT_WAIT);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ (ServeError::Bind { .. } | ServeError::Site(_))) => fail(&error.to_string()),
        Err(error) => {
            eprintln!("sse-hub: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a configuration problem and returns exit code 2.
fn fail(message: &str) -> ExitCode {
    eprintln!("sse-hub: {message}");
    ExitCode::from(EXIT_BAD_CONFIG)
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

/// Binds, prints `listening on http://<addr>` as the first line on stdout, and
/// serves until `stop` resolves; then ends every stream and returns within
/// [`SHUTDOWN_GRACE`].
pub async fn serve(
    settings: Settings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut leptos_options = leptos_options()?;
    let tcp =
        bind(settings.addr, settings.send_buffer_bytes).map_err(|source| ServeError::Bind {
            addr: settings.addr,
            source,
        })?;
    let bound = tcp.local_addr()?;
    leptos_options.site_addr = bound;

    let stats = Arc::new(Stats::default());
    let shutdown = CancellationToken::new();
    let hub = Hub::new(settings.hub.clone(), Arc::clone(&stats), shutdown.clone());
    let (handoff, handoffs) = tokio::sync::mpsc::channel(HANDOFF_QUEUE);
    // A stream is never silent for longer than the keep-alive interval, and
    // a slow reader is the write timeout's business.
    let idle_timeout = IDLE_TIMEOUT
        .max(settings.hub.keep_alive * 2)
        .max(settings.write_timeout + Duration::from_secs(1));
    let listener = HubListener::new(handoffs, bound, settings.write_timeout, idle_timeout, stats);
    let socket_tasks = TaskTracker::new();
    let state = AppState {
        leptos_options,
        hub,
        settings: Arc::new(settings),
        socket_tasks: socket_tasks.clone(),
    };
    let gateway = Gateway::new(tcp, state.clone(), handoff);
    let app = router(state).into_make_service_with_connect_info::<Client>();

    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{bound}")?;
        stdout.flush()?;
    }
    tracing::info!(addr = %bound, "serving");

    let trigger = shutdown.clone();
    tokio::spawn(async move {
        stop.await;
        trigger.cancel();
    });
    let accepting = tokio::spawn(gateway.run());
    let axum_connections =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let everything = async {
        axum_connections.await?;
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
    tokio::select! {
        result = everything => result?,
        () = deadline => tracing::warn!("connections still open after the grace period; exiting anyway"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Pending connections the kernel queues before `accept` (capped by
/// `net.core.somaxconn`); high so that a burst of reconnecting clients after a
/// restart is not refused.
const LISTEN_BACKLOG: u32 = 8192;

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
