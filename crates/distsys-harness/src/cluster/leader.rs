//! Who leads: every node's admin port answers `GET /status` with its role and term.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The node that reports itself leader with the highest term, by index into `admins` (the
/// nodes' admin addresses), with that term; `None` if no node answers as leader within 300 ms.
pub fn leader(admins: &[SocketAddr]) -> Option<(usize, u64)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(300)))
        .build()
        .into();
    admins
        .iter()
        .enumerate()
        .filter_map(|(i, admin)| {
            let text = agent
                .get(&format!("http://{admin}/status"))
                .call()
                .ok()?
                .body_mut()
                .read_to_string()
                .ok()?;
            let status: serde_json::Value = serde_json::from_str(&text).ok()?;
            (status["role"] == "leader").then(|| (i, status["term"].as_u64().unwrap_or(0)))
        })
        .max_by_key(|(_, term)| *term)
}

/// Polls every 20 ms until some node leads: its index and how long it took; `None` if none
/// did within `within`.
pub fn wait_for_leader(admins: &[SocketAddr], within: Duration) -> Option<(usize, Duration)> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some((i, _)) = leader(admins) {
            return Some((i, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
