//! A 3-member etcd cluster on loopback (clients on 23791-23793, peers on 23801-23803), and one
//! operation through its v3 JSON gateway.

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
