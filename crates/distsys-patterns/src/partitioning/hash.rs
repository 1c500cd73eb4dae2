//! The stable hashes every scheme uses.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// XXH3-64 of a key (stable across runs, platforms and versions).
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// XXH3-64 of a node's `i`-th point (virtual node, table seed...), as little-endian bytes.
pub(crate) fn node_hash(node: u64, i: u64, seed: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&node.to_le_bytes());
    bytes[8..].copy_from_slice(&i.to_le_bytes());
    xxh3_64_with_seed(&bytes, seed)
}

/// A fast 64-bit mixer (the SplitMix64 finaliser): combines an already hashed key with a node.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
