//! Causal delivery simulated: replicas write and broadcast their writes with vector clocks;
//! a receiver makes a write visible only once it has made visible everything the writer had
//! seen (causal broadcast). The history is checked with the causal-consistency checker; the
//! `deliver_on_arrival` variant (no buffering) is the broken one it must catch.
//!
//! The same run measures last-writer-wins: writes carry a wall-clock stamp (replica clocks are
//! skewed) and a hybrid-logical-clock stamp; a write that a causally earlier write on the same
//! key would beat is an update LWW loses. HLC stamps lose none; skewed wall clocks do. Each
//! resolution of concurrent writes is logged as a `conflict_resolved` event.

use crate::queue::EventQueue;
use crate::trace::Trace;
use distsys_check::causal::{check_causal, CausalEvent, CausalViolation, WriteId};
use distsys_patterns::clock::{Hlc, HlcTimestamp};
use distsys_types::event::ConflictResolved;
use distsys_types::Event as LogEvent;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

const MS: u64 = 1_000;

/// Parameters of one causal run.
#[derive(Debug, Clone)]
pub struct CausalConfig {
    /// Seed.
    pub seed: u64,
    /// Replicas.
    pub replicas: u64,
    /// Keys written.
    pub keys: usize,
    /// Writes per replica.
    pub writes_per_replica: u64,
    /// Largest clock offset of a replica, in milliseconds (either way).
    pub skew_ms: u64,
    /// The broken variant: make writes visible as they arrive.
    pub deliver_on_arrival: bool,
    /// Keep the `conflict_resolved` events.
    pub trace: bool,
}

