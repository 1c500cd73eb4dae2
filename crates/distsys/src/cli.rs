//! Argument definitions (clap). The names here are stable: scripts depend on them.

use clap::builder::RangedU64ValueParser as Ranged;
use clap::{Parser, Subcommand, ValueEnum};

/// distsys: distributed-systems design with correctness you can check. Advise a design
/// (advise, validate, schema), check histories (check-history, generate-history), simulate
/// protocols under faults (simulate, sweep, merge-reports), run and break a real cluster
/// (serve, cluster, chaos), diagnose logs and metrics (diagnose), measure (bench).
#[derive(Debug, Parser)]
#[command(name = "distsys", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one node of a replicated key-value cluster (Raft, Multi-Paxos or PBFT; redb, RESP
    /// client port, HTTP admin).
    Serve {
        /// The node's configuration (YAML or JSON).
        #[arg(long)]
        config: String,
        /// The consensus protocol (raft, multipaxos, pbft); overrides the configuration's
        /// `protocol` (default raft). Every member must run the same one.
        #[arg(long, value_parser = parse_node_protocol)]
        protocol: Option<distsys_node::ProtocolName>,
        /// Run a seeded bug of the protocol (a broken variant, for chaos tests).
        #[arg(long, hide = true)]
        mutant: Option<String>,
    },
    /// Start or stop a local cluster on loopback (each node its own process and data dir).
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Jepsen-style test on real processes: a local cluster, concurrent clients recording a
    /// history, kill -9 / pause / restart faults (often on the leader), then the history is
    /// checked for linearizability (exit 1 on a violation).
    Chaos(ChaosArgs),
    /// Recommend a protocol, its configuration and its failure scenarios for a distributed_context.
    Advise {
        /// Context file (JSON or YAML), or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        format: OutputFormat,
        /// Also run the simulations behind the answer at the advised group's size (at most 51
        /// nodes) and the context's latency, and quote what they measured (dev build: under a
        /// second for most examples, about 20 s of wall time for a byzantine PBFT group, whose
        /// every adversary behaviour gets 20 runs of its own).
        #[arg(long)]
        evidence: bool,
    },
    /// Check a distributed_context and report every problem in it (exit 2 if any).
    Validate {
        /// Context file (JSON or YAML), or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Print the JSON Schema of the input or of the advisor's output.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Check a history for linearizability (exit 0 linearizable, 1 violation, 2 bad input, 3 unknown).
    CheckHistory {
        /// History files (JSON Lines, Jepsen etcd log or Jepsen kv maps), or `-` for standard
        /// input; several are checked in one process, a verdict line each, exit code the worst.
        #[arg(required = true, num_args = 1..)]
        files: Vec<String>,
        /// Input format (default: detected from the first line).
        #[arg(long, default_value = "auto")]
        format: String,
        /// Model: register, cas-register, kv, set (default: cas-register for Jepsen etcd logs, set
        /// when the history has `add` operations, kv otherwise).
        #[arg(long, default_value = "auto")]
        model: String,
        /// Give up after this many seconds with the verdict `unknown` (exit 3).
        #[arg(long)]
        timeout: Option<f64>,
        /// Write a self-contained HTML timeline of the history and the verdict to this file.
        #[arg(long)]
        report: Option<String>,
        /// Output format of the verdict.
        #[arg(long, value_enum, default_value_t = VerdictFormat::Text)]
        output: VerdictFormat,
        /// Seconds allowed for shrinking a violation to its core, after the verdict (default:
        /// 10 times the verdict's time, at least 0.1 s, at most 10 s).
        #[arg(long)]
        explain_budget: Option<f64>,
        /// Verdict only: do not shrink a violation to its core.
        #[arg(long)]
        no_explain: bool,
        /// Memory one key's search may use, in MiB, before the verdict `unknown` (exit 3)
        /// (default: 4 KiB per operation of the key, at least 64 MiB).
        #[arg(long)]
        max_memory_mb: Option<usize>,
    },
    /// Check a transactional history for isolation anomalies, Elle's way (list-append or
    /// rw-register; Jepsen EDN, elle-cli JSON or JSON Lines). Exit 0: no anomaly the
    /// consistency model forbids, 1: some, 2: bad input, 3: undecided (search budget).
    CheckTxn(CheckTxnArgs),
    /// Write a generated history of a hard family with a verdict known by construction (the
    /// verdict goes to stderr): 1..64 clients, any size, unknown outcomes, planted violations.
    GenerateHistory(GenerateArgs),
    /// Run the deterministic simulator: one seed, or a campaign of many in parallel.
    Simulate(Box<SimulateArgs>),
    /// Sweep cluster sizes: every protocol at every size up to --max-nodes with every fault
    /// count it tolerates (PBFT: 0..=f byzantine replicas), a campaign of every fault per cell;
    /// plus one fault beyond tolerance per size, which must be caught (exit 1 otherwise).
    Sweep(SweepArgs),
    /// Merge the `--report-json` files of a sharded campaign (`simulate --shard I/N`) and print
    /// the summary one unsharded run prints (exit 1 if a run failed, 2 if the shards do not
    /// cover the campaign's seeds exactly once).
    MergeReports {
        /// The shards' report files, in any order.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Find problems in logs, a metrics snapshot and a history: split-brain, leader flapping,
    /// stale reads, stuck operations, data divergence, unhealed partitions, growing lag. Exit
    /// 0: no findings, 1: findings, 2: bad input.
    Diagnose {
        /// JSON log files in the project's log schema (malformed lines are skipped and listed).
        #[arg(long, num_args = 1..)]
        logs: Vec<String>,
        /// A Prometheus text snapshot: a file, or an http(s) URL such as a node's /metrics.
        #[arg(long)]
        metrics: Option<String>,
        /// A history (any format check-history reads).
        #[arg(long)]
        history: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = VerdictFormat::Text)]
        format: VerdictFormat,
    },
    /// Exhaustive bounded model checking of a protocol core (breadth first: the first violation
    /// is a shortest counterexample). Exit 0: no violation within the bounds, 1: violation, 2:
    /// bad input, 3: memory budget exhausted (unknown).
    ModelCheck(ModelCheckArgs),
    /// Run a benchmark and print its figures.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
    },
}

