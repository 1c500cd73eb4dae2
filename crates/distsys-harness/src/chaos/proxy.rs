//! Fault-injecting TCP proxies, one per directed peer link. A cut link drops its connection
//! and refuses new ones until healed. While the message faults are on, each protocol message
//! (one frame of the node's peer wire, after the handshake) may be dropped, delivered twice, or
//! held back so later ones overtake it, at the simulator's rates
//! ([`distsys_sim::faults::message_rates`]): the same `--faults drop,duplicate,reorder` in both.

use distsys_node::{DIALER_HANDSHAKE_FRAMES, MAX_FRAME};
use distsys_sim::faults::{message_rates, Fault, FaultSet};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, BinaryHeap};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The link latency a held-back message's extra delay is counted in (loopback has next to
/// none of its own): a reordered message waits up to
/// [`message_rates::REORDER_MAX_LATENCIES`] times this.
pub const LATENCY_UNIT: Duration = Duration::from_millis(5);

/// The longest a reordered message is held back.
pub const REORDER_MAX_HOLD: Duration =
    LATENCY_UNIT.saturating_mul(message_rates::REORDER_MAX_LATENCIES as u32);

/// How often a forwarding thread looks at the cuts while its socket is idle.
const POLL: Duration = Duration::from_millis(50);

/// Which message faults a run injects (the message classes of a [`FaultSet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFaults {
    /// [`Fault::Drop`].
    pub drop: bool,
    /// [`Fault::Duplicate`].
    pub duplicate: bool,
    /// [`Fault::Reorder`].
    pub reorder: bool,
}

impl MessageFaults {
    /// The message classes of `set`.
    pub fn of(set: &FaultSet) -> MessageFaults {
        MessageFaults {
            drop: set.has(Fault::Drop),
            duplicate: set.has(Fault::Duplicate),
            reorder: set.has(Fault::Reorder),
        }
    }

    /// Whether any class is on.
    pub fn any(self) -> bool {
        self.drop || self.duplicate || self.reorder
    }

    /// The delays after which each copy of one message is delivered: empty when it is
    /// dropped, two entries when it is duplicated. The same draws in the same order as the
    /// simulator's network.
    pub fn fate(self, rng: &mut ChaCha8Rng) -> Vec<Duration> {
        if self.drop && rng.random_bool(message_rates::DROP) {
            return Vec::new();
        }
        let copies = if self.duplicate && rng.random_bool(message_rates::DUPLICATE) {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| {
                if self.reorder && rng.random_bool(message_rates::REORDER) {
                    rng.random_range(Duration::ZERO..REORDER_MAX_HOLD)
                } else {
                    Duration::ZERO
                }
            })
            .collect()
    }

    /// `drop 2%, duplicate 1%, reorder 5% (up to 50 ms)` for the classes on.
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        let percent = |p: f64| p * 100.0;
        if self.drop {
            parts.push(format!("drop {}%", percent(message_rates::DROP)));
        }
        if self.duplicate {
            parts.push(format!("duplicate {}%", percent(message_rates::DUPLICATE)));
        }
        if self.reorder {
            parts.push(format!(
                "reorder {}% (held up to {} ms)",
                percent(message_rates::REORDER),
                REORDER_MAX_HOLD.as_millis()
            ));
        }
        parts.join(", ")
    }
}

/// The links the chaos runner controls: which directed links (from node index, to node index)
/// are cut, and whether the message faults are on now.
#[derive(Debug)]
pub struct Links {
    cuts: Mutex<BTreeSet<(usize, usize)>>,
    faults: MessageFaults,
    faults_on: AtomicBool,
    seed: u64,
    connections: AtomicU64,
    tally: [AtomicU64; 4],
}

/// What the message faults did to the messages that passed while they were on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageTally {
    /// Protocol messages seen while the faults were on.
    pub messages: u64,
    /// Of them, dropped.
    pub dropped: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Copies held back (delivered late, after later messages).
    pub held: u64,
}

impl Links {
    /// No link cut; `faults` off until [`Links::set_message_faults`]; `seed` seeds each
    /// connection's draws.
    pub fn new(faults: MessageFaults, seed: u64) -> Arc<Links> {
        Arc::new(Links {
            cuts: Mutex::new(BTreeSet::new()),
            faults,
            faults_on: AtomicBool::new(false),
            seed,
            connections: AtomicU64::new(0),
            tally: Default::default(),
        })
    }

    /// Cuts the directed links `(from, to)` (node indices).
    pub fn cut_links(&self, links: impl IntoIterator<Item = (usize, usize)>) {
        if let Ok(mut cuts) = self.cuts.lock() {
            cuts.extend(links);
        }
    }

