//! Peer links over TCP: one outgoing connection per peer (reconnected with backoff and jitter,
//! frames batched into one write while messages wait), and a listener whose connections are
//! accepted only after the HMAC handshake proves the cluster key. A malformed frame closes its
//! connection, never the process.

use crate::frame::{
    proof, read_frame, read_frame_within, verify, write_frame, FrameError, Handshake,
    MAX_HANDSHAKE_FRAME, WIRE_VERSION,
};
use crate::logging::Throttle;
use crate::node::{Inbound, Input};
use crate::pieces::{MessageReader, MessageWriter, Pieced};
use crossbeam_channel::{Sender, TrySendError};
use distsys_consensus::NodeId;
use distsys_types::event::{self, Level};
use distsys_types::Event;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Receiver;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts peer connections on `listener` for the rest of the process; their messages (of the
/// protocol's message type `M`) go to `inputs`.
pub async fn listen<M: DeserializeOwned + Send + 'static>(
    listener: TcpListener,
    me: NodeId,
    members: Arc<BTreeSet<NodeId>>,
    key: Arc<Vec<u8>>,
    inputs: Sender<Inbound<M>>,
) {
    let refusals = Arc::new(Throttle::default());
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(e) => {
                refusals.refused("peer", None, &format!("accept failed: {e}"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let (members, key, inputs) = (members.clone(), key.clone(), inputs.clone());
        let refusals = refusals.clone();
        tokio::spawn(async move {
            match serve_peer(stream, me, &members, &key, &inputs).await {
                Ok(()) => {}
                Err(PeerEnd::Refused(e)) => refusals.refused("peer", Some(addr), &e.to_string()),
                Err(PeerEnd::Closed(e)) => crate::logging::emit_at(
                    Level::Debug,
                    None,
                    &Event::PeerConnectionClosed(event::PeerConnectionClosed {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }),
                ),
            }
        });
    }
}

/// How a peer connection ended: refused during the handshake (logged as a refusal), or
/// closed after it.
enum PeerEnd {
    Refused(FrameError),
    Closed(FrameError),
}

async fn serve_peer<M: DeserializeOwned>(
    stream: TcpStream,
    me: NodeId,
    members: &BTreeSet<NodeId>,
    key: &[u8],
    inputs: &Sender<Inbound<M>>,
) -> Result<(), PeerEnd> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let from = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let (from, client) = match read_frame_within(&mut read, MAX_HANDSHAKE_FRAME).await? {
            Handshake::Hello { wire, from, nonce } if wire == WIRE_VERSION => (from, nonce),
            Handshake::Hello { .. } | Handshake::HelloWire1 { .. } => {
                return Err(FrameError::Refused(
                    "a peer of another wire version (upgrade every node to the same release)",
                ))
            }
            _ => return Err(FrameError::Refused("expected hello")),
        };
        if from == me || !members.contains(&from) {
            return Err(FrameError::Refused("not a member"));
        }
        let server: [u8; 16] = rand::random();
        let mac = proof(key, b"server", from, &client, &server);
        write_frame(&mut write, &Handshake::Challenge { nonce: server, mac }).await?;
        write.flush().await?;
        let Handshake::Proof { mac } = read_frame_within(&mut read, MAX_HANDSHAKE_FRAME).await?
        else {
            return Err(FrameError::Refused("expected proof"));
        };
        if !verify(key, b"client", from, &client, &server, &mac) {
            return Err(FrameError::Refused("wrong cluster key"));
        }
        Ok(from)
    })
    .await
    .map_err(|_| PeerEnd::Refused(FrameError::Refused("handshake timed out")))?
    .map_err(PeerEnd::Refused)?;
    let mut messages = MessageReader::default();
    loop {
        let message: M = messages.read(&mut read).await.map_err(PeerEnd::Closed)?;
        // A full queue drops the message (the protocol resends what matters), so a flood from
        // one peer never blocks the network threads.
        if let Err(TrySendError::Disconnected(_)) = inputs.try_send(Inbound::Peer(from, message)) {
            return Ok(());
        }
    }
}

/// Keeps a connection to `peer` at `addr` and writes `outgoing` to it. While the peer is
/// unreachable its messages are dropped (Raft resends what matters).
pub async fn connect<M: Serialize + Send + Sync + 'static>(
    me: NodeId,
    peer: NodeId,
    addr: SocketAddr,
    key: Arc<Vec<u8>>,
    mut outgoing: Receiver<M>,
    inputs: Sender<Inbound<M>>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match handshake(me, peer, addr, &key).await {
            Ok(stream) => {
                backoff = Duration::from_millis(50);
                link(&inputs, peer, true).await;
                let writer = BufWriter::new(stream);
                let result = write_messages(writer, MessageWriter::default(), &mut outgoing).await;
                link(&inputs, peer, false).await;
                if result.is_ok() {
                    return;
                }
            }
            Err(_) => while outgoing.try_recv().is_ok() {},
        }
        let jitter = rand::random::<u64>() % (backoff.as_millis() as u64 / 2 + 1);
        tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
        while outgoing.try_recv().is_ok() {}
    }
}