/// `distsys check-txn` flags.
#[derive(Debug, clap::Args)]
pub struct CheckTxnArgs {
    /// History files, or `-` for standard input; a verdict each, exit code the worst.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<String>,
    /// Data model: list-append or rw-register (default: from the micro-operations).
    #[arg(long, default_value = "auto")]
    pub model: String,
    /// Consistency model: read-committed, snapshot-isolation,
    /// strong-session-snapshot-isolation, strong-snapshot-isolation, serializable,
    /// strong-session-serializable, strict-serializable.
    #[arg(long, default_value = "serializable")]
    pub consistency: String,
    /// Input format: auto, edn, json, jsonl.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Anomalies explained per class (the count is always given).
    #[arg(long, default_value_t = 3)]
    pub explain: usize,
    /// Cycle-search budget in visited nodes; past it a class is undecided (exit 3).
    #[arg(long, default_value_t = distsys_check::txn::DEFAULT_BUDGET)]
    pub budget: u64,
    /// Write a self-contained HTML explanation to this file (one history only).
    #[arg(long)]
    pub report: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerdictFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Write configurations and start the nodes in the background.
    Up {
        /// Nodes.
        #[arg(long, default_value_t = 3, value_parser = Ranged::<usize>::new().range(1..=99))]
        nodes: usize,
        /// Where configurations, data and logs go.
        #[arg(long, default_value = "distsys-cluster")]
        dir: String,
        /// Node i (from 1) serves clients on BASE+i, peers on BASE+100+i, admin on BASE+200+i.
        #[arg(long, default_value_t = 7000, value_parser = Ranged::<u16>::new().range(1..=65235))]
        base_port: u16,
        /// Password clients must AUTH with.
        #[arg(long)]
        password: Option<String>,
        /// The consensus protocol every node runs: raft, multipaxos or pbft.
        #[arg(long, default_value = "raft", value_parser = parse_node_protocol)]
        protocol: distsys_node::ProtocolName,
    },
    /// Stop the nodes started by `up` (SIGTERM, then SIGKILL after 5 s).
    Down {
        /// The directory given to `up`.
        #[arg(long, default_value = "distsys-cluster")]
        dir: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Nodes.
    #[arg(long, default_value_t = 5, value_parser = Ranged::<usize>::new().range(1..=99))]
    pub nodes: usize,
    /// How long faults are injected (then everything heals and is checked).
    #[arg(long, default_value = "30s")]
    pub duration: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5, value_parser = Ranged::<usize>::new().range(1..=1000))]
    pub clients: usize,
    /// Seed of the fault schedule and the workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First port (clients BASE+i, peers BASE+100+i, admin BASE+200+i).
    #[arg(long, default_value_t = 17000, value_parser = Ranged::<u16>::new().range(1..=65235))]
    pub base_port: u16,
    /// Run the deliberately broken node: GET answered from any node's local state (stale reads).
    #[arg(long)]
    pub unsafe_stale_reads: bool,
    /// The consensus protocol every node runs: raft, multipaxos or pbft.
    #[arg(long, default_value = "raft", value_parser = parse_node_protocol)]
    pub protocol: distsys_node::ProtocolName,
    /// Run every node with this seeded bug of the protocol (its broken variant; the names
    /// `simulate --list-mutants` prints): the verdict must catch it.
    #[arg(long)]
    pub mutant: Option<String>,
    /// Keep the cluster's directory (configurations, data, logs) and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// Write the recorded history here (JSON lines).
    #[arg(long)]
    pub history: Option<String>,
    /// Faults, in the simulator's vocabulary: all (every class below), none, or a list of
    /// drop,duplicate,reorder (on every peer message, at the simulator's rates) and
    /// partition,crash,pause (episodes of the schedule). Clock and membership faults are the
    /// simulator's only.
    #[arg(long, default_value = "partition,crash,pause")]
    pub faults: String,
    /// Which episodes the schedule draws: all (every one --faults allows), or a list of
    /// partition (the simulator's random shapes), ring (Jepsen's majorities ring), crash,
    /// pause, lagging-failover (needs crash) and minority-leader (needs pause): the leader cut
    /// off in a minority whose other members are stopped and continued in turns.
    #[arg(long, default_value = "all")]
    pub episodes: String,
    /// PBFT: byzantine replicas (nodes 1..=N, at most f = (nodes-1)/3), each running the
    /// simulator's adversary over what it sends; clients talk to the honest nodes only.
    #[arg(long, default_value_t = 0)]
    pub byzantine: usize,
    /// PBFT: what the byzantine replicas do: all, or a list of silent, equivocate,
    /// wrong-digest, forge, replay, lie, delay.
    #[arg(long, default_value = "all")]
    pub byzantine_behaviour: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Input,
    Output,
}

