//! Protocol messages on the peer wire: a message goes in one frame when it fits, and in pieces
//! when it does not. A frame is at most [`MAX_FRAME`] bytes (what the reader of an
//! authenticated peer commits to read), but a snapshot of a large state machine is more: sent
//! whole it was refused by every receiver, so a follower behind the leader's compaction point
//! could never catch up once the state passed 64 MiB.
//!
//! After the handshake every frame's payload starts with a tag byte:
//! - `0`, then the postcard encoding of one message;
//! - `1`, then a piece: the message's id on this connection, its total length and the piece's
//!   offset (each u64 little-endian), then the bytes: pieces of [`PIECE_BYTES`] (the last one
//!   shorter) of the message's postcard encoding.
//!
//! Frames are opaque to a frame-level proxy, which may drop, duplicate or reorder them: the
//! reader places each piece by its offset, ignores a piece it already holds and pieces of an
//! older message, gives up an unfinished message when a newer one starts (its sender resends
//! what matters, as for a lost message), and hands a message on once every byte arrived. A
//! piece that contradicts its message (another length, an offset off the grid, a wrong size) or
//! a message over [`MAX_MESSAGE`] is malformed: it closes the connection.

use crate::frame::{read_raw_frame, write_raw_frame, FrameError, MAX_FRAME};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of a message per piece (the last piece of a message is shorter). Large enough that a
/// snapshot is few frames (each frame a proxy may drop), well under [`MAX_FRAME`].
pub const PIECE_BYTES: usize = 16 << 20;

/// The largest message the wire carries (in pieces). The receiver holds a message whole until
/// it decodes it, so this bounds what one peer can make it hold.
pub const MAX_MESSAGE: u64 = 4 << 30;

/// The sizes a writer and a reader agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireLimits {
    /// Largest frame payload.
    pub frame: usize,
    /// Bytes of a message per piece.
    pub piece: usize,
    /// Largest message.
    pub max_message: u64,
}

impl WireLimits {
    /// The peer wire's: [`MAX_FRAME`], [`PIECE_BYTES`], [`MAX_MESSAGE`].
    pub const PEER: WireLimits = WireLimits {
        frame: MAX_FRAME as usize,
        piece: PIECE_BYTES,
        max_message: MAX_MESSAGE,
    };
}

impl Default for WireLimits {
    fn default() -> Self {
        WireLimits::PEER
    }
}

const WHOLE: u8 = 0;
const PIECE: u8 = 1;
/// Tag, id, total length, offset.
const PIECE_HEADER: usize = 1 + 8 + 8 + 8;

/// Writes messages to one connection, numbering those sent in pieces.
#[derive(Debug, Default)]
pub struct MessageWriter {
    limits: WireLimits,
    next_id: u64,
}

/// A message too large for one frame, on its way in pieces ([`MessageWriter::write_piece`]).
#[derive(Debug)]
pub struct Pieced {
    id: u64,
    /// The whole-frame tag, then the message's encoding (the tag is not sent with pieces).
    bytes: Vec<u8>,
    /// Where the next piece starts.
    next: usize,
}

impl MessageWriter {
    /// A writer with other limits than the peer wire's (tests).
    #[cfg(test)]
    pub fn with_limits(limits: WireLimits) -> Self {
        MessageWriter { limits, next_id: 0 }
    }

    /// Writes `message`: one frame if its encoding fits in a frame, all its pieces otherwise
    /// (up to the largest message; a larger one is an error and nothing is written). The
    /// transport sends pieces one at a time instead ([`Self::start`]); tests write whole.
    #[cfg(test)]
    pub async fn write<T: Serialize, W: AsyncWriteExt + Unpin>(
        &mut self,
        writer: &mut W,
        message: &T,
    ) -> Result<(), FrameError> {
        if let Some(mut pieced) = self.start(writer, message).await? {
            while !self.write_piece(writer, &mut pieced).await? {}
        }
        Ok(())
    }

