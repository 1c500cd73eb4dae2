//! One primary-backup run: members, their logs, the client stream and the fault.

use super::election::Vote;
use super::{FailureScenario, ReplicationConfig, ReplicationReport};
use crate::queue::EventQueue;
use distsys_patterns::replication::ReplicationMode;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const MS: u64 = 1_000;

/// A log entry: the epoch of the primary that wrote it, and the write's id.
pub(super) type Entry = (u64, u64);

/// Messages between members.
#[derive(Debug, Clone)]
pub(super) enum Msg {
    /// Entry `index` of the sender's log (epoch `epoch`), after an entry of epoch `prev_epoch`.
    Append {
        epoch: u64,
        index: u64,
        prev_epoch: u64,
        entry: Entry,
    },
    /// The primary of `epoch` is alive.
    Heartbeat { epoch: u64 },
    /// The sender (of epoch `epoch`) holds a log matching the primary's up to `upto`; `ok` false
    /// means the entry did not match and the primary must resend from `upto + 1`.
    Ack { epoch: u64, upto: u64, ok: bool },
    /// The sender knows a newer epoch: the receiving primary must step down.
    Stale { epoch: u64 },
    /// Election traffic.
    Vote(Vote),
}

#[derive(Debug)]
pub(super) enum Event {
    /// A client offers write `n` (the n-th write of the run).
    Offer(u64),
    /// A message arrives.
    Deliver { from: usize, to: usize, msg: Msg },
    /// Member `node` applies its next entry.
    Apply { node: usize },
    /// Member `node`'s periodic work: heartbeats and resends as primary, the detector otherwise.
    Tick { node: usize },
    /// The client of write `id` gives up.
    Timeout { id: u64 },
    /// The scenario's fault.
    Fault,
}

/// One member of the group.
pub(super) struct Member {
    pub(super) alive: bool,
    /// The durable log.
    pub(super) log: Vec<Entry>,
    pub(super) applied: u64,
    pub(super) applying: bool,
    /// The newest epoch this member accepts traffic from.
    pub(super) epoch: u64,
    /// The primary of `epoch`, when this member is it.
    pub(super) leading: bool,
    /// When it last heard the primary of its epoch (or started standing).
    pub(super) last_heard: u64,
    /// Its detector's jitter, added to the suspicion timeout.
    pub(super) jitter: u64,
    /// As primary: per member, the index up to which its log is known to match.
    pub(super) matched: Vec<u64>,
    /// As primary: per member, `matched` at the previous tick (a stalled stream is resent).
    pub(super) matched_at_tick: Vec<u64>,
    /// As primary: per member, the hint the stream was last resent after (u64::MAX: none since
    /// the last accepted entry). Refusals with a hint at or above it are of entries already
    /// superseded and are ignored, so one divergence costs one resend, not one per entry.
    pub(super) resent_after: Vec<u64>,
    /// As primary: per member, when it last answered the stream.
    pub(super) acked_at: Vec<u64>,
    /// Election state.
    pub(super) election: super::election::Ballot,
}

impl Member {
    pub(super) fn last(&self) -> (u64, u64) {
        (self.log.last().map_or(0, |e| e.0), self.log.len() as u64)
    }
}

pub(super) struct Run {
    pub(super) config: ReplicationConfig,
    pub(super) rng: ChaCha8Rng,
    pub(super) queue: EventQueue<Event>,
    pub(super) now: u64,
    pub(super) members: Vec<Member>,
    /// The member the clients write to (the last primary they heard of).
    pub(super) client_primary: usize,
    /// Members removed from the configuration (declared failed by an election).
    pub(super) removed: BTreeSet<usize>,
    /// Writes waiting for their acknowledgement: id -> (primary, index, offered at).
    pub(super) pending: BTreeMap<u64, (usize, u64, u64)>,
    pub(super) acknowledged: BTreeSet<u64>,
    /// Latest delivery time per (from, to) link.
    pub(super) link_free: BTreeMap<(usize, usize), u64>,
    /// The fault's time and the newest epoch then (a recovery is an ack from a newer one).
    pub(super) fault: Option<(u64, u64)>,
    pub(super) report: ReplicationReport,
}

impl Run {
    pub(super) fn schedule(&mut self, at: u64, event: Event) {
        self.queue.push(at, event);
    }

    /// Whether the link between two members is cut now.
    fn cut(&self, a: usize, b: usize) -> bool {
        let in_window = |w: Option<(u64, u64)>| {
            w.is_some_and(|(from, to)| (from * MS..to * MS).contains(&self.now))
        };
        // Backup 1 (member 1) is cut off from the original primary (member 0).
        if (a.min(b), a.max(b)) == (0, 1) && in_window(self.config.partition_ms) {
            return true;
        }
        if self.config.scenario == FailureScenario::PrimaryIsolated {
            let window = self
                .config
                .fault_at_ms
                .map(|at| (at, at + self.config.isolation_ms));
            return (a == 0 || b == 0) && in_window(window);
        }
        false
    }

