//! Primary-backup replication simulated: a primary takes writes at a steady rate and ships them
//! to its backups; the mode decides when a write is acknowledged (sync: every backup has it
//! durably; semi-sync: `k` have; async: the primary alone). A crash of the primary is followed,
//! after a detection delay, by the promotion of the most up-to-date reachable backup; a
//! partition cuts one backup off for a while. Measured: write latency, replication lag (writes
//! not yet applied by a backup), acknowledged writes lost on failover (RPO) and the time until
//! writes are acknowledged again (RTO). A crash loses the primary's replication stream still in
//! flight. Deterministic per seed.

use crate::queue::EventQueue;
use distsys_patterns::replication::ReplicationMode;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BTreeSet;

const MS: u64 = 1_000;

/// Parameters of one primary-backup run.
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// When a write is acknowledged.
    pub mode: ReplicationMode,
    /// Backups (the primary not counted).
    pub backups: usize,
    /// Virtual duration, in milliseconds.
    pub duration_ms: u64,
    /// Writes per second offered to the primary.
    pub writes_per_second: u64,
    /// One-way latency between primary and backups, in milliseconds (jittered 0.75-1.5x).
    pub latency_ms: f64,
    /// Writes per second a backup applies (below the write rate, lag grows).
    pub apply_per_second: u64,
    /// When the primary crashes (None: never), in milliseconds.
    pub crash_at_ms: Option<u64>,
    /// How long until a crash is detected and a backup promoted, in milliseconds.
    pub detect_ms: u64,
    /// A window during which backup 1 is cut off from the primary, in milliseconds.
    pub partition_ms: Option<(u64, u64)>,
    /// How long a client waits for its acknowledgement, in milliseconds.
    pub timeout_ms: u64,
}

impl ReplicationConfig {
    /// 2 backups, 10 s, 1000 writes/s, 1 ms latency, backups apply 1200/s, the primary crashes
    /// somewhere in 4-6 s (seeded), detected after 300 ms, backup 1 cut off during 1-2.5 s.
    pub fn new(seed: u64, mode: ReplicationMode) -> ReplicationConfig {
        let crash = 4_000 + seed.wrapping_mul(0x9e37_79b9) % 2_000;
        ReplicationConfig {
            seed,
            mode,
            backups: 2,
            duration_ms: 10_000,
            writes_per_second: 1_000,
            latency_ms: 1.0,
            apply_per_second: 1_200,
            crash_at_ms: Some(crash),
            detect_ms: 300,
            partition_ms: Some((1_000, 2_500)),
            timeout_ms: 1_000,
        }
    }
}

/// What one run (or a campaign of runs) measured.
#[derive(Debug, Clone, Default)]
pub struct ReplicationReport {
    /// Runs.
    pub runs: u64,
    /// Writes offered.
    pub writes: u64,
    /// Writes acknowledged to their client.
    pub acknowledged: u64,
    /// Acknowledged writes missing from the promoted backup (RPO, in writes).
    pub lost_acknowledged: u64,
    /// Writes that timed out (not acknowledged).
    pub timed_out: u64,
    /// Latency of acknowledged writes, in microseconds (sorted).
    pub latencies_us: Vec<u64>,
    /// Largest number of writes a backup had received but not applied, or not received.
    pub max_lag: u64,
    /// Time from the crash to the next acknowledged write, per run that crashed, in ms.
    pub rto_ms: Vec<f64>,
}

impl ReplicationReport {
    /// Latency percentile in milliseconds.
    pub fn latency_ms(&self, p: f64) -> Option<f64> {
        crate::stats::percentile(&self.latencies_us, p).map(|us| us as f64 / 1000.0)
    }
}

#[derive(Debug)]
enum Event {
    /// A client offers write `n` (the n-th write of the run).
    Offer(u64),
    /// Backup `b` receives entry `seq` from primary `epoch`.
    Receive { b: usize, seq: u64, epoch: u64 },
    /// Backup `b` applies its next received entry.
    Apply { b: usize },
    /// The primary of `epoch` hears that backup `b` holds everything up to `seq`.
    Ack { b: usize, seq: u64, epoch: u64 },
    /// The client of entry `seq` (of `epoch`) gives up.
    Timeout { seq: u64, epoch: u64 },
    /// The primary dies.
    Crash,
    /// The crash is detected: promote a backup.
    Promote,
    /// The partition heals: resend what backup 1 missed.
    Heal,
}

struct Backup {
    /// Entries received (durable), as a prefix length: entries arrive in order per link.
    received: u64,
    applied: u64,
    applying: bool,
    /// Promoted to primary (then it no longer acts as a backup).
    promoted: bool,
}

