//! Failover without an oracle: a failure detector on heartbeats, a pre-vote round (a member
//! that merely lost its link to a live primary cannot disrupt it), then a majority vote of all
//! members for a log at least as up to date as the voter's. The winner's epoch fences the old
//! primary.

use super::run::{Msg, Run, MS};
use rand::RngExt;
use std::collections::BTreeSet;

/// Election traffic.
#[derive(Debug, Clone)]
pub(crate) enum Vote {
    /// The sender stands for `epoch` (a pre-vote when `pre`), with its log's last (epoch, index).
    Request {
        epoch: u64,
        pre: bool,
        last: (u64, u64),
    },
    /// The receiver grants the sender's request.
    Grant { epoch: u64, pre: bool },
}

/// A member's election state.
#[derive(Debug, Default)]
pub(crate) struct Ballot {
    /// The newest epoch this member voted in (it votes once per epoch).
    voted: u64,
    /// What it stands for now: (epoch, pre-vote?, members granting it).
    standing: Option<(u64, bool, BTreeSet<usize>)>,
    /// When it last stood (it stands again after a suspicion timeout without a winner). Its
    /// own candidacy is not news of a primary: it still grants others' pre-votes meanwhile.
    stood_at: u64,
}

impl Ballot {
    /// Gives up standing (a live primary was heard).
    pub(crate) fn withdraw(&mut self) {
        self.standing = None;
    }
}

impl Run {
    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    fn suspects(&self, node: usize, silence: u64) -> bool {
        let m = &self.members[node];
        !m.leading && self.now.saturating_sub(m.last_heard) >= silence
    }

    /// A backup's detector: after `detect_ms` (plus its jitter) without hearing the primary, it
    /// stands, starting with a pre-vote.
    pub(super) fn detect(&mut self, node: usize) {
        let timeout = self.config.detect_ms * MS + self.members[node].jitter;
        let stood_at = self.members[node].election.stood_at;
        if !self.suspects(node, timeout) || self.now.saturating_sub(stood_at) < timeout {
            return;
        }
        let epoch = self.members[node].epoch + 1;
        self.stand(node, epoch, true);
    }

    fn stand(&mut self, node: usize, epoch: u64, pre: bool) {
        // A new timeout for the next round, so that two candidates do not split again.
        let jitter = self.rng.random_range(0..=self.config.detect_ms * MS / 2);
        let member = &mut self.members[node];
        member.jitter = jitter;
        member.election.stood_at = self.now;
        if !pre {
            member.epoch = epoch;
            member.election.voted = epoch;
        }
        member.election.standing = Some((epoch, pre, BTreeSet::from([node])));
        let last = member.last();
        for to in 0..self.members.len() {
            if to != node {
                self.send(node, to, Msg::Vote(Vote::Request { epoch, pre, last }));
            }
        }
    }

    pub(super) fn on_vote(&mut self, from: usize, to: usize, vote: Vote) {
        match vote {
            Vote::Request { epoch, pre, last } => {
                let half_timeout = self.config.detect_ms * MS / 2;
                let member = &self.members[to];
                let up_to_date = last >= member.last();
                let grant = if pre {
                    epoch > member.epoch && up_to_date && self.suspects(to, half_timeout)
                } else {
                    epoch > member.election.voted && epoch >= member.epoch && up_to_date
                };
                if !grant {
                    return;
                }
                if !pre {
                    // Voting fences the old primary: its epoch's stream is refused from now on.
                    let member = &mut self.members[to];
                    member.epoch = epoch;
                    member.election.voted = epoch;
                    member.leading = false;
                    member.last_heard = self.now;
                }
                self.send(to, from, Msg::Vote(Vote::Grant { epoch, pre }));
            }
            Vote::Grant { epoch, pre } => {
                let majority = self.majority();
                let member = &mut self.members[to];
                let Some((standing, standing_pre, grants)) = member.election.standing.as_mut()
                else {
                    return;
                };
                if (*standing, *standing_pre) != (epoch, pre) || member.epoch > epoch {
                    return;
                }
                grants.insert(from);
                if grants.len() < majority {
                    return;
                }
                if pre {
                    self.stand(to, epoch, false);
                } else {
                    self.take_over(to);
                }
            }
        }
    }

    /// `node` won its epoch: it becomes the primary the clients write to, the previous primary
    /// leaves the configuration (until it catches up again), and each member is probed with the
    /// last entry (the log-matching check finds where it diverges).
    fn take_over(&mut self, node: usize) {
        let previous = self.client_primary;
        if previous != node {
            self.removed.insert(previous);
        }
        self.removed.remove(&node);
        self.client_primary = node;
        self.report.failovers += 1;
        let n = self.members.len();
        let member = &mut self.members[node];
        member.election.withdraw();
        member.leading = true;
        let len = member.log.len() as u64;
        member.matched = vec![0; n];
        member.matched[node] = len;
        // No bulk resend at the first tick: the probe below finds each member's position.
        member.matched_at_tick = vec![u64::MAX; n];
        member.resent_after = vec![u64::MAX; n];
        member.acked_at = vec![self.now; n];
        let epoch = member.epoch;
        for to in 0..n {
            if to == node {
                continue;
            }
            if len > 0 {
                self.ship(node, to, len);
            } else {
                self.send(node, to, Msg::Heartbeat { epoch });
            }
        }
    }
}
