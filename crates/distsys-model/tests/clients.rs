//! The per-state linearizability check the search makes of client reads (`clients.rs`) is a
//! shortcut; the general checker (`distsys-check`, the key-value model) is its oracle. Along
//! random paths of the Raft model, with and without the read-only seeded bugs, both must give
//! the same verdict: a stale read reported by the shortcut is a history the checker refuses,
//! and a path the shortcut passes is a history the checker accepts. The counterexamples kept
//! in testdata/model-check/ are refused by the checker too, and the same steps on the correct
//! core are accepted.

mod common;

use common::check::bounds;
use distsys_consensus::Mutant;
use distsys_model::cluster::{Action, Bounds, Symmetry};
use distsys_model::explore::{Model, Next};
use distsys_model::protocol::Protocol;
use distsys_model::raft::{RaftModel, RaftProtocol};
use distsys_model::replay::{client_history, ReplayFile};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Raft bounds with room for several writes and reads.
fn with_clients(max_term: u64) -> Bounds {
    let mut b = bounds(3, max_term, 3, 3);
    b.max_proposals = 2;
    b.max_reads = 3;
    b.max_crashes = 1;
    b
}

/// What the walks saw: paths where the shortcut reported a stale read, paths that ended
/// clean with at least one read answered, paths cut short by another property.
#[derive(Debug, Default)]
struct Tally {
    stale: usize,
    clean_with_reads: usize,
    other: usize,
}

/// `walks` random paths of up to `depth` steps on `model`; panics where the shortcut and the
/// checker disagree.
fn walk(model: &RaftModel, walks: u64, depth: usize) -> Tally {
    let mut tally = Tally::default();
    let mut actions = Vec::new();
    for seed in 0..walks {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut state = model.init();
        let mut broken = None;
        for _ in 0..depth {
            actions.clear();
            model.actions(&state, &mut actions);
            let mut next = None;
            while !actions.is_empty() {
                let action = actions.swap_remove(pick(&mut rng, &actions));
                if let Next::State(s, violation) = model.next(&state, &action) {
                    next = Some((s, violation));
                    break;
                }
            }
            let Some((s, violation)) = next else { break };
            state = s;
            if violation.is_some() {
                broken = violation;
                break;
            }
        }
        let log = state.clients.log.as_ref().expect("recording");
        let verdict = log.check();
        match broken {
            Some(p) if p.starts_with("linearizability") => {
                assert!(
                    verdict.is_err(),
                    "seed {seed}: the shortcut says {p}, the checker accepts {:?}",
                    log.recording()
                );
                tally.stale += 1;
            }
            // Another property broke first: the shortcut's argument assumes state machine
            // safety, so nothing to compare.
            Some(_) => tally.other += 1,
            None => {
                assert_eq!(
                    verdict,
                    Ok(()),
                    "seed {seed}: the shortcut passes, the checker refuses {:?}",
                    log.recording()
                );
                if log.reads_answered() > 0 {
                    tally.clean_with_reads += 1;
                }
            }
        }
    }
    tally
}

/// A random action, deliveries and client operations weighted up (a path of uniform choices
/// mostly drops, duplicates and fires timers, and rarely completes a write).
fn pick(rng: &mut ChaCha8Rng, actions: &[Action]) -> usize {
    let weight = |a: &Action| match a {
        Action::Deliver { .. } => 12,
        Action::Propose { .. } | Action::Read { .. } => 6,
        Action::Timer { .. } => 2,
        _ => 1,
    };
    let total: u32 = actions.iter().map(weight).sum();
    let mut x = rng.random_range(0..total);
    for (k, a) in actions.iter().enumerate() {
        if x < weight(a) {
            return k;
        }
        x -= weight(a);
    }
    actions.len() - 1
}

fn model(b: &Bounds, mutant: Option<Mutant>) -> RaftModel {
    RaftModel::new(b.clone(), mutant, Symmetry::Sorted)
        .expect("model")
        .recording_clients()
}

#[test]
fn the_shortcut_and_the_general_checker_agree_on_random_paths() {
    let cases = [
        (None, 2),
        (Some(Mutant::FollowerStaleRead), 1),
        (Some(Mutant::LeaderReadWithoutQuorum), 2),
        (Some(Mutant::NoNoopOnElection), 2),
    ];
    for (mutant, max_term) in cases {
        let tally = walk(&model(&with_clients(max_term), mutant), 6000, 80);
        eprintln!("{mutant:?}: {tally:?}");
        assert!(tally.clean_with_reads > 50, "{mutant:?}: {tally:?}");
        match mutant {
            None => assert_eq!(tally.stale, 0),
            // 23, 98 and 613 stale reads of 6,000 paths when written.
            Some(_) => assert!(tally.stale >= 10, "{mutant:?}: {tally:?}"),
        }
    }
}

#[test]
fn the_stored_stale_reads_are_refused_by_the_general_checker() {
    for name in [
        "raft-follower-stale-read",
        "raft-leader-read-without-quorum",
        "raft-no-noop-on-election",
    ] {
        let path = format!(
            "{}/../../testdata/model-check/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let file =
            ReplayFile::parse(&std::fs::read_to_string(&path).expect("stored")).expect("parses");
        let mutant = file
            .mutant
            .as_deref()
            .map(|m| RaftProtocol::mutant_by_name(m).expect("known"));
        let buggy = RaftModel::new(file.bounds.clone(), mutant, file.symmetry).expect("model");
        let log = client_history(&buggy, &file.steps).expect("replays");
        let why = log.check().expect_err(name);
        assert!(why.contains("NOT linearizable"), "{name}: {why}");
        let correct = RaftModel::new(file.bounds.clone(), None, file.symmetry).expect("model");
        let log = client_history(&correct, &file.steps).expect("replays");
        assert_eq!(log.check(), Ok(()), "{name} on the correct core");
    }
}
