//! Length-prefixed frames (a 4-byte big-endian length, then a postcard payload) and the peer
//! handshake: both sides prove they hold the cluster key with an HMAC-SHA256 over fresh nonces,
//! so a process without the key can neither join nor send messages.

use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest frame accepted: a bigger length closes the connection.
pub const MAX_FRAME: u32 = 64 << 20;

/// Frames the dialing side of a peer connection sends before its first protocol message (the
/// handshake's hello and proof); after them, every frame it sends is one protocol message. A
/// proxy that drops, duplicates or delays messages (the chaos runner's) passes these through.
pub const DIALER_HANDSHAKE_FRAMES: usize = 2;

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed or closed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A frame longer than the limit in force (the second field).
    #[error("frame of {0} bytes is over the {1}-byte limit")]
    TooLong(u32, u32),
    /// A payload that does not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The peer does not hold the cluster key (or is not a member).
    #[error("handshake refused: {0}")]
    Refused(&'static str),
}

/// Largest handshake frame (a hello, a challenge or a proof is under 64 bytes): what an
/// unauthenticated peer connection may make the node read.
pub const MAX_HANDSHAKE_FRAME: u32 = 256;

/// Reads one frame of at most [`MAX_FRAME`] bytes and decodes it.
pub async fn read_frame<T: DeserializeOwned, R: AsyncReadExt + Unpin>(
    reader: &mut R,
) -> Result<T, FrameError> {
    read_frame_within(reader, MAX_FRAME).await
}

/// Reads one frame of at most `max` bytes and decodes it. Memory grows with the bytes that
/// actually arrive, not with the length the sender announced.
pub async fn read_frame_within<T: DeserializeOwned, R: AsyncReadExt + Unpin>(
    reader: &mut R,
    max: u32,
) -> Result<T, FrameError> {
    let buf = read_raw_frame(reader, max).await?;
    postcard::from_bytes(&buf).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Reads one frame's payload of at most `max` bytes. Memory grows with the bytes that
/// actually arrive, not with the length the sender announced.
pub async fn read_raw_frame<R: AsyncReadExt + Unpin>(
    reader: &mut R,
    max: u32,
) -> Result<Vec<u8>, FrameError> {
    let len = reader.read_u32().await?;
    if len > max {
        return Err(FrameError::TooLong(len, max));
    }
    let mut buf = Vec::with_capacity((len as usize).min(64 << 10));
    reader.take(u64::from(len)).read_to_end(&mut buf).await?;
    if buf.len() != len as usize {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(buf)
}

/// Encodes and writes one frame.
pub async fn write_frame<T: Serialize, W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    value: &T,
) -> Result<(), FrameError> {
    let bytes = postcard::to_allocvec(value).map_err(|e| FrameError::Malformed(e.to_string()))?;
    write_raw_frame(writer, &bytes).await
}

/// Writes one frame whose payload is `payload` (its length first).
pub async fn write_raw_frame<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    payload: &[u8],
) -> Result<(), FrameError> {
    writer.write_u32(payload.len() as u32).await?;
    writer.write_all(payload).await?;
    Ok(())
}

/// The peer wire this node speaks after the handshake: 2 is tagged frames (a whole message or
/// a piece of one, `pieces.rs`); 1 was one untagged message per frame.
pub const WIRE_VERSION: u32 = 2;

/// Handshake messages. A node of another wire version is refused at the hello: a node of
/// wire 1 would read a tagged frame as a different message, so the two must never talk.
#[derive(Debug, Serialize, Deserialize)]
pub enum Handshake {
    /// The hello of a wire-1 node (who it is and its nonce): refused.
    HelloWire1 { from: u64, nonce: [u8; 16] },
    /// The accepting node's nonce and its proof.
    Challenge { nonce: [u8; 16], mac: [u8; 32] },
    /// The connecting node's proof.
    Proof { mac: [u8; 32] },
    /// The connecting node: its wire version, who it is and its nonce. A new variant, so a
    /// wire-1 node cannot decode it and refuses the connection.
    Hello {
        wire: u32,
        from: u64,
        nonce: [u8; 16],
    },
}

/// HMAC-SHA256 of a handshake transcript under the cluster key.
pub fn proof(key: &[u8], role: &[u8], from: u64, client: &[u8; 16], server: &[u8; 16]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(role);
    mac.update(&from.to_be_bytes());
    mac.update(client);
    mac.update(server);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of a proof.
pub fn verify(
    key: &[u8],
    role: &[u8],
    from: u64,
    client: &[u8; 16],
    server: &[u8; 16],
    given: &[u8; 32],
) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(role);
    mac.update(&from.to_be_bytes());
    mac.update(client);
    mac.update(server);
    mac.verify_slice(given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes on the wire either decode to a frame or give an error; never a panic, and
        /// never an allocation beyond the limit.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(async {
                let mut reader = bytes.as_slice();
                let _ = read_frame::<distsys_consensus::Message, _>(&mut reader).await;
                let mut reader = bytes.as_slice();
                let _ = read_frame::<Handshake, _>(&mut reader).await;
            });
        }
    }

    #[test]
    fn a_frame_round_trips_and_an_oversized_one_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut buf = Vec::new();
            let m = distsys_consensus::Message::TimeoutNow { term: 7 };
            write_frame(&mut buf, &m).await.expect("write");
            let back: distsys_consensus::Message =
                read_frame(&mut buf.as_slice()).await.expect("read");
            assert_eq!(back, m);
            let huge = (MAX_FRAME + 1).to_be_bytes();
            let r = read_frame::<distsys_consensus::Message, _>(&mut huge.as_slice()).await;
            assert!(matches!(r, Err(FrameError::TooLong(_, MAX_FRAME))));
            // Before the handshake: a 64 MiB announcement is refused from its four bytes.
            let big = (MAX_FRAME - 1).to_be_bytes();
            let r =
                read_frame_within::<Handshake, _>(&mut big.as_slice(), MAX_HANDSHAKE_FRAME).await;
            assert!(matches!(
                r,
                Err(FrameError::TooLong(_, MAX_HANDSHAKE_FRAME))
            ));
            // A length announced but never sent: an error, without allocating the length.
            let mut short = 1000u32.to_be_bytes().to_vec();
            short.extend_from_slice(&[0; 10]);
            let r = read_frame::<distsys_consensus::Message, _>(&mut short.as_slice()).await;
            assert!(matches!(r, Err(FrameError::Io(_))), "{r:?}");
        });
    }

    #[test]
    fn only_the_key_holder_proves() {
        let (c, s) = ([1; 16], [2; 16]);
        let p = proof(b"0123456789abcdef", b"client", 3, &c, &s);
        assert!(verify(b"0123456789abcdef", b"client", 3, &c, &s, &p));
        assert!(!verify(b"another key.....", b"client", 3, &c, &s, &p));
        assert!(!verify(b"0123456789abcdef", b"client", 4, &c, &s, &p));
        assert!(!verify(b"0123456789abcdef", b"server", 3, &c, &s, &p));
    }
}
