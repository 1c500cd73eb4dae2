//! The dependency graph between transactions: edges tagged with their relation, stored as
//! compressed adjacency (CSR), with Tarjan's strongly connected components (iterative, so a
//! long chain cannot overflow the stack) and breadth-first shortest paths under a relation
//! mask. Node ids are transaction indices.

use super::history::Atom;

/// "No value" in an edge's explanation fields.
pub const NONE: Atom = Atom::MAX;

/// A relation between two transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Rel {
    /// Write-write: the target installed the next version of a key after the source's.
    Ww = 0,
    /// Write-read: the target read a version the source installed.
    Wr = 1,
    /// Read-write (anti-dependency): the source read a version the target overwrote.
    Rw = 2,
    /// Same process, the source completed before the target was invoked.
    Process = 3,
    /// The source completed before the target was invoked (any processes).
    Realtime = 4,
}

impl Rel {
    /// The relation's bit in a [`RelMask`].
    pub const fn bit(self) -> RelMask {
        1 << self as u8
    }

    /// Its short name (`ww`, `wr`, `rw`, `process`, `realtime`).
    pub fn name(self) -> &'static str {
        match self {
            Rel::Ww => "ww",
            Rel::Wr => "wr",
            Rel::Rw => "rw",
            Rel::Process => "process",
            Rel::Realtime => "realtime",
        }
    }
}

/// A set of relations, one bit each.
pub type RelMask = u8;

/// The data dependencies: ww, wr and rw.
pub const DATA: RelMask = Rel::Ww.bit() | Rel::Wr.bit() | Rel::Rw.bit();

/// One dependency, with what explains it: the key and up to two values (the source's and
/// the target's, see the report for each relation's reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    /// Source transaction.
    pub from: u32,
    /// Target transaction.
    pub to: u32,
    /// The relation.
    pub rel: Rel,
    /// The key it is about ([`NONE`] for process and realtime edges).
    pub key: Atom,
    /// The source's value ([`NONE`] when there is none, e.g. a read of the initial state).
    pub a: Atom,
    /// The target's value ([`NONE`] when there is none).
    pub b: Atom,
}

/// A directed multigraph over `n` transactions in CSR form. Parallel edges of the same
/// relation between the same pair are kept once.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Number of nodes: the transactions, then the time points (if any).
    pub n: usize,
    /// Number of transaction nodes (`0..txns`); nodes `txns..n` are time points, through
    /// which real-time order runs (see [`super::order::realtime_points`]).
    pub txns: usize,
    /// Every edge, sorted by source.
    pub edges: Vec<Edge>,
    /// `offsets[u]..offsets[u + 1]` are the indices in `edges` of `u`'s out-edges.
    offsets: Vec<u32>,
}

impl Graph {
    /// Builds the graph; self-loops are dropped (a transaction never depends on itself).
    /// Of parallel edges with the same relation, the first given is kept. Linear in the
    /// edges (a counting sort by source), then each node's out-edges sorted by target.
    pub fn new(n: usize, edges: Vec<Edge>) -> Graph {
        Graph::with_points(n, 0, edges)
    }

