//! Fault-injecting TCP proxies, one per directed peer link: a cut link drops its connection and
//! refuses new ones until healed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The links cut now, as (from node index, to node index).
pub type Cuts = Arc<Mutex<BTreeSet<(usize, usize)>>>;

fn is_cut(cuts: &Cuts, link: (usize, usize)) -> bool {
    cuts.lock().is_ok_and(|c| c.contains(&link))
}

/// Forwards connections made to `listen` to `target` while `link` is not cut; cutting it
/// closes its open connections within 50 ms. The proxy runs on its own threads for the rest of
/// the process.
pub fn start(
    listen: SocketAddr,
    target: SocketAddr,
    link: (usize, usize),
    cuts: Cuts,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    std::thread::spawn(move || {
        for incoming in listener.incoming() {
            let Ok(inbound) = incoming else { continue };
            if is_cut(&cuts, link) {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            }
            let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_millis(500))
            else {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            };
            for (from, to) in [(&inbound, &outbound), (&outbound, &inbound)] {
                let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
                    continue;
                };
                let cuts = cuts.clone();
                std::thread::spawn(move || {
                    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
                    let mut buf = [0u8; 16 << 10];
                    loop {
                        if is_cut(&cuts, link) {
                            break;
                        }
                        match from.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                    }
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        }
    });
    Ok(())
}
