//! Where a local cluster's nodes live: ports on loopback from a base port, one directory per
//! node, a fresh random cluster key shared by all.

use distsys_node::{Member, NodeConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The heartbeat interval of the generated configurations, ms.
pub const HEARTBEAT_MS: u64 = 50;
/// The election timeout range of the generated configurations, ms.
pub const ELECTION_TIMEOUT_MS: (u64, u64) = (300, 600);

/// The configurations of a `nodes`-node cluster on loopback under `dir`, each with its node's
/// directory (`dir/n<i>`). Node i (from 1) serves clients on `base_port + i`, peers on
/// `base_port + 100 + i` and its admin port on `base_port + 200 + i`; all share one random
/// cluster key and `password`. Heartbeat 50 ms, election timeout 300-600 ms.
pub fn layout(
    nodes: usize,
    dir: &Path,
    base_port: u16,
    password: Option<String>,
) -> Vec<(PathBuf, NodeConfig)> {
    let key: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let members: BTreeMap<u64, Member> = (1..=nodes as u16)
        .map(|i| {
            (
                u64::from(i),
                Member {
                    peer: addr(base_port + 100 + i),
                    client: addr(base_port + i),
                },
            )
        })
        .collect();
    (1..=nodes as u16)
        .map(|i| {
            let node_dir = dir.join(format!("n{i}"));
            let config = NodeConfig {
                id: u64::from(i),
                members: members.clone(),
                admin: addr(base_port + 200 + i),
                data_dir: node_dir.join("data"),
                cluster_key: key.clone(),
                password: password.clone(),
                heartbeat_ms: HEARTBEAT_MS,
                election_timeout_ms: ELECTION_TIMEOUT_MS,
                unsafe_stale_reads: false,
                peer_routes: BTreeMap::new(),
                protocol: "raft".into(),
                mutant: None,
                byzantine: None,
                client_idle_timeout_s: 300,
                pipelined_writes: true,
            };
            (node_dir, config)
        })
        .collect()
}

/// Writes a node's configuration as `config.yaml` into its directory (created if needed);
/// returns the file.
pub fn write_config(node_dir: &Path, config: &NodeConfig) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(node_dir)?;
    let path = node_dir.join("config.yaml");
    let text = serde_norway::to_string(config).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_distinct_ports_a_shared_key_and_a_config_that_loads_back() {
        let dir = std::env::temp_dir().join(format!("distsys-layout-{}", std::process::id()));
        let nodes = layout(3, &dir, 30_000, Some("pw".into()));
        assert_eq!(nodes.len(), 3);
        let (node_dir, config) = &nodes[1];
        assert_eq!(node_dir, &dir.join("n2"));
        assert_eq!(
            config.me().client,
            SocketAddr::from(([127, 0, 0, 1], 30_002))
        );
        assert_eq!(config.me().peer, SocketAddr::from(([127, 0, 0, 1], 30_102)));
        assert_eq!(config.admin, SocketAddr::from(([127, 0, 0, 1], 30_202)));
        assert!(nodes
            .iter()
            .all(|(_, c)| c.cluster_key == config.cluster_key));
        let path = write_config(node_dir, config).expect("written");
        let loaded = NodeConfig::load(&path).expect("loads back");
        assert_eq!(loaded.id, 2);
        assert_eq!(loaded.password.as_deref(), Some("pw"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
