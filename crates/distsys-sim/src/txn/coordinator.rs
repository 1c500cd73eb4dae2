//! The transaction coordinator and recoverer, sans-IO: it turns a transaction (or an orphaned
//! intent) into commands for groups, and group replies into the next commands and the client's
//! answer. The driver carries each [`Request`] to the group's leader, retries it on a timeout
//! ([`Coordinator::timeout`]) and feeds replies back ([`Coordinator::reply`]).
//!
//! A transaction writes its record in its anchor group (the group of its first key):
//! - classic 2PC: prepare every participant; then decide in the record; answer the client once
//!   the decision is durable (two consensus rounds);
//! - parallel commits: prepare every participant and STAGE the record at the same time; answer
//!   the client once all are durable (one round); then write COMMITTED and resolve.
//!
//! A recoverer (any node finding an old intent) reads the record with `Recover`, which aborts a
//! missing record; a STAGING record is committed iff every participant prepared (`Probe`
//! refuses a prepare that has not arrived, so the answer cannot change afterwards).

use super::types::{
    Command, CommitProtocol, GroupId, Op, ReadResult, RecordState, Reply, Ts, TxnId, TxnMeta,
};
use super::TxnMutant;
use std::collections::{BTreeMap, BTreeSet};

/// A request's identity (unique per coordinator).
pub type ReqId = u64;

/// A command for a group, to deliver to its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request (a retry keeps it).
    pub id: ReqId,
    /// The group.
    pub group: GroupId,
    /// The command.
    pub command: Command,
}

/// How a transaction ended, for its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed; the reads' results per group, in operation order.
    Committed(BTreeMap<GroupId, Vec<ReadResult>>),
    /// Aborted: none of its writes will ever be visible.
    Aborted,
}

/// The client's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The transaction.
    pub txn: TxnId,
    /// Its outcome.
    pub outcome: Outcome,
    /// Consensus rounds on its critical path (a retried request counts each attempt).
    pub rounds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Prepares (and, for parallel commits, the STAGE) in flight.
    Prepare,
    /// Recoverer: reading the record.
    ReadRecord,
    /// Recoverer: probing the participants of a STAGING record.
    Probe,
    /// Writing the decision into the record.
    Decide,
    /// Resolving intents.
    Resolve,
}

/// One transaction being committed, or one being recovered.
#[derive(Debug, Clone)]
struct Job {
    meta: TxnMeta,
    ops: BTreeMap<GroupId, Vec<Op>>,
    phase: Phase,
    votes: BTreeMap<GroupId, Option<Vec<ReadResult>>>,
    probes: BTreeMap<GroupId, bool>,
    staged: Option<RecordState>,
    /// Whether the client has its answer (recoveries have no client).
    answered: bool,
    rounds: u32,
    phase_attempts: u32,
    unresolved: BTreeSet<GroupId>,
}

#[derive(Debug, Clone)]
struct Pending {
    txn: TxnId,
    request: Request,
    attempts: u32,
}

/// A node's coordinator: its transactions and recoveries.
#[derive(Debug)]
pub struct Coordinator {
    protocol: CommitProtocol,
    mutant: Option<TxnMutant>,
    jobs: BTreeMap<TxnId, Job>,
    pending: BTreeMap<ReqId, Pending>,
    next_req: ReqId,
    requests: Vec<Request>,
    answers: Vec<Answer>,
}

impl Coordinator {
    /// A coordinator committing with `protocol`, with a seeded bug or none.
    pub fn new(protocol: CommitProtocol, mutant: Option<TxnMutant>) -> Coordinator {
        Coordinator {
            protocol,
            mutant,
            jobs: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_req: 1,
            requests: Vec::new(),
            answers: Vec::new(),
        }
    }

