//! The node's disk: the [`Storage`] trait over a consensus core's persist operations, Raft's
//! store in redb ([`RaftStore`]: term and vote, the log, the snapshot), and [`FailingStore`], a
//! wrapper that fails like a full disk after N writes or N bytes (for tests).
//!
//! Every Ready's operations go into one write transaction, committed with an fsync before the
//! Ready's messages leave, so the client writes that arrived together share one fsync (group
//! commit).

use distsys_consensus::raft::Raft;
use distsys_consensus::{Core, Entry, HardState, PersistOp, Persisted, Snapshot};
use distsys_types::snapshot::Retained;
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// A storage failure: the node must stop (nothing that depends on the write may be sent).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(String);

impl StorageError {
    /// A failure with this description.
    pub fn new(what: impl std::fmt::Display) -> StorageError {
        StorageError(what.to_string())
    }
}

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

/// Durable state of a consensus core `C`. The node loads it once at start and hands it every
/// round's persist operations before sending any message or answer that depends on them.
///
/// Guarantee an implementation must give: when [`Storage::apply`] returns `Ok`, the operations
/// survive a crash (what [`Storage::load`] returns afterwards reflects them, in order); when it
/// returns `Err`, the node stops without sending or acknowledging anything that depends on
/// them, so a partial write (or none) loses nothing acknowledged.
pub trait Storage<C: Core>: Send {
    /// Everything on disk, as the core recovers from it.
    fn load(&self) -> Result<C::Persisted, StorageError>;
    /// Makes `ops` durable, in order, atomically if the medium allows.
    fn apply(&mut self, ops: &[C::PersistOp]) -> Result<(), StorageError>;
}

/// Raft's state in redb (`raft.redb` in the data directory): term and vote, the log by index,
/// the snapshot.
pub struct RaftStore {
    db: Database,
}

impl Storage<Raft> for RaftStore {
    fn load(&self) -> Result<Persisted, StorageError> {
        RaftStore::load(self)
    }
    fn apply(&mut self, ops: &[PersistOp]) -> Result<(), StorageError> {
        RaftStore::apply(self, ops)
    }
}

/// A store that fails like a full disk: after a number of successful non-empty writes, or once
/// the writes passed on would exceed a byte budget (their postcard size), every further write
/// fails with an error saying so, and nothing of it reaches the inner store. For tests.
pub struct FailingStore<S> {
    inner: S,
    writes_left: Option<u64>,
    bytes_left: Option<u64>,
    failed: bool,
}

impl<S> FailingStore<S> {
    /// Passes `n - 1` non-empty writes to `inner`, fails the `n`th and every one after.
    pub fn fail_nth_write(inner: S, n: u64) -> FailingStore<S> {
        debug_assert!(n >= 1, "writes are counted from 1");
        FailingStore {
            inner,
            writes_left: Some(n.saturating_sub(1)),
            bytes_left: None,
            failed: false,
        }
    }

    /// Passes writes to `inner` while their total size stays within `bytes`; the first that
    /// would exceed it fails, and every one after.
    pub fn fail_after_bytes(inner: S, bytes: u64) -> FailingStore<S> {
        FailingStore {
            inner,
            writes_left: None,
            bytes_left: Some(bytes),
            failed: false,
        }
    }

    /// Whether a write has failed.
    pub fn failed(&self) -> bool {
        self.failed
    }
}

impl<C: Core, S: Storage<C>> Storage<C> for FailingStore<S>
where
    C::PersistOp: Serialize,
{
    fn load(&self) -> Result<C::Persisted, StorageError> {
        self.inner.load()
    }
    fn apply(&mut self, ops: &[C::PersistOp]) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        let size = postcard::to_allocvec(ops).map_err(err)?.len() as u64;
        let over_count = self.writes_left == Some(0);
        let over_bytes = self.bytes_left.is_some_and(|left| size > left);
        if self.failed || over_count || over_bytes {
            self.failed = true;
            return Err(StorageError(
                "injected failure: no space left on device".into(),
            ));
        }
        debug_assert!(!self.failed, "a failed store passes nothing on");
        if let Some(left) = &mut self.writes_left {
            *left -= 1;
        }
        if let Some(left) = &mut self.bytes_left {
            *left -= size;
        }
        self.inner.apply(ops)
    }
}

