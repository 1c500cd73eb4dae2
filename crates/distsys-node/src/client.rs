//! The client port: the Redis protocol, so `redis-cli` and `redis-benchmark` work. Every
//! connection is a client session (a random id and a sequence number per command: the
//! idempotency key the state machine deduplicates by). Writes and reads go through the Raft
//! log and ReadIndex on the leader; elsewhere the answer is `-MOVED 0 host:port` naming the
//! leader's client port (`redis-cli -c` follows it). `READONLY` lets a connection read the local
//! replica without a ReadIndex round (possibly stale).

use crate::logging::Throttle;
use crate::node::{Input, Queue, QueueError, Status, Unavailable};
use crate::resp::{CommandReader, Limits, Protocol, Reply};
use distsys_consensus::kv::{ByteString, Op};
use distsys_consensus::replica::{ClientOp, ClientReply};
use distsys_consensus::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Bytes all client connections together may hold in commands not yet complete: past it a
/// connection that asks for more is closed (Redis's `maxmemory-clients`).
pub const MAX_CLIENT_MEMORY: usize = 512 << 20;

/// How long a client waits for its answer before it is told the outcome is unknown.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Replies a connection has buffered past this many bytes are written out before it takes
/// another answer: a client that does not read its replies stops its own connection (the
/// write waits on TCP) instead of making the node hold them all.
pub const FLUSH_AT: usize = 1 << 20;

/// Without an idle timeout, how long the reply to a connection being closed (QUIT, a broken
/// rule) may wait for the client to read it.
const CLOSING_WRITE: Duration = Duration::from_secs(5);

/// Longest pause between accept attempts after accept failed (out of descriptors, ...).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What every connection shares.
pub struct Shared {
    /// The protocol thread.
    pub inputs: Arc<dyn Queue>,
    /// Client addresses by node, for redirections.
    pub clients: BTreeMap<NodeId, SocketAddr>,
    /// AUTH password, if any.
    pub password: Option<String>,
    /// The broken variant: every GET reads the local replica.
    pub unsafe_stale_reads: bool,
    /// A connection that sends nothing for this long is closed (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Most connections open at once; more are answered with an error and closed, so the
    /// process keeps descriptors for its peers, its disk and its admin port.
    pub max_clients: usize,
    /// Bytes held by every connection's unfinished commands.
    pub buffered: AtomicUsize,
    /// Connections open now.
    pub connected: AtomicUsize,
    /// Rate limit of the refused-connection log lines.
    pub refusals: Throttle,
    /// Whether a connection's commands may be in flight together ([`run_commands`]): for
    /// protocols whose leader orders one connection's requests as they arrive (Raft,
    /// Multi-Paxos), not for PBFT, where every replica answers from its own execution.
    pub pipeline: bool,
}

impl Shared {
    /// Shared state for `inputs` with the default limits (no idle timeout).
    pub fn new(inputs: Arc<dyn Queue>, clients: BTreeMap<NodeId, SocketAddr>) -> Shared {
        Shared {
            inputs,
            clients,
            password: None,
            unsafe_stale_reads: false,
            idle_timeout: None,
            max_clients: 10_000,
            buffered: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            refusals: Throttle::default(),
            pipeline: true,
        }
    }
}

