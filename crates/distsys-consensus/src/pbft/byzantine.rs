//! The byzantine adversary the simulator runs for the replicas it controls. The replicas
//! themselves run the honest code; the adversary rewrites what they send, with their own keys
//! (so what it sends in their name is authentic) and nobody else's (so what it sends in another
//! replica's name is a forgery the receiver can detect). The replicas it controls collude: they
//! tell the same half of the honest replicas the same alternative story.

use super::auth::Keys;
use super::messages::{digest, null_digest, Body, Envelope, PreparedEntry};
use crate::types::{NodeId, TimeUs};
use bytes::Bytes;
use rand::{Rng, RngExt, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Old messages kept per byzantine replica for replays.
const REPLAY_MEMORY: usize = 64;

/// What a byzantine replica does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Behaviour {
    /// Sends nothing at all (to replicas or clients).
    Silent,
    /// As primary, assigns a different request (the null request) to half of the honest
    /// replicas; as backup, prepares and commits that alternative with the same half.
    Equivocate,
    /// Pre-prepares a request that does not match the digest, prepares, commits and
    /// checkpoints random digests.
    WrongDigest,
    /// Sends pre-prepares, prepares and commits in other replicas' names (a forged sender).
    Forge,
    /// Sends old messages again, to their receiver or to another replica.
    Replay,
    /// Lies in view changes (made-up prepared requests and checkpoints), in new views (drops
    /// every request) and to clients (made-up results).
    Lie,
    /// Holds messages back on purpose (20-400 ms).
    Delay,
}

impl Behaviour {
    /// Every behaviour.
    pub const ALL: [Behaviour; 7] = [
        Behaviour::Silent,
        Behaviour::Equivocate,
        Behaviour::WrongDigest,
        Behaviour::Forge,
        Behaviour::Replay,
        Behaviour::Lie,
        Behaviour::Delay,
    ];

    /// The name `--byzantine-behaviour` takes.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Silent => "silent",
            Behaviour::Equivocate => "equivocate",
            Behaviour::WrongDigest => "wrong-digest",
            Behaviour::Forge => "forge",
            Behaviour::Replay => "replay",
            Behaviour::Lie => "lie",
            Behaviour::Delay => "delay",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Behaviour> {
        Behaviour::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Parses `all` or a comma-separated list of names (spaces around names allowed); the
    /// error names the unknown behaviour and lists the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<Behaviour>, String> {
        if text.trim() == "all" {
            return Ok(Behaviour::ALL.to_vec());
        }
        text.split(',')
            .map(|name| {
                Behaviour::parse(name.trim()).ok_or_else(|| {
                    let known: Vec<&str> = Behaviour::ALL.iter().map(|b| b.name()).collect();
                    format!(
                        "unknown behaviour {:?} (all, or a list of {})",
                        name.trim(),
                        known.join(", ")
                    )
                })
            })
            .collect()
    }
}

/// The adversary controlling the byzantine replicas of one run.
#[derive(Debug)]
pub struct Adversary {
    nodes: Vec<NodeId>,
    keys: BTreeMap<NodeId, Keys>,
    behaviours: BTreeMap<NodeId, BTreeSet<Behaviour>>,
    /// The honest replicas told the alternative story.
    misled: BTreeSet<NodeId>,
    sent: BTreeMap<NodeId, VecDeque<Envelope>>,
    forged_counter: u64,
}

