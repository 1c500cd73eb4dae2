//! Causal consistency of a replicated history: a replica must never make a write visible
//! before every write in that write's causal past (what its origin had seen when it wrote).
//! Reads see the visible set, so this is "reads never see an effect without its causes".

use std::collections::{BTreeMap, BTreeSet};

/// A write's identity: (origin replica, sequence number there, from 1).
pub type WriteId = (u64, u64);

/// One step of a replicated history, in the order it happened at its replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CausalEvent {
    /// `replica` issued a write after seeing `deps` (per origin: highest sequence seen).
    Write {
        /// The write.
        id: WriteId,
        /// Its causal past, as a version vector.
        deps: BTreeMap<u64, u64>,
    },
    /// `replica` made the write visible.
    Visible {
        /// Where.
        replica: u64,
        /// What.
        id: WriteId,
    },
}

/// A write made visible before one of its causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausalViolation {
    /// Where it became visible.
    pub replica: u64,
    /// The write.
    pub write: WriteId,
    /// A cause that was not visible there yet.
    pub missing: WriteId,
    /// Position of the offending event in the history.
    pub position: usize,
}

impl std::fmt::Display for CausalViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replica {} made write {:?} visible (event {}) before its cause {:?}",
            self.replica, self.write, self.position, self.missing
        )
    }
}

/// Checks a history; the first violation, if any. Writes are visible at their origin from the
/// moment they are issued.
pub fn check_causal(history: &[CausalEvent]) -> Result<(), CausalViolation> {
    let mut deps_of: BTreeMap<WriteId, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut visible: BTreeMap<u64, BTreeSet<WriteId>> = BTreeMap::new();
    for (position, event) in history.iter().enumerate() {
        let (replica, id) = match event {
            CausalEvent::Write { id, deps } => {
                deps_of.insert(*id, deps.clone());
                (id.0, *id)
            }
            CausalEvent::Visible { replica, id } => (*replica, *id),
        };
        let seen = visible.entry(replica).or_default();
        if let Some(deps) = deps_of.get(&id) {
            for (origin, upto) in deps {
                if let Some(missing) = (1..=*upto)
                    .map(|s| (*origin, s))
                    .find(|w| *w != id && !seen.contains(w))
                {
                    return Err(CausalViolation {
                        replica,
                        write: id,
                        missing,
                        position,
                    });
                }
            }
        }
        seen.insert(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(id: WriteId, deps: &[(u64, u64)]) -> CausalEvent {
        CausalEvent::Write {
            id,
            deps: deps.iter().copied().collect(),
        }
    }

    #[test]
    fn an_effect_before_its_cause_is_a_violation() {
        // Replica 1 writes a; replica 2 sees a, then writes b (b depends on a).
        let a = (1, 1);
        let b = (2, 1);
        let good = vec![
            write(a, &[]),
            CausalEvent::Visible { replica: 2, id: a },
            write(b, &[(1, 1)]),
            CausalEvent::Visible { replica: 3, id: a },
            CausalEvent::Visible { replica: 3, id: b },
        ];
        assert_eq!(check_causal(&good), Ok(()));
        let mut bad = good.clone();
        bad.swap(3, 4);
        let v = check_causal(&bad).expect_err("b before a at replica 3");
        assert_eq!((v.replica, v.write, v.missing), (3, b, a));
    }
}
