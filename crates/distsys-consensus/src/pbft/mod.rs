//! PBFT (Castro and Liskov) as a pure state machine with the same driver contract as Raft and
//! Multi-Paxos: time in ([`Pbft::tick`]), authenticated messages in ([`Pbft::step`]), client
//! requests in ([`Pbft::propose`]), one [`Ready`](crate::types::Ready) out (persist, then send,
//! then execute).
//!
//! n = 3f+1 replicas tolerate f byzantine ones. The primary of view `v` assigns a sequence number
//! to a request (PRE-PREPARE); a backup that accepts it says so to all (PREPARE); a replica with
//! the pre-prepare and 2f matching prepares is *prepared* and says so (COMMIT); with 2f+1
//! matching commits the request is *committed* and executes once every earlier one has. Every
//! replica answers the client, which accepts a result once f+1 replicas gave it.
//!
//! Every `checkpoint_interval` requests a replica announces the digest of its state
//! (CHECKPOINT); 2f+1 matching announcements make it stable: the low watermark moves up, the
//! log below is dropped, and the primary may assign numbers up to `window` above it. A replica
//! that fell behind fetches a checkpointed state that f+1 replicas vouch for.
//!
//! Backups start a timer for every client request; if it has not executed in time they move to
//! the next view (VIEW-CHANGE, with their prepared and pre-prepared requests and checkpoints). The
//! new primary decides from 2f+1 or more of those messages which request each open sequence
//! number keeps (see [`view_change::decide`]) and sends NEW-VIEW naming the messages it used;
//! a backup accepts the view only if the same decision follows from the same messages, which it
//! received itself, authenticated by their senders.
//!
//! Every message carries an HMAC-SHA256 with the key its sender and receiver share and a nonce;
//! forged, altered and replayed messages are dropped and counted ([`Pbft::rejections`]).

mod auth;
pub mod byzantine;
mod fingerprint;
mod messages;
pub mod view_change;

pub use auth::{Keys, Rejections, ReplayWindow};
pub use fingerprint::TIMER_LEAP_US;
pub use messages::{
    digest, digest_key, null_digest, state_digest, Body, CheckpointState, Digest, Envelope,
    NewView, PbftPersistOp, PbftPersisted, PbftReady, PreparedEntry, SlotRecord, View, ViewChange,
};

use crate::membership::Membership;
use crate::raft::NotLeader;
use crate::types::{Entry, Index, NodeId, Role, Snapshot, TimeUs};
use bytes::Bytes;
use distsys_types::{FaultModel, QuorumSystem};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// Configuration. Times are in microseconds of the driver's clock.
#[derive(Debug, Clone)]
pub struct PbftConfig {
    /// This replica.
    pub id: NodeId,
    /// Every replica, this one included (n = 3f+1).
    pub nodes: Vec<NodeId>,
    /// This replica's pair keys.
    pub keys: Keys,
    /// Requests between checkpoints (K).
    pub checkpoint_interval: Index,
    /// Sequence numbers the primary may assign above the stable checkpoint (L; a multiple of K).
    pub window: Index,
    /// How long a backup waits for a request it knows of to execute before it moves to the next
    /// view (doubled for every further view while changing).
    pub request_timeout_us: TimeUs,
    /// How often a replica resends what a stalled sequence number or view change needs.
    pub retransmit_us: TimeUs,
    /// A seeded bug to enable (tests and simulation only).
    pub mutant: Option<PbftMutant>,
}

impl PbftConfig {
    /// Defaults: checkpoints every 16 requests, a window of 64, 300 ms request timer, 50 ms
    /// retransmission.
    pub fn new(id: NodeId, nodes: Vec<NodeId>, keys: Keys) -> PbftConfig {
        PbftConfig {
            id,
            nodes,
            keys,
            checkpoint_interval: 16,
            window: 64,
            request_timeout_us: 300_000,
            retransmit_us: 50_000,
            mutant: None,
        }
    }

    /// The number of byzantine replicas tolerated: f = (n - 1) / 3.
    pub fn faults_tolerated(&self) -> usize {
        QuorumSystem::max_byzantine_faults(self.nodes.len())
    }

    /// How long a replica waits for view `v + attempt` to start once a quorum asked for it,
    /// having last been in view `v`: the request timeout doubled for each view that failed,
    /// at most [`MAX_VIEW_CHANGE_DOUBLINGS`] times. Unbounded doubling (as in the paper) makes
    /// the wait after a long fault grow with the fault's length (seconds after a few failed
    /// views); a cap keeps recovery within [`PbftConfig::recovery_bound_us`] once the network
    /// delivers within the capped timeout.
    pub fn view_change_timeout_us(&self, attempt: View) -> TimeUs {
        let doublings = attempt
            .saturating_sub(1)
            .min(u64::from(MAX_VIEW_CHANGE_DOUBLINGS));
        self.request_timeout_us << doublings
    }

    /// The longest a correct cluster takes, after the network heals and every correct replica
    /// runs, to complete a client request: the view-change timer in progress, then up to `f`
    /// views whose primaries are byzantine, each at the longest view-change timeout, then one
    /// more for a correct primary to install its view and execute: `(f + 2)` longest timeouts.
    pub fn recovery_bound_us(&self) -> TimeUs {
        let longest = self.view_change_timeout_us(View::MAX);
        (self.faults_tolerated() as TimeUs + 2).saturating_mul(longest)
    }

    /// The byzantine quorum system of these replicas at the most faults they tolerate (with
    /// the `fixed-quorum` seeded bug: that of 3f+1 replicas, quorums of 2f+1, whatever n).
    pub fn quorum_system(&self) -> QuorumSystem {
        if self.mutant == Some(PbftMutant::FixedQuorum) {
            let f = self.faults_tolerated();
            return QuorumSystem::byzantine_max(QuorumSystem::min_nodes(FaultModel::Byzantine, f));
        }
        QuorumSystem::byzantine_max(self.nodes.len())
    }
}

/// The most times a view-change timeout doubles (see [`PbftConfig::view_change_timeout_us`]).
pub const MAX_VIEW_CHANGE_DOUBLINGS: u32 = 2;

/// How many executed requests a replica remembers by digest (32 bytes each): far more than a
/// lagging replica holds pending, so a request it relays late is recognised as done.
pub const EXECUTED_MEMORY: usize = 16_384;

/// Deliberately broken PBFT variants; the byzantine campaigns must catch every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PbftMutant {
    /// A backup accepts a pre-prepare without checking that the request matches its digest.
    SkipDigestCheck,
    /// Messages are accepted without checking their authenticator or nonce.
    AcceptUnauthenticated,
    /// A backup accepts a new view as the primary states it, without recomputing the decision
    /// from the view-change messages.
    NewViewWithoutProofs,
    /// Replicas leave their prepared requests out of their view-change messages.
    ViewChangeWithoutPrepared,
    /// Quorums of a literal 2f+1 replicas whatever n: a quorum only at n = 3f+1. At n = 5
    /// (f = 1) two sets of 3 share one replica, which may be the byzantine one, so two digests
    /// can commit at one sequence number. The bug a past version shipped.
    FixedQuorum,
}

