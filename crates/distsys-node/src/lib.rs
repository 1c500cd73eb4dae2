//! distsys-node: the real replicated key-value node. The same sans-IO consensus cores and
//! replica the simulator runs (Raft, Multi-Paxos or PBFT, chosen by the configuration's
//! `protocol`), driven by a protocol thread; peers over TCP with length-prefixed postcard
//! frames after an HMAC handshake on the cluster key (PBFT's messages also carry their own
//! MACs, keys derived from the cluster key); the core's durable state in redb, fsynced before
//! the messages and answers that depend on them; a Redis-protocol client port; an HTTP admin
//! port with Prometheus metrics; JSON logs in the seed's schema.
//!
//! What a user needs is exported: [`run`] with its [`NodeConfig`] ([`Member`], [`ConfigError`],
//! [`NodeError`]), the protocols it runs ([`ProtocolName`]), the queue bounds ([`INPUT_QUEUE`],
//! [`PEER_QUEUE`]), the peer wire's framing facts a message-level proxy needs
//! ([`DIALER_HANDSHAKE_FRAMES`], [`MAX_FRAME`]), the storage interface and its fault-injecting wrapper ([`storage`]), and the
//! project's one RESP codec ([`resp`], which the harness's clients use). Everything else (the
//! protocol thread, the transport, the client and admin ports, logging) is internal.

mod admin;
mod client;
mod config;
mod frame;
mod logging;
mod metrics;
mod node;
mod pieces;
mod protocol;
pub mod resp;
pub mod storage;
mod transport;
mod writer;

pub use config::{ConfigError, Member, NodeConfig};
pub use frame::{DIALER_HANDSHAKE_FRAMES, MAX_FRAME};
use protocol::Protocol;
pub use protocol::ProtocolName;

use distsys_types::event;
use distsys_types::Event;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How long a node whose storage failed keeps its connections open for the failure answers
/// already handed to them to be written.
const STORAGE_FAILURE_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Inputs (peer messages, client requests, admin calls) queued for the protocol thread at most.
/// When the queue is full a peer message is dropped (the protocols resend what matters) and a
/// client gets `-TRYAGAIN node busy ...` at once (the command was not taken).
pub const INPUT_QUEUE: usize = 4096;

/// Messages queued for one peer's link at most; when full, further messages to that peer are
/// dropped (counted in `/status` as the peer's `dropped_messages`), as when the link is down.
pub const PEER_QUEUE: usize = 1024;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage could not be opened or read.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// A write to storage failed while running (a full disk, an I/O error). Nothing that
    /// depended on it was sent or acknowledged; waiting clients were told so.
    #[error("stopped: {0} (nothing that depended on the failed write was sent or acknowledged)")]
    StorageFailed(storage::StorageError),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs a node of the configuration's protocol until the process is told to stop (SIGINT or
/// SIGTERM: `Ok`) or its storage fails ([`NodeError::StorageFailed`]); never exits the
/// process itself.
pub fn run(config: NodeConfig) -> Result<(), NodeError> {
    config.validate()?;
    match config.protocol() {
        ProtocolName::Raft => run_with::<distsys_consensus::raft::Raft>(config),
        ProtocolName::MultiPaxos => run_with::<distsys_consensus::paxos::MultiPaxos>(config),
        ProtocolName::Pbft => run_with::<distsys_consensus::pbft::Pbft>(config),
    }
}

/// [`run`] for protocol `C`.
fn run_with<C: Protocol>(config: NodeConfig) -> Result<(), NodeError> {
    logging::init(config.id);
    let key = config.key().ok_or(ConfigError::Invalid {
        field: "cluster_key",
        rule: "must be hex".into(),
    })?;
    let storage = C::open_storage(&config.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    let metrics = metrics::Metrics::new();
    let (inputs, receiver) = crossbeam_channel::bounded(INPUT_QUEUE);
    let settings = protocol::Settings {
        id: config.id,
        members: config.members.keys().copied().collect(),
        heartbeat_ms: config.heartbeat_ms,
        election_timeout_ms: config.election_timeout_ms,
        mutant: config.mutant.clone(),
        cluster_key: key.clone(),
        byzantine: config.byzantine.clone(),
        // One member has no followers to overlap its fsync with: it writes first (measured
        // faster there; README).
        pipelined_writes: config.pipelined_writes
            && C::PIPELINES_WRITES
            && config.members.len() > 1,
    };
    let (peers, outgoing) = peer_channels::<C::Message>(&config);
    let mut node = node::Node::<C>::new(&settings, storage, peers, metrics.clone())?;
    if settings.pipelined_writes {
        node = node.pipeline_writes()?;
    }
    start_network::<C>(&runtime, &config, Arc::new(key), outgoing, &inputs, metrics)?;
    let (done, finished) = tokio::sync::oneshot::channel();
    let protocol = std::thread::Builder::new()
        .name(C::NAME.name().into())
        .spawn(move || {
            let _ = done.send(node.run(receiver));
        })
        .map_err(NodeError::Runtime)?;
    let failed = runtime.block_on(async {
        tokio::select! {
            stop = stop_signal() => stop.map(|()| None),
            result = finished => Ok(match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(NodeError::StorageFailed(e)),
                Err(_) => Some(NodeError::Runtime(std::io::Error::other(
                    "the protocol thread stopped unexpectedly",
                ))),
            }),
        }
    })?;
    logging::emit(None, &Event::NodeStopping(event::NoContext {}));
    drop(inputs);
    if matches!(failed, Some(NodeError::StorageFailed(_))) {
        // The protocol thread has answered every waiting client with the failure; let the
        // connection tasks write those answers before the runtime (and their sockets) go, or
        // a loaded machine closes the connections first and the clients see only EOF.
        runtime.block_on(async { tokio::time::sleep(STORAGE_FAILURE_GRACE).await });
    }
    drop(runtime);
    let _ = protocol.join();
    failed.map_or(Ok(()), Err)
}

