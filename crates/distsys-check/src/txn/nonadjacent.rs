//! Breadth-first search over (node, whether the last edge taken was rw) states: the paths it
//! finds never take two rw edges in a row, start after an rw edge and end with a non-rw
//! edge, so closing them with that rw edge gives a cycle whose rw edges are nonadjacent.

use super::graph::{Graph, Rel, RelMask};

/// Reusable search state over `2 n` states.
pub struct StateBfs {
    stamp: Vec<u32>,
    parent: Vec<(u32, u32)>,
    now: u32,
    queue: Vec<u32>,
}

impl StateBfs {
    /// State for a graph of `n` nodes.
    pub fn new(n: usize) -> StateBfs {
        StateBfs {
            stamp: vec![0; 2 * n],
            parent: vec![(u32::MAX, u32::MAX); 2 * n],
            now: 0,
            queue: Vec::new(),
        }
    }

    /// The shortest path from `start` (entered by an rw edge) to `goal` (entered by a non-rw
    /// edge) over relations in `mask` and nodes satisfying `inside`, with no two consecutive
    /// rw edges; as edge indices, with the number of states visited.
    pub fn path(
        &mut self,
        graph: &Graph,
        start: u32,
        goal: u32,
        mask: RelMask,
        inside: impl Fn(u32) -> bool,
        budget: u64,
    ) -> (Option<Vec<u32>>, u64) {
        self.now += 1;
        let now = self.now;
        self.queue.clear();
        let first = 2 * start + 1;
        self.stamp[first as usize] = now;
        self.queue.push(first);
        let mut head = 0;
        let mut visited = 0u64;
        while head < self.queue.len() && visited < budget {
            let s = self.queue[head];
            head += 1;
            visited += 1;
            let (u, last_rw) = (s / 2, s % 2 == 1);
            for (i, e) in graph.out(u) {
                let rw = e.rel == Rel::Rw;
                if e.rel.bit() & mask == 0 || (rw && last_rw) || !inside(e.to) {
                    continue;
                }
                let next = 2 * e.to + rw as u32;
                if self.stamp[next as usize] == now {
                    continue;
                }
                self.stamp[next as usize] = now;
                self.parent[next as usize] = (s, i);
                if e.to == goal && !rw {
                    return (Some(self.trace(first, next)), visited);
                }
                self.queue.push(next);
            }
        }
        (None, visited)
    }

    fn trace(&self, first: u32, mut at: u32) -> Vec<u32> {
        let mut path = Vec::new();
        while at != first {
            let (prev, edge) = self.parent[at as usize];
            path.push(edge);
            at = prev;
        }
        path.reverse();
        path
    }
}