    /// [`Graph::new`] over `txns` transactions and `points` time points after them.
    pub fn with_points(txns: usize, points: usize, edges: Vec<Edge>) -> Graph {
        let n = txns + points;
        let mut offsets = vec![0u32; n + 1];
        for e in edges.iter().filter(|e| e.from != e.to) {
            offsets[e.from as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let Some(&first) = edges.first() else {
            return Graph {
                n,
                txns,
                edges,
                offsets,
            };
        };
        let mut placed = vec![first; offsets[n] as usize];
        let mut next = offsets.clone();
        for e in edges.into_iter().filter(|e| e.from != e.to) {
            let at = &mut next[e.from as usize];
            placed[*at as usize] = e;
            *at += 1;
        }
        // Sort and deduplicate each node's out-edges, compacting in place.
        let mut kept = 0usize;
        let mut start = 0usize;
        for u in 0..n {
            let end = offsets[u + 1] as usize;
            let out = &mut placed[start..end];
            out.sort_by_key(|e| (e.to, e.rel));
            offsets[u] = kept as u32;
            for i in start..end {
                let e = placed[i];
                if kept > offsets[u] as usize && {
                    let last = &placed[kept - 1];
                    (last.to, last.rel) == (e.to, e.rel)
                } {
                    continue;
                }
                placed[kept] = e;
                kept += 1;
            }
            start = end;
        }
        offsets[n] = kept as u32;
        placed.truncate(kept);
        Graph {
            n,
            txns,
            edges: placed,
            offsets,
        }
    }

    /// The out-edges of `u` (indices into `edges` and the edges).
    pub fn out(&self, u: u32) -> impl Iterator<Item = (u32, &Edge)> {
        let (lo, hi) = (self.offsets[u as usize], self.offsets[u as usize + 1]);
        (lo..hi).map(move |i| (i, &self.edges[i as usize]))
    }

    /// Strongly connected components over edges whose relation is in `mask`. Component ids
    /// are in reverse topological order of the condensation: an edge between two components
    /// goes from a higher id to a lower one.
    pub fn sccs(&self, mask: RelMask) -> Components {
        const UNSEEN: u32 = u32::MAX;
        let n = self.n;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut comp = vec![UNSEEN; n];
        let mut stack: Vec<u32> = Vec::new();
        // (node, position of the next out-edge to look at)
        let mut call: Vec<(u32, u32)> = Vec::new();
        let mut next_index = 0u32;
        let mut sizes: Vec<u32> = Vec::new();
        for root in 0..n as u32 {
            if index[root as usize] != UNSEEN {
                continue;
            }
            call.push((root, self.offsets[root as usize]));
            index[root as usize] = next_index;
            low[root as usize] = next_index;
            next_index += 1;
            stack.push(root);
            while let Some(&mut (u, ref mut at)) = call.last_mut() {
                let hi = self.offsets[u as usize + 1];
                let mut descended = false;
                while *at < hi {
                    let e = &self.edges[*at as usize];
                    *at += 1;
                    if e.rel.bit() & mask == 0 {
                        continue;
                    }
                    let v = e.to as usize;
                    if index[v] == UNSEEN {
                        index[v] = next_index;
                        low[v] = next_index;
                        next_index += 1;
                        stack.push(e.to);
                        call.push((e.to, self.offsets[v]));
                        descended = true;
                        break;
                    } else if comp[v] == UNSEEN {
                        low[u as usize] = low[u as usize].min(index[v]);
                    }
                }
                if descended {
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent as usize] = low[parent as usize].min(low[u as usize]);
                }
                if low[u as usize] == index[u as usize] {
                    let id = sizes.len() as u32;
                    let mut size = 0;
                    while let Some(w) = stack.pop() {
                        comp[w as usize] = id;
                        size += 1;
                        if w == u {
                            break;
                        }
                    }
                    sizes.push(size);
                }
            }
        }
        Components { comp, sizes }
    }
}

/// Strongly connected components: a component id per node and each component's size.
#[derive(Debug, Clone)]
pub struct Components {
    /// The component of each node.
    pub comp: Vec<u32>,
    /// The number of nodes of each component.
    pub sizes: Vec<u32>,
}

impl Components {
    /// Whether `u` and `v` are in the same component of more than one node.
    pub fn together(&self, u: u32, v: u32) -> bool {
        let c = self.comp[u as usize];
        c == self.comp[v as usize] && self.sizes[c as usize] > 1
    }
}

/// Reusable breadth-first search state (visit stamps avoid clearing between searches).
#[derive(Debug, Clone)]
pub struct Bfs {
    stamp: Vec<u32>,
    parent: Vec<u32>,
    now: u32,
    queue: Vec<u32>,
    /// Nodes visited over every search so far (the work done, for budgets).
    pub steps: u64,
}

impl Bfs {
    /// Search state for graphs of `states` states.
    pub fn new(states: usize) -> Bfs {
        Bfs {
            stamp: vec![0; states],
            parent: vec![u32::MAX; states],
            now: 0,
            queue: Vec::new(),
            steps: 0,
        }
    }