/// Serves clients on `listener`. When accept fails (out of file descriptors, say) it waits,
/// doubling the pause up to a second, instead of spinning, and logs why (rate-limited).
pub async fn listen(listener: TcpListener, shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(e) => {
                shared
                    .refusals
                    .refused("client", None, &format!("accept failed: {e}"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            if shared.connected.fetch_add(1, Ordering::SeqCst) >= shared.max_clients {
                shared
                    .refusals
                    .refused("client", Some(addr), "max number of clients reached");
                let mut stream = stream;
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            } else if let Err(why) = {
                let _ = stream.set_nodelay(true);
                serve(stream, &shared).await
            } {
                shared.refusals.refused("client", Some(addr), &why);
            }
            shared.connected.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

struct Session {
    client: u64,
    seq: u64,
    authed: bool,
    stale: bool,
    protocol: Protocol,
}

/// The bytes a connection's reader holds, counted in [`Shared::buffered`]; released when the
/// connection ends.
struct Held<'a> {
    shared: &'a Shared,
    bytes: usize,
}

impl Held<'_> {
    /// Records that the reader now holds `now` bytes; false if that takes every connection
    /// together past [`MAX_CLIENT_MEMORY`].
    fn update(&mut self, now: usize) -> bool {
        if now >= self.bytes {
            let added = now - self.bytes;
            let before = self.shared.buffered.fetch_add(added, Ordering::SeqCst);
            self.bytes = now;
            added == 0 || before + added <= MAX_CLIENT_MEMORY
        } else {
            self.shared
                .buffered
                .fetch_sub(self.bytes - now, Ordering::SeqCst);
            self.bytes = now;
            true
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.shared.buffered.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Serves one connection until it closes, quits or breaks a rule; `Err` says which rule
/// (logged as a refusal), `Ok` a normal end.
async fn serve<S>(mut stream: S, shared: &Shared) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut session = Session {
        client: rand::random::<u64>() >> 1,
        seq: 0,
        authed: shared.password.is_none(),
        stale: shared.unsafe_stale_reads,
        protocol: Protocol::Resp2,
    };
    let mut reader = CommandReader::new(limits_for(&session));
    let mut held = Held { shared, bytes: 0 };
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        let n = match shared.idle_timeout {
            Some(idle) => match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => return Ok(()),
            },
            None => stream.read(&mut chunk).await,
        }
        .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        let mut out = Vec::new();
        let fed = reader.feed(&chunk[..n]);
        let fits = held.update(reader.buffered());
        let outcome = match fed {
            Err(e) => Err(e.to_string()),
            Ok(()) if !fits => Err("ERR max client memory reached: command not taken".into()),
            Ok(()) => {
                let mut output = Output {
                    stream: &mut stream,
                    buffer: &mut out,
                    idle: shared.idle_timeout,
                };
                run_commands(shared, &mut session, &mut reader, &mut output).await
            }
        };
        held.update(reader.buffered());
        match outcome {
            Ok(Continue::Yes) => {}
            Ok(Continue::Quit) => {
                let _ = write_out(&mut stream, &out, Some(closing_write(shared))).await;
                return Ok(());
            }
            Err(why) => {
                // Malformed or oversized input: say why and close this connection (only this one).
                let why = if why.starts_with("ERR") {
                    why
                } else {
                    format!("ERR {why}")
                };
                Reply::Error(why.clone()).encode_as(session.protocol, &mut out);
                let _ = write_out(&mut stream, &out, Some(closing_write(shared))).await;
                return Err(why);
            }
        }
        if !out.is_empty() {
            write_out(&mut stream, &out, shared.idle_timeout).await?;
        }
    }
}

/// Where a connection's replies go: a buffer, written to the stream whenever it passes
/// [`FLUSH_AT`].
struct Output<'a, S> {
    stream: &'a mut S,
    buffer: &'a mut Vec<u8>,
    idle: Option<Duration>,
}

impl<S: AsyncWrite + Unpin> Output<'_, S> {
    /// Adds a reply; past [`FLUSH_AT`] buffered bytes, writes them all out first.
    async fn push(&mut self, reply: Reply, protocol: Protocol) -> Result<(), String> {
        reply.encode_as(protocol, self.buffer);
        if self.buffer.len() >= FLUSH_AT {
            write_out(self.stream, self.buffer, self.idle).await?;
            self.buffer.clear();
        }
        Ok(())
    }
}

/// How long the last words to a connection being closed may wait for the client to take
/// them: its idle timeout, or [`CLOSING_WRITE`].
fn closing_write(shared: &Shared) -> Duration {
    shared.idle_timeout.unwrap_or(CLOSING_WRITE)
}

/// Writes `bytes`; a client that takes none of them for the idle timeout is gone.
async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    idle: Option<Duration>,
) -> Result<(), String> {
    match idle {
        Some(idle) => tokio::time::timeout(idle, stream.write_all(bytes))
            .await
            .map_err(|_| "replies not read within the idle timeout".to_string())?,
        None => stream.write_all(bytes).await,
    }
    .map_err(|e| e.to_string())
}

/// Whether the connection goes on after a batch of commands.
enum Continue {
    Yes,
    Quit,
}

/// The reader's caps for a session: small until it has authenticated.
fn limits_for(session: &Session) -> Limits {
    if session.authed {
        Limits::AUTHENTICATED
    } else {
        Limits::UNAUTHENTICATED
    }
}

/// Runs every complete command the reader holds, appending each reply to `out` in order.
/// Runs of single-request commands ([`plan`]) are pipelined: all of them go to the protocol
/// thread at once (so one connection's writes share consensus rounds) and their answers are
/// awaited in order. Reads and writes are not in flight together: a read waits for the writes
/// before it (read your own writes) and a write for the reads before it (a read never sees a
/// later command), so one connection's commands take effect in the order it sent them, as in
/// Redis; any other command waits for everything before it.
async fn run_commands<S: AsyncWrite + Unpin>(
    shared: &Shared,
    session: &mut Session,
    reader: &mut CommandReader,
    out: &mut Output<'_, S>,
) -> Result<Continue, String> {
    let mut in_flight: Vec<Planned> = Vec::new();
    while let Some(args) = reader.next_command().map_err(|e| e.to_string())? {
        if args.is_empty() {
            continue;
        }
        let name = text(&args[0]).to_ascii_uppercase();
        if shared.pipeline && session.authed {
            if must_drain(&in_flight, is_read(&name)) {
                drain(shared, &mut in_flight, session.protocol, out).await?;
            }
            if let Some(planned) = plan(shared, session, &name, &args) {
                in_flight.push(planned);
                continue;
            }
        }
        drain(shared, &mut in_flight, session.protocol, out).await?;
        let quit = name == "QUIT";
        let reply = execute(shared, session, args).await;
        out.push(reply, session.protocol).await?;
        reader.limits = limits_for(session);
        if quit {
            return Ok(Continue::Quit);
        }
    }
    drain(shared, &mut in_flight, session.protocol, out).await?;
    Ok(Continue::Yes)
}

