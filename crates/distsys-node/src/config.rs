//! A node's configuration file (YAML or JSON), validated with errors that name the field.

use crate::protocol::ProtocolName;
use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_consensus::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Address its peers connect to.
    pub peer: SocketAddr,
    /// Its RESP (Redis protocol) client address, named in MOVED redirections.
    pub client: SocketAddr,
}

/// A node's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id (a key of `members`).
    pub id: NodeId,
    /// Every member of the cluster, this one included, by id.
    pub members: BTreeMap<NodeId, Member>,
    /// Where the HTTP admin port listens (/metrics, /health, /status).
    pub admin: SocketAddr,
    /// Where this node keeps its data (created if missing).
    pub data_dir: PathBuf,
    /// The cluster key, hex (at least 32 hex digits): peers prove they hold it with an HMAC
    /// handshake; a process without it can neither join nor send messages.
    pub cluster_key: String,
    /// Password clients must give with AUTH (none: no AUTH needed).
    #[serde(default)]
    pub password: Option<String>,
    /// Heartbeat interval, ms.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Randomised election timeout range, ms.
    #[serde(default = "default_election_timeout_ms")]
    pub election_timeout_ms: (u64, u64),
    /// Where to connect to reach a peer, when not at its own `peer` address (a proxy; the
    /// chaos tests route every link through one to cut it).
    #[serde(default)]
    pub peer_routes: BTreeMap<NodeId, SocketAddr>,
    /// A deliberately broken variant for the chaos tests: serve GET from the local state machine
    /// on any node without a ReadIndex round (stale reads). Never set it in production.
    #[serde(default)]
    pub unsafe_stale_reads: bool,
    /// The consensus protocol: `raft` (the default), `multipaxos` or `pbft` (see
    /// [`ProtocolName::parse`]). Every member must run the same one.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// A seeded bug of the protocol to run, by name (its `--list-mutants` name), for the chaos
    /// tests' broken variants. Never set it in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// A deliberately byzantine replica for the chaos tests: what it does to the messages it
    /// sends, by the names `simulate --byzantine-behaviour` takes (`all`, or any of silent,
    /// equivocate, wrong-digest, forge, replay, lie, delay), through the protocol's adversary
    /// (PBFT's: the simulator's). Its own clients are still answered honestly. Never set it in
    /// production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine: Option<String>,
    /// A client connection that sends nothing for this many seconds is closed (0: never).
    #[serde(default = "default_client_idle_timeout_s")]
    pub client_idle_timeout_s: u64,
    /// Raft: write to disk on a storage thread while the protocol goes on (the default): many
    /// rounds share one fsync, and the leader sends its appends while its own write is in
    /// flight, counting itself only once it is durable (etcd-raft's asynchronous storage
    /// writes). `false`, and always for Multi-Paxos and PBFT and for a cluster of one member
    /// (nothing to overlap its fsync with): each round is written on the protocol thread
    /// before anything else happens.
    #[serde(default = "default_pipelined_writes")]
    pub pipelined_writes: bool,
}

fn default_pipelined_writes() -> bool {
    true
}

fn default_client_idle_timeout_s() -> u64 {
    300
}

fn default_protocol() -> String {
    "raft".into()
}

fn default_heartbeat_ms() -> u64 {
    50
}

fn default_election_timeout_ms() -> (u64, u64) {
    (300, 600)
}

/// A configuration that cannot be used, with the field and the rule it breaks.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML/JSON for this shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the field).
        message: String,
    },
    /// A field breaks a rule.
    #[error("{field}: {rule}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The rule.
        rule: String,
    },
}