    /// Starts a transaction: its operations per group (the first group holds its record).
    pub fn begin(&mut self, txn: TxnId, ts: Ts, ops: BTreeMap<GroupId, Vec<Op>>) {
        let participants: Vec<GroupId> = ops.keys().copied().collect();
        debug_assert!(!participants.is_empty(), "a transaction touches a group");
        let anchor = participants[0];
        let meta = TxnMeta {
            anchor,
            participants: participants.clone(),
            protocol: self.protocol,
        };
        let writes = ops.values().flatten().any(|op| op.writes());
        for (&group, group_ops) in &ops {
            let command = Command::Prepare {
                txn,
                ts,
                ops: group_ops.clone(),
                meta: meta.clone(),
            };
            self.send(txn, group, command);
        }
        let staged = if writes && self.stages() {
            self.send(txn, anchor, Command::Stage { txn });
            None
        } else {
            Some(RecordState::Staging)
        };
        self.jobs.insert(
            txn,
            Job {
                meta,
                ops,
                phase: Phase::Prepare,
                votes: BTreeMap::new(),
                probes: BTreeMap::new(),
                staged,
                answered: false,
                rounds: 0,
                phase_attempts: 0,
                unresolved: BTreeSet::new(),
            },
        );
    }

    /// Starts recovering a transaction found as an intent (no-op if already handled here).
    pub fn recover(&mut self, txn: TxnId, meta: TxnMeta) {
        if self.jobs.contains_key(&txn) {
            return;
        }
        self.send(txn, meta.anchor, Command::Recover { txn });
        self.jobs.insert(
            txn,
            Job {
                meta,
                ops: BTreeMap::new(),
                phase: Phase::ReadRecord,
                votes: BTreeMap::new(),
                probes: BTreeMap::new(),
                staged: None,
                answered: true,
                rounds: 0,
                phase_attempts: 0,
                unresolved: BTreeSet::new(),
            },
        );
    }

    /// Whether a transaction or recovery is in progress here.
    pub fn handles(&self, txn: TxnId) -> bool {
        self.jobs.contains_key(&txn)
    }