/// Awaits every planned command's answer, in order, adding the replies to `out`.
async fn drain<S: AsyncWrite + Unpin>(
    shared: &Shared,
    in_flight: &mut Vec<Planned>,
    protocol: Protocol,
    out: &mut Output<'_, S>,
) -> Result<(), String> {
    for planned in in_flight.drain(..) {
        out.push(finish(shared, planned).await, protocol).await?;
    }
    Ok(())
}

/// Whether a command (a read or not) must wait for every answer in flight first: reads and
/// writes are never in flight together, so a read sees the writes before it on its connection
/// and never a later one (`in_flight` is `Some(true)` for a write).
fn must_drain(in_flight: &[Planned], read: bool) -> bool {
    in_flight.iter().any(|p| p.in_flight() == Some(read))
}

fn is_read(name: &str) -> bool {
    matches!(name, "GET" | "EXISTS" | "MGET")
}

/// How a planned command's answer becomes its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// `+OK` (SET, MSET).
    Ok,
    /// The value read (GET).
    Bulk,
    /// The integer answered: INCR's new value, APPEND's new length.
    Integer,
    /// 1 if swapped, else 0 (CAS, SETNX).
    Cas,
    /// `+OK` if swapped, else nil (SET key value NX).
    SetIfAbsent,
    /// 1 if a key was removed, else 0 (DEL of one key).
    Deleted,
}

/// A command sent to the protocol thread, its answer awaited later; or its reply already
/// (a syntax error, a full queue).
enum Planned {
    Ready(Reply),
    Waiting(oneshot::Receiver<Result<ClientReply, Unavailable>>, Finish),
}

impl Planned {
    /// `Some(true)` for a write in flight, `Some(false)` for a read, `None` for a reply
    /// already known.
    fn in_flight(&self) -> Option<bool> {
        match self {
            Planned::Waiting(_, finish) => Some(*finish != Finish::Bulk),
            Planned::Ready(_) => None,
        }
    }
}

/// Sends SET (and SET NX), MSET, GET (unless the session reads locally), INCR, APPEND, CAS, SETNX
/// and DEL of one key to
/// the protocol thread: each is one request. `None` for any other command.
fn plan(shared: &Shared, session: &mut Session, name: &str, args: &[Vec<u8>]) -> Option<Planned> {
    let argc = args.len();
    let (op, kind, finish) = match name {
        // SET key value NX: set only if absent (nil when the key exists), as Redis does.
        "SET" if argc == 4 && text(&args[3]).eq_ignore_ascii_case("NX") => (
            ClientOp::Write(Op::Cas {
                key: bytes(&args[1]),
                expected: None,
                new: bytes(&args[2]),
            }),
            "cas",
            Finish::SetIfAbsent,
        ),
        "SET" if argc != 3 => {
            return Some(Planned::Ready(Reply::Error(
                "ERR syntax error (SET key value [NX]; other options are not supported)".into(),
            )))
        }
        "SET" => (
            ClientOp::Write(Op::Put {
                key: bytes(&args[1]),
                value: bytes(&args[2]),
            }),
            "write",
            Finish::Ok,
        ),
        "MSET" if argc < 3 || argc.is_multiple_of(2) => {
            return Some(Planned::Ready(wrong_args(name)))
        }
        "MSET" => {
            let pairs = args[1..]
                .chunks(2)
                .map(|p| (bytes(&p[0]), bytes(&p[1])))
                .collect();
            (ClientOp::Write(Op::PutMany { pairs }), "write", Finish::Ok)
        }
        "GET" | "INCR" if argc != 2 => return Some(Planned::Ready(wrong_args(name))),
        "APPEND" | "SETNX" if argc != 3 => return Some(Planned::Ready(wrong_args(name))),
        // APPEND key value: the length of the value after the append.
        "APPEND" => (
            ClientOp::Write(Op::Append {
                key: bytes(&args[1]),
                value: bytes(&args[2]),
            }),
            "append",
            Finish::Integer,
        ),
        // SETNX key value: 1 if the key was absent and now holds `value`, else 0.
        "SETNX" => (
            ClientOp::Write(Op::Cas {
                key: bytes(&args[1]),
                expected: None,
                new: bytes(&args[2]),
            }),
            "cas",
            Finish::Cas,
        ),
        "GET" if session.stale => return None,
        "GET" => (
            ClientOp::Read {
                key: bytes(&args[1]),
            },
            "read",
            Finish::Bulk,
        ),
        "INCR" => (
            ClientOp::Write(Op::Incr {
                key: bytes(&args[1]),
            }),
            "write",
            Finish::Integer,
        ),
        // CAS key expected new: 1 if key held `expected` and now holds `new`, else 0.
        "CAS" if argc != 4 => return Some(Planned::Ready(wrong_args(name))),
        "CAS" => (
            ClientOp::Write(Op::Cas {
                key: bytes(&args[1]),
                expected: Some(bytes(&args[2])),
                new: bytes(&args[3]),
            }),
            "cas",
            Finish::Cas,
        ),
        "DEL" if argc == 2 => (
            ClientOp::Write(Op::Delete {
                key: bytes(&args[1]),
            }),
            "delete",
            Finish::Deleted,
        ),
        _ => return None,
    };
    Some(match send(shared, session, op, kind) {
        Ok(answer) => Planned::Waiting(answer, finish),
        Err(reply) => Planned::Ready(reply),
    })
}