impl Adversary {
    /// An adversary for a cluster of `nodes` sharing `secret`, controlling the replicas in
    /// `behaviours` (each with what it does).
    pub fn new(
        secret: &[u8; 32],
        nodes: &[NodeId],
        behaviours: BTreeMap<NodeId, BTreeSet<Behaviour>>,
    ) -> Adversary {
        let keys = behaviours
            .keys()
            .map(|&id| (id, Keys::derive(secret, id, nodes)))
            .collect();
        let honest: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|n| !behaviours.contains_key(n))
            .collect();
        let misled = honest.iter().copied().skip(1).step_by(2).collect();
        Adversary {
            nodes: nodes.to_vec(),
            keys,
            behaviours,
            misled,
            sent: BTreeMap::new(),
            forged_counter: 0,
        }
    }

    /// Whether the adversary controls `node`.
    pub fn controls(&self, node: NodeId) -> bool {
        self.behaviours.contains_key(&node)
    }

    /// What `node` does (empty for an honest one).
    pub fn behaviours(&self, node: NodeId) -> impl Iterator<Item = Behaviour> + '_ {
        self.behaviours.get(&node).into_iter().flatten().copied()
    }

    fn has(&self, node: NodeId, behaviour: Behaviour) -> bool {
        self.behaviours
            .get(&node)
            .is_some_and(|b| b.contains(&behaviour))
    }

    /// Whether `node` answers clients at all.
    pub fn silent(&self, node: NodeId) -> bool {
        self.has(node, Behaviour::Silent)
    }

    /// Whether `node` lies to clients.
    pub fn lies(&self, node: NodeId) -> bool {
        self.has(node, Behaviour::Lie)
    }

    fn primary(&self, view: u64) -> NodeId {
        self.nodes[(view % self.nodes.len() as u64) as usize]
    }

    /// What a controlled replica actually sends instead of `envelope`: zero or more envelopes,
    /// each with an extra delay in microseconds.
    pub fn outgoing<R: Rng>(&mut self, rng: &mut R, envelope: Envelope) -> Vec<(Envelope, TimeUs)> {
        let from = envelope.from;
        let Some(keys) = self.keys.get(&from).cloned() else {
            return vec![(envelope, 0)];
        };
        if self.has(from, Behaviour::Silent) {
            return Vec::new();
        }
        let to = envelope.to;
        let mut body = envelope.body.clone();
        let mut altered = false;
        if self.has(from, Behaviour::Equivocate) && self.misled.contains(&to) {
            altered |= equivocate(&mut body);
        }
        if self.has(from, Behaviour::WrongDigest) && rng.random_bool(0.3) {
            altered |= wrong_digest(&mut body, rng);
        }
        if self.has(from, Behaviour::Lie) {
            altered |= lie(&mut body, rng);
        }
        let sent = if altered {
            keys.seal(to, envelope.epoch, envelope.counter, body.clone())
        } else {
            envelope
        };
        let delay = if self.has(from, Behaviour::Delay) && rng.random_bool(0.5) {
            rng.random_range(20_000..400_000)
        } else {
            0
        };
        let mut out = vec![(sent.clone(), delay)];
        if self.has(from, Behaviour::Forge) && rng.random_bool(0.3) {
            out.extend(self.forgeries(&keys, to, &body).into_iter().map(|e| (e, 0)));
        }
        if self.has(from, Behaviour::Replay) && rng.random_bool(0.2) {
            if let Some(old) = self.sent.get(&from).filter(|s| !s.is_empty()) {
                let mut replayed = old[rng.random_range(0..old.len())].clone();
                if rng.random_bool(0.5) {
                    // Someone else's message, passed on: not addressed (nor MACed) for them.
                    replayed.to = self.nodes[rng.random_range(0..self.nodes.len())];
                }
                out.push((replayed, 0));
            }
        }
        let memory = self.sent.entry(from).or_default();
        memory.push_back(sent);
        if memory.len() > REPLAY_MEMORY {
            memory.pop_front();
        }
        out
    }

    /// What a controlled replica sends in a model checker, where everything it sends must be
    /// a function of the message alone (a state is a function of its path): the behaviours
    /// without their coin flips. To the misled half of the honest replicas, on every message,
    /// `equivocate` assigns the null request and `wrong-digest` pre-prepares a request that does
    /// not match its digest; `lie` alters every view change and new view (with made-up requests
    /// from a fixed seed); `forge` adds, to the misled half, in the name of every other
    /// replica but the receiver, the prepares and commits that agree with what the (altered)
    /// pre-prepare or prepare tells it, and the primary's pre-prepare when that story is the
    /// null request's (with `equivocate`, a whole quorum for the alternative story).
    /// `silent` sends nothing; `replay` and `delay` change nothing here (the model's duplicate
    /// action and its free choice of delivery order make them).
    pub fn story(&self, envelope: Envelope) -> Vec<Envelope> {
        let from = envelope.from;
        let Some(keys) = self.keys.get(&from) else {
            return vec![envelope];
        };
        if self.has(from, Behaviour::Silent) {
            return Vec::new();
        }
        let to = envelope.to;
        let mut body = envelope.body.clone();
        let mut altered = false;
        if self.misled.contains(&to) {
            if self.has(from, Behaviour::Equivocate) {
                altered |= equivocate(&mut body);
            }
            if self.has(from, Behaviour::WrongDigest) {
                altered |= tamper_request(&mut body);
            }
        }
        if self.has(from, Behaviour::Lie) {
            altered |= lie(&mut body, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        }
        let mut out = vec![if altered {
            keys.seal(to, envelope.epoch, envelope.counter, body.clone())
        } else {
            envelope.clone()
        }];
        if self.has(from, Behaviour::Forge) && self.misled.contains(&to) {
            out.extend(self.agreeing_forgeries(keys, &envelope, &body));
        }
        out
    }

    /// The prepares and commits (and, for the null request, the primary's pre-prepare) in every
    /// other replica's name that agree with `body`, a pre-prepare or prepare to `sent.to`; nonces
    /// derived from `sent`'s, so they are a function of it.
    fn agreeing_forgeries(&self, keys: &Keys, sent: &Envelope, body: &Body) -> Vec<Envelope> {
        let (view, seq, d) = match body {
            Body::PrePrepare {
                view, seq, digest, ..
            }
            | Body::Prepare { view, seq, digest } => (*view, *seq, *digest),
            _ => return Vec::new(),
        };
        let primary = self.primary(view);
        let mut bodies = Vec::new();
        if d == null_digest() {
            bodies.push((
                primary,
                Body::PrePrepare {
                    view,
                    seq,
                    digest: d,
                    request: Bytes::new(),
                },
            ));
        }
        for &claimed in &self.nodes {
            if claimed != primary {
                let prepare = Body::Prepare {
                    view,
                    seq,
                    digest: d,
                };
                bodies.push((claimed, prepare));
            }
            let commit = Body::Commit {
                view,
                seq,
                digest: d,
            };
            bodies.push((claimed, commit));
        }
        bodies
            .into_iter()
            .filter(|(claimed, _)| *claimed != sent.to && *claimed != keys.id())
            .enumerate()
            .map(|(k, (claimed, b))| {
                let counter = sent.counter.wrapping_mul(64).wrapping_add(k as u64);
                keys.forge(claimed, sent.to, u64::MAX, counter, b)
            })
            .collect()
    }

    /// Messages in other replicas' names telling `to` that the null request is assigned, prepared
    /// and committed at the sequence number `body` is about and the next one.
    fn forgeries(&mut self, keys: &Keys, to: NodeId, body: &Body) -> Vec<Envelope> {
        let (view, seq) = match body {
            Body::PrePrepare { view, seq, .. }
            | Body::Prepare { view, seq, .. }
            | Body::Commit { view, seq, .. } => (*view, *seq),
            _ => return Vec::new(),
        };
        let null = null_digest();
        let mut forged = Vec::new();
        for s in [seq, seq + 1] {
            let mut bodies = vec![(
                self.primary(view),
                Body::PrePrepare {
                    view,
                    seq: s,
                    digest: null,
                    request: Bytes::new(),
                },
            )];
            for &claimed in &self.nodes {
                bodies.push((
                    claimed,
                    Body::Prepare {
                        view,
                        seq: s,
                        digest: null,
                    },
                ));
                bodies.push((
                    claimed,
                    Body::Commit {
                        view,
                        seq: s,
                        digest: null,
                    },
                ));
            }
            for (claimed, b) in bodies {
                if claimed == to || claimed == keys.id() {
                    continue;
                }
                self.forged_counter += 1;
                forged.push(keys.forge(claimed, to, u64::MAX, self.forged_counter, b));
            }
        }
        forged
    }
}

