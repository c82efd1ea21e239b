//! What the index keeps about messages still owed a receipt, in a few bytes each.
//!
//! A node holding a backlog for a peer that is down may owe a million receipts or more. For
//! each it keeps only where the message is in each next hop's outbox (4 bytes per outbox
//! position, [`Window`]) and which positions it holds ([`Owed`]: 8 bytes per message, while
//! the messages owed are dense; a sorted map when they are few and far apart); the
//! full state is read from the journal when needed, and only the first [`HOT_STATES`] states
//! are kept in memory for the peer connections and the receipt path, which read them on every
//! message in flight.

use std::collections::{BTreeMap, HashMap, VecDeque};

use liaison_protocol::NodeId;

use crate::{StoreError, StoreResult};

/// Most states of messages owed a receipt kept in memory (the rest are read from the
/// journal when needed): above the default window of messages in flight to a peer.
pub(crate) const HOT_STATES: usize = 8_192;

/// Values by key for keys that mostly come in order: a queue appended at one end, drained
/// from the other, with entries removed anywhere. While the keys present are dense it is a
/// run of slots, one per key from the first present to the last (holes for keys removed);
/// when few keys are present across a wide span (one message never receipted, then many
/// that were), it is a sorted map of the keys present, so that neither memory nor the cost of
/// an insert grows with the span.
pub(crate) struct Window<T: Copy + PartialEq> {
    /// The value that marks a hole.
    hole: T,
    /// Keys present.
    live: usize,
    repr: Repr<T>,
}

enum Repr<T> {
    /// `slots[i]` holds key `base + i`.
    Dense {
        base: u64,
        slots: VecDeque<T>,
    },
    Sparse(BTreeMap<u64, T>),
}

/// A dense window this wide (slots) or wider turns sparse when fewer than one slot in
/// [`SPARSE_RATIO`] holds a key.
const SPARSE_FROM: usize = 4096;
const SPARSE_RATIO: usize = 8;

impl<T: Copy + PartialEq> Window<T> {
    /// An empty window whose holes are `hole` (never stored as a value).
    pub(crate) fn new(hole: T) -> Self {
        Self {
            hole,
            live: 0,
            repr: Repr::Dense {
                base: 0,
                slots: VecDeque::new(),
            },
        }
    }

    /// Number of keys present.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether a dense window of `width` slots would be mostly holes.
    fn too_sparse(&self, width: usize) -> bool {
        width >= SPARSE_FROM && self.live.saturating_mul(SPARSE_RATIO) < width
    }

    /// Sets `key` to `value` (which must not be the hole).
    pub(crate) fn insert(&mut self, key: u64, value: T) {
        let hole = self.hole;
        match &mut self.repr {
            Repr::Dense { base, slots } => {
                if self.live == 0 {
                    slots.clear();
                    *base = key;
                }
                let (lo, hi) = ((*base).min(key), (*base + slots.len() as u64).max(key + 1));
                let width = usize::try_from(hi - lo).unwrap_or(usize::MAX);
                if self.too_sparse(width) {
                    self.make_sparse();
                    return self.insert(key, value);
                }
                let Repr::Dense { base, slots } = &mut self.repr else {
                    return;
                };
                while key < *base {
                    slots.push_front(hole);
                    *base -= 1;
                }
                let i = (key - *base) as usize;
                if i >= slots.len() {
                    slots.resize(i + 1, hole);
                }
                if slots[i] == hole {
                    self.live += 1;
                }
                slots[i] = value;
            }
            Repr::Sparse(map) => {
                if map.insert(key, value).is_none() {
                    self.live += 1;
                }
                let span = match (map.first_key_value(), map.last_key_value()) {
                    (Some((lo, _)), Some((hi, _))) => hi - lo + 1,
                    _ => 0,
                };
                if span <= 2 * self.live as u64 {
                    self.make_dense();
                }
            }
        }
    }

    /// The value at `key`.
    pub(crate) fn get(&self, key: u64) -> Option<T> {
        match &self.repr {
            Repr::Dense { base, slots } => {
                let i = usize::try_from(key.checked_sub(*base)?).ok()?;
                slots.get(i).copied().filter(|v| *v != self.hole)
            }
            Repr::Sparse(map) => map.get(&key).copied(),
        }
    }

    /// Removes `key`; returns its value. Gives memory back as the window drains.
    pub(crate) fn remove(&mut self, key: u64) -> Option<T> {
        let hole = self.hole;
        let v = match &mut self.repr {
            Repr::Dense { base, slots } => {
                let i = usize::try_from(key.checked_sub(*base)?).ok()?;
                let slot = slots.get_mut(i)?;
                if *slot == hole {
                    return None;
                }
                let v = std::mem::replace(slot, hole);
                self.live -= 1;
                if self.live == 0 {
                    slots.clear();
                }
                // Only the front is trimmed: holes at the back are where the next keys go.
                while slots.front() == Some(&hole) {
                    slots.pop_front();
                    *base += 1;
                }
                if slots.capacity() > 1024 && slots.capacity() > 4 * slots.len() {
                    slots.shrink_to(2 * slots.len());
                }
                let width = slots.len();
                if self.too_sparse(width) {
                    self.make_sparse();
                }
                v
            }
            Repr::Sparse(map) => {
                let v = map.remove(&key)?;
                self.live -= 1;
                if self.live == 0 {
                    self.repr = Repr::Dense {
                        base: 0,
                        slots: VecDeque::new(),
                    };
                }
                v
            }
        };
        Some(v)
    }