    /// Restores every cut link.
    pub fn heal(&self) {
        if let Ok(mut cuts) = self.cuts.lock() {
            cuts.clear();
        }
    }

    /// Turns the message faults on or off (nothing to do when the run has none).
    pub fn set_message_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::Relaxed);
    }

    /// The message faults this run injects.
    pub fn message_faults(&self) -> MessageFaults {
        self.faults
    }

    /// What the message faults did so far.
    pub fn tally(&self) -> MessageTally {
        let [messages, dropped, duplicated, held] =
            self.tally.each_ref().map(|c| c.load(Ordering::Relaxed));
        MessageTally {
            messages,
            dropped,
            duplicated,
            held,
        }
    }

    /// The fate of one message under the faults in force now, counted.
    fn fate(&self, rng: &mut ChaCha8Rng) -> Vec<Duration> {
        if !self.faults_on.load(Ordering::Relaxed) {
            return vec![Duration::ZERO];
        }
        let fate = self.faults.fate(rng);
        let counts = [
            1,
            u64::from(fate.is_empty()),
            u64::from(fate.len() > 1),
            fate.iter().filter(|d| !d.is_zero()).count() as u64,
        ];
        for (counter, n) in self.tally.iter().zip(counts) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
        fate
    }

    fn is_cut(&self, link: (usize, usize)) -> bool {
        self.cuts.lock().is_ok_and(|c| c.contains(&link))
    }
}

/// Forwards connections made to `listen` to `target` while `link` is not cut; cutting it
/// closes its open connections within 50 ms. The dialer's messages go through the message
/// faults; the handshake frames and the answers back pass unchanged. The proxy runs on its own
/// threads for the rest of the process.
pub fn start(
    listen: SocketAddr,
    target: SocketAddr,
    link: (usize, usize),
    links: Arc<Links>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    std::thread::spawn(move || {
        for incoming in listener.incoming() {
            let Ok(inbound) = incoming else { continue };
            if links.is_cut(link) {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            }
            let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_millis(500))
            else {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            };
            let _ = outbound.set_nodelay(true);
            let _ = inbound.set_nodelay(true);
            spawn_messages(&inbound, &outbound, link, links.clone());
            spawn_raw(&outbound, &inbound, link, links.clone());
        }
    });
    Ok(())
}

/// Copies bytes from `from` to `to` unchanged until either closes or the link is cut.
fn spawn_raw(from: &TcpStream, to: &TcpStream, link: (usize, usize), links: Arc<Links>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = from.set_read_timeout(Some(POLL));
        let mut buf = [0u8; 16 << 10];
        while !links.is_cut(link) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) if to.write_all(&buf[..n]).is_ok() => {}
                Ok(_) => break,
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A frame waiting for its delivery time; the heap pops the earliest (then the first sent).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: std::cmp::Reverse<(Instant, u64)>,
    bytes: Vec<u8>,
}

