use super::*;
use crate::clock::{Hlc, HlcTimestamp};
use proptest::prelude::*;

/// One random operation on replica `r` of every type at once.
#[derive(Debug, Clone)]
enum Op {
    Inc(u8, u8),
    Add(u8, i8),
    SetAdd(u8, u8),
    SetRemove(u8, u8),
    Write(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1u8..5).prop_map(|(r, n)| Op::Inc(r, n)),
        (0u8..3, -5i8..5).prop_map(|(r, n)| Op::Add(r, n)),
        (0u8..3, 0u8..6).prop_map(|(r, x)| Op::SetAdd(r, x)),
        (0u8..3, 0u8..6).prop_map(|(r, x)| Op::SetRemove(r, x)),
        (0u8..3, 0u8..6).prop_map(|(r, x)| Op::Write(r, x)),
    ]
}

/// Every type, side by side, so one random history exercises them all.
#[derive(Debug, Clone, Default, PartialEq)]
struct All {
    g: GCounter,
    pn: PNCounter,
    gset: GSet<u8>,
    two: TwoPSet<u8>,
    or: ORSet<u8>,
    mv: MVRegister<u8>,
    lww: LWWRegister<u8>,
    map: ORMap<u8, GCounter>,
}

impl Crdt for All {
    fn merge(&mut self, o: &Self) {
        self.g.merge(&o.g);
        self.pn.merge(&o.pn);
        self.gset.merge(&o.gset);
        self.two.merge(&o.two);
        self.or.merge(&o.or);
        self.mv.merge(&o.mv);
        self.lww.merge(&o.lww);
        self.map.merge(&o.map);
    }
}

/// Applies `op` at its replica; returns the delta.
fn apply(state: &mut All, clock: &mut Hlc, time: u64, op: &Op) -> All {
    let mut d = All::default();
    match *op {
        Op::Inc(r, n) => d.g = state.g.inc(r.into(), n.into()),
        Op::Add(r, n) => d.pn = state.pn.add(r.into(), n.into()),
        Op::SetAdd(r, x) => {
            d.gset = state.gset.add(x);
            d.two = state.two.add(x);
            d.or = state.or.add(r.into(), x);
            d.map = state.map.update(r.into(), x, |c| c.inc(r.into(), 1));
        }
        Op::SetRemove(_, x) => {
            d.two = state.two.remove(x);
            d.or = state.or.remove(&x);
            d.map = state.map.remove(&x);
        }
        Op::Write(r, x) => {
            d.mv = state.mv.set(r.into(), x);
            d.lww = state.lww.set(x, clock.now(time), r.into());
        }
    }
    d
}

fn replica_of(op: &Op) -> usize {
    match op {
        Op::Inc(r, _)
        | Op::Add(r, _)
        | Op::SetAdd(r, _)
        | Op::SetRemove(r, _)
        | Op::Write(r, _) => *r as usize,
    }
}

/// Runs `ops` on three replicas, delivering each delta to the replicas `spread` picks (bit i:
/// replica i), so replicas hold different but coherent views of one execution (every dot is
/// unique, as in any real system). Returns the three states and every delta.
fn execution(ops: &[(Op, u8)]) -> (Vec<All>, Vec<All>) {
    let mut replicas = vec![All::default(), All::default(), All::default()];
    let mut clocks = [Hlc::default(); 3];
    let mut deltas = Vec::new();
    for (i, (o, spread)) in ops.iter().enumerate() {
        let r = replica_of(o);
        let delta = apply(&mut replicas[r], &mut clocks[r], i as u64, o);
        for (j, replica) in replicas.iter_mut().enumerate() {
            if j != r && spread & (1 << j) != 0 {
                replica.merge(&delta);
            }
        }
        deltas.push(delta);
    }
    (replicas, deltas)
}

