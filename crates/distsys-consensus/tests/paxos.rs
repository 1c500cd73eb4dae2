//! Multi-Paxos under random delays, loss, duplication, crashes and partitions: every replica
//! applies the same sequence (one value chosen per slot, never changed), only proposed values
//! are chosen, and after the faults stop a leader commits new proposals everywhere.

use distsys_consensus::paxos::{
    MultiPaxos, PaxosConfig, PaxosMessage, PaxosMutant, PaxosPersisted,
};
use distsys_consensus::{NodeId, Role};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// A message in flight: (delivery time, sequence, from, to, message).
type InFlight = (u64, u64, NodeId, NodeId, PaxosMessage);

struct Net {
    rng: ChaCha8Rng,
    nodes: BTreeMap<NodeId, Option<MultiPaxos>>,
    disks: BTreeMap<NodeId, PaxosPersisted>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    now: u64,
    faults: bool,
    cut: BTreeSet<NodeId>,
    /// Per node, the chain hash at each applied index (since its last start).
    applied: BTreeMap<NodeId, Vec<(u64, Vec<u8>)>>,
    /// First chain seen at each index, by anyone.
    chain_at: BTreeMap<u64, u64>,
    proposed: BTreeSet<Vec<u8>>,
    starts: u64,
    mutant: Option<PaxosMutant>,
    /// The first broken property seen.
    violation: Option<String>,
}

impl Net {
    fn new(n: u64, seed: u64, mutant: Option<PaxosMutant>) -> Net {
        let mut net = Net {
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: BTreeMap::new(),
            disks: (1..=n).map(|id| (id, PaxosPersisted::default())).collect(),
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            faults: true,
            cut: BTreeSet::new(),
            applied: BTreeMap::new(),
            chain_at: BTreeMap::new(),
            proposed: BTreeSet::new(),
            starts: 0,
            mutant,
            violation: None,
        };
        for id in 1..=n {
            net.start(id);
        }
        net
    }

    fn start(&mut self, id: NodeId) {
        self.starts += 1;
        let nodes: Vec<NodeId> = self.disks.keys().copied().collect();
        let mut config = PaxosConfig::new(id, nodes);
        config.mutant = self.mutant;
        let node = MultiPaxos::new(config, &self.disks[&id], id * 1_000 + self.starts, self.now);
        self.nodes.insert(id, Some(node));
        self.applied.insert(id, Vec::new());
    }

    fn drain(&mut self, id: NodeId) {
        let Some(Some(node)) = self.nodes.get_mut(&id) else {
            return;
        };
        let ready = node.ready();
        let disk = self.disks.get_mut(&id).expect("disk");
        for op in &ready.persist {
            disk.apply(op);
        }
        for (to, msg) in ready.messages {
            let lost = self.faults
                && (self.rng.random_bool(0.05) || self.cut.contains(&id) != self.cut.contains(&to));
            if lost {
                continue;
            }
            let copies = if self.faults && self.rng.random_bool(0.02) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.seq += 1;
                let at = self.now + self.rng.random_range(200..5_000);
                self.queue
                    .push(Reverse((at, self.seq, id, to, msg.clone())));
            }
        }
        for entry in ready.committed {
            let log = self.applied.get_mut(&id).expect("log");
            if entry.index != log.len() as u64 + 1 {
                self.violation
                    .get_or_insert(format!("node {id} applied {} out of order", entry.index));
            }
            log.push((entry.chain, entry.data.to_vec()));
            let first = *self.chain_at.entry(entry.index).or_insert(entry.chain);
            if first != entry.chain {
                self.violation.get_or_insert(format!(
                    "node {id} applied a different history at slot {}",
                    entry.index
                ));
            }
            if !(entry.data.is_empty() || self.proposed.contains(&entry.data.to_vec())) {
                self.violation
                    .get_or_insert("a value nobody proposed was chosen".into());
            }
        }
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| {
                n.as_ref()
                    .filter(|n| n.role() == Role::Leader)
                    .map(|n| (n.ballot(), *id))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// Runs `ms` of virtual time in 1 ms steps.
    fn run(&mut self, ms: u64, mut each_ms: impl FnMut(&mut Net)) {
        for _ in 0..ms {
            self.now += 1_000;
            while let Some(Reverse((at, _, _, _, _))) = self.queue.peek() {
                if *at > self.now {
                    break;
                }
                let Some(Reverse((_, _, from, to, msg))) = self.queue.pop() else {
                    break;
                };
                if let Some(Some(node)) = self.nodes.get_mut(&to) {
                    node.tick(self.now);
                    node.step(from, msg);
                    self.drain(to);
                }
            }
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                if let Some(Some(node)) = self.nodes.get_mut(&id) {
                    node.tick(self.now);
                }
                self.drain(id);
            }
            each_ms(self);
        }
    }

    fn propose(&mut self, value: Vec<u8>) {
        if let Some(l) = self.leader() {
            self.proposed.insert(value.clone());
            if let Some(Some(node)) = self.nodes.get_mut(&l) {
                let _ = node.propose(value);
            }
            self.drain(l);
        }
    }
}

