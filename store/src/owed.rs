//! What the index keeps about messages still owed a receipt, in a few bytes each.
//!
//! A node holding a backlog for a peer that is down may owe a million receipts or more. For
//! each it keeps only where the message is in each next hop's outbox (4 bytes per outbox
//! position, [`Window`]) and which positions it holds ([`Owed`]: 8 bytes per message); the
//! full state is read from the journal when needed, and only the first [`HOT_STATES`] states
//! are kept in memory for the peer connections and the receipt path, which read them on every
//! message in flight.

use std::collections::{HashMap, VecDeque};

use liaison_protocol::NodeId;

use crate::{StoreError, StoreResult};

/// Most states of messages owed a receipt kept in memory (the rest are read from the
/// journal when needed): above the default window of messages in flight to a peer.
pub(crate) const HOT_STATES: usize = 8_192;

/// Values at consecutive keys, with holes: a queue that is appended at one end, drained
/// from the other, and has entries removed anywhere (one slot per key from the first
/// present key to the last).
pub(crate) struct Window<T: Copy + PartialEq> {
    /// Key of `slots[0]`.
    base: u64,
    slots: VecDeque<T>,
    /// The value that marks a hole.
    hole: T,
    /// Keys present.
    live: usize,
}

impl<T: Copy + PartialEq> Window<T> {
    /// An empty window whose holes are `hole` (never stored as a value).
    pub(crate) fn new(hole: T) -> Self {
        Self {
            base: 0,
            slots: VecDeque::new(),
            hole,
            live: 0,
        }
    }

    /// Number of keys present.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Sets `key` to `value` (which must not be the hole).
    pub(crate) fn insert(&mut self, key: u64, value: T) {
        if self.live == 0 {
            self.slots.clear();
            self.base = key;
        }
        if key < self.base {
            for _ in key..self.base {
                self.slots.push_front(self.hole);
            }
            self.base = key;
        }
        let i = (key - self.base) as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, self.hole);
        }
        if self.slots[i] == self.hole {
            self.live += 1;
        }
        self.slots[i] = value;
    }

    /// The value at `key`.
    pub(crate) fn get(&self, key: u64) -> Option<T> {
        let i = usize::try_from(key.checked_sub(self.base)?).ok()?;
        self.slots.get(i).copied().filter(|v| *v != self.hole)
    }

    /// Removes `key`; returns its value. Drops the holes this leaves at either end, and gives
    /// memory back once the window is much smaller than what it holds.
    pub(crate) fn remove(&mut self, key: u64) -> Option<T> {
        let i = usize::try_from(key.checked_sub(self.base)?).ok()?;
        let slot = self.slots.get_mut(i)?;
        if *slot == self.hole {
            return None;
        }
        let v = std::mem::replace(slot, self.hole);
        self.live -= 1;
        while self.slots.front() == Some(&self.hole) {
            self.slots.pop_front();
            self.base += 1;
        }
        while self.slots.back() == Some(&self.hole) {
            self.slots.pop_back();
        }
        if self.slots.capacity() > 1024 && self.slots.capacity() > 4 * self.slots.len() {
            self.slots.shrink_to(2 * self.slots.len());
        }
        Some(v)
    }

    /// Present keys ≥ `from` with their values, in order.
    pub(crate) fn from(&self, from: u64) -> impl Iterator<Item = (u64, T)> + '_ {
        let skip = usize::try_from(from.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .skip(skip)
            .filter(|(_, v)| **v != self.hole)
            .map(move |(i, v)| (base + i as u64, *v))
    }
}

/// Bits of an outbox sequence number in a packed position (the rest name the peer).
const SEQ_BITS: u32 = 48;