/// A planned command's reply, once its answer has come.
async fn finish(shared: &Shared, planned: Planned) -> Reply {
    let (answer, how) = match planned {
        Planned::Ready(reply) => return reply,
        Planned::Waiting(answer, how) => (answer, how),
    };
    let reply = match wait(shared, answer).await {
        Ok(reply) => reply,
        Err(error) => return error,
    };
    match (how, reply) {
        (Finish::Ok, _) => Reply::Simple("OK".into()),
        (Finish::Bulk, ClientReply::Ok { value }) => Reply::Bulk(value.map(ByteString::into_bytes)),
        (Finish::Integer, ClientReply::Ok { value: Some(v) }) => {
            match v.as_str().and_then(|v| v.parse().ok()) {
                Some(n) => Reply::Integer(n),
                None => Reply::Error(format!("ERR the store answered a non-integer {v:?}")),
            }
        }
        (Finish::Integer, ClientReply::Invalid(why)) => Reply::Error(format!("ERR {why}")),
        (Finish::Cas, ClientReply::CasFailed) => Reply::Integer(0),
        (Finish::Cas, _) => Reply::Integer(1),
        (Finish::SetIfAbsent, ClientReply::CasFailed) => Reply::Bulk(None),
        (Finish::SetIfAbsent, _) => Reply::Simple("OK".into()),
        (Finish::Deleted, ClientReply::Ok { value }) => Reply::Integer(i64::from(value.is_some())),
        (_, other) => Reply::Error(format!("ERR unexpected answer {other:?}")),
    }
}

/// A command's name, for matching (names are ASCII; anything else matches no command).
fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// A key or value argument: the client's bytes, exactly.
fn bytes(arg: &[u8]) -> ByteString {
    ByteString::from(arg)
}

fn wrong_args(name: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_lowercase()
    ))
}

/// Runs one operation through the protocol thread.
async fn submit(
    shared: &Shared,
    session: &mut Session,
    op: ClientOp,
    kind: &'static str,
) -> Result<ClientReply, Reply> {
    let answer = send(shared, session, op, kind)?;
    wait(shared, answer).await
}

/// Sends one operation to the protocol thread (the session's next sequence number); the
/// answer comes on the returned channel.
fn send(
    shared: &Shared,
    session: &mut Session,
    op: ClientOp,
    kind: &'static str,
) -> Result<oneshot::Receiver<Result<ClientReply, Unavailable>>, Reply> {
    session.seq += 1;
    let (reply, answer) = oneshot::channel();
    enqueue(
        shared,
        Input::Request {
            client: session.client,
            seq: session.seq,
            op,
            kind,
            reply,
        },
    )?;
    Ok(answer)
}

/// Waits for an operation's answer: redirections and failures become the client's error.
async fn wait(
    shared: &Shared,
    answer: oneshot::Receiver<Result<ClientReply, Unavailable>>,
) -> Result<ClientReply, Reply> {
    match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
        Ok(Ok(Ok(ClientReply::NotLeader { leader }))) => Err(redirect(shared, leader)),
        Ok(Ok(Ok(reply))) => Ok(reply),
        Ok(Ok(Err(Unavailable::Storage(why)))) => Err(Reply::Error(format!(
            "ERR storage failure on this node ({why}): not acknowledged, the operation may or may not take effect; the node is stopping"
        ))),
        Ok(Err(_)) => Err(Reply::Error("ERR node is shutting down".into())),
        Err(_) => Err(Reply::Error(
            "TIMEOUT no answer within 10 s: the operation may or may not have taken effect".into(),
        )),
    }
}

