//! Primary-backup replication modes as analytic models: what a write waits for, and how far an
//! asynchronous backup falls behind.

/// How many backups a write waits for before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationMode {
    /// Every backup (no acknowledged write is lost while one replica survives).
    Sync,
    /// The `k` fastest backups (k = 1 by default: MySQL semi-sync).
    SemiSync { k: usize },
    /// None: acknowledged after the primary's own write; backups follow later.
    Async,
}

impl ReplicationMode {
    /// Write latency: the primary's own write, then the wait the mode imposes on the backups'
    /// acknowledgement latencies (sync: the slowest; semi-sync: the k-th fastest; async: none).
    pub fn write_latency_ms(&self, local_ms: f64, backup_ms: &[f64]) -> f64 {
        let mut sorted: Vec<f64> = backup_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let wait = match self {
            ReplicationMode::Sync => sorted.last().copied().unwrap_or(0.0),
            ReplicationMode::SemiSync { k } => match k.checked_sub(1) {
                Some(i) => sorted
                    .get(i.min(sorted.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0.0),
                None => 0.0,
            },
            ReplicationMode::Async => 0.0,
        };
        local_ms.max(wait)
    }

    /// Backups that hold every acknowledged write (the rest may lag): what a failover to a
    /// backup can count on.
    pub fn backups_in_sync(&self, backups: usize) -> usize {
        match self {
            ReplicationMode::Sync => backups,
            ReplicationMode::SemiSync { k } => (*k).min(backups),
            ReplicationMode::Async => 0,
        }
    }
}

/// How many writes an asynchronous backup is behind after `seconds` when writes arrive at
/// `write_rate` per second and it applies `apply_rate` per second (never negative).
pub fn async_lag(write_rate: f64, apply_rate: f64, seconds: f64) -> f64 {
    ((write_rate - apply_rate) * seconds).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's test: a synchronous write waits for the slowest replica.
    #[test]
    fn sync_write_latency_is_the_max_of_the_replica_latencies() {
        let backups = [3.0, 12.5, 7.0];
        assert_eq!(ReplicationMode::Sync.write_latency_ms(1.0, &backups), 12.5);
        assert_eq!(
            ReplicationMode::SemiSync { k: 1 }.write_latency_ms(1.0, &backups),
            3.0
        );
        assert_eq!(
            ReplicationMode::SemiSync { k: 2 }.write_latency_ms(1.0, &backups),
            7.0
        );
        assert_eq!(ReplicationMode::Async.write_latency_ms(1.0, &backups), 1.0);
        assert_eq!(ReplicationMode::Sync.backups_in_sync(3), 3);
        assert_eq!(ReplicationMode::Async.backups_in_sync(3), 0);
    }

    /// The seed's template with its own numbers: replica latencies [10, 20, 30] ms, a sync
    /// write waits 30.
    #[test]
    fn the_seed_figures_as_written_sync_10_20_30_waits_30() {
        assert_eq!(
            ReplicationMode::Sync.write_latency_ms(10.0, &[20.0, 30.0]),
            30.0
        );
        assert_eq!(
            ReplicationMode::Sync.write_latency_ms(0.0, &[10.0, 20.0, 30.0]),
            30.0
        );
    }

    /// The seed's test: 1000 writes/s applied at 800/s for 60 s leave 12 000 behind.
    #[test]
    fn async_lag_grows_with_the_rate_gap() {
        assert_eq!(async_lag(1000.0, 800.0, 60.0), 12_000.0);
        assert_eq!(async_lag(800.0, 1000.0, 60.0), 0.0);
    }
}
