//! Waiting for SIGINT or SIGTERM, the two ways a server is asked to stop.

use std::future::Future;

/// Resolves when the process receives Ctrl-C / SIGINT or SIGTERM. The
/// handlers are installed when this is called (inside the runtime), not
/// when the future is first polled: a signal that comes right after the
/// `listening on` line must stop the server cleanly, not kill it.
pub fn signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        let (interrupt, terminate) = (
            received(interrupt, "SIGINT"),
            received(terminate, "SIGTERM"),
        );
        #[cfg(not(unix))]
        let (interrupt, terminate) = (
            async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            },
            std::future::pending::<()>(),
        );
        tokio::select! {
            () = interrupt => tracing::info!("received SIGINT, shutting down"),
            () = terminate => tracing::info!("received SIGTERM, shutting down"),
        }
    }
}

/// Waits for the signal `stream` listens for; never, if it could not be
/// installed.
#[cfg(unix)]
async fn received(stream: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match stream {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}
