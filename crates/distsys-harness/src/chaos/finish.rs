//! The end of a chaos run: every node killed at once and restarted (what was acknowledged
//! must survive), a final read of every key, the whole history checked for
//! linearizability, and the nodes' logs checked for replicas that applied different states at
//! the same index (agreement, which a client history alone can miss).

use super::recorder::Recorder;
use super::step::Step;
use super::workload::{perform, read_value, KEYS};
use super::{Campaign, CheckFailure};
use crate::client::Connections;
use crate::cluster::wait_for_leader;
use distsys_check::diagnose;
use distsys_check::history::{history_of, Completion, Event, OpKind};
use distsys_check::{check, CheckOptions, ModelKind, Verdict};
use distsys_node::resp::Reply;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Kills and restarts every node, one after the other; returns the leader elected after it
/// (its index), if one was within 15 s.
pub fn full_restart(campaign: &mut Campaign<'_>) -> Option<usize> {
    campaign.say(Step::FullRestart);
    for i in 0..campaign.nodes.len() {
        if let Err(e) = campaign.nodes.restart(i) {
            campaign.say(Step::CannotRestart {
                node: i + 1,
                error: e.to_string(),
            });
        }
    }
    let recovered = wait_for_leader(&campaign.admins, Duration::from_secs(15));
    campaign.say(match recovered {
        Some((i, after)) => Step::Recovered { node: i + 1, after },
        None => Step::NotRecovered,
    });
    recovered.map(|(i, _)| i)
}

/// Reads every key as a fresh process `reader` (up to 5 attempts each, starting at `guess`),
/// recording the reads like any other operation; returns how many keys were read.
pub fn final_reads(
    campaign: &Campaign<'_>,
    recorder: &Recorder,
    reader: u64,
    mut guess: usize,
) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(campaign.config.seed ^ 0xF17A1);
    let mut conns = Connections::new(campaign.clients.clone());
    let mut read = 0;
    for k in 0..KEYS {
        let key = format!("k{k}");
        // A few attempts: a loaded machine may still be settling after the restart.
        for _ in 0..5 {
            recorder.record(reader, None, OpKind::Read, &key, Value::Null);
            let get = ["GET", key.as_str()];
            if let Ok(Reply::Bulk(v)) = perform(&mut conns, &mut rng, &mut guess, &get, true) {
                read += 1;
                let value = read_value(v);
                recorder.record(reader, Some(Completion::Ok), OpKind::Read, &key, value);
                break;
            }
            let fail = Some(Completion::Fail);
            recorder.record(reader, fail, OpKind::Read, &key, Value::Null);
        }
    }
    read
}

/// Checks a recorded history against the key-value model, for at most 60 s.
pub fn verdict(events: &[Event]) -> Result<Verdict, CheckFailure> {
    let history = history_of(events).map_err(|e| CheckFailure::Malformed(e.to_string()))?;
    let mut options = CheckOptions::new(ModelKind::Kv);
    options.timeout = Some(Duration::from_secs(60));
    check(&history, &options)
        .map(|r| r.verdict)
        .map_err(|e| CheckFailure::Check(e.to_string()))
}

/// Reads the `node.log` of the nodes `indexes` (0-based) under `dir` (after the nodes
/// stopped) and returns each replica divergence `distsys diagnose` finds in them: two nodes
/// that logged different chain digests for the same applied index, whatever the protocol.
/// Each entry is the finding's summary followed by its evidence lines.
pub fn divergence(dir: &Path, indexes: &[usize]) -> Vec<String> {
    let logs: Vec<(String, String)> = indexes
        .iter()
        .filter_map(|i| {
            let path = dir.join(format!("n{}", i + 1)).join("node.log");
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path.display().to_string(), text))
        })
        .collect();
    diagnose::divergence(&logs)
        .into_iter()
        .map(|f| {
            let mut text = f.summary;
            for line in f.evidence {
                text.push_str("\n    ");
                text.push_str(&line);
            }
            text
        })
        .collect()
}
