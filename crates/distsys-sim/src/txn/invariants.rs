//! The run's own invariants, beside the isolation checker: checked at every applied command
//! (writes are installed only for a transaction whose record is COMMITTED; a record is never
//! decided both ways) and at the end, after the faults have healed and recovery has run (a
//! transaction's writes are all visible or none; an acknowledged commit is visible and an
//! acknowledged abort is not; no value is installed twice; no intent outlives its record's
//! resolution, and none is left unresolved).

use super::coordinator::Outcome;
use super::store::{written_value, Effects, GroupStore};
use super::types::{Command, GroupId, Op, TxnId};
use std::collections::{BTreeMap, BTreeSet};

/// What the run has seen decided and answered, and the violations found so far.
#[derive(Debug, Default)]
pub struct Oracle {
    decisions: BTreeMap<TxnId, bool>,
    answers: BTreeMap<TxnId, bool>,
    violations: BTreeSet<String>,
}

impl Oracle {
    /// A command applied by some replica of `group`.
    pub fn observe(&mut self, group: GroupId, command: &Command, effects: &Effects) {
        if let Some((txn, commit)) = effects.decided {
            let first = *self.decisions.entry(txn).or_insert(commit);
            if first != commit {
                self.violations
                    .insert(format!("atomicity: record of txn {txn} decided both ways"));
            }
        }
        if let Some(txn) = effects.installed {
            if self.decisions.get(&txn) != Some(&true) {
                self.violations.insert(format!(
                    "atomicity: txn {txn}'s writes installed in group {group} while its record \
                     is not COMMITTED ({command:?})",
                    command = command_name(command)
                ));
            }
        }
    }

    /// A client's answer (`None`: indeterminate).
    pub fn answered(&mut self, txn: TxnId, outcome: Option<&Outcome>) {
        if let Some(outcome) = outcome {
            self.answers
                .insert(txn, matches!(outcome, Outcome::Committed(_)));
        }
    }

    /// The end-of-run checks over the final stores; returns every violation found.
    pub fn final_checks(
        mut self,
        stores: &[GroupStore],
        written: &BTreeMap<TxnId, Vec<(GroupId, Op)>>,
    ) -> Vec<String> {
        let mut installed: BTreeMap<(GroupId, u32, u64), usize> = BTreeMap::new();
        for (g, store) in stores.iter().enumerate() {
            for (key, versions) in store.versions() {
                for (_, value) in versions {
                    *installed.entry((g, *key, *value)).or_default() += 1;
                }
            }
            for txn in store.intents().keys() {
                let what = match self.decisions.get(txn) {
                    Some(_) => "intent-outlives-record",
                    None => "unresolved-intent",
                };
                self.violations.insert(format!(
                    "{what}: txn {txn} still has an intent in group {g}"
                ));
            }
        }
        for ((g, key, value), count) in &installed {
            if *count > 1 {
                self.violations.insert(format!(
                    "duplicate-install: value {value} installed {count} times at key {key} (group {g})"
                ));
            }
        }
        for (txn, writes) in written {
            if writes.is_empty() {
                continue;
            }
            let visible = writes
                .iter()
                .filter(|(g, op)| {
                    written_value(*op).is_some_and(|v| installed.contains_key(&(*g, op.key(), v)))
                })
                .count();
            if visible != 0 && visible != writes.len() {
                self.violations.insert(format!(
                    "atomicity: txn {txn} has {visible} of its {} writes visible",
                    writes.len()
                ));
            }
            match self.answers.get(txn) {
                Some(true) if visible < writes.len() => {
                    self.violations.insert(format!(
                        "lost-commit: txn {txn} was acknowledged committed but {visible} of its {} \
                         writes are visible",
                        writes.len()
                    ));
                }
                Some(false) if visible > 0 => {
                    self.violations.insert(format!(
                        "aborted-visible: txn {txn} was acknowledged aborted but its writes are visible"
                    ));
                }
                _ => {}
            }
        }
        self.violations.into_iter().collect()
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Prepare { .. } => "prepare",
        Command::Stage { .. } => "stage",
        Command::Decide { .. } => "decide",
        Command::Recover { .. } => "recover",
        Command::Probe { .. } => "probe",
        Command::Resolve { .. } => "resolve",
    }
}