/// Writes `outgoing` to one connection until the queue closes (Ok) or a write fails. What is
/// queued together goes in one write. A message too large for a frame goes one piece at a
/// time, with everything queued meanwhile written between its pieces: a follower's heartbeats
/// do not wait behind a whole snapshot (large messages queued behind it wait their turn).
async fn write_messages<M: Serialize, W: AsyncWriteExt + Unpin>(
    mut writer: W,
    mut messages: MessageWriter,
    outgoing: &mut Receiver<M>,
) -> Result<(), FrameError> {
    let mut large: VecDeque<Pieced> = VecDeque::new();
    loop {
        // With nothing in pieces, wait for a message; then take everything queued.
        let mut next = if large.is_empty() {
            match outgoing.recv().await {
                Some(message) => Some(message),
                None => return Ok(()),
            }
        } else {
            outgoing.try_recv().ok()
        };
        while let Some(message) = next {
            if let Some(pieced) = messages.start(&mut writer, &message).await? {
                large.push_back(pieced);
            }
            next = outgoing.try_recv().ok();
        }
        if let Some(front) = large.front_mut() {
            if messages.write_piece(&mut writer, front).await? {
                large.pop_front();
            }
        }
        writer.flush().await?;
    }
}

/// Tells the protocol thread a link went up or down: a blocking send on a blocking thread (a
/// link change is never dropped, and a full queue never blocks the runtime).
async fn link<M: Send + 'static>(inputs: &Sender<Inbound<M>>, peer: NodeId, up: bool) {
    let inputs = inputs.clone();
    // The send fails only once the protocol thread is gone: nothing left to tell.
    let _ = tokio::task::spawn_blocking(move || {
        let _ = inputs.send(Inbound::Input(Input::Link { peer, up }));
    })
    .await;
}

