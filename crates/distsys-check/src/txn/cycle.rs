//! Finding the anomalous cycles: strongly connected components first (a cycle lives inside
//! one), then, per component and class, a short cycle found by breadth-first search under
//! that class's relation constraints:
//! - G0: a cycle of ww (and, for a variant, order) edges: Tarjan over those relations;
//! - G1c: the same over ww + wr, closed through a wr edge;
//! - G-single: an rw edge `u -> v` closed by a path `v ~> u` without rw. Component ids come
//!   in topological order, so most rw edges are ruled out without a search;
//! - G-nonadjacent: a search over (node, last edge was rw) states, so no two rw edges touch;
//! - G2-item: any rw edge inside the component closed by any path.
//!
//! Each found cycle is classified by its actual edges. Searches share a step budget; a class
//! whose search ran out of it is reported undecided.

use super::anomaly::{Anomaly, AnomalyKind, CycleClass, Variant};
use super::graph::{Bfs, Components, Edge, Graph, Rel, RelMask, DATA};

/// The relations a variant adds to data dependencies.
pub fn extra(variant: Variant) -> RelMask {
    match variant {
        Variant::Item => 0,
        Variant::Process => Rel::Process.bit(),
        Variant::Realtime => Rel::Process.bit() | Rel::Realtime.bit(),
    }
}

/// The class of a cycle, from its edges.
pub fn classify(cycle: &[Edge]) -> CycleClass {
    let rw: Vec<bool> = cycle.iter().map(|e| e.rel == Rel::Rw).collect();
    let count = rw.iter().filter(|&&r| r).count();
    match count {
        0 if cycle.iter().any(|e| e.rel == Rel::Wr) => CycleClass::G1c,
        0 => CycleClass::G0,
        1 => CycleClass::GSingle,
        _ => {
            let adjacent = (0..rw.len()).any(|i| rw[i] && rw[(i + 1) % rw.len()]);
            if adjacent {
                CycleClass::G2Item
            } else {
                CycleClass::GNonadjacent
            }
        }
    }
}

/// What one variant's search found.
#[derive(Debug, Default)]
pub struct Found {
    /// Anomalous cycles, at most one per class and component.
    pub anomalies: Vec<Anomaly>,
    /// Classes whose search ran out of budget in some component.
    pub undecided: Vec<CycleClass>,
    /// Budget left after the search.
    pub budget_left: u64,
}

/// The searcher for one variant over one graph.
pub struct CycleSearch<'g> {
    graph: &'g Graph,
    variant: Variant,
    extra: RelMask,
    bfs: Bfs,
    /// Steps left in the budget.
    pub budget: u64,
    found: Found,
}

impl<'g> CycleSearch<'g> {
    /// A search of `graph` for `variant` cycles with a budget of `budget` visited nodes.
    pub fn new(graph: &'g Graph, variant: Variant, budget: u64) -> Self {
        CycleSearch {
            graph,
            variant,
            extra: extra(variant),
            bfs: Bfs::new(graph.n),
            budget,
            found: Found::default(),
        }
    }

    /// Runs every class's search; `nonadjacent` also runs the (costly) G-nonadjacent search
    /// in components with no G-single.
    pub fn run(mut self, nonadjacent: bool) -> Found {
        let full = self.graph.sccs(DATA | self.extra);
        self.found.budget_left = self.budget;
        if !full.sizes.iter().any(|&s| s > 1) {
            return self.found;
        }
        let ww = self.graph.sccs(Rel::Ww.bit() | self.extra);
        self.close_internal(&ww, Rel::Ww.bit() | self.extra, Rel::Ww.bit() | self.extra);
        let wwr = self.graph.sccs(Rel::Ww.bit() | Rel::Wr.bit() | self.extra);
        self.close_internal(
            &wwr,
            Rel::Wr.bit(),
            Rel::Ww.bit() | Rel::Wr.bit() | self.extra,
        );
        let single = self.g_single(&full, &wwr);
        let mut done = single.clone();
        if nonadjacent {
            for (c, d) in self.g_nonadjacent(&full, &single).into_iter().enumerate() {
                done[c] |= d;
            }
        }
        self.g2(&full, &done);
        self.found.budget_left = self.budget;
        self.found
    }

    fn record(&mut self, cycle: Vec<u32>) -> bool {
        let edges: Vec<Edge> = cycle
            .iter()
            .map(|&i| self.graph.edges[i as usize])
            .collect();
        let edges = super::order::through_points(&edges, self.graph.txns as u32);
        if self.extra != 0 && !edges.iter().any(|e| e.rel.bit() & self.extra != 0) {
            // A cycle of data dependencies only: the item search reports it.
            return false;
        }
        let class = classify(&edges);
        self.found.anomalies.push(Anomaly {
            kind: AnomalyKind::Cycle(class, self.variant),
            txns: edges.iter().map(|e| e.from).collect(),
            cycle: edges,
            detail: String::new(),
        });
        true
    }

