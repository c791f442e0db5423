//! Who sent a request, as axum handlers see it through `ConnectInfo`.

use super::handed_socket::HandedSocketRef;
use crate::server::transport::open_sockets::OpenSocket;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// Who sent a request, for `ConnectInfo`: the peer address, and the socket
/// so that a stream handler can take the connection over.
#[derive(Clone)]
pub struct Client {
    /// The peer address.
    pub addr: SocketAddr,
    /// The connection's socket; `None` where there is none to take (a
    /// request built in a test).
    socket: Option<HandedSocketRef>,
}

impl Client {
    /// A client at `addr` on the connection whose socket is `socket`.
    pub(crate) fn new(addr: SocketAddr, socket: HandedSocketRef) -> Self {
        Self {
            addr,
            socket: Some(socket),
        }
    }

    /// A client at `addr` whose connection cannot be taken over.
    pub fn at(addr: SocketAddr) -> Self {
        Self { addr, socket: None }
    }

    /// Takes the connection's socket away from hyper (see
    /// [`HandedSocket::detach`]); `None` if there is none or it was taken.
    pub fn take_socket(&self) -> Option<(TcpStream, OpenSocket)> {
        self.socket.as_ref().and_then(HandedSocketRef::detach)
    }
}
