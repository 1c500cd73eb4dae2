//! The node's disk: the [`Storage`] trait over a consensus core's persist operations, Raft's
//! store in redb ([`RaftStore`]: term and vote, the log, the snapshot), and [`FailingStore`], a
//! wrapper that fails like a full disk after N writes or N bytes (for tests).
//!
//! Every Ready's operations go into one write transaction, committed with an fsync before the
//! Ready's messages leave, so the client writes that arrived together share one fsync (group
//! commit).

use distsys_consensus::raft::Raft;
use distsys_consensus::{Core, Entry, HardState, PersistOp, Persisted, Snapshot};
use distsys_types::snapshot::{ChainPoint, Retained};
use redb::{Database, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

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

/// Raft's state in redb (`raft.redb` in the data directory): term and vote, the log (in
/// [`segments`], one row per round's entries), the snapshot and where it ends.
pub struct RaftStore {
    db: Database,
    /// Entries per log segment ([`segments`]).
    segment: u64,
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
    /// Opens (or creates) the database in `dir`. A log written in one table (the layout before
    /// segments) is moved into segments in the same transaction.
    pub fn open(dir: &Path) -> Result<RaftStore, StorageError> {
        RaftStore::open_with_segments(dir, segments::ENTRIES)
    }

    /// [`RaftStore::open`] with `segment` entries per log segment for a new file (tests cross
    /// segment boundaries with small ones). A file keeps the size it was created with.
    pub fn open_with_segments(dir: &Path, segment: u64) -> Result<RaftStore, StorageError> {
        debug_assert!(segment >= 1, "a segment holds entries");
        std::fs::create_dir_all(dir).map_err(err)?;
        let db = Database::create(dir.join("raft.redb")).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        let segment = {
            let mut meta = txn.open_table(META).map_err(err)?;
            let stored = match meta.get("segment_entries").map_err(err)? {
                Some(v) => Some(postcard::from_bytes::<u64>(v.value()).map_err(err)?),
                None => None,
            };
            match stored {
                Some(size) if size >= 1 => size,
                Some(_) => {
                    return Err(StorageError("raft.redb: a log segment of 0 entries".into()))
                }
                None => {
                    let size = segment.max(1);
                    let bytes = postcard::to_allocvec(&size).map_err(err)?;
                    meta.insert("segment_entries", bytes.as_slice())
                        .map_err(err)?;
                    size
                }
            }
        };
        // Only a file of the old layout has the table: opening it on any other file would
        // create it (and deleting it again would cost a write at every start).
        let has_legacy = segments::Tables::table_names(&txn)?
            .iter()
            .any(|name| name == LEGACY_LOG.name());
        if has_legacy {
            let legacy = {
                let table = txn.open_table(LEGACY_LOG).map_err(err)?;
                let mut entries = Vec::new();
                for row in table.iter().map_err(err)? {
                    let (_, v) = row.map_err(err)?;
                    entries.push(postcard::from_bytes::<Entry>(v.value()).map_err(err)?);
                }
                entries
            };
            txn.delete_table(LEGACY_LOG).map_err(err)?;
            segments::append(&txn, segment, &legacy)?;
        }
        txn.commit().map_err(err)?;
        Ok(RaftStore { db, segment })
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
        let entries = segments::load(&txn, snapshot.as_ref().map_or(0, |s| s.last_index))?;
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
            // The current snapshot's point, read at the first snapshot of these operations.
            let mut current: Option<Option<ChainPoint>> = None;
            // Consecutive appends (one per client command in a busy round) are written as one
            // run: a row per round rather than per command.
            let mut appended: Vec<Entry> = Vec::new();
            for op in ops {
                match op {
                    PersistOp::Append(entries)
                        if appended
                            .last()
                            .zip(entries.first())
                            .is_none_or(|(last, first)| last.index + 1 == first.index) =>
                    {
                        appended.extend(entries.iter().cloned());
                    }
                    // Not after the run (the core appends after a truncate, which ends a run
                    // anyway): the run is written and this append starts the next one.
                    PersistOp::Append(entries) => {
                        segments::append(&txn, self.segment, &appended)?;
                        appended = entries.clone();
                    }
                    _ => {
                        segments::append(&txn, self.segment, &std::mem::take(&mut appended))?;
                        self.write(&txn, &mut meta, &mut current, op)?;
                    }
                }
            }
            segments::append(&txn, self.segment, &appended)?;
        }
        // Durability::Immediate (redb's default): the commit returns after the fsync.
        txn.commit().map_err(err)
    }

    /// Writes one operation into `txn`. `current` caches where the snapshot on disk ends
    /// (`None`: not read yet): entries at or before it are gone, whatever a segment still
    /// holds.
    fn write(
        &self,
        txn: &redb::WriteTransaction,
        meta: &mut redb::Table<'_, &'static str, &'static [u8]>,
        current: &mut Option<Option<ChainPoint>>,
        op: &PersistOp,
    ) -> Result<(), StorageError> {
        match op {
            PersistOp::HardState(hs) => {
                let bytes = postcard::to_allocvec(hs).map_err(err)?;
                meta.insert("hard_state", bytes.as_slice()).map_err(err)?;
            }
            PersistOp::Truncate(index) => segments::truncate_from(txn, self.segment, *index)?,
            // `apply` gathers appends into runs and passes none here; one would be its own run.
            PersistOp::Append(entries) => segments::append(txn, self.segment, entries)?,
            PersistOp::Snapshot(snapshot) => {
                let point = match *current {
                    Some(point) => point,
                    None => snapshot_point(meta)?,
                };
                // The one snapshot-agreement rule (`distsys_types::snapshot`), as in memory:
                // the current snapshot's point counts as well as a held entry.
                let held = match point {
                    Some(p) if snapshot.last_index <= p.index => None,
                    _ => segments::chain_at(txn, snapshot.last_index)?,
                };
                match distsys_types::snapshot::install(snapshot.point(), point, |_| held) {
                    Retained::After(last) => segments::drop_through(txn, self.segment, last)?,
                    Retained::Nothing => segments::drop_all(txn)?,
                }
                let bytes = postcard::to_allocvec(snapshot).map_err(err)?;
                meta.insert("snapshot", bytes.as_slice()).map_err(err)?;
                let at = snapshot.point();
                let bytes = postcard::to_allocvec(&(at.index, at.chain)).map_err(err)?;
                meta.insert("snapshot_point", bytes.as_slice())
                    .map_err(err)?;
                *current = Some(Some(at));
            }
        }
        Ok(())
    }
}