impl PbftMutant {
    /// Every mutant.
    pub const ALL: [PbftMutant; 5] = [
        PbftMutant::SkipDigestCheck,
        PbftMutant::AcceptUnauthenticated,
        PbftMutant::NewViewWithoutProofs,
        PbftMutant::ViewChangeWithoutPrepared,
        PbftMutant::FixedQuorum,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PbftMutant::SkipDigestCheck => "skip-digest-check",
            PbftMutant::AcceptUnauthenticated => "accept-unauthenticated",
            PbftMutant::NewViewWithoutProofs => "new-view-without-proofs",
            PbftMutant::ViewChangeWithoutPrepared => "view-change-without-prepared",
            PbftMutant::FixedQuorum => "fixed-quorum",
        }
    }

    /// What the bug is.
    pub fn description(self) -> &'static str {
        match self {
            PbftMutant::SkipDigestCheck => {
                "a backup accepts a pre-prepare whose request does not match its digest"
            }
            PbftMutant::AcceptUnauthenticated => {
                "messages are accepted without checking their MAC or nonce (forgeries and replays get in)"
            }
            PbftMutant::NewViewWithoutProofs => {
                "a backup takes a new view's decision on the primary's word, without recomputing it"
            }
            PbftMutant::ViewChangeWithoutPrepared => {
                "view-change messages leave out prepared requests (a new view may drop committed ones)"
            }
            PbftMutant::FixedQuorum => {
                "quorums of 2f+1 whatever n (not a quorum when n > 3f+1: at n = 5 two share one replica)"
            }
        }
    }

    /// The smallest cluster whose behaviour the bug changes: 5 for `fixed-quorum` (2f+1 is
    /// the right quorum at n = 3f+1), 4 for the others.
    pub fn smallest_cluster(self) -> usize {
        match self {
            PbftMutant::FixedQuorum => 5,
            _ => 4,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Slot {
    /// The pre-prepare accepted in the latest view: (view, digest).
    accepted: Option<(View, Digest)>,
    /// The request with the accepted digest.
    request: Option<Bytes>,
    prepares: BTreeMap<(View, Digest), BTreeSet<NodeId>>,
    commits: BTreeMap<(View, Digest), BTreeSet<NodeId>>,
    /// The view in which this replica became prepared and sent its commit.
    commit_sent_in: Option<View>,
    committed: Option<Digest>,
    /// Q: digests pre-prepared here, with the latest view.
    pre_prepared: BTreeMap<Digest, View>,
    /// P: the latest prepared request.
    prepared: Option<PreparedEntry>,
    /// Chain hash after executing this sequence number (set when executed).
    chain: Option<u64>,
    /// When this replica last resent its votes here to each peer (see `Pbft::help`).
    helped: BTreeMap<NodeId, TimeUs>,
    touched_at: TimeUs,
}

impl Slot {
    fn record(&self) -> SlotRecord {
        SlotRecord {
            accepted: self
                .accepted
                .zip(self.request.clone())
                .map(|((v, d), r)| (v, d, r)),
            prepared: self.prepared.clone(),
            pre_prepared: self.pre_prepared.clone(),
            committed: self.committed,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Changing {
    target: View,
    /// When 2f+1 replicas (this one included) had asked for `target`: only then does the timer
    /// run that moves on to the next view, so a lone replica cannot race ahead (Castro and
    /// Liskov's liveness rule).
    started: Option<TimeUs>,
    timeout: TimeUs,
}

#[derive(Debug, Clone, Copy)]
struct Fetch {
    seq: Index,
    digest: Digest,
    asked_at: TimeUs,
    attempt: usize,
}

/// One PBFT replica.
#[derive(Debug, Clone)]
pub struct Pbft {
    config: PbftConfig,
    /// The thresholds: quorum `floor((n+f)/2)+1`, vouching `f+1` (never a literal 2f+1, which
    /// is a quorum only at n = 3f+1).
    quorums: QuorumSystem,
    now: TimeUs,
    view: View,
    changing: Option<Changing>,
    slots: BTreeMap<Index, Slot>,
    /// Primary: next sequence number to assign.
    next_seq: Index,
    /// Primary: requests waiting for the window to move.
    queued: VecDeque<Bytes>,
    /// Primary: digests assigned and not yet executed.
    assigned: BTreeMap<Digest, Index>,
    /// True while [`Pbft::enter_view`] installs a new-view's pre-prepares: a checkpoint that
    /// becomes stable meanwhile must not assign queued requests, whose sequence numbers the
    /// new-view may still hold (the primary would pre-prepare two digests at one (view, seq)).
    installing_view: bool,
    /// Client requests known here and not executed yet, with when the timer started.
    pending: BTreeMap<Digest, (TimeUs, Bytes)>,
    executed: Index,
    chain: u64,
    stable: CheckpointState,
    own_checkpoints: BTreeMap<Index, CheckpointState>,
    checkpoint_votes: BTreeMap<(Index, Digest), BTreeSet<NodeId>>,
    fetching: Option<Fetch>,
    view_changes: BTreeMap<View, BTreeMap<NodeId, (ViewChange, Digest)>>,
    /// View-change acknowledgements: view -> (sender, digest) -> replicas that received it.
    acks: BTreeMap<View, BTreeMap<(NodeId, Digest), BTreeSet<NodeId>>>,
    /// When this replica last acknowledged each (view, sender).
    acked_at: BTreeMap<(View, NodeId), (Digest, TimeUs)>,
    /// The last view-change message this replica sent (resent while changing).
    sent_view_change: Option<ViewChange>,
    /// View-change messages this replica sent for the current view and later ones (resent to
    /// replicas that lag behind).
    sent_view_changes: BTreeMap<View, ViewChange>,
    /// The new-view message that started the current view, if this replica sent it.
    sent_new_view: Option<NewView>,
    /// A new-view waiting for view-change messages this replica has not received yet.
    pending_new_view: Option<NewView>,
    windows: BTreeMap<NodeId, ReplayWindow>,
    /// When this replica last resent view-change state to each lagging peer (at most once per
    /// retransmission interval, so two replicas never answer each other's answers forever).
    helped_at: BTreeMap<NodeId, TimeUs>,
    epoch: u64,
    counter: u64,
    rejections: Rejections,
    /// The last [`EXECUTED_MEMORY`] requests executed here, by digest (and in execution
    /// order, to forget the oldest): a late copy of one (relayed by a lagging replica) is
    /// neither timed by a backup nor ordered again by a primary.
    executed_digests: HashSet<Digest>,
    executed_order: VecDeque<Digest>,
    decided: Vec<(Index, Digest)>,
    last_decided: Vec<(Index, Digest)>,
    /// (sequence number, view, digest) prepared here since the last `ready`, and what the last
    /// `ready` covered (for the prepared-agreement check).
    prepared_now: Vec<(Index, View, Digest)>,
    last_prepared: Vec<(Index, View, Digest)>,
    retransmit_at: TimeUs,
    ready: PbftReady,
}

impl Pbft {
    /// A replica recovering from its persisted state (empty for a new one). It starts a new
    /// nonce epoch, so its peers accept its messages again after a restart.
    pub fn new(config: PbftConfig, persisted: &PbftPersisted, now: TimeUs) -> Pbft {
        debug_assert!(config.nodes.contains(&config.id), "a replica is a member");
        debug_assert!(config.window >= 2 * config.checkpoint_interval);
        let quorums = config.quorum_system();
        let stable = persisted
            .stable
            .clone()
            .unwrap_or_else(CheckpointState::genesis);
        let mut pbft = Pbft {
            quorums,
            now,
            view: persisted.view,
            changing: None,
            slots: BTreeMap::new(),
            next_seq: stable.seq + 1,
            queued: VecDeque::new(),
            assigned: BTreeMap::new(),
            installing_view: false,
            pending: BTreeMap::new(),
            executed: stable.seq,
            chain: stable.chain,
            own_checkpoints: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            fetching: None,
            view_changes: BTreeMap::new(),
            acks: BTreeMap::new(),
            acked_at: BTreeMap::new(),
            sent_view_change: None,
            sent_view_changes: persisted.sent_view_changes.clone(),
            sent_new_view: persisted.sent_new_view.clone(),
            pending_new_view: None,
            windows: BTreeMap::new(),
            helped_at: BTreeMap::new(),
            epoch: persisted.epoch + 1,
            counter: 0,
            rejections: Rejections::default(),
            executed_digests: HashSet::new(),
            executed_order: VecDeque::new(),
            decided: Vec::new(),
            last_decided: Vec::new(),
            prepared_now: Vec::new(),
            last_prepared: Vec::new(),
            retransmit_at: now,
            ready: PbftReady::default(),
            stable,
            config,
        };
        pbft.ready.persist.push(PbftPersistOp::Epoch(pbft.epoch));
        let me = pbft.config.id;
        let (current, current_primary) = (pbft.view, pbft.primary(pbft.view));
        for (&seq, record) in &persisted.slots {
            let slot = pbft.slots.entry(seq).or_default();
            if let Some((view, digest, request)) = &record.accepted {
                slot.accepted = Some((*view, *digest));
                slot.request = Some(request.clone());
                if *view == current && current_primary != me {
                    slot.prepares
                        .entry((*view, *digest))
                        .or_default()
                        .insert(me);
                }
            }
            slot.prepared = record.prepared.clone();
            if let Some(p) = &record.prepared {
                if p.view == current {
                    slot.commit_sent_in = Some(p.view);
                    slot.commits
                        .entry((p.view, p.digest))
                        .or_default()
                        .insert(me);
                }
            }
            slot.pre_prepared = record.pre_prepared.clone();
            slot.committed = record.committed;
            if let Some((_, digest)) = slot.accepted {
                pbft.assigned.insert(digest, seq);
            }
            pbft.next_seq = pbft.next_seq.max(seq + 1);
        }
        pbft.role_changed();
        pbft.execute();
        if let Some(target) = persisted.changing_to {
            // It was changing views when it stopped: say so again (same promises, from disk).
            pbft.start_view_change(target);
        }
        pbft
    }

    /// The view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The primary of `view`.
    pub fn primary(&self, view: View) -> NodeId {
        self.config.nodes[(view % self.config.nodes.len() as u64) as usize]
    }

    fn is_primary(&self) -> bool {
        self.primary(self.view) == self.config.id
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// Whether it is between views.
    pub fn changing_view(&self) -> bool {
        self.changing.is_some()
    }

    /// The view it is changing to, if it is between views.
    pub fn target_view(&self) -> Option<View> {
        self.changing.map(|c| c.target)
    }

    /// Last sequence number executed.
    pub fn executed(&self) -> Index {
        self.executed
    }

    /// The last stable checkpoint.
    pub fn stable_checkpoint(&self) -> Index {
        self.stable.seq
    }

    /// Requests between checkpoints.
    pub fn config_checkpoint_interval(&self) -> Index {
        self.config.checkpoint_interval
    }

    /// Messages refused so far, by reason.
    pub fn rejections(&self) -> Rejections {
        self.rejections
    }

    /// Sequence numbers committed here since the previous [`Pbft::ready`] call but one (what the
    /// last `ready` reported), for the agreement check.
    pub fn recently_decided(&self) -> &[(Index, Digest)] {
        &self.last_decided
    }

    /// (sequence number, view, digest) this replica became prepared for in the steps the last
    /// [`Pbft::ready`] reported, for the prepared-agreement check.
    pub fn recently_prepared(&self) -> &[(Index, View, Digest)] {
        &self.last_prepared
    }

    /// Current role: primary (leader), backup (follower), or changing views (candidate).
    pub fn role(&self) -> Role {
        if self.changing.is_some() {
            Role::Candidate
        } else if self.is_primary() {
            Role::Leader
        } else {
            Role::Follower
        }
    }

    /// The primary this replica follows, unless it is changing views.
    pub fn leader(&self) -> Option<NodeId> {
        self.changing.is_none().then(|| self.primary(self.view))
    }

    /// The stable checkpoint's state on disk.
    pub fn snapshot_data(disk: &PbftPersisted) -> Option<&[u8]> {
        disk.stable
            .as_ref()
            .map(|s| s.data.as_ref())
            .filter(|d| !d.is_empty())
    }

    fn role_changed(&mut self) {
        let term = self.changing.map_or(self.view, |c| c.target);
        self.ready.roles.push((self.role(), term));
    }

    fn low(&self) -> Index {
        self.stable.seq
    }

    fn high(&self) -> Index {
        self.stable.seq + self.config.window
    }

    fn send(&mut self, to: NodeId, body: Body) {
        self.counter += 1;
        let envelope = self.config.keys.seal(to, self.epoch, self.counter, body);
        self.ready.messages.push((to, envelope));
    }

    fn multicast(&mut self, body: Body) {
        let others: Vec<NodeId> = self
            .config
            .nodes
            .iter()
            .copied()
            .filter(|n| *n != self.config.id)
            .collect();
        for to in others {
            self.send(to, body.clone());
        }
    }

    fn persist_slot(&mut self, seq: Index) {
        if let Some(slot) = self.slots.get(&seq) {
            let record = slot.record();
            self.ready.persist.push(PbftPersistOp::Slot(seq, record));
        }
    }

    fn persist_view(&mut self) {
        self.ready.persist.push(PbftPersistOp::View {
            view: self.view,
            changing_to: self.changing.map(|c| c.target),
        });
    }

    // ----- inputs -----

    /// Moves the clock to `now` without firing any timer (see [`crate::Core::advance_clock`]).
    pub fn advance_clock(&mut self, now: TimeUs) {
        self.now = self.now.max(now);
    }

    /// Advances the clock: request timers, view-change timers, retransmission.
    pub fn tick(&mut self, now: TimeUs) {
        self.advance_clock(now);
        let now = self.now;
        match self.changing {
            Some(Changing {
                target,
                started: Some(started),
                timeout,
            }) if now >= started + timeout => self.start_view_change(target + 1),
            // The primary too: a primary whose requests do not execute (its view may be over
            // without it knowing, after a restart) asks for the next view like anyone else.
            None if self
                .pending
                .values()
                .any(|(since, _)| now >= since + self.config.request_timeout_us) =>
            {
                self.relay_overdue();
                self.start_view_change(self.view + 1)
            }
            _ => {}
        }
        if now >= self.retransmit_at + self.config.retransmit_us {
            self.retransmit_at = now;
            self.retransmit();
        }
    }

    /// A client request (encoded command) arriving at this replica. The primary assigns it a
    /// sequence number; a backup passes it to the primary and times it (if the timer ends, it
    /// passes the request to every replica before asking for the next view, as a PBFT client
    /// broadcasts its retry, so the other backups time it too and the view ends for all of
    /// them, not for this backup alone). Always `Ok(0)`: the answer comes from every replica
    /// once executed.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        let data = Bytes::from(data);
        let d = digest(&data);
        if self.executed_recently(d) {
            // Executed already: the driver answers a retry from the client's session.
            return Ok(0);
        }
        self.pending.entry(d).or_insert((self.now, data.clone()));
        if self.is_primary() && self.changing.is_none() && !self.installing_view {
            self.assign(d, data);
        } else if self.changing.is_none() {
            let primary = self.primary(self.view);
            self.send(primary, Body::Request { data });
        }
        Ok(0)
    }

    /// Passes every request whose timer ended to every replica (a backup's other replicas may
    /// never have seen it: the node's clients talk to one replica).
    fn relay_overdue(&mut self) {
        let due = self.now.saturating_sub(self.config.request_timeout_us);
        for data in self.pending_since(due) {
            self.multicast(Body::Request { data });
        }
    }

    /// The client requests this replica has waited for since `cutoff` or earlier.
    fn pending_since(&self, cutoff: TimeUs) -> Vec<Bytes> {
        self.pending
            .values()
            .filter(|(since, _)| *since <= cutoff)
            .map(|(_, request)| request.clone())
            .collect()
    }

    /// Remembers that `d` executed, forgetting the oldest beyond [`EXECUTED_MEMORY`].
    fn remember_executed(&mut self, d: Digest) {
        if self.executed_digests.insert(d) {
            self.executed_order.push_back(d);
        }
        while self.executed_order.len() > EXECUTED_MEMORY {
            if let Some(old) = self.executed_order.pop_front() {
                self.executed_digests.remove(&old);
            }
        }
        debug_assert_eq!(self.executed_digests.len(), self.executed_order.len());
    }

    /// A request another replica passed on: the primary assigns it; a backup times it like
    /// its own (and the primary gets it from the replica that passed it).
    fn on_request(&mut self, data: Bytes) {
        if self.changing.is_some() {
            return;
        }
        let d = digest(&data);
        if self.is_primary() {
            if !self.installing_view {
                self.assign(d, data);
            }
        } else if !self.executed_recently(d) {
            self.pending.entry(d).or_insert((self.now, data));
        }
    }

    /// Whether a request with digest `d` executed here among the last [`EXECUTED_MEMORY`]: a
    /// late copy of it must not start a timer, nor be ordered again.
    fn executed_recently(&self, d: Digest) -> bool {
        self.executed_digests.contains(&d)
    }

    /// An envelope from the network. Unauthenticated, misaddressed and replayed ones are dropped
    /// and counted.
    pub fn step(&mut self, _from: NodeId, envelope: Envelope) {
        let from = envelope.from;
        if from == self.config.id || !self.config.nodes.contains(&from) {
            self.rejections.forged += 1;
            return;
        }
        if self.config.mutant != Some(PbftMutant::AcceptUnauthenticated) {
            if !self.config.keys.verify(&envelope) {
                self.rejections.forged += 1;
                return;
            }
            let window = self.windows.entry(from).or_default();
            if !window.accept(envelope.epoch, envelope.counter) {
                self.rejections.replayed += 1;
                return;
            }
        }
        match envelope.body {
            Body::Request { data } => self.on_request(data),
            Body::PrePrepare {
                view,
                seq,
                digest,
                request,
            } => self.on_pre_prepare(from, view, seq, digest, request),
            Body::Prepare { view, seq, digest } => self.on_prepare(from, view, seq, digest),
            Body::Commit { view, seq, digest } => self.on_commit(from, view, seq, digest),
            Body::Checkpoint { seq, digest } => self.on_checkpoint(from, seq, digest),
            Body::ViewChange(vc) => self.on_view_change(from, vc),
            Body::ViewChangeAck {
                view,
                sender,
                digest,
            } => self.on_view_change_ack(from, view, sender, digest),
            Body::NewView(nv) => self.on_new_view(from, nv),
            Body::FetchState { seq } => self.on_fetch_state(from, seq),
            Body::State { seq, chain, data } => self.on_state(seq, chain, data),
            Body::Status { view, executed } => self.on_status(from, view, executed),
        }
    }

    /// Drains the outputs.
    pub fn ready(&mut self) -> PbftReady {
        self.last_decided = std::mem::take(&mut self.decided);
        self.last_prepared = std::mem::take(&mut self.prepared_now);
        std::mem::take(&mut self.ready)
    }

    // ----- normal case -----

    fn assign(&mut self, d: Digest, request: Bytes) {
        if self.assigned.contains_key(&d) || self.executed_recently(d) {
            return;
        }
        if self.next_seq > self.high() {
            if !self.queued.iter().any(|q| digest(q) == d) {
                self.queued.push_back(request);
            }
            return;
        }
        let (seq, view) = (self.next_seq, self.view);
        self.next_seq += 1;
        self.assigned.insert(d, seq);
        self.accept(seq, d, request.clone());
        self.multicast(Body::PrePrepare {
            view,
            seq,
            digest: d,
            request,
        });
    }

    /// Records the pre-prepare of `d` (with its request) at `seq` in the current view and writes
    /// it to disk; a backup also votes for it (its own prepare, multicast to all) and checks
    /// whether it is prepared. The primary's own pre-prepares carry no prepare.
    fn accept(&mut self, seq: Index, d: Digest, request: Bytes) {
        let (view, now, me) = (self.view, self.now, self.config.id);
        let backup = !self.is_primary();
        debug_assert!(
            seq > self.stable.seq,
            "pre-prepares above the stable checkpoint only"
        );
        let slot = self.slots.entry(seq).or_default();
        debug_assert!(
            slot.accepted.is_none_or(|(v, old)| v != view || old == d),
            "one digest per (view, seq): a replica never accepts two pre-prepares for one slot"
        );
        slot.accepted = Some((view, d));
        slot.request = Some(request);
        let q = slot.pre_prepared.entry(d).or_insert(view);
        *q = (*q).max(view);
        slot.touched_at = now;
        if backup {
            slot.prepares.entry((view, d)).or_default().insert(me);
        }
        self.persist_slot(seq);
        if backup {
            self.multicast(Body::Prepare {
                view,
                seq,
                digest: d,
            });
        }
        self.check_prepared(seq);
    }

    fn in_window(&self, seq: Index) -> bool {
        seq > self.low() && seq <= self.high()
    }

    fn on_pre_prepare(&mut self, from: NodeId, view: View, seq: Index, d: Digest, request: Bytes) {
        if self.changing.is_some() || view != self.view || from != self.primary(view) {
            return;
        }
        if !self.in_window(seq) {
            return;
        }
        if self.config.mutant != Some(PbftMutant::SkipDigestCheck) && digest(&request) != d {
            self.rejections.bad_digest += 1;
            return;
        }
        let slot = self.slots.entry(seq).or_default();
        if let Some((v, accepted)) = slot.accepted {
            if v == view {
                if accepted != d {
                    self.rejections.equivocation += 1;
                    return;
                }
                // A retransmission: the primary lacks this replica's votes for this number.
                self.help(from, seq, false);
                return;
            }
        }
        self.accept(seq, d, request);
    }

    fn on_prepare(&mut self, from: NodeId, view: View, seq: Index, d: Digest) {
        if self.changing.is_some() || view != self.view || from == self.primary(view) {
            return;
        }
        if !self.in_window(seq) {
            return;
        }
        let slot = self.slots.entry(seq).or_default();
        slot.prepares.entry((view, d)).or_default().insert(from);
        if slot.committed.is_some() {
            // The sender is still working on a number this replica already committed.
            self.help(from, seq, false);
        }
        self.check_prepared(seq);
    }

    /// Resends this replica's own votes for `seq` (its prepare as a backup, its commit once
    /// prepared; with `pre_prepare`, the primary's pre-prepare too, for a peer that may never
    /// have seen it) to a peer whose retransmission or status shows it still works on that
    /// number; at most once per retransmission interval per peer, so two replicas never answer
    /// each other's answers without end.
    fn help(&mut self, to: NodeId, seq: Index, pre_prepare: bool) {
        let (view, now) = (self.view, self.now);
        let interval = self.config.retransmit_us;
        let backup = !self.is_primary();
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        let Some((_, d)) = slot.accepted.filter(|(v, _)| *v == view) else {
            return;
        };
        if slot.helped.get(&to).is_some_and(|at| now < at + interval) {
            return;
        }
        slot.helped.insert(to, now);
        let committing = slot.commit_sent_in == Some(view);
        if pre_prepare && !backup {
            if let Some(request) = slot.request.clone() {
                self.send(
                    to,
                    Body::PrePrepare {
                        view,
                        seq,
                        digest: d,
                        request,
                    },
                );
            }
        }
        if backup {
            self.send(
                to,
                Body::Prepare {
                    view,
                    seq,
                    digest: d,
                },
            );
        }
        if committing {
            self.send(
                to,
                Body::Commit {
                    view,
                    seq,
                    digest: d,
                },
            );
        }
    }

    fn check_prepared(&mut self, seq: Index) {
        let view = self.view;
        let me = self.config.id;
        // The pre-prepare stands for the primary's vote: prepared = a quorum with it.
        let needed = self.quorums.quorum() - 1;
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        let Some((v, d)) = slot.accepted else {
            return;
        };
        if v != view || slot.commit_sent_in == Some(view) {
            return;
        }
        if slot.prepares.get(&(v, d)).map_or(0, BTreeSet::len) < needed {
            return;
        }
        let request = slot.request.clone().unwrap_or_default();
        slot.prepared = Some(PreparedEntry {
            seq,
            digest: d,
            view,
            request,
        });
        slot.commit_sent_in = Some(view);
        slot.commits.entry((view, d)).or_default().insert(me);
        self.prepared_now.push((seq, view, d));
        self.persist_slot(seq);
        self.multicast(Body::Commit {
            view,
            seq,
            digest: d,
        });
        self.check_committed(seq);
    }

    fn on_commit(&mut self, from: NodeId, view: View, seq: Index, d: Digest) {
        if self.changing.is_some() || view != self.view || !self.in_window(seq) {
            return;
        }
        let slot = self.slots.entry(seq).or_default();
        let first = slot.commits.entry((view, d)).or_default().insert(from);
        if !first && slot.committed == Some(d) {
            // A retransmission: the sender lacks commits for a number this replica committed.
            self.help(from, seq, false);
        }
        self.check_committed(seq);
    }

    fn check_committed(&mut self, seq: Index) {
        let view = self.view;
        let quorum = self.quorums.quorum();
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        let Some((v, d)) = slot.accepted else {
            return;
        };
        if v != view || slot.commit_sent_in != Some(view) || slot.committed == Some(d) {
            return;
        }
        if slot.commits.get(&(v, d)).map_or(0, BTreeSet::len) < quorum {
            return;
        }
        debug_assert!(
            slot.prepared
                .as_ref()
                .is_some_and(|p| p.digest == d && p.view == view),
            "committed-local only after prepared here, in this view, for this digest"
        );
        slot.committed = Some(d);
        self.decided.push((seq, d));
        self.persist_slot(seq);
        self.execute();
    }

    /// Executes committed requests in sequence order.
    fn execute(&mut self) {
        loop {
            let next = self.executed + 1;
            let Some(slot) = self.slots.get_mut(&next) else {
                break;
            };
            let Some(d) = slot.committed else {
                break;
            };
            let request = if d == null_digest() {
                Bytes::new()
            } else {
                slot.request.clone().unwrap_or_default()
            };
            debug_assert!(slot.chain.is_none(), "each sequence number executes once");
            let entry = Entry::new(self.chain, next, 0, request, None);
            slot.chain = Some(entry.chain);
            self.chain = entry.chain;
            self.executed = next;
            self.pending.remove(&d);
            self.assigned.remove(&d);
            if d != null_digest() {
                self.remember_executed(d);
            }
            self.ready.committed.push(entry);
        }
    }

    /// A backup passes the client requests it holds to the primary of its view (a request
    /// the primary has or executed above its checkpoint is not assigned twice; one executed
    /// before that costs a sequence number, never a second effect: the state machine applies a
    /// client's command once). Not while it fetches a state, which may hold them executed.
    fn forward_pending(&mut self) {
        if self.is_primary() || self.changing.is_some() || self.fetching.is_some() {
            return;
        }
        let primary = self.primary(self.view);
        for data in self.pending_since(TimeUs::MAX) {
            self.send(primary, Body::Request { data });
        }
    }

    fn retransmit(&mut self) {
        let now = self.now;
        if self.changing.is_some() {
            if let Some(vc) = self.sent_view_change.clone() {
                self.multicast(Body::ViewChange(vc));
            }
            return;
        }
        let view = self.view;
        // A request has waited half its timeout here (longer than a normal commit takes, so a
        // healthy cluster sends none): peers that moved on (a later view, more executed) say
        // how, before the timer ends in a view change.
        let overdue_at = now.saturating_sub(self.config.request_timeout_us / 2);
        if self.pending.values().any(|(since, _)| *since <= overdue_at) {
            self.multicast(Body::Status {
                view,
                executed: self.executed,
            });
        }
        let primary = self.is_primary();
        let first = self.executed + 1;
        let stalled: Vec<(Index, Digest, Bytes, bool)> = self
            .slots
            .range(first..=self.high().max(first))
            .filter(|(_, s)| {
                s.committed.is_none() && now >= s.touched_at + self.config.retransmit_us
            })
            .filter_map(|(seq, s)| {
                let (v, d) = s.accepted?;
                (v == view).then(|| {
                    (
                        *seq,
                        d,
                        s.request.clone().unwrap_or_default(),
                        s.commit_sent_in == Some(view),
                    )
                })
            })
            .collect();
        for (seq, d, request, committing) in stalled {
            if let Some(slot) = self.slots.get_mut(&seq) {
                slot.touched_at = now;
            }
            if primary {
                self.multicast(Body::PrePrepare {
                    view,
                    seq,
                    digest: d,
                    request,
                });
            } else {
                self.multicast(Body::Prepare {
                    view,
                    seq,
                    digest: d,
                });
            }
            if committing {
                self.multicast(Body::Commit {
                    view,
                    seq,
                    digest: d,
                });
            }
        }
        if let Some((seq, cp)) = self.own_checkpoints.last_key_value() {
            let body = Body::Checkpoint {
                seq: *seq,
                digest: cp.digest,
            };
            self.multicast(body);
        }
        if let Some(fetch) = self.fetching {
            if now >= fetch.asked_at + self.config.retransmit_us {
                self.ask_for_state();
            }
        }
    }

    // ----- checkpoints and state transfer -----

    /// Takes a checkpoint of the state after executing `seq` (the driver calls this every
    /// `checkpoint_interval` requests with the state machine's snapshot).
    pub fn checkpoint(&mut self, seq: Index, data: Vec<u8>) {
        if seq <= self.stable.seq || seq > self.executed {
            return;
        }
        let Some(chain) = self.slots.get(&seq).and_then(|s| s.chain) else {
            return;
        };
        let checkpoint = CheckpointState {
            seq,
            chain,
            digest: state_digest(chain, &data),
            data: Bytes::from(data),
        };
        self.hold_checkpoint(checkpoint);
    }

    fn on_checkpoint(&mut self, from: NodeId, seq: Index, d: Digest) {
        if seq <= self.stable.seq {
            if seq < self.stable.seq {
                // The sender is behind: tell it where the cluster is.
                let body = Body::Checkpoint {
                    seq: self.stable.seq,
                    digest: self.stable.digest,
                };
                self.send(from, body);
            }
            return;
        }
        let votes = self.checkpoint_votes.entry((seq, d)).or_default();
        votes.insert(from);
        let count = votes.len();
        self.check_stable(seq, d);
        if seq > self.executed && self.quorums.is_vouched(count) {
            self.start_fetch(seq, d);
        }
    }

    fn check_stable(&mut self, seq: Index, d: Digest) {
        let votes = self
            .checkpoint_votes
            .get(&(seq, d))
            .map_or(0, BTreeSet::len);
        if !self.quorums.is_quorum(votes) {
            return;
        }
        match self.own_checkpoints.get(&seq) {
            Some(cp) if cp.digest == d => {
                let cp = cp.clone();
                self.make_stable(cp);
            }
            _ if seq > self.executed => self.start_fetch(seq, d),
            _ => {}
        }
    }

    /// This replica holds `checkpoint` (it executed up to it, or fetched a state f+1 replicas
    /// vouch for): it announces it, and the checkpoint becomes stable once a quorum does.
    fn hold_checkpoint(&mut self, checkpoint: CheckpointState) {
        let (seq, d) = (checkpoint.seq, checkpoint.digest);
        debug_assert!(
            seq <= self.executed,
            "a replica holds only states it has reached"
        );
        self.own_checkpoints.insert(seq, checkpoint);
        self.checkpoint_votes
            .entry((seq, d))
            .or_default()
            .insert(self.config.id);
        self.multicast(Body::Checkpoint { seq, digest: d });
        self.check_stable(seq, d);
    }

    /// The low watermark moves to `checkpoint`: a quorum announced it, or a new view (whose
    /// decision a quorum's view-change messages justify) starts from it.
    fn make_stable(&mut self, checkpoint: CheckpointState) {
        debug_assert!(
            checkpoint.seq <= self.executed || self.own_checkpoints.contains_key(&checkpoint.seq)
        );
        if checkpoint.seq <= self.stable.seq {
            return;
        }
        let seq = checkpoint.seq;
        self.ready
            .persist
            .push(PbftPersistOp::Stable(checkpoint.clone()));
        self.stable = checkpoint;
        self.slots.retain(|s, _| *s > seq);
        self.own_checkpoints.retain(|s, _| *s > seq);
        self.checkpoint_votes.retain(|(s, _), _| *s > seq);
        self.assigned.retain(|_, s| *s > seq);
        self.next_seq = self.next_seq.max(seq + 1);
        if self.is_primary() && self.changing.is_none() && !self.installing_view {
            while self.next_seq <= self.high() {
                let Some(request) = self.queued.pop_front() else {
                    break;
                };
                let d = digest(&request);
                self.assign(d, request);
            }
        }
    }

    fn start_fetch(&mut self, seq: Index, d: Digest) {
        if seq <= self.executed || self.fetching.is_some_and(|f| f.seq >= seq) {
            return;
        }
        self.fetching = Some(Fetch {
            seq,
            digest: d,
            asked_at: self.now,
            attempt: 0,
        });
        self.ask_for_state();
    }

    fn ask_for_state(&mut self) {
        let Some(mut fetch) = self.fetching else {
            return;
        };
        let me = self.config.id;
        let sources: Vec<NodeId> = self
            .checkpoint_votes
            .get(&(fetch.seq, fetch.digest))
            .map(|v| v.iter().copied().filter(|n| *n != me).collect())
            .unwrap_or_default();
        if sources.is_empty() {
            self.fetching = None;
            return;
        }
        let source = sources[fetch.attempt % sources.len()];
        fetch.attempt += 1;
        fetch.asked_at = self.now;
        self.fetching = Some(fetch);
        self.send(source, Body::FetchState { seq: fetch.seq });
    }

    fn on_fetch_state(&mut self, from: NodeId, seq: Index) {
        let checkpoint = if self.stable.seq == seq {
            Some(self.stable.clone())
        } else {
            self.own_checkpoints.get(&seq).cloned()
        };
        if let Some(cp) = checkpoint {
            self.send(
                from,
                Body::State {
                    seq,
                    chain: cp.chain,
                    data: cp.data,
                },
            );
        }
    }

    fn on_state(&mut self, seq: Index, chain: u64, data: Bytes) {
        let Some(fetch) = self.fetching else {
            return;
        };
        if fetch.seq != seq {
            return;
        }
        let d = state_digest(chain, &data);
        if d != fetch.digest {
            self.rejections.bad_digest += 1;
            return;
        }
        self.fetching = None;
        if seq <= self.executed {
            return;
        }
        self.executed = seq;
        self.chain = chain;
        self.ready.install = Some(Snapshot {
            last_index: seq,
            last_term: 0,
            last_chain: chain,
            membership: Membership::new(self.config.nodes.iter().copied()),
            data: data.clone(),
        });
        // f+1 replicas vouch for this state, so a correct one holds it and it is safe to run
        // from. It becomes the low watermark only once a quorum announced it: a stable
        // checkpoint fewer than a quorum hold would make view changes wait for a checkpoint
        // certificate that cannot form (the new primary needs a quorum at or below it).
        self.hold_checkpoint(CheckpointState {
            seq,
            chain,
            data,
            digest: d,
        });
        // Requests waiting here may be among those the transferred state executed: this
        // replica cannot tell (the state is opaque), and a stale one would fire a view change
        // every request timeout and, once this replica is primary, be ordered again (known-bugs
        // class: a storm of re-proposals after a view change). Forget them all: a request not
        // executed yet comes back with its client's retry, which goes to every replica.
        self.pending.clear();
        self.execute();
    }

    // ----- view change -----

    fn start_view_change(&mut self, target: View) {
        if target <= self.view || self.changing.is_some_and(|c| c.target >= target) {
            return;
        }
        debug_assert!(
            target > self.view,
            "a view change aims past the current view"
        );
        self.changing = Some(Changing {
            target,
            started: None,
            timeout: self.config.view_change_timeout_us(target - self.view),
        });
        self.persist_view();
        self.role_changed();
        // After a restart, the message sent before it (peers may hold it already).
        let vc = self
            .sent_view_changes
            .get(&target)
            .cloned()
            .unwrap_or_else(|| self.build_view_change(target));
        let d = vc_digest(&vc);
        self.view_changes
            .entry(target)
            .or_default()
            .insert(self.config.id, (vc.clone(), d));
        self.sent_view_change = Some(vc.clone());
        self.sent_view_changes.insert(target, vc.clone());
        self.ready
            .persist
            .push(PbftPersistOp::SentViewChange(vc.clone()));
        self.multicast(Body::ViewChange(vc));
        self.start_view_change_timer();
        self.try_new_view(target);
        self.try_pending_new_view();
    }

    fn build_view_change(&self, target: View) -> ViewChange {
        let above = self.slots.range(self.stable.seq + 1..);
        let prepared = if self.config.mutant == Some(PbftMutant::ViewChangeWithoutPrepared) {
            Vec::new()
        } else {
            above
                .clone()
                .filter_map(|(_, s)| s.prepared.clone())
                .collect()
        };
        let pre_prepared = above
            .flat_map(|(seq, s)| s.pre_prepared.iter().map(|(d, v)| (*seq, *d, *v)))
            .collect();
        let checkpoints = std::iter::once((self.stable.seq, self.stable.digest))
            .chain(self.own_checkpoints.values().map(|c| (c.seq, c.digest)))
            .collect();
        ViewChange {
            view: target,
            stable: self.stable.seq,
            checkpoints,
            prepared,
            pre_prepared,
        }
    }

    fn on_view_change(&mut self, from: NodeId, vc: ViewChange) {
        let my_target = self.changing.map_or(self.view, |c| c.target);
        let lagging = vc.view < my_target || (vc.view == self.view && self.changing.is_none());
        if lagging {
            self.lead_on(from, vc.view);
        }
        if vc.view <= self.view {
            return;
        }
        if vc.prepared.iter().any(|p| digest(&p.request) != p.digest) {
            self.rejections.bad_digest += 1;
            return;
        }
        let target = vc.view;
        let d = vc_digest(&vc);
        self.view_changes
            .entry(target)
            .or_default()
            .insert(from, (vc, d));
        self.acknowledge(target, from, d);
        self.start_view_change_timer();
        // f+1 replicas want a later view than this one: at least one correct replica does, so
        // join the smallest such view.
        let current = self.changing.map_or(self.view, |c| c.target);
        let mut wanting: BTreeMap<NodeId, View> = BTreeMap::new();
        for (view, senders) in self.view_changes.range(current + 1..) {
            for sender in senders.keys() {
                wanting.entry(*sender).or_insert(*view);
            }
        }
        wanting.remove(&self.config.id);
        if self.quorums.is_vouched(wanting.len()) {
            let smallest = wanting.values().copied().min().unwrap_or(target);
            self.start_view_change(smallest);
        }
        self.try_new_view(target);
        self.try_pending_new_view();
    }

    /// Resends to `to`, a peer that lags behind (it asks for view `asked`, or is in it, with
    /// `asked` at most this replica's view or target), what moved this replica on: its
    /// view-change messages for `asked` and for its own view, and the new-view it sent, so the
    /// peer can follow. At most once per retransmission interval per peer.
    fn lead_on(&mut self, to: NodeId, asked: View) {
        let helped_recently = self
            .helped_at
            .get(&to)
            .is_some_and(|t| self.now < t + self.config.retransmit_us);
        if helped_recently {
            return;
        }
        self.helped_at.insert(to, self.now);
        let mut views = vec![asked, self.view];
        views.dedup();
        for v in views {
            if v > self.view && !self.sent_view_changes.contains_key(&v) {
                // Not sent (or forgotten in a restart) for a view this replica never
                // entered: its log has not changed since it left its view, so the message
                // it builds now says what it would have said then.
                let mine = self.build_view_change(v);
                self.sent_view_changes.insert(v, mine.clone());
                self.ready.persist.push(PbftPersistOp::SentViewChange(mine));
            }
            if let Some(mine) = self.sent_view_changes.get(&v).cloned() {
                self.send(to, Body::ViewChange(mine));
            }
        }
        if let Some(nv) = self.sent_new_view.clone().filter(|n| n.view >= asked) {
            self.send(to, Body::NewView(nv));
        }
    }

    /// A peer's status (a client request waits there). In an earlier view: it is led on to
    /// this one ([`Pbft::lead_on`]). In this view with fewer requests executed: it gets this
    /// replica's stable checkpoint if it is below it (so it can fetch the state), and for each
    /// number it lacks up to what executed here, the pre-prepare (from the primary) and this
    /// replica's prepare and commit, as a retransmission would carry them. Nothing changes
    /// here: only messages already sent are sent again, so a byzantine status costs bandwidth
    /// (bounded by the window and the retransmission interval), never safety.
    fn on_status(&mut self, from: NodeId, view: View, executed: Index) {
        if self.changing.is_some() || view > self.view {
            return;
        }
        if view < self.view {
            self.lead_on(from, self.view);
            return;
        }
        if executed >= self.executed {
            return;
        }
        if executed < self.stable.seq {
            let (seq, digest) = (self.stable.seq, self.stable.digest);
            self.send(from, Body::Checkpoint { seq, digest });
        }
        for seq in executed.max(self.stable.seq) + 1..=self.executed {
            self.help(from, seq, true);
        }
    }

    /// Tells every replica this one received `sender`'s view-change message with digest `d`
    /// (again at most once per retransmission interval, unless the message changed).
    fn acknowledge(&mut self, view: View, sender: NodeId, d: Digest) {
        let me = self.config.id;
        self.acks
            .entry(view)
            .or_default()
            .entry((sender, d))
            .or_default()
            .insert(me);
        let now = self.now;
        let fresh = match self.acked_at.get(&(view, sender)) {
            Some((acked, at)) => *acked != d || now >= at + self.config.retransmit_us,
            None => true,
        };
        if fresh {
            self.acked_at.insert((view, sender), (d, now));
            self.multicast(Body::ViewChangeAck {
                view,
                sender,
                digest: d,
            });
        }
    }

    fn on_view_change_ack(&mut self, from: NodeId, view: View, sender: NodeId, d: Digest) {
        if view <= self.view || sender == from {
            return;
        }
        self.acks
            .entry(view)
            .or_default()
            .entry((sender, d))
            .or_default()
            .insert(from);
        self.try_new_view(view);
        self.try_pending_new_view();
    }

    /// Whether f+1 replicas other than its sender acknowledged `sender`'s message with digest
    /// `d` for `view`: at least one correct replica received exactly that from the sender.
    fn vouched(&self, view: View, sender: NodeId, d: Digest) -> bool {
        self.acks
            .get(&view)
            .and_then(|a| a.get(&(sender, d)))
            .is_some_and(|ackers| {
                self.quorums
                    .is_vouched(ackers.iter().filter(|a| **a != sender).count())
            })
    }

    /// The highest view this replica is in or has asked for.
    fn promised(&self) -> View {
        let asked = self
            .sent_view_changes
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        self.view
            .max(asked)
            .max(self.changing.map_or(0, |c| c.target))
    }

    fn start_view_change_timer(&mut self) {
        let quorum = self.quorums.quorum();
        let now = self.now;
        if let Some(c) = self.changing.as_mut() {
            let asked = self.view_changes.get(&c.target).map_or(0, BTreeMap::len);
            if c.started.is_none() && asked >= quorum {
                c.started = Some(now);
            }
        }
    }

    /// The new primary decides once enough view-change messages allow it.
    fn try_new_view(&mut self, view: View) {
        if self.primary(view) != self.config.id || self.changing.map(|c| c.target) != Some(view) {
            return;
        }
        let Some(messages) = self.view_changes.get(&view) else {
            return;
        };
        // Only messages every backup will accept: its own, or ones f+1 replicas acknowledged
        // (a sender that told replicas different things is left out).
        let me = self.config.id;
        let usable: Vec<(NodeId, &ViewChange)> = messages
            .iter()
            .filter(|(id, (_, d))| **id == me || self.vouched(view, **id, *d))
            .map(|(id, (m, _))| (*id, m))
            .collect();
        let refs: Vec<&ViewChange> = usable.iter().map(|(_, m)| *m).collect();
        let Some(decision) = view_change::decide(&refs, &self.quorums, self.config.window) else {
            return;
        };
        let nv = NewView {
            view,
            proofs: usable.iter().map(|(id, m)| (*id, (*m).clone())).collect(),
            checkpoint: decision.checkpoint,
            requests: decision.requests,
        };
        self.sent_new_view = Some(nv.clone());
        self.ready
            .persist
            .push(PbftPersistOp::SentNewView(nv.clone()));
        self.multicast(Body::NewView(nv.clone()));
        self.enter_view(nv);
    }

    fn on_new_view(&mut self, from: NodeId, nv: NewView) {
        if from != self.primary(nv.view) || nv.view < self.view {
            return;
        }
        if nv.view == self.view && self.changing.is_none() {
            return;
        }
        self.pending_new_view = Some(nv);
        self.try_pending_new_view();
    }

    /// Accepts the waiting new-view once this replica holds every view-change message it names
    /// and the same decision follows from them.
    fn try_pending_new_view(&mut self) {
        let Some(nv) = self.pending_new_view.clone() else {
            return;
        };
        // A replica that asked for a view never goes back to an earlier one: its view-change
        // message may be used to start that view, and must stay true.
        if nv.view < self.promised() || (nv.view == self.view && self.changing.is_none()) {
            self.pending_new_view = None;
            return;
        }
        if self.config.mutant == Some(PbftMutant::NewViewWithoutProofs) {
            self.adopt_proofs(&nv);
            self.enter_view(nv);
            return;
        }
        let senders: BTreeSet<NodeId> = nv.proofs.iter().map(|(id, _)| *id).collect();
        let malformed = nv.proofs.iter().any(|(_, m)| {
            m.view != nv.view || m.prepared.iter().any(|p| digest(&p.request) != p.digest)
        });
        if malformed || senders.len() != nv.proofs.len() || !self.quorums.is_quorum(senders.len()) {
            self.rejections.bad_new_view += 1;
            self.pending_new_view = None;
            return;
        }
        let primary = self.primary(nv.view);
        for (id, m) in &nv.proofs {
            let d = vc_digest(m);
            let held = self
                .view_changes
                .get(&nv.view)
                .and_then(|h| h.get(id))
                .is_some_and(|(_, held)| *held == d);
            if !(held || *id == primary || self.vouched(nv.view, *id, d)) {
                // Neither received from its sender nor vouched for yet: wait for more acks.
                return;
            }
        }
        let messages: Vec<&ViewChange> = nv.proofs.iter().map(|(_, m)| m).collect();
        let decision = view_change::decide(&messages, &self.quorums, self.config.window);
        let stated = view_change::Decision {
            checkpoint: nv.checkpoint,
            requests: nv.requests.clone(),
        };
        if decision.as_ref() != Some(&stated) {
            self.rejections.bad_new_view += 1;
            self.pending_new_view = None;
            self.start_view_change(nv.view + 1);
            return;
        }
        self.adopt_proofs(&nv);
        self.enter_view(nv);
    }

    /// Keeps a new view's view-change messages: the view's request bodies come from them.
    fn adopt_proofs(&mut self, nv: &NewView) {
        let held = self.view_changes.entry(nv.view).or_default();
        for (id, m) in &nv.proofs {
            held.insert(*id, (m.clone(), vc_digest(m)));
        }
    }

    /// The request body for a digest a new view assigns: from the view-change messages' prepared
    /// entries (checked against their digests on receipt), this replica's log, or its pending
    /// client requests.
    fn body_for(&self, view: View, seq: Index, d: Digest) -> Option<Bytes> {
        if d == null_digest() {
            return Some(Bytes::new());
        }
        let from_messages = self.view_changes.get(&view).and_then(|m| {
            m.values()
                .flat_map(|(vc, _)| vc.prepared.iter())
                .find(|p| p.digest == d)
                .map(|p| p.request.clone())
        });
        from_messages
            .or_else(|| {
                self.slots
                    .get(&seq)
                    .filter(|s| s.accepted.is_some_and(|(_, a)| a == d))
                    .and_then(|s| s.request.clone())
            })
            .or_else(|| self.pending.get(&d).map(|(_, r)| r.clone()))
    }

    fn enter_view(&mut self, nv: NewView) {
        let view = nv.view;
        debug_assert!(view > self.view, "views only move forward");
        let bodies: Vec<(Index, Digest, Option<Bytes>)> = nv
            .requests
            .iter()
            .map(|(seq, d)| (*seq, *d, self.body_for(view, *seq, *d)))
            .collect();
        self.view = view;
        self.changing = None;
        self.pending_new_view = None;
        self.installing_view = true;
        self.persist_view();
        self.role_changed();
        let primary = self.is_primary();
        // The checkpoint the view starts from.
        let (h, hd) = nv.checkpoint;
        if h > self.stable.seq {
            match self.own_checkpoints.get(&h) {
                Some(cp) if cp.digest == hd => {
                    let cp = cp.clone();
                    self.make_stable(cp);
                }
                _ if h > self.executed => {
                    let vouchers: Vec<NodeId> = self
                        .view_changes
                        .get(&view)
                        .map(|m| {
                            m.iter()
                                .filter(|(_, (vc, _))| vc.checkpoints.contains(&(h, hd)))
                                .map(|(id, _)| *id)
                                .collect()
                        })
                        .unwrap_or_default();
                    self.checkpoint_votes
                        .entry((h, hd))
                        .or_default()
                        .extend(vouchers);
                    self.start_fetch(h, hd);
                }
                _ => {}
            }
        }
        self.assigned.clear();
        let now = self.now;
        let mut last = self.stable.seq.max(h);
        for (seq, d, body) in bodies {
            last = last.max(seq);
            if seq <= self.stable.seq {
                continue;
            }
            let Some(body) = body else {
                continue;
            };
            if d != null_digest() {
                self.assigned.insert(d, seq);
            }
            self.accept(seq, d, body);
        }
        self.next_seq = last + 1;
        self.installing_view = false;
        debug_assert!(
            self.next_seq > self.stable.seq,
            "the primary numbers requests after the checkpoint"
        );
        self.view_changes.retain(|v, _| *v > view);
        self.acks.retain(|v, _| *v > view);
        self.acked_at.retain(|(v, _), _| *v > view);
        self.sent_view_changes.retain(|v, _| *v >= view);
        for (since, _) in self.pending.values_mut() {
            *since = now;
        }
        if !primary {
            // The new primary may never have seen what clients gave this replica (it was
            // forwarded to the old one): pass it on, or its timer ends this view too.
            self.forward_pending();
        }
        if primary {
            let waiting: Vec<(Digest, Bytes)> = self
                .pending
                .iter()
                .map(|(d, (_, r))| (*d, r.clone()))
                .chain(self.queued.drain(..).map(|r| (digest(&r), r)))
                .collect();
            for (d, request) in waiting {
                self.assign(d, request);
            }
        }
    }
}

fn vc_digest(vc: &ViewChange) -> Digest {
    digest(&postcard::to_allocvec(vc).unwrap_or_default())
}

#[cfg(test)]
mod forwarding_tests {
    use super::*;

    /// Four replicas over a network that loses everything to and from `silent`; deliveries
    /// until nothing is in flight.
    struct Net {
        replicas: BTreeMap<NodeId, Pbft>,
        silent: NodeId,
        now: TimeUs,
        /// Requests to this node still to lose: (node, how many).
        lose_requests_to: Option<(NodeId, usize)>,
    }

    impl Net {
        fn new(silent: NodeId) -> Net {
            let nodes = vec![1, 2, 3, 4];
            let replicas = nodes
                .iter()
                .map(|&id| {
                    let keys = Keys::derive(&[9; 32], id, &nodes);
                    let mut config = PbftConfig::new(id, nodes.clone(), keys);
                    config.request_timeout_us = 100_000;
                    config.retransmit_us = 10_000;
                    (id, Pbft::new(config, &PbftPersisted::default(), 0))
                })
                .collect();
            Net {
                replicas,
                silent,
                now: 0,
                lose_requests_to: None,
            }
        }

        fn settle(&mut self) {
            loop {
                let mut flight = Vec::new();
                for replica in self.replicas.values_mut() {
                    flight.extend(std::mem::take(&mut replica.ready().messages));
                }
                if flight.is_empty() {
                    return;
                }
                for (to, envelope) in flight {
                    if to == self.silent || envelope.from == self.silent {
                        continue;
                    }
                    if let Some((node, left)) = self.lose_requests_to.as_mut() {
                        if to == *node && *left > 0 && matches!(envelope.body, Body::Request { .. })
                        {
                            *left -= 1;
                            continue;
                        }
                    }
                    if let Some(r) = self.replicas.get_mut(&to) {
                        r.step(envelope.from, envelope);
                    }
                }
            }
        }

        /// Gives node `at` a client's put, then runs until node `watch` executes it (at most
        /// `steps` of 5 ms); the view it executed in.
        fn view_when_executed(&mut self, at: NodeId, watch: NodeId, steps: usize) -> Option<View> {
            let request =
                b"{\"client\":1,\"seq\":1,\"op\":{\"Put\":{\"key\":\"k\",\"value\":\"v\"}}}";
            let _ = self
                .replicas
                .get_mut(&at)
                .map(|r| r.propose(request.to_vec()));
            self.settle();
            for _ in 0..steps {
                self.advance(5_000);
                if self.replicas[&watch].executed() >= 1 {
                    return Some(self.replicas[&watch].view());
                }
            }
            None
        }

        fn advance(&mut self, us: TimeUs) {
            let end = self.now + us;
            while self.now < end {
                self.now += 5_000;
                for replica in self.replicas.values_mut() {
                    replica.tick(self.now);
                }
                self.settle();
            }
        }
    }

    /// A request given to a backup only (the node's clients talk to one replica) while the
    /// primary is silent executes in the next view: the backup passes it to the new primary.
    /// Without the forwarding, the new primary never sees it, the backup's timer ends that view
    /// too, and the request waits for a view whose primary is that backup.
    #[test]
    fn a_backup_forwards_its_pending_requests_to_the_next_primary() {
        let mut net = Net::new(1);
        let executed_in = net.view_when_executed(3, 3, 200);
        let views: Vec<(View, bool, Index)> = net
            .replicas
            .values()
            .map(|r| (r.view(), r.changing_view(), r.executed()))
            .collect();
        assert_eq!(
            executed_in,
            Some(1),
            "executed in view 1, primary node 2: {views:?}"
        );
        for id in [2, 4] {
            assert_eq!(net.replicas[&id].executed(), 1, "replica {id}");
        }
    }

    /// Gives node `at` request number `n` (distinct requests, distinct digests).
    fn give(net: &mut Net, at: NodeId, n: u64) {
        let request = format!("{{\"client\":7,\"seq\":{n},\"op\":{{\"Get\":{{\"key\":\"k\"}}}}}}");
        if let Some(r) = net.replicas.get_mut(&at) {
            let _ = r.propose(request.into_bytes());
        }
        net.settle();
    }

    /// Runs until node `watch` executed `count` requests (at most `steps` of 5 ms).
    fn executes(net: &mut Net, watch: NodeId, count: Index, steps: usize) -> bool {
        for _ in 0..steps {
            if net.replicas[&watch].executed() >= count {
                return true;
            }
            net.advance(5_000);
        }
        net.replicas[&watch].executed() >= count
    }

    /// A replica that missed every message of two requests (cut off while they executed) and
    /// then gets a client request of its own executes all three with no other traffic: its
    /// status, sent while its request waits, makes its peers resend the numbers it lacks.
    /// Without that it would wait for the next checkpoint (which a quiet cluster never reaches)
    /// and time its request out into view changes nobody joins.
    #[test]
    fn a_replica_that_missed_requests_catches_up_without_a_checkpoint() {
        let mut net = Net::new(4);
        give(&mut net, 1, 1);
        give(&mut net, 1, 2);
        assert!(
            executes(&mut net, 2, 2, 10),
            "the three others execute them"
        );
        assert_eq!(net.replicas[&4].executed(), 0);
        net.silent = 0;
        give(&mut net, 4, 3);
        let states: Vec<(View, bool, Index)> = net
            .replicas
            .values()
            .map(|r| (r.view(), r.changing_view(), r.executed()))
            .collect();
        assert!(executes(&mut net, 4, 3, 200), "{states:?}");
        assert_eq!(net.replicas[&4].view(), 0, "no view change was needed");
    }

    /// A primary cut off while the others moved to the next view and executed requests there
    /// (what a primary restarted from its disk is: it still believes in its view), given a
    /// request, learns the view from its peers' answers to its status and executes it.
    #[test]
    fn a_primary_left_behind_in_an_old_view_joins_the_current_one_and_catches_up() {
        let mut net = Net::new(1);
        give(&mut net, 2, 1);
        assert!(
            executes(&mut net, 2, 1, 400),
            "view 1 starts without node 1"
        );
        give(&mut net, 3, 2);
        assert!(executes(&mut net, 3, 2, 100));
        assert_eq!(net.replicas[&1].view(), 0);
        assert_eq!(
            net.replicas[&1].role(),
            Role::Leader,
            "it still leads view 0"
        );
        net.silent = 0;
        give(&mut net, 1, 3);
        let ok = executes(&mut net, 1, 3, 400);
        let states: Vec<(View, bool, Index)> = net
            .replicas
            .values()
            .map(|r| (r.view(), r.changing_view(), r.executed()))
            .collect();
        assert!(ok, "{states:?}");
        assert_eq!(
            net.replicas[&1].view(),
            net.replicas[&2].view(),
            "{states:?}"
        );
    }

    /// A request that reached the backups but not the next primary (both copies relayed to it
    /// were lost) is passed to that primary when the backups enter its view, and executes
    /// there: without the forwarding it waits for one more view change, to a primary that
    /// holds it.
    #[test]
    fn a_request_the_next_primary_missed_is_passed_on_when_its_view_starts() {
        let mut net = Net::new(1);
        net.lose_requests_to = Some((2, 2));
        let executed_in = net.view_when_executed(3, 2, 400);
        assert_eq!(executed_in, Some(1), "executed in view 1, primary node 2");
    }
}