fn equivocate(body: &mut Body) -> bool {
    let null = null_digest();
    match body {
        Body::PrePrepare {
            digest, request, ..
        } => {
            *digest = null;
            *request = Bytes::new();
            true
        }
        Body::Prepare { digest, .. } | Body::Commit { digest, .. } => {
            *digest = null;
            true
        }
        _ => false,
    }
}

/// A pre-prepare whose request does not match its digest (`wrong-digest` without its random
/// digests for the other messages).
fn tamper_request(body: &mut Body) -> bool {
    match body {
        Body::PrePrepare { request, .. } => {
            *request = Bytes::from_static(b"tampered");
            true
        }
        _ => false,
    }
}

fn wrong_digest<R: Rng>(body: &mut Body, rng: &mut R) -> bool {
    match body {
        Body::PrePrepare { .. } => tamper_request(body),
        Body::Prepare { digest, .. }
        | Body::Commit { digest, .. }
        | Body::Checkpoint { digest, .. } => {
            *digest = rng.random();
            true
        }
        Body::State { data, .. } => {
            *data = Bytes::from_static(b"tampered");
            true
        }
        _ => false,
    }
}

fn lie<R: Rng>(body: &mut Body, rng: &mut R) -> bool {
    match body {
        Body::ViewChange(vc) => {
            // Made-up requests "prepared" in the latest view, and a made-up later checkpoint.
            for seq in vc.stable + 1..=vc.stable + 3 {
                let request = Bytes::from(format!("lie-{}", rng.random::<u32>()).into_bytes());
                let d = digest(&request);
                let view = vc.view.saturating_sub(1);
                vc.prepared.retain(|p| p.seq != seq);
                vc.prepared.push(PreparedEntry {
                    seq,
                    digest: d,
                    view,
                    request,
                });
                vc.pre_prepared.push((seq, d, view));
            }
            vc.checkpoints.push((vc.stable + 16, rng.random()));
            true
        }
        Body::NewView(nv) => {
            let null = null_digest();
            for (_, d) in &mut nv.requests {
                *d = null;
            }
            true
        }
        _ => false,
    }
}