/// Binds the peer, client and admin ports and starts their tasks on `runtime`: the peer
/// listener, one link per peer draining `outgoing`, the client port, the admin port.
fn start_network<C: Protocol>(
    runtime: &tokio::runtime::Runtime,
    config: &NodeConfig,
    key: Arc<Vec<u8>>,
    outgoing: Vec<Outgoing<C::Message>>,
    inputs: &crossbeam_channel::Sender<node::Inbound<C::Message>>,
    metrics: metrics::Metrics,
) -> Result<(), NodeError> {
    let me = config.me().clone();
    let bind = |addr| {
        runtime.block_on(async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| NodeError::Bind { addr, source })
        })
    };
    let peer_listener = bind(me.peer)?;
    let client_listener = bind(me.client)?;
    let admin_listener = bind(config.admin)?;
    let member_set: Arc<BTreeSet<u64>> = Arc::new(config.members.keys().copied().collect());
    runtime.spawn(transport::listen(
        peer_listener,
        config.id,
        member_set,
        key.clone(),
        inputs.clone(),
    ));
    for (peer, addr, rx) in outgoing {
        runtime.spawn(transport::connect(
            config.id,
            peer,
            addr,
            key.clone(),
            rx,
            inputs.clone(),
        ));
    }
    let queue: Arc<dyn node::Queue> = Arc::new(inputs.clone());
    let shared = Arc::new(client::Shared {
        password: config.password.clone(),
        unsafe_stale_reads: config.unsafe_stale_reads,
        idle_timeout: (config.client_idle_timeout_s > 0)
            .then(|| std::time::Duration::from_secs(config.client_idle_timeout_s)),
        max_clients: max_clients(config.members.len()),
        pipeline: config.protocol() != ProtocolName::Pbft,
        ..client::Shared::new(
            queue.clone(),
            config
                .members
                .iter()
                .map(|(id, m)| (*id, m.client))
                .collect(),
        )
    });
    runtime.spawn(client::listen(client_listener, shared));
    runtime.spawn(admin::serve(admin_listener, metrics, queue));
    logging::emit(
        None,
        &Event::NodeListening(event::NodeListening {
            peer: me.peer.to_string(),
            client: me.client.to_string(),
            admin: config.admin.to_string(),
        }),
    );
    Ok(())
}

/// A peer's link: its id, the address to dial, the queue of messages to it.
type Outgoing<M> = (u64, std::net::SocketAddr, tokio::sync::mpsc::Receiver<M>);

/// One bounded channel per peer ([`PEER_QUEUE`]): the senders the protocol thread writes to,
/// and for each peer its id, the address to dial (its route, when one is configured) and the
/// receiver its link drains.
fn peer_channels<M>(
    config: &NodeConfig,
) -> (
    BTreeMap<u64, tokio::sync::mpsc::Sender<M>>,
    Vec<Outgoing<M>>,
) {
    let mut peers = BTreeMap::new();
    let mut outgoing = Vec::new();
    for (&id, member) in &config.members {
        if id == config.id {
            continue;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(PEER_QUEUE);
        peers.insert(id, tx);
        let route = config.peer_routes.get(&id).copied().unwrap_or(member.peer);
        outgoing.push((id, route, rx));
    }
    (peers, outgoing)
}

/// Waits for SIGINT or SIGTERM.
async fn stop_signal() -> Result<(), NodeError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(NodeError::Runtime)?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// Descriptors kept for everything but clients: listeners, peer links (two per member), the
/// database, the log output and the runtime.
const RESERVED_DESCRIPTORS: usize = 64;

/// Most client connections at once: what the process's descriptor limit leaves after the
/// reserved ones (at least 16, at most 10,000, Redis's `maxclients`), so a flood of clients
/// never takes the descriptors the peers and the admin port need.
fn max_clients(members: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and has no other effect.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    soft.saturating_sub(RESERVED_DESCRIPTORS + 2 * members)
        .clamp(16, 10_000)
}