/// Queues `input` for the protocol thread without waiting: when its queue is full the client
/// is told to retry (`TRYAGAIN`: the command was not taken), never left hanging.
fn enqueue(shared: &Shared, input: Input) -> Result<(), Reply> {
    shared.inputs.try_queue(input).map_err(|e| match e {
        QueueError::Full => Reply::Error(format!(
            "TRYAGAIN node busy: its input queue ({} requests) is full; the command was not taken, retry later",
            crate::INPUT_QUEUE
        )),
        QueueError::Closed => Reply::Error("ERR node is shutting down".into()),
    })
}

fn redirect(shared: &Shared, leader: Option<NodeId>) -> Reply {
    match leader.and_then(|l| shared.clients.get(&l)) {
        Some(addr) => Reply::Error(format!("MOVED 0 {addr}")),
        None => Reply::Error("TRYAGAIN no leader known yet".into()),
    }
}

async fn read(
    shared: &Shared,
    session: &mut Session,
    key: ByteString,
) -> Result<Option<ByteString>, Reply> {
    if session.stale {
        let (reply, answer) = oneshot::channel();
        enqueue(shared, Input::LocalRead { key, reply })?;
        return answer
            .await
            .map_err(|_| Reply::Error("ERR node is shutting down".into()));
    }
    match submit(shared, session, ClientOp::Read { key }, "read").await? {
        ClientReply::Ok { value } => Ok(value),
        other => Err(Reply::Error(format!("ERR unexpected answer {other:?}"))),
    }
}

async fn write(
    shared: &Shared,
    session: &mut Session,
    op: Op,
    kind: &'static str,
) -> Result<ClientReply, Reply> {
    submit(shared, session, ClientOp::Write(op), kind).await
}

async fn status(shared: &Shared) -> Result<Status, Reply> {
    let (reply, answer) = oneshot::channel();
    enqueue(shared, Input::Status(reply))?;
    answer
        .await
        .map_err(|_| Reply::Error("ERR node is shutting down".into()))
}

async fn execute(shared: &Shared, session: &mut Session, args: Vec<Vec<u8>>) -> Reply {
    let name = text(&args[0]).to_ascii_uppercase();
    if !session.authed && !matches!(name.as_str(), "AUTH" | "QUIT" | "HELLO" | "PING") {
        return Reply::Error("NOAUTH Authentication required.".into());
    }
    if let Some(result) = connection_command(shared, session, &name, &args) {
        return result.unwrap_or_else(|e| e);
    }
    if let Some(planned) = plan(shared, session, &name, &args) {
        return finish(shared, planned).await;
    }
    let result = data_command(shared, session, &name, &args).await;
    result.unwrap_or_else(|e| e)
}

/// The commands about the connection itself (ping, authentication, read mode, what clients
/// ask on connect); `None` for any other command.
fn connection_command(
    shared: &Shared,
    session: &mut Session,
    name: &str,
    args: &[Vec<u8>],
) -> Option<Result<Reply, Reply>> {
    let argc = args.len();
    Some(Ok(match name {
        "PING" => match argc {
            1 => Reply::Simple("PONG".into()),
            2 => Reply::Bulk(Some(args[1].clone())),
            _ => return Some(Err(wrong_args(name))),
        },
        "QUIT" => Reply::Simple("OK".into()),
        "AUTH" => {
            let (user, given) = match argc {
                2 => (None, &args[1]),
                3 => (Some(args[1].as_slice()), &args[2]),
                _ => return Some(Err(wrong_args(name))),
            };
            match authenticate(shared, session, user, given) {
                Ok(()) => Reply::Simple("OK".into()),
                Err(e) => e,
            }
        }
        "HELLO" => return Some(hello(shared, session, args)),
        "READONLY" => {
            session.stale = true;
            Reply::Simple("OK".into())
        }
        "READWRITE" => {
            session.stale = shared.unsafe_stale_reads;
            Reply::Simple("OK".into())
        }
        // What redis-cli and redis-benchmark ask on connect.
        "COMMAND" | "CONFIG" => Reply::Array(Vec::new()),
        // One database, as Redis Cluster: `SELECT 0` only (a client asking for another must
        // not be told it got one).
        "SELECT" if argc != 2 => return Some(Err(wrong_args(name))),
        "SELECT" => match text(&args[1]).parse::<i64>() {
            Ok(0) => Reply::Simple("OK".into()),
            Ok(_) => Reply::Error("ERR DB index is out of range".into()),
            Err(_) => Reply::Error("ERR value is not an integer or out of range".into()),
        },
        "CLIENT" => Reply::Simple("OK".into()),
        _ => return None,
    }))
}