#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// Advise latency over every built-in example and a spread of generated contexts.
    Advise {
        /// Answers to time per context (160 contexts: the default takes a few seconds).
        #[arg(long, default_value_t = 200, value_parser = Ranged::<u32>::new().range(1..=1_000_000))]
        iterations: u32,
    },
    /// Simulator speed: events per second on one core, and wall time per simulated second for
    /// 3, 5, 7, 51 and 1000-node clusters.
    Sim {
        /// Simulated seconds per cluster size.
        #[arg(long, default_value_t = 5, value_parser = Ranged::<u64>::new().range(1..=3600))]
        seconds: u64,
        /// Largest cluster to time.
        #[arg(long, default_value_t = 1000, value_parser = Ranged::<usize>::new().range(1..=1000))]
        max_nodes: usize,
    },
    /// Placement schemes (ring, bounded-load, rendezvous, jump, Maglev, and the `hashring`
    /// crate) by cluster size: lookup time, balance, keys moved, memory; then range
    /// partitioning under a Zipf workload.
    Partition {
        /// Keys placed.
        #[arg(long, default_value_t = 1_000_000, value_parser = Ranged::<usize>::new().range(1..=100_000_000))]
        keys: usize,
        /// Cluster sizes (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "10,100,1000", value_parser = Ranged::<usize>::new().range(1..=10_000))]
        nodes: Vec<usize>,
    },
    /// Side by side, one load generator, every system fsyncing: 3 nodes against etcd 3.4's 3
    /// members (both driven at their leaders), then 1 node against Redis 7 with appendfsync
    /// always, plus redis-benchmark SET at -P 1 and -P 16 against both. Each key count is
    /// preloaded first; cells alternate between the systems; ops/s, p50/p99 and ratios per
    /// cell, write-only and 50% writes, at each client count, value size and key count.
    Cluster {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5, value_parser = Ranged::<u64>::new().range(1..=3600))]
        seconds: u64,
        /// Client counts (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,16,64", value_parser = Ranged::<usize>::new().range(1..=1024))]
        clients: Vec<usize>,
        /// Value sizes in bytes (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "100,4096", value_parser = Ranged::<usize>::new().range(0..=1_048_576))]
        values: Vec<usize>,
        /// Key counts (comma-separated), each preloaded before its cells.
        #[arg(long, value_delimiter = ',', default_value = "1000,1000000", value_parser = Ranged::<u64>::new().range(1..=100_000_000))]
        keys: Vec<u64>,
        /// Skip the combinations of keys and value size holding more data than this (MiB).
        #[arg(long, default_value_t = 1024, value_parser = Ranged::<u64>::new().range(1..=1_048_576))]
        max_data_mb: u64,
        /// First port for this project's nodes (the single node at +300, Redis at +400; etcd
        /// uses 23791-23803).
        #[arg(long, default_value_t = 19000, value_parser = Ranged::<u16>::new().range(1..=64000))]
        base_port: u16,
        /// Run this project's nodes with `pipelined_writes: false` (each round written on the
        /// protocol thread before anything else), to compare with the default storage thread.
        #[arg(long)]
        no_pipelined_writes: bool,
    },
    /// Raft, Multi-Paxos and PBFT in the simulator at 3/4, 5, 7 and 10 nodes and 1 and 50 ms
    /// latency: messages per committed operation, commit latency, throughput.
    Protocols {
        /// Simulated seconds per run.
        #[arg(long, default_value_t = 10, value_parser = Ranged::<u64>::new().range(1..=3600))]
        seconds: u64,
    },
    /// Transactions over 4 Raft groups in the simulator, classic 2PC against parallel commits
    /// at 1 and 50 ms one-way latency, Zipf(0.99) keys, no faults: commit latency in virtual ms
    /// and consensus rounds, throughput, aborts.
    TxnProtocols {
        /// Virtual seconds of client activity per run.
        #[arg(long, default_value_t = 5, value_parser = Ranged::<u64>::new().range(1..=3600))]
        seconds: u64,
        /// Seeds per cell.
        #[arg(long, default_value_t = 3, value_parser = Ranged::<u64>::new().range(1..=1000))]
        seeds: u64,
    },
    /// Raft core throughput in-process without I/O (committed entries/s), against TiKV's
    /// raft-rs in the same harness when built with `--features raft-rs`.
    Raft {
        /// Cluster size.
        #[arg(long, default_value_t = 3, value_parser = Ranged::<usize>::new().range(1..=51))]
        nodes: usize,
        /// Entries to commit per batch size.
        #[arg(long, default_value_t = 200_000, value_parser = Ranged::<u64>::new().range(1..=100_000_000))]
        entries: u64,
        /// Proposals per batch (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256", value_parser = Ranged::<usize>::new().range(1..=65536))]
        batches: Vec<usize>,
        /// Payload bytes per entry.
        #[arg(long, default_value_t = 128, value_parser = Ranged::<usize>::new().range(0..=1_048_576))]
        payload: usize,
    },
    /// Transactional checker speed: generated list-append histories of 10k, 100k, 1M
    /// transactions (up to --max-txns; parse of their JSON Lines, then check) and Elle's
    /// huge-scc history, under serializable and strict-serializable; each measured --runs
    /// times (alternating with adya when built with `--features adya`), medians printed.
    Txn {
        /// Folder holding `elle/elle-huge-scc.edn`.
        #[arg(long, default_value = "testdata/conformance")]
        dir: String,
        /// Largest generated history, in transactions (1M takes about a minute in a dev build).
        #[arg(long, default_value_t = 100_000, value_parser = Ranged::<usize>::new().range(1..=10_000_000))]
        max_txns: usize,
        /// Measurements per history and checker (the median is printed).
        #[arg(long, default_value_t = 5, value_parser = Ranged::<usize>::new().range(1..=1000))]
        runs: usize,
    },
    /// The checker side by side with Porcupine (built from --porcupine with `go`) in the same
    /// run: every conformance history and generated families at 1k/10k/100k operations, with
    /// and without violations, 1/10/50 clients; verdicts, times, ratio, peak RSS.
    Check {
        /// Folder holding the conformance histories (`jepsen-etcd/`, `kv/`, `expected.txt`).
        #[arg(long, default_value = "testdata/conformance")]
        dir: String,
        /// Largest generated history, in operations (1k, 10k, 100k... up to this).
        #[arg(long, default_value_t = 100_000, value_parser = Ranged::<usize>::new().range(1..=10_000_000))]
        max_ops: usize,
        /// Porcupine's Go source (copied to a temporary folder and built there).
        #[arg(long, default_value = "../shared/peers/porcupine")]
        porcupine: String,
        /// Oracle run: this many random tiny histories per model checked against the
        /// brute-force oracle (0: skip).
        #[arg(long, default_value_t = 0)]
        oracle_cases: u64,
        /// Print only the per-family summary (what the README quotes), not a row per history.
        #[arg(long)]
        summary: bool,
    },
}

