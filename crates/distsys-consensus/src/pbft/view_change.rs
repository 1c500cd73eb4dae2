//! The new primary's decision (Castro and Liskov, "Practical Byzantine Fault Tolerance and
//! Proactive Recovery", TOCS 2002, section 4.5): from a set `S` of view-change messages, which
//! checkpoint the new view starts from and which request it assigns to every sequence number
//! above it. Every backup runs the same function over the same messages and accepts the new
//! view only if it reaches the same decision, so a byzantine primary cannot drop a request that
//! may have committed, and a byzantine replica cannot make one up by lying in its message.

use super::messages::{null_digest, Digest, View, ViewChange};
use crate::types::Index;
use distsys_types::QuorumSystem;

/// What a new view starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The checkpoint (sequence number and state digest).
    pub checkpoint: (Index, Digest),
    /// The request digest (or the null request's) for each sequence number above it.
    pub requests: Vec<(Index, Digest)>,
}

/// Decides from `messages` (the view-change messages of `S`, each from a different replica)
/// with the thresholds of `quorums` (a quorum `q`, `f + 1` to vouch; at `n = 3f + 1` these are
/// the paper's `2f + 1` and `f + 1`) and a watermark window of `window` sequence numbers. `None`
/// while `S` does not allow a decision yet (the primary waits for more messages).
pub fn decide(messages: &[&ViewChange], quorums: &QuorumSystem, window: Index) -> Option<Decision> {
    if !quorums.is_quorum(messages.len()) {
        return None;
    }
    // The checkpoint: the highest one that f+1 messages vouch for (so a correct replica holds
    // it) and that is at or above the stable checkpoint of a quorum of them.
    let mut candidates: Vec<(Index, Digest)> = messages
        .iter()
        .flat_map(|m| m.checkpoints.iter().copied())
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let checkpoint = candidates.into_iter().rev().find(|(seq, digest)| {
        let vouched = messages
            .iter()
            .filter(|m| m.checkpoints.contains(&(*seq, *digest)))
            .count();
        let below = messages.iter().filter(|m| m.stable <= *seq).count();
        quorums.is_vouched(vouched) && quorums.is_quorum(below)
    })?;
    let low = checkpoint.0;
    let last = messages
        .iter()
        .flat_map(|m| {
            m.prepared
                .iter()
                .map(|p| p.seq)
                .chain(m.pre_prepared.iter().map(|q| q.0))
        })
        .filter(|seq| *seq > low && *seq <= low + window)
        .max()
        .unwrap_or(low);
    let mut requests = Vec::new();
    for seq in low + 1..=last {
        requests.push((seq, choose(messages, quorums, seq)?));
    }
    Some(Decision {
        checkpoint,
        requests,
    })
}

/// The request for `seq`: one prepared in view `v` that a quorum of messages do not contradict
/// with a later prepared request (A1) and that f+1 messages saw pre-prepared in view `v` or
/// later (A2); else the null request if a quorum prepared nothing there (B); else undecided.
fn choose(messages: &[&ViewChange], quorums: &QuorumSystem, seq: Index) -> Option<Digest> {
    let prepared_at = |m: &ViewChange| -> Option<(View, Digest)> {
        m.prepared
            .iter()
            .find(|p| p.seq == seq)
            .map(|p| (p.view, p.digest))
    };
    let mut candidates: Vec<(View, Digest)> =
        messages.iter().filter_map(|m| prepared_at(m)).collect();
    // Highest view first; ties broken by digest so every replica decides the same.
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.dedup();
    for (view, digest) in candidates {
        let not_contradicted = messages
            .iter()
            .filter(|m| m.stable < seq)
            .filter(|m| match prepared_at(m) {
                None => true,
                Some((v, d)) => v < view || (v == view && d == digest),
            })
            .count();
        let pre_prepared = messages
            .iter()
            .filter(|m| {
                m.pre_prepared
                    .iter()
                    .any(|(s, d, v)| *s == seq && *d == digest && *v >= view)
            })
            .count();
        if quorums.is_quorum(not_contradicted) && quorums.is_vouched(pre_prepared) {
            return Some(digest);
        }
    }
    let nothing = messages
        .iter()
        .filter(|m| m.stable < seq && prepared_at(m).is_none())
        .count();
    quorums.is_quorum(nothing).then(null_digest)
}

