//! A replica of the key-value service: the Raft core, the state machine, and the bookkeeping
//! that answers clients. Sans-IO like the core, so the simulator and the real node drive the
//! same code.
//!
//! Writes are proposed to the log and answered when applied (with the state machine's result,
//! deduplicated by the client session); reads use ReadIndex and are answered once the state
//! machine has applied the confirmed index. A node that is not the leader answers `NotLeader`
//! with its best guess.

use crate::core::Core;
use crate::kv::{ByteString, Command, KvStore, Op, OpResult, SnapshotError};
use crate::raft::{Config, Raft};
use crate::types::{Entry, Index, NodeId, Persisted, ReadId, Role, Snapshot, Term, TimeUs};
use std::collections::BTreeMap;

/// Compact the log once at least this many applied entries follow the last snapshot.
pub const COMPACT_AFTER_ENTRIES: Index = 512;

/// Whether the log is due for compaction: `since` applied entries follow the last snapshot of
/// a state machine holding `keys` keys. A snapshot costs time proportional to the state, so it
/// waits for at least as many entries as there are keys (and at least
/// [`COMPACT_AFTER_ENTRIES`]): the cost per applied entry stays constant however large the
/// data grows, and the log never holds more entries than the state has keys (or 512).
/// Compacting every 512 entries made a 200,000-key store serialise all of it every 512 writes.
pub fn compaction_due(since: Index, keys: usize) -> bool {
    since >= COMPACT_AFTER_ENTRIES.max(keys as Index)
}

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// Linearizable read of a key.
    Read { key: ByteString },
    /// A state-changing operation.
    Write(Op),
}

/// A client request with its session identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// Client session.
    pub client: u64,
    /// Sequence number within the session (the idempotency key with `client`).
    pub seq: u64,
    /// The operation.
    pub op: ClientOp,
}

/// The answer to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientReply {
    /// Done; for a read, the value read.
    Ok { value: Option<ByteString> },
    /// A cas whose comparison failed: nothing changed.
    CasFailed,
    /// The operation does not apply to the value found (nothing changed), with why.
    Invalid(String),
    /// This node cannot serve the request; try the leader it names, if any.
    NotLeader { leader: Option<NodeId> },
}

/// The answer a command's result gives its client.
fn reply_for(result: &OpResult) -> ClientReply {
    match result {
        OpResult::Done => ClientReply::Ok { value: None },
        OpResult::CasFailed(_) => ClientReply::CasFailed,
        OpResult::Value(value) => ClientReply::Ok {
            value: value.clone(),
        },
        OpResult::Invalid(why) => ClientReply::Invalid(why.clone()),
    }
}

/// Outputs of one round: persist, then send, then answer.
#[derive(Debug)]
pub struct ReplicaReady<C: Core = Raft> {
    /// Durable changes, to apply before `messages` leave.
    pub persist: Vec<C::PersistOp>,
    /// Messages to peers.
    pub messages: Vec<(NodeId, C::Message)>,
    /// Messages that may leave while `persist` is written ([`Ready::early`]).
    pub early: Vec<(NodeId, C::Message)>,
    /// The write to report durable through [`Replica::persisted`] ([`Ready::write`]).
    pub write: u64,
    /// Answers: `(connection, client, seq, reply)`.
    pub replies: Vec<(u64, u64, u64, ClientReply)>,
    /// Entries applied to the state machine, in order.
    pub applied: Vec<Entry>,
    /// A snapshot installed into the state machine, before `applied`.
    pub installed: Option<Snapshot>,
    /// Role changes with their term.
    pub roles: Vec<(Role, Term)>,
    /// A snapshot the consensus core installed whose state machine could not be read: the
    /// replica cannot serve from here on (the caller must stop it, never serve an old state).
    pub unreadable_snapshot: Option<SnapshotError>,
}

impl<C: Core> ReplicaReady<C> {
    /// Whether there is nothing to write, send, apply or report.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty()
            && self.messages.is_empty()
            && self.early.is_empty()
            && self.replies.is_empty()
            && self.applied.is_empty()
            && self.installed.is_none()
            && self.roles.is_empty()
            && self.unreadable_snapshot.is_none()
    }
}

#[derive(Debug, Clone)]
struct Waiting {
    connection: u64,
    client: u64,
    seq: u64,
}

