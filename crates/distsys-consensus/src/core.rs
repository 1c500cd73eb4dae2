//! The interface every consensus core offers its drivers (the simulator and the node), so one
//! driver runs Raft and Multi-Paxos alike: time in, messages in, proposals and reads in, one
//! [`Ready`] out (persist, then send, then apply).

use crate::paxos::{MultiPaxos, PaxosMessage, PaxosPersistOp, PaxosPersisted};
use crate::pbft::{Envelope, Pbft, PbftPersistOp, PbftPersisted, PbftReady};
use crate::raft::{NotLeader, Raft};
use crate::types::{
    Index, Message, NodeId, PersistOp, Persisted, ReadId, Ready, Role, Term, TimeUs,
};

/// A sans-IO consensus core.
pub trait Core {
    /// Messages between replicas.
    type Message: Clone + std::fmt::Debug + Send;
    /// A durable change.
    type PersistOp: Clone + std::fmt::Debug;
    /// Everything on disk.
    type Persisted: Clone + Default + std::fmt::Debug + Send;

    /// Applies a durable change to the disk image.
    fn apply_persist(disk: &mut Self::Persisted, op: &Self::PersistOp);
    /// The state machine snapshot on disk, if the protocol keeps one.
    fn snapshot_data(disk: &Self::Persisted) -> Option<&[u8]>;
    /// Advances the core's clock and fires the timers due.
    fn tick(&mut self, now: TimeUs);
    /// Moves the core's clock to `now` without firing any timer. A driver that was busy (a
    /// slow fsync) calls it before handing over the messages that waited meanwhile, then calls
    /// [`Core::tick`]: those messages are judged at the time they are read, so a follower whose
    /// leader's heartbeats sat in its queue does not time that leader out first. A core whose
    /// steps never read its clock needs nothing here (the default).
    fn advance_clock(&mut self, _now: TimeUs) {}
    /// A message from a peer.
    fn step(&mut self, from: NodeId, message: Self::Message);
    /// Proposes a command (leader only); returns its log index or slot.
    fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader>;
    /// Starts a linearizable read, confirmed in [`Ready::reads`].
    fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader>;
    /// Drains the outputs.
    fn ready(&mut self) -> Ready<Self::Message, Self::PersistOp>;
    /// The driver's report that the Ready whose [`Ready::write`] was `write` (and every
    /// earlier one) is durable. Cores without pipelined persistence ignore it (the default).
    fn persisted(&mut self, _write: u64) {}
    /// Current role.
    fn role(&self) -> Role;
    /// Current term (Raft) or ballot round (Paxos).
    fn term(&self) -> Term;
    /// The leader this replica follows, if known.
    fn leader(&self) -> Option<NodeId>;
    /// Highest index known committed (chosen) here.
    fn commit_index(&self) -> Index;
    /// Whether [`Core::compact`] does anything (the log is compacted into snapshots).
    fn compacts(&self) -> bool {
        false
    }
    /// Index the last snapshot covers (0 without one).
    fn log_offset(&self) -> Index {
        0
    }
    /// Compacts the log up to `index` (applied) into a snapshot of `data`.
    fn compact(&mut self, _index: Index, _data: Vec<u8>) {}
    /// Whether every replica executes and answers every client request, reads included (a
    /// byzantine-tolerant protocol: the client trusts an answer f+1 replicas agree on), instead
    /// of the leader alone answering.
    fn replies_from_every_replica(&self) -> bool {
        false
    }
    /// For protocols that checkpoint at fixed points: the driver calls [`Core::compact`] with the
    /// state machine's snapshot right after applying every multiple of this index.
    fn checkpoint_interval(&self) -> Option<Index> {
        None
    }
}

impl Core for Raft {
    type Message = Message;
    type PersistOp = PersistOp;
    type Persisted = Persisted;