impl CausalConfig {
    /// 4 replicas, 3 keys, 60 writes each, clocks up to 50 ms apart.
    pub fn new(seed: u64) -> CausalConfig {
        CausalConfig {
            seed,
            replicas: 4,
            keys: 3,
            writes_per_replica: 60,
            skew_ms: 50,
            deliver_on_arrival: false,
            trace: false,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct CausalReport {
    /// Writes issued.
    pub writes: u64,
    /// Remote deliveries that had to wait for a cause.
    pub buffered: u64,
    /// The first causal violation, if any.
    pub violation: Option<CausalViolation>,
    /// Concurrent writes to one key resolved by LWW (each logged as `conflict_resolved`).
    pub conflicts_resolved: u64,
    /// Writes LWW on skewed wall clocks loses to a causally earlier write.
    pub lost_with_wall_clocks: u64,
    /// The same with hybrid logical clocks (always 0).
    pub lost_with_hlc: u64,
    /// The `conflict_resolved` events, when traced.
    pub trace: Vec<String>,
}

#[derive(Debug, Clone)]
struct Write {
    id: WriteId,
    key: usize,
    deps: BTreeMap<u64, u64>,
    wall_ms: u64,
    hlc: HlcTimestamp,
}

#[derive(Debug)]
enum Event {
    Issue { replica: u64 },
    Arrive { replica: u64, write: usize },
}

/// What the replicas hold while the run goes.
struct State {
    writes: Vec<Write>,
    /// Per replica: version vector of the visible writes.
    seen: Vec<BTreeMap<u64, u64>>,
    /// Per replica, per key: the write LWW (on HLC) keeps.
    value: Vec<BTreeMap<usize, usize>>,
    history: Vec<CausalEvent>,
    trace: Trace,
    report: CausalReport,
}

impl State {
    fn concurrent(a: &Write, b: &Write) -> bool {
        let covers = |x: &Write, y: &Write| x.deps.get(&y.id.0).is_some_and(|s| *s >= y.id.1);
        !covers(a, b) && !covers(b, a)
    }

    /// Makes write `w` visible at replica `r` and resolves it against the key's value.
    fn make_visible(&mut self, now: u64, r: u64, w: usize) {
        let write = &self.writes[w];
        let s = self.seen[r as usize].entry(write.id.0).or_default();
        *s = (*s).max(write.id.1);
        self.history.push(CausalEvent::Visible {
            replica: r + 1,
            id: (write.id.0 + 1, write.id.1),
        });
        let slot = self.value[r as usize].entry(write.key).or_insert(w);
        if *slot == w {
            return;
        }
        let current = &self.writes[*slot];
        let newer = (write.hlc, write.id.0) > (current.hlc, current.id.0);
        if State::concurrent(current, write) {
            self.report.conflicts_resolved += 1;
            let (winner, loser) = if newer {
                (write, current)
            } else {
                (current, write)
            };
            self.trace.record(
                now,
                Some(r + 1),
                None,
                LogEvent::ConflictResolved(ConflictResolved {
                    key: format!("k{}", write.key),
                    strategy: "lww_hlc".into(),
                    winner: [winner.id.0 + 1, winner.id.1],
                    loser: [loser.id.0 + 1, loser.id.1],
                }),
            );
        }
        if newer {
            *slot = w;
        }
    }

    /// Whether every cause of `w` is visible at `r`.
    fn ready(&self, r: usize, w: usize) -> bool {
        self.writes[w]
            .deps
            .iter()
            .all(|(o, s)| self.seen[r].get(o).copied().unwrap_or(0) >= *s)
    }
}

/// Runs one seed.
pub fn run_causal(config: &CausalConfig) -> CausalReport {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let n = config.replicas;
    let offsets: Vec<i64> = (0..n)
        .map(|_| rng.random_range(-(config.skew_ms as i64)..=config.skew_ms as i64))
        .collect();
    let wall =
        |now: u64, r: u64| (now as i64 / MS as i64 + 1_000 + offsets[r as usize]).max(0) as u64;
    let mut hlcs = vec![Hlc::default(); n as usize];
    let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); n as usize];
    let mut issued = vec![0u64; n as usize];
    let mut st = State {
        writes: Vec::new(),
        seen: vec![BTreeMap::new(); n as usize],
        value: vec![BTreeMap::new(); n as usize],
        history: Vec::new(),
        trace: Trace::new(config.trace),
        report: CausalReport::default(),
    };
    let mut queue = EventQueue::new();
    for replica in 0..n {
        queue.push(rng.random_range(0..5 * MS), Event::Issue { replica });
    }
    while let Some((now, event)) = queue.pop() {
        match event {
            Event::Issue { replica } => {
                let r = replica as usize;
                issued[r] += 1;
                let wall_ms = wall(now, replica);
                let hlc = hlcs[r].now(wall_ms);
                let mut deps = st.seen[r].clone();
                deps.insert(replica, issued[r] - 1);
                let w = st.writes.len();
                st.writes.push(Write {
                    id: (replica, issued[r]),
                    key: rng.random_range(0..config.keys),
                    deps: deps.clone(),
                    wall_ms,
                    hlc,
                });
                st.history.push(CausalEvent::Write {
                    id: (replica + 1, issued[r]),
                    deps: deps.iter().map(|(o, s)| (o + 1, *s)).collect(),
                });
                st.make_visible(now, replica, w);
                for other in (0..n).filter(|o| *o != replica) {
                    let at = now + rng.random_range(1..20) * MS;
                    queue.push(
                        at,
                        Event::Arrive {
                            replica: other,
                            write: w,
                        },
                    );
                }
                if issued[r] < config.writes_per_replica {
                    let at = now + rng.random_range(1..10) * MS;
                    queue.push(at, Event::Issue { replica });
                }
            }
            Event::Arrive { replica, write } => {
                let r = replica as usize;
                // The simulated clocks have no offset bound (Hlc::default), so nothing is refused.
                let received = hlcs[r].update(st.writes[write].hlc, wall(now, replica));
                debug_assert!(received.is_ok(), "an unbounded clock refuses no stamp");
                if config.deliver_on_arrival {
                    st.make_visible(now, replica, write);
                    continue;
                }
                waiting[r].push(write);
                // Deliver every waiting write whose causes are all visible, until none is.
                while let Some(pos) = waiting[r].iter().position(|w| st.ready(r, *w)) {
                    let w = waiting[r].remove(pos);
                    st.make_visible(now, replica, w);
                }
                st.report.buffered += u64::from(!waiting[r].is_empty());
            }
        }
    }
    let mut report = st.report;
    report.writes = st.writes.len() as u64;
    report.violation = check_causal(&st.history).err();
    // LWW losses: a write whose causal past holds a same-key write with a larger stamp.
    for w2 in &st.writes {
        let causes = st.writes.iter().filter(|w1| {
            w1.key == w2.key
                && w1.id != w2.id
                && w2.deps.get(&w1.id.0).is_some_and(|s| *s >= w1.id.1)
        });
        let (mut wall_lost, mut hlc_lost) = (false, false);
        for w1 in causes {
            wall_lost |= (w1.wall_ms, w1.id.0) > (w2.wall_ms, w2.id.0);
            hlc_lost |= (w1.hlc, w1.id.0) > (w2.hlc, w2.id.0);
        }
        report.lost_with_wall_clocks += u64::from(wall_lost);
        report.lost_with_hlc += u64::from(hlc_lost);
    }
    report.trace = st.trace.into_lines();
    report
}