impl RaftStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<RaftStore, StorageError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let db = Database::create(dir.join("raft.redb")).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.open_table(LOG).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RaftStore { db })
    }

    /// Everything on disk.
    pub fn load(&self) -> Result<Persisted, StorageError> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        let hard_state: HardState = match meta.get("hard_state").map_err(err)? {
            Some(v) => postcard::from_bytes(v.value()).map_err(err)?,
            None => HardState::default(),
        };
        let snapshot: Option<Snapshot> = match meta.get("snapshot").map_err(err)? {
            Some(v) => Some(postcard::from_bytes(v.value()).map_err(err)?),
            None => None,
        };
        let log = txn.open_table(LOG).map_err(err)?;
        let mut entries = Vec::new();
        for row in log.iter().map_err(err)? {
            let (_, v) = row.map_err(err)?;
            let entry: Entry = postcard::from_bytes(v.value()).map_err(err)?;
            entries.push(entry);
        }
        Ok(Persisted {
            hard_state,
            snapshot,
            entries,
        })
    }

    /// Applies `ops` in one transaction and fsyncs it.
    pub fn apply(&self, ops: &[PersistOp]) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            let mut log = txn.open_table(LOG).map_err(err)?;
            for op in ops {
                match op {
                    PersistOp::HardState(hs) => {
                        let bytes = postcard::to_allocvec(hs).map_err(err)?;
                        meta.insert("hard_state", bytes.as_slice()).map_err(err)?;
                    }
                    PersistOp::Truncate(index) => {
                        // By range: the rows before `index` are not visited.
                        log.retain_in(*index.., |_, _| false).map_err(err)?;
                    }
                    PersistOp::Append(entries) => {
                        for e in entries {
                            let bytes = postcard::to_allocvec(e).map_err(err)?;
                            log.insert(e.index, bytes.as_slice()).map_err(err)?;
                        }
                    }
                    PersistOp::Snapshot(snapshot) => {
                        // The one snapshot-agreement rule (`distsys_types::snapshot`), as in
                        // memory: the current snapshot's point counts as well as a held entry.
                        let current = match meta.get("snapshot").map_err(err)? {
                            Some(v) => Some(
                                postcard::from_bytes::<Snapshot>(v.value())
                                    .map_err(err)?
                                    .point(),
                            ),
                            None => None,
                        };
                        let held = match log.get(snapshot.last_index).map_err(err)? {
                            Some(v) => {
                                Some(postcard::from_bytes::<Entry>(v.value()).map_err(err)?.chain)
                            }
                            None => None,
                        };
                        let retained =
                            distsys_types::snapshot::install(snapshot.point(), current, |_| held);
                        // By range: the entries after the snapshot are not visited.
                        match retained {
                            Retained::After(last) => log.retain_in(..=last, |_, _| false),
                            Retained::Nothing => log.retain(|_, _| false),
                        }
                        .map_err(err)?;
                        let bytes = postcard::to_allocvec(snapshot).map_err(err)?;
                        meta.insert("snapshot", bytes.as_slice()).map_err(err)?;
                    }
                }
            }
        }
        // Durability::Immediate (redb's default): the commit returns after the fsync.
        txn.commit().map_err(err)
    }
}

const OPS: TableDefinition<u64, &[u8]> = TableDefinition::new("ops");

/// Write rows kept before [`OpLogStore`] folds them into its image.
const FOLD_AFTER_ROWS: u64 = 256;

/// Any core's state in redb (`<protocol>.redb` in the data directory), for the cores without a
/// store of their own (Multi-Paxos, PBFT): the disk image as of the last fold (`meta/image`)
/// and every write since as one row of persist operations, replayed in order on load. Every
/// [`FOLD_AFTER_ROWS`] writes the image is rewritten and the rows dropped, in the same
/// transaction as the write, so the file stays the size of the state.
pub struct OpLogStore<C: Core> {
    db: Database,
    image: C::Persisted,
    next_row: u64,
    rows: u64,
}

impl<C> OpLogStore<C>
where
    C: Core<Persisted: Serialize + DeserializeOwned, PersistOp: Serialize + DeserializeOwned>,
{
    /// Opens (or creates) `file` in `dir` and reads it back.
    pub fn open(dir: &Path, file: &str) -> Result<OpLogStore<C>, StorageError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let db = Database::create(dir.join(file)).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.open_table(OPS).map_err(err)?;
        txn.commit().map_err(err)?;
        let mut store = OpLogStore {
            db,
            image: C::Persisted::default(),
            next_row: 0,
            rows: 0,
        };
        store.read_back()?;
        Ok(store)
    }

    /// The image on disk, then every row after it applied in order.
    fn read_back(&mut self) -> Result<(), StorageError> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        if let Some(v) = meta.get("image").map_err(err)? {
            self.image = postcard::from_bytes(v.value()).map_err(err)?;
        }
        let ops = txn.open_table(OPS).map_err(err)?;
        for row in ops.iter().map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let batch: Vec<C::PersistOp> = postcard::from_bytes(v.value()).map_err(err)?;
            for op in &batch {
                C::apply_persist(&mut self.image, op);
            }
            debug_assert!(k.value() >= self.next_row, "rows are read in key order");
            self.next_row = k.value() + 1;
            self.rows += 1;
        }
        Ok(())
    }
}