/// One replica of the replicated key-value store, over any consensus core (Raft by default).
#[derive(Debug)]
pub struct Replica<C: Core = Raft> {
    core: C,
    kv: KvStore,
    writes: BTreeMap<Index, Waiting>,
    reads: BTreeMap<ReadId, (Waiting, ByteString)>,
    confirmed_reads: Vec<(Index, Waiting, ByteString)>,
    next_read: ReadId,
    /// Protocols where every replica answers: requests waiting for execution, by session.
    sessions: BTreeMap<(u64, u64), Waiting>,
}

impl Replica<Raft> {
    /// A Raft replica recovering from its persisted state (empty for a new one).
    pub fn new(
        config: Config,
        persisted: &Persisted,
        seed: u64,
        now: TimeUs,
    ) -> Result<Replica, SnapshotError> {
        Replica::with_core(Raft::new(config, persisted, seed, now), persisted)
    }

    /// The Raft core (read-only).
    pub fn raft(&self) -> &Raft {
        &self.core
    }

    /// Changes the membership (see [`Raft::propose_membership`]).
    pub fn propose_membership(
        &mut self,
        voters: std::collections::BTreeSet<NodeId>,
        learners: std::collections::BTreeSet<NodeId>,
    ) -> Result<Index, crate::raft::MembershipError> {
        self.core.propose_membership(voters, learners)
    }

    /// Hands leadership to `target` (see [`Raft::transfer_leadership`]).
    pub fn transfer_leadership(&mut self, target: NodeId) -> bool {
        self.core.transfer_leadership(target)
    }
}

impl<C: Core> Replica<C> {
    /// A replica over `core`, recovering from `persisted`. The state machine is rebuilt from
    /// the snapshot, then from committed entries as the leader re-confirms them (known-bugs
    /// #11: nothing is served before that). A snapshot that cannot be read is an error, never
    /// an empty store.
    pub fn with_core(core: C, persisted: &C::Persisted) -> Result<Replica<C>, SnapshotError> {
        let kv = match C::snapshot_data(persisted) {
            Some(bytes) => KvStore::restore(bytes)?,
            None => KvStore::default(),
        };
        Ok(Replica {
            core,
            kv,
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            confirmed_reads: Vec::new(),
            next_read: 1,
            sessions: BTreeMap::new(),
        })
    }

    /// The consensus core (read-only).
    pub fn core(&self) -> &C {
        &self.core
    }

    /// The state machine (read-only).
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// Advances the clock.
    pub fn tick(&mut self, now: TimeUs) {
        self.core.tick(now);
    }

    /// Moves the core's clock without firing timers ([`Core::advance_clock`]).
    pub fn advance_clock(&mut self, now: TimeUs) {
        self.core.advance_clock(now);
    }

    /// A message from a peer.
    pub fn step(&mut self, from: NodeId, message: C::Message) {
        self.core.step(from, message);
    }

    /// A client request arriving on `connection`. Answers come out of [`Replica::ready`].
    pub fn request(
        &mut self,
        connection: u64,
        request: ClientRequest,
        out: &mut Vec<(u64, u64, u64, ClientReply)>,
    ) {
        let waiting = Waiting {
            connection,
            client: request.client,
            seq: request.seq,
        };
        if self.core.replies_from_every_replica() {
            self.request_ordered(waiting, request.op, out);
            return;
        }
        match request.op {
            ClientOp::Read { key } => {
                let id = self.next_read;
                self.next_read += 1;
                match self.core.read_index(id) {
                    Ok(()) => {
                        self.reads.insert(id, (waiting, key));
                    }
                    Err(e) => out.push((
                        connection,
                        request.client,
                        request.seq,
                        ClientReply::NotLeader { leader: e.leader },
                    )),
                }
            }
            ClientOp::Write(op) => {
                let data = Command {
                    client: request.client,
                    seq: request.seq,
                    op,
                }
                .encode();
                match self.core.propose(data) {
                    Ok(index) => {
                        self.writes.insert(index, waiting);
                    }
                    Err(e) => out.push((
                        connection,
                        request.client,
                        request.seq,
                        ClientReply::NotLeader { leader: e.leader },
                    )),
                }
            }
        }
    }

    /// Every replica executes every request in log order, reads included, and answers it; a
    /// retry of the session's last executed command is answered from the session at once.
    fn request_ordered(
        &mut self,
        waiting: Waiting,
        op: ClientOp,
        out: &mut Vec<(u64, u64, u64, ClientReply)>,
    ) {
        if let Some((last, result)) = self.kv.session(waiting.client) {
            if waiting.seq <= last {
                if waiting.seq == last {
                    out.push((
                        waiting.connection,
                        waiting.client,
                        waiting.seq,
                        reply_for(result),
                    ));
                }
                return;
            }
        }
        let op = match op {
            ClientOp::Read { key } => Op::Get { key },
            ClientOp::Write(op) => op,
        };
        let data = Command {
            client: waiting.client,
            seq: waiting.seq,
            op,
        }
        .encode();
        self.sessions
            .insert((waiting.client, waiting.seq), waiting.clone());
        // Ordered protocols take every request; the answer comes when it executes.
        let _ = self.core.propose(data);
    }

