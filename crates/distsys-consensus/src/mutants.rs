//! Deliberately broken protocol variants ("seeded bugs"). Each one reproduces a bug real
//! systems shipped; the simulator's campaigns must catch every one, which is the proof that the
//! checks are real. Never enabled outside simulation and tests.

use std::str::FromStr;

/// A seeded bug in the Raft core or its replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// Grant a vote to a second candidate in the same term.
    VoteTwice,
    /// Answer a vote request before the vote is persisted: a crash right after forgets it.
    ReplyBeforePersistVote,
    /// Accept AppendEntries without checking the previous entry's term.
    SkipPrevLogCheck,
    /// Apply entries as soon as they are appended, before they are committed.
    ApplyBeforeCommit,
    /// Serve reads from a follower's local state without a read barrier.
    FollowerStaleRead,
    /// Serve reads on the leader from local state, and keep leading without a majority (no
    /// check-quorum): a cut-off leader answers stale reads (etcd 0.4, Jepsen 2014).
    LeaderReadWithoutQuorum,
    /// A new leader does not append a no-op of its term (Redis-Raft, Jepsen 2020).
    NoNoopOnElection,
    /// With pipelined persistence, the leader counts its own copy of an entry toward a commit
    /// before its write is durable: a crash then loses an entry the cluster acknowledged
    /// (etcd-raft's async storage writes count the leader only on its own MsgStorageAppendResp).
    CountSelfBeforeDurable,
    /// Commit an entry of an earlier term by counting its replicas, with no no-op at the start
    /// of a term to hide it (Raft paper, figure 8). Three leader changes in a precise order are
    /// needed to lose data, so it is a scenario-only mutant (see [`Mutant::SCENARIO_ONLY`]).
    CommitOldTerm,
}

impl Mutant {
    /// Every mutant, in the order `--list-mutants` prints them.
    pub const ALL: [Mutant; 8] = [
        Mutant::VoteTwice,
        Mutant::ReplyBeforePersistVote,
        Mutant::SkipPrevLogCheck,
        Mutant::ApplyBeforeCommit,
        Mutant::FollowerStaleRead,
        Mutant::LeaderReadWithoutQuorum,
        Mutant::NoNoopOnElection,
        Mutant::CountSelfBeforeDurable,
    ];

    /// Whether the bug only exists with pipelined persistence (`Config::async_persist`; the
    /// simulator's `--write-delay-ms`): a driver that persists each Ready before sending
    /// anything cannot show it.
    pub fn needs_pipelined_persistence(self) -> bool {
        self == Mutant::CountSelfBeforeDurable
    }

    /// Mutants that need an interleaving too specific for random campaigns to meet within a
    /// fixed budget; a deterministic scenario test sets each one up instead. Not offered by
    /// `--mutant`/`--list-mutants`, whose promise is "caught by a campaign".
    pub const SCENARIO_ONLY: [Mutant; 1] = [Mutant::CommitOldTerm];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::VoteTwice => "vote-twice",
            Mutant::ReplyBeforePersistVote => "reply-before-persist-vote",
            Mutant::SkipPrevLogCheck => "skip-prev-log-check",
            Mutant::ApplyBeforeCommit => "apply-before-commit",
            Mutant::FollowerStaleRead => "follower-stale-read",
            Mutant::LeaderReadWithoutQuorum => "leader-read-without-quorum",
            Mutant::NoNoopOnElection => "no-noop-on-election",
            Mutant::CountSelfBeforeDurable => "count-self-before-durable",
            Mutant::CommitOldTerm => "commit-old-term",
        }
    }

    /// What the bug is.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::VoteTwice => "grants a second vote in the same term (two leaders per term)",
            Mutant::ReplyBeforePersistVote => {
                "replies to RequestVote before the vote is durable; a crash forgets it"
            }
            Mutant::SkipPrevLogCheck => "accepts AppendEntries without the log-matching check",
            Mutant::ApplyBeforeCommit => "applies entries when appended, before they commit",
            Mutant::FollowerStaleRead => "followers answer reads from local state, no read barrier",
            Mutant::LeaderReadWithoutQuorum => {
                "the leader answers reads locally and keeps leading without a majority (etcd 0.4)"
            }
            Mutant::NoNoopOnElection => {
                "a new leader serves reads before committing an entry of its term"
            }
            Mutant::CountSelfBeforeDurable => {
                "with pipelined writes, the leader counts itself before its write is durable"
            }
            Mutant::CommitOldTerm => {
                "commits an earlier term's entry once a majority holds it (Raft figure 8)"
            }
        }
    }
}

impl FromStr for Mutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mutant {s:?}; --list-mutants shows them"))
    }
}