/// Where the snapshot on disk ends (`snapshot_point`, or the snapshot itself in a file written
/// before the point was kept apart: reading it decodes the whole state).
fn snapshot_point(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<ChainPoint>, StorageError> {
    if let Some(v) = meta.get("snapshot_point").map_err(err)? {
        let (index, chain): (u64, u64) = postcard::from_bytes(v.value()).map_err(err)?;
        return Ok(Some(ChainPoint { index, chain }));
    }
    match meta.get("snapshot").map_err(err)? {
        Some(v) => Ok(Some(
            postcard::from_bytes::<Snapshot>(v.value())
                .map_err(err)?
                .point(),
        )),
        None => Ok(None),
    }
}

/// The log as it was first written, in one table: read once and moved into segments.
const LEGACY_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// Raft's log in segments: the entries with indexes `[n * size, (n + 1) * size)` in a table of
/// their own, named by its first index (`log.<hex>`; [`segments::ENTRIES`] per segment unless
/// the file says otherwise). Within a segment, each append is one row (a run of consecutive
/// entries keyed by the first's index). Compaction deletes whole tables (redb frees their
/// pages without rewriting any) and leaves the segment it ends inside as it is: the entries at
/// or before the snapshot there are skipped on load. Deleting compacted entries one row each
/// was half of a busy node's protocol thread, and inserting them one row each a quarter.
mod segments {
    use super::{err, StorageError};
    use distsys_consensus::Entry;
    use redb::{ReadableTable, TableDefinition, TableHandle};

    /// Entries per segment by default.
    pub(super) const ENTRIES: u64 = 4096;

    const PREFIX: &str = "log.";

    type Runs<'t> = redb::Table<'t, u64, &'static [u8]>;

    /// The name of the segment starting at `first`.
    fn name(first: u64) -> String {
        format!("{PREFIX}{first:016x}")
    }

    fn definition(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(name)
    }

    /// What segments need of a transaction: the names of its tables.
    pub(super) trait Tables {
        fn table_names(&self) -> Result<Vec<String>, StorageError>;
    }

    impl Tables for redb::WriteTransaction {
        fn table_names(&self) -> Result<Vec<String>, StorageError> {
            Ok(names(self.list_tables().map_err(err)?))
        }
    }

    impl Tables for redb::ReadTransaction {
        fn table_names(&self) -> Result<Vec<String>, StorageError> {
            Ok(names(self.list_tables().map_err(err)?))
        }
    }

    fn names(tables: impl Iterator<Item = impl TableHandle>) -> Vec<String> {
        tables.map(|t| t.name().to_string()).collect()
    }

    /// The first indexes of the segments in the database, in order.
    fn present(txn: &impl Tables) -> Result<Vec<u64>, StorageError> {
        let mut out: Vec<u64> = txn
            .table_names()?
            .into_iter()
            .filter_map(|n| u64::from_str_radix(n.strip_prefix(PREFIX)?, 16).ok())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Vec<Entry>, StorageError> {
        postcard::from_bytes(bytes).map_err(err)
    }

    /// Writes `entries` (consecutive) as one run per segment they fall in.
    pub(super) fn append(
        txn: &redb::WriteTransaction,
        size: u64,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        debug_assert!(
            entries.windows(2).all(|w| w[0].index + 1 == w[1].index),
            "appends are consecutive"
        );
        let start = |index: u64| index - index % size;
        for run in entries.chunk_by(|a, b| start(a.index) == start(b.index)) {
            let name = name(start(run[0].index));
            let mut table = txn.open_table(definition(&name)).map_err(err)?;
            put(&mut table, run)?;
        }
        Ok(())
    }

    /// Writes `run` (non-empty: else nothing) as one row.
    fn put(table: &mut Runs<'_>, run: &[Entry]) -> Result<(), StorageError> {
        let Some(first) = run.first() else {
            return Ok(());
        };
        let bytes = postcard::to_allocvec(run).map_err(err)?;
        table.insert(first.index, bytes.as_slice()).map_err(err)?;
        Ok(())
    }

    /// The run starting at or before `index` in `table`, if it reaches `index`.
    fn run_holding(
        table: &impl ReadableTable<u64, &'static [u8]>,
        index: u64,
    ) -> Result<Option<Vec<Entry>>, StorageError> {
        let Some(row) = table.range(..=index).map_err(err)?.next_back() else {
            return Ok(None);
        };
        let (first, v) = row.map_err(err)?;
        let run = decode(v.value())?;
        Ok((first.value() + run.len() as u64 > index).then_some(run))
    }

    /// The chain hash of the entry at `index`, if a segment holds it.
    pub(super) fn chain_at(
        txn: &redb::WriteTransaction,
        index: u64,
    ) -> Result<Option<u64>, StorageError> {
        let Some(&first) = present(txn)?.iter().rev().find(|&&f| f <= index) else {
            return Ok(None);
        };
        let name = name(first);
        let table = txn.open_table(definition(&name)).map_err(err)?;
        let run = run_holding(&table, index)?.unwrap_or_default();
        Ok(run.iter().find(|e| e.index == index).map(|e| e.chain))
    }

    /// Drops every entry at or after `index`: the segments starting there or later, and in
    /// the one before, the runs from `index` on and the tail of the run straddling it.
    pub(super) fn truncate_from(
        txn: &redb::WriteTransaction,
        size: u64,
        index: u64,
    ) -> Result<(), StorageError> {
        for first in present(txn)?.into_iter().filter(|&f| f + size > index) {
            let name = name(first);
            if first >= index {
                txn.delete_table(definition(&name)).map_err(err)?;
                continue;
            }
            let mut table = txn.open_table(definition(&name)).map_err(err)?;
            if let Some(mut run) = run_holding(&table, index)? {
                if run[0].index < index {
                    run.truncate((index - run[0].index) as usize);
                    put(&mut table, &run)?;
                }
            }
            let later = table
                .range(index..)
                .map_err(err)?
                .map(|row| row.map(|(k, _)| k.value()))
                .collect::<Result<Vec<u64>, _>>()
                .map_err(err)?;
            for key in later {
                table.remove(key).map_err(err)?;
            }
        }
        Ok(())
    }

    /// Drops the segments holding only entries at or before `last` (the one `last` falls inside
    /// stays; load skips its entries up to the snapshot).
    pub(super) fn drop_through(
        txn: &redb::WriteTransaction,
        size: u64,
        last: u64,
    ) -> Result<(), StorageError> {
        for first in present(txn)?.into_iter().filter(|&f| f + size <= last + 1) {
            txn.delete_table(definition(&name(first))).map_err(err)?;
        }
        Ok(())
    }

    /// Drops every segment.
    pub(super) fn drop_all(txn: &redb::WriteTransaction) -> Result<(), StorageError> {
        for first in present(txn)? {
            txn.delete_table(definition(&name(first))).map_err(err)?;
        }
        Ok(())
    }

    /// The entries after `after` (the snapshot's last index), in order; an error if they do
    /// not follow one another.
    pub(super) fn load(
        txn: &redb::ReadTransaction,
        after: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut entries: Vec<Entry> = Vec::new();
        for first in present(txn)? {
            let name = name(first);
            let table = txn.open_table(definition(&name)).map_err(err)?;
            for row in table.iter().map_err(err)? {
                let (key, v) = row.map_err(err)?;
                let run = decode(v.value())?;
                let starts = run.first().is_some_and(|e| e.index == key.value());
                let consecutive = run.windows(2).all(|w| w[0].index + 1 == w[1].index);
                if !starts || !consecutive {
                    return Err(StorageError(format!(
                        "raft.redb: the log run at index {} is not consecutive",
                        key.value()
                    )));
                }
                for entry in run.into_iter().filter(|e| e.index > after) {
                    if entries.last().is_some_and(|e| e.index + 1 != entry.index) {
                        return Err(StorageError(format!(
                            "raft.redb: the log entry at index {} does not follow the one before",
                            entry.index
                        )));
                    }
                    entries.push(entry);
                }
            }
        }
        Ok(entries)
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
            data: b"state".to_vec().into(),
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

    /// Entries 1..=n of term 1, each chained to the one before.
    fn chained(n: u64) -> Vec<Entry> {
        let mut previous = 0;
        (1..=n)
            .map(|i| {
                let e = Entry::new(previous, i, 1, vec![i as u8], None);
                previous = e.chain;
                e
            })
            .collect()
    }

    #[test]
    fn a_log_in_one_table_is_moved_into_segments_on_open() {
        let dir = std::env::temp_dir().join(format!("distsys-legacy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let entries = chained(10);
        {
            // The layout before segments: one row per entry in `log`.
            let db = Database::create(dir.join("raft.redb")).expect("create");
            let txn = db.begin_write().expect("txn");
            {
                let mut log = txn.open_table(LEGACY_LOG).expect("log");
                for e in &entries {
                    let bytes = postcard::to_allocvec(e).expect("encode");
                    log.insert(e.index, bytes.as_slice()).expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let store = RaftStore::open_with_segments(&dir, 4).expect("open");
        assert_eq!(store.load().expect("load").entries, entries);
        // Moved, not copied: the old table is gone and new writes land in segments.
        store.apply(&[PersistOp::Truncate(6)]).expect("truncate");
        drop(store);
        let store = RaftStore::open(&dir).expect("reopen");
        assert_eq!(store.load().expect("load").entries, entries[..5].to_vec());
        assert_eq!(
            store.segment, 4,
            "the file keeps the segment size it was made with"
        );
        let txn = store.db.begin_read().expect("read");
        let tables = segments::Tables::table_names(&txn).expect("tables");
        assert!(
            !tables.iter().any(|t| t == LEGACY_LOG.name()),
            "the old table is gone: {tables:?}"
        );
        drop(txn);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn entries_a_segment_still_holds_behind_the_snapshot_stay_gone() {
        let dir = std::env::temp_dir().join(format!("distsys-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let entries = chained(6);
        let snapshot_at = |e: &Entry| Snapshot {
            last_index: e.index,
            last_term: e.term,
            last_chain: e.chain,
            membership: Default::default(),
            data: vec![e.index as u8].into(),
        };
        // Segments of 8: compacting through 5 leaves entries 1..=5 in the segment on disk.
        // Then a snapshot ending at 3 with entry 3's chain: the log no longer knows entry 3,
        // so everything goes (the in-memory rule), and 4..=6 must not come back from the
        // segment.
        let ops = [
            PersistOp::Append(entries.clone()),
            PersistOp::Snapshot(snapshot_at(&entries[4])),
            PersistOp::Snapshot(snapshot_at(&entries[2])),
        ];
        for per_write in [1, 3] {
            let _ = std::fs::remove_dir_all(&dir);
            let store = RaftStore::open_with_segments(&dir, 8).expect("open");
            let mut expected = Persisted::default();
            for chunk in ops.chunks(per_write) {
                store.apply(chunk).expect("apply");
                chunk.iter().for_each(|op| expected.apply(op));
            }
            assert!(expected.entries.is_empty(), "{expected:?}");
            assert_eq!(
                store.load().expect("load"),
                expected,
                "{per_write} per write"
            );
        }
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

    /// The persist operations of `step` against the log `model` holds now; `ever` holds the
    /// last chain hash written at each index (a snapshot may end at an entry the log has
    /// already dropped, as a leader's can after a follower compacted past it).
    fn ops_of(
        step: &Step,
        model: &Persisted,
        ever: &std::collections::HashMap<u64, u64>,
    ) -> Vec<PersistOp> {
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
                let chain = if agrees {
                    chain_at(at).or(ever.get(&at).copied())
                } else {
                    None
                };
                vec![PersistOp::Snapshot(Snapshot {
                    last_index: at,
                    last_term: 1,
                    last_chain: chain.unwrap_or(0xdead_beef ^ at),
                    membership: Default::default(),
                    data: vec![at as u8].into(),
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
            segment in proptest::sample::select(vec![1u64, 2, 3, 5, 8, 4096]),
        ) {
            let dir = std::env::temp_dir().join(format!(
                "distsys-storage-prop-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let mut expected = Persisted::default();
            let mut ever = std::collections::HashMap::new();
            let mut pending = Vec::new();
            {
                let storage = RaftStore::open_with_segments(&dir, segment).expect("open");
                for (i, step) in steps.iter().enumerate() {
                    for op in ops_of(step, &expected, &ever) {
                        if let PersistOp::Append(entries) = &op {
                            ever.extend(entries.iter().map(|e| (e.index, e.chain)));
                        }
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
            // Reopened with the default size: the file keeps its own.
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