/// Checks `given` against the password (and `user`, when named, against the one user there
/// is: `default`, as Redis with `requirepass`); the session is authenticated if both match.
fn authenticate(
    shared: &Shared,
    session: &mut Session,
    user: Option<&[u8]>,
    given: &[u8],
) -> Result<(), Reply> {
    match &shared.password {
        None => Err(Reply::Error(
            "ERR AUTH called without any password configured".into(),
        )),
        Some(_) if user.is_some_and(|u| u != b"default") => Err(Reply::Error(
            "WRONGPASS invalid username-password pair or user is disabled.".into(),
        )),
        Some(p) if p.as_bytes() == given => {
            session.authed = true;
            Ok(())
        }
        Some(_) => Err(Reply::Error("WRONGPASS invalid password".into())),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`, as Redis 6+ answers it: the
/// connection switches to RESP2 or RESP3 (so clients that start with `HELLO 3`, such as
/// redis-py 8, connect with their defaults) and may authenticate in the same command.
fn hello(shared: &Shared, session: &mut Session, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let protocol = match args.get(1).map(|v| v.as_slice()) {
        None => session.protocol,
        Some(b"2") => Protocol::Resp2,
        Some(b"3") => Protocol::Resp3,
        Some(_) => return Err(Reply::Error("NOPROTO unsupported protocol version".into())),
    };
    let mut options = args.iter().skip(2);
    let mut password = None;
    while let Some(option) = options.next() {
        match text(option).to_ascii_uppercase().as_str() {
            "AUTH" => match (options.next(), options.next()) {
                (Some(user), Some(given)) => password = Some((user, given)),
                _ => {
                    return Err(Reply::Error(
                        "ERR Syntax error in HELLO option 'AUTH'".into(),
                    ))
                }
            },
            "SETNAME" if options.next().is_some() => {}
            _ => {
                return Err(Reply::Error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    text(option)
                )))
            }
        }
    }
    if let Some((user, given)) = password {
        authenticate(shared, session, Some(user), given)?;
    }
    if !session.authed {
        return Err(Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    session.protocol = protocol;
    let field = |name: &str, value: Reply| (Reply::Bulk(Some(name.as_bytes().to_vec())), value);
    let text_value = |value: &str| Reply::Bulk(Some(value.as_bytes().to_vec()));
    let proto = match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    Ok(Reply::Map(vec![
        field("server", text_value("distsys")),
        field("version", text_value(env!("CARGO_PKG_VERSION"))),
        field("proto", Reply::Integer(proto)),
        field(
            "id",
            Reply::Integer((session.client & (i64::MAX as u64)) as i64),
        ),
        field("mode", text_value("standalone")),
        field("role", text_value("master")),
        field("modules", Reply::Array(Vec::new())),
    ]))
}

/// The commands on data (reads through the log or a lease, writes through the log) and INFO.
async fn data_command(
    shared: &Shared,
    session: &mut Session,
    name: &str,
    args: &[Vec<u8>],
) -> Result<Reply, Reply> {
    let argc = args.len();
    Ok(match name {
        "INFO" => return info(shared).await,
        "DEL" => {
            if argc < 2 {
                return Err(wrong_args(name));
            }
            let mut removed = 0;
            for key in &args[1..] {
                if let ClientReply::Ok { value: Some(_) } =
                    write(shared, session, Op::Delete { key: bytes(key) }, "delete").await?
                {
                    removed += 1;
                }
            }
            Reply::Integer(removed)
        }
        // GET, EXISTS, MGET, and the unknown commands.
        _ => return read_command(shared, session, name, args).await,
    })
}

/// INFO: the node's replication status, in Redis's `# Replication` section format.
async fn info(shared: &Shared) -> Result<Reply, Reply> {
    let s = status(shared).await?;
    let info = format!(
        "# Replication\r\nrole:{}\r\nnode_id:{}\r\nterm:{}\r\nleader:{}\r\ncommit_index:{}\r\napplied_index:{}\r\nlast_index:{}\r\n",
        s.role, s.id, s.term,
        s.leader.map_or("none".to_string(), |l| l.to_string()),
        s.commit_index, s.applied_index, s.last_index
    );
    Ok(Reply::Bulk(Some(info.into_bytes())))
}

/// GET, EXISTS and MGET: reads through the log (or the session's stale mode); any other
/// command is unknown.
async fn read_command(
    shared: &Shared,
    session: &mut Session,
    name: &str,
    args: &[Vec<u8>],
) -> Result<Reply, Reply> {
    let argc = args.len();
    Ok(match name {
        "GET" => {
            if argc != 2 {
                return Err(wrong_args(name));
            }
            Reply::Bulk(
                read(shared, session, bytes(&args[1]))
                    .await?
                    .map(ByteString::into_bytes),
            )
        }
        "EXISTS" => {
            if argc < 2 {
                return Err(wrong_args(name));
            }
            let mut count = 0;
            for key in &args[1..] {
                count += i64::from(read(shared, session, bytes(key)).await?.is_some());
            }
            Reply::Integer(count)
        }
        "MGET" => {
            if argc < 2 {
                return Err(wrong_args(name));
            }
            let mut values = Vec::new();
            for key in &args[1..] {
                values.push(Reply::Bulk(
                    read(shared, session, bytes(key))
                        .await?
                        .map(ByteString::into_bytes),
                ));
            }
            Reply::Array(values)
        }
        _ => {
            // Redis's rule: the name is quoted up to 128 bytes (an error never echoes a
            // megabyte back).
            let name = &args[0][..args[0].len().min(128)];
            Reply::Error(format!("ERR unknown command '{}'", text(name)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(shared: &Shared, session: &mut Session, args: &[&str]) -> Reply {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let args = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        rt.block_on(execute(shared, session, args))
    }

    /// The rule the pipeline keeps: a command of the other kind than one in flight waits,
    /// one of the same kind joins (it was inverted once: writes went one at a time and a read
    /// joined the writes before it, reading the state before them).
    #[test]
    fn reads_and_writes_are_never_in_flight_together() {
        let waiting = |finish| Planned::Waiting(oneshot::channel().1, finish);
        let writes = [waiting(Finish::Ok), waiting(Finish::Integer)];
        let reads = [waiting(Finish::Bulk)];
        let answered = [Planned::Ready(Reply::Simple("OK".into()))];
        assert!(must_drain(&writes, true), "a read after writes waits");
        assert!(must_drain(&reads, false), "a write after a read waits");
        assert!(!must_drain(&writes, false), "writes share a flight");
        assert!(!must_drain(&reads, true), "reads share a flight");
        assert!(!must_drain(&answered, true) && !must_drain(&answered, false));
        assert!(!must_drain(&[], true) && !must_drain(&[], false));
    }

    #[test]
    fn a_password_is_required_before_anything_but_auth() {
        let (inputs, _received) =
            crossbeam_channel::bounded::<crate::node::Inbound<distsys_consensus::Message>>(16);
        let shared = Shared {
            password: Some("s3cret".into()),
            ..Shared::new(Arc::new(inputs), BTreeMap::new())
        };
        let mut session = Session {
            client: 1,
            seq: 0,
            authed: false,
            stale: false,
            protocol: Protocol::Resp2,
        };
        assert_eq!(
            run(&shared, &mut session, &["GET", "k"]),
            Reply::Error("NOAUTH Authentication required.".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["AUTH", "guess"]),
            Reply::Error("WRONGPASS invalid password".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["AUTH", "nobody", "s3cret"]),
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into()),
            "the one user is `default`"
        );
        assert!(!session.authed);
        assert_eq!(session.seq, 0, "nothing reached the log");
        assert_eq!(
            run(&shared, &mut session, &["AUTH", "default", "s3cret"]),
            Reply::Simple("OK".into())
        );
        // One database: a client asking for another is told so.
        assert_eq!(
            run(&shared, &mut session, &["SELECT", "0"]),
            Reply::Simple("OK".into())
        );
        for (db, why) in [
            ("1", "ERR DB index is out of range"),
            ("x", "ERR value is not an integer or out of range"),
        ] {
            assert_eq!(
                run(&shared, &mut session, &["SELECT", db]),
                Reply::Error(why.into())
            );
        }
        assert_eq!(
            run(&shared, &mut session, &["PING"]),
            Reply::Simple("PONG".into())
        );
        let syntax = "ERR syntax error (SET key value [NX]; other options are not supported)";
        for wrong in [&["SET", "k"][..], &["SET", "k", "v", "XX"]] {
            assert_eq!(
                run(&shared, &mut session, wrong),
                Reply::Error(syntax.into())
            );
        }
        assert_eq!(
            run(&shared, &mut session, &["APPEND", "k"]),
            Reply::Error("ERR wrong number of arguments for 'append' command".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["FLUSHALL"]),
            Reply::Error("ERR unknown command 'FLUSHALL'".into())
        );
    }

    #[test]
    fn a_full_input_queue_answers_tryagain_at_once_and_takes_nothing() {
        // A queue of one, already holding a request the protocol thread has not taken.
        let (inputs, received) =
            crossbeam_channel::bounded::<crate::node::Inbound<distsys_consensus::Message>>(1);
        let shared = Shared::new(Arc::new(inputs), BTreeMap::new());
        let (reply, _answer) = oneshot::channel();
        shared
            .inputs
            .try_queue(Input::Status(reply))
            .expect("room for one");
        let mut session = Session {
            client: 1,
            seq: 0,
            authed: true,
            stale: false,
            protocol: Protocol::Resp2,
        };
        for command in [&["SET", "k", "v"][..], &["GET", "k"], &["INFO"]] {
            let reply = run(&shared, &mut session, command);
            let Reply::Error(e) = &reply else {
                panic!("{command:?}: {reply:?}");
            };
            assert!(e.starts_with("TRYAGAIN node busy"), "{command:?}: {e}");
        }
        assert!(matches!(
            received.try_recv(),
            Ok(crate::node::Inbound::Input(Input::Status(_)))
        ));
        assert!(received.try_recv().is_err(), "nothing else was queued");
    }

    /// A stream whose peer sent `input` and then reads nothing back: writes are taken up to
    /// `window` bytes (a socket buffer), then never again. Records the largest buffer offered.
    struct StalledPeer {
        input: Vec<u8>,
        window: usize,
        seen: Arc<std::sync::Mutex<(usize, usize)>>,
    }

    impl AsyncRead for StalledPeer {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.input.is_empty() {
                return std::task::Poll::Pending;
            }
            let n = self.input.len().min(buf.remaining());
            buf.put_slice(&self.input[..n]);
            self.input.drain(..n);
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for StalledPeer {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let mut seen = self.seen.lock().expect("lock");
            seen.1 = seen.1.max(buf.len());
            let room = self.window - seen.0;
            if room == 0 {
                return std::task::Poll::Pending;
            }
            let n = buf.len().min(room);
            seen.0 += n;
            std::task::Poll::Ready(Ok(n))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// A connection from a peer that pipelines `reads` GETs of a 1 MiB value and then reads
    /// nothing (window of 256 KiB), served on its own runtime against a protocol thread that
    /// answers every read: the runtime, the connection's outcome, what the peer saw (bytes
    /// taken, largest buffer offered) and the answering thread (how many it answered).
    #[allow(clippy::type_complexity)]
    fn stalled_reader(
        reads: usize,
        idle: Option<Duration>,
    ) -> (
        tokio::runtime::Runtime,
        tokio::task::JoinHandle<Result<(), String>>,
        Arc<std::sync::Mutex<(usize, usize)>>,
        std::thread::JoinHandle<usize>,
    ) {
        let (inputs, received) =
            crossbeam_channel::bounded::<crate::node::Inbound<distsys_consensus::Message>>(256);
        let shared = Arc::new(Shared {
            idle_timeout: idle,
            ..Shared::new(Arc::new(inputs), BTreeMap::new())
        });
        let value = ByteString::from(vec![b'v'; 1 << 20]);
        let answering = std::thread::spawn(move || {
            let mut answered = 0;
            while answered < reads {
                let Ok(inbound) = received.recv_timeout(Duration::from_secs(10)) else {
                    break;
                };
                if let crate::node::Inbound::Input(Input::Request { reply, .. }) = inbound {
                    let _ = reply.send(Ok(ClientReply::Ok {
                        value: Some(value.clone()),
                    }));
                    answered += 1;
                }
            }
            answered
        });
        let input: Vec<u8> = (0..reads)
            .flat_map(|_| b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec())
            .collect();
        let seen = Arc::new(std::sync::Mutex::new((0, 0)));
        let peer = StalledPeer {
            input,
            window: 256 << 10,
            seen: seen.clone(),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let served = rt.spawn(async move { serve(peer, &shared).await });
        (rt, served, seen, answering)
    }

    /// A client pipelines 64 reads of a 1 MiB value and reads no reply: the connection holds
    /// about [`FLUSH_AT`] of replies and waits on the stream, instead of building all 64 MiB
    /// (it did: a few such clients took gigabytes).
    #[test]
    fn a_client_that_reads_no_reply_holds_a_bounded_buffer() {
        let (rt, _served, seen, answering) = stalled_reader(64, None);
        // Wait until the peer's window is full and nothing more is offered.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut last = (0, 0);
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = *seen.lock().expect("lock");
            if (now.0 == 256 << 10 && now == last) || std::time::Instant::now() > deadline {
                break;
            }
            last = now;
        }
        let (taken, largest) = *seen.lock().expect("lock");
        assert_eq!(taken, 256 << 10, "the peer's window filled");
        assert!(
            largest <= FLUSH_AT + (1 << 20) + 64,
            "the connection offered {largest} bytes at once: it buffered replies past FLUSH_AT"
        );
        drop(rt);
        assert_eq!(
            answering.join().expect("thread"),
            64,
            "every read was answered"
        );
    }

    /// With an idle timeout, a client that takes no reply for that long is disconnected, as
    /// one that sends nothing is.
    #[test]
    fn a_client_that_reads_no_reply_for_the_idle_timeout_is_closed() {
        let (rt, served, _seen, answering) = stalled_reader(8, Some(Duration::from_millis(300)));
        let outcome = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), served).await })
            .expect("closed well within 20 s")
            .expect("task");
        let why = outcome.expect_err("closed as a broken rule");
        assert!(why.contains("not read within the idle timeout"), "{why}");
        assert_eq!(answering.join().expect("thread"), 8);
    }
}
