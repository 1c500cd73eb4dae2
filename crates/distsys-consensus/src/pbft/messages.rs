//! PBFT values: digests, messages and their authenticated envelope, and what a replica keeps on
//! disk.

use crate::types::{Index, NodeId, Ready};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// A view number: the primary of view `v` is replica `nodes[v mod n]`.
pub type View = u64;

/// A SHA-256 digest (of a request, of a checkpointed state, of a view-change message).
pub type Digest = [u8; 32];

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// The digest of the null request (the empty byte string), which a new view uses to fill
/// sequence numbers nothing was prepared for. Executing it changes nothing.
pub fn null_digest() -> Digest {
    digest(&[])
}

/// The first 8 bytes of a digest, the key safety monitors compare requests by.
pub fn digest_key(digest: &Digest) -> u64 {
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(key)
}

/// The digest of a checkpointed state: the chain hash of the executed sequence and the state
/// machine's snapshot.
pub fn state_digest(chain: u64, data: &[u8]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update(chain.to_le_bytes());
    hasher.update(data);
    hasher.finalize().into()
}

/// A request this replica prepared: the evidence a view change carries forward.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PreparedEntry {
    /// Sequence number.
    pub seq: Index,
    /// The request's digest.
    pub digest: Digest,
    /// The view it was prepared in.
    pub view: View,
    /// The request itself (its digest is checked by the receiver).
    pub request: Bytes,
}

/// VIEW-CHANGE: a replica's move to `view`, with what a new primary needs to keep every request
/// that may have committed (Castro and Liskov, TOCS 2002, the MAC-based view change).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ViewChange {
    /// The view being moved to.
    pub view: View,
    /// The sender's last stable checkpoint (`h`).
    pub stable: Index,
    /// Checkpoints the sender holds (its stable one and later ones it took), with digests.
    pub checkpoints: Vec<(Index, Digest)>,
    /// For each sequence number above `stable`, the request prepared in the latest view (P).
    pub prepared: Vec<PreparedEntry>,
    /// Requests pre-prepared above `stable`, each with the latest view it was pre-prepared in (Q).
    pub pre_prepared: Vec<(Index, Digest, View)>,
}

/// NEW-VIEW: the new primary's decision, which every backup recomputes from the same
/// view-change messages before it accepts the view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewView {
    /// The view it starts.
    pub view: View,
    /// The view-change messages decided on, with their senders. A backup uses one only if it
    /// received the same message from its sender, or f+1 replicas acknowledged receiving it
    /// (so a correct one did), or it is the primary's own.
    pub proofs: Vec<(NodeId, ViewChange)>,
    /// The checkpoint the view starts from.
    pub checkpoint: (Index, Digest),
    /// The request (or the null request) pre-prepared at each sequence number above it.
    pub requests: Vec<(Index, Digest)>,
}

/// What replicas say to each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    /// A client request passed on to the primary.
    Request {
        /// The encoded command.
        data: Bytes,
    },
    /// The primary assigns `seq` to the request with `digest` in `view`.
    PrePrepare {
        view: View,
        seq: Index,
        digest: Digest,
        request: Bytes,
    },
    /// A backup accepted that assignment.
    Prepare {
        view: View,
        seq: Index,
        digest: Digest,
    },
    /// The sender is prepared: it will execute `digest` at `seq` once 2f+1 commit.
    Commit {
        view: View,
        seq: Index,
        digest: Digest,
    },
    /// The sender's state after executing `seq` has this digest.
    Checkpoint { seq: Index, digest: Digest },
    /// Move to a new view.
    ViewChange(ViewChange),
    /// The sender received `sender`'s view-change message for `view` with this digest.
    ViewChangeAck {
        view: View,
        sender: NodeId,
        digest: Digest,
    },
    /// Start a new view.
    NewView(NewView),
    /// Ask for the checkpointed state at `seq`.
    FetchState { seq: Index },
    /// The checkpointed state at `seq` (checked against its digest by the receiver).
    State { seq: Index, chain: u64, data: Bytes },
    /// The sender's view and last executed sequence number, sent while a client request has
    /// waited there half its timeout (Castro and Liskov's status message): a peer in a later view resends what moved
    /// it there, a peer that executed more resends its votes for the numbers the sender lacks.
    Status { view: View, executed: Index },
}