    /// The driver's report that a Ready's write is durable ([`Core::persisted`]).
    pub fn persisted(&mut self, write: u64) {
        self.core.persisted(write);
    }

    /// Drains the core's outputs, applies committed entries and answers clients.
    pub fn ready(&mut self) -> ReplicaReady<C> {
        let ready = self.core.ready();
        let mut out = ReplicaReady {
            persist: ready.persist,
            messages: ready.messages,
            early: ready.early,
            write: ready.write,
            roles: ready.roles,
            replies: Vec::new(),
            applied: Vec::new(),
            installed: None,
            unreadable_snapshot: None,
        };
        if let Some(snapshot) = ready.install {
            match KvStore::restore(&snapshot.data) {
                Ok(kv) => self.kv = kv,
                Err(e) => {
                    out.unreadable_snapshot = Some(e);
                    return out;
                }
            }
            self.writes.retain(|index, _| *index > snapshot.last_index);
            out.installed = Some(snapshot);
        }
        for entry in ready.committed {
            if entry.index != self.kv.applied() + 1 {
                continue;
            }
            let result = self.kv.apply(&entry);
            if let Some((command, result)) = &result {
                if let Some(w) = self.sessions.remove(&(command.client, command.seq)) {
                    out.replies
                        .push((w.connection, w.client, w.seq, reply_for(result)));
                }
            }
            if let Some(interval) = self.core.checkpoint_interval() {
                if entry.index % interval == 0 {
                    self.core.compact(entry.index, self.kv.snapshot());
                }
            }
            if let Some(waiting) = self.writes.remove(&entry.index) {
                let reply = match &result {
                    Some((command, result))
                        if command.client == waiting.client && command.seq == waiting.seq =>
                    {
                        reply_for(result)
                    }
                    // Another leader's entry took this index: ours was never committed here.
                    _ => ClientReply::NotLeader {
                        leader: self.core.leader(),
                    },
                };
                out.replies
                    .push((waiting.connection, waiting.client, waiting.seq, reply));
            }
            out.applied.push(entry);
        }
        for (id, index) in ready.reads {
            if let Some((waiting, key)) = self.reads.remove(&id) {
                self.confirmed_reads.push((index, waiting, key));
            }
        }
        for id in ready.reads_failed {
            if let Some((w, _)) = self.reads.remove(&id) {
                out.replies.push((
                    w.connection,
                    w.client,
                    w.seq,
                    ClientReply::NotLeader {
                        leader: self.core.leader(),
                    },
                ));
            }
        }
        let applied = self.kv.applied();
        let (serve, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.confirmed_reads)
            .into_iter()
            .partition(|(i, _, _)| *i <= applied);
        self.confirmed_reads = wait;
        for (_, w, key) in serve {
            let value = self.kv.get(key.as_bytes()).cloned();
            out.replies
                .push((w.connection, w.client, w.seq, ClientReply::Ok { value }));
        }
        if self.core.compacts()
            && compaction_due(
                applied.saturating_sub(self.core.log_offset()),
                self.kv.len(),
            )
        {
            self.core.compact(applied, self.kv.snapshot());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_waits_for_as_many_entries_as_the_state_has_keys() {
        assert!(!compaction_due(511, 0));
        assert!(compaction_due(512, 0));
        assert!(compaction_due(512, 512));
        assert!(!compaction_due(512, 200_000));
        assert!(!compaction_due(199_999, 200_000));
        assert!(compaction_due(200_000, 200_000));
        // Amortised: over any run of writes the entries snapshotted per entry applied stay
        // at most 1 (each snapshot of k keys follows at least k entries).
        let (mut keys, mut since, mut snapshotted, mut applied) = (0usize, 0u64, 0u64, 0u64);
        for _ in 0..1_000_000 {
            keys += 1;
            since += 1;
            applied += 1;
            if compaction_due(since, keys) {
                snapshotted += keys as u64;
                since = 0;
            }
        }
        assert!(
            snapshotted <= applied * 2,
            "{snapshotted} keys written for {applied} entries"
        );
    }
}
