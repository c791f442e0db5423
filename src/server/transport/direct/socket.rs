//! Writing to a stream's socket by reference, shared between the
//! connection task and its stream's producer (through the hub's
//! [`TryWrite`]), and noticing when the client has gone: closed, sending
//! what it should not, or vanished (TCP keep-alive).

use crate::server::hub::TryWrite;
use bytes::{Buf, Bytes};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::task::{ready, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// The last chunk, which ends a chunked response cleanly.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Idle time before the kernel probes a stream's peer, and between probes.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between two keep-alive probes.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes after which the peer counts as gone.
const KEEP_ALIVE_PROBES: u32 = 3;
/// How long written data may stay unacknowledged before the connection is
/// dropped (`TCP_USER_TIMEOUT`, Linux).
const USER_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes the kernel notice a peer that vanished without closing (a laptop
/// lid shut, a cable pulled, a NAT entry dropped) within about a minute,
/// instead of the ~15 minutes of TCP retransmissions: keep-alive probes
/// after 30 s of silence (3 probes 10 s apart), and `TCP_USER_TIMEOUT` for
/// data left unacknowledged. Failing to set them only costs that detection.
pub(crate) fn detect_vanished_peer(socket: &TcpStream) {
    let socket = socket2::SockRef::from(socket);
    let keep_alive = socket2::TcpKeepalive::new()
        .with_time(KEEP_ALIVE_IDLE)
        .with_interval(KEEP_ALIVE_INTERVAL)
        .with_retries(KEEP_ALIVE_PROBES);
    if let Err(error) = socket.set_tcp_keepalive(&keep_alive) {
        tracing::debug!(%error, "could not set TCP keep-alive");
    }
    #[cfg(target_os = "linux")]
    if let Err(error) = socket.set_tcp_user_timeout(Some(USER_TIMEOUT)) {
        tracing::debug!(%error, "could not set TCP_USER_TIMEOUT");
    }
}

/// The producer's writes: one non-blocking attempt each.
impl TryWrite for TcpStream {
    fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        TcpStream::try_write(self, bytes)
    }
}

/// Writes what is owed of a chunk, then the last chunk, within `grace`: the
/// process is about to exit, and a client that cannot take them gets a reset
/// instead. The connection closes when the last handle on the socket goes.
pub(crate) async fn end_cleanly(socket: &TcpStream, owed: [Option<Bytes>; 2], grace: Duration) {
    let ending = async {
        for rest in owed.into_iter().flatten() {
            write_fully(socket, &rest).await?;
        }
        write_fully(socket, LAST_CHUNK).await
    };
    let _ = tokio::time::timeout(grace, ending).await;
}

/// Writes all of `data` with no timeout of its own (the caller sets one).
pub(crate) async fn write_fully(socket: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let wrote = write_some(socket, &data).await?;
        if wrote == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[wrote..];
    }
    Ok(())
}

/// One write of as much of `data` as the socket takes, in one `writev`,
/// waiting until it takes something. The socket is shared with the stream's
/// producer, so this goes by reference.
pub(crate) async fn write_some(socket: &TcpStream, data: &(impl Buf + Sync)) -> io::Result<usize> {
    poll_fn(|cx| loop {
        ready!(socket.poll_write_ready(cx))?;
        let mut slices = [IoSlice::new(&[]); 4];
        let count = data.chunks_vectored(&mut slices);
        match socket.try_write_vectored(&slices[..count]) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
    })
    .await
}

/// Most bytes a client may send after its stream request: a client has
/// nothing to send on an event stream, and one that keeps uploading would
/// otherwise be read (and its bytes thrown away) for as long as it likes.
pub(crate) const MAX_BYTES_AFTER_REQUEST: usize = 16 * 1024;

/// Resolves when the client has closed its side, the socket failed, or the
/// client has sent more than [`MAX_BYTES_AFTER_REQUEST`] in all since its
/// request (`sent` keeps the count between calls).
pub(crate) async fn client_gone(socket: &TcpStream, sent: &mut usize) {
    let mut scratch = [0u8; 64];
    loop {
        if poll_fn(|cx| socket.poll_read_ready(cx)).await.is_err() {
            return;
        }
        match socket.try_read(&mut scratch) {
            Ok(0) => return,
            Ok(read) => {
                *sent += read;
                if *sent > MAX_BYTES_AFTER_REQUEST {
                    tracing::warn!(sent = *sent, "closed a stream whose client kept sending");
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::transport::test_pair::connected_pair;

    #[tokio::test]
    async fn a_stream_socket_probes_a_silent_peer_within_a_minute() {
        let (server, _client) = connected_pair().await;
        detect_vanished_peer(&server);
        let socket = socket2::SockRef::from(&server);
        assert!(socket.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(socket.tcp_keepalive_time().expect("idle"), KEEP_ALIVE_IDLE);
        assert_eq!(
            socket.tcp_keepalive_interval().expect("interval"),
            KEEP_ALIVE_INTERVAL
        );
        assert_eq!(
            socket.tcp_keepalive_retries().expect("probes"),
            KEEP_ALIVE_PROBES
        );
        #[cfg(target_os = "linux")]
        assert_eq!(
            socket.tcp_user_timeout().expect("user timeout"),
            Some(USER_TIMEOUT)
        );
        let detected = KEEP_ALIVE_IDLE + KEEP_ALIVE_INTERVAL * KEEP_ALIVE_PROBES;
        assert!(detected <= Duration::from_secs(60), "{detected:?}");
    }
}
