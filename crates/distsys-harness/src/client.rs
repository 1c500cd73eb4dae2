//! A small blocking Redis-protocol client over the node's own codec
//! ([`distsys_node::resp`]): one connection per node, opened on demand and dropped on any
//! error, so a malformed or late reply costs that connection, never the caller.

use distsys_node::resp::{decode_reply, encode_command, Reply};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a command may take to send, and its reply to arrive.
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// One open connection and the reply bytes it has read but not used yet.
struct Connection {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Connection {
    fn open(addr: &SocketAddr, io_timeout: Duration) -> std::io::Result<Connection> {
        let stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
        stream.set_read_timeout(Some(io_timeout))?;
        stream.set_write_timeout(Some(io_timeout))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            pending: Vec::new(),
        })
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Reply> {
        let mut wire = Vec::new();
        encode_command(args, &mut wire);
        self.stream.write_all(&wire)?;
        let mut chunk = [0u8; 16 << 10];
        loop {
            let decoded = decode_reply(&self.pending)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if let Some((reply, used)) = decoded {
                self.pending.drain(..used);
                return Ok(reply);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "closed",
                ));
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A client's connections, one per node, opened on demand.
pub struct Connections {
    /// Client addresses of the nodes.
    pub addrs: Vec<SocketAddr>,
    open: Vec<Option<Connection>>,
    io_timeout: Duration,
}

impl Connections {
    /// Connections to `addrs`, none open yet.
    pub fn new(addrs: Vec<SocketAddr>) -> Connections {
        Connections::with_timeout(addrs, IO_TIMEOUT)
    }

    /// Connections whose commands may take up to `io_timeout` to send and to be answered (a
    /// client that must never resend a command whose outcome it does not know waits longer
    /// than the node's own answer timeout, so it always hears what became of it).
    pub fn with_timeout(addrs: Vec<SocketAddr>, io_timeout: Duration) -> Connections {
        Connections {
            open: (0..addrs.len()).map(|_| None).collect(),
            addrs,
            io_timeout,
        }
    }

    /// The node (an index into `addrs`) a `MOVED <slot> host:port` error names, if it is one
    /// of these.
    pub fn moved_to(&self, error: &str) -> Option<usize> {
        let target = error.rsplit(' ').next()?.parse::<SocketAddr>().ok()?;
        self.addrs.iter().position(|a| *a == target)
    }

    /// Sends one command to node `node` (an index into `addrs`) and reads its reply, opening
    /// the connection first if needed (500 ms to connect, 3 s to send and to answer). Any
    /// error (refused, timed out, closed, malformed reply) closes that connection; the next
    /// call opens a new one. Arguments are bytes (`&str`, `Vec<u8>`, ...), sent exactly.
    pub fn call<A: AsRef<[u8]>>(&mut self, node: usize, args: &[A]) -> std::io::Result<Reply> {
        let Some(addr) = self.addrs.get(node) else {
            return Err(std::io::Error::other(format!("no node {node}")));
        };
        if self.open[node].is_none() {
            self.open[node] = Some(Connection::open(addr, self.io_timeout)?);
        }
        let result = match self.open[node].as_mut() {
            Some(connection) => connection.call(args),
            None => Err(std::io::Error::other("not connected")),
        };
        if result.is_err() {
            self.open[node] = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each command with the given bytes, split in two writes.
    fn server(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 1024];
            for answer in answers {
                if stream.read(&mut buf).is_err() {
                    return;
                }
                let (a, b) = answer.split_at(answer.len() / 2);
                let _ = stream.write_all(a);
                std::thread::sleep(Duration::from_millis(20));
                let _ = stream.write_all(b);
            }
        });
        addr
    }

    #[test]
    fn replies_split_across_reads_are_reassembled_and_a_bad_one_closes_the_connection() {
        let addr = server(vec![b"$5\r\nhe\r\no\r\n", b"+OK\r\n", b"?what\r\n"]);
        let mut conns = Connections::new(vec![addr]);
        assert_eq!(
            conns.call(0, &["GET", "k"]).expect("reply"),
            Reply::Bulk(Some(b"he\r\no".to_vec()))
        );
        assert_eq!(
            conns.call(0, &["SET", "k", "v"]).expect("reply"),
            Reply::Simple("OK".into())
        );
        let error = conns.call(0, &["PING"]).expect_err("malformed");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(conns.open[0].is_none());
        assert!(conns.call(7, &["PING"]).is_err());
    }
}