impl Body {
    /// A short name for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Request { .. } => "Request",
            Body::PrePrepare { .. } => "PrePrepare",
            Body::Prepare { .. } => "Prepare",
            Body::Commit { .. } => "Commit",
            Body::Checkpoint { .. } => "Checkpoint",
            Body::ViewChange(_) => "ViewChange",
            Body::ViewChangeAck { .. } => "ViewChangeAck",
            Body::NewView(_) => "NewView",
            Body::FetchState { .. } => "FetchState",
            Body::State { .. } => "State",
            Body::Status { .. } => "Status",
        }
    }
}

/// A message on the wire: the claimed sender and receiver, a per-sender nonce (`epoch` bumps at
/// every restart, `counter` at every message) and an HMAC-SHA256 over all of it with the key the
/// two replicas share. Only the true sender and receiver can produce a valid `mac`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Envelope {
    /// Claimed sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The sender's restart count.
    pub epoch: u64,
    /// The sender's message counter within the epoch.
    pub counter: u64,
    /// The message.
    pub body: Body,
    /// HMAC-SHA256 of (from, to, epoch, counter, body).
    pub mac: Digest,
}

/// What a replica keeps per sequence number on disk, so that after a restart it never contradicts
/// what it said before the crash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotRecord {
    /// The pre-prepare accepted (or sent) in the latest view: view, digest, request.
    pub accepted: Option<(View, Digest, Bytes)>,
    /// Latest prepared request.
    pub prepared: Option<PreparedEntry>,
    /// Every digest pre-prepared here, with the latest view it was pre-prepared in.
    pub pre_prepared: BTreeMap<Digest, View>,
    /// The digest committed here (the request executes once every earlier one has).
    pub committed: Option<Digest>,
}

/// A checkpoint: the state after executing `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Last sequence number executed.
    pub seq: Index,
    /// Chain hash of the executed sequence up to `seq`.
    pub chain: u64,
    /// The state machine's snapshot.
    pub data: Bytes,
    /// [`state_digest`] of `chain` and `data`.
    pub digest: Digest,
}

impl CheckpointState {
    /// The state before anything executed.
    pub fn genesis() -> CheckpointState {
        CheckpointState {
            seq: 0,
            chain: 0,
            data: Bytes::new(),
            digest: state_digest(0, &[]),
        }
    }
}

/// Everything a PBFT replica keeps on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PbftPersisted {
    /// Restarts so far (the nonce epoch of the next incarnation is one more).
    pub epoch: u64,
    /// Current view, and the view it is changing to, if any.
    pub view: View,
    /// The view this replica asked to move to, if it is changing views.
    pub changing_to: Option<View>,
    /// Records above the stable checkpoint.
    pub slots: BTreeMap<Index, SlotRecord>,
    /// The last stable checkpoint (`None`: genesis).
    pub stable: Option<CheckpointState>,
    /// View-change messages sent for the current view and later ones (resent after a restart to
    /// replicas still waiting for them, unchanged, so their digests still match).
    pub sent_view_changes: BTreeMap<View, ViewChange>,
    /// The last new-view message sent as primary.
    pub sent_new_view: Option<NewView>,
}

/// A durable change, applied before the messages of the same Ready leave.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PbftPersistOp {
    /// A new incarnation.
    Epoch(u64),
    /// View and view-change state.
    View {
        /// The view.
        view: View,
        /// The view being moved to.
        changing_to: Option<View>,
    },
    /// A sequence number's record, replaced whole.
    Slot(Index, SlotRecord),
    /// A new stable checkpoint; records at or below it are dropped.
    Stable(CheckpointState),
    /// A view-change message sent.
    SentViewChange(ViewChange),
    /// A new-view message sent.
    SentNewView(NewView),
}

impl PbftPersisted {
    /// Applies one persist operation.
    pub fn apply(&mut self, op: &PbftPersistOp) {
        match op {
            PbftPersistOp::Epoch(epoch) => self.epoch = *epoch,
            PbftPersistOp::View { view, changing_to } => {
                self.view = *view;
                self.changing_to = *changing_to;
                self.sent_view_changes.retain(|v, _| v >= view);
            }
            PbftPersistOp::SentViewChange(vc) => {
                self.sent_view_changes.insert(vc.view, vc.clone());
            }
            PbftPersistOp::SentNewView(nv) => self.sent_new_view = Some(nv.clone()),
            PbftPersistOp::Slot(seq, record) => {
                if self.stable.as_ref().is_none_or(|s| *seq > s.seq) {
                    self.slots.insert(*seq, record.clone());
                }
            }
            PbftPersistOp::Stable(checkpoint) => {
                self.slots.retain(|seq, _| *seq > checkpoint.seq);
                self.stable = Some(checkpoint.clone());
            }
        }
    }
}

/// PBFT's output shape.
pub type PbftReady = Ready<Envelope, PbftPersistOp>;