#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct SimulateArgs {
    /// What to simulate: `consensus` (the --protocol), `replication` (primary-backup in the
    /// --mode, with a primary crash and a partition per run), `leaderless` (Dynamo-style
    /// N/R/W quorums with read repair, hinted handoff and Merkle anti-entropy), `causal`
    /// (causal broadcast checked for causality; last-writer-wins losses on skewed clocks) or
    /// `retry-storm` (load amplification after a failover: no jitter, jitter, jitter + retry
    /// budget) or `txn` (transactions over --groups Raft groups on shared nodes, 2PC or
    /// parallel commits, histories through the isolation checker).
    #[arg(long, default_value = "consensus", value_parser = ["consensus", "replication", "leaderless", "causal", "retry-storm", "txn"])]
    pub model: String,
    /// Replication mode for `--model replication`: sync, semisync (k = 1) or async.
    #[arg(long, default_value = "sync")]
    pub mode: String,
    /// N,R,W for `--model leaderless` (replicas per key, read and write quorums).
    #[arg(long, default_value = "3,2,2")]
    pub quorum: String,
    /// `--model leaderless`: sloppy quorums (hinted replicas on fallback nodes count toward W,
    /// reads go to the first N reachable nodes, as Dynamo and Cassandra's hinted writes).
    #[arg(long)]
    pub sloppy: bool,
    /// Raft groups (shards of the key space) for `--model txn`.
    #[arg(long, default_value_t = 3)]
    pub groups: usize,
    /// Atomic commit for `--model txn`: parallel (parallel commits), 2pc, or both.
    #[arg(long, default_value = "both")]
    pub commit: String,
    /// `--model txn`: each node's clock is off true time by up to this many ms (with
    /// `--faults all`).
    #[arg(long, default_value_t = distsys_sim::txn::DEFAULT_MAX_SKEW_MS, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub max_skew_ms: u64,
    /// `--model txn`: acknowledge a commit only once the coordinator's clock reads past its
    /// timestamp plus this many ms (commit wait; twice --max-skew-ms makes histories strict
    /// serializable). 0: no wait.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=20_000))]
    pub commit_wait_ms: u64,
    /// Backups for `--model replication`.
    #[arg(long, default_value_t = 2)]
    pub backups: usize,
    /// The fault of each `--model replication` run: primary-crash, primary-and-backup-crash
    /// (the primary and the backup with the longest log crash together) or primary-isolated
    /// (the primary is cut off from every backup for 2 s and keeps serving its clients).
    #[arg(long, default_value = "primary-crash")]
    pub scenario: String,
    /// `--model replication` in two zones: the first primary and backup 1 in one, the other
    /// backups this far away (one-way milliseconds). Without it, one zone at --latency-ms.
    #[arg(long)]
    pub far_latency_ms: Option<f64>,
    /// Protocol to simulate (`--model consensus`): raft, multipaxos (also multi-paxos, paxos)
    /// or pbft.
    #[arg(long, default_value = "raft")]
    pub protocol: String,
    /// Cluster size.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// First seed (a single run unless --seeds is given).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of consecutive seeds to run (a campaign, in parallel on every core).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Faults: all, none, or a list of drop,duplicate,reorder,partition,crash,pause,clock,
    /// membership.
    #[arg(long, default_value = "all")]
    pub faults: String,
    /// Virtual duration of each run, in milliseconds (suffixes ms and s accepted).
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// One-way network latency in milliseconds.
    #[arg(long, default_value_t = 1.0)]
    pub latency_ms: f64,
    /// Election timeout range in milliseconds, MIN-MAX.
    #[arg(long, default_value = "150-300")]
    pub election_timeout_ms: String,
    /// Heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Serve leader reads from a lease (clock-drift bound 10%) instead of a ReadIndex round.
    #[arg(long)]
    pub lease: bool,
    /// Disk write latency in milliseconds, MIN-MAX or one value (0: each write durable at
    /// once, before anything is sent). Above 0 writes are pipelined: they complete in order,
    /// a crash loses those in flight, and Raft's leader sends its appends while its own write
    /// is in flight, counting itself only once it is durable.
    #[arg(long, default_value = "0")]
    pub write_delay_ms: String,
    /// With --write-delay-ms: the core waits for each write before sending anything (no
    /// pipelining), the same slow disk for comparison.
    #[arg(long)]
    pub no_pipelining: bool,
    /// Enable a seeded bug (see --list-mutants).
    #[arg(long)]
    pub mutant: Option<String>,
    /// PBFT: byzantine replicas, chosen per seed (default f, the most n = 3f+1 tolerates).
    #[arg(long)]
    pub byzantine: Option<usize>,
    /// PBFT: what byzantine replicas may do: all, or a list of silent, equivocate,
    /// wrong-digest, forge, replay, lie, delay (each replica draws a non-empty subset per seed).
    #[arg(long, default_value = "all")]
    pub byzantine_behaviour: String,
    /// PBFT: allow more byzantine replicas than the configuration tolerates (an experiment
    /// expected to find violations).
    #[arg(long)]
    pub beyond_tolerance: bool,
    /// Write the trace of the (first) run to this file, as JSON lines in the log schema.
    #[arg(long)]
    pub trace: Option<String>,
    /// Write the clients' history of the (first) run to this file (JSON lines, the format
    /// check-history and diagnose read).
    #[arg(long)]
    pub history: Option<String>,
    /// Write the seed's metrics (Prometheus text format) for the whole campaign to this file.
    #[arg(long)]
    pub metrics: Option<String>,
    /// List the seeded bugs and exit.
    #[arg(long)]
    pub list_mutants: bool,
    /// Run only shard I of N of the seed range (I from 0, as Kubernetes' JOB_COMPLETION_INDEX):
    /// a contiguous block; the N shards cover every seed once. Merge with `merge-reports`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Also write the campaign's summary as JSON (what `merge-reports` combines).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<String>,
}