/// For every message owed a receipt, the next hops that owe it and its position in each
/// one's outbox; and each next hop's outbox (position → message number).
pub(crate) struct Owed {
    /// Next hops, numbered in the order first seen.
    peers: Vec<NodeId>,
    peer_numbers: HashMap<NodeId, u16>,
    /// Message number → its first (peer, position), packed.
    first: Window<u64>,
    /// Further (peer, position)s of messages owed by several next hops.
    more: HashMap<u32, Vec<u64>>,
    /// Per next hop (by number): outbox position → message number.
    outboxes: Vec<Window<u32>>,
    /// Per next hop (by number): bytes of the envelopes in its outbox.
    bytes: Vec<u64>,
}

impl Default for Owed {
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            peer_numbers: HashMap::new(),
            first: Window::new(u64::MAX),
            more: HashMap::new(),
            outboxes: Vec::new(),
            bytes: Vec::new(),
        }
    }
}

impl Owed {
    fn peer_number(&mut self, peer: &NodeId) -> StoreResult<u16> {
        if let Some(p) = self.peer_numbers.get(peer) {
            return Ok(*p);
        }
        let p = u16::try_from(self.peers.len())
            .map_err(|_| StoreError::Refused("more than 65 535 next hops".into()))?;
        self.peers.push(peer.clone());
        self.peer_numbers.insert(peer.clone(), p);
        self.outboxes.push(Window::new(u32::MAX));
        self.bytes.push(0);
        Ok(p)
    }

    fn unpack(&self, packed: u64) -> (usize, u64) {
        (
            (packed >> SEQ_BITS) as usize,
            packed & ((1 << SEQ_BITS) - 1),
        )
    }

    /// Whether message `n` is owed a receipt by anyone.
    pub(crate) fn is_owed(&self, n: u32) -> bool {
        self.first.get(u64::from(n)).is_some()
    }

    /// Whether `peer` owes a receipt for message `n`.
    pub(crate) fn owes(&self, n: u32, peer: &NodeId) -> bool {
        let Some(p) = self.peer_numbers.get(peer) else {
            return false;
        };
        self.positions(n)
            .any(|packed| self.unpack(packed).0 == usize::from(*p))
    }