impl<C> Storage<C> for OpLogStore<C>
where
    C: Core<
        Persisted: Serialize + DeserializeOwned + Send,
        PersistOp: Serialize + DeserializeOwned,
    >,
{
    fn load(&self) -> Result<C::Persisted, StorageError> {
        Ok(self.image.clone())
    }

    fn apply(&mut self, ops: &[C::PersistOp]) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        let fold = self.rows + 1 >= FOLD_AFTER_ROWS;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(OPS).map_err(err)?;
            if fold {
                let mut image = self.image.clone();
                for op in ops {
                    C::apply_persist(&mut image, op);
                }
                let bytes = postcard::to_allocvec(&image).map_err(err)?;
                txn.open_table(META)
                    .map_err(err)?
                    .insert("image", bytes.as_slice())
                    .map_err(err)?;
                table.retain(|_, _| false).map_err(err)?;
            } else {
                let bytes = postcard::to_allocvec(ops).map_err(err)?;
                table.insert(self.next_row, bytes.as_slice()).map_err(err)?;
            }
        }
        txn.commit().map_err(err)?;
        for op in ops {
            C::apply_persist(&mut self.image, op);
        }
        self.next_row += 1;
        self.rows = if fold { 0 } else { self.rows + 1 };
        debug_assert!(
            self.rows < FOLD_AFTER_ROWS,
            "rows are folded before they pile up"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_applied_is_what_loads_after_reopening() {
        let dir = std::env::temp_dir().join(format!("distsys-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let e1 = Entry::new(0, 1, 1, b"a".to_vec(), None);
        let e2 = Entry::new(e1.chain, 2, 1, b"b".to_vec(), None);
        let e3 = Entry::new(e2.chain, 3, 2, b"c".to_vec(), None);
        let ops = vec![
            PersistOp::HardState(HardState {
                term: 2,
                vote: Some(1),
            }),
            PersistOp::Append(vec![e1.clone(), e2.clone(), e3.clone()]),
            PersistOp::Truncate(3),
        ];
        let mut expected = Persisted::default();
        for op in &ops {
            expected.apply(op);
        }
        {
            let storage = RaftStore::open(&dir).expect("open");
            storage.apply(&ops).expect("apply");
        }
        let storage = RaftStore::open(&dir).expect("reopen");
        assert_eq!(storage.load().expect("load"), expected);
        let snapshot = Snapshot {
            last_index: 1,
            last_term: 1,
            last_chain: e1.chain,
            membership: Default::default(),
            data: b"state".to_vec(),
        };
        storage
            .apply(&[PersistOp::Snapshot(snapshot.clone())])
            .expect("snapshot");
        expected.apply(&PersistOp::Snapshot(snapshot.clone()));
        assert_eq!(storage.load().expect("load"), expected);
        // The same snapshot again: the log no longer holds entry 1, but the snapshot on disk
        // ends there with the same chain, so entry 2 stays (the rule the in-memory log and
        // `Persisted` follow; the disk once dropped it).
        storage
            .apply(&[PersistOp::Snapshot(snapshot.clone())])
            .expect("snapshot again");
        expected.apply(&PersistOp::Snapshot(snapshot));
        assert_eq!(expected.entries, vec![e2.clone()]);
        assert_eq!(storage.load().expect("load"), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One step of a random history of Raft writes: appends at an index (a new suffix, as a
    /// leader's entries overwrite a follower's), truncations, snapshots that agree with a held
    /// entry or not, term changes.
    #[derive(Debug, Clone)]
    enum Step {
        Append { at: u64, count: u64, term: u64 },
        Truncate(u64),
        Snapshot { at: u64, agrees: bool },
        Term(u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (1..40u64, 1..8u64, 1..4u64).prop_map(|(at, count, term)| Step::Append { at, count, term }),
            1 => (1..40u64).prop_map(Step::Truncate),
            2 => (1..40u64, any::<bool>()).prop_map(|(at, agrees)| Step::Snapshot { at, agrees }),
            1 => (1..5u64).prop_map(Step::Term),
        ]
    }

    /// The persist operations of `step` against the log `model` holds now.
    fn ops_of(step: &Step, model: &Persisted) -> Vec<PersistOp> {
        let chain_at = |i: u64| {
            if let Some(e) = model.entries.iter().find(|e| e.index == i) {
                return Some(e.chain);
            }
            model
                .snapshot
                .as_ref()
                .filter(|s| s.last_index == i)
                .map(|s| s.last_chain)
        };
        match *step {
            Step::Append { at, count, term } => {
                // Appends continue the log (at most one past its end).
                let first = model.snapshot.as_ref().map_or(0, |s| s.last_index);
                let last = model.entries.last().map_or(first, |e| e.index);
                let at = at.clamp(first + 1, last + 1);
                let Some(mut previous) = chain_at(at - 1).or((at == 1).then_some(0)) else {
                    return Vec::new();
                };
                let entries: Vec<Entry> = (at..at + count)
                    .map(|i| {
                        let e = Entry::new(previous, i, term, vec![i as u8; 3], None);
                        previous = e.chain;
                        e
                    })
                    .collect();
                // A leader's entries overwrite a suffix: the core truncates first.
                let mut ops = Vec::new();
                if at <= last {
                    ops.push(PersistOp::Truncate(at));
                }
                ops.push(PersistOp::Append(entries));
                ops
            }
            Step::Truncate(index) => vec![PersistOp::Truncate(index)],
            Step::Snapshot { at, agrees } => {
                let chain = if agrees { chain_at(at) } else { None };
                vec![PersistOp::Snapshot(Snapshot {
                    last_index: at,
                    last_term: 1,
                    last_chain: chain.unwrap_or(0xdead_beef ^ at),
                    membership: Default::default(),
                    data: vec![at as u8],
                })]
            }
            Step::Term(term) => vec![PersistOp::HardState(HardState {
                term,
                vote: Some(1),
            })],
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 64, ..Default::default() })]

        /// The store on disk, reopened, holds what the in-memory `Persisted` (the simulator's
        /// disk) holds after the same operations: the oracle of the range deletions.
        #[test]
        fn the_store_agrees_with_the_in_memory_disk_on_random_histories(
            steps in proptest::collection::vec(step(), 1..40),
            per_write in 1..4usize,
        ) {
            let dir = std::env::temp_dir().join(format!(
                "distsys-storage-prop-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let mut expected = Persisted::default();
            let mut pending = Vec::new();
            {
                let storage = RaftStore::open(&dir).expect("open");
                for (i, step) in steps.iter().enumerate() {
                    for op in ops_of(step, &expected) {
                        expected.apply(&op);
                        pending.push(op);
                    }
                    // Several steps share a write, as the storage thread batches them.
                    if (i + 1) % per_write == 0 {
                        storage.apply(&pending).expect("apply");
                        pending.clear();
                    }
                }
                storage.apply(&pending).expect("apply");
            }
            let loaded = RaftStore::open(&dir).expect("reopen").load().expect("load");
            let _ = std::fs::remove_dir_all(&dir);
            proptest::prop_assert_eq!(loaded, expected);
        }
    }

    #[test]
    fn the_op_log_store_reads_back_what_it_was_given_across_folds_and_reopening() {
        use distsys_consensus::paxos::{Ballot, MultiPaxos, PaxosPersistOp, PaxosPersisted};
        let dir = std::env::temp_dir().join(format!("distsys-oplog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut expected = PaxosPersisted::default();
        // 300 writes: one fold after 256 rows, then 44 rows after it; reopened every 50.
        let mut store = OpLogStore::<MultiPaxos>::open(&dir, "multipaxos.redb").expect("open");
        for round in 1..=300u64 {
            if round % 50 == 0 {
                drop(store);
                store = OpLogStore::<MultiPaxos>::open(&dir, "multipaxos.redb").expect("open");
                assert_eq!(Storage::<MultiPaxos>::load(&store).expect("load"), expected);
            }
            let ballot = Ballot { round, node: 2 };
            let ops = vec![
                PaxosPersistOp::Promise(ballot),
                PaxosPersistOp::Accept(round, ballot, round.to_le_bytes().to_vec()),
            ];
            store.apply(&ops).expect("apply");
            for op in &ops {
                expected.apply(op);
            }
        }
        drop(store);
        let store = OpLogStore::<MultiPaxos>::open(&dir, "multipaxos.redb").expect("reopen");
        assert_eq!(Storage::<MultiPaxos>::load(&store).expect("load"), expected);
        assert!(store.rows < FOLD_AFTER_ROWS, "folded: {} rows", store.rows);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
