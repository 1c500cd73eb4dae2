//! The workload: clients issuing reads, writes, cas and appends with the project's retry policy
//! and idempotency keys (client, seq), following leader hints, and for protocols whose every
//! replica answers, waiting for matching answers.

use super::{EventKind, Sim, MS};
use crate::protocol::Simulated;
use crate::workload::{self, Operation};
use distsys_check::history::{Completion, OpKind};
use distsys_consensus::replica::{ClientOp, ClientReply, ClientRequest};
use distsys_consensus::NodeId;
use rand::RngExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Marks a `ClientTimeout` event that is really a scheduled resend.
const RESEND_MARK: u32 = 1_000_000;

#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) seq: u64,
    pub(super) kind: OpKind,
    pub(super) key: String,
    pub(super) input: Value,
    pub(super) op: ClientOp,
    pub(super) attempt: u32,
    pub(super) invoked_at: u64,
    /// Byzantine-tolerant protocols: the answers so far, with the replicas that gave each.
    pub(super) votes: Vec<(ClientReply, BTreeSet<NodeId>)>,
}

pub(super) struct Client {
    pub(super) process: u64,
    pub(super) guess: NodeId,
    pub(super) next_seq: u64,
    pub(super) pending: Option<Pending>,
}

/// How long, since the heal, at least one client had a request out at the cluster (sent, and
/// neither answered nor timed out): the time the liveness bound is measured in. A client asleep
/// in its retry backoff asks nothing of the cluster, so that time is not the protocol's to
/// answer for (with one client, a backoff of up to 10 s begun during the faults used to make a
/// healthy cluster miss a 6 s bound).
#[derive(Debug, Default)]
pub(super) struct WaitClock {
    /// Clients with a request out.
    out: BTreeSet<usize>,
    /// When `out` last became non-empty (or the clock restarted).
    since: u64,
    /// Time with a request out, from the restart up to `since`.
    total: u64,
}

impl WaitClock {
    /// Client `client` has a request out (`true`) or not, at `now`.
    pub(super) fn set(&mut self, client: usize, out: bool, now: u64) {
        if out {
            if self.out.is_empty() {
                self.since = now;
            }
            self.out.insert(client);
        } else if self.out.remove(&client) && self.out.is_empty() {
            self.total += now - self.since;
        }
    }

    /// Starts counting from zero at `now` (the heal).
    pub(super) fn restart(&mut self, now: u64) {
        self.total = 0;
        self.since = now;
    }

    /// Time with a request out since the restart, at `now`.
    pub(super) fn elapsed(&self, now: u64) -> u64 {
        self.total
            + if self.out.is_empty() {
                0
            } else {
                now.saturating_sub(self.since)
            }
    }
}

impl<C: Simulated> Sim<C> {
    pub(super) fn client_next(&mut self, client: usize) {
        if self.clients[client].pending.is_some() {
            return;
        }
        if self.now >= self.clients_end_us {
            return;
        }
        self.value_counter += 1;
        let Operation {
            key,
            kind,
            input,
            op,
        } = workload::next_operation(&mut self.rng, self.value_counter);
        let c = &mut self.clients[client];
        let seq = c.next_seq;
        c.next_seq += 1;
        c.pending = Some(Pending {
            seq,
            kind,
            key: key.clone(),
            input: input.clone(),
            op,
            attempt: 0,
            invoked_at: self.now,
            votes: Vec::new(),
        });
        self.report.ops_total += 1;
        self.record(client, None, kind, &key, input);
        self.client_send(client);
    }

    pub(super) fn client_send(&mut self, client: usize) {
        let Some(mut pending) = self.clients[client].pending.clone() else {
            return;
        };
        pending.attempt += 1;
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        // A read's first attempt sometimes goes to any node (a client that does not know or trust
        // the leader); retries follow the leader hints.
        let node =
            if pending.kind == OpKind::Read && pending.attempt == 1 && self.rng.random_bool(0.3) {
                ids[self.rng.random_range(0..ids.len())]
            } else {
                self.clients[client].guess
            };
        let request = ClientRequest {
            client: client as u64 + 1,
            seq: pending.seq,
            op: pending.op.clone(),
        };
        let connection = ((client as u64) << 8) | u64::from(pending.attempt & 0xff);
        let (seq, attempt) = (pending.seq, pending.attempt);
        self.clients[client].pending = Some(pending);
        // Protocols whose every replica answers: the request goes to every replica, and the
        // client waits for matching answers (f+1 for byzantine-tolerant ones).
        let targets = if self.every_replica_answers {
            ids
        } else {
            vec![node]
        };
        for node in targets {
            let at = self.now + self.link_delay();
            self.schedule(
                at,
                EventKind::Request {
                    node,
                    connection,
                    request: request.clone(),
                },
            );
        }
        self.waiting.set(client, true, self.now);
        let timeout = self.now + self.request_timeout_us;
        self.schedule(
            timeout,
            EventKind::ClientTimeout {
                client,
                seq,
                attempt,
            },
        );
    }

    pub(super) fn client_reply(
        &mut self,
        from: NodeId,
        client: usize,
        seq: u64,
        attempt: u32,
        reply: ClientReply,
    ) {
        let Some(reply) = self.accepted(from, client, seq, reply) else {
            return;
        };
        let Some(pending) = self.clients[client].pending.clone() else {
            return;
        };
        match reply {
            ClientReply::Ok { value } => self.completed_ok(client, &pending, value),
            // The simulated workload never sends an operation that can be invalid (no INCR);
            // like a failed cas, nothing changed.
            ClientReply::CasFailed | ClientReply::Invalid(_) => {
                self.record(
                    client,
                    Some(Completion::Fail),
                    pending.kind,
                    &pending.key,
                    pending.input.clone(),
                );
                self.complete(client);
            }
            ClientReply::NotLeader { leader } => {
                if attempt != pending.attempt {
                    return;
                }
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
                let guess = match leader {
                    Some(l) => l,
                    None => ids[self.rng.random_range(0..ids.len())],
                };
                self.clients[client].guess = guess;
                self.retry_later(client, leader.is_some());
            }
        }
    }