    fn positions(&self, n: u32) -> impl Iterator<Item = u64> + '_ {
        self.first
            .get(u64::from(n))
            .into_iter()
            .chain(self.more.get(&n).into_iter().flatten().copied())
    }

    /// Makes `pending` (next hop, outbox position) what message `n` (whose envelope is
    /// `size` bytes) is owed, replacing what it was owed before.
    pub(crate) fn set(&mut self, n: u32, size: u64, pending: &[(NodeId, u64)]) -> StoreResult<()> {
        let old: Vec<u64> = self.positions(n).collect();
        for packed in old {
            let (p, seq) = self.unpack(packed);
            if let Some(q) = self.outboxes.get_mut(p) {
                if q.remove(seq).is_some() {
                    self.bytes[p] = self.bytes[p].saturating_sub(size);
                }
            }
        }
        self.first.remove(u64::from(n));
        self.more.remove(&n);
        for (i, (peer, seq)) in pending.iter().enumerate() {
            if *seq >= 1 << SEQ_BITS {
                return Err(StoreError::Corrupt(format!(
                    "outbox position {seq} of {peer} is beyond 2^48"
                )));
            }
            let p = self.peer_number(peer)?;
            let packed = (u64::from(p) << SEQ_BITS) | seq;
            let q = &mut self.outboxes[usize::from(p)];
            if q.get(*seq).is_none() {
                self.bytes[usize::from(p)] += size;
            }
            q.insert(*seq, n);
            if i == 0 {
                self.first.insert(u64::from(n), packed);
            } else {
                self.more.entry(n).or_default().push(packed);
            }
        }
        Ok(())
    }

    /// Up to `limit` entries of `peer`'s outbox at positions ≥ `from`: (position, message
    /// number), in order.
    pub(crate) fn outbox(&self, peer: &NodeId, from: u64, limit: usize) -> Vec<(u64, u32)> {
        match self.peer_numbers.get(peer) {
            Some(p) => self.outboxes[usize::from(*p)]
                .from(from)
                .take(limit)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Messages and bytes in each next hop's outbox (those not empty).
    pub(crate) fn depths(&self) -> impl Iterator<Item = (&NodeId, usize, u64)> + '_ {
        self.peers
            .iter()
            .zip(&self.outboxes)
            .zip(&self.bytes)
            .filter(|((_, q), _)| q.len() > 0)
            .map(|((p, q), b)| (p, q.len(), *b))
    }

    /// Messages and bytes in `peer`'s outbox.
    pub(crate) fn depth(&self, peer: &NodeId) -> (usize, u64) {
        match self.peer_numbers.get(peer) {
            Some(p) => (
                self.outboxes[usize::from(*p)].len(),
                self.bytes[usize::from(*p)],
            ),
            None => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str) -> NodeId {
        format!("{name}.net").parse().expect("node id")
    }

    #[test]
    fn a_window_keeps_what_is_present_and_gives_back_what_drained() {
        let mut w = Window::new(u32::MAX);
        for k in 10..10_010 {
            w.insert(k, k as u32);
        }
        assert_eq!(w.len(), 10_000);
        for k in 10..10_000 {
            assert_eq!(w.remove(k), Some(k as u32));
        }
        assert_eq!(w.remove(10), None);
        assert_eq!(w.len(), 10);
        assert!(w.slots.capacity() <= 1024, "{}", w.slots.capacity());
        assert_eq!(
            w.from(0).map(|(k, _)| k).collect::<Vec<_>>(),
            (10_000..10_010).collect::<Vec<_>>()
        );
        w.insert(3, 3);
        assert_eq!(w.get(3), Some(3));
        assert_eq!(w.get(4), None);
        assert_eq!(w.from(5).next(), Some((10_000, 10_000)));
    }

    #[test]
    fn a_message_owed_by_two_peers_leaves_each_outbox_on_its_own() {
        let (a, b) = (node("a"), node("b"));
        let mut o = Owed::default();
        o.set(7, 100, &[(a.clone(), 0), (b.clone(), 5)])
            .expect("set");
        o.set(8, 10, &[(a.clone(), 1)]).expect("set");
        assert_eq!(o.depth(&a), (2, 110));
        assert!(o.owes(7, &a) && o.owes(7, &b) && !o.owes(8, &b));
        assert_eq!(o.outbox(&a, 0, 10), vec![(0, 7), (1, 8)]);
        o.set(7, 100, &[(b.clone(), 5)]).expect("set");
        assert_eq!(o.depth(&a), (1, 10));
        assert_eq!(o.depth(&b), (1, 100));
        assert_eq!(o.outbox(&a, 0, 10), vec![(1, 8)]);
        assert_eq!(o.outbox(&b, 0, 10), vec![(5, 7)]);
        o.set(7, 100, &[]).expect("set");
        assert_eq!(o.depth(&b), (0, 0));
        assert!(!o.is_owed(7) && o.is_owed(8));
        assert_eq!(o.depths().count(), 1);
    }

    proptest! {
        /// The window answers as a map from keys to values does, whatever the order of
        /// inserts and removals.
        #[test]
        fn a_window_is_a_map(ops in proptest::collection::vec((any::<bool>(), 0u64..300), 0..400)) {
            let mut w = Window::new(u32::MAX);
            let mut m = std::collections::BTreeMap::new();
            for (insert, k) in ops {
                if insert {
                    w.insert(k, k as u32 * 3);
                    m.insert(k, k as u32 * 3);
                } else {
                    prop_assert_eq!(w.remove(k), m.remove(&k));
                }
                prop_assert_eq!(w.len(), m.len());
            }
            let all: Vec<(u64, u32)> = w.from(0).collect();
            let want: Vec<(u64, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(all, want);
            let tail: Vec<(u64, u32)> = w.from(150).collect();
            let want: Vec<(u64, u32)> = m.range(150..).map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(tail, want);
        }
    }
}