struct Run {
    config: ReplicationConfig,
    rng: ChaCha8Rng,
    queue: EventQueue<Event>,
    now: u64,
    /// The current primary: None (the original), or Some(backup index) after a failover.
    primary: Option<usize>,
    alive: bool,
    epoch: u64,
    /// Entries the current primary holds.
    log_len: u64,
    /// Per backup: highest entry acknowledged to the primary of this epoch.
    acked_by: Vec<u64>,
    /// Latest delivery time per backup link (FIFO links).
    link_free: Vec<u64>,
    backups: Vec<Backup>,
    /// Pending client writes: seq -> offered at.
    pending: std::collections::BTreeMap<u64, u64>,
    acknowledged: BTreeSet<u64>,
    crashed_at: Option<u64>,
    report: ReplicationReport,
}

impl Run {
    fn schedule(&mut self, at: u64, event: Event) {
        self.queue.push(at, event);
    }

    fn cut(&self, b: usize) -> bool {
        b == 0
            && self
                .config
                .partition_ms
                .is_some_and(|(from, to)| (from * MS..to * MS).contains(&self.now))
    }

    fn delay(&mut self) -> u64 {
        let base = self.config.latency_ms * MS as f64;
        (base * self.rng.random_range(0.75..1.5)) as u64
    }

    /// Ships entry `seq` to every backup reachable from the current primary.
    fn ship(&mut self, seq: u64) {
        for b in 0..self.backups.len() {
            if Some(b) == self.primary || self.backups[b].promoted || self.cut(b) {
                continue;
            }
            let at = (self.now + self.delay()).max(self.link_free[b] + 1);
            self.link_free[b] = at;
            let epoch = self.epoch;
            self.schedule(at, Event::Receive { b, seq, epoch });
        }
    }

    /// Backups that count for acknowledgements (all but a promoted one).
    fn replicas(&self) -> usize {
        self.backups.iter().filter(|b| !b.promoted).count()
    }

    fn needed(&self) -> usize {
        match self.config.mode {
            ReplicationMode::Sync => self.replicas(),
            ReplicationMode::SemiSync { k } => k.min(self.replicas()),
            ReplicationMode::Async => 0,
        }
    }