    /// Writes `message` in one frame if it fits; otherwise writes nothing and returns it
    /// numbered and encoded, for [`Self::write_piece`] to send piece by piece (so that other
    /// messages can go between its pieces instead of waiting behind all of them). A message
    /// over the largest one is an error.
    pub async fn start<T: Serialize, W: AsyncWriteExt + Unpin>(
        &mut self,
        writer: &mut W,
        message: &T,
    ) -> Result<Option<Pieced>, FrameError> {
        let whole = postcard::to_extend(message, vec![WHOLE])
            .map_err(|e| FrameError::Malformed(e.to_string()))?;
        let limits = self.limits;
        if whole.len() <= limits.frame {
            write_raw_frame(writer, &whole).await?;
            return Ok(None);
        }
        let total = whole.len() as u64 - 1;
        if total > limits.max_message {
            return Err(FrameError::Malformed(format!(
                "a message of {total} bytes is over the wire's {}-byte limit",
                limits.max_message
            )));
        }
        self.next_id += 1;
        Ok(Some(Pieced {
            id: self.next_id,
            bytes: whole,
            next: 0,
        }))
    }

    /// Writes the next piece of `pieced`; true once its last piece is written.
    pub async fn write_piece<W: AsyncWriteExt + Unpin>(
        &mut self,
        writer: &mut W,
        pieced: &mut Pieced,
    ) -> Result<bool, FrameError> {
        let encoding = &pieced.bytes[1..];
        let total = encoding.len();
        let offset = pieced.next;
        let end = (offset + self.limits.piece).min(total);
        let piece = &encoding[offset..end];
        writer
            .write_u32((PIECE_HEADER + piece.len()) as u32)
            .await?;
        writer.write_u8(PIECE).await?;
        writer.write_all(&pieced.id.to_le_bytes()).await?;
        writer.write_all(&(total as u64).to_le_bytes()).await?;
        writer.write_all(&(offset as u64).to_le_bytes()).await?;
        writer.write_all(piece).await?;
        pieced.next = end;
        Ok(end == total)
    }
}

/// A message arriving in pieces.
#[derive(Debug)]
struct Reassembly {
    id: u64,
    bytes: Vec<u8>,
    /// Which pieces arrived.
    arrived: Vec<bool>,
    missing: usize,
}

/// Reads messages from one connection, putting pieces back together.
#[derive(Debug, Default)]
pub struct MessageReader {
    limits: WireLimits,
    current: Option<Reassembly>,
    /// The newest message id seen in pieces: pieces of older ones are stale.
    newest: u64,
}

impl MessageReader {
    /// A reader with other limits than the peer wire's (tests).
    #[cfg(test)]
    pub fn with_limits(limits: WireLimits) -> Self {
        MessageReader {
            limits,
            ..MessageReader::default()
        }
    }

    /// Reads frames until a whole message is there, and decodes it.
    pub async fn read<T: DeserializeOwned, R: AsyncReadExt + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> Result<T, FrameError> {
        loop {
            let frame = read_raw_frame(reader, self.limits.frame as u32).await?;
            if let Some(message) = self.accept(&frame)? {
                return message;
            }
        }
    }

    /// Takes one frame's payload: the message it completes (decoded, or the decoding error),
    /// or None while pieces are missing.
    fn accept<T: DeserializeOwned>(
        &mut self,
        frame: &[u8],
    ) -> Result<Option<Result<T, FrameError>>, FrameError> {
        let decode = |bytes: &[u8]| {
            postcard::from_bytes(bytes).map_err(|e| FrameError::Malformed(e.to_string()))
        };
        match frame.split_first() {
            Some((&WHOLE, message)) => Ok(Some(decode(message))),
            Some((&PIECE, _)) => Ok(self.piece(frame)?.map(|bytes| decode(&bytes))),
            _ => Err(FrameError::Malformed("unknown frame tag".into())),
        }
    }