    /// A request timed out: send it again (every command is idempotent).
    pub fn timeout(&mut self, id: ReqId) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.attempts += 1;
            self.requests.push(p.request.clone());
        }
    }

    /// The group a pending request goes to.
    pub fn group_of(&self, id: ReqId) -> Option<GroupId> {
        self.pending.get(&id).map(|p| p.request.group)
    }

    /// Attempts made so far for a request (0 once answered).
    pub fn attempts(&self, id: ReqId) -> u32 {
        self.pending.get(&id).map_or(0, |p| p.attempts)
    }

    /// A group's reply to a request.
    pub fn reply(&mut self, id: ReqId, reply: Reply) {
        let Some(p) = self.pending.remove(&id) else {
            return; // a duplicate answer
        };
        let group = p.request.group;
        let Some(job) = self.jobs.get_mut(&p.txn) else {
            return;
        };
        job.phase_attempts = job.phase_attempts.max(p.attempts);
        match (job.phase, reply) {
            (Phase::Prepare, Reply::Vote(vote)) => {
                job.votes.insert(group, vote);
                self.after_prepare(p.txn);
            }
            (Phase::Prepare, Reply::Record(state)) if is_stage(&p.request.command) => {
                job.staged = Some(state);
                self.after_prepare(p.txn);
            }
            (Phase::ReadRecord, Reply::Record(state)) if is_recover(&p.request.command) => {
                match state {
                    RecordState::Staging => {
                        job.phase = Phase::Probe;
                        for g in job.meta.participants.clone() {
                            self.send(p.txn, g, Command::Probe { txn: p.txn });
                        }
                    }
                    decided => self.resolve(p.txn, decided == RecordState::Committed),
                }
            }
            (Phase::Probe, Reply::Prepared(prepared)) => {
                job.probes.insert(group, prepared);
                if job.probes.len() == job.meta.participants.len() {
                    let commit = job.probes.values().all(|&p| p);
                    self.decide(p.txn, commit);
                }
            }
            (Phase::Decide, Reply::Record(state)) if is_decide(&p.request.command) => {
                let commit = state == RecordState::Committed;
                debug_assert!(state != RecordState::Staging, "a decision decides");
                self.answer(p.txn, commit);
                self.resolve(p.txn, commit);
            }
            (Phase::Resolve, Reply::Resolved) => {
                job.unresolved.remove(&group);
                if job.unresolved.is_empty() {
                    self.jobs.remove(&p.txn);
                }
            }
            // A late answer from an earlier phase (e.g. a vote after an abort).
            _ => {}
        }
    }

    /// Drains the requests to send.
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.requests)
    }

    /// Drains the clients' answers.
    pub fn take_answers(&mut self) -> Vec<Answer> {
        std::mem::take(&mut self.answers)
    }

    /// Whether transactions stage a record (parallel commits, unless the decision is kept in
    /// the coordinator only).
    fn stages(&self) -> bool {
        self.protocol == CommitProtocol::Parallel
            && self.mutant != Some(TxnMutant::CoordinatorOnlyDecision)
    }

    fn send(&mut self, txn: TxnId, group: GroupId, command: Command) {
        let id = self.next_req;
        self.next_req += 1;
        let request = Request { id, group, command };
        self.requests.push(request.clone());
        self.pending.insert(
            id,
            Pending {
                txn,
                request,
                attempts: 1,
            },
        );
    }

    fn after_prepare(&mut self, txn: TxnId) {
        let Some(job) = self.jobs.get_mut(&txn) else {
            return;
        };
        let ignore_refusals = self.mutant == Some(TxnMutant::CommitWithoutAllPrepared);
        let refused = job.votes.values().any(Option::is_none) && !ignore_refusals;
        let writes = job.ops.values().flatten().any(|op| op.writes());
        if refused || job.staged == Some(RecordState::Aborted) {
            // A refusal is final at its group, so the transaction can never commit.
            self.answer(txn, false);
            if writes {
                self.decide(txn, false);
            } else {
                self.jobs.remove(&txn);
            }
            return;
        }
        if job.votes.len() < job.ops.len() || job.staged.is_none() {
            return;
        }
        if !writes {
            self.answer(txn, true);
            self.jobs.remove(&txn);
            return;
        }
        match (self.protocol, self.mutant) {
            (_, Some(TxnMutant::CoordinatorOnlyDecision)) => {
                self.answer(txn, true);
                self.resolve(txn, true);
            }
            (CommitProtocol::Parallel, _) => {
                // Implicitly committed: STAGING and every intent are durable.
                self.answer(txn, true);
                self.decide(txn, true);
            }
            (CommitProtocol::TwoPhase, _) => self.decide(txn, true),
        }
    }

    fn decide(&mut self, txn: TxnId, commit: bool) {
        let Some(job) = self.jobs.get_mut(&txn) else {
            return;
        };
        job.rounds += job.phase_attempts;
        job.phase_attempts = 0;
        job.phase = Phase::Decide;
        let anchor = job.meta.anchor;
        self.send(txn, anchor, Command::Decide { txn, commit });
    }

    /// Answers the client once (the outcome is final when this is called).
    fn answer(&mut self, txn: TxnId, commit: bool) {
        let Some(job) = self.jobs.get_mut(&txn) else {
            return;
        };
        if job.answered {
            return;
        }
        job.answered = true;
        let outcome = if commit {
            let reads = job
                .votes
                .iter()
                .filter_map(|(g, v)| v.clone().map(|reads| (*g, reads)))
                .collect();
            Outcome::Committed(reads)
        } else {
            Outcome::Aborted
        };
        self.answers.push(Answer {
            txn,
            outcome,
            rounds: job.rounds + job.phase_attempts,
        });
    }

    fn resolve(&mut self, txn: TxnId, commit: bool) {
        let Some(job) = self.jobs.get_mut(&txn) else {
            return;
        };
        job.phase = Phase::Resolve;
        // A recoverer does not know which participants hold intents: it resolves them all.
        let targets: Vec<(GroupId, Vec<Op>)> = if job.ops.is_empty() {
            job.meta
                .participants
                .iter()
                .map(|g| (*g, Vec::new()))
                .collect()
        } else {
            job.ops
                .iter()
                .map(|(g, ops)| {
                    (
                        *g,
                        ops.iter()
                            .copied()
                            .filter(|op| op.writes())
                            .collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, writes)| !writes.is_empty())
                .collect()
        };
        job.unresolved = targets.iter().map(|(g, _)| *g).collect();
        if job.unresolved.is_empty() {
            self.jobs.remove(&txn);
            return;
        }
        for (group, writes) in targets {
            self.send(
                txn,
                group,
                Command::Resolve {
                    txn,
                    commit,
                    writes,
                },
            );
        }
    }
}

fn is_stage(command: &Command) -> bool {
    matches!(command, Command::Stage { .. })
}

fn is_recover(command: &Command) -> bool {
    matches!(command, Command::Recover { .. })
}

fn is_decide(command: &Command) -> bool {
    matches!(command, Command::Decide { .. })
}