#[cfg(test)]
mod tests {
    use super::super::messages::{digest, state_digest, PreparedEntry};
    use super::*;
    use bytes::Bytes;

    /// n = 4, f = 1: quorum 3, vouching 2.
    const F1: QuorumSystem = QuorumSystem::byzantine_max(4);

    fn genesis() -> (Index, Digest) {
        (0, state_digest(0, &[]))
    }

    fn vc(prepared: &[(Index, &[u8], View)], pre_prepared: &[(Index, &[u8], View)]) -> ViewChange {
        ViewChange {
            view: 5,
            stable: 0,
            checkpoints: vec![genesis()],
            prepared: prepared
                .iter()
                .map(|(seq, req, view)| PreparedEntry {
                    seq: *seq,
                    digest: digest(req),
                    view: *view,
                    request: Bytes::copy_from_slice(req),
                })
                .collect(),
            pre_prepared: pre_prepared
                .iter()
                .map(|(seq, req, view)| (*seq, digest(req), *view))
                .collect(),
        }
    }

    #[test]
    fn a_request_prepared_by_an_honest_quorum_survives() {
        // f = 1: x committed at 1 in view 2 means f+1 honest replicas prepared it.
        let a = vc(&[(1, b"x", 2)], &[(1, b"x", 2)]);
        let b = vc(&[(1, b"x", 2)], &[(1, b"x", 2)]);
        let c = vc(&[], &[]);
        let d = decide(&[&a, &b, &c], &F1, 64).expect("decides");
        assert_eq!(d.checkpoint, genesis());
        assert_eq!(d.requests, vec![(1, digest(b"x"))]);
    }

    #[test]
    fn a_lie_alone_is_not_chosen_and_blocks_the_null() {
        // The liar claims y prepared in a later view; nobody else saw it pre-prepared.
        let liar = vc(&[(1, b"y", 4)], &[(1, b"y", 4)]);
        let a = vc(&[(1, b"x", 2)], &[(1, b"x", 2)]);
        let b = vc(&[], &[(1, b"x", 2)]);
        // With S = {liar, a, b}: y fails A2, x fails A1 (the liar contradicts it), null fails B.
        assert_eq!(decide(&[&liar, &a, &b], &F1, 64), None);
        // One more honest message decides x.
        let c = vc(&[(1, b"x", 2)], &[(1, b"x", 2)]);
        let d = decide(&[&liar, &a, &b, &c], &F1, 64).expect("decides");
        assert_eq!(d.requests, vec![(1, digest(b"x"))]);
    }

    #[test]
    fn nothing_prepared_becomes_null_and_gaps_are_filled() {
        let a = vc(&[(2, b"x", 1)], &[(2, b"x", 1)]);
        let b = vc(&[(2, b"x", 1)], &[(2, b"x", 1), (1, b"z", 1)]);
        let c = vc(&[], &[]);
        let d = decide(&[&a, &b, &c], &F1, 64).expect("decides");
        assert_eq!(d.requests, vec![(1, null_digest()), (2, digest(b"x"))]);
    }

    #[test]
    fn the_checkpoint_needs_f_plus_one_vouchers() {
        let mut a = vc(&[], &[]);
        let mut b = vc(&[], &[]);
        let c = vc(&[], &[]);
        let cp = (16, [7; 32]);
        a.checkpoints.push(cp);
        // One voucher (maybe a liar): genesis.
        assert_eq!(
            decide(&[&a, &b, &c], &F1, 64).map(|d| d.checkpoint),
            Some(genesis())
        );
        b.checkpoints.push(cp);
        b.stable = 16;
        assert_eq!(
            decide(&[&a, &b, &c], &F1, 64).map(|d| d.checkpoint),
            Some(cp)
        );
    }

    #[test]
    fn fewer_than_a_quorum_decides_nothing() {
        let a = vc(&[], &[]);
        let b = vc(&[], &[]);
        assert_eq!(decide(&[&a, &b], &F1, 64), None);
    }
}
