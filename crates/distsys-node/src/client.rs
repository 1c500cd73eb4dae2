//! The client port: the Redis protocol, so `redis-cli` and `redis-benchmark` work. Every
//! connection is a client session (a random id and a sequence number per command: the
//! idempotency key the state machine deduplicates by). Writes and reads go through the Raft
//! log and ReadIndex on the leader; elsewhere the answer is `-MOVED 0 host:port` naming the
//! leader's client port (`redis-cli -c` follows it). `READONLY` lets a connection read the local
//! replica without a ReadIndex round (possibly stale).

use crate::node::{Input, Queue, QueueError, Status, Unavailable};
use crate::resp::{decode, Reply};
use distsys_consensus::kv::{ByteString, Op};
use distsys_consensus::replica::{ClientOp, ClientReply};
use distsys_consensus::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Unparsed input a connection may hold: a bigger command closes it (memory stays bounded).
const MAX_PENDING_INPUT: usize = 64 << 20;

/// How long a client waits for its answer before it is told the outcome is unknown.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

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
}

/// Serves clients on `listener`.
pub async fn listen(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = serve(stream, shared).await;
        });
    }
}

struct Session {
    client: u64,
    seq: u64,
    authed: bool,
    stale: bool,
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut session = Session {
        client: rand::random::<u64>() >> 1,
        seq: 0,
        authed: shared.password.is_none(),
        stale: shared.unsafe_stale_reads,
    };
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 << 10];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_PENDING_INPUT {
            let mut out = Vec::new();
            Reply::Error(format!(
                "ERR Protocol error: command larger than {MAX_PENDING_INPUT} bytes"
            ))
            .encode(&mut out);
            stream.write_all(&out).await?;
            return Ok(());
        }
        let mut out = Vec::new();
        loop {
            match decode(&buf) {
                Ok(Some((args, used))) => {
                    buf.drain(..used);
                    if args.is_empty() {
                        continue;
                    }
                    let quit = args[0].eq_ignore_ascii_case(b"QUIT");
                    let reply = execute(&shared, &mut session, args).await;
                    reply.encode(&mut out);
                    if quit {
                        stream.write_all(&out).await?;
                        return Ok(());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Malformed input: say why and close this connection (only this one).
                    Reply::Error(format!("ERR {e}")).encode(&mut out);
                    stream.write_all(&out).await?;
                    return Ok(());
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
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
    if !session.authed && !matches!(name.as_str(), "AUTH" | "QUIT" | "HELLO") {
        return Reply::Error("NOAUTH Authentication required.".into());
    }
    let result = match connection_command(shared, session, &name, &args) {
        Some(result) => result,
        None => data_command(shared, session, &name, &args).await,
    };
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
            let given = match argc {
                2 => &args[1],
                3 => &args[2],
                _ => return Some(Err(wrong_args(name))),
            };
            match &shared.password {
                None => Reply::Error("ERR AUTH called without any password configured".into()),
                Some(p) if p.as_bytes() == given.as_slice() => {
                    session.authed = true;
                    Reply::Simple("OK".into())
                }
                Some(_) => Reply::Error("WRONGPASS invalid password".into()),
            }
        }
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
        "SELECT" | "CLIENT" => Reply::Simple("OK".into()),
        _ => return None,
    }))
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
        "SET" => {
            if argc != 3 {
                return Err(Reply::Error(
                    "ERR syntax error (SET key value; options are not supported)".into(),
                ));
            }
            let op = Op::Put {
                key: bytes(&args[1]),
                value: bytes(&args[2]),
            };
            write(shared, session, op, "write").await?;
            Reply::Simple("OK".into())
        }
        "MSET" => {
            if argc < 3 || argc.is_multiple_of(2) {
                return Err(wrong_args(name));
            }
            let pairs = args[1..]
                .chunks(2)
                .map(|p| (bytes(&p[0]), bytes(&p[1])))
                .collect();
            write(shared, session, Op::PutMany { pairs }, "write").await?;
            Reply::Simple("OK".into())
        }
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
        "INCR" => {
            if argc != 2 {
                return Err(wrong_args(name));
            }
            match write(
                shared,
                session,
                Op::Incr {
                    key: bytes(&args[1]),
                },
                "write",
            )
            .await?
            {
                ClientReply::Ok { value: Some(v) } => match v.as_str().and_then(|v| v.parse().ok())
                {
                    Some(n) => Reply::Integer(n),
                    None => Reply::Error(format!("ERR increment answered a non-integer {v}")),
                },
                ClientReply::Invalid(why) => Reply::Error(format!("ERR {why}")),
                other => Reply::Error(format!("ERR unexpected answer {other:?}")),
            }
        }
        "CAS" => {
            // CAS key expected new: 1 if key held `expected` and now holds `new`, else 0.
            if argc != 4 {
                return Err(wrong_args(name));
            }
            let op = Op::Cas {
                key: bytes(&args[1]),
                expected: Some(bytes(&args[2])),
                new: bytes(&args[3]),
            };
            match write(shared, session, op, "cas").await? {
                ClientReply::CasFailed => Reply::Integer(0),
                _ => Reply::Integer(1),
            }
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
        _ => Reply::Error(format!("ERR unknown command '{}'", text(&args[0]))),
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

    #[test]
    fn a_password_is_required_before_anything_but_auth() {
        let (inputs, _received) =
            std::sync::mpsc::sync_channel::<crate::node::Inbound<distsys_consensus::Message>>(16);
        let shared = Shared {
            inputs: Arc::new(inputs),
            clients: BTreeMap::new(),
            password: Some("s3cret".into()),
            unsafe_stale_reads: false,
        };
        let mut session = Session {
            client: 1,
            seq: 0,
            authed: false,
            stale: false,
        };
        assert_eq!(
            run(&shared, &mut session, &["GET", "k"]),
            Reply::Error("NOAUTH Authentication required.".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["AUTH", "guess"]),
            Reply::Error("WRONGPASS invalid password".into())
        );
        assert_eq!(session.seq, 0, "nothing reached the log");
        assert_eq!(
            run(&shared, &mut session, &["AUTH", "default", "s3cret"]),
            Reply::Simple("OK".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["PING"]),
            Reply::Simple("PONG".into())
        );
        assert_eq!(
            run(&shared, &mut session, &["SET", "k"]),
            Reply::Error("ERR syntax error (SET key value; options are not supported)".into())
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
            std::sync::mpsc::sync_channel::<crate::node::Inbound<distsys_consensus::Message>>(1);
        let shared = Shared {
            inputs: Arc::new(inputs),
            clients: BTreeMap::new(),
            password: None,
            unsafe_stale_reads: false,
        };
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
}