    /// Places one piece; the message's bytes once it is complete.
    fn piece(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let malformed = |why: &str| FrameError::Malformed(format!("message piece: {why}"));
        if frame.len() < PIECE_HEADER {
            return Err(malformed("shorter than its header"));
        }
        let field = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&frame[at..at + 8]);
            u64::from_le_bytes(le)
        };
        let (id, total, offset) = (field(1), field(9), field(17));
        let bytes = &frame[PIECE_HEADER..];
        let (piece, limits) = (self.limits.piece as u64, self.limits);
        if total > limits.max_message || total < limits.frame as u64 {
            return Err(malformed(
                "a length that needs no pieces or is over the limit",
            ));
        }
        let pieces = total.div_ceil(piece) as usize;
        let index = offset / piece;
        let expected = (total - offset.min(total)).min(piece);
        if offset % piece != 0 || offset >= total || bytes.len() as u64 != expected {
            return Err(malformed("an offset or size off the message's pieces"));
        }
        if id < self.newest {
            return Ok(None);
        }
        if id > self.newest {
            // A newer message: any unfinished older one is given up.
            self.newest = id;
            self.current = Some(Reassembly {
                id,
                // Zeroed memory from the allocator: pages are touched only as pieces land.
                bytes: vec![0; total as usize],
                arrived: vec![false; pieces],
                missing: pieces,
            });
        }
        let Some(current) = self.current.as_mut().filter(|c| c.id == id) else {
            return Ok(None);
        };
        if current.bytes.len() as u64 != total {
            return Err(malformed("another length than its message's"));
        }
        let index = index as usize;
        if !current.arrived[index] {
            current.arrived[index] = true;
            current.missing -= 1;
            let start = offset as usize;
            current.bytes[start..start + bytes.len()].copy_from_slice(bytes);
        }
        if current.missing > 0 {
            return Ok(None);
        }
        Ok(self.current.take().map(|c| c.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Small limits, so messages of a few hundred bytes come in many pieces.
    const SMALL: WireLimits = WireLimits {
        frame: 64,
        piece: 16,
        max_message: 4096,
    };

    /// A message's frames as the writer sends them.
    fn frames_of(message: &Vec<u8>, writer: &mut MessageWriter) -> Vec<Vec<u8>> {
        let mut wire = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(writer.write(&mut wire, message))
            .expect("write");
        let mut frames = Vec::new();
        let mut rest = wire.as_slice();
        while !rest.is_empty() {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            assert!(len <= writer.limits.frame, "a frame over the limit");
            frames.push(rest[4..4 + len].to_vec());
            rest = &rest[4 + len..];
        }
        frames
    }

    fn deliver(reader: &mut MessageReader, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        frames
            .iter()
            .filter_map(|f| reader.accept::<Vec<u8>>(f).expect("well formed"))
            .map(|m| m.expect("decodes"))
            .collect()
    }

    #[test]
    fn a_message_over_the_frame_limit_of_the_peer_wire_arrives_whole() {
        // The case that broke: a snapshot over 64 MiB.
        let mut writer = MessageWriter::default();
        let large: Vec<u8> = (0..(MAX_FRAME as usize + PIECE_BYTES + 7))
            .map(|i| (i % 251) as u8)
            .collect();
        let frames = frames_of(&large, &mut writer);
        assert_eq!(frames.len(), 6);
        let mut reader = MessageReader::default();
        assert_eq!(deliver(&mut reader, &frames), vec![large]);
        let small = vec![7u8; 1000];
        assert_eq!(frames_of(&small, &mut writer).len(), 1);
    }

    #[test]
    fn lost_duplicated_reordered_and_superseded_pieces() {
        let mut writer = MessageWriter::with_limits(SMALL);
        let (first, second) = (vec![1u8; 200], vec![2u8; 205]);
        let (a, b) = (
            frames_of(&first, &mut writer),
            frames_of(&second, &mut writer),
        );
        // Reordered and duplicated: still one message, once.
        let mut reader = MessageReader::with_limits(SMALL);
        let mut shuffled: Vec<Vec<u8>> = a.iter().rev().cloned().collect();
        shuffled.insert(1, a[0].clone());
        shuffled.push(a[1].clone());
        assert_eq!(deliver(&mut reader, &shuffled), vec![first]);
        // A lost piece: the message never completes, and the next one supersedes it; a late
        // piece of the old one is ignored.
        let mut reader = MessageReader::with_limits(SMALL);
        assert!(deliver(&mut reader, &a[1..]).is_empty());
        assert_eq!(deliver(&mut reader, &b), vec![second]);
        assert!(deliver(&mut reader, &a[..1]).is_empty());
    }

    #[test]
    fn pieces_that_contradict_their_message_close_the_connection() {
        let mut writer = MessageWriter::with_limits(SMALL);
        let pieces = frames_of(&vec![3u8; 100], &mut writer);
        let bad = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut frame = pieces[0].clone();
            edit(&mut frame);
            frame
        };
        let mut reader = MessageReader::with_limits(SMALL);
        for frame in [
            bad(&|f| f.truncate(10)),
            bad(&|f| f[17] = 1), // offset off the grid
            bad(&|f| {
                f.pop();
            }), // wrong size
            bad(&|f| f[9..17].copy_from_slice(&10u64.to_le_bytes())), // needs no pieces
            bad(&|f| f[9..17].copy_from_slice(&(SMALL.max_message + 1).to_le_bytes())),
            bad(&|f| f[0] = 9),
        ] {
            assert!(reader.accept::<Vec<u8>>(&frame).is_err());
        }
        // A piece of the same message with another length.
        assert!(reader
            .accept::<Vec<u8>>(&pieces[0])
            .expect("fine")
            .is_none());
        let longer = frames_of(&vec![3u8; 120], &mut MessageWriter::with_limits(SMALL));
        assert!(reader.accept::<Vec<u8>>(&longer[1]).is_err());
        // Too large to send: an error, nothing written.
        let mut wire = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let too_large = rt.block_on(writer.write(&mut wire, &vec![0u8; 5000]));
        assert!(too_large.is_err() && wire.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever a frame-level proxy does to the pieces of a message (reorder, duplicate),
        /// the reader hands on exactly that message, once; with a piece lost, nothing.
        #[test]
        fn any_reordering_and_duplication_gives_the_message_once(
            message in proptest::collection::vec(any::<u8>(), 64..1000),
            order in proptest::collection::vec(any::<u16>(), 1..200),
            lose in any::<bool>(),
        ) {
            let frames = frames_of(&message, &mut MessageWriter::with_limits(SMALL));
            // Every piece at least once (unless one is lost), in an arbitrary order, with
            // arbitrary repeats.
            let mut sent: Vec<usize> = (0..frames.len()).collect();
            sent.extend(order.iter().map(|&o| o as usize % frames.len()));
            let mut keyed: Vec<(u16, usize)> = sent
                .iter()
                .enumerate()
                .map(|(i, &f)| (order.get(i % order.len()).copied().unwrap_or(0), f))
                .collect();
            keyed.sort();
            let mut shuffled: Vec<Vec<u8>> = keyed.iter().map(|&(_, f)| frames[f].clone()).collect();
            if lose {
                let lost = frames[order[0] as usize % frames.len()].clone();
                shuffled.retain(|f| *f != lost);
            }
            let got = deliver(&mut MessageReader::with_limits(SMALL), &shuffled);
            if lose {
                prop_assert!(got.is_empty());
            } else {
                prop_assert_eq!(got, vec![message]);
            }
        }

        /// Arbitrary frames are a message, a piece held, or an error: never a panic.
        #[test]
        fn arbitrary_frames_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut reader = MessageReader::with_limits(SMALL);
            let _ = reader.accept::<distsys_consensus::Message>(&frame);
        }
    }
}