/// `distsys sweep`.
#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    /// Protocols: all, or a list of raft, multipaxos, pbft.
    #[arg(long, default_value = "all")]
    pub protocols: String,
    /// Largest cluster size (from each protocol's minimum: 1, PBFT 4).
    #[arg(long, default_value_t = 13)]
    pub max_nodes: usize,
    /// Seeds per cell (beyond tolerance: the budget to catch it in).
    #[arg(long, default_value_t = 500)]
    pub seeds: u64,
    /// First seed (each cell offsets it by a million times its index).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual duration of each run (ms, or with an s suffix).
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Leave out the beyond-tolerance cells.
    #[arg(long)]
    pub no_beyond: bool,
    /// Run only the cells of shard I of N (cell k belongs to shard k mod N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

/// `distsys generate-history`: a history of a family whose verdict is known by construction.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// register, cas-register, kv-append or kv-put-append (20% puts).
    #[arg(long, default_value = "cas-register")]
    pub family: String,
    /// Operations.
    #[arg(long, default_value_t = 1000)]
    pub ops: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Keys (kv-append, kv-put-append).
    #[arg(long, default_value_t = 10)]
    pub keys: usize,
    /// Share of mutations with unknown outcome (0 to 1).
    #[arg(long, default_value_t = 0.02)]
    pub info: f64,
    /// Planted violation: none, stale-read, lost-write, duplicated-append.
    #[arg(long, default_value = "none")]
    pub violation: String,
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output format: jsonl, jepsen-etcd (registers) or jepsen-kv (default: jepsen-etcd
    /// for registers, jepsen-kv for the kv families).
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<String>,
}