    fn acknowledge_ready(&mut self) {
        let needed = self.needed();
        let ready: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|seq| {
                let have = self
                    .acked_by
                    .iter()
                    .enumerate()
                    .filter(|(b, upto)| !self.backups[*b].promoted && **upto >= *seq)
                    .count();
                have >= needed
            })
            .collect();
        for seq in ready {
            if let Some(offered) = self.pending.remove(&seq) {
                self.acknowledged.insert(seq);
                self.report.acknowledged += 1;
                self.report.latencies_us.push(self.now - offered);
                if let Some(crash) = self.crashed_at.take() {
                    self.report.rto_ms.push((self.now - crash) as f64 / 1000.0);
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Offer(n) => self.offer(n),
            Event::Receive { b, seq, epoch } => self.receive(b, seq, epoch),
            Event::Apply { b } => {
                let backup = &mut self.backups[b];
                if backup.applied < backup.received {
                    backup.applied += 1;
                }
                if backup.applied < backup.received {
                    let at = self.now + 1_000_000 / self.config.apply_per_second.max(1);
                    self.schedule(at, Event::Apply { b });
                } else {
                    backup.applying = false;
                }
            }
            Event::Ack { b, seq, epoch } => {
                if epoch == self.epoch && self.alive && !self.cut(b) {
                    self.acked_by[b] = self.acked_by[b].max(seq);
                    self.acknowledge_ready();
                }
            }
            Event::Timeout { seq, epoch } => {
                if epoch == self.epoch && self.pending.remove(&seq).is_some() {
                    self.report.timed_out += 1;
                }
            }
            Event::Crash => {
                self.alive = false;
                self.crashed_at = Some(self.now);
                // Its clients never hear back.
                self.report.timed_out += self.pending.len() as u64;
                self.pending.clear();
                let at = self.now + self.config.detect_ms * MS;
                self.schedule(at, Event::Promote);
            }
            Event::Promote => self.promote(),
            Event::Heal => self.resend(0),
        }
    }

    /// Write `n` offered to the primary: the next one scheduled, this one logged, shipped and
    /// given its timeout (or timed out at once when the primary is down).
    fn offer(&mut self, n: u64) {
        self.report.writes += 1;
        let interval = 1_000_000 / self.config.writes_per_second.max(1);
        if self.now + interval < self.config.duration_ms * MS {
            self.schedule(self.now + interval, Event::Offer(n + 1));
        }
        if !self.alive {
            self.report.timed_out += 1;
            return;
        }
        self.log_len += 1;
        let seq = self.log_len;
        self.pending.insert(seq, self.now);
        let epoch = self.epoch;
        let timeout = self.now + self.config.timeout_ms * MS;
        self.schedule(timeout, Event::Timeout { seq, epoch });
        self.ship(seq);
        self.acknowledge_ready();
    }

    /// Backup `b` receives entry `seq` of `epoch`'s log, in order, and acknowledges it.
    fn receive(&mut self, b: usize, seq: u64, epoch: u64) {
        let backup = &mut self.backups[b];
        // A dead primary's replication stream dies with it (what its socket buffers still
        // held never arrives), and a newer primary's log replaces an older one's.
        if epoch != self.epoch || !self.alive || backup.promoted || seq != backup.received + 1 {
            return;
        }
        backup.received = seq;
        if !backup.applying {
            backup.applying = true;
            let at = self.now + 1_000_000 / self.config.apply_per_second.max(1);
            self.schedule(at, Event::Apply { b });
        }
        let lag = self.log_len.saturating_sub(self.backups[b].applied);
        self.report.max_lag = self.report.max_lag.max(lag);
        let at = self.now + self.delay();
        self.schedule(at, Event::Ack { b, seq, epoch });
    }

    /// Failover: the most up-to-date reachable backup takes over (a correct failover); the
    /// acknowledged writes it lacks are lost, the others realign on its log.
    fn promote(&mut self) {
        // The most up-to-date reachable backup takes over (a correct failover).
        let best = (0..self.backups.len())
            .filter(|b| !self.backups[*b].promoted && !self.cut(*b))
            .max_by_key(|b| (self.backups[*b].received, Reverse(*b)));
        let Some(b) = best else { return };
        let held = self.backups[b].received;
        self.report.lost_acknowledged += self.acknowledged.range(held + 1..).count() as u64;
        self.acknowledged.retain(|s| *s <= held);
        self.backups[b].promoted = true;
        self.primary = Some(b);
        self.epoch += 1;
        self.alive = true;
        self.log_len = held;
        // The others realign on the new primary's log.
        for (i, other) in self.backups.iter_mut().enumerate() {
            if i != b {
                other.received = other.received.min(held);
                other.applied = other.applied.min(held);
            }
        }
        self.acked_by = self.backups.iter().map(|x| x.received).collect();
        for i in 0..self.backups.len() {
            if i != b {
                self.resend(i);
            }
        }
    }

    /// Resends to backup `b` everything it lacks (after a heal or a failover).
    fn resend(&mut self, b: usize) {
        if self.backups[b].promoted || !self.alive {
            return;
        }
        for seq in self.backups[b].received + 1..=self.log_len {
            let at = (self.now + self.delay()).max(self.link_free[b] + 1);
            self.link_free[b] = at;
            let epoch = self.epoch;
            self.schedule(at, Event::Receive { b, seq, epoch });
        }
    }
}

/// Runs one seed.
pub fn run_replication(config: &ReplicationConfig) -> ReplicationReport {
    let mut run = Run {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        queue: EventQueue::new(),
        now: 0,
        primary: None,
        alive: true,
        epoch: 0,
        log_len: 0,
        acked_by: vec![0; config.backups],
        link_free: vec![0; config.backups],
        backups: (0..config.backups)
            .map(|_| Backup {
                received: 0,
                applied: 0,
                applying: false,
                promoted: false,
            })
            .collect(),
        pending: std::collections::BTreeMap::new(),
        acknowledged: BTreeSet::new(),
        crashed_at: None,
        report: ReplicationReport {
            runs: 1,
            ..ReplicationReport::default()
        },
        config: config.clone(),
    };
    run.schedule(0, Event::Offer(0));
    if let Some(at) = config.crash_at_ms {
        run.schedule(at * MS, Event::Crash);
    }
    if let Some((_, to)) = config.partition_ms {
        run.schedule(to * MS, Event::Heal);
    }
    while let Some((at, event)) = run.queue.pop() {
        if at > config.duration_ms * MS + config.timeout_ms * MS {
            break;
        }
        run.now = at;
        run.handle(event);
    }
    run.report.latencies_us.sort_unstable();
    run.report
}

/// Runs `seeds` consecutive seeds from `base.seed` in parallel and adds their reports up.
pub fn run_replication_campaign(base: &ReplicationConfig, seeds: u64) -> ReplicationReport {
    let reports: Vec<ReplicationReport> = (base.seed..base.seed + seeds)
        .into_par_iter()
        .map(|seed| {
            let mut config = ReplicationConfig::new(seed, base.mode);
            config.backups = base.backups;
            config.duration_ms = base.duration_ms;
            config.latency_ms = base.latency_ms;
            config.writes_per_second = base.writes_per_second;
            config.apply_per_second = base.apply_per_second;
            run_replication(&config)
        })
        .collect();
    let mut total = ReplicationReport::default();
    for r in reports {
        total.runs += r.runs;
        total.writes += r.writes;
        total.acknowledged += r.acknowledged;
        total.lost_acknowledged += r.lost_acknowledged;
        total.timed_out += r.timed_out;
        total.latencies_us.extend(r.latencies_us);
        total.max_lag = total.max_lag.max(r.max_lag);
        total.rto_ms.extend(r.rto_ms);
    }
    total.latencies_us.sort_unstable();
    total.rto_ms.sort_by(f64::total_cmp);
    total
}