    /// The answer the client takes from `reply` to its pending operation `seq`, if it takes
    /// one now: the reply itself, or for protocols whose every replica answers, an answer once
    /// [`Simulated::matching_replies`] replicas gave it (f+1: at least one is correct).
    fn accepted(
        &mut self,
        from: NodeId,
        client: usize,
        seq: u64,
        reply: ClientReply,
    ) -> Option<ClientReply> {
        let pending = self.clients[client].pending.as_mut()?;
        if pending.seq != seq {
            return None;
        }
        if !self.every_replica_answers {
            return Some(reply);
        }
        let needed = C::matching_replies(self.config.nodes);
        let index = match pending.votes.iter().position(|(r, _)| *r == reply) {
            Some(i) => i,
            None => {
                pending.votes.push((reply, BTreeSet::new()));
                pending.votes.len() - 1
            }
        };
        let (reply, voters) = &mut pending.votes[index];
        voters.insert(from);
        (voters.len() >= needed).then(|| reply.clone())
    }

    /// The pending operation succeeded: recorded with its output (the value read, or what
    /// was written), its latency measured.
    fn completed_ok(
        &mut self,
        client: usize,
        pending: &Pending,
        value: Option<distsys_consensus::kv::ByteString>,
    ) {
        let output = if pending.kind == OpKind::Read {
            json!(value)
        } else {
            pending.input.clone()
        };
        self.record(
            client,
            Some(Completion::Ok),
            pending.kind,
            &pending.key,
            output,
        );
        let latency = self.now - pending.invoked_at;
        if pending.kind.is_mutation() {
            self.report.write_latencies_us.push(latency);
        }
        self.report
            .latency_by_operation_us
            .entry(pending.kind.name().to_string())
            .or_default()
            .push(latency);
        self.complete(client);
    }

    /// Notes that a client's operation ended; records when the last one pending at the heal did.
    pub(super) fn ended(&mut self, client: usize) {
        self.waiting.set(client, false, self.now);
        if let (Some(pending), Some(healed)) =
            (self.clients[client].pending.as_ref(), self.healed_at)
        {
            if self.pending_at_heal.remove(&(client, pending.seq))
                && self.pending_at_heal.is_empty()
            {
                self.report.clients_done_after_heal_us = Some(self.now - healed);
            }
        }
    }

    pub(super) fn complete(&mut self, client: usize) {
        self.ended(client);
        if let (Some(healed), None) = (self.healed_at, self.report.first_ok_after_heal_us) {
            self.report.first_ok_after_heal_us = Some(self.now - healed);
            self.first_ok_waited_us = Some(self.waiting.elapsed(self.now));
        }
        self.report.ops_ok += 1;
        self.clients[client].pending = None;
        let think = self.rng.random_range(0..20 * MS);
        self.schedule(self.now + think, EventKind::ClientNext { client });
    }

    /// Retries the pending operation with the same idempotency key (client, seq), after the
    /// retry policy's backoff (at once when a leader was named), or gives up when the attempts
    /// are used up.
    pub(super) fn retry_later(&mut self, client: usize, immediately: bool) {
        let Some(pending) = self.clients[client].pending.as_ref() else {
            return;
        };
        self.waiting.set(client, false, self.now);
        let unit: f64 = self.rng.random_range(0.0..1.0);
        match self.retry.backoff_ms(pending.attempt, unit) {
            Some(delay_ms) => {
                let delay = if immediately { 0 } else { delay_ms * MS };
                self.schedule_resend(client, delay);
            }
            None => self.give_up(client),
        }
    }

    pub(super) fn schedule_resend(&mut self, client: usize, delay: u64) {
        // Resending is an event of its own so that it happens at the right virtual time.
        let Some(pending) = self.clients[client].pending.as_mut() else {
            return;
        };
        let (seq, attempt) = (pending.seq, pending.attempt);
        let at = self.now + delay.max(1);
        // A ClientTimeout with attempt = current attempt + 1000 marks a scheduled resend.
        self.schedule(
            at,
            EventKind::ClientTimeout {
                client,
                seq,
                attempt: attempt + RESEND_MARK,
            },
        );
    }

    pub(super) fn client_timeout(&mut self, client: usize, seq: u64, attempt: u32) {
        let Some(pending) = self.clients[client].pending.clone() else {
            return;
        };
        if pending.seq != seq {
            return;
        }
        if attempt >= RESEND_MARK {
            if attempt - RESEND_MARK == pending.attempt {
                self.client_send(client);
            }
            return;
        }
        if attempt != pending.attempt {
            return;
        }
        // No answer: maybe the node is down; try another one after a backoff.
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        self.clients[client].guess = ids[self.rng.random_range(0..ids.len())];
        self.retry_later(client, false);
    }

    /// Every attempt used up: the outcome is unknown. Jepsen retires the process.
    pub(super) fn give_up(&mut self, client: usize) {
        self.ended(client);
        let Some(pending) = self.clients[client].pending.take() else {
            return;
        };
        let completion = if pending.kind == OpKind::Read {
            Completion::Fail
        } else {
            Completion::Info
        };
        self.record(
            client,
            Some(completion),
            pending.kind,
            &pending.key,
            pending.input.clone(),
        );
        self.report.ops_unknown += 1;
        self.clients[client].process = self.next_process;
        self.next_process += 1;
        self.schedule(self.now + MS, EventKind::ClientNext { client });
    }
}