/// `--protocol` of the node commands (serve, cluster up, chaos): the node's own parser for now
/// (`distsys_node::ProtocolName::parse`); the simulator's protocol registry will take over.
fn parse_node_protocol(text: &str) -> Result<distsys_node::ProtocolName, String> {
    distsys_node::ProtocolName::parse(text)
        .ok_or_else(|| format!("{text:?} is not raft, multipaxos or pbft"))
}

/// `distsys model-check`: the real core as the model, every interleaving within the bounds.
#[derive(Debug, clap::Args)]
pub struct ModelCheckArgs {
    /// The protocol (raft, multipaxos, pbft).
    #[arg(long, default_value = "raft")]
    pub protocol: String,
    /// Nodes (1..=7).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Highest term a node may reach.
    #[arg(long, default_value_t = 2)]
    pub max_term: u64,
    /// Longest log a node may hold (leaders' no-ops included).
    #[arg(long, default_value_t = 2)]
    pub max_log: u64,
    /// Crashes over the whole run.
    #[arg(long, default_value_t = 0)]
    pub max_crashes: u32,
    /// Messages in flight at once (default: one broadcast, nodes - 1).
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Client proposals over the whole run.
    #[arg(long, default_value_t = 1)]
    pub max_proposals: u32,
    /// Duplicated messages over the whole run.
    #[arg(long, default_value_t = 0)]
    pub max_duplicates: u32,
    /// Client reads over the whole run; with reads, every path's writes and reads are checked
    /// for linearizability (reads are what the read-only seeded bugs break)
    #[arg(long, default_value_t = 0)]
    pub max_reads: u32,
    /// Check paths up to this many steps only (default: no limit).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Run the cores with pre-vote (more states; off by default).
    #[arg(long)]
    pub pre_vote: bool,
    /// PBFT: byzantine replicas (nodes F..F+N-1, F from --byzantine-first), each sending what
    /// the simulator's adversary makes of its messages with --byzantine-behaviour.
    #[arg(long, default_value_t = 0)]
    pub byzantine: usize,
    /// PBFT: the first byzantine node (1 is view 0's primary, 2 view 1's).
    #[arg(long, default_value_t = 1)]
    pub byzantine_first: u64,
    /// PBFT: what the byzantine replicas do, all at once, on every message (no coin flips): a
    /// list of equivocate (the null request to half the honest replicas), wrong-digest (a
    /// pre-prepare whose request does not match its digest, to that half), forge (prepares and
    /// commits in the other replicas' names agreeing with what each is told), lie (made-up view
    /// changes and new views), silent.
    #[arg(long, default_value = "equivocate")]
    pub byzantine_behaviour: String,
    /// Do not canonicalise states over relabellings of the node ids.
    #[arg(long)]
    pub no_symmetry: bool,
    /// Run a seeded bug (see `simulate --list-mutants`; read-only bugs need --max-reads). With
    /// --replay it overrides the file's (`none`: the correct core).
    #[arg(long)]
    pub mutant: Option<String>,
    /// Stop with the verdict unknown (exit 3) once the search holds more than this, in MiB (the
    /// growth of the process's resident memory, checked as each level is expanded; or the
    /// estimate of what is stored, if larger).
    #[arg(long, default_value_t = 2048)]
    pub memory_budget: usize,
    /// Worker threads (1..=64).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Write the counterexample, if one is found, as a replay file.
    #[arg(long, value_name = "PATH")]
    pub write_replay: Option<String>,
    /// Replay a stored counterexample instead of searching (exit 1 if the violation reappears).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<String>,
}