    /// One message's delay: the link's latency (the far zone's across zones) jittered
    /// 0.75-1.5x.
    fn delay(&mut self, from: usize, to: usize) -> u64 {
        let far = self
            .config
            .far_latency_ms
            .filter(|_| (from < 2) != (to < 2));
        let base = far.unwrap_or(self.config.latency_ms) * MS as f64;
        (base * self.rng.random_range(0.75..1.5)) as u64
    }

    /// Sends a message; it arrives after the link's delay unless the link is cut then, or the
    /// sender has died meanwhile (its socket buffers die with it).
    pub(super) fn send(&mut self, from: usize, to: usize, msg: Msg) {
        // Links are FIFO (a TCP connection per pair).
        let delay = self.delay(from, to);
        let free = self.link_free.entry((from, to)).or_insert(0);
        let at = (self.now + delay).max(*free + 1);
        *free = at;
        self.schedule(at, Event::Deliver { from, to, msg });
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Offer(n) => self.offer(n),
            Event::Deliver { from, to, msg } => {
                if self.members[from].alive && self.members[to].alive && !self.cut(from, to) {
                    self.deliver(from, to, msg);
                }
            }
            Event::Apply { node } => self.apply(node),
            Event::Tick { node } => {
                let at = self.now + self.config.heartbeat_ms * MS;
                self.schedule(at, Event::Tick { node });
                if self.members[node].alive {
                    if self.members[node].leading {
                        self.lead(node);
                    } else {
                        self.detect(node);
                    }
                }
            }
            Event::Timeout { id } => {
                if self.pending.remove(&id).is_some() {
                    self.report.timed_out += 1;
                }
            }
            Event::Fault => self.inject_fault(),
        }
    }

    fn inject_fault(&mut self) {
        let epoch = self.members.iter().map(|m| m.epoch).max().unwrap_or(0);
        self.fault = Some((self.now, epoch));
        let primary = self.client_primary;
        let crash = |run: &mut Run, node: usize| {
            run.members[node].alive = false;
            run.members[node].leading = false;
            let lost: Vec<u64> = run
                .pending
                .iter()
                .filter(|(_, (p, _, _))| *p == node)
                .map(|(id, _)| *id)
                .collect();
            for id in lost {
                run.pending.remove(&id);
                run.report.timed_out += 1;
            }
        };
        match self.config.scenario {
            FailureScenario::PrimaryCrash => crash(self, primary),
            FailureScenario::PrimaryAndBackupCrash => {
                // The backup whose acknowledgements went furthest: the one semi-sync counted.
                let matched = self.members[primary].matched.clone();
                let acking = (0..self.members.len())
                    .filter(|b| *b != primary && self.members[*b].alive)
                    .max_by_key(|b| (matched[*b], std::cmp::Reverse(*b)));
                crash(self, primary);
                if let Some(b) = acking {
                    crash(self, b);
                }
            }
            // The links are cut by `cut` for the isolation window.
            FailureScenario::PrimaryIsolated => {}
        }
    }

    /// Write `n` offered to the primary the clients know: the next one scheduled, this one
    /// logged, shipped and given its timeout (or refused at once when that member is down or no
    /// longer primary).
    fn offer(&mut self, n: u64) {
        self.report.writes += 1;
        let interval = 1_000_000 / self.config.writes_per_second.max(1);
        if self.now + interval < self.config.duration_ms * MS {
            self.schedule(self.now + interval, Event::Offer(n + 1));
        }
        let p = self.client_primary;
        if !self.members[p].alive || !self.members[p].leading {
            self.report.timed_out += 1;
            return;
        }
        let epoch = self.members[p].epoch;
        self.members[p].log.push((epoch, n));
        let index = self.members[p].log.len() as u64;
        self.members[p].matched[p] = index;
        // The primary applies its own writes as it takes them.
        self.members[p].applied = index;
        self.pending.insert(n, (p, index, self.now));
        let timeout = self.now + self.config.timeout_ms * MS;
        self.schedule(timeout, Event::Timeout { id: n });
        for b in 0..self.members.len() {
            if b != p {
                self.ship(p, b, index);
            }
        }
        self.acknowledge_ready(p);
    }

    /// Sends entry `index` of primary `p`'s log to `to`.
    pub(super) fn ship(&mut self, p: usize, to: usize, index: u64) {
        let log = &self.members[p].log;
        let Some(entry) = log.get(index as usize - 1).copied() else {
            return;
        };
        let prev_epoch = if index >= 2 {
            log[index as usize - 2].0
        } else {
            0
        };
        let epoch = self.members[p].epoch;
        self.send(
            p,
            to,
            Msg::Append {
                epoch,
                index,
                prev_epoch,
                entry,
            },
        );
    }

    fn deliver(&mut self, from: usize, to: usize, msg: Msg) {
        match msg {
            Msg::Append {
                epoch,
                index,
                prev_epoch,
                entry,
            } => {
                if self.fenced(from, to, epoch) {
                    return;
                }
                self.append(from, to, epoch, index, prev_epoch, entry);
            }
            Msg::Heartbeat { epoch } => {
                self.fenced(from, to, epoch);
            }
            Msg::Ack { epoch, upto, ok } => self.on_ack(from, to, epoch, upto, ok),
            Msg::Stale { epoch } => {
                if epoch > self.members[to].epoch {
                    self.members[to].epoch = epoch;
                    self.members[to].leading = false;
                }
            }
            Msg::Vote(vote) => self.on_vote(from, to, vote),
        }
    }

    /// Epoch fencing of traffic from a primary: an older epoch is refused (and its sender told
    /// to step down); a newer one is adopted. Returns true when the message must be dropped.
    fn fenced(&mut self, from: usize, to: usize, epoch: u64) -> bool {
        let member = &mut self.members[to];
        if epoch < member.epoch {
            let newer = member.epoch;
            self.send(to, from, Msg::Stale { epoch: newer });
            return true;
        }
        if epoch > member.epoch {
            member.epoch = epoch;
            member.leading = false;
        }
        member.last_heard = self.now;
        member.election.withdraw();
        false
    }

    /// The log-matching check: entry `index` is taken only after a matching entry before it; a
    /// conflicting suffix is cut. Acknowledged with what now matches.
    fn append(&mut self, from: usize, to: usize, epoch: u64, index: u64, prev: u64, entry: Entry) {
        let member = &mut self.members[to];
        let len = member.log.len() as u64;
        let matches_prev =
            index == 1 || (index - 1 <= len && member.log[index as usize - 2].0 == prev);
        if !matches_prev {
            // Where to resend from: after the end of a log that is merely behind; else past
            // the last entry of an older epoch than the one expected (skipping a whole
            // diverging epoch at a time). Only a hint: the check runs again there.
            let hint = if index - 1 > len {
                len
            } else {
                member
                    .log
                    .iter()
                    .take(index as usize - 1)
                    .rposition(|e| e.0 < prev)
                    .map_or(0, |i| i as u64 + 1)
            };
            self.send(
                to,
                from,
                Msg::Ack {
                    epoch,
                    upto: hint,
                    ok: false,
                },
            );
            return;
        }
        match member.log.get(index as usize - 1) {
            Some(existing) if *existing == entry => {}
            _ => {
                member.log.truncate(index as usize - 1);
                member.applied = member.applied.min(index - 1);
                member.log.push(entry);
            }
        }
        if !member.applying && member.applied < member.log.len() as u64 {
            member.applying = true;
            self.schedule_apply(to);
        }
        let primary_len = self.members[from].log.len() as u64;
        let lag = primary_len.saturating_sub(self.members[to].applied);
        self.report.max_lag = self.report.max_lag.max(lag);
        self.send(
            to,
            from,
            Msg::Ack {
                epoch,
                upto: index,
                ok: true,
            },
        );
    }

    fn apply(&mut self, node: usize) {
        let member = &mut self.members[node];
        if member.applied < member.log.len() as u64 {
            member.applied += 1;
        }
        if member.alive && member.applied < member.log.len() as u64 {
            self.schedule_apply(node);
        } else {
            member.applying = false;
        }
    }

    /// `node` applies its next entry one apply interval from now.
    fn schedule_apply(&mut self, node: usize) {
        let at = self.now + 1_000_000 / self.config.apply_per_second.max(1);
        self.schedule(at, Event::Apply { node });
    }

    fn on_ack(&mut self, from: usize, to: usize, epoch: u64, upto: u64, ok: bool) {
        let primary = &mut self.members[to];
        if !primary.leading || epoch != primary.epoch {
            return;
        }
        let len = primary.log.len() as u64;
        primary.acked_at[from] = self.now;
        if ok {
            primary.resent_after[from] = u64::MAX;
            primary.matched[from] = primary.matched[from].max(upto);
            // A member that left the configuration comes back once it holds the whole log.
            if primary.matched[from] == len {
                self.removed.remove(&from);
            }
            self.acknowledge_ready(to);
        } else if upto < primary.resent_after[from] {
            // `upto` is a hint of where to resend from, not a proof of a match.
            primary.resent_after[from] = upto;
            for index in upto + 1..=len {
                self.ship(to, from, index);
            }
        }
    }

    /// Members whose copy counts toward acknowledgements: every other member still in the
    /// configuration.
    fn counted(&self, p: usize) -> Vec<usize> {
        (0..self.members.len())
            .filter(|b| *b != p && !self.removed.contains(b))
            .collect()
    }

    fn needed(&self, p: usize) -> usize {
        let members = self.counted(p).len();
        match self.config.mode {
            ReplicationMode::Sync => members,
            ReplicationMode::SemiSync { k } => k.min(members),
            ReplicationMode::Async => 0,
        }
    }

    fn acknowledge_ready(&mut self, p: usize) {
        let needed = self.needed(p);
        let counted = self.counted(p);
        let matched = &self.members[p].matched;
        let mut copies: Vec<u64> = counted.iter().map(|b| matched[*b]).collect();
        copies.sort_unstable_by(|a, b| b.cmp(a));
        let durable_upto = if needed == 0 {
            u64::MAX
        } else {
            copies.get(needed - 1).copied().unwrap_or(0)
        };
        let ready: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, (primary, index, _))| *primary == p && *index <= durable_upto)
            .map(|(id, _)| *id)
            .collect();
        let epoch = self.members[p].epoch;
        for id in ready {
            if let Some((_, _, offered)) = self.pending.remove(&id) {
                self.acknowledged.insert(id);
                self.report.acknowledged += 1;
                self.report.latencies_us.push(self.now - offered);
                if let Some((at, fault_epoch)) = self.fault {
                    if epoch > fault_epoch {
                        self.report.rto_ms.push((self.now - at) as f64 / 1000.0);
                        self.fault = None;
                    }
                }
            }
        }
    }

    /// The primary's tick: heartbeats, and the stream resent to members whose copy did not
    /// move since the previous tick.
    fn lead(&mut self, p: usize) {
        let epoch = self.members[p].epoch;
        let len = self.members[p].log.len() as u64;
        for b in 0..self.members.len() {
            if b == p {
                continue;
            }
            self.send(p, b, Msg::Heartbeat { epoch });
            let matched = self.members[p].matched[b];
            if matched < len && matched == self.members[p].matched_at_tick[b] {
                let silent = self.now.saturating_sub(self.members[p].acked_at[b]);
                if silent > self.config.detect_ms * MS {
                    // A member silent that long (down or cut off) gets a probe, not the
                    // stream: its answer says where to resume.
                    self.ship(p, b, len);
                } else {
                    for index in matched + 1..=len {
                        self.ship(p, b, index);
                    }
                }
            }
            self.members[p].matched_at_tick[b] = matched;
        }
    }

    fn finish(&mut self) {
        let primary = (0..self.members.len())
            .filter(|m| self.members[*m].alive && self.members[*m].leading)
            .max_by_key(|m| self.members[*m].epoch);
        match primary {
            Some(p) => {
                let held: BTreeSet<u64> = self.members[p].log.iter().map(|e| e.1).collect();
                self.report.lost_acknowledged += self
                    .acknowledged
                    .iter()
                    .filter(|id| !held.contains(id))
                    .count() as u64;
            }
            None => self.report.without_primary += 1,
        }
        if self.fault.is_some() {
            self.report.unrecovered += 1;
        }
    }
}