async fn handshake(
    me: NodeId,
    peer: NodeId,
    addr: SocketAddr,
    key: &[u8],
) -> Result<TcpStream, FrameError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let client: [u8; 16] = rand::random();
        write_frame(
            &mut stream,
            &Handshake::Hello {
                wire: WIRE_VERSION,
                from: me,
                nonce: client,
            },
        )
        .await?;
        stream.flush().await?;
        let Handshake::Challenge { nonce: server, mac } = read_frame(&mut stream).await? else {
            return Err(FrameError::Refused("expected challenge"));
        };
        if !verify(key, b"server", me, &client, &server, &mac) {
            return Err(FrameError::Refused("peer does not hold the cluster key"));
        }
        let mac = proof(key, b"client", me, &client, &server);
        write_frame(&mut stream, &Handshake::Proof { mac }).await?;
        stream.flush().await?;
        let _ = peer;
        Ok(stream)
    })
    .await
    .map_err(|_| FrameError::Refused("handshake timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use distsys_consensus::Message;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    type Received = crossbeam_channel::Receiver<Inbound<Message>>;

    /// Node 1 of members {1, 2} listening on a free port: its address, the cluster key, and
    /// what it receives.
    async fn node_one() -> (SocketAddr, Arc<Vec<u8>>, Received) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let key = Arc::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let members = Arc::new(BTreeSet::from([1, 2]));
        let (inputs, received) = crossbeam_channel::bounded(16);
        tokio::spawn(listen(listener, 1, members, key.clone(), inputs));
        (addr, key, received)
    }

    /// Sends `TimeoutNow { term }` on an authenticated `stream`; what the node received next
    /// (within 5 s).
    async fn send_and_receive(
        mut stream: TcpStream,
        term: u64,
        received: Received,
    ) -> Result<Inbound<Message>, crossbeam_channel::RecvTimeoutError> {
        MessageWriter::default()
            .write(&mut stream, &Message::TimeoutNow { term })
            .await
            .expect("send");
        stream.flush().await.expect("flush");
        tokio::task::spawn_blocking(move || received.recv_timeout(Duration::from_secs(5)))
            .await
            .expect("join")
    }

    /// A connection that queues one more small message (100, 101, 102) each time the writer
    /// flushes, as messages arrive while a large one is on its way, then closes the queue.
    struct Arrivals {
        wire: Vec<u8>,
        queue: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
        next: u8,
    }

    impl tokio::io::AsyncWrite for Arrivals {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.wire.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.next < 103 {
                let next = self.next;
                if let Some(queue) = &self.queue {
                    queue.try_send(vec![next]).expect("room");
                }
                self.next += 1;
            } else {
                self.queue = None;
            }
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// A message too large for a frame goes piece by piece, and messages queued while it goes
    /// are written between its pieces instead of behind all of them; a second large message
    /// waits for the first; every message arrives whole.
    #[test]
    fn small_messages_go_between_the_pieces_of_a_large_one() {
        use crate::pieces::WireLimits;
        let limits = WireLimits {
            frame: 64,
            piece: 16,
            max_message: 4096,
        };
        let large = |fill: u8| vec![fill; 300];
        let wire = runtime().block_on(async {
            let (queue, mut outgoing) = tokio::sync::mpsc::channel(16);
            for message in [large(1), large(4)] {
                queue.send(message).await.expect("queued");
            }
            let mut connection = Arrivals {
                wire: Vec::new(),
                queue: Some(queue),
                next: 100,
            };
            write_messages(
                &mut connection,
                MessageWriter::with_limits(limits),
                &mut outgoing,
            )
            .await
            .expect("written");
            connection.wire
        });
        let arrived: Vec<Vec<u8>> = runtime().block_on(async {
            let mut reader = MessageReader::with_limits(limits);
            let mut bytes = wire.as_slice();
            let mut arrived = Vec::new();
            while !bytes.is_empty() {
                arrived.push(reader.read(&mut bytes).await.expect("a message"));
            }
            arrived
        });
        assert_eq!(
            arrived,
            vec![vec![100], vec![101], vec![102], large(1), large(4)],
            "the small messages overtake the pieces; the large ones arrive whole, in order"
        );
        // On the wire: a piece, then each small message after one more piece (tag 1: piece,
        // 0: whole message).
        let mut tags = Vec::new();
        let mut rest = wire.as_slice();
        while rest.len() > 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            tags.push(rest[4]);
            rest = &rest[4 + len..];
        }
        assert_eq!(&tags[..7], &[1, 0, 1, 0, 1, 0, 1], "{tags:?}");
    }

    #[test]
    fn only_a_key_holder_can_connect_and_send() {
        runtime().block_on(async {
            let (addr, key, received) = node_one().await;
            // Wrong key: refused during the handshake.
            let wrong = handshake(2, 1, addr, b"another cluster key............").await;
            assert!(matches!(wrong, Err(FrameError::Refused(_))), "{wrong:?}");
            // Not a member, even with the key.
            assert!(handshake(9, 1, addr, &key).await.is_err());
            // A node of the older wire (one untagged message per frame): refused at its hello,
            // and so is a hello of an unknown wire version.
            for hello in [
                Handshake::HelloWire1 {
                    from: 2,
                    nonce: [0; 16],
                },
                Handshake::Hello {
                    wire: WIRE_VERSION + 1,
                    from: 2,
                    nonce: [0; 16],
                },
            ] {
                let mut old = TcpStream::connect(addr).await.expect("connect");
                write_frame(&mut old, &hello).await.expect("hello");
                let answer = tokio::time::timeout(
                    Duration::from_secs(5),
                    read_frame::<Handshake, _>(&mut old),
                )
                .await;
                assert!(
                    matches!(answer, Ok(Err(_))),
                    "no challenge for another wire: {answer:?}"
                );
            }
            // The right key: messages get through, attributed to the authenticated sender.
            let stream = handshake(2, 1, addr, &key).await.expect("handshake");
            match send_and_receive(stream, 4, received).await {
                Ok(Inbound::Peer(from, Message::TimeoutNow { term })) => {
                    assert_eq!((from, term), (2, 4));
                }
                _ => panic!("the message did not arrive"),
            }
            // Garbage after the handshake closes that connection only.
            let mut bad = handshake(2, 1, addr, &key).await.expect("handshake");
            bad.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
                .await
                .expect("write");
            let mut buf = [0u8; 1];
            let closed = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::io::AsyncReadExt::read(&mut bad, &mut buf),
            )
            .await;
            assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
            assert!(
                handshake(2, 1, addr, &key).await.is_ok(),
                "the listener still serves"
            );
        });
    }

    /// What a message-level proxy relies on: the dialer's first [`DIALER_HANDSHAKE_FRAMES`]
    /// frames are the handshake, and the next one is its first protocol message.
    #[test]
    fn the_dialer_sends_exactly_the_documented_handshake_frames_before_messages() {
        use crate::frame::DIALER_HANDSHAKE_FRAMES;
        use tokio::io::AsyncReadExt;
        runtime().block_on(async {
            let (node, key, received) = node_one().await;
            // A relay that counts the dialer's frames on their way to the node.
            let relay = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let relay_addr = relay.local_addr().expect("addr");
            let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let count = counted.clone();
            tokio::spawn(async move {
                let (dialer, _) = relay.accept().await.expect("accept");
                let upstream = TcpStream::connect(node).await.expect("connect");
                let (mut from_dialer, mut to_dialer) = dialer.into_split();
                let (mut from_node, mut to_node) = upstream.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_node, &mut to_dialer).await;
                });
                loop {
                    let Ok(len) = from_dialer.read_u32().await else {
                        return;
                    };
                    let mut payload = vec![0; len as usize];
                    if from_dialer.read_exact(&mut payload).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = to_node.write_u32(len).await;
                    let _ = to_node.write_all(&payload).await;
                }
            });
            let stream = handshake(2, 1, relay_addr, &key).await.expect("handshake");
            let got = send_and_receive(stream, 7, received).await;
            assert!(
                matches!(got, Ok(Inbound::Peer(2, Message::TimeoutNow { term: 7 }))),
                "the message did not arrive through the relay"
            );
            assert_eq!(
                counted.load(std::sync::atomic::Ordering::SeqCst),
                DIALER_HANDSHAKE_FRAMES + 1
            );
        });
    }
}
