//! A small blocking Redis-protocol client for the chaos clients and the cluster benchmark:
//! one connection per node, opened on demand and dropped on any error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A reply from a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `+...`
    Simple(String),
    /// `-...`
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$...` or nil
    Bulk(Option<String>),
}

fn read_answer(reader: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad reply");
    let (kind, rest) = line.split_at(line.len().min(1));
    Ok(match kind {
        "+" => Answer::Simple(rest.to_string()),
        "-" => Answer::Error(rest.to_string()),
        ":" => Answer::Integer(rest.parse().map_err(|_| bad())?),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                Answer::Bulk(None)
            } else {
                let mut buf = vec![0; len as usize + 2];
                reader.read_exact(&mut buf)?;
                buf.truncate(len as usize);
                Answer::Bulk(Some(String::from_utf8_lossy(&buf).into_owned()))
            }
        }
        _ => return Err(bad()),
    })
}

/// A client's connections, one per node, opened on demand.
pub struct Connections {
    /// Client addresses of the nodes.
    pub addrs: Vec<SocketAddr>,
    open: Vec<Option<(TcpStream, BufReader<TcpStream>)>>,
}

impl Connections {
    /// Connections to `addrs`, none open yet.
    pub fn new(addrs: Vec<SocketAddr>) -> Connections {
        Connections {
            open: (0..addrs.len()).map(|_| None).collect(),
            addrs,
        }
    }

    /// Sends one command to node `node` and reads its reply.
    pub fn call(&mut self, node: usize, args: &[&str]) -> std::io::Result<Answer> {
        if self.open[node].is_none() {
            let stream = TcpStream::connect_timeout(&self.addrs[node], Duration::from_millis(500))?;
            stream.set_read_timeout(Some(Duration::from_secs(3)))?;
            stream.set_write_timeout(Some(Duration::from_secs(3)))?;
            stream.set_nodelay(true)?;
            let reader = BufReader::new(stream.try_clone()?);
            self.open[node] = Some((stream, reader));
        }
        let mut wire = format!("*{}\r\n", args.len());
        for a in args {
            wire.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        let result = match self.open[node].as_mut() {
            Some((stream, reader)) => stream
                .write_all(wire.as_bytes())
                .and_then(|()| read_answer(reader)),
            None => Err(std::io::Error::other("not connected")),
        };
        if result.is_err() {
            self.open[node] = None;
        }
        result
    }
}