/// Runs one seed.
pub fn run_replication(config: &ReplicationConfig) -> ReplicationReport {
    let n = config.members();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let members = (0..n)
        .map(|i| Member {
            alive: true,
            log: Vec::new(),
            applied: 0,
            applying: false,
            epoch: 0,
            leading: i == 0,
            last_heard: 0,
            jitter: rng.random_range(0..=config.detect_ms * MS / 2),
            matched: vec![0; n],
            matched_at_tick: vec![0; n],
            resent_after: vec![u64::MAX; n],
            acked_at: vec![0; n],
            election: Default::default(),
        })
        .collect();
    let mut run = Run {
        rng,
        queue: EventQueue::new(),
        now: 0,
        members,
        client_primary: 0,
        removed: BTreeSet::new(),
        pending: BTreeMap::new(),
        acknowledged: BTreeSet::new(),
        link_free: BTreeMap::new(),
        fault: None,
        report: ReplicationReport {
            runs: 1,
            ..ReplicationReport::default()
        },
        config: config.clone(),
    };
    run.schedule(0, Event::Offer(0));
    for node in 0..n {
        let at = run.rng.random_range(0..config.heartbeat_ms * MS);
        run.schedule(at, Event::Tick { node });
    }
    if let Some(at) = config.fault_at_ms {
        run.schedule(at * MS, Event::Fault);
    }
    let end = config.duration_ms * MS + config.timeout_ms * MS;
    while let Some((at, event)) = run.queue.pop() {
        if at > end {
            break;
        }
        run.now = at;
        run.handle(event);
    }
    run.finish();
    run.report.latencies_us.sort_unstable();
    run.report
}
