//! The simulated network: loss, duplication, latency with jitter, reordering, the byzantine
//! rewrite of what controlled replicas send, and answers back to clients.

use super::{micros, EventKind, Sim, MS};
use crate::faults::{message_rates, Fault};
use crate::protocol::{ByzantineAdversary, Simulated};
use distsys_consensus::replica::ClientReply;
use distsys_consensus::NodeId;
use rand::RngExt;

impl<C: Simulated> Sim<C> {
    pub(super) fn send(&mut self, from: NodeId, to: NodeId, message: C::Message) {
        if let Some(adversary) = self.adversary.as_mut().filter(|a| a.controls(from)) {
            for (to, message, delay) in adversary.outgoing(&mut self.rng, to, message) {
                self.transmit(from, to, message, delay);
            }
            return;
        }
        self.transmit(from, to, message, 0);
    }

    /// Puts a message on the network (loss, duplication, latency, reordering apply).
    pub(super) fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        message: C::Message,
        extra_delay: u64,
    ) {
        self.report.messages += 1;
        let faults = &self.config.faults;
        if faults.has(Fault::Drop)
            && self.now < self.faults_end_us
            && self.rng.random_bool(message_rates::DROP)
        {
            return;
        }
        let copies =
            if faults.has(Fault::Duplicate) && self.rng.random_bool(message_rates::DUPLICATE) {
                2
            } else {
                1
            };
        for _ in 0..copies {
            let delay = self.link_delay() + extra_delay;
            let at = self.now + delay;
            self.schedule(
                at,
                EventKind::Deliver {
                    from,
                    to,
                    message: message.clone(),
                },
            );
        }
    }

    pub(super) fn link_delay(&mut self) -> u64 {
        let base = micros(self.config.latency_ms);
        let jitter = self.rng.random_range(0.75..1.5);
        let mut delay = (base as f64 * jitter) as u64;
        if self.config.faults.has(Fault::Reorder)
            && self.now < self.faults_end_us
            && self.rng.random_bool(message_rates::REORDER)
        {
            delay += self
                .rng
                .random_range(0..message_rates::REORDER_MAX_LATENCIES * base.max(MS));
        }
        delay.max(1)
    }

    /// Sends answers back to clients. A connection number is `client << 8 | attempt`, so a late
    /// answer to an old attempt can be told apart.
    pub(super) fn send_replies(
        &mut self,
        from: NodeId,
        replies: Vec<(u64, u64, u64, ClientReply)>,
    ) {
        let (silent, lies) = self
            .adversary
            .as_ref()
            .map_or((false, false), |a| (a.silent(from), a.lies(from)));
        if silent {
            return;
        }
        for (connection, _client, seq, mut reply) in replies {
            if lies {
                // The byzantine replicas agree on the same made-up answer.
                reply = ClientReply::Ok {
                    value: Some(format!("lie-{seq}").into()),
                };
            }
            let client = (connection >> 8) as usize;
            let attempt = (connection & 0xff) as u32;
            let at = self.now + self.link_delay();
            self.schedule(
                at,
                EventKind::Reply {
                    from,
                    client,
                    seq,
                    attempt,
                    reply,
                },
            );
        }
    }
}