fn chaos(seed: u64, mutant: Option<PaxosMutant>) -> Net {
    let mut net = Net::new(5, seed, mutant);
    let mut counter = 0u64;
    net.run(3_000, |net| {
        counter += 1;
        if counter.is_multiple_of(3) {
            net.propose(format!("v{seed}-{counter}").into_bytes());
        }
        if net.rng.random_bool(0.003) {
            // Crash someone (often the leader) and bring it back later.
            let victim = match net.leader() {
                Some(l) if net.rng.random_bool(0.5) => l,
                _ => net.rng.random_range(1..=5),
            };
            net.nodes.insert(victim, None);
        }
        if net.rng.random_bool(0.004) {
            let down: Vec<NodeId> = net
                .nodes
                .iter()
                .filter(|(_, n)| n.is_none())
                .map(|(id, _)| *id)
                .collect();
            for id in down {
                net.start(id);
            }
        }
        if net.rng.random_bool(0.002) {
            net.cut = (1..=5).filter(|_| net.rng.random_bool(0.4)).collect();
        }
        if net.rng.random_bool(0.004) {
            net.cut.clear();
        }
    });
    // Heal everything and check progress.
    net.faults = false;
    net.cut.clear();
    let down: Vec<NodeId> = net
        .nodes
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(id, _)| *id)
        .collect();
    for id in down {
        net.start(id);
    }
    net.run(2_000, |_| {});
    net
}

#[test]
fn replicas_agree_under_every_fault_and_make_progress_after() {
    for seed in 0..60 {
        let mut net = chaos(seed, None);
        assert_eq!(net.violation, None, "seed {seed}");
        let leader = net
            .leader()
            .unwrap_or_else(|| panic!("seed {seed}: no leader after healing"));
        net.propose(format!("final-{seed}").into_bytes());
        net.run(1_000, |_| {});
        assert_eq!(net.violation, None, "seed {seed}");
        for (id, log) in &net.applied {
            assert!(
                log.iter().any(|(_, v)| *v == format!("final-{seed}").into_bytes()),
                "seed {seed}: node {id} did not apply the value proposed after healing (leader {leader})"
            );
        }
    }
}

#[test]
fn a_single_node_chooses_alone_and_reads_pass_through_the_log() {
    let mut node = MultiPaxos::new(
        PaxosConfig::new(1, vec![1]),
        &PaxosPersisted::default(),
        1,
        0,
    );
    node.tick(400_000);
    assert_eq!(node.role(), Role::Leader);
    let slot = node.propose(b"x".to_vec()).expect("leader");
    node.read_index(9).expect("leader");
    let ready = node.ready();
    assert!(ready
        .committed
        .iter()
        .any(|e| e.index == slot && e.data.as_ref() == b"x"));
    assert_eq!(ready.reads.len(), 1);
    assert!(ready.reads[0].1 > slot, "the barrier comes after the write");
}

#[test]
fn a_new_leader_keeps_values_a_majority_accepted() {
    // Three acceptors; node 1 leads and gets "a" accepted by itself and node 2 only, then dies.
    let ids = vec![1, 2, 3];
    let mut nodes: Vec<MultiPaxos> = ids
        .iter()
        .map(|id| {
            MultiPaxos::new(
                PaxosConfig::new(*id, ids.clone()),
                &PaxosPersisted::default(),
                *id,
                0,
            )
        })
        .collect();
    nodes[0].tick(400_000);
    let prepare = nodes[0].ready().messages;
    for (to, msg) in prepare {
        nodes[(to - 1) as usize].step(1, msg);
        let replies = nodes[(to - 1) as usize].ready().messages;
        for (_, reply) in replies {
            nodes[0].step(to, reply);
        }
    }
    assert_eq!(nodes[0].role(), Role::Leader);
    let _ = nodes[0].ready();
    let slot = nodes[0].propose(b"a".to_vec()).expect("leader");
    for (to, msg) in nodes[0].ready().messages {
        if to == 2 {
            if let PaxosMessage::Accept { .. } = msg {
                nodes[1].step(1, msg);
            }
        }
    }
    let _ = nodes[1].ready();
    // Node 3 takes over with node 2's promise: it must re-propose "a" in that slot.
    nodes[2].tick(900_000);
    for (to, msg) in nodes[2].ready().messages {
        if to == 2 {
            nodes[1].step(3, msg);
            for (_, reply) in nodes[1].ready().messages {
                nodes[2].step(2, reply);
            }
        }
    }
    assert_eq!(nodes[2].role(), Role::Leader);
    let proposals: Vec<PaxosMessage> = nodes[2]
        .ready()
        .messages
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert!(proposals.iter().any(
        |m| matches!(m, PaxosMessage::Accept { slot: s, value, .. } if *s == slot && value == b"a")
    ));
}

#[test]
fn every_paxos_mutant_is_caught_within_the_seed_budget() {
    for mutant in PaxosMutant::ALL {
        let caught = (0..100).find(|seed| chaos(*seed, Some(mutant)).violation.is_some());
        assert!(
            caught.is_some(),
            "{} was not caught in 100 seeds",
            mutant.name()
        );
    }
}