impl NodeConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config: NodeConfig = if text.trim_start().starts_with('{') {
            serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        } else {
            serde_norway::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, rule: String| Err(ConfigError::Invalid { field, rule });
        if !self.members.contains_key(&self.id) {
            return invalid("id", format!("{} is not a key of members", self.id));
        }
        if self.members.contains_key(&0) {
            return invalid("members", "ids start at 1".into());
        }
        if self.key().is_none() {
            return invalid(
                "cluster_key",
                "must be at least 32 hex digits (16 bytes), e.g. from `openssl rand -hex 32`"
                    .into(),
            );
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms >= self.election_timeout_ms.0 {
            return invalid(
                "heartbeat_ms",
                "must be positive and below the election timeout minimum".into(),
            );
        }
        if self.election_timeout_ms.0 >= self.election_timeout_ms.1 {
            return invalid(
                "election_timeout_ms",
                "must be [min, max] with min < max".into(),
            );
        }
        let Some(protocol) = ProtocolName::parse(&self.protocol) else {
            return invalid(
                "protocol",
                format!("{:?} is not raft, multipaxos or pbft", self.protocol),
            );
        };
        if let Some(mutant) = &self.mutant {
            let names = protocol.mutants();
            if !names.contains(&mutant.as_str()) {
                return invalid(
                    "mutant",
                    format!(
                        "{mutant:?} is not a seeded bug of {} (one of: {})",
                        protocol.name(),
                        names.join(", ")
                    ),
                );
            }
        }
        if let Some(behaviours) = &self.byzantine {
            if protocol != ProtocolName::Pbft {
                return invalid(
                    "byzantine",
                    format!(
                        "{} tolerates crash faults only: a byzantine replica needs protocol pbft",
                        protocol.name()
                    ),
                );
            }
            if let Err(rule) = Behaviour::parse_list(behaviours) {
                return invalid("byzantine", rule);
            }
        }
        Ok(())
    }

    /// The protocol named by `protocol` (Raft if it names none; [`NodeConfig::validate`]
    /// rejects such a configuration).
    pub fn protocol(&self) -> ProtocolName {
        ProtocolName::parse(&self.protocol).unwrap_or(ProtocolName::Raft)
    }

    /// The cluster key's bytes.
    pub fn key(&self) -> Option<Vec<u8>> {
        let hex = self.cluster_key.trim();
        if hex.len() < 32 || !hex.len().is_multiple_of(2) {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    }

    /// This node's own addresses.
    pub fn me(&self) -> &Member {
        &self.members[&self.id]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        let mut members = BTreeMap::new();
        members.insert(
            1,
            Member {
                peer: "127.0.0.1:7101".parse().expect("addr"),
                client: "127.0.0.1:7001".parse().expect("addr"),
            },
        );
        NodeConfig {
            id: 1,
            members,
            admin: "127.0.0.1:7201".parse().expect("addr"),
            data_dir: "/tmp/x".into(),
            cluster_key: "00112233445566778899aabbccddeeff".into(),
            password: None,
            heartbeat_ms: 50,
            election_timeout_ms: (300, 600),
            unsafe_stale_reads: false,
            peer_routes: BTreeMap::new(),
            protocol: "raft".into(),
            mutant: None,
            byzantine: None,
            client_idle_timeout_s: 300,
            pipelined_writes: true,
        }
    }

    #[test]
    fn rules_name_their_field() {
        assert!(config().validate().is_ok());
        let mut c = config();
        c.id = 2;
        assert!(c.validate().unwrap_err().to_string().starts_with("id:"));
        let mut c = config();
        c.cluster_key = "abc".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("cluster_key:"));
        let mut c = config();
        c.heartbeat_ms = 300;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("heartbeat_ms:"));
        let mut c = config();
        c.protocol = "zab".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("protocol:"));
        let mut c = config();
        c.protocol = "pbft".into();
        c.mutant = Some("vote-twice".into());
        assert!(c.validate().unwrap_err().to_string().starts_with("mutant:"));
        c.mutant = Some("skip-digest-check".into());
        assert!(c.validate().is_ok());
        c.byzantine = Some("equivocate, lie".into());
        assert!(c.validate().is_ok());
        c.byzantine = Some("equivocate,teleport".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("byzantine:") && err.contains("teleport"),
            "{err}"
        );
        let mut c = config();
        c.byzantine = Some("all".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("byzantine:") && err.contains("needs protocol pbft"),
            "{err}"
        );
        let bad = serde_norway::from_str::<NodeConfig>("id: 1\nmembers: {}\nadmin: x\n");
        assert!(bad.is_err());
    }
}
