//! Message authentication: a key per pair of replicas (derived from a cluster secret), an
//! HMAC-SHA256 over every envelope, and a replay window per sender. A replica holds only the
//! keys of the pairs it belongs to, so it cannot produce a valid message in another replica's
//! name.

use super::messages::{Body, Digest, Envelope};
use crate::types::NodeId;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};

type HmacSha256 = Hmac<Sha256>;

/// Counters past which a sender's window forgets the oldest nonces it saw.
const REPLAY_WINDOW: usize = 4096;

/// One replica's keys: the secret it shares with each other replica.
#[derive(Clone)]
pub struct Keys {
    id: NodeId,
    pair: BTreeMap<NodeId, [u8; 32]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Keys {{ id: {}, pairs: {} }}", self.id, self.pair.len())
    }
}

fn pair_key(secret: &[u8; 32], a: NodeId, b: NodeId) -> [u8; 32] {
    let (low, high) = (a.min(b), a.max(b));
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"distsys-pbft-pair");
    mac.update(&low.to_le_bytes());
    mac.update(&high.to_le_bytes());
    mac.finalize().into_bytes().into()
}

#[derive(Serialize)]
struct Signed<'a> {
    from: NodeId,
    to: NodeId,
    epoch: u64,
    counter: u64,
    body: &'a Body,
}

impl Keys {
    /// Replica `id`'s keys for a cluster of `nodes` sharing `secret`.
    pub fn derive(secret: &[u8; 32], id: NodeId, nodes: &[NodeId]) -> Keys {
        let pair = nodes
            .iter()
            .filter(|&&other| other != id)
            .map(|&other| (other, pair_key(secret, id, other)))
            .collect();
        Keys { id, pair }
    }

    /// The replica these keys belong to.
    pub fn id(&self) -> NodeId {
        self.id
    }

    fn mac(
        &self,
        peer: NodeId,
        from: NodeId,
        to: NodeId,
        epoch: u64,
        counter: u64,
        body: &Body,
    ) -> Option<Digest> {
        let key = self.pair.get(&peer)?;
        let bytes = postcard::to_allocvec(&Signed {
            from,
            to,
            epoch,
            counter,
            body,
        })
        .ok()?;
        let mut mac = HmacSha256::new_from_slice(key).ok()?;
        mac.update(&bytes);
        Some(mac.finalize().into_bytes().into())
    }

    /// An envelope from this replica to `to`, authenticated with their pair key.
    pub fn seal(&self, to: NodeId, epoch: u64, counter: u64, body: Body) -> Envelope {
        let mac = self
            .mac(to, self.id, to, epoch, counter, &body)
            .unwrap_or([0; 32]);
        Envelope {
            from: self.id,
            to,
            epoch,
            counter,
            body,
            mac,
        }
    }

    /// An envelope claiming to come from `claimed` but authenticated with this replica's own key
    /// for `to`: what a forger can produce (tests and the byzantine adversary).
    pub fn forge(
        &self,
        claimed: NodeId,
        to: NodeId,
        epoch: u64,
        counter: u64,
        body: Body,
    ) -> Envelope {
        let mac = self
            .mac(to, claimed, to, epoch, counter, &body)
            .unwrap_or([0; 32]);
        Envelope {
            from: claimed,
            to,
            epoch,
            counter,
            body,
            mac,
        }
    }

    /// Whether `envelope` was addressed to this replica and produced by its claimed sender (the
    /// only other holder of their pair key). Constant-time comparison.
    pub fn verify(&self, envelope: &Envelope) -> bool {
        if envelope.to != self.id {
            return false;
        }
        let Some(key) = self.pair.get(&envelope.from) else {
            return false;
        };
        let Ok(bytes) = postcard::to_allocvec(&Signed {
            from: envelope.from,
            to: envelope.to,
            epoch: envelope.epoch,
            counter: envelope.counter,
            body: &envelope.body,
        }) else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
            return false;
        };
        mac.update(&bytes);
        mac.verify_slice(&envelope.mac).is_ok()
    }
}

/// Which nonces a replica has already accepted from one sender: a newer epoch resets the window;
/// within an epoch a nonce is accepted once, and nonces older than the window are refused.
#[derive(Debug, Clone, Default, Hash)]
pub struct ReplayWindow {
    epoch: u64,
    floor: u64,
    seen: BTreeSet<u64>,
}

impl ReplayWindow {
    /// Records `(epoch, counter)`; false if it was seen before or is too old (a replay).
    pub fn accept(&mut self, epoch: u64, counter: u64) -> bool {
        if epoch < self.epoch {
            return false;
        }
        if epoch > self.epoch {
            *self = ReplayWindow {
                epoch,
                ..ReplayWindow::default()
            };
        }
        if counter < self.floor || !self.seen.insert(counter) {
            return false;
        }
        while self.seen.len() > REPLAY_WINDOW {
            if let Some(oldest) = self.seen.pop_first() {
                self.floor = oldest + 1;
            }
        }
        true
    }
}

/// Messages a replica refused, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejections {
    /// Bad MAC, wrong receiver or unknown sender: forged or altered.
    pub forged: u64,
    /// A nonce already seen (or too old): replayed.
    pub replayed: u64,
    /// A request, state or view-change entry whose content does not match its digest.
    pub bad_digest: u64,
    /// A second, different pre-prepare for a sequence number in the same view (equivocation).
    pub equivocation: u64,
    /// A new-view whose decision does not follow from its view-change messages.
    pub bad_new_view: u64,
}

impl Rejections {
    /// Every rejection.
    pub fn total(&self) -> u64 {
        self.forged + self.replayed + self.bad_digest + self.equivocation + self.bad_new_view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pair_can_authenticate() {
        let nodes = [1, 2, 3, 4];
        let secret = [9; 32];
        let k1 = Keys::derive(&secret, 1, &nodes);
        let k2 = Keys::derive(&secret, 2, &nodes);
        let k3 = Keys::derive(&secret, 3, &nodes);
        let body = Body::Checkpoint {
            seq: 16,
            digest: [1; 32],
        };
        let good = k1.seal(2, 0, 1, body.clone());
        assert!(k2.verify(&good));
        // Not addressed to 3.
        assert!(!k3.verify(&good));
        // Altered in flight.
        let mut altered = good.clone();
        altered.body = Body::Checkpoint {
            seq: 32,
            digest: [1; 32],
        };
        assert!(!k2.verify(&altered));
        // Replica 3 claiming to be 1.
        let forged = k3.forge(1, 2, 0, 1, body);
        assert!(!k2.verify(&forged));
        // Another cluster's secret.
        let stranger = Keys::derive(&[8; 32], 1, &nodes);
        assert!(!k2.verify(&stranger.seal(2, 0, 1, good.body.clone())));
    }

    #[test]
    fn replay_window_accepts_each_nonce_once() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(0, 5));
        assert!(w.accept(0, 3), "reordered but new");
        assert!(!w.accept(0, 5), "replayed");
        assert!(w.accept(1, 1), "new epoch after a restart");
        assert!(!w.accept(0, 9), "old epoch");
        for c in 2..(REPLAY_WINDOW as u64 + 10) {
            assert!(w.accept(1, c));
        }
        assert!(!w.accept(1, 1), "older than the window");
    }
}