fn merged(a: &All, b: &All) -> All {
    let mut x = a.clone();
    x.merge(b);
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merge_is_commutative_associative_idempotent(
        ops in proptest::collection::vec((op(), 0u8..8), 0..60),
    ) {
        let (states, _) = execution(&ops);
        let (a, b, c) = (&states[0], &states[1], &states[2]);
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(&merged(a, a), a);
    }

    #[test]
    fn replicas_converge_under_reordered_duplicated_and_lost_deltas(
        ops in proptest::collection::vec((op(), 0u8..8), 1..60),
        deliveries in proptest::collection::vec((0usize..3, any::<u16>(), 0u8..4), 0..200),
    ) {
        // Some deltas reach some replicas as the operations happen...
        let (mut replicas, deltas) = execution(&ops);
        // Deltas delivered in any order, some several times, some never (mode 0: dropped).
        for (to, pick, mode) in deliveries {
            if mode == 0 || deltas.is_empty() {
                continue;
            }
            let delta = deltas[pick as usize % deltas.len()].clone();
            for _ in 0..mode {
                replicas[to].merge(&delta);
            }
        }
        // Anti-entropy: every replica merges every other's full state.
        let snapshot = replicas.clone();
        for r in replicas.iter_mut() {
            for other in &snapshot {
                r.merge(other);
            }
        }
        prop_assert_eq!(&replicas[0], &replicas[1]);
        prop_assert_eq!(&replicas[1], &replicas[2]);
        // And the converged state is the one all operations produce on one replica merged with
        // every delta: nothing lost, nothing invented.
        let mut all = All::default();
        for d in &deltas {
            all.merge(d);
        }
        prop_assert_eq!(&replicas[0], &all);
    }
}

#[test]
fn counters_count_across_replicas() {
    let (mut a, mut b) = (PNCounter::default(), PNCounter::default());
    a.add(1, 5);
    b.add(2, -2);
    let d = b.add(2, 7);
    a.merge(&d);
    a.merge(&b);
    assert_eq!(a.value(), 10);
}

#[test]
fn or_set_add_wins_over_a_concurrent_remove_and_two_p_set_does_not() {
    let (mut a, mut b) = (ORSet::default(), ORSet::default());
    let add = a.add(1, "x");
    b.merge(&add);
    // Concurrently: a removes x, b adds x again.
    let rm = a.remove(&"x");
    let re = b.add(2, "x");
    a.merge(&re);
    b.merge(&rm);
    assert!(
        a.contains(&"x") && b.contains(&"x"),
        "the concurrent add wins"
    );
    let mut two = TwoPSet::default();
    two.add("x");
    two.remove("x");
    two.add("x");
    assert!(!two.contains(&"x"), "a 2P-set never re-adds");
}

#[test]
fn mv_register_keeps_concurrent_writes_until_one_replaces_them() {
    let (mut a, mut b) = (MVRegister::default(), MVRegister::default());
    let da = a.set(1, "left");
    let db = b.set(2, "right");
    a.merge(&db);
    b.merge(&da);
    assert_eq!(a.values(), vec!["left", "right"]);
    let d = a.set(1, "both");
    b.merge(&d);
    assert_eq!(b.values(), vec!["both"]);
}

/// The seed's LWW test: of two conflicting writes the later stamp wins on every replica, ties
/// broken by replica id, whatever the order they arrive in.
#[test]
fn resolve_conflict_lww() {
    let early = HlcTimestamp {
        wall_ms: 1_000,
        logical: 0,
    };
    let late = HlcTimestamp {
        wall_ms: 1_005,
        logical: 0,
    };
    let (mut a, mut b) = (LWWRegister::default(), LWWRegister::default());
    let w1 = a.set("first", early, 1);
    let w2 = b.set("second", late, 2);
    a.merge(&w2);
    b.merge(&w1);
    assert_eq!((a.get(), b.get()), (Some(&"second"), Some(&"second")));
    let (mut c, mut d) = (LWWRegister::default(), LWWRegister::default());
    let x = c.set("from-1", late, 1);
    let y = d.set("from-2", late, 2);
    c.merge(&y);
    d.merge(&x);
    assert_eq!(
        (c.get(), d.get()),
        (Some(&"from-2"), Some(&"from-2")),
        "same stamp: higher replica"
    );
}

#[test]
fn lww_on_skewed_wall_clocks_loses_a_causally_later_write_and_hlc_does_not() {
    // Node 1's clock runs 500 ms ahead. It writes; node 2 reads that and then writes.
    let wall_1 = 10_500;
    let wall_2 = 10_010;
    let mut wall = LWWRegister::default();
    wall.set(
        "from 1",
        HlcTimestamp {
            wall_ms: wall_1,
            logical: 0,
        },
        1,
    );
    wall.set(
        "from 2, after reading 1",
        HlcTimestamp {
            wall_ms: wall_2,
            logical: 0,
        },
        2,
    );
    assert_eq!(
        wall.get(),
        Some(&"from 1"),
        "wall clocks drop the later write"
    );
    let (mut c1, mut c2) = (Hlc::default(), Hlc::default());
    let t1 = c1.now(wall_1);
    let mut hlc = LWWRegister::default();
    hlc.set("from 1", t1, 1);
    c2.update(t1, wall_2);
    hlc.set("from 2, after reading 1", c2.now(wall_2), 2);
    assert_eq!(hlc.get(), Some(&"from 2, after reading 1"));
}