    fn apply_persist(disk: &mut Persisted, op: &PersistOp) {
        disk.apply(op);
    }
    fn snapshot_data(disk: &Persisted) -> Option<&[u8]> {
        disk.snapshot.as_ref().map(|s| &s.data[..])
    }
    fn tick(&mut self, now: TimeUs) {
        Raft::tick(self, now)
    }
    fn advance_clock(&mut self, now: TimeUs) {
        Raft::advance_clock(self, now)
    }
    fn step(&mut self, from: NodeId, message: Message) {
        Raft::step(self, from, message)
    }
    fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        Raft::propose(self, data)
    }
    fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader> {
        Raft::read_index(self, id)
    }
    fn ready(&mut self) -> Ready {
        Raft::ready(self)
    }
    fn persisted(&mut self, write: u64) {
        Raft::persisted(self, write)
    }
    fn role(&self) -> Role {
        Raft::role(self)
    }
    fn term(&self) -> Term {
        Raft::term(self)
    }
    fn leader(&self) -> Option<NodeId> {
        Raft::leader(self)
    }
    fn commit_index(&self) -> Index {
        Raft::commit_index(self)
    }
    fn compacts(&self) -> bool {
        true
    }
    fn log_offset(&self) -> Index {
        self.log().offset()
    }
    fn compact(&mut self, index: Index, data: Vec<u8>) {
        Raft::compact(self, index, data)
    }
}

impl Core for MultiPaxos {
    type Message = PaxosMessage;
    type PersistOp = PaxosPersistOp;
    type Persisted = PaxosPersisted;

    fn apply_persist(disk: &mut PaxosPersisted, op: &PaxosPersistOp) {
        disk.apply(op);
    }
    fn snapshot_data(disk: &PaxosPersisted) -> Option<&[u8]> {
        disk.snapshot.as_ref().map(|s| s.data.as_slice())
    }
    fn tick(&mut self, now: TimeUs) {
        MultiPaxos::tick(self, now)
    }
    fn advance_clock(&mut self, now: TimeUs) {
        MultiPaxos::advance_clock(self, now)
    }
    fn step(&mut self, from: NodeId, message: PaxosMessage) {
        MultiPaxos::step(self, from, message)
    }
    fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        MultiPaxos::propose(self, data)
    }
    fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader> {
        MultiPaxos::read_index(self, id)
    }
    fn ready(&mut self) -> Ready<PaxosMessage, PaxosPersistOp> {
        MultiPaxos::ready(self)
    }
    fn role(&self) -> Role {
        MultiPaxos::role(self)
    }
    fn term(&self) -> Term {
        self.ballot().round
    }
    fn leader(&self) -> Option<NodeId> {
        MultiPaxos::leader(self)
    }
    fn commit_index(&self) -> Index {
        self.chosen_upto()
    }
    fn compacts(&self) -> bool {
        true
    }
    fn log_offset(&self) -> Index {
        self.compacted()
    }
    fn compact(&mut self, index: Index, data: Vec<u8>) {
        MultiPaxos::compact(self, index, data)
    }
}

impl Core for Pbft {
    type Message = Envelope;
    type PersistOp = PbftPersistOp;
    type Persisted = PbftPersisted;

    fn apply_persist(disk: &mut PbftPersisted, op: &PbftPersistOp) {
        disk.apply(op);
    }
    fn snapshot_data(disk: &PbftPersisted) -> Option<&[u8]> {
        Pbft::snapshot_data(disk)
    }
    fn tick(&mut self, now: TimeUs) {
        Pbft::tick(self, now)
    }
    fn advance_clock(&mut self, now: TimeUs) {
        Pbft::advance_clock(self, now)
    }
    fn step(&mut self, from: NodeId, message: Envelope) {
        Pbft::step(self, from, message)
    }
    fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        Pbft::propose(self, data)
    }
    fn read_index(&mut self, _id: ReadId) -> Result<(), NotLeader> {
        // Reads are ordered like writes (see `replies_from_every_replica`).
        Err(NotLeader {
            leader: Pbft::leader(self),
        })
    }
    fn ready(&mut self) -> PbftReady {
        Pbft::ready(self)
    }
    fn role(&self) -> Role {
        Pbft::role(self)
    }
    fn term(&self) -> Term {
        self.view()
    }
    fn leader(&self) -> Option<NodeId> {
        Pbft::leader(self)
    }
    fn commit_index(&self) -> Index {
        self.executed()
    }
    fn compact(&mut self, index: Index, data: Vec<u8>) {
        self.checkpoint(index, data)
    }
    fn replies_from_every_replica(&self) -> bool {
        true
    }
    fn checkpoint_interval(&self) -> Option<Index> {
        Some(self.config_checkpoint_interval())
    }
}
