//! A 3-member etcd cluster on loopback (clients on 23791-23793, peers on 23801-23803), its
//! leader, and operations through its v3 JSON gateway: one put or linearizable read, or a
//! transaction of many puts (the preload).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd cluster; its members are killed and its directory removed on drop.
pub struct Etcd {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client URL of member `i` (from 1).
pub fn endpoint(i: usize) -> String {
    format!("http://127.0.0.1:2379{i}")
}

fn wait_http(url: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if ureq::get(url).call().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Starts member `i` (from 1) of the cluster, logging to `dir/n<i>.log`.
fn member(dir: &std::path::Path, i: usize) -> Result<Child, String> {
    let cluster = "n1=http://127.0.0.1:23801,n2=http://127.0.0.1:23802,n3=http://127.0.0.1:23803";
    let log = std::fs::File::create(dir.join(format!("n{i}.log"))).map_err(|e| e.to_string())?;
    let peer = format!("http://127.0.0.1:2380{i}");
    Command::new("etcd")
        .args(["--name", &format!("n{i}")])
        .args([
            "--data-dir",
            &dir.join(format!("n{i}.etcd")).display().to_string(),
        ])
        .args(["--listen-client-urls", &endpoint(i)])
        .args(["--advertise-client-urls", &endpoint(i)])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", cluster])
        .args(["--initial-cluster-token", "distsys-bench"])
        .args(["--initial-cluster-state", "new"])
        // Room for a million keys and the revisions a write-heavy run adds (the default
        // 2 GiB quota raises a "database space exceeded" alarm first).
        .args(["--quota-backend-bytes", "8589934592"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run etcd ({e}); install it with scripts/setup.sh etcd"))
}

/// Starts the three members (the `etcd` binary from `PATH`) in a fresh temporary directory and
/// waits up to 20 s each for them to report healthy.
pub fn start() -> Result<Etcd, String> {
    let dir = std::env::temp_dir().join(format!("distsys-bench-etcd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut etcd = Etcd {
        children: Vec::new(),
        dir: dir.clone(),
    };
    for i in 1..=3 {
        etcd.children.push(member(&dir, i)?);
    }
    for i in 1..=3 {
        if !wait_http(&format!("{}/health", endpoint(i)), Duration::from_secs(20)) {
            return Err("etcd did not become healthy within 20 s".into());
        }
    }
    Ok(etcd)
}

/// The member (from 1) that leads, by asking each member's status: the one whose own id is the
/// leader id it reports. `None` if no member answers so.
pub fn leader(agent: &ureq::Agent) -> Option<usize> {
    (1..=3).find(|&i| {
        let status = agent
            .post(&format!("{}/v3/maintenance/status", endpoint(i)))
            .send("{}")
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        status.is_some_and(|s| {
            let me = s["header"]["member_id"].as_str();
            me.is_some() && me == s["leader"].as_str()
        })
    })
}

/// Waits up to `within` for a member to lead.
pub fn wait_for_leader(agent: &ureq::Agent, within: Duration) -> Option<usize> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(i) = leader(agent) {
            return Some(i);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Puts keys `lo..hi` (named by [`super::load::key`]) with `value` in one transaction at
/// member `endpoint`; true if etcd answered and its whole answer was read.
pub fn put_batch(agent: &ureq::Agent, endpoint: &str, lo: u64, hi: u64, value: &str) -> bool {
    let value = b64(value);
    let puts: Vec<String> = (lo..hi)
        .map(|i| {
            format!(
                "{{\"requestPut\":{{\"key\":\"{}\",\"value\":\"{value}\"}}}}",
                b64(&super::load::key(i))
            )
        })
        .collect();
    agent
        .post(&format!("{endpoint}/v3/kv/txn"))
        .send(format!("{{\"success\":[{}]}}", puts.join(",")))
        .is_ok_and(|mut r| {
            r.body_mut()
                .read_to_string()
                .is_ok_and(|body| body.contains("\"succeeded\":true"))
        })
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One put (`write`) or linearizable range read of `key` at member `endpoint`; true if etcd
/// answered and its whole answer was read.
pub fn request(agent: &ureq::Agent, endpoint: &str, write: bool, key: &str, value: &str) -> bool {
    let result = if write {
        agent.post(&format!("{endpoint}/v3/kv/put")).send(format!(
            "{{\"key\":\"{}\",\"value\":\"{}\"}}",
            b64(key),
            b64(value)
        ))
    } else {
        agent
            .post(&format!("{endpoint}/v3/kv/range"))
            .send(format!("{{\"key\":\"{}\"}}", b64(key)))
    };
    result.is_ok_and(|mut r| r.body_mut().read_to_string().is_ok())
}
