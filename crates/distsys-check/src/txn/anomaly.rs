//! Anomaly classes (Adya's, as Elle names and detects them) and the consistency models that
//! forbid them. The table here is the one docs/isolation.md documents.

use super::graph::Edge;
use std::fmt;

/// Which extra ordering a cycle uses besides ww/wr/rw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Data dependencies only.
    Item,
    /// Also process (session) order.
    Process,
    /// Also real-time order.
    Realtime,
}

/// A cycle class, by the relations on the cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CycleClass {
    /// Only write-write (and order) edges: dirty writes.
    G0,
    /// Write-write and write-read (at least one): circular information flow.
    G1c,
    /// Exactly one anti-dependency (rw): read skew.
    GSingle,
    /// Several anti-dependencies, no two adjacent: e.g. a long fork.
    GNonadjacent,
    /// Several anti-dependencies (some adjacent): e.g. write skew.
    G2Item,
}

/// An anomaly class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    /// A dependency cycle.
    Cycle(CycleClass, Variant),
    /// A read saw a write of an aborted (`fail`) transaction.
    G1a,
    /// A read saw a version a transaction later overwrote itself (not its final write).
    G1b,
    /// Two committed transactions read the same version of a key and both wrote the key.
    LostUpdate,
    /// A transaction read contrary to its own earlier writes or reads.
    Internal,
    /// A transaction read its own write before making it (Elle's `future-read`): a read with
    /// no earlier operation of the key in its transaction saw a value the transaction writes
    /// (or appends) only later.
    FutureRead,
    /// A list read holds the same element twice.
    DuplicateElements,
    /// A read saw a value nobody wrote.
    GarbageRead,
    /// Two reads of a list where neither is a prefix of the other.
    IncompatibleOrder,
}

impl AnomalyKind {
    /// Elle's name for the class (`G-single` is Elle's `G-single-item`).
    pub fn name(self) -> String {
        match self {
            AnomalyKind::Cycle(class, variant) => {
                let base = match class {
                    CycleClass::G0 => "G0",
                    CycleClass::G1c => "G1c",
                    CycleClass::GSingle => "G-single",
                    CycleClass::GNonadjacent => "G-nonadjacent",
                    CycleClass::G2Item => "G2-item",
                };
                match variant {
                    Variant::Item => base.to_string(),
                    Variant::Process => format!("{base}-process"),
                    Variant::Realtime => format!("{base}-realtime"),
                }
            }
            AnomalyKind::G1a => "G1a".into(),
            AnomalyKind::G1b => "G1b".into(),
            AnomalyKind::LostUpdate => "lost-update".into(),
            AnomalyKind::Internal => "internal".into(),
            AnomalyKind::FutureRead => "future-read".into(),
            AnomalyKind::DuplicateElements => "duplicate-elements".into(),
            AnomalyKind::GarbageRead => "garbage-read".into(),
            AnomalyKind::IncompatibleOrder => "incompatible-order".into(),
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One anomaly found: its class, the transactions involved, the cycle (for cycle classes,
/// edges in order, each one's target the next one's source) and a one-line explanation for
/// the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The class.
    pub kind: AnomalyKind,
    /// Transactions involved (indices into the history).
    pub txns: Vec<u32>,
    /// The cycle, empty for non-cycle classes.
    pub cycle: Vec<Edge>,
    /// What was observed, for non-cycle classes.
    pub detail: String,
}

/// A consistency model the checker can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Consistency {
    /// Adya PL-2: no G0, G1 (a, b, c).
    ReadCommitted,
    /// No G0, G1, G-single, G-nonadjacent, lost update.
    SnapshotIsolation,
    /// Snapshot isolation, also over process order.
    StrongSessionSnapshotIsolation,
    /// Snapshot isolation, also over real-time order.
    StrongSnapshotIsolation,
    /// Adya PL-3: no G0, G1, G2.
    Serializable,
    /// Serializable, also over process order.
    StrongSessionSerializable,
    /// Serializable, also over real-time order.
    StrictSerializable,
}

/// Every model, weakest first.
pub const MODELS: [Consistency; 7] = [
    Consistency::ReadCommitted,
    Consistency::SnapshotIsolation,
    Consistency::StrongSessionSnapshotIsolation,
    Consistency::StrongSnapshotIsolation,
    Consistency::Serializable,
    Consistency::StrongSessionSerializable,
    Consistency::StrictSerializable,
];

impl std::str::FromStr for Consistency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MODELS.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<_> = MODELS.iter().map(|m| m.name()).collect();
            format!("unknown consistency model {s:?} ({})", names.join(", "))
        })
    }
}

impl Consistency {
    /// The model's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::ReadCommitted => "read-committed",
            Consistency::SnapshotIsolation => "snapshot-isolation",
            Consistency::StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            Consistency::StrongSnapshotIsolation => "strong-snapshot-isolation",
            Consistency::Serializable => "serializable",
            Consistency::StrongSessionSerializable => "strong-session-serializable",
            Consistency::StrictSerializable => "strict-serializable",
        }
    }

    /// The orderings besides data dependencies the model constrains.
    pub fn variants(self) -> &'static [Variant] {
        match self {
            Consistency::ReadCommitted
            | Consistency::SnapshotIsolation
            | Consistency::Serializable => &[Variant::Item],
            Consistency::StrongSessionSnapshotIsolation
            | Consistency::StrongSessionSerializable => &[Variant::Item, Variant::Process],
            Consistency::StrongSnapshotIsolation | Consistency::StrictSerializable => {
                &[Variant::Item, Variant::Process, Variant::Realtime]
            }
        }
    }

    /// Whether the model forbids the anomaly. Every model here forbids the data-integrity
    /// anomalies (garbage, duplicate elements, incompatible order, internal, future read): no execution
    /// of any of them produces such a read.
    pub fn forbids(self, kind: AnomalyKind) -> bool {
        let serializable = matches!(
            self,
            Consistency::Serializable
                | Consistency::StrongSessionSerializable
                | Consistency::StrictSerializable
        );
        let si = serializable || self != Consistency::ReadCommitted;
        match kind {
            AnomalyKind::Cycle(class, variant) => {
                self.variants().contains(&variant)
                    && match class {
                        CycleClass::G0 | CycleClass::G1c => true,
                        CycleClass::GSingle | CycleClass::GNonadjacent => si,
                        CycleClass::G2Item => serializable,
                    }
            }
            AnomalyKind::LostUpdate => si,
            AnomalyKind::G1a
            | AnomalyKind::G1b
            | AnomalyKind::Internal
            | AnomalyKind::FutureRead
            | AnomalyKind::DuplicateElements
            | AnomalyKind::GarbageRead
            | AnomalyKind::IncompatibleOrder => true,
        }
    }
}