    /// Up to `limit` present keys ≥ `from` with their values, in order.
    pub(crate) fn range(&self, from: u64, limit: usize) -> Vec<(u64, T)> {
        match &self.repr {
            Repr::Dense { base, slots } => {
                let skip = usize::try_from(from.saturating_sub(*base)).unwrap_or(usize::MAX);
                slots
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .filter(|(_, v)| **v != self.hole)
                    .take(limit)
                    .map(|(i, v)| (*base + i as u64, *v))
                    .collect()
            }
            Repr::Sparse(map) => map
                .range(from..)
                .take(limit)
                .map(|(k, v)| (*k, *v))
                .collect(),
        }
    }

    fn make_sparse(&mut self) {
        if let Repr::Dense { base, slots } = &self.repr {
            let map = slots
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != self.hole)
                .map(|(i, v)| (*base + i as u64, *v))
                .collect();
            self.repr = Repr::Sparse(map);
        }
    }

    fn make_dense(&mut self) {
        if let Repr::Sparse(map) = &self.repr {
            let base = map.first_key_value().map_or(0, |(k, _)| *k);
            let width = map
                .last_key_value()
                .map_or(0, |(k, _)| (k - base + 1) as usize);
            let mut slots = VecDeque::with_capacity(width);
            slots.resize(width, self.hole);
            for (k, v) in map {
                slots[(k - base) as usize] = *v;
            }
            self.repr = Repr::Dense { base, slots };
        }
    }

    /// Whether it is held as a sorted map (for tests).
    #[cfg(test)]
    fn is_sparse(&self) -> bool {
        matches!(self.repr, Repr::Sparse(_))
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
            Some(p) => self.outboxes[usize::from(*p)].range(from, limit),
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
        let Repr::Dense { slots, .. } = &w.repr else {
            panic!("a dense run stays dense");
        };
        assert!(slots.capacity() <= 1024, "{}", slots.capacity());
        assert_eq!(
            w.range(0, usize::MAX)
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>(),
            (10_000..10_010).collect::<Vec<_>>()
        );
        w.insert(3, 3);
        assert_eq!(w.get(3), Some(3));
        assert_eq!(w.get(4), None);
        assert_eq!(w.range(5, 1), vec![(10_000, 10_000)]);
    }

    /// One key never removed while many after it come and go: the window does not keep (or
    /// rebuild on every insert) a slot for every key since; once that key goes, it is dense
    /// again.
    #[test]
    fn a_key_left_behind_does_not_make_the_window_as_wide_as_the_log() {
        let mut w = Window::new(u32::MAX);
        w.insert(0, 0);
        for k in 1..200_000 {
            w.insert(k, k as u32);
            assert_eq!(w.remove(k), Some(k as u32));
        }
        assert!(w.is_sparse());
        assert_eq!(w.len(), 1);
        assert_eq!(w.range(0, 10), vec![(0, 0)]);
        for k in 200_000..200_100 {
            w.insert(k, k as u32);
        }
        assert_eq!(w.range(1, 2), vec![(200_000, 200_000), (200_001, 200_001)]);
        assert_eq!(w.remove(0), Some(0));
        w.insert(200_100, 7);
        assert!(!w.is_sparse(), "dense again once the keys are");
        assert_eq!(w.len(), 101);
        assert_eq!(w.get(200_100), Some(7));
        assert_eq!(w.range(0, 1), vec![(200_000, 200_000)]);
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

    fn same_as_a_map(ops: Vec<(bool, u64)>) -> Result<(), TestCaseError> {
        let mut w = Window::new(u32::MAX);
        let mut m = std::collections::BTreeMap::new();
        for (insert, k) in ops {
            if insert {
                w.insert(k, k as u32 ^ 5);
                m.insert(k, k as u32 ^ 5);
            } else {
                prop_assert_eq!(w.remove(k), m.remove(&k));
            }
            prop_assert_eq!(w.len(), m.len());
            prop_assert_eq!(w.get(k), m.get(&k).copied());
        }
        let all = w.range(0, usize::MAX);
        let want: Vec<(u64, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(all, want);
        let mid = m.keys().nth(m.len() / 2).copied().unwrap_or(0);
        let tail = w.range(mid, 3);
        let want: Vec<(u64, u32)> = m.range(mid..).take(3).map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(tail, want);
        Ok(())
    }

    proptest! {
        /// The window answers as a map from keys to values does, whatever the order of
        /// inserts and removals: keys close together (always dense) ...
        #[test]
        fn a_window_is_a_map(ops in proptest::collection::vec((any::<bool>(), 0u64..300), 0..400)) {
            same_as_a_map(ops)?;
        }

        /// ... and keys far apart, which turn it sparse and back.
        #[test]
        fn a_wide_window_is_a_map(
            ops in proptest::collection::vec((any::<bool>(), prop_oneof![0u64..50, 0u64..100_000]), 0..600)
        ) {
            same_as_a_map(ops)?;
        }
    }
}
