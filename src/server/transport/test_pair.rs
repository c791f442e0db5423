//! A connected loopback pair, for the transport's socket tests.

use tokio::net::{TcpListener, TcpStream};

/// A connected pair on loopback: the server's end and the client's.
pub(crate) async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (accepted.expect("accept").0, client.expect("connect"))
}
