//! Directory partitioning: an explicit, replicated map from key range to partition and node;
//! clients cache it and follow redirects when their copy is stale (like Redis Cluster's MOVED).
//!
//! The directory is a deterministic state machine ([`DirectoryState::apply`]) so it can be
//! replicated by any consensus log; here it sits behind the [`Directory`] trait, and a client
//! never trusts its cache for correctness: the node that receives a request checks ownership.

use super::{up_to, NodeId};
use std::collections::BTreeMap;

/// One directory entry: the range `[start, end)` is partition `partition`, served by `node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// First key.
    pub start: Vec<u8>,
    /// First key after it (`None`: the end of the key space).
    pub end: Option<Vec<u8>>,
    /// Partition id.
    pub partition: u64,
    /// Serving node.
    pub node: NodeId,
    /// Directory version that last changed this entry.
    pub version: u64,
}

/// A change to the directory, applied in log order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// Split the partition holding `at` so a new partition starts at `at` (same node).
    Split { at: Vec<u8> },
    /// Move a partition to another node.
    Move { partition: u64, to: NodeId },
}

impl Command {
    /// Bytes for a replicated log entry.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The command in a log entry, if it is one (other entries, such as no-ops, are `None`).
    pub fn decode(bytes: &[u8]) -> Option<Command> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    /// No partition has that id.
    UnknownPartition(u64),
    /// A partition already starts there.
    AlreadyStartsThere,
}

/// Where keys live: the interface clients and nodes consult.
pub trait Directory {
    /// The entry covering `key`, as of the latest applied version.
    fn lookup(&self, key: &[u8]) -> Placement;
    /// The latest applied version.
    fn version(&self) -> u64;
}

/// The directory as a deterministic state machine: same commands, same state, on every replica.
#[derive(Debug, Clone)]
pub struct DirectoryState {
    entries: BTreeMap<Vec<u8>, Placement>,
    version: u64,
    next_partition: u64,
}

impl DirectoryState {
    /// One partition covering every key, on `node`.
    pub fn new(node: NodeId) -> DirectoryState {
        let whole = Placement {
            start: Vec::new(),
            end: None,
            partition: 1,
            node,
            version: 0,
        };
        DirectoryState {
            entries: BTreeMap::from([(Vec::new(), whole)]),
            version: 0,
            next_partition: 2,
        }
    }

    /// Applies one command; the version advances on success.
    pub fn apply(&mut self, command: &Command) -> Result<u64, DirectoryError> {
        match command {
            Command::Split { at } => {
                if self.entries.contains_key(at) {
                    return Err(DirectoryError::AlreadyStartsThere);
                }
                let version = self.version + 1;
                let left = self
                    .entries
                    .range_mut::<[u8], _>(up_to(at))
                    .next_back()
                    .map(|(_, p)| p)
                    .expect("entries cover the key space");
                let right = Placement {
                    start: at.clone(),
                    end: left.end.replace(at.clone()),
                    partition: self.next_partition,
                    node: left.node,
                    version,
                };
                left.version = version;
                self.next_partition += 1;
                self.entries.insert(at.clone(), right);
                self.version = version;
            }
            Command::Move { partition, to } => {
                let entry = self
                    .entries
                    .values_mut()
                    .find(|p| p.partition == *partition)
                    .ok_or(DirectoryError::UnknownPartition(*partition))?;
                self.version += 1;
                entry.node = *to;
                entry.version = self.version;
            }
        }
        Ok(self.version)
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> impl Iterator<Item = &Placement> {
        self.entries.values()
    }
}

impl Directory for DirectoryState {
    fn lookup(&self, key: &[u8]) -> Placement {
        self.entries
            .range::<[u8], _>(up_to(key))
            .next_back()
            .map(|(_, p)| p.clone())
            .expect("entries cover the key space")
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// A node's answer to a request for `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This node owns the key: served.
    Served,
    /// Not here: the partition now lives on `node`.
    Moved { node: NodeId },
}

/// A storage node's ownership check against the directory it has applied.
pub fn serve(node: NodeId, key: &[u8], directory: &dyn Directory) -> Reply {
    let owner = directory.lookup(key).node;
    if owner == node {
        Reply::Served
    } else {
        Reply::Moved { node: owner }
    }
}

/// A client with a cached copy of the directory. The cache is only a hint: the node that
/// receives the request checks ownership, and a redirect refreshes the stale entry.
#[derive(Debug, Clone, Default)]
pub struct CachingClient {
    cache: BTreeMap<Vec<u8>, Placement>,
    /// Redirects followed so far.
    pub redirects: u64,
    /// Directory lookups made so far (cache misses and refreshes).
    pub lookups: u64,
}

impl CachingClient {
    /// Sends a request for `key` and returns the node that served it. `send(node)` delivers the
    /// request to a node and returns its reply.
    pub fn request(
        &mut self,
        key: &[u8],
        directory: &dyn Directory,
        mut send: impl FnMut(NodeId) -> Reply,
    ) -> NodeId {
        let mut node = match self.cached(key) {
            Some(p) => p.node,
            None => self.refresh(key, directory).node,
        };
        // Each redirect refreshes from the directory; bounded so a broken cluster cannot spin.
        for _ in 0..8 {
            match send(node) {
                Reply::Served => return node,
                Reply::Moved { node: hint } => {
                    self.redirects += 1;
                    let fresh = self.refresh(key, directory);
                    node = if fresh.node == node { hint } else { fresh.node };
                }
            }
        }
        node
    }

    fn cached(&self, key: &[u8]) -> Option<&Placement> {
        self.cache
            .range::<[u8], _>(up_to(key))
            .next_back()
            .map(|(_, p)| p)
            .filter(|p| p.end.as_ref().is_none_or(|end| key < end.as_slice()))
    }

    fn refresh(&mut self, key: &[u8], directory: &dyn Directory) -> Placement {
        self.lookups += 1;
        let fresh = directory.lookup(key);
        // Drop cached entries the fresh one overlaps, then remember it.
        let overlapping: Vec<Vec<u8>> = self
            .cache
            .iter()
            .filter(|(_, p)| {
                let starts_before_end = fresh.end.as_ref().is_none_or(|e| p.start < *e);
                let ends_after_start = p.end.as_ref().is_none_or(|e| *e > fresh.start);
                starts_before_end && ends_after_start
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in overlapping {
            self.cache.remove(&k);
        }
        self.cache.insert(fresh.start.clone(), fresh.clone());
        fresh
    }
}
