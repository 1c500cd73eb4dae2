//! One Redis server on loopback as the single-node peer: append-only file on, fsynced before
//! every reply (`appendfsync always`), RDB snapshots off, the way a store that must not lose
//! an acknowledged write is configured. And `redis-benchmark`'s summary against any server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server; killed and its directory removed on drop.
pub struct Redis {
    child: Child,
    dir: PathBuf,
    /// Where it serves.
    pub addr: SocketAddr,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `redis-server` (from `PATH`) on `port` in a fresh temporary directory and waits up
/// to 10 s for it to answer PING.
pub fn start(port: u16) -> Result<Redis, String> {
    let dir = std::env::temp_dir().join(format!("distsys-bench-redis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("redis.log")).map_err(|e| e.to_string())?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.display().to_string()])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| {
            format!("cannot run redis-server ({e}); install it with scripts/setup.sh redis")
        })?;
    let redis = Redis {
        child,
        dir,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let start = Instant::now();
    let mut conn = crate::client::Connections::new(vec![redis.addr]);
    while start.elapsed() < Duration::from_secs(10) {
        if conn.call(0, &["PING"]).is_ok() {
            return Ok(redis);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("redis-server did not answer PING within 10 s".into())
}

/// `redis-benchmark -t set -c 50 -n REQUESTS -d VALUE_SIZE -P PIPELINE` against `addr`: SETs
/// per second, or why it could not run.
pub fn benchmark(
    addr: SocketAddr,
    requests: u64,
    value_size: usize,
    pipeline: usize,
) -> Result<f64, String> {
    let out = Command::new("redis-benchmark")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-t", "set", "-c", "50", "-q"])
        .args(["-n", &requests.to_string()])
        .args(["-d", &value_size.to_string()])
        .args(["-P", &pipeline.to_string()])
        .output()
        .map_err(|e| {
            format!("cannot run redis-benchmark ({e}); install it with scripts/setup.sh redis")
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET: 12345.68 requests per second, p50=..." (progress lines end in \r).
    text.split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .next_back()
        .ok_or_else(|| format!("redis-benchmark printed no rate: {}", text.trim()))
}
