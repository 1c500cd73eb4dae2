//! The storage thread: the node's writes pipelined with replication (etcd-raft's asynchronous
//! storage writes). The protocol thread hands each round's persist operations over, numbered,
//! and goes on stepping messages; this thread takes every write queued by the time it is free,
//! makes them durable together (one [`Storage::apply`]: one transaction, one fsync for many
//! rounds) and reports the number of the last one back, or the failure, after which it writes
//! nothing more.
//!
//! What waits for a write (messages that depend on it, client answers, the leader counting
//! its own copy) is held by the protocol thread until that report (`node::Held`); this module
//! only orders and batches the disk work.

use crate::storage::{Storage, StorageError};
use distsys_consensus::Core;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Most writes one fsync carries: past it the thread commits what it holds and takes the rest
/// next (bounds a transaction's size after a long stall).
const MAX_WRITES_PER_SYNC: usize = 4096;

/// Where the thread reports: `Ok(n)` once writes `1..=n` are durable, `Err` when a write
/// failed (nothing from it on is durable). Returns false when nobody listens any more (the
/// thread then stops).
pub type Report = Box<dyn Fn(Result<u64, StorageError>) -> bool + Send>;

/// The storage thread of one node.
pub struct Writer<C: Core> {
    jobs: Option<mpsc::Sender<(u64, Vec<C::PersistOp>)>>,
    thread: Option<JoinHandle<()>>,
    /// Number of the last write submitted (writes are numbered from 1).
    submitted: u64,
}

impl<C: Core + 'static> Writer<C>
where
    C::PersistOp: Send + 'static,
{
    /// Moves `storage` onto its own thread, reporting through `report`.
    pub fn spawn(storage: Box<dyn Storage<C>>, report: Report) -> std::io::Result<Writer<C>> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("storage".into())
            .spawn(move || write_loop(storage, &queue, &report))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            submitted: 0,
        })
    }

    /// Queues `ops` as the next write; returns its number. A write after the thread stopped
    /// (it failed) is never durable: its report never comes, the failure's already has.
    pub fn submit(&mut self, ops: Vec<C::PersistOp>) -> u64 {
        debug_assert!(
            !ops.is_empty(),
            "only writes with something to write are numbered"
        );
        self.submitted += 1;
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send((self.submitted, ops));
        }
        self.submitted
    }
}

impl<C: Core> Drop for Writer<C> {
    /// Lets the thread finish the writes already queued, then joins it.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop<C: Core>(
    mut storage: Box<dyn Storage<C>>,
    queue: &mpsc::Receiver<(u64, Vec<C::PersistOp>)>,
    report: &Report,
) {
    while let Ok((first, mut ops)) = queue.recv() {
        let mut last = first;
        for _ in 1..MAX_WRITES_PER_SYNC {
            match queue.try_recv() {
                Ok((next, more)) => {
                    debug_assert_eq!(next, last + 1, "writes arrive in order");
                    last = next;
                    ops.extend(more);
                }
                Err(_) => break,
            }
        }
        match storage.apply(&ops) {
            Ok(()) => {
                if !report(Ok(last)) {
                    return;
                }
            }
            Err(e) => {
                report(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FailingStore, RaftStore};
    use distsys_consensus::raft::Raft;
    use distsys_consensus::{Entry, PersistOp};

    fn append(index: u64) -> Vec<PersistOp> {
        vec![PersistOp::Append(vec![Entry::new(
            0,
            index,
            1,
            vec![index as u8],
            None,
        )])]
    }

    /// Writes are durable in order, reported with the last number of each batch (every
    /// number eventually), and a failure stops the thread after the writes before it.
    #[test]
    fn reports_every_write_in_order_and_stops_at_the_first_failure() {
        let dir = std::env::temp_dir().join(format!("distsys-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = FailingStore::fail_after_bytes(RaftStore::open(&dir).expect("open"), 2000);
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer::<Raft>::spawn(
            Box::new(store),
            Box::new(move |r| tx.send(r.map_err(|e| e.to_string())).is_ok()),
        )
        .expect("spawn");
        for index in 1..=1000 {
            assert_eq!(writer.submit(append(index)), index);
        }
        drop(writer);
        let reports: Vec<Result<u64, String>> = rx.iter().collect();
        let durable: Vec<u64> = reports.iter().filter_map(|r| r.clone().ok()).collect();
        assert!(durable.windows(2).all(|w| w[0] < w[1]), "{durable:?}");
        assert!(
            matches!(reports.last(), Some(Err(e)) if e.contains("no space left")),
            "{reports:?}"
        );
        assert_eq!(reports.iter().filter(|r| r.is_err()).count(), 1);
        let through = durable.last().copied().unwrap_or(0);
        // What was reported durable is on disk, and nothing of the failed write.
        let on_disk = RaftStore::open(&dir).expect("reopen").load().expect("load");
        assert_eq!(on_disk.entries.len() as u64, through);
        assert!(on_disk.entries.iter().zip(1..).all(|(e, i)| e.index == i));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