    /// The shortest path from `start` to `goal` whose edges satisfy `allowed(edge)` and whose
    /// nodes satisfy `inside(node)`, as edge indices; `None` if there is none or the search
    /// visited more than `budget` nodes (check [`Bfs::steps`]).
    pub fn path(
        &mut self,
        graph: &Graph,
        start: u32,
        goal: u32,
        allowed: impl Fn(&Edge) -> bool,
        inside: impl Fn(u32) -> bool,
        budget: u64,
    ) -> Option<Vec<u32>> {
        self.now += 1;
        let now = self.now;
        self.queue.clear();
        self.queue.push(start);
        self.stamp[start as usize] = now;
        let mut head = 0;
        let mut visited = 0u64;
        while head < self.queue.len() {
            let u = self.queue[head];
            head += 1;
            visited += 1;
            if visited > budget {
                break;
            }
            for (i, e) in graph.out(u) {
                let v = e.to;
                if self.stamp[v as usize] == now || !allowed(e) || !inside(v) {
                    continue;
                }
                self.stamp[v as usize] = now;
                self.parent[v as usize] = i;
                if v == goal {
                    self.steps += visited;
                    return Some(self.trace(graph, start, goal));
                }
                self.queue.push(v);
            }
        }
        self.steps += visited;
        None
    }

    fn trace(&self, graph: &Graph, start: u32, goal: u32) -> Vec<u32> {
        let mut path = Vec::new();
        let mut at = goal;
        while at != start || path.is_empty() {
            let e = self.parent[at as usize];
            path.push(e);
            at = graph.edges[e as usize].from;
            if at == start {
                break;
            }
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: u32, to: u32, rel: Rel) -> Edge {
        Edge {
            from,
            to,
            rel,
            key: NONE,
            a: NONE,
            b: NONE,
        }
    }

    #[test]
    fn components_are_reverse_topological_and_masks_apply() {
        // 0 -> 1 -> 2 -> 0 (ww, ww, rw), 2 -> 3 (wr), 4 alone
        let g = Graph::new(
            5,
            vec![
                edge(0, 1, Rel::Ww),
                edge(1, 2, Rel::Ww),
                edge(2, 0, Rel::Rw),
                edge(2, 3, Rel::Wr),
                edge(3, 3, Rel::Ww),
            ],
        );
        assert_eq!(g.edges.len(), 4, "the self-loop is dropped");
        let all = g.sccs(Rel::Ww.bit() | Rel::Wr.bit() | Rel::Rw.bit());
        assert!(all.together(0, 2) && all.together(1, 2));
        assert!(!all.together(2, 3) && !all.together(4, 4));
        assert!(
            all.comp[2] > all.comp[3],
            "edges go from higher ids to lower"
        );
        let no_rw = g.sccs(Rel::Ww.bit() | Rel::Wr.bit());
        assert!(!no_rw.together(0, 2));
        assert!(no_rw.comp[0] > no_rw.comp[1] && no_rw.comp[1] > no_rw.comp[2]);
    }

    #[test]
    fn bfs_finds_the_shortest_allowed_path() {
        // 0 -> 1 -> 2 -> 3 (ww) and a shortcut 0 -> 3 (rw)
        let g = Graph::new(
            4,
            vec![
                edge(0, 1, Rel::Ww),
                edge(1, 2, Rel::Ww),
                edge(2, 3, Rel::Ww),
                edge(0, 3, Rel::Rw),
            ],
        );
        let mut bfs = Bfs::new(4);
        let any = bfs
            .path(&g, 0, 3, |_| true, |_| true, u64::MAX)
            .expect("path");
        assert_eq!(any.len(), 1);
        let ww = bfs
            .path(&g, 0, 3, |e| e.rel == Rel::Ww, |_| true, u64::MAX)
            .expect("path");
        let hops: Vec<u32> = ww.iter().map(|&i| g.edges[i as usize].to).collect();
        assert_eq!(hops, vec![1, 2, 3]);
        assert!(bfs
            .path(&g, 0, 3, |e| e.rel == Rel::Ww, |x| x != 2, u64::MAX)
            .is_none());
        assert!(
            bfs.path(&g, 0, 3, |e| e.rel == Rel::Ww, |_| true, 1)
                .is_none(),
            "budget"
        );
    }
}