/// Reads the dialer's frames from `from` and hands each to a writer thread with its delivery
/// times (the message faults' fate); the writer sends them to `to` in delivery order.
fn spawn_messages(from: &TcpStream, to: &TcpStream, link: (usize, usize), links: Arc<Links>) {
    let (Ok(mut from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let (frames, queued) = channel::<(Instant, Vec<u8>)>();
    let writer_links = links.clone();
    let writer_to = to.try_clone();
    std::thread::spawn(move || {
        if let Ok(to) = writer_to {
            deliver(queued, to, link, &writer_links);
        }
    });
    std::thread::spawn(move || {
        let connection = links.connections.fetch_add(1, Ordering::Relaxed);
        let mut rng = ChaCha8Rng::seed_from_u64(
            links.seed ^ ((link.0 as u64) << 48) ^ ((link.1 as u64) << 40) ^ connection,
        );
        let _ = from.set_read_timeout(Some(POLL));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 << 10];
        let mut seen = 0usize;
        'read: while !links.is_cut(link) {
            match from.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => continue,
                Err(_) => break,
            }
            while let Some(len) = complete_frame(&buf) {
                let Some(len) = len else { break 'read };
                let frame: Vec<u8> = buf.drain(..len).collect();
                let now = Instant::now();
                let delays = if seen < DIALER_HANDSHAKE_FRAMES {
                    vec![Duration::ZERO]
                } else {
                    links.fate(&mut rng)
                };
                seen += 1;
                for delay in delays {
                    if frames.send((now + delay, frame.clone())).is_err() {
                        break 'read;
                    }
                }
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        drop(frames);
    });
}

/// The length (prefix included) of the first frame in `buf` if it is complete: `None` while
/// more bytes are needed, `Some(None)` for a length over the node's limit (the connection is
/// closed, as the node would).
fn complete_frame(buf: &[u8]) -> Option<Option<usize>> {
    let prefix: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(prefix);
    if len > MAX_FRAME {
        return Some(None);
    }
    let total = 4 + len as usize;
    (buf.len() >= total).then_some(Some(total))
}

/// Writes queued frames to `to` when they are due, earliest first, until the reader is done
/// and nothing is pending, the socket fails, or the link is cut.
fn deliver(
    queued: Receiver<(Instant, Vec<u8>)>,
    mut to: TcpStream,
    link: (usize, usize),
    links: &Links,
) {
    let mut pending = BinaryHeap::new();
    let mut order = 0u64;
    let mut reading = true;
    while !links.is_cut(link) && (reading || !pending.is_empty()) {
        let now = Instant::now();
        while let Some(Pending { due, .. }) = pending.peek() {
            if due.0 .0 > now {
                break;
            }
            let Some(Pending { bytes, .. }) = pending.pop() else {
                break;
            };
            if to.write_all(&bytes).is_err() {
                return;
            }
        }
        let wait = pending
            .peek()
            .map_or(POLL, |p: &Pending| {
                p.due.0 .0.saturating_duration_since(now)
            })
            .min(POLL);
        if !reading {
            std::thread::sleep(wait);
            continue;
        }
        match queued.recv_timeout(wait) {
            Ok((due, bytes)) => {
                order += 1;
                pending.push(Pending {
                    due: std::cmp::Reverse((due, order)),
                    bytes,
                });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => reading = false,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Sender;

    fn queue(sender: &Sender<(Instant, Vec<u8>)>, due: Instant, bytes: &[u8]) {
        let _ = sender.send((due, bytes.to_vec()));
    }

    #[test]
    fn frames_are_recognised_by_their_length_prefix() {
        assert_eq!(complete_frame(&[0, 0]), None);
        assert_eq!(complete_frame(&[0, 0, 0, 2, 9]), None);
        assert_eq!(complete_frame(&[0, 0, 0, 2, 9, 9, 7]), Some(Some(6)));
        assert_eq!(complete_frame(&[0xff, 0xff, 0xff, 0xff]), Some(None));
    }

    #[test]
    fn fates_follow_the_simulator_rates() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let all = MessageFaults {
            drop: true,
            duplicate: true,
            reorder: true,
        };
        let trials = 200_000;
        let (mut dropped, mut doubled, mut held, mut copies) = (0, 0, 0, 0);
        for _ in 0..trials {
            let fate = all.fate(&mut rng);
            dropped += usize::from(fate.is_empty());
            doubled += usize::from(fate.len() == 2);
            held += fate.iter().filter(|d| !d.is_zero()).count();
            copies += fate.len();
            assert!(fate.iter().all(|d| *d < REORDER_MAX_HOLD));
        }
        let rate = |k: usize, of: usize| k as f64 / of as f64;
        assert!((rate(dropped, trials) - message_rates::DROP).abs() < 0.002);
        assert!(
            (rate(doubled, trials - dropped) - message_rates::DUPLICATE).abs() < 0.002,
            "{doubled}"
        );
        assert!((rate(held, copies) - message_rates::REORDER).abs() < 0.003);
        // With no class on, every message goes through once, at once.
        let none = MessageFaults::default();
        assert!((0..1000).all(|_| none.fate(&mut rng) == vec![Duration::ZERO]));
    }

    #[test]
    fn the_writer_delivers_in_due_order_so_held_frames_are_overtaken() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let to = TcpStream::connect(addr).expect("connect");
        let (mut far, _) = listener.accept().expect("accept");
        let links = Links::new(MessageFaults::default(), 1);
        let (sender, queued) = channel();
        let now = Instant::now();
        queue(&sender, now + Duration::from_millis(80), b"held ");
        queue(&sender, now, b"first ");
        queue(&sender, now + Duration::from_millis(10), b"second ");
        drop(sender);
        deliver(queued, to, (0, 1), &links);
        let mut got = String::new();
        far.read_to_string(&mut got).expect("read");
        assert_eq!(got, "first second held ");
    }

    #[test]
    fn a_cut_link_stops_delivery() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let to = TcpStream::connect(addr).expect("connect");
        let (mut far, _) = listener.accept().expect("accept");
        let links = Links::new(MessageFaults::default(), 1);
        links.cut_links([(0, 1), (1, 0)]);
        let (sender, queued) = channel();
        queue(&sender, Instant::now(), b"never");
        deliver(queued, to, (0, 1), &links);
        let mut got = Vec::new();
        let _ = far.read_to_end(&mut got);
        assert!(got.is_empty());
        links.heal();
        assert!(!links.is_cut((0, 1)));
    }
}