    /// In each component of `comps` (over `mask`), closes one cycle through an internal edge
    /// of a relation in `start` (order edges first, so a variant's cycle uses one).
    /// For each component `c` with a start edge `starts[c]`, the shortest path back from the
    /// edge's head to its tail inside `c` over edges in `mask`, recorded with the edge as a
    /// cycle.
    fn close_cycles(&mut self, starts: Vec<Option<u32>>, comp: &[u32], mask: RelMask) {
        for (c, s) in starts.into_iter().enumerate() {
            let Some(s) = s else { continue };
            let e = self.graph.edges[s as usize];
            let path = self.bfs.path(
                self.graph,
                e.to,
                e.from,
                |x| x.rel.bit() & mask != 0,
                |x| comp[x as usize] == c as u32,
                u64::MAX,
            );
            if let Some(mut path) = path {
                path.insert(0, s);
                self.record(path);
            }
        }
    }

    fn close_internal(&mut self, comps: &Components, start: RelMask, mask: RelMask) {
        let mut starts: Vec<Option<u32>> = vec![None; comps.sizes.len()];
        for (i, e) in self.graph.edges.iter().enumerate() {
            if e.rel.bit() & start == 0 || !comps.together(e.from, e.to) {
                continue;
            }
            let c = comps.comp[e.from as usize] as usize;
            let better = starts[c].is_none_or(|s| {
                let s = self.graph.edges[s as usize].rel.bit();
                s & self.extra == 0 && e.rel.bit() & self.extra != 0
            });
            if better {
                starts[c] = Some(i as u32);
            }
        }
        self.close_cycles(starts, &comps.comp, mask);
    }

    /// One G-single per component of `full` where one exists; returns which components have
    /// one (or had their search cut by the budget).
    fn g_single(&mut self, full: &Components, free: &Components) -> Vec<bool> {
        let mut done = vec![false; full.sizes.len()];
        let free_mask = Rel::Ww.bit() | Rel::Wr.bit() | self.extra;
        // Cheap candidates first: rw edges whose ends share a free component.
        let mut rws: Vec<(bool, u32)> = Vec::new();
        for (i, e) in self.graph.edges.iter().enumerate() {
            if e.rel != Rel::Rw || !full.together(e.from, e.to) {
                continue;
            }
            let (cu, cv) = (free.comp[e.from as usize], free.comp[e.to as usize]);
            // A path v ~> u without rw needs comp(v) >= comp(u) (ids are reverse topological).
            if cv >= cu {
                rws.push((cu != cv, i as u32));
            }
        }
        rws.sort_unstable();
        let mut cut = false;
        for (_, i) in rws {
            let e = self.graph.edges[i as usize];
            let c = full.comp[e.from as usize];
            if done[c as usize] {
                continue;
            }
            if self.budget == 0 {
                cut = true;
                break;
            }
            let (lo, hi) = (free.comp[e.from as usize], free.comp[e.to as usize]);
            let (fc, free_c) = (&full.comp, &free.comp);
            let before = self.bfs.steps;
            let path = self.bfs.path(
                self.graph,
                e.to,
                e.from,
                |x| x.rel.bit() & free_mask != 0,
                |x| fc[x as usize] == c && (lo..=hi).contains(&free_c[x as usize]),
                self.budget,
            );
            self.budget = self.budget.saturating_sub(self.bfs.steps - before);
            if let Some(mut path) = path {
                path.insert(0, i);
                self.record(path);
                done[c as usize] = true;
            }
        }
        if cut {
            self.found.undecided.push(CycleClass::GSingle);
            self.found.undecided.push(CycleClass::GNonadjacent);
        }
        done
    }

    /// One G2 cycle (classified by its edges) per component with an rw edge and no cycle
    /// found yet.
    fn g2(&mut self, full: &Components, done: &[bool]) {
        let mut starts: Vec<Option<u32>> = vec![None; full.sizes.len()];
        for (i, e) in self.graph.edges.iter().enumerate() {
            if e.rel == Rel::Rw && full.together(e.from, e.to) {
                let c = full.comp[e.from as usize] as usize;
                if !done[c] && starts[c].is_none() {
                    starts[c] = Some(i as u32);
                }
            }
        }
        let mask = DATA | self.extra;
        self.close_cycles(starts, &full.comp, mask);
    }

    /// G-nonadjacent in components without G-single: a search over (node, last edge was
    /// rw) from each rw edge, never taking two rw edges in a row.
    fn g_nonadjacent(&mut self, full: &Components, single: &[bool]) -> Vec<bool> {
        let mut done = single.to_vec();
        let rws: Vec<u32> = (0..self.graph.edges.len() as u32)
            .filter(|&i| {
                let e = &self.graph.edges[i as usize];
                e.rel == Rel::Rw && full.together(e.from, e.to)
            })
            .collect();
        let mut states = super::nonadjacent::StateBfs::new(self.graph.n);
        for i in rws {
            let e = self.graph.edges[i as usize];
            let c = full.comp[e.from as usize];
            if done[c as usize] {
                continue;
            }
            if self.budget == 0 {
                self.found.undecided.push(CycleClass::GNonadjacent);
                break;
            }
            let mask = DATA | self.extra;
            let (path, steps) = states.path(
                self.graph,
                e.to,
                e.from,
                mask,
                |x| full.comp[x as usize] == c,
                self.budget,
            );
            self.budget = self.budget.saturating_sub(steps);
            if let Some(mut path) = path {
                path.insert(0, i);
                done[c as usize] = self.record(path);
            }
        }
        done
    }
}
